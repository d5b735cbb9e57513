"""SpineBench scoring: paper fidelity, hand-worked item-level scores, errors, CIs, breakdowns."""

import json

import pytest

from spinemed.scoring import (
    BENCHMARK_COUNTS,
    DEFAULT_SECTIONS,
    DIMENSIONS,
    PAPER_RESULTS,
    check_paper_table,
    check_reported_total,
    normalize_sections,
    report_item_score,
    score_predictions,
    weighted_total,
)

PAPER = {r.model: r for r in PAPER_RESULTS}
N_CLOSED = BENCHMARK_COUNTS["text_mcq"] + BENCHMARK_COUNTS["image_mcq"]

# Section means 4 | 3 | (5+4+3)/3=4 | 2 | (5+4+3+4)/4=4  ->  P3 = 20 x 17/5 = 68.
R1_SCORES = dict(zip(DIMENSIONS, [4, 3, 5, 4, 3, 2, 5, 4, 3, 4]))
R2_SCORES = {d: 5 for d in DIMENSIONS}


# --------------------------------------------------------------------------------------
# Fidelity to the paper
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, total",
    [("Gemini-2.5-Pro", 89.23), ("GPT5-mini", 87.01), ("GPT5", 85.54), ("GLM-4.5V", 83.26), ("Qwen2.5-VL-72B", 79.88)],
)
def test_paper_totals_reproduce(model, total):
    row = PAPER[model]
    got = weighted_total({"closed_qa": row.closed_qa, "report": row.report}, {"closed_qa": N_CLOSED, "report": 87})
    assert abs(got - total) <= 0.01


def test_paper_totals_from_text_image_split():
    # With P1 and P2 separately (three components, 294/193/87) GPT5 and GLM-4.5V still reproduce.
    for model, total in (("GPT5", 85.54), ("GLM-4.5V", 83.26)):
        row = PAPER[model]
        got = weighted_total({"text_mcq": row.text_mcq, "image_mcq": row.image_mcq, "report": row.report}, BENCHMARK_COUNTS)
        assert abs(got - total) <= 0.01


def test_inconsistent_paper_rows_are_flagged():
    checks = check_paper_table()
    totals = {c.label: c for c in checks if c.quantity == "total"}
    assert len(totals) == 8
    assert {m for m, c in totals.items() if not c.consistent} == {"Medgemma-27B", "Qwen2.5-VL-7B", "SpineGPT"}
    assert round(totals["Medgemma-27B"].recomputed, 2) == 80.49
    assert round(totals["Qwen2.5-VL-7B"].recomputed, 2) == 71.85
    assert round(totals["SpineGPT"].recomputed, 2) == 87.79
    # The published text/image splits do agree with the published closed-QA averages.
    closed = [c for c in checks if c.quantity == "closed_qa"]
    assert {c.label for c in closed} == {"GPT5", "GLM-4.5V", "Qwen2.5-VL-7B"} and all(c.consistent for c in closed)


def test_paper_rows_are_labelled_as_reported():
    assert all("paper" in r.source for r in PAPER_RESULTS)
    assert PAPER["Claude4"].closed_qa == 79.67 and PAPER["Claude4"].total is None
    assert PAPER["SpineGPT"].total == 87.44  # kept as printed, flagged by the checker


@pytest.mark.parametrize(
    "reported, consistent",
    [
        (50.0, True),
        (50.01, True),  # one unit in the last place
        (49.99, True),
        (50.014, True),  # rounds to 50.01
        (50.015, False),  # rounds half-up to 50.02
        (50.02, False),
        (49.985, True),  # rounds half-up to 49.99
        (49.984, False),  # rounds to 49.98
    ],
)
def test_check_reported_total_rounds_both_to_2_decimals(reported, consistent):
    # Recomputed exactly 50.0: the reported total is rounded to 2 decimals and may differ by 0.01.
    check = check_reported_total({"a": 40, "b": 60}, {"a": 1, "b": 1}, reported)
    assert check.consistent is consistent
    assert check.allowed == 0.01 and check.decimals == 2


