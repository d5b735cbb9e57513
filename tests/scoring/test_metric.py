"""The `evaluate` module in evaluate_metric/spinebench: loads offline from the checkout, wraps the scorer."""

import doctest
import json
import re
from pathlib import Path

import pytest
import yaml

evaluate = pytest.importorskip("evaluate")

ROOT = Path(__file__).resolve().parents[2]
METRIC_DIR = ROOT / "evaluate_metric" / "spinebench"
JUDGE = {
    "imaging_report": 4, "diagnosis": 3, "patient_guidance": 5, "evidence_based_treatment": 4,
    "technical_feasibility": 3, "risk_prognosis": 2, "coverage": 5, "relevance": 4,
    "granularity": 3, "interpretability": 4,
}


@pytest.fixture(scope="module")
def metric(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    with pytest.MonkeyPatch.context() as mp:
        # Module copies and metric caches go to tmp; nothing may reach the Hub.
        mp.setenv("HF_EVALUATE_OFFLINE", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(evaluate.config, "HF_MODULES_CACHE", tmp / "modules")
        mp.setattr(evaluate.config, "HF_EVALUATE_CACHE", tmp / "evaluate")
        mp.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
        yield evaluate.load(str(METRIC_DIR), cache_dir=str(tmp / "cache"))


def test_mcq_scores_and_counts(metric):
    res = metric.compute(
        predictions=["The answer is B.", "答案：Ｃ", "I cannot answer this.", "选项D正确"],
        references=["B", "C", "A", "D"],
        task=["text_mcq", "text_mcq", "image_mcq", "image_mcq"],
    )
    assert res["scores"]["text_mcq"] == 100.0 and res["scores"]["image_mcq"] == 50.0
    assert res["scores"]["closed_qa"] == 75.0 and res["scores"]["total"] == pytest.approx(75.0)
    assert res["scores"]["report"] is None
    assert res["counts"]["text_mcq"] == 2 and res["counts"]["image_mcq"] == 2 and res["counts"]["report"] == 0
    assert res["answers"]["image_mcq"]["refused"] == 1
    json.dumps(res)


def test_reports_judge_scores_metadata_and_ci(metric):
    res = metric.compute(
        predictions=["B", "MRI: L4-L5 and L3-L4 disc herniation.", "Cervical spondylosis."],
        references=["B", "L4-L5 left paracentral disc herniation.", ""],
        task=["text_mcq", "report", "report"],
        judge_scores=["", json.dumps(JUDGE), {d: 5 for d in JUDGE}],
        reference_levels=["", "", "C5/6, C6-C7"],
        language=["en", "en", "zh"],
        subfield=["lumbar_disc_herniation", "lumbar_disc_herniation", "degenerative_cervical"],
        ids=["q1", "rep1", "rep2"],
        bootstrap=200,
        return_items=True,
    )
    assert res["scores"]["report"] == pytest.approx((68 + 100) / 2)
    assert res["scores"]["total"] == pytest.approx((100 + 2 * 84) / 3)
    assert res["report"]["dimensions"]["diagnosis"] == pytest.approx(4.0)
    # rep1: predicted {L3-L4, L4-L5} vs {L4-L5}; rep2: nothing predicted vs curated {C5-C6, C6-C7}.
    assert res["levels"]["tp"] == 1 and res["levels"]["fp"] == 1 and res["levels"]["fn"] == 2
    assert res["items"][2]["levels"]["reference"] == ["C5-C6", "C6-C7"] and res["items"][2]["id"] == "rep2"
    assert set(res["breakdowns"]["language"]) == {"en", "zh"}
    assert res["breakdowns"]["subfield"]["degenerative_cervical"]["scores"]["report"] == pytest.approx(100.0)
    assert res["ci"]["n_resamples"] == 200 and res["ci"]["intervals"]["text_mcq"] == [100.0, 100.0]


def test_unjudged_reports_are_reported_not_zero(metric):
    res = metric.compute(predictions=["B", "report text"], references=["B", ""], task=["text_mcq", "report"])
    assert res["scores"]["report"] is None and res["scores"]["total"] is None
    assert res["report"]["not_judged"] == 1 and res["warnings"]
    with pytest.raises(ValueError, match=r"report item '1' has no judge scores \(strict mode\)"):
        metric.compute(predictions=["B", "report text"], references=["B", ""], task=["text_mcq", "report"], strict=True)


def test_none_outputs_reach_the_scorer_as_missing(metric):
    # None first and None later take the same path (evaluate alone treats them differently).
    res = metric.compute(predictions=[None, "B", None, ""], references=["B", "B", "C", "C"], task=["text_mcq"] * 4)
    assert res["scores"]["text_mcq"] == pytest.approx(25.0)
    assert res["answers"]["text_mcq"]["missing"] == 2 and res["answers"]["text_mcq"]["empty"] == 1


def test_missing_report_output_is_floor_scored(metric):
    res = metric.compute(
        predictions=["B", None, "MRI: L4-L5 herniation."],
        references=["B", "C5-C6 myelopathy", "L4-L5 herniation."],
        task=["text_mcq", "report", "report"],
        judge_scores=["", "", JUDGE],
        return_items=True,
    )
    rep = res["report"]
    assert rep["floor_scored"] == 1 and rep["missing_outputs"] == 1 and rep["judged"] == 1 and rep["complete"]
    assert res["scores"]["report"] == pytest.approx((20 + 68) / 2) and res["scores"]["total"] == pytest.approx((100 + 2 * 44) / 3)
    assert res["items"][1]["status"] == "floor_scored" and res["items"][1]["missing_output"]
    # Added one at a time, a None output is missing too.
    metric.add(prediction=None, reference="L4-L5", task="report")
    single = metric.compute()
    assert single["report"]["missing_outputs"] == 1 and single["scores"]["report"] == pytest.approx(20.0)


def test_judge_info_errors_and_partial_reports(metric):
    info = {"judge_model": "Qwen2.5-72B-Instruct", "prompt_version": "v1", "prompt_hash": "abc"}
    kwargs = dict(
        predictions=["B", "L4-L5 disc.", "C5-C6 disc."],
        references=["B", "L4-L5", "C5-C6"],
        task=["text_mcq", "report", "report"],
        judge_scores=["", JUDGE, ""],
        judge_errors=["", "", "HTTP 500 after 3 retries"],
    )
    res = metric.compute(**kwargs, judge_info=info)
    assert res["judge"] == info
    assert res["report"]["judge_failed"] == 1 and res["report"]["judge_failures"] == [{"id": "2", "error": "HTTP 500 after 3 retries"}]
    assert res["scores"]["report"] is None and res["scores"]["total"] is None and res["config"]["partial_reports"] == "none"
    opted = metric.compute(**kwargs, judge_info=json.dumps(info), partial_reports="mean")
    assert opted["judge"] == info and opted["scores"]["report"] == pytest.approx(68.0)
    assert opted["scores"]["total"] == pytest.approx((100 + 2 * 68) / 3) and opted["config"]["partial_reports"] == "mean"
    with pytest.raises(ValueError, match="partial_reports must be one of 'none', 'mean', got 'skip'"):
        metric.compute(**kwargs, partial_reports="skip")
    with pytest.raises(TypeError, match="judge_info must be a dict"):
        metric.compute(**kwargs, judge_info=["m"])
    with pytest.raises(ValueError, match="judge_errors has 1 entries but there are 3 predictions"):
        metric.compute(**{**kwargs, "judge_errors": [""]})


def test_open_answers_get_level_scores_outside_the_total(metric):
    res = metric.compute(
        predictions=["B", "Fuse L4-L5 and L5-S1.", "Physiotherapy."],
        references=["B", "L4/5 decompression", "Conservative care."],
        task=["text_mcq", "open_qa", "open_qa"],
    )
    assert res["scores"]["total"] == pytest.approx(100.0) and res["counts"]["total"] == 1
    lv = res["open_qa"]["levels"]
    assert res["open_qa"]["count"] == 2 and (lv["items"], lv["no_reference_levels"], lv["tp"], lv["fp"], lv["fn"]) == (1, 1, 1, 1, 0)
    assert lv["precision"] == pytest.approx(0.5) and lv["recall"] == 1.0


def test_add_batch_then_compute(metric):
    metric.add_batch(predictions=["Answer: A"], references=["A"], task=["text_mcq"])
    metric.add(prediction=None, reference="C", task="image_mcq")
    res = metric.compute()
    assert res["counts"]["closed_qa"] == 2 and res["scores"]["closed_qa"] == 50.0


def test_input_errors(metric):
    with pytest.raises(ValueError, match=r"task\[1\] = 'mcq' is not a SpineBench item kind; valid kinds: text_mcq, image_mcq, report, open_qa"):
        metric.compute(predictions=["A", "B"], references=["A", "B"], task=["text_mcq", "mcq"])
    with pytest.raises(ValueError, match=r"Mismatch in the number of predictions \(1\) and references \(2\)"):
        metric.compute(predictions=["A"], references=["A", "B"], task=["text_mcq", "text_mcq"])
    with pytest.raises(ValueError, match="judge_scores has 1 entries but there are 2 predictions"):
        metric.compute(predictions=["A", "B"], references=["A", "B"], task=["text_mcq", "report"], judge_scores=[""])
    with pytest.raises(ValueError, match=r"judge_scores\[1\] is not valid JSON"):
        metric.compute(predictions=["A", "B"], references=["A", ""], task=["text_mcq", "report"], judge_scores=["", "{diagnosis: 4"])
    with pytest.raises(ValueError, match=r"items\[0\] \(id '0'\): MCQ reference 'answer' must be a non-empty string"):
        metric.compute(predictions=["A"], references=[None], task=["text_mcq"])
    with pytest.raises(ValueError, match=r"task\[0\] = ''"):
        metric.compute(predictions=["A"], references=["A"], task=[None])


def test_card_examples_run_as_written(metric, monkeypatch):
    """Every `>>>` example in the metric card and the module docstring gives the printed output."""
    monkeypatch.chdir(ROOT)
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    card = (METRIC_DIR / "README.md").read_text(encoding="utf-8").replace("\n```", "\n\n```")  # fence ends an example
    for name, text in (("README.md", card), ("inputs_description", metric.info.inputs_description)):
        test = parser.get_doctest(text, {"evaluate": evaluate}, name, name, 0)
        assert test.examples, name
        result = runner.run(test, clear_globs=False)
        assert result.failed == 0, f"{name}: {result.failed} example(s) failed"


def test_card_and_space_files():
    text = (METRIC_DIR / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(re.match(r"---\n(.*?)\n---\n", text, re.DOTALL).group(1))
    for key in ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file", "pinned", "tags", "description"):
        assert key in meta, key
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and {"evaluate", "metric"} <= set(meta["tags"])
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values", "### Examples", "## Limitations and Bias", "## Citation"):
        assert section in text, section
    # Its own app on the Space's Gradio (evaluate's widget needs Gradio 3), the same as the app Space's.
    space_meta = yaml.safe_load(re.match(r"---\n(.*?)\n---\n", (ROOT / "space_app" / "README.md").read_text(encoding="utf-8"), re.DOTALL).group(1))
    assert meta["sdk_version"] == space_meta["sdk_version"]
    assert "launch_gradio_widget" not in (METRIC_DIR / "app.py").read_text()
    # The Space installs this release of the kit from the package index, and the module's hint names it.
    from spinemed import __version__
    reqs = (METRIC_DIR / "requirements.txt").read_text()
    assert "evaluate" in reqs and f"\nspinemed=={__version__}\n" in reqs
    assert f"pip install 'spinemed=={__version__}'" in (METRIC_DIR / "spinebench.py").read_text()
    # evaluate's dependency scan reads one import per line.
    source = (METRIC_DIR / "spinebench.py").read_text()
    assert not re.search(r"^import \w+\s*,", source, re.MULTILINE)
