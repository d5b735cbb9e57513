"""Hostile source folders (issue 13, part 2): paths leading out of the sources root, XML nested
beyond any real article, bytes that are not UTF-8, and paragraphs of megabytes.  Each case is a
reported defect of its file; nothing else is lost and the build goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spinemed.corpus import sources as S
from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.sources.common import _split_long
from spinemed.schema import SourceIssue, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "builders" / "spinemed_450k" / "builder.yaml"

PARA = ("Lumbar disc herniation presents with radicular leg pain in a dermatomal pattern. "
        "Conservative care resolves most cases within six weeks of onset. ")
MD = f"# Chapter\n\n## 1.1 Presentation\n\n{PARA}\n\n{PARA} Surgery is reserved for deficits.\n"
OUTSIDE_TEXT = "SECRET OUTSIDE TEXT that must never be read into the corpus, however it is reached. " * 2
_PROV = "source_type: textbook, source_id: isbn, title: t, language: en, license: x, redistributable: false"


def _entry(path: str, kind: str = "textbook") -> str:
    return f"  - {{path: {path}, {_PROV.replace('textbook', kind)}}}\n"


def _deep_jats(depth: int) -> str:
    return ("<article><front><article-meta><article-id pub-id-type='pmcid'>PMC1</article-id>"
            "<title-group><article-title>Deep</article-title></title-group></article-meta></front><body>"
            + "<sec><title>s</title>" * depth + "<p>text</p>" + "</sec>" * depth + "</body></article>")


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    """A sources folder holding one good file and one instance of each reported case."""
    root = tmp_path / "src"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.md").write_text(f"# Out\n\n{OUTSIDE_TEXT}\n", encoding="utf-8")
    (outside / "more.md").write_text(f"# Out\n\n{OUTSIDE_TEXT}\n", encoding="utf-8")
    for d in ("textbooks", "guidelines/real", "case_reports", "question_bank", "shared"):
        (root / d).mkdir(parents=True)
    (root / "textbooks" / "good.md").write_text(MD, encoding="utf-8")
    (root / "textbooks" / "link.md").symlink_to(outside / "file.md")  # a catalogued link out
    (root / "guidelines" / "out").symlink_to(outside, target_is_directory=True)  # a folder link out
    (root / "shared" / "g.md").write_text(MD.replace("Chapter", "Shared"), encoding="utf-8")
    (root / "guidelines" / "in").symlink_to(root / "shared", target_is_directory=True)  # a folder link inside
    (root / "guidelines" / "real" / "g.md").write_text(MD.replace("Chapter", "Guideline"), encoding="utf-8")
    # one invalid byte each: line 5 of the markdown, inside a JSON string, in a CSV cell
    (root / "textbooks" / "bad_byte.md").write_bytes(MD.replace("Conservative care", "Conservative \xff care", 1)
                                                     .encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    qb = [{"id": "Q1", "question": "Which root? \xff", "options": ["L4", "L5"], "answer": "B"},
          {"id": "Q2", "question": "Which level?", "options": ["C5", "C6"], "answer": "A"}]
    (root / "question_bank" / "bad.json").write_bytes(
        json.dumps(qb, ensure_ascii=False).encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    (root / "question_bank" / "bad.csv").write_bytes(
        b"id,question,A,B,answer\nC1,Which root \xfe?,L4,L5,B\nC2,Which level?,C5,C6,A\n")
    (root / "case_reports" / "deep.xml").write_text(_deep_jats(1000), encoding="utf-8")
    (root / "catalog.yaml").write_text(
        "version: 1\nsources:\n"
        + _entry("../outside/file.md") + _entry("textbooks/good.md") + _entry("textbooks/link.md")
        + _entry("textbooks/bad_byte.md") + _entry("guidelines", "guideline")
        + _entry("shared", "guideline")
        + _entry("question_bank/bad.json", "question_bank") + _entry("question_bank/bad.csv", "question_bank")
        + _entry("case_reports/deep.xml", "case_report"),
        encoding="utf-8")
    return root


def _split(items) -> tuple[list[SourceRecord], dict[str, list[str]]]:
    records = [r for r in items if isinstance(r, SourceRecord)]
    issues: dict[str, list[str]] = {}
    for i in items:
        if isinstance(i, SourceIssue):
            issues.setdefault(i.source_file, []).append(i.reason)
    return records, issues


def test_paths_out_of_the_root_are_defects_not_read(hostile):
    records, issues = _split(list(S.iter_sources(hostile)))
    assert not any("SECRET OUTSIDE" in r.text for r in records)
    assert any("outside the sources folder" in r for r in issues["../outside/file.md"])
    assert any("outside the sources folder" in r for r in issues["textbooks/link.md"])
    assert any("outside the sources folder" in r for r in issues["guidelines/out"])
    # provenance is relative to the root, never an absolute local path
    assert records and all(not r.source_file.startswith(("/", "..")) for r in records)
    assert all(not Path(f).is_absolute() for f in issues)
    # the symlinked folder inside the root is followed (its file read once, not called uncatalogued)
    files = {r.source_file for r in records}
    assert {"textbooks/good.md", "guidelines/real/g.md", "shared/g.md"} <= files
    assert issues["shared/g.md"] == ["reached a second time (through a symlink); read once"]
    n_once = sum(r.source_file == "guidelines/real/g.md" for r in records)  # the same layout, read once
    assert sum(r.source_file == "shared/g.md" for r in records) == n_once


def test_symlinked_folder_inside_the_root_is_followed(tmp_path):
    root = tmp_path / "src"
    (root / "real").mkdir(parents=True)
    (root / "real" / "g.md").write_text(MD, encoding="utf-8")
    (root / "guidelines").mkdir()
    (root / "guidelines" / "linked").symlink_to(root / "real", target_is_directory=True)
    (root / "catalog.yaml").write_text("sources:\n" + _entry("guidelines", "guideline"), encoding="utf-8")
    records, issues = _split(list(S.iter_sources(root)))
    assert records and {r.source_file for r in records} == {"real/g.md"}
    assert issues == {}


def test_symlink_loop_ends(tmp_path):
    root = tmp_path / "src"
    (root / "guidelines").mkdir(parents=True)
    (root / "guidelines" / "g.md").write_text(MD, encoding="utf-8")
    (root / "guidelines" / "loop").symlink_to(root / "guidelines", target_is_directory=True)
    (root / "catalog.yaml").write_text("sources:\n" + _entry("guidelines", "guideline"), encoding="utf-8")
    records, _ = _split(list(S.iter_sources(root)))
    assert {r.source_file for r in records} == {"guidelines/g.md"}


def test_image_reference_out_of_the_root_is_not_read(tmp_path):
    root = tmp_path / "src"
    (root / "textbooks").mkdir(parents=True)
    from PIL import Image
    Image.new("L", (8, 8)).save(tmp_path / "secret.png")
    (root / "textbooks" / "fig.md").write_text(
        MD + "\n![](../../secret.png)\n\nFigure 1.1 An outside image.\n", encoding="utf-8")
    (root / "catalog.yaml").write_text("sources:\n" + _entry("textbooks/fig.md"), encoding="utf-8")
    records, issues = _split(list(S.iter_sources(root)))
    assert not any(r.kind == "figure" for r in records)
    assert not any(str(tmp_path) in r for rs in issues.values() for r in rs)


def test_too_deep_xml_is_a_defect_of_its_file(hostile):
    records, issues = _split(list(S.iter_sources(hostile)))
    (reason,) = issues["case_reports/deep.xml"]
    assert "nested" in reason and "not read" in reason
    assert len(records) > 3  # the other files were read after it
    # a real article depth passes
    entry = {"source_type": "case_report", "source_id": "x", "title": "t", "language": "en", "license": "x",
             "redistributable": False, "root": str(hostile)}
    (hostile / "case_reports" / "ok.xml").write_text(_deep_jats(20), encoding="utf-8")
    out = list(S.read_jats(hostile / "case_reports" / "ok.xml", entry))
    assert [r.kind for r in out if isinstance(r, SourceRecord)] == ["case"]


def test_undecodable_byte_is_reported_and_the_rest_kept(hostile):
    records, issues = _split(list(S.iter_sources(hostile)))
    (md,) = issues["textbooks/bad_byte.md"]
    assert "line 5" in md and "byte " in md and "rest of the file kept" in md
    md_text = " ".join(r.text for r in records if r.source_file == "textbooks/bad_byte.md")
    assert "Conservative \ufffd care" in md_text and "Surgery is reserved" in md_text
    (js,) = issues["question_bank/bad.json"]
    assert "line 1" in js
    assert sorted(r.fields["item_id"] for r in records if r.source_file == "question_bank/bad.json") == ["Q1", "Q2"]
    (cs,) = issues["question_bank/bad.csv"]
    assert "line 2" in cs and "byte 37" in cs  # 0-based: 23 header bytes + "C1,Which root "
    assert sorted(r.fields["item_id"] for r in records if r.source_file == "question_bank/bad.csv") == ["C1", "C2"]


def test_many_bad_bytes_are_summarised(tmp_path):
    root = tmp_path / "src"
    (root / "textbooks").mkdir(parents=True)
    (root / "textbooks" / "t.md").write_bytes(MD.encode() + b"\n\n" + b"bad \x80 byte " * 50 + b"\n")
    (root / "catalog.yaml").write_text("sources:\n" + _entry("textbooks/t.md"), encoding="utf-8")
    _, issues = _split(list(S.iter_sources(root)))
    reasons = issues["textbooks/t.md"]
    assert len(reasons) == 11 and reasons[-1].startswith("40 more bytes")


def test_split_long_never_exceeds_the_limit():
    for text in ("x" * 30_000, "word " * 9000, "这是一个句子。" * 3000, "A sentence here. " * 3000):
        pieces = _split_long(text, 1200)
        assert all(0 < len(p) <= 1200 for p in pieces)
        assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_over_long_paragraph_is_split_and_reported(tmp_path):
    root = tmp_path / "src"
    (root / "textbooks").mkdir(parents=True)
    blob = ("The pedicle screw trajectory follows the pedicle axis and converges medially " * 26_000).strip()
    assert len(blob) > 2_000_000  # one single-line paragraph of megabytes, without sentence ends
    zh = "腰椎间盘突出症常表现为沿皮节分布的放射性腿痛。" * 500
    (root / "textbooks" / "big.md").write_text(f"# Big\n\n## 1 Blob\n\n{blob}\n\n## 2 ZH\n\n{zh}\n", encoding="utf-8")
    (root / "catalog.yaml").write_text("sources:\n" + _entry("textbooks/big.md"), encoding="utf-8")
    records, issues = _split(list(S.iter_sources(root, max_chars=8000)))
    assert max(len(r.text) for r in records) <= 1200
    assert "".join(r.text for r in records if "Blob" in r.locator).replace(" ", "") == blob.replace(" ", "")
    assert all(r.text.endswith("。") for r in records if "ZH" in r.locator)
    assert len(issues["textbooks/big.md"]) == 2
    assert all("over-long paragraph" in r and "max_paragraph_chars 8000" in r for r in issues["textbooks/big.md"])
    # JATS paragraphs too
    p = "The fracture healed after posterior fixation. " * 400
    xml = _deep_jats(1).replace("<p>text</p>", f"<p>{p}</p>")
    (root / "c.xml").write_text(xml, encoding="utf-8")
    entry = {"source_type": "case_report", "source_id": "x", "title": "t", "language": "en", "license": "x",
             "redistributable": False, "root": str(root)}
    out = list(S.read_jats(root / "c.xml", entry, max_chars=8000))
    (issue,) = [i for i in out if isinstance(i, SourceIssue)]
    assert "over-long paragraph" in issue.reason
    (case,) = [r for r in out if isinstance(r, SourceRecord)]
    assert max(len(line) for line in case.text.splitlines()) <= 8000


def _builder(tmp_path: Path, **overrides) -> Path:
    spec = yaml.safe_load(BUILDER.read_text("utf-8"))
    for key in ("prompts", "criteria", "card_template"):
        spec[key] = str((BUILDER.parent / spec[key]).resolve())
    spec.update(overrides)
    path = tmp_path / "builder.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_build_over_a_hostile_folder_goes_on_and_accounts_for_every_case(hostile, tmp_path):
    blob = "Radicular pain follows the dermatome of the compressed root and worsens on coughing " * 150
    (hostile / "textbooks" / "big.md").write_text(f"# Big\n\n## 1 Blob\n\n{blob}\n", encoding="utf-8")
    with (hostile / "catalog.yaml").open("a", encoding="utf-8") as fh:
        fh.write(_entry("textbooks/big.md"))
    out = tmp_path / "out"
    summary = run_build(BuildConfig(out=out, sources=hostile, builder=_builder(tmp_path, max_paragraph_chars=5000)),
                        progress=None)
    a = summary["accounting"]
    assert a["balanced"] and a["records_published"] > 0
    reasons = a["source_defect_reasons"]
    assert sum(v for k, v in reasons.items() if "outside the sources folder" in k) == 3
    assert any("nested" in k for k in reasons)
    assert sum(v for k, v in reasons.items() if k.startswith("not UTF-")) == 3  # counts mask numbers: UTF-N
    assert sum(v for k, v in reasons.items() if "over-long paragraph" in k) == 1
    assert any("max_paragraph_chars N" in k for k in reasons)
    published = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"SECRET OUTSIDE" not in published
    assert str(tmp_path).encode() not in published
    work = b"".join(p.read_bytes() for p in (tmp_path / "out.work").rglob("*.jsonl"))
    assert b"SECRET OUTSIDE" not in work and str(tmp_path).encode() not in work


def test_over_long_question_bank_field_and_inpatient_note(tmp_path):
    root = tmp_path / "src"
    (root / "question_bank").mkdir(parents=True)
    (root / "inpatient").mkdir()
    qb = [{"id": "Q1", "question": "Which root? " + "x" * 9000, "options": ["L4", "L5"], "answer": "B"},
          {"id": "Q2", "question": "Which level?", "options": ["C5", "C6"], "answer": "A"}]
    (root / "question_bank" / "qb.json").write_text(json.dumps(qb), encoding="utf-8")
    note = "Back pain radiating to the left leg since the fall, worse on standing. " * 200
    case = {"case_id": "IP-1", "record": {"age": 60}, "notes": [{"type": "admission", "text": note}]}
    (root / "inpatient" / "c.json").write_text(json.dumps(case), encoding="utf-8")
    (root / "catalog.yaml").write_text(
        "sources:\n" + _entry("question_bank/qb.json", "question_bank") + _entry("inpatient", "inpatient"),
        encoding="utf-8")
    records, issues = _split(list(S.iter_sources(root, max_chars=8000)))
    assert [r.fields["item_id"] for r in records if r.kind == "mcq"] == ["Q2"]
    (qi,) = issues["question_bank/qb.json"]
    assert qi.startswith("item Q1: a field of 9012 characters, over max_paragraph_chars 8000")
    (ci,) = issues["inpatient/c.json"]
    assert "over-long paragraph in note 0" in ci
    (rec,) = [r for r in records if r.kind == "case"]
    assert max(len(line) for line in rec.text.splitlines()) <= 8000
    assert rec.text.replace("\n", " ").count("since the fall") == 200


def test_verse_file_linked_out_of_the_root_is_not_read(tmp_path):
    import shutil
    shipped = ROOT / "builders" / "spinemed_450k" / "sources" / "verse"
    root = tmp_path / "src"
    shutil.copytree(shipped, root / "verse")
    outside = tmp_path / "outside_ct.nii.gz"
    ct = root / "verse" / "rawdata" / "sub-verse501" / "sub-verse501_ct.nii.gz"
    ct.rename(outside)
    ct.symlink_to(outside)
    (root / "catalog.yaml").write_text("sources:\n  - {path: verse, source_type: open_dataset, source_id: verse, "
                                       "title: t, language: en, license: CC-BY-SA-4.0, redistributable: true}\n",
                                       encoding="utf-8")
    records, issues = _split(list(S.iter_sources(root)))
    (vol,) = records  # the other subject is read
    assert "sub-verse502" in vol.source_file
    assert issues == {"verse/rawdata/sub-verse501/sub-verse501_ct.nii.gz":
                      ["resolves outside the sources folder (a symlink); not read"]}