def test_check_reported_total_rounds_the_recomputed_value_too():
    # Recomputed 50.005 rounds half-up to 50.01, so a printed 50.02 is one unit off (consistent)
    # and a printed 49.99 two units off (flagged), although both are 0.015 from 50.005.
    counts = {"a": 1, "b": 1}
    assert check_reported_total({"a": 40.01, "b": 60.0}, counts, 50.02).consistent
    flagged = check_reported_total({"a": 40.01, "b": 60.0}, counts, 49.99)
    assert not flagged.consistent and flagged.rounded_difference == pytest.approx(-0.02)
    assert flagged.difference == pytest.approx(-0.015)
    # decimals=None compares unrounded numbers; a wider tolerance is honoured.
    assert not check_reported_total({"a": 40, "b": 60}, counts, 50.011, decimals=None).consistent
    assert check_reported_total({"a": 40, "b": 60}, counts, 50.3, tolerance=0.5).consistent
    with pytest.raises(ValueError, match="component score is None"):
        check_reported_total({"a": None, "b": 60}, counts, 50)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        check_reported_total({"a": 40, "b": 60}, counts, 50, tolerance=-1)


def test_paper_rows_at_the_tolerance_boundary():
    totals = {c.label: c for c in check_paper_table() if c.quantity == "total"}
    # GPT5-mini recomputes to 87.0016 -> 87.00, printed 87.01: exactly one unit, consistent.
    mini = totals["GPT5-mini"]
    assert mini.consistent and mini.rounded_difference == pytest.approx(0.01)
    assert totals["SpineGPT"].rounded_difference == pytest.approx(87.44 - 87.79)


# --------------------------------------------------------------------------------------
# Formulas by hand
# --------------------------------------------------------------------------------------


def test_report_score_is_20_times_mean_of_section_means():
    assert report_item_score(R1_SCORES) == pytest.approx(68.0)
    assert report_item_score(R2_SCORES) == pytest.approx(100.0)
    assert report_item_score({d: 1 for d in DIMENSIONS}) == pytest.approx(20.0)
    # Grouping matters: ten one-dimension sections give the flat mean 37/10 x 20 = 74.
    singles = {d: [d] for d in DIMENSIONS}
    assert report_item_score(R1_SCORES, singles) == pytest.approx(74.0)


def test_weighted_total_by_hand():
    assert weighted_total({"text_mcq": 60, "image_mcq": 30, "report": 90}, {"text_mcq": 2, "image_mcq": 1, "report": 1}) == pytest.approx(60.0)
    assert weighted_total({"text_mcq": 60, "image_mcq": None, "report": 90}, {"text_mcq": 2, "image_mcq": 0, "report": 1}) == pytest.approx(70.0)
    assert weighted_total({"text_mcq": 60, "report": None}, {"text_mcq": 2, "report": 1}) is None


@pytest.mark.parametrize(
    "scores, error",
    [
        ({**R1_SCORES, "diagnosis": 0}, "diagnosis = 0.0 is outside 1-5"),
        ({**R1_SCORES, "diagnosis": 6}, "outside 1-5"),
        ({**R1_SCORES, "diagnosis": float("nan")}, "outside 1-5"),
        ({**R1_SCORES, "diagnosis": True}, "must be a number"),
        ({**R1_SCORES, "diagnosis": "4"}, "must be a number"),
        ({d: 3 for d in DIMENSIONS[1:]}, "missing dimension.*imaging_report"),
        ({**R1_SCORES, "clarity": 3}, "unknown dimension.*clarity"),
    ],
)
def test_invalid_dimension_scores(scores, error):
    with pytest.raises((ValueError, TypeError), match=error):
        report_item_score(scores)


def test_sections_validation():
    assert normalize_sections(None) == DEFAULT_SECTIONS
    with pytest.raises(ValueError, match="'diagnosis' is in both"):
        normalize_sections({**DEFAULT_SECTIONS, "extra": ["diagnosis"]})
    with pytest.raises(ValueError, match="not in any section: risk_prognosis"):
        normalize_sections({k: v for k, v in DEFAULT_SECTIONS.items() if k != "risk_prognosis"})
    with pytest.raises(ValueError, match="unknown dimension 'safety'"):
        normalize_sections({**DEFAULT_SECTIONS, "x": ["safety"]})


