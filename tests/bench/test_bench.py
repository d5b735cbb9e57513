"""SpineBench: sampling, the clinician review round-trip, release, decontamination, demo, CLI.

One sample corpus is built per module (the shipped sample sources, offline backend, ~3 s);
every review workspace is created fresh in tmp, and packets are filled by editing the exported
CSV files the way a reviewer's spreadsheet would save them.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from spinemed import cli
from spinemed.bench.agreement import cohen_kappa, decision_agreement, fleiss_kappa
from spinemed.bench.decontam import BenchIndex, answer_key_text, check_overlap, full_text, overlap_text, probe_texts
from spinemed.bench.demo import run_bench_demo
from spinemed.bench.folders import read_folder_rows
from spinemed.bench.release import build_spinebench
from spinemed.bench.review import PacketError, Workspace, export_packets, import_packets, resolve
from spinemed.bench.sample import plan_targets, sample_candidates, select_stratified
from spinemed.corpus.dedup import near_duplicate_pairs
from spinemed.hub import publish_folder, verify_folder
from spinemed.schema import BENCH_KINDS


@pytest.fixture(scope="module")
def corpus(sample_corpus) -> Path:
    return sample_corpus  # read only here


def new_workspace(corpus: Path, tmp: Path, **export_kw) -> Path:
    work = tmp / "work"
    Workspace(work).write_sample(sample_candidates(corpus, seed=0))
    export_packets(work, **export_kw)
    return work


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]], *, bom: bool = True,
              lineterminator: str = "\r\n") -> Path:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator=lineterminator)
        writer.writerow(header)
        writer.writerows([[r.get(h, "") for h in header] for r in rows])
    return path


def packet(work: Path, name: str) -> Path:
    return work / "packets" / "round-1" / name


def fill(work: Path, name: str, out: Path, reviewer: str, decide=lambda row: {"decision": "accept"}) -> Path:
    """Fill every row of an exported packet: `decide(row)` returns the cells to set."""
    header, rows = read_csv(packet(work, name))
    for row in rows:
        row.update({"reviewer_id": reviewer, **decide(row)})
    return write_csv(out, header, rows)


# --------------------------------------------------------------------------------------
# What is compared
# --------------------------------------------------------------------------------------


def test_overlap_text_is_the_prompt_side_of_each_task():
    mcq = {"task": "mcq", "question": "Q?", "options": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}],
           "explanation": "long explanation", "answer": "A"}
    assert overlap_text(mcq) == "Q?\nA. x\nB. y"
    assert overlap_text({"task": "report", "case": "the case", "report": {"diagnosis": "d"}}) == "the case"
    assert overlap_text({"task": "consultation", "case": "the case", "messages": []}) == "the case"
    assert overlap_text({"task": "open_qa", "question": "what?", "answer": "that"}) == "what?"
    with pytest.raises(ValueError, match="not a SpineMed task"):
        overlap_text({"id": "x", "task": "caption"})
    # rows of other datasets: user turns (OpenAI and ShareGPT style), MCQ columns, fallback
    sharegpt = {"conversations": [{"from": "human", "value": "Q?\nA. x"}, {"from": "gpt", "value": "A"}]}
    assert probe_texts(sharegpt) == ["Q?\nA. x"]
    openai = {"messages": [{"role": "system", "content": "be brief"},
                           {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]}
    assert probe_texts(openai) == ["What is shown?"]
    assert probe_texts({"question": "Q?", "choices": ["x", "y"]}) == ["Q?\nA. x\nB. y"]
    assert probe_texts({"foo": "some text", "bar": {"baz": "more"}}) == ["some text\nmore"]


# --------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------


def test_plan_targets_scales_both_configs_by_one_factor():
    targets, scale, note, warnings = plan_targets({"mcq": 100_000, "report": 20_000}, {"mcq": 500, "report": 100})
    assert (targets, scale, warnings) == ({"mcq": 500, "report": 100}, 1.0, []) and "as requested" in note
    targets, scale, note, warnings = plan_targets({"mcq": 135, "report": 17}, {"mcq": 500, "report": 100}, 0.3)
    assert scale == pytest.approx(0.3 * 17 / 100) and targets == {"mcq": 26, "report": 5} and warnings == []
    assert "scaled down" in note and "limited by report" in note
    with pytest.raises(ValueError, match="no 'report' rows"):
        plan_targets({"mcq": 10}, {"mcq": 5, "report": 1})
    with pytest.raises(ValueError, match="int >= 0"):
        plan_targets({"mcq": 10}, {"mcq": -1})


def test_a_nonzero_target_never_rounds_to_zero_silently(corpus, tmp_path, capsys):
    # 5 MCQ next to 100 reports: the shared factor (0.051) would make 0.26 MCQ -> 0
    targets, scale, note, warnings = plan_targets({"mcq": 135, "report": 17}, {"mcq": 5, "report": 100}, 0.3)
    assert targets == {"mcq": 1, "report": 5} and len(warnings) == 1
    assert warnings[0].startswith("mcq: 5 requested") and "rounds to 0; taking 1" in warnings[0]
    with pytest.raises(ValueError, match="only 3 'mcq' row.*less than one item"):  # 30% of 3 rows < 1 item
        plan_targets({"mcq": 3, "report": 17}, {"mcq": 1, "report": 100}, 0.3)
    assert plan_targets({"mcq": 135, "report": 17}, {"mcq": 0, "report": 100}, 0.3)[0]["mcq"] == 0  # 0 stays 0
    work = tmp_path / "work"
    assert cli.main(["bench", "sample", "--corpus", str(corpus), "--work", str(work), "--mcq", "5"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING: mcq: 5 requested" in printed
    sample = Workspace(work).sample()
    assert len(sample["candidates"]["mcq"]) == 1 and sample["warnings"] == warnings


def test_select_stratified_matches_every_marginal():
    rows = []
    for i in range(1000):  # skewed, correlated marginals
        rows.append({"id": f"r{i:04d}", "subfield": ["a", "b", "c", "d"][i % 4 if i % 10 else 0],
                     "language": "zh" if i % 3 == 0 else "en", "modality": "image" if i % 7 == 0 else "text",
                     "provenance": {"source_type": "textbook" if i < 700 else "case_report"}})
    ids, report = select_stratified(rows, 60, seed=1, config="mcq")
    assert len(ids) == len(set(ids)) == 60
    for dim, values in report["distribution"].items():
        for value, v in values.items():
            assert abs(v["achieved"] - v["target"]) < 1.0, (dim, value, v)
    assert select_stratified(list(reversed(rows)), 60, seed=1, config="mcq")[0] == ids  # order-independent
    assert select_stratified(rows, 60, seed=2, config="mcq")[0] != ids


def test_select_stratified_repairs_an_overshoot_of_the_greedy_pass():
    # 22 rows, 15 picked: the greedy pass alone leaves one marginal off by more than 1 (found by
    # a random search; the shipped sample corpus hit the same once DICOM studies joined it)
    r = random.Random(19)
    n = r.randint(20, 60)
    rows = [{"id": f"r{i:03d}", "subfield": r.choice("abcdef"[:r.randint(2, 6)]), "language": r.choice(["en", "zh"]),
             "modality": r.choice(["text", "text", "image"]), "provenance": {"source_type": r.choice(["t", "q", "c", "o"])}}
            for i in range(n)]
    k = r.randint(5, 15)
    ids, report = select_stratified(rows, k, seed=0, config="mcq")
    assert len(ids) == len(set(ids)) == k
    for values in report["distribution"].values():
        assert all(abs(v["achieved"] - v["target"]) < 1.0 for v in values.values()), values


def test_sample_candidates_on_the_sample_corpus(corpus):
    sample = sample_candidates(corpus, seed=0)
    assert sample["scaled"] and sample["targets"] == {"mcq": 26, "report": 5}
    assert "scaled down" in sample["note"]
    assert {c: len(ids) for c, ids in sample["candidates"].items()} == {"mcq": 26, "report": 5}
    for rep in sample["configs"].values():
        assert set(rep["distribution"]) == {"subfield", "language", "modality", "source_type"}
        for values in rep["distribution"].values():
            assert sum(v["achieved"] for v in values.values()) == rep["selected"]
            assert all(abs(v["achieved"] - v["target"]) < 1.0 for v in values.values())
    assert sample_candidates(corpus, seed=0)["candidates"] == sample["candidates"]
    assert sample_candidates(corpus, seed=7)["candidates"] != sample["candidates"]
    # no two candidates are near duplicates of each other
    rows = {r["id"]: r for c in ("mcq", "report") for r in read_folder_rows(corpus, c, ids=sample["candidates"][c])}
    assert near_duplicate_pairs({i: overlap_text(r) for i, r in rows.items()}, threshold=0.5) == []


# --------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------


def test_kappas_against_hand_computed_values():
    cats = ("accept", "fix", "remove")
    a = ["accept", "accept", "fix", "fix", "remove", "accept"]
    b = ["accept", "fix", "fix", "fix", "remove", "accept"]
    assert cohen_kappa(a, b, cats)[0] == pytest.approx(17 / 23)
    units = [["accept", "accept"], ["accept", "fix"], ["fix", "fix", "fix"], ["remove", "accept", "accept"]]
    kappa, p_bar, _ = fleiss_kappa(units, cats)
    assert p_bar == pytest.approx(7 / 12) and kappa == pytest.approx((7 / 12 - 0.42) / 0.58)
    assert fleiss_kappa([["accept", "accept"], ["accept", "accept"]], cats)[0] is None  # undefined, not 1
    res = decision_agreement({"i1": {"r1": "accept", "r2": "accept"}, "i2": {"r1": "fix", "r2": "accept"},
                              "i3": {"r1": "fix"}}, cats)
    assert res["items"] == 2 and res["percent_agreement"] == 50.0 and res["all_agree"] == 0.5
    assert res["cohen_kappa"][0]["reviewers"] == ["r1", "r2"] and res["cohen_kappa"][0]["kappa"] == 0.0
    # two fixes agree only when their corrected values do
    ratings = {"i1": {"r1": "fix", "r2": "fix"}, "i2": {"r1": "fix", "r2": "fix"}, "i3": {"r1": "accept", "r2": "accept"}}
    fixes = {"i1": {"r1": {"answer": "B"}, "r2": {"answer": "C"}}, "i2": {"r1": {"answer": "D"}, "r2": {"answer": "D"}}}
    res = decision_agreement(ratings, cats, fixes)
    assert res["percent_agreement"] == 66.67 and res["fix_value_disagreements"] == 1
    assert res["decisions"] == {"fix": 4, "accept": 2}
    # labels fix{B}/fix{C}, fix{D}/fix{D}, accept/accept: observed 2/3; Fleiss' chance agreement from the pooled
    # shares 1/6, 1/6, 2/6, 2/6 is 10/36 -> 7/13; Cohen's from each rater's own shares is 2/9 -> 4/7
    assert res["fleiss_kappa"] == round(7 / 13, 4) and res["cohen_kappa"][0]["kappa"] == round(4 / 7, 4)
    assert decision_agreement(ratings, cats)["percent_agreement"] == 100.0  # decisions alone agree


# --------------------------------------------------------------------------------------
# Review round-trip
# --------------------------------------------------------------------------------------


def test_cells_spreadsheets_would_convert_are_guarded_and_restored(tmp_path):
    from spinemed.bench.review import read_packet_csv, write_packet_csv

    values = ["3/4", "1-2", "12:30", "30%", "-5 mm", "=SUM(A1)", "@x", "L4/5", "腰4/5", "plain"]
    path = tmp_path / "p.csv"
    write_packet_csv(path, ["v"], [{"v": v} for v in values])
    text = path.read_text("utf-8-sig")
    assert "'3/4" in text and "'=SUM(A1)" in text and "'L4/5" not in text
    header, rows, _ = read_packet_csv(path)
    from spinemed.bench.review import _unescape

    assert [_unescape(cells[0]) for _, cells in rows] == values


def test_export_writes_spreadsheet_packets_with_images(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=3, overlap=0.2)
    record = Workspace(work).exports()["rounds"][0]
    raw = packet(work, "g1-mcq.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfpacket_id,item_id,") and b"\r\n" in raw  # BOM: Excel reads UTF-8
    items = [i for p in record["packets"] for i in p["items"]]
    assert len(set(items)) == 31 and len(items) == 31 + round(0.2 * 31)  # overlap: 6 items in two groups
    image_rows = [r for p in record["packets"] for r in read_csv(work / p["file"])[1] if r["images"]]
    assert image_rows and all((packet(work, "x").parent / path).is_file()
                              for r in image_rows for path in r["images"].split(" ; "))
    readme = packet(work, "README.txt").read_text("utf-8")
    assert "accept  | fix  | remove" in readme and "审核表" in readme


def test_round_trip_fix_remove_and_release(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=2, overlap=0.3)
    header, rows = read_csv(packet(work, "g1-mcq.csv"))
    target = next(r for r in rows if r["option_D"] and not r["option_E"])
    new_answer = "B" if target["answer"] != "B" else "C"
    removed = rows[-1]["item_id"]

    def decide(row):
        if row["item_id"] == target["item_id"]:
            return {"decision": "fix", "corrected_answer": new_answer.lower(), "corrected_option_E": "None of the above"
                    if row["language"] == "en" else "以上都不是", "comment": "answer key was wrong"}
        if row["item_id"] == removed:
            return {"decision": "remove", "comment": "ambiguous stem"}
        return {"decision": "accept"}

    files = [fill(work, "g1-mcq.csv", tmp_path / "a.csv", "R01", decide),
             fill(work, "g2-mcq.csv", tmp_path / "b.csv", "R02"),
             fill(work, "g1-report.csv", tmp_path / "c.csv", "R01"),
             fill(work, "g2-report.csv", tmp_path / "d.csv", "R02", lambda r: {"decision": "修改", "corrected_diagnosis":
                  r["diagnosis"] + (" (confirmed)" if r["language"] == "en" else "（已确认）")})]
    result = import_packets(work, files)
    res = result.resolution
    assert res["pending"] == [] and res["conflicts"] == []
    assert res["items"][removed]["status"] == "removed"
    assert res["items"][target["item_id"]]["changes"]["answer"]["after"] == new_answer
    assert res["agreement"]["items"] == round(0.3 * 31)  # items seen by both groups
    audit = Workspace(work).audit_entries()
    fix = next(e for e in audit if e["item_id"] == target["item_id"] and e["reviewer"] == "R01")
    assert {"field": "answer", "before": target["answer"], "after": new_answer} in fix["changes"]
    assert fix["file"] == "a.csv" and fix["row"] == rows.index(target) + 2 and fix["mode"] == "clinician"

    out = tmp_path / "spinebench"
    summary = build_spinebench(work, out, version="v1.2.0")
    assert summary["removed"] == 1 and summary["verification_mode"] == "clinician"
    manifest = verify_folder(out)
    assert manifest["version"] == "v1.2.0" and manifest["split"] == "test"
    # the release names the sampled corpus, never where it lay on the build machine
    corpus_manifest = verify_folder(corpus)
    assert manifest["build"]["sampling"]["corpus"] == {k: corpus_manifest[k] for k in ("name", "version", "content_hash")}
    local = str(corpus.resolve())
    assert all(local not in p.read_text("utf-8") for p in (out / "manifest.json", out / "README.md", out / "audit.jsonl"))
    mcq = datasets.load_dataset(str(out), "mcq", split="test")
    report = datasets.load_dataset(str(out), "report", split="test")
    mcq_ids, kinds = list(mcq["id"]), list(mcq["kind"]) + list(report["kind"])
    assert len(mcq) + len(report) == 30 and removed not in mcq_ids
    assert set(mcq["kind"]) <= {"text_mcq", "image_mcq"} and set(report["kind"]) == {"report"}
    assert summary["n_k"] == {k: kinds.count(k) for k in BENCH_KINDS}
    fixed = mcq[mcq_ids.index(target["item_id"])]
    assert fixed["answer"] == new_answer and fixed["options"][-1]["label"] == "E"
    assert fixed["verification"] == {"status": "fixed", "group": "g1", "reviewers": ["R01"], "decisions": 1}
    assert f"{new_answer}\n" in fixed["messages"][1]["content"] + "\n" and "E. " in fixed["messages"][0]["content"]
    assert all(r["verification"]["status"] == "fixed" for r in report if "g2" in r["verification"]["group"])
    # card: real counts, mode, agreement; audit ships in manifest.json and audit.jsonl
    card = (out / "README.md").read_text("utf-8")
    assert DatasetCard.load(out / "README.md").data.verification_mode == "clinician"
    assert f"holds **30 items**: **{summary['n_k']['text_mcq']}** text-only" in card and "[!CAUTION]" not in card
    assert "Fleiss' kappa" in card and "evaluate_metric/spinebench" in card and "ambiguous stem" in card
    lines = (out / "audit.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == manifest["build"]["audit_log"]["entries"]
    assert [a["path"] for a in manifest["attachments"]] == ["audit.jsonl"]
    assert sum(json.loads(x)["event"] == "decision" for x in lines) == len(audit)
    assert sum(json.loads(x)["event"] == "outcome" for x in lines) == 31
    plan = publish_folder(out, "org/SpineBench", "v1.2.0", dry_run=True, endpoint="https://hub.example")
    assert "manifest.json" in dict(plan.files) and "data/report/test-00000-of-00001.parquet" in dict(plan.files)
    assert "audit.jsonl" in dict(plan.files)  # the audit log ships with the release


def _mutations():
    """(name, mutate(header, rows) -> (header, rows), expected message parts)."""
    def first(rows, **cells):
        rows[0].update(cells)

    return [
        ("unknown item", lambda h, rs: first(rs, item_id="mcq-0000000000000000"), ["row 2", "'item_id'", "unknown item id"]),
        ("unknown decision", lambda h, rs: first(rs, decision="maybe"), ["row 2", "'decision'", "unknown decision 'maybe'"]),
        ("read-only edit", lambda h, rs: first(rs, question=rs[0]["question"] + " (edited)"),
         ["row 2", "'question'", "read-only", "corrected_question"]),
        ("read-only metadata", lambda h, rs: first(rs, language="fr"), ["row 2", "'language'", "read-only"]),
        ("fix without change", lambda h, rs: first(rs, decision="fix"), ["row 2", "no corrected_* cell changes"]),
        ("correction on accept", lambda h, rs: first(rs, corrected_explanation="new"),
         ["row 2", "only allowed with decision fix"]),
        ("remove without reason", lambda h, rs: first(rs, decision="remove"), ["row 2", "'comment'", "required"]),
        ("invalid correction", lambda h, rs: first(rs, decision="fix", corrected_answer="E"),
         ["row 2", "'corrected_answer'", "corrected item is invalid"]),
        ("unknown sub-field", lambda h, rs: first(rs, decision="fix", corrected_subfield="cardiology"),
         ["'corrected_subfield'", "unknown sub-field"]),
        ("identifier in correction", lambda h, rs: first(rs, decision="fix", corrected_explanation="Call 555-867-5309."),
         ["'corrected_explanation'", "identifier"]),
        ("reviewer name", lambda h, rs: first(rs, reviewer_id="Dr Zhang Wei"), ["'reviewer_id'", "not a reviewer code"]),
        ("decision lost", lambda h, rs: first(rs, decision="", comment="looks wrong"),
         ["'decision'", "is empty", "not lost"]),
        ("duplicate row", lambda h, rs: rs.append(dict(rs[0])), ["already in row 2"]),
        ("unknown column", lambda h, rs: h.append("notes"), ["row 1", "'notes'", "unknown column"]),
        ("missing column", lambda h, rs: h.remove("comment"), ["row 1", "'comment'", "missing"]),
    ]


@pytest.mark.parametrize("name,mutate,expected", _mutations(), ids=[m[0] for m in _mutations()])
def test_import_rejects_malformed_packets_and_records_nothing(corpus, tmp_path, name, mutate, expected):
    work = new_workspace(corpus, tmp_path, groups=1)
    header, rows = read_csv(packet(work, "g1-mcq.csv"))
    for r in rows:
        r.update(reviewer_id="R01", decision="accept")
    mutate(header, rows)
    bad = write_csv(tmp_path / "filled.csv", header, rows)
    with pytest.raises(PacketError) as info:
        import_packets(work, [bad])
    message = str(info.value)
    assert message.count("filled.csv") >= 1 and "nothing was imported" in message
    for part in expected:
        assert part in message, (name, message)
    assert Workspace(work).audit_entries() == []


def test_import_rejects_ragged_rows_and_blank_packets(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=1)
    with pytest.raises(PacketError, match="no decisions in this file"):
        import_packets(work, [packet(work, "g1-mcq.csv")])
    text = packet(work, "g1-mcq.csv").read_bytes().decode("utf-8-sig").split("\r\n")
    text[1] += ",extra,cells"
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("\r\n".join(text), encoding="utf-8")
    with pytest.raises(PacketError, match=r"ragged.csv row 2: has 29 cells, the header has 27"):
        import_packets(work, [ragged])


def test_import_reads_packets_resaved_by_a_chinese_locale_spreadsheet(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=1)
    header, rows = read_csv(packet(work, "g1-mcq.csv"))
    assert any(r["language"] == "zh" for r in rows)
    with open(tmp_path / "gbk.csv", "w", encoding="gb18030", newline="") as fh:  # Excel "CSV" in zh-CN: GBK, ";"
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(header)
        for r in rows:
            writer.writerow([{"reviewer_id": "R01", "decision": "接受"}.get(h, r[h]) for h in header])
    # never guessed (cp1252 bytes often decode as GB18030 too): refused unless the encoding is named
    with pytest.raises(PacketError, match="it looks like gb18030"):
        import_packets(work, [tmp_path / "gbk.csv"])
    result = import_packets(work, [tmp_path / "gbk.csv"], encoding="gb18030")
    assert result.files[0]["decided"] == len(rows) and result.resolution["counts"]["accepted"] == len(rows)


def test_packet_imported_twice_is_refused_and_nothing_is_lost(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=1)
    header, rows = read_csv(packet(work, "g1-mcq.csv"))
    for r in rows[:5]:
        r.update(reviewer_id="R01", decision="accept")
    first = write_csv(tmp_path / "first.csv", header, rows)
    import_packets(work, [first])
    # the same decisions re-saved by another program (no BOM, LF, another name) are the same packet
    again = write_csv(tmp_path / "again.csv", header, rows, bom=False, lineterminator="\n")
    with pytest.raises(PacketError, match="already imported"):
        import_packets(work, [again])
    # a second decision by the same reviewer on the same item in the same round is refused
    rows[6].update(reviewer_id="R01", decision="accept")
    with pytest.raises(PacketError, match="reviewer R01 already decided item"):
        import_packets(work, [write_csv(tmp_path / "more.csv", header, rows)])
    # the rest of the packet can come later, from another file; partial packets leave items pending
    later = [dict(r, reviewer_id="", decision="") for r in rows]
    for r in later[5:]:
        r.update(reviewer_id="R01", decision="accept")
    import_packets(work, [write_csv(tmp_path / "rest.csv", header, later)])
    res = resolve(work)
    assert len(Workspace(work).audit_entries()) == 26 and res["counts"] == {"accepted": 26, "pending": 5}
    with pytest.raises(ValueError, match="5 candidate"):
        build_spinebench(work, tmp_path / "sb")
    assert build_spinebench(work, tmp_path / "sb", drop_pending=True)["dropped_pending"] == 5


def test_conflicting_fixes_are_re_reviewed_in_a_later_round(corpus, tmp_path):
    work = new_workspace(corpus, tmp_path, groups=1)
    header, rows = read_csv(packet(work, "g1-report.csv"))
    item = rows[0]["item_id"]
    for reviewer, suffix, suffix_zh in (("R01", " Early mobilisation.", "早期下地活动。"),
                                        ("R02", " Bed rest for two days.", "卧床休息两天。")):
        def decide(row, suffix=suffix, suffix_zh=suffix_zh):
            if row["item_id"] != item:
                return {"decision": "accept"}
            text = suffix if row["language"] == "en" else suffix_zh
            return {"decision": "fix", "corrected_postop_management": row["postop_management"] + text}
        fill(work, "g1-report.csv", tmp_path / f"{reviewer}.csv", reviewer, decide)
    fill(work, "g1-mcq.csv", tmp_path / "mcq.csv", "R01")
    import_packets(work, [tmp_path / "R01.csv", tmp_path / "R02.csv", tmp_path / "mcq.csv"])
    res = resolve(work)
    assert res["items"][item]["status"] == "conflict" and res["conflicts"][0]["field"] == "postop_management"
    # both said "fix", with different corrections: a disagreement, not agreement
    agreement = res["agreement"]
    assert agreement["items"] == 5 and agreement["fix_value_disagreements"] == 1 and agreement["all_agree"] == 0.8
    with pytest.raises(ValueError, match="conflicting correction"):
        build_spinebench(work, tmp_path / "sb")
    record = export_packets(work, groups=["senior"], redo="conflicts")
    assert record["round"] == 2 and [p["items"] for p in record["packets"]] == [[item]]
    header, rows = read_csv(work / record["packets"][0]["file"])
    rows[0].update(reviewer_id="S01", decision="accept")
    import_packets(work, [write_csv(tmp_path / "adj.csv", header, rows)])
    res = resolve(work)
    assert res["items"][item]["status"] == "accepted" and res["items"][item]["superseded"] == 2
    summary = build_spinebench(work, tmp_path / "sb")
    audit = [json.loads(x) for x in (tmp_path / "sb" / "audit.jsonl").read_text("utf-8").splitlines()]
    decisions = [e for e in audit if e["event"] == "decision" and e["item_id"] == item]
    assert [(e["reviewer"], e["counted"]) for e in decisions] == [("R01", False), ("R02", False), ("S01", True)]
    assert summary["accepted"] == 31


# --------------------------------------------------------------------------------------
# Decontamination, demo, CLI
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(corpus, tmp_path_factory) -> dict:
    return run_bench_demo(corpus, tmp_path_factory.mktemp("demo"), seed=0)


def test_demo_builds_bench_and_a_corpus_release_with_zero_overlap(corpus, demo, tmp_path):
    summary = demo
    bench, release = Path(summary["bench_dir"]), Path(summary["corpus_release_dir"])
    assert summary["verification_mode"] == "simulated" and summary["overlap"] == 0
    assert summary["bench"]["removed"] == 1 and summary["decisions"]["remove"] == 1 and summary["decisions"]["fix"] >= 3
    assert summary["agreement"]["items"] == 6 and summary["agreement"]["fleiss_kappa"] is not None
    assert "[!CAUTION]" in (bench / "README.md").read_text("utf-8")
    assert json.loads((bench / "manifest.json").read_text("utf-8"))["build"]["verification_mode"] == "simulated"
    # the proof: nothing in the release overlaps the bench, while the corpus build does
    report = check_overlap(bench, release)
    assert report.clean and report.n_overlapping == 0 and report.n_checked == summary["corpus_release"]["rows_out"]
    raw = check_overlap(bench, corpus)
    bench_rows = sum(summary["bench"]["rows"].values())
    assert raw.n_overlapping == summary["corpus_release"]["removed"] >= bench_rows
    assert {i["status"] for i in raw.items} >= {"exact", "same_source", "contains_answer"}
    assert summary["corpus_release"]["removed_by_reason"]["generated from the same source record as a bench item"] > 0
    # release: same layout, loads, counts add up, removal accounted in the card and manifest
    manifest = verify_folder(release)
    assert manifest["counts"]["num_rows"] + raw.n_overlapping == verify_folder(corpus)["counts"]["num_rows"]
    acc = manifest["build"]["accounting"]
    assert acc["items_removed_as_spinebench_overlap"] == raw.n_overlapping
    assert manifest["build"]["decontamination"]["bench"]["content_hash"] == summary["bench"]["content_hash"]
    card = (release / "README.md").read_text("utf-8")
    assert f"| items removed as spinebench overlap | {raw.n_overlapping} |" in card
    assert len(datasets.load_dataset(str(release), "mcq", split="train")) == manifest["counts"]["configs"]["mcq"]
    # deterministic: the same inputs give the same benchmark content
    again = run_bench_demo(corpus, tmp_path / "again", seed=0)
    assert again["bench"]["content_hash"] == summary["bench"]["content_hash"]


_TOKEN = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


def _word_5grams(text: str) -> set[tuple[str, ...]]:
    """Plain 5-grams of lower-cased words and single Chinese characters (not the decontam code)."""
    tokens = _TOKEN.findall(text.lower())
    return {tuple(tokens[i:i + 5]) for i in range(len(tokens) - 4)}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ("bytes", "path") for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _answer_leaks(folder: Path, keys: dict[str, set], skip_ids=frozenset()) -> list[tuple[str, str, float]]:
    """(row id, bench id, containment) of every row holding >= 70% of a bench key's 5-grams."""
    leaks = []
    manifest = verify_folder(folder)
    for config in ("mcq", "open_qa", "consultation", "report"):
        for row in read_folder_rows(folder, config, manifest=manifest):
            if row["id"] in skip_ids:
                continue
            text = _word_5grams("\n".join(_strings({k: v for k, v in row.items()
                                                     if k not in ("images", "provenance", "generation")})))
            for bench_id, key in keys.items():
                containment = len(key & text) / len(key)
                if containment >= 0.7:
                    leaks.append((row["id"], bench_id, round(containment, 3)))
    return leaks


