"""The results JSON schema (validation, loading) and the model-card model-index export."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results
from test_eval_support import sample_bench, sample_corpus, session_dir

from spinemed.evaluation.model_index import results_to_eval_results, results_to_model_index
from spinemed.evaluation.results import (
    RESULTS_SCHEMA_VERSION,
    ResultsError,
    load_results,
    report_status,
    validate_results,
    write_results,
)


@functools.lru_cache(maxsize=1)
def _retrieval_results() -> dict:
    from spinemed.evaluation.runner import EvalConfig, run_eval

    out = session_dir("spinemed-eval-results-")
    run = run_eval(EvalConfig(bench=sample_bench(), model="baseline:retrieval", out=out, corpus=sample_corpus(),
                              allow_unregistered=True, plots=False, bootstrap=200))
    return run.results


@pytest.fixture
def results() -> dict:
    return copy.deepcopy(_retrieval_results())


def _with_judged_reports(results: dict) -> dict:
    """The same run as if a judge had scored every report 4/5 on every dimension (P3 = 80)."""
    from spinemed.scoring import DIMENSIONS

    n = results["counts"]["report"]
    results["report"].update(judged=n, not_judged=0, scored=n, complete=True, no_judge_scores=0,
                             dimensions={d: 4.0 for d in DIMENSIONS}, means_over="judged",
                             sections={k: 80.0 for k in results["report"]["sections"]})
    results["scores"]["report"] = 80.0
    c = results["counts"]
    results["scores"]["total"] = (results["scores"]["closed_qa"] * c["closed_qa"] + 80.0 * n) / c["total"]
    results["report_status"] = "judged"
    results["judge"] = {"judge_model": "judge-x", "prompt_version": "v1", "prompt_hash": "0" * 64}
    results["ci"] = None
    results["breakdowns"] = {}
    return results


def test_real_run_is_valid_and_round_trips(results, tmp_path):
    assert validate_results(results) == []
    assert results["schema_version"] == RESULTS_SCHEMA_VERSION
    assert results["report_status"] == "not_judged" and results["scores"]["report"] is None
    path = write_results(results, tmp_path / "r.json")
    assert load_results(path) == json.loads(json.dumps(results))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("model"), "model: missing"),
        (lambda r: r.update(schema_version="2.0"), "schema_version"),
        (lambda r: r["scores"].update(text_mcq=101.0), "scores.text_mcq: expected a number in 0-100"),
        (lambda r: r["scores"].update(closed_qa=12.5), "scores.closed_qa: 12.5 is not the count-weighted mean"),
        (lambda r: r["counts"].update(total=999), "counts.total"),
        (lambda r: r["model"].update(backend="pytorch"), "model.backend"),
        (lambda r: r["benchmark"].update(items=3), "benchmark.items"),
        (lambda r: r.update(report_status="judged"), "report_status"),
        (lambda r: r["errors"].update(count=2), "errors.count"),
        (lambda r: r["run"].update(date="yesterday"), "run.date"),
        (lambda r: r["answers"]["text_mcq"].update(answered=0), "answers.text_mcq"),
        (lambda r: r["breakdowns"]["language"]["en"]["scores"].update(text_mcq=None), "breakdowns.language.en.scores.text_mcq"),
        (lambda r: r["ci"]["intervals"].update(text_mcq=[80.0, 20.0]), "ci.intervals.text_mcq"),
        (lambda r: r["report"]["dimensions"].update(diagnosis=1.0), "report.dimensions: no report was judged"),
        (lambda r: r["report"].update(means_over="judged"), "report.means_over: 'judged' but"),
    ],
)
def test_invalid_results_are_reported_with_the_field(results, mutate, message):
    mutate(results)
    problems = validate_results(results)
    assert problems and any(message in p for p in problems), problems


def test_docs_schema_table_names_every_top_level_key(results):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "eval.md").read_text(encoding="utf-8")
    documented = {key for line in doc.splitlines() if line.startswith("| `")
                  for key in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    assert set(results) - documented == set()


def test_total_must_follow_from_components(results):
    results = _with_judged_reports(results)
    assert validate_results(results) == []
    results["scores"]["total"] += 1.0
    assert any("scores.total" in p and "count-weighted" in p for p in validate_results(results))


def test_judged_reports_need_the_judge_named(results):
    results = _with_judged_reports(results)
    results["judge"] = None
    assert any(p.startswith("judge:") for p in validate_results(results))


def test_load_results_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="(?s)bad.json: not a valid SpineBench results file.*not valid JSON"):
        load_results(bad)
    bad.write_text(json.dumps({"schema_version": "1.0"}), encoding="utf-8")
    with pytest.raises(ResultsError) as info:
        load_results(bad)
    assert "model: missing" in info.value.problems
    with pytest.raises(ResultsError, match="cannot read"):
        load_results(tmp_path / "absent.json")


def test_write_results_refuses_an_invalid_payload(results, tmp_path):
    results["scores"]["text_mcq"] = -1
    with pytest.raises(ResultsError):
        write_results(results, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_report_status():
    assert report_status({"judged": 0}, 0) == "no_items"
    assert report_status({"judged": 0}, 5) == "not_judged"
    assert report_status({"judged": 3}, 5) == "partially_judged"
    assert report_status({"judged": 5}, 5) == "judged"


# --------------------------------------------------------------------------------------
# model-index
# --------------------------------------------------------------------------------------


def test_model_index_leaves_out_scores_that_were_not_computed(results):
    index = results_to_model_index(results)
    name, evals = model_index_to_eval_results(index)
    assert name == results["model"]["name"]
    by_name = {e.metric_name: e for e in evals}
    assert by_name["Text MCQ accuracy (P1, %)"].metric_value == round(results["scores"]["text_mcq"], 2)
    assert by_name["Closed QA accuracy (%)"].metric_value == round(results["scores"]["closed_qa"], 2)
    assert not any("P3" in n or "total" in n.lower() for n in by_name)  # reports not judged: omitted, not 0
    e = evals[0]
    assert (e.task_type, e.dataset_split, e.dataset_revision) == ("image-text-to-text", "test", "v1.0.0")
    assert e.dataset_name == "SpineBench (unregistered build)"


def test_model_index_with_judged_reports_goes_into_a_model_card(results):
    results = _with_judged_reports(results)
    evals = results_to_eval_results(results)
    values = {e.metric_name: e.metric_value for e in evals}
    assert values["Report score (P3, LLM judge, %)"] == 80.0
    assert values["SpineBench total (%)"] == round(results["scores"]["total"], 2)
    assert next(e for e in evals if e.metric_type == "spinebench_report").metric_args["judge"] == "judge-x"
    card = ModelCardData(model_name="my-vlm", eval_results=evals, license="apache-2.0")
    meta = card.to_dict()
    assert meta["model-index"][0]["results"][0]["dataset"]["name"] == "SpineBench (unregistered build)"
    assert len(meta["model-index"][0]["results"][0]["metrics"]) == len(evals)


def test_model_index_refuses_partial_runs(results):
    results["benchmark"]["complete"] = False
    with pytest.raises(ValueError, match="subset"):
        results_to_model_index(results)
    assert results_to_model_index(results, allow_partial=True)