# --------------------------------------------------------------------------------------
# score_predictions: a small benchmark worked out by hand
# --------------------------------------------------------------------------------------

ITEMS = [
    {"id": "t1", "kind": "text_mcq", "answer": "B", "language": "en", "subfield": "lumbar_disc_herniation"},
    {"id": "t2", "kind": "text_mcq", "answer": "C", "language": "zh", "subfield": "lumbar_disc_herniation"},
    {"id": "t3", "kind": "text_mcq", "answer": "A", "language": "en", "subfield": "spinal_trauma"},
    {"id": "t4", "kind": "text_mcq", "answer": "A,C", "language": "en", "subfield": "spinal_trauma"},
    {"id": "t5", "kind": "text_mcq", "answer": "D", "language": "en", "subfield": "spinal_trauma"},
    {"id": "i1", "kind": "image_mcq", "answer": "D", "language": "en", "subfield": "degenerative_cervical"},
    {"id": "i2", "kind": "image_mcq", "answer": "B", "language": "en", "subfield": "degenerative_cervical"},
    {"id": "i3", "kind": "image_mcq", "answer": "C", "language": "en", "subfield": "degenerative_cervical"},
    {"id": "r1", "kind": "report", "levels": ["L4/5", "L5-S1"], "language": "en", "subfield": "lumbar_disc_herniation"},
    {"id": "r2", "kind": "report", "reference": "C5-C6 cervical spondylotic myelopathy", "language": "zh", "subfield": "degenerative_cervical"},
]
PREDICTIONS = [
    "The answer is B.",  # correct
    "答案：Ｃ",  # correct (full-width)
    "I cannot answer this without more information.",  # refused
    "Answer: A, C",  # correct, multi-letter
    "It could be A or B.",  # unparsed
    "After reviewing the CT and MRI, ACDF is indicated. Answer: D",  # correct
    "",  # empty
    None,  # missing
    "MRI shows L4-L5 and L3-L4 disc herniation.",
    "Cervical myelopathy, T2 hyperintensity in the cord.",
]
JUDGE = [None] * 8 + [R1_SCORES, R2_SCORES]


def test_hand_worked_benchmark():
    res = score_predictions(ITEMS, PREDICTIONS, JUDGE, return_items=True)
    s = res["scores"]
    assert s["text_mcq"] == pytest.approx(60.0)  # 3 of 5
    assert s["image_mcq"] == pytest.approx(100 / 3)  # 1 of 3
    assert s["closed_qa"] == pytest.approx(50.0)  # 4 of 8
    assert s["report"] == pytest.approx(84.0)  # (68 + 100) / 2
    assert s["total"] == pytest.approx((5 * 60 + 3 * 100 / 3 + 2 * 84) / 10)  # 56.8
    assert res["counts"] == {"text_mcq": 5, "image_mcq": 3, "report": 2, "closed_qa": 8, "total": 10}
    assert res["weights"] == pytest.approx({"text_mcq": 0.5, "image_mcq": 0.3, "report": 0.2})
    assert res["answers"]["text_mcq"] == {"correct": 3, "answered": 3, "refused": 1, "empty": 0, "unparsed": 1, "missing": 0}
    assert res["answers"]["image_mcq"] == {"correct": 1, "answered": 1, "refused": 0, "empty": 1, "unparsed": 0, "missing": 1}
    rep = res["report"]
    assert rep["judged"] == 2 and rep["not_judged"] == 0
    assert rep["sections"] == pytest.approx(
        {"imaging_report": 90.0, "diagnosis": 80.0, "treatment": 90.0, "risk_prognosis": 70.0, "report_quality": 90.0}
    )
    assert rep["dimensions"]["risk_prognosis"] == pytest.approx(3.5)
    assert rep["dimensions"]["coverage"] == pytest.approx(5.0)
    items = {it["id"]: it for it in res["items"]}
    assert items["t4"]["reference"] == "AC" and items["t4"]["extracted"] == "AC" and items["t4"]["correct"]
    assert items["i3"]["status"] == "missing" and items["i3"]["missing_output"]
    assert items["r1"]["score"] == pytest.approx(68.0)
    assert res["warnings"] == ["1 MCQ outputs are None (counted as 'missing', scored wrong)"]
    json.dumps(res)  # the payload is JSON-serialisable