def test_release_holds_no_bench_answer_and_no_sibling_of_a_bench_item(corpus, demo):
    """Checked without spinemed.bench.decontam: no release row contains >= 70% of the word 5-grams of
    any bench item's question + correct option text, or comes from a bench item's source record."""
    bench, release = Path(demo["bench_dir"]), Path(demo["corpus_release_dir"])
    keys = {}
    for row in read_folder_rows(bench, "mcq"):
        correct = [o["text"] for o in row["options"] if o["label"] in row["answer"]]
        keys[row["id"]] = _word_5grams(" ".join([row["question"], *correct]))
    assert all(keys.values()) and len(keys) == demo["bench"]["rows"]["mcq"]
    # the raw corpus holds such rows besides the bench items themselves (so this can fail) ...
    assert _answer_leaks(corpus, keys, skip_ids=set(keys))
    # ... the release none
    assert _answer_leaks(release, keys) == []
    # and no row of the release comes from the source record of a bench item, while the corpus has siblings
    bench_records = {r["provenance"]["record_id"] for c in ("mcq", "report") for r in read_folder_rows(bench, c)}
    assert len(bench_records) == sum(demo["bench"]["rows"].values()) and "" not in bench_records
    assert [r["id"] for c in ("open_qa", "consultation", "report") for r in read_folder_rows(corpus, c)
            if r["provenance"]["record_id"] in bench_records]
    released = [r for c in ("mcq", "open_qa", "consultation", "report") for r in read_folder_rows(release, c)]
    assert len(released) == demo["corpus_release"]["rows_out"]
    assert [r["id"] for r in released if r["provenance"]["record_id"] in bench_records] == []


