"""Provenance without identifiers: opaque file / case / subject ids, the private map, stable ids."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.sources import iter_sources
from spinemed.deid.provenance import (
    ProvenanceIds,
    UnscrubbedRecordError,
    deidentify_provenance,
    is_opaque_id,
    is_public_id,
    opaque_id,
    stamp_record,
    verify_record,
)
from spinemed.hub import load_manifest
from spinemed.schema import TASKS, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "builders" / "spinemed_450k" / "sources"
NAMES = ["whitaker", "Whitaker", "RG-00482913", "zhangwei"]  # planted in file names, case ids, subjects


# ---------------------------------------------------------------- ids


def test_opaque_ids_are_stable_prefixed_and_keyed_on_request():
    a = opaque_id("inpatient/IP-EN-001.json")
    assert a == opaque_id("./inpatient/IP-EN-001.json") == opaque_id("inpatient\\IP-EN-001.json")
    assert a.startswith("src-") and len(a) == 16 and is_opaque_id(a)
    assert opaque_id("IP-EN-001", "case").startswith("case-") and opaque_id("sub-1", "subject").startswith("subj-")
    keyed = opaque_id("IP-EN-001", "case", secret="s3cret")
    assert keyed != opaque_id("IP-EN-001", "case") and keyed == opaque_id("IP-EN-001", "case", secret=b"s3cret")
    with pytest.raises(ValueError):
        opaque_id("x", "name")


@pytest.mark.parametrize("value,public", [
    ("ISBN 978-0-00-000301-7", True), ("isbn:978-7-00-000104-2", True), ("PMC0000101", True),
    ("doi:10.5555/spinemed.gl.2020.ldh", True), ("https://doi.org/10.1000/xyz", True), ("PMID: 31234567", True),
    ("arXiv:2510.03160", True), ("31234567", False), ("9780000003017", False), ("IP-EN-001", False),
    ("RG-00482913", False), ("", False), ("ISBN 12", False),
])
def test_public_literature_ids(value, public):
    assert is_public_id(value) is public


def _records():
    return [r for r in iter_sources(SOURCES) if isinstance(r, SourceRecord)]


def test_deidentify_provenance_replaces_files_cases_and_subjects_everywhere():
    ids = ProvenanceIds()
    recs = _records()
    before = {r.record_id: (r.source_file, r.source_id, r.locator) for r in recs}
    for r in recs:
        deidentify_provenance(r, ids)
    for r in recs:
        real_file, real_id, _ = before[r.record_id]
        assert r.source_file == opaque_id(real_file) and real_file not in json.dumps(r.to_json(), ensure_ascii=False)
        if r.source_type == "inpatient":
            assert r.source_id == opaque_id(real_id, "case") and r.locator == f"case {r.source_id}"
        else:  # literature and dataset ids are published as they are
            assert r.source_id == real_id
        if r.kind == "volume":
            assert is_opaque_id(r.fields["subject"]) and "sub-verse" not in json.dumps(r.to_json(), ensure_ascii=False)
            assert r.locator.startswith(r.fields["subject"])
    # the map resolves every id; record ids (content hashes) are untouched
    mapping = {e["id"]: e["value"] for e in ids.drain()}
    assert {mapping[r.source_file] for r in recs} == {v[0] for v in before.values()}
    assert [r.record_id for r in recs] == list(before)
    assert ids.drain() == []  # drained once


def test_stamp_detects_any_change_and_a_new_deid_version(monkeypatch):
    rec = _records()[0]
    with pytest.raises(UnscrubbedRecordError, match="no de-identification stamp"):
        verify_record(rec)
    stamp = stamp_record(rec)
    assert verify_record(rec) == stamp and stamp.startswith("deid-")
    rec.fields["note"] = "x"
    with pytest.raises(UnscrubbedRecordError, match="changed after de-identification"):
        verify_record(rec)
    del rec.fields["note"]
    assert verify_record(rec) == stamp
    from spinemed.deid import cues

    monkeypatch.setattr(cues, "DEID_VERSION", "999.0.0")  # where the version is defined
    with pytest.raises(UnscrubbedRecordError, match="deid-999.0.0"):
        verify_record(rec)


# ---------------------------------------------------------------- a build with names in file names


def _named_sources(tmp: Path) -> Path:
    """The samples, with a patient's name and MRN in a file name and case id, and a subject and
    an image file named after a person."""
    src = tmp / "sources"
    shutil.copytree(SOURCES, src)
    case = json.loads((src / "inpatient" / "IP-EN-001.json").read_text("utf-8"))
    case["case_id"] = "RG-00482913-whitaker"
    (src / "inpatient" / "IP-EN-001.json").unlink()
    (src / "inpatient" / "whitaker_daniel_RG-00482913.json").write_text(json.dumps(case), "utf-8")
    for path in sorted((src / "verse").rglob("*sub-verse501*"), key=lambda p: -len(p.parts)):
        path.rename(path.with_name(path.name.replace("sub-verse501", "sub-zhangwei")))
    md = src / "textbooks" / "en_ch03_lumbar_disc_herniation.md"
    md.write_text(md.read_text("utf-8").replace("ch3_fig1.png", "ch3_fig1_whitaker.png"), "utf-8")
    (src / "textbooks" / "images" / "ch3_fig1.png").rename(src / "textbooks" / "images" / "ch3_fig1_whitaker.png")
    return src


def _published_strings(folder: Path) -> str:
    parts = []
    for path in folder.rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            parts.append(json.dumps(row["provenance"], ensure_ascii=False))
            parts += [str(img.get("path")) for img in row["images"]]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def named_builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prov")
    src = _named_sources(tmp)
    a = run_build(BuildConfig(out=tmp / "a" / "ds", sources=src), progress=None)
    b = run_build(BuildConfig(out=tmp / "b" / "ds", sources=src), progress=None)
    keyed = run_build(BuildConfig(out=tmp / "k" / "ds", sources=src, provenance_secret="s3cret"), progress=None)
    return tmp, (a, b, keyed)


def test_no_file_name_case_id_subject_or_path_in_any_published_field(named_builds):
    tmp, _ = named_builds
    folder = tmp / "a" / "ds"
    published = _published_strings(folder)
    assert "src-" in published and "case-" in published and "subj-" in published
    card_and_manifest = (folder / "README.md").read_text("utf-8") + (folder / "manifest.json").read_text("utf-8")
    for name in NAMES + [str(tmp), "inpatient/", "textbooks/", "verse/"]:
        assert name not in published and name not in card_and_manifest, name
    for name in (".json", ".md", ".xml", ".nii"):
        assert name not in published, name
    rows = [r for t in TASKS for p in (folder / "data" / t).glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    image_names = {img["path"] for r in rows for img in r["images"]}
    assert image_names and all(re.fullmatch(r"src-[0-9a-f]{12}\.(?:png|jpg)|img-[0-9a-f]{16}-\d+\.png", n) for n in image_names), \
        sorted(image_names)
    assert any(n.startswith("src-") for n in image_names) and any(not n.startswith("src-") for n in image_names)


def test_work_folder_holds_opaque_ids_and_the_private_map_only_holds_names(named_builds):
    tmp, _ = named_builds
    work = tmp / "a" / "ds.work"
    for name in ("summary.json", "quarantine.jsonl", "duplicates.jsonl", "source_issues.jsonl"):
        text = (work / name).read_text("utf-8")
        for planted in NAMES + [str(tmp), "textbooks/", "case_reports/"]:
            assert planted not in text, (name, planted)
    pmap = work / "provenance_map.jsonl"
    assert stat.S_IMODE(pmap.stat().st_mode) == 0o600
    mapping = {e["id"]: e for e in map(json.loads, pmap.read_text("utf-8").splitlines())}
    values = {e["value"] for e in mapping.values()}
    assert "inpatient/whitaker_daniel_RG-00482913.json" in values and "RG-00482913-whitaker" in values
    assert "sub-zhangwei" in values
    # every published source_file and issue file resolves through the map
    rows = [r for p in (tmp / "a" / "ds").rglob("*.parquet") for r in pq.read_table(p).to_pylist()]
    assert all(r["provenance"]["source_file"] in mapping for r in rows)
    issues = [json.loads(x) for x in (work / "source_issues.jsonl").read_text("utf-8").splitlines()]
    assert issues and all(i["source_file"] in mapping for i in issues)


def test_ids_are_stable_across_rebuilds_and_record_ids_do_not_depend_on_the_secret(named_builds):
    tmp, (a, b, keyed) = named_builds
    ma, mb, mk = (load_manifest(tmp / x / "ds") for x in "abk")
    assert ma["content_hash"] == mb["content_hash"]
    assert a["provenance"] == {**b["provenance"]} and not a["provenance"]["keyed"] and keyed["provenance"]["keyed"]

    def prov(x):
        return sorted((r["id"], r["provenance"]["record_id"], r["provenance"]["source_file"])
                      for p in (tmp / x / "ds").rglob("*.parquet") for r in pq.read_table(p).to_pylist())

    pa, pk = prov("a"), prov("k")
    assert [(i, rid) for i, rid, _ in pa] == [(i, rid) for i, rid, _ in pk]  # row and record ids unchanged
    assert {f for *_, f in pa}.isdisjoint({f for *_, f in pk})  # opaque ids depend on the secret