def test_level_aware_scores():
    res = score_predictions(ITEMS, PREDICTIONS, JUDGE, return_items=True)
    items = {it["id"]: it for it in res["items"]}
    r1 = items["r1"]["levels"]
    assert r1["reference"] == ["L4-L5", "L5-S1"] and r1["predicted"] == ["L3-L4", "L4-L5"]
    assert (r1["tp"], r1["fp"], r1["fn"]) == (1, 1, 1) and r1["f1"] == pytest.approx(0.5)
    r2 = items["r2"]["levels"]  # "T2" is an MRI sequence, not a level: nothing predicted
    assert r2["reference"] == ["C5-C6"] and r2["predicted"] == [] and r2["recall"] == 0.0
    lv = res["levels"]
    assert (lv["items"], lv["no_reference_levels"], lv["tp"], lv["fp"], lv["fn"]) == (2, 0, 1, 1, 2)
    assert lv["precision"] == pytest.approx(0.5) and lv["recall"] == pytest.approx(1 / 3)
    assert lv["f1"] == pytest.approx(0.4)
    assert lv["macro_f1"] == pytest.approx(0.25)


def test_breakdowns_by_language_and_subfield():
    res = score_predictions(ITEMS, PREDICTIONS, JUDGE)
    zh = res["breakdowns"]["language"]["zh"]
    assert zh["counts"]["text_mcq"] == 1 and zh["counts"]["report"] == 1 and zh["counts"]["image_mcq"] == 0
    assert zh["scores"]["image_mcq"] is None and zh["scores"]["total"] == pytest.approx(100.0)
    en = res["breakdowns"]["language"]["en"]
    assert en["scores"]["text_mcq"] == pytest.approx(50.0)
    assert en["scores"]["total"] == pytest.approx((4 * 50 + 3 * 100 / 3 + 68) / 8)  # 46.0
    assert set(res["breakdowns"]["subfield"]) == {"lumbar_disc_herniation", "spinal_trauma", "degenerative_cervical"}
    trauma = res["breakdowns"]["subfield"]["spinal_trauma"]
    assert trauma["scores"]["text_mcq"] == pytest.approx(100 / 3) and trauma["scores"]["report"] is None
    assert "breakdowns" not in zh


def test_reports_without_judge_scores_are_not_judged_not_zero():
    res = score_predictions(ITEMS, PREDICTIONS)
    assert res["scores"]["report"] is None and res["scores"]["total"] is None
    assert res["report"]["judged"] == 0 and res["report"]["not_judged"] == 2
    assert res["report"]["sections"]["diagnosis"] is None
    assert res["scores"]["closed_qa"] == pytest.approx(50.0)
    assert any("2 report items not judged" in w for w in res["warnings"])
    with pytest.raises(ValueError, match=r"report item 'r1' has no judge scores \(strict mode\)"):
        score_predictions(ITEMS, ["x"] * len(ITEMS), strict=True)


def test_partially_judged_reports_give_no_p3_unless_opted_in():
    # r1 has no judge scores: the mean of the rest is not the benchmark's P3.
    res = score_predictions(ITEMS, PREDICTIONS, {"r2": R2_SCORES})
    assert res["scores"]["report"] is None and res["scores"]["total"] is None
    rep = res["report"]
    assert (rep["judged"], rep["not_judged"], rep["no_judge_scores"], rep["judge_failed"], rep["floor_scored"]) == (1, 1, 1, 0, 0)
    assert rep["scored"] == 1 and not rep["complete"] and rep["scored_mean"] == pytest.approx(100.0)
    assert any("1 of 2 report items not judged (1 without judge scores): P3 and the total are None" in w for w in res["warnings"])
    assert res["config"]["partial_reports"] == "none"

    opted = score_predictions(ITEMS, PREDICTIONS, {"r2": R2_SCORES}, partial_reports="mean")
    assert opted["scores"]["report"] == pytest.approx(100.0)
    assert opted["scores"]["total"] == pytest.approx((5 * 60 + 3 * 100 / 3 + 2 * 100) / 10)
    assert opted["config"]["partial_reports"] == "mean" and opted["report"]["partial_reports"] == "mean"
    assert any("P3 is the mean over the 1 scored items (partial_reports='mean')" in w for w in opted["warnings"])
    with pytest.raises(ValueError, match="partial_reports must be one of 'none', 'mean', got 'drop'"):
        score_predictions(ITEMS, PREDICTIONS, partial_reports="drop")