def test_check_overlap_finds_siblings_and_answers_quoted_anywhere(corpus, tmp_path):
    rows = {c: list(read_folder_rows(corpus, c)) for c in ("mcq", "open_qa")}
    open_qa_records = {r["provenance"]["record_id"]: r for r in rows["open_qa"]}
    item = next(r for r in rows["mcq"] if r["language"] == "en" and r["modality"] == "text"
                and r["provenance"]["record_id"] in open_qa_records)
    sibling = open_qa_records[item["provenance"]["record_id"]]
    index = BenchIndex.from_rows([item], info={"name": "mini", "version": "v0.0.1"})
    assert index.records == {item["provenance"]["record_id"]: item["id"]}
    assert answer_key_text(item).startswith(item["question"]) and "Explanation" not in full_text(sibling)
    hit = index.match_row(sibling)
    assert hit["status"] == "same_source" and hit["bench_id"] == item["id"] and hit["similarity"] < 0.5
    # a chat dataset whose prompt is harmless but whose answer quotes the bench question and its answer
    correct = " ".join(o["text"] for o in item["options"] if o["label"] in item["answer"])
    candidate = datasets.Dataset.from_list([
        {"messages": [{"role": "user", "content": "Tell me one thing you read today."},
                      {"role": "assistant", "content": f"I read this: {item['question']}\n{correct}. Good to know."}]},
        {"messages": [{"role": "user", "content": "What is the normal range of serum sodium?"},
                      {"role": "assistant", "content": "135-145 mmol/L"}]},
    ])
    report = check_overlap(index, candidate)
    assert [(i["candidate_id"], i["status"], i["bench_id"]) for i in report.items] == [
        ("default/train/0", "contains_answer", item["id"])]
    assert report.items[0]["containment"] == 1.0 and report.items[0]["similarity"] < 0.5
    assert "containment 1.00" in report.describe()
    assert check_overlap(index, candidate, answer_threshold=1.0).n_overlapping == 1
    # saved and loaded, the index keeps source records and answer keys; an index of the older format is refused
    saved = index.save(tmp_path / "idx")
    assert check_overlap(saved, candidate).items == report.items
    assert BenchIndex.load(saved).match_row(sibling)["status"] == "same_source"
    meta = json.loads((saved / "bench_index.json").read_text("utf-8"))
    (saved / "bench_index.json").write_text(json.dumps({**meta, "format": "spinebench-index/1"}), "utf-8")
    with pytest.raises(ValueError, match="spinebench-index/1.*save it again"):
        BenchIndex.load(saved)