REPORTS = [
    {"id": "a", "kind": "report", "reference": "L4-L5 herniation"},
    {"id": "b", "kind": "report", "reference": "L5-S1 spondylolisthesis"},
    {"id": "c", "kind": "report", "reference": "C5-C6 myelopathy"},
    {"id": "d", "kind": "report", "reference": "T12 fracture"},
]


def test_missing_and_empty_report_outputs_are_floor_scored():
    # a judged (68), b output None -> floor 20, c output blank -> floor 20, d judged (100).
    res = score_predictions(
        [ITEMS[0], *REPORTS], ["B", "L4-L5 herniation.", None, "  \n", "T12 burst fracture."],
        {"a": R1_SCORES, "d": R2_SCORES}, return_items=True,
    )
    assert res["scores"]["report"] == pytest.approx((68 + 20 + 20 + 100) / 4)  # 52
    assert res["scores"]["total"] == pytest.approx((100 + 4 * 52) / 5)
    rep = res["report"]
    assert (rep["judged"], rep["floor_scored"], rep["not_judged"], rep["judge_failed"]) == (2, 2, 2, 0)
    assert rep["complete"] and rep["missing_outputs"] == 1 and rep["empty_outputs"] == 1
    # Sections and dimensions are over the scored reports, so P3 = mean of the section means.
    assert rep["dimensions"]["coverage"] == pytest.approx((5 + 1 + 1 + 5) / 4)
    assert sum(rep["sections"].values()) / 5 == pytest.approx(52.0)
    items = {it["id"]: it for it in res["items"]}
    assert items["b"]["status"] == "floor_scored" and items["b"]["score"] == 20.0 and items["b"]["missing_output"]
    assert items["c"]["status"] == "floor_scored" and items["c"]["sections"]["treatment"] == 20.0
    assert items["b"]["levels"]["recall"] == 0.0  # nothing named, nothing found
    assert any("2 of 4 report outputs are missing or empty: scored at the floor" in w for w in res["warnings"])
    # Before any judge ran: the floor-scored items are scored, the others are not.
    unjudged = score_predictions(REPORTS, ["x", None, "", "y"])
    assert unjudged["scores"]["report"] is None and unjudged["report"]["scored"] == 2
    assert score_predictions(REPORTS, [None, None, "", " "])["scores"]["report"] == pytest.approx(20.0)


def test_judge_scores_for_an_empty_output_are_overridden_by_the_floor():
    res = score_predictions(REPORTS[:2], ["", "L5-S1."], [R2_SCORES, R1_SCORES], return_items=True)
    assert res["scores"]["report"] == pytest.approx((20 + 68) / 2)
    assert res["report"]["ignored_judge_scores"] == 1 and res["items"][0]["ignored_judge_scores"]
    assert any("judge scores given for 1 empty report output(s) were ignored" in w for w in res["warnings"])