def test_check_overlap_finds_near_duplicates_in_other_datasets(corpus, tmp_path):
    bench_rows = [r for r in read_folder_rows(corpus, "mcq") if r["language"] == "en"][:3]
    index = BenchIndex.from_rows(bench_rows, info={"name": "mini", "version": "v0.0.1"})
    near = bench_rows[0]
    opts = "\n".join(f"{o['label']}) {o['text']}" for o in near["options"])
    candidate = datasets.Dataset.from_list([
        {"messages": [{"role": "user", "content": f"Question: {near['question']} Choose one.\n{opts}"},
                      {"role": "assistant", "content": "A"}]},
        {"messages": [{"role": "user", "content": "What is the normal range of serum sodium?"},
                      {"role": "assistant", "content": "135-145 mmol/L"}]},
    ])
    report = check_overlap(index, candidate, threshold=0.5)
    assert report.n_checked == 2 and report.n_overlapping == 1
    assert report.items[0]["bench_id"] == near["id"] and report.items[0]["status"] == "near"
    assert 0.5 <= report.items[0]["similarity"] < 1.0
    assert json.loads(json.dumps(report.to_json()))["clean"] is False
    # a saved index answers the same, also without its image/id side file (bare Deduper index)
    saved = index.save(tmp_path / "idx")
    assert check_overlap(saved, candidate).items == report.items
    (saved / "bench_index.json").unlink()
    assert check_overlap(saved, candidate).n_overlapping == 1


def test_cli_round_trip(corpus, tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "out"
    assert cli.main(["bench", "sample", "--corpus", str(corpus), "--work", str(work), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "NOTE: targets scaled down" in printed and "achieved" in printed
    assert cli.main(["bench", "export", "--work", str(work), "--groups", "2"]) == 0
    header, rows = read_csv(work / "packets" / "round-1" / "g1-mcq.csv")
    rows[0].update(reviewer_id="R01", decision="maybe")
    bad = write_csv(tmp_path / "bad.csv", header, rows)
    assert cli.main(["bench", "import", "--work", str(work), str(bad)]) == 2
    assert "bad.csv row 2, column 'decision': unknown decision 'maybe'" in capsys.readouterr().err
    assert cli.main(["bench", "simulate", "--work", str(work)]) == 0
    assert "SIMULATED" in capsys.readouterr().out
    assert cli.main(["bench", "status", "--work", str(work), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["removed"] == 1
    assert cli.main(["bench", "build", "--work", str(work), "--out", str(out / "spinebench")]) == 0
    assert "verification mode is 'simulated'" in capsys.readouterr().out
    release = out / "spinemed-450k-release"
    assert cli.main(["bench", "decontaminate", "--bench", str(out / "spinebench"), "--corpus", str(corpus),
                     "--out", str(release)]) == 0
    capsys.readouterr()
    assert cli.main(["bench", "check-overlap", str(out / "spinebench"), str(corpus), "--config", "report"]) == 1
    assert "CONTAMINATED" in capsys.readouterr().out
    assert cli.main(["bench", "check-overlap", str(out / "spinebench"), str(release), "--out",
                     str(tmp_path / "r.json"), "--save-index", str(tmp_path / "idx")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["clean"] is True
    assert cli.main(["bench", "check-overlap", str(tmp_path / "idx"), str(release)]) == 0
    capsys.readouterr()
    # a dataset that cannot be loaded (HF_HUB_OFFLINE=1: the Hub is unreachable) is an error, never "overlap found"
    assert cli.main(["bench", "check-overlap", str(tmp_path / "idx"), "bogus-org/no-such-dataset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'bogus-org/no-such-dataset'" in err and "Traceback" not in err
    assert cli.main(["bench", "check-overlap", "bogus-org/no-such-bench", str(release)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert cli.main(["publish", str(out / "spinebench"), "--repo", "org/SpineBench", "--version", "v1.0.0",
                     "--dry-run", "--endpoint", "https://hub.example", "--gated"]) == 0  # non-redistributable rows
    assert "would publish org/SpineBench" in capsys.readouterr().out
    shutil.rmtree(work / "packets")  # the workspace state, not the packet folder, drives later steps
    assert cli.main(["bench", "status", "--work", str(work)]) == 0