def test_judge_failures_are_counted_and_block_the_total():
    errors = {"c": "invalid: no JSON object found in the reply"}
    res = score_predictions(REPORTS, ["a", None, "c", "d"], {"a": R1_SCORES, "d": R2_SCORES}, judge_errors=errors, return_items=True)
    assert res["scores"]["report"] is None and res["scores"]["total"] is None
    rep = res["report"]
    assert (rep["judged"], rep["floor_scored"], rep["judge_failed"], rep["no_judge_scores"], rep["not_judged"]) == (2, 1, 1, 0, 2)
    assert rep["judge_failures"] == [{"id": "c", "error": "invalid: no JSON object found in the reply"}]
    assert rep["scored_mean"] == pytest.approx((68 + 20 + 100) / 3)
    assert res["items"][2]["status"] == "judge_failed" and res["items"][2]["error"].startswith("invalid")
    assert any("1 of 4 report items not judged (1 judgement(s) failed)" in w for w in res["warnings"])
    opted = score_predictions(REPORTS, ["a", None, "c", "d"], {"a": R1_SCORES, "d": R2_SCORES}, judge_errors=errors, partial_reports="mean")
    assert opted["scores"]["report"] == pytest.approx(188 / 3) and opted["scores"]["total"] == pytest.approx(188 / 3)
    # A list aligned with the items works too; misuse is an error naming the item.
    listed = score_predictions(REPORTS, ["a", None, "c", "d"], [R1_SCORES, None, None, R2_SCORES], judge_errors=[None, None, "timeout", None])
    assert listed["report"]["judge_failed"] == 1
    with pytest.raises(ValueError, match=r"report item 'a' \(index 0\) has both judge scores and a judge error"):
        score_predictions(REPORTS, ["a", "b", "c", "d"], {"a": R1_SCORES}, judge_errors={"a": "timeout"})
    with pytest.raises(ValueError, match=r"judge_errors\[0\]: a judge error given for text_mcq item 't1'"):
        score_predictions(ITEMS[:1], ["B"], judge_errors=["timeout"])
    with pytest.raises(ValueError, match=r"judge_scores\[2\]: report item 'c' has its judgement failed \(timeout\) \(strict mode\)"):
        score_predictions(REPORTS, ["a", "b", "c", "d"], {"a": R1_SCORES, "b": R1_SCORES, "d": R1_SCORES}, judge_errors={"c": "timeout"}, strict=True)
    with pytest.raises(ValueError, match="judge_errors: no item with id 'zz'"):
        score_predictions(REPORTS, ["a", "b", "c", "d"], judge_errors={"zz": "x"})


def test_bootstrap_follows_the_partial_reports_policy():
    preds, scores, errors = ["a", None, "c", "d"], {"a": R1_SCORES, "d": R2_SCORES}, {"c": "timeout"}
    ci = score_predictions(REPORTS, preds, scores, judge_errors=errors, bootstrap=100)["ci"]["intervals"]
    assert ci["report"] is None and ci["total"] is None
    ci = score_predictions(REPORTS, preds, scores, judge_errors=errors, bootstrap=100, partial_reports="mean")["ci"]["intervals"]
    lo, hi = ci["report"]
    assert 20.0 <= lo <= 188 / 3 <= hi <= 100.0  # resamples the 3 scored reports, floor included


# --------------------------------------------------------------------------------------
# open_qa: level-aware scores only, outside the total
# --------------------------------------------------------------------------------------

OPEN = [
    {"id": "o1", "kind": "open_qa", "reference": "Decompression at L4/5 and L5/S1.", "language": "en"},
    {"id": "o2", "task": "open_qa", "question": "Which level?", "answer": "颈5/6", "language": "zh"},
    {"id": "o3", "kind": "open_qa", "reference": "Conservative care first.", "language": "en"},
    {"id": "o4", "kind": "open_qa", "levels": ["T12-L1"], "language": "en"},
]


def test_open_answers_are_scored_by_levels_only():
    preds = ["Decompress L4-L5.", "C5-C6 and C6-C7", "Physiotherapy.", None]
    res = score_predictions([ITEMS[0], *OPEN], ["B", *preds], return_items=True)
    # Not in the total: one text MCQ item, correct.
    assert res["scores"]["total"] == pytest.approx(100.0) and res["counts"]["total"] == 1
    assert "open_qa" not in res["counts"] and res["weights"] == {"text_mcq": 1.0}
    oq = res["open_qa"]
    assert (oq["count"], oq["answered"], oq["empty"], oq["missing"]) == (4, 3, 0, 1)
    lv = oq["levels"]
    # o1: {L4-L5} vs {L4-L5, L5-S1}: tp 1 fn 1; o2: {C5-C6, C6-C7} vs {C5-C6}: tp 1 fp 1;
    # o3: no reference level, not compared; o4: nothing vs {T12-L1}: fn 1.
    assert (lv["items"], lv["no_reference_levels"], lv["tp"], lv["fp"], lv["fn"]) == (3, 1, 2, 1, 2)
    assert lv["precision"] == pytest.approx(2 / 3) and lv["recall"] == pytest.approx(0.5)
    assert lv["f1"] == pytest.approx(4 / 7)
    assert lv["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    items = {it["id"]: it for it in res["items"]}
    assert items["o2"]["kind"] == "open_qa" and items["o2"]["levels"]["reference"] == ["C5-C6"]
    assert items["o1"]["score"] is None and items["o4"]["status"] == "missing"
    assert res["levels"]["items"] == 0  # the report block counts reports only
    assert any("1 of 4 open_qa items have no reference level" in w for w in res["warnings"])
    zh = res["breakdowns"]["language"]["zh"]
    assert zh["open_qa"]["count"] == 1 and zh["open_qa"]["levels"]["precision"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"judge_scores\[0\]: judge scores given for open_qa item 'o1'"):
        score_predictions(OPEN[:1], ["L4-L5"], [R1_SCORES])


def test_spinebench_rows_are_accepted():
    rows = [
        {"id": "a", "task": "mcq", "modality": "image", "answer": "F",
         "options": [{"label": c, "text": t} for c, t in zip("ABCDEF", ["L1", "L2", "L3", "L4", "L5", "S1 nerve root"])]},
        {"id": "b", "task": "mcq", "modality": "text", "answer": "B",
         "options": [{"label": "A", "text": "Cervical myelopathy"}, {"label": "B", "text": "Lumbar disc herniation"}]},
        {"id": "c", "task": "report", "modality": "image", "report": {"diagnosis": "L5-S1 isthmic spondylolisthesis"}, "levels": []},
    ]
    res = score_predictions(rows, ["Answer: F", "Most consistent with lumbar disc herniation.", "Spondylolisthesis at L5-S1."], return_items=True)
    assert res["counts"]["image_mcq"] == 1 and res["scores"]["image_mcq"] == 100.0
    assert res["scores"]["text_mcq"] == 100.0  # matched by quoting the only option's text
    assert res["items"][2]["levels"]["reference"] == ["L5-S1"] and res["items"][2]["levels"]["f1"] == 1.0


def test_input_errors_name_field_and_item():
    with pytest.raises(ValueError, match="predictions has 9 entries but there are 10 items"):
        score_predictions(ITEMS, PREDICTIONS[:9])
    with pytest.raises(ValueError, match=r"items\[1\] \(id 'x'\): unknown kind 'mcq_text'; valid kinds: text_mcq, image_mcq, report, open_qa"):
        score_predictions([ITEMS[0], {"id": "x", "kind": "mcq_text", "answer": "A"}], ["A", "A"])
    with pytest.raises(ValueError, match=r"cannot tell the item kind"):
        score_predictions([{"task": "consultation"}], ["A"])
    with pytest.raises(ValueError, match=r"judge_scores\[0\]: judge scores given for text_mcq item 't1'"):
        score_predictions(ITEMS[:1], ["B"], [R1_SCORES])
    with pytest.raises(ValueError, match=r"id 't1'.*'F' is not made of the option letters ABCDE"):
        score_predictions([{**ITEMS[0], "answer": "F"}], ["F"])
    with pytest.raises(ValueError, match=r"items\[0\].*reference 'answer' must be a non-empty string"):
        score_predictions([{"kind": "text_mcq"}], ["A"])
    with pytest.raises(TypeError, match=r"predictions\[0\] \(id 't1'\): expected a string or None, got int"):
        score_predictions(ITEMS[:1], [2])
    with pytest.raises(ValueError, match=r"predictions\[0\] \(id 't1'\) is None \(strict mode\)"):
        score_predictions(ITEMS[:1], [None], strict=True)
    with pytest.raises(ValueError, match="id 't1' appears more than once"):
        score_predictions(ITEMS[:1] * 2, ["B", "B"])
    with pytest.raises(ValueError, match="no item with id 'zz'"):
        score_predictions(ITEMS, PREDICTIONS, {"zz": R1_SCORES})
    with pytest.raises(ValueError, match=r"judge_scores\[9\] \(report item 'r2'\): diagnosis = 7.0 is outside 1-5"):
        score_predictions(ITEMS, PREDICTIONS, JUDGE[:9] + [{**R2_SCORES, "diagnosis": 7}])
    with pytest.raises(ValueError, match=r"'levels' entry 'L9-S7' is not a vertebral level"):
        score_predictions([{"kind": "report", "levels": ["L9-S7"]}], ["x"])


def test_bootstrap_intervals():
    res = score_predictions(ITEMS, PREDICTIONS, JUDGE, bootstrap=500, seed=3)
    again = score_predictions(ITEMS, PREDICTIONS, JUDGE, bootstrap=500, seed=3)
    ci = res["ci"]
    assert ci == again["ci"] and ci["n_resamples"] == 500 and ci["confidence"] == 0.95
    for key in ("text_mcq", "image_mcq", "closed_qa", "report", "total"):
        lo, hi = ci["intervals"][key]
        assert lo <= res["scores"][key] <= hi
        assert lo < hi
    assert ci["intervals"]["report"][0] >= 68.0 and ci["intervals"]["report"][1] <= 100.0
    assert score_predictions(ITEMS, PREDICTIONS, JUDGE, bootstrap=500, seed=4)["ci"] != ci
    # All correct: every resample is 100.
    perfect = score_predictions(ITEMS[:2], ["B", "C"], bootstrap=50)
    assert perfect["ci"]["intervals"]["text_mcq"] == [100.0, 100.0]
    assert perfect["ci"]["intervals"]["report"] is None
    assert score_predictions(ITEMS, PREDICTIONS, JUDGE)["ci"] is None


def test_custom_sections_and_judge_info():
    sections = {"clinical": DIMENSIONS[:6], "quality": DIMENSIONS[6:]}
    res = score_predictions(ITEMS[8:], PREDICTIONS[8:], JUDGE[8:], sections=sections, judge_info={"judge_model": "m", "prompt_version": "v1"})
    # r1: clinical (4+3+5+4+3+2)/6 = 3.5, quality 4 -> 20 x 3.75 = 75; r2: 100.
    assert res["scores"]["report"] == pytest.approx(87.5)
    assert res["scores"]["total"] == pytest.approx(87.5)
    assert res["config"]["sections"]["clinical"] == list(DIMENSIONS[:6])
    assert res["judge"] == {"judge_model": "m", "prompt_version": "v1"}


def test_dataset_and_array_inputs():
    datasets = pytest.importorskip("datasets")
    np = pytest.importorskip("numpy")
    ds = datasets.Dataset.from_list(
        [
            {"id": "a", "task": "mcq", "modality": "text", "answer": "B", "language": "en"},
            {"id": "b", "task": "report", "modality": "image", "answer": "", "language": "zh"},
        ]
    )
    res = score_predictions(ds, np.array(["Answer: B", "腰4/5椎间盘突出"]), {"b": R1_SCORES})
    assert res["scores"] == pytest.approx({"text_mcq": 100.0, "image_mcq": None, "closed_qa": 100.0, "report": 68.0, "total": 84.0})
    assert set(res["breakdowns"]["language"]) == {"en", "zh"}


def test_judge_run_json_is_accepted_and_checked_against_the_items():
    from spinemed.judge import JudgeResult, JudgeRun

    run = JudgeRun(
        results=[JudgeResult(0, "a", "ok", dict(R1_SCORES), attempts=1), JudgeResult(1, "b", "error", attempts=1, error="endpoint failed")],
        n_items=2, judge_model="m", backend="fake", prompt_version="v1", prompt_hash="h", item_ids=["a", "b"],
    )
    data = json.loads(json.dumps(run.to_json()))
    res = score_predictions(REPORTS[:2], ["L4-L5", "L5-S1"], data)
    assert res["report"]["judged"] == 1 and res["report"]["judge_failed"] == 1
    assert res["report"]["judge_failures"] == [{"id": "b", "error": "error: endpoint failed"}]
    assert res["judge"]["judge_model"] == "m" and res["judge"]["prompt_version"] == "v1"
    assert res["scores"]["report"] is None
    with pytest.raises(ValueError, match="the JudgeRun was made for another item list"):
        score_predictions(REPORTS[1:3], ["x", "y"], run)
    with pytest.raises(ValueError, match="judge_errors: given together with a JudgeRun"):
        score_predictions(REPORTS[:2], ["x", "y"], run, judge_errors=[None, "x"])
