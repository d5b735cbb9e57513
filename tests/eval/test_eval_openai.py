"""The OpenAI-compatible path against the simulated server: concurrency, resume, faults, judge."""

from __future__ import annotations

import json
import signal
import threading

import pytest
from test_eval_support import sample_bench
from tools.simserver import SimHTTPError, SimServer

from spinemed.cli import main as cli_main
from spinemed.evaluation.benchmark import load_benchmark
from spinemed.evaluation.models import EvalError
from spinemed.evaluation.predictions import PredictionWriter, read_predictions
from spinemed.evaluation.runner import EvalConfig, EvalInterrupted, format_results, run_eval
from spinemed.llm.cache import RequestCache
from spinemed.scoring import DIMENSIONS

N_ITEMS = 15


def _text(body) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content if p["type"] == "text")


class Model:
    """A scripted model: right on text MCQ, wrong on image MCQ, a fixed report; overridable per item."""

    def __init__(self):
        bench = load_benchmark(sample_bench(), allow_unregistered=True)
        self.items = bench.items
        self.lock = threading.Lock()
        self.image_parts: list[list[str]] = []
        self.fail: set[str] = set()  # item ids answered with HTTP 503
        self.empty: set[str] = set()  # item ids answered with ""
        self.judge_scores = {d: 4 for d in DIMENSIONS}

    def item_for(self, body):
        text = _text(body)
        for item in self.items:
            if item["kind"] == "report":
                markers = [item["case"][:80]]
            else:  # several image items share a question stem; the options tell them apart
                markers = [item["question"], *(f"{o['label']}. {o['text']}" for o in item["options"])]
            if all(m in text for m in markers):
                return item
        raise AssertionError(f"no bench item in prompt {text[:120]!r}")

    def __call__(self, body):
        if body["messages"][0]["role"] == "system":  # the report judge
            return json.dumps({d: {"score": s, "reason": "ok"} for d, s in self.judge_scores.items()})
        item = self.item_for(body)
        content = body["messages"][-1]["content"]
        with self.lock:
            if isinstance(content, list):
                self.image_parts.append([p["image_url"]["url"][:15] for p in content if p["type"] == "image_url"])
        if item["id"] in self.fail:
            raise SimHTTPError(503, "overloaded")
        if item["id"] in self.empty:
            return ""
        if item["kind"] == "report":
            return "## Diagnosis\nDisc herniation at L4-L5 with S1 radiculopathy."
        letters = [o["label"] for o in item["options"]]
        answer = item["answer"] if item["kind"] == "text_mcq" else next(x for x in letters if x not in item["answer"])
        return f"The findings point to option {answer}.\nAnswer: {answer}"

    def ids(self, kind):
        return [i["id"] for i in self.items if i["kind"] == kind]


def _cfg(out, server, **kw) -> EvalConfig:
    kw.setdefault("allow_unregistered", True)
    kw.setdefault("plots", False)
    kw.setdefault("bootstrap", 0)
    kw.setdefault("backoff_s", 0.01)
    return EvalConfig(bench=sample_bench(), model=f"openai:sim@{server.base_url}", out=out, **kw)


def test_endpoint_run_scores_with_bounded_concurrency(tmp_path):
    model = Model()
    with SimServer(latency_s=0.05, max_concurrency=8, responder=model) as server:
        run = run_eval(_cfg(tmp_path, server, concurrency=3, max_new_tokens=256))
        assert server.requests == N_ITEMS and server.in_flight_peak <= 3
    r = run.results
    assert r["scores"]["text_mcq"] == 100.0 and r["scores"]["image_mcq"] == 0.0
    assert r["answers"]["image_mcq"]["answered"] == 4 and r["errors"]["count"] == 0
    assert r["run"]["concurrency"] == 3 and r["run"]["requests"]["requests_sent"] == N_ITEMS
    assert r["model"]["id"] == "sim" and r["model"]["details"]["served_model"] == "sim"
    # Images travel as data URLs, before the text; text items send a plain string.
    # (one image part per image of each image item: a DICOM study item carries several slices)
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    assert sorted(len(parts) for parts in model.image_parts) == sorted(
        int(i["n_images"]) for i in bench.items if i["kind"] == "image_mcq")
    assert all(url.startswith("data:image/") for parts in model.image_parts for url in parts)
    preds = read_predictions(run.predictions_path)
    assert all(p["latency_s"] > 0 and p["attempts"] == 1 and not p["cached"] for p in preds.values())
    # Level-aware scoring of the reports runs even without a judge.
    assert r["levels"]["items"] == 3 and r["report_status"] == "not_judged"


def test_interrupted_run_resumes_without_repeating_a_request(tmp_path, monkeypatch):
    model = Model()
    original = PredictionWriter.write
    calls = {"n": 0}

    def interrupt_after_four(self, record):
        calls["n"] += 1
        if calls["n"] == 5:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of the run
            return
        original(self, record)

    with SimServer(latency_s=0.05, max_concurrency=8, responder=model) as server:
        monkeypatch.setattr(PredictionWriter, "write", interrupt_after_four)
        with pytest.raises(EvalInterrupted, match="Rerun the same command to resume"):
            run_eval(_cfg(tmp_path, server, concurrency=4))
        monkeypatch.setattr(PredictionWriter, "write", original)
        first = server.requests
        written = len(read_predictions(tmp_path / "predictions.jsonl"))
        with RequestCache(tmp_path / "cache" / "requests.sqlite") as cache:
            answered = len(cache)  # every answer received, written to predictions or not
        assert written == 4 and answered >= written and first < N_ITEMS

        run = run_eval(_cfg(tmp_path, server, concurrency=4))
        resumed_requests = server.requests - first
    assert resumed_requests == N_ITEMS - answered  # nothing that had an answer was sent again
    stats = run.results["run"]
    assert stats["resumed_items"] == written and stats["requests"]["cache_hits"] == answered - written
    assert run.results["scores"]["text_mcq"] == 100.0 and len(read_predictions(run.predictions_path)) == N_ITEMS


def test_endpoint_errors_are_retried_recorded_and_retried_on_rerun(tmp_path):
    model = Model()
    failing = model.ids("text_mcq")[:1] + model.ids("report")[:1]
    model.fail = set(failing)
    with SimServer(latency_s=0.01, max_concurrency=8, responder=model) as server:
        run = run_eval(_cfg(tmp_path, server, retries=2))
        assert server.requests == N_ITEMS - 2 + 2 * 3  # 1 try + 2 retries for each failing item
        r = run.results
        assert r["errors"]["count"] == 2 and {e["id"] for e in r["errors"]["items"]} == set(failing)
        assert all("HTTP 503" in e["error"] and "3 attempt" in e["error"] for e in r["errors"]["items"])
        assert r["answers"]["text_mcq"]["missing"] == 1 and r["scores"]["text_mcq"] == 7 / 8 * 100
        assert r["report"]["missing_outputs"] == 1
        assert any("failed after all retries" in w for w in r["warnings"])
        preds = read_predictions(run.predictions_path)
        assert all(preds[i]["status"] == "error" and preds[i]["output"] is None for i in failing)

        model.fail = set()  # the endpoint recovers: a rerun asks only for the failed items
        before = server.requests
        rerun = run_eval(_cfg(tmp_path, server, retries=2))
        assert server.requests - before == 2
    assert rerun.results["errors"]["count"] == 0 and rerun.results["scores"]["text_mcq"] == 100.0


def test_timeouts_are_retried_then_recorded(tmp_path):
    with SimServer(latency_s=0.5, max_concurrency=8, responder=Model()) as server:
        run = run_eval(_cfg(tmp_path, server, limit=1, timeout_s=0.1, retries=1, concurrency=3))
        assert server.requests == 3 * 2
    errors = run.results["errors"]
    assert errors["count"] == 3 and all("timed out" in e["error"] for e in errors["items"])


def test_empty_answers_are_unanswered_and_listed(tmp_path):
    model = Model()
    model.empty = {model.ids("image_mcq")[0], model.ids("report")[0]}
    with SimServer(latency_s=0.01, max_concurrency=8, responder=model) as server:
        run = run_eval(_cfg(tmp_path, server))
    r = run.results
    assert {u["id"] for u in r["unanswered"]} == model.empty
    assert r["answers"]["image_mcq"]["empty"] == 1 and r["errors"]["count"] == 0
    preds = read_predictions(run.predictions_path)
    assert [preds[i]["status"] for i in sorted(model.empty)] == sorted(["empty", "empty"])
    assert any("empty answer" in w for w in r["warnings"])


def test_endpoint_problems_are_errors_before_any_work(tmp_path):
    with pytest.raises(EvalError, match="not reachable"):
        run_eval(EvalConfig(bench=sample_bench(), model="openai:sim@http://127.0.0.1:9/v1", out=tmp_path / "a",
                            allow_unregistered=True, timeout_s=2))
    with SimServer(responder=Model(), api_key="secret") as server:
        with pytest.raises(EvalError, match="does not serve model 'gpt-x'.*sim"):
            run_eval(EvalConfig(bench=sample_bench(), model=f"openai:gpt-x@{server.base_url}", out=tmp_path / "b",
                                allow_unregistered=True, api_key="secret"))
        assert server.requests == 0
        # A server that lists models without a key (unlike vLLM) refuses at the first request: the run stops
        # there instead of recording every item as an error.
        with pytest.raises(EvalError, match="refused the API key.*HTTP 401"):
            run_eval(_cfg(tmp_path / "c", server, api_key="wrong"))
    assert not any((tmp_path / d / "predictions.jsonl").exists() and (tmp_path / d / "predictions.jsonl").read_text()
                   for d in "abc")


def test_reports_are_judged_when_a_judge_is_configured(tmp_path):
    model = Model()
    model.judge_scores = {**{d: 4 for d in DIMENSIONS}, "diagnosis": 2}  # sections 80, 40, 80, 80, 80 -> P3 = 72
    with SimServer(latency_s=0.01, max_concurrency=8, responder=model) as server:
        cfg = _cfg(tmp_path, server, judge_model="sim", judge_urls=[server.base_url], plots=True)
        run = run_eval(cfg)
        assert server.requests == N_ITEMS + 3
        again = run_eval(cfg)  # everything, judgements included, comes from the predictions and the cache
        assert server.requests == N_ITEMS + 3
    r = run.results
    assert r["report_status"] == "judged" and r["scores"]["report"] == pytest.approx(72.0)
    assert r["report"]["dimensions"]["diagnosis"] == 2.0 and r["report"]["sections"]["diagnosis"] == pytest.approx(40.0)
    assert r["scores"]["total"] == pytest.approx((12 * r["scores"]["closed_qa"] + 3 * 72.0) / 15)
    assert r["judge"]["judge_model"] == "sim" and r["judge"]["prompt_version"] == "v1" and len(r["judge"]["prompt_hash"]) == 64
    assert r["files"]["judge"] == "judge.json" and (tmp_path / "judge.json").is_file()
    assert r["report"]["means_over"] == "judged"
    files_line = next(line for line in format_results(r, tmp_path).splitlines() if "files in" in line)
    assert files_line.endswith(": results.json, predictions.jsonl, samples.jsonl, judge.json, plots/report_dimensions.png, "
                               "plots/accuracy_by_subfield.png, plots/accuracy_by_modality.png")
    assert again.results["scores"] == r["scores"] and again.results["run"]["judge_requests"]["requests_sent"] == 0
    assert not any("not judged" in w for w in r["warnings"])
    # the per-item table carries each report's judge scores
    reports = [row for row in _samples(tmp_path) if row["kind"] == "report"]
    assert len(reports) == 3 and all(row["status"] == "judged" and row["score"] == pytest.approx(72.0) for row in reports)
    assert all(row["dimensions"]["diagnosis"] == 2 and row["sections"]["diagnosis"] == pytest.approx(40.0) for row in reports)


def _samples(out):
    return [json.loads(line) for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def test_predictions_and_samples_record_each_item_answer_reference_and_correctness(tmp_path, capsys):
    """Error analysis without a rescore: each MCQ line says what was extracted, the reference and
    whether they match; samples.jsonl joins prompt, output and the scorer's item record, in order."""
    model = Model()
    failed = model.ids("text_mcq")[0]
    model.fail = {failed}
    with SimServer(latency_s=0.0, max_concurrency=8, responder=model) as server:
        run = run_eval(_cfg(tmp_path, server, retries=0))
    preds = read_predictions(run.predictions_path)
    items = {i["id"]: i for i in model.items}
    for item_id, p in preds.items():
        item = items[item_id]
        if item["kind"] == "report":
            assert p["reference"] is None and p["correct"] is None
            continue
        assert p["reference"] == item["answer"]
        if item_id == failed:  # no answer: scored wrong, the reference still recorded
            assert p["status"] == "error" and p["extracted"] is None and p["correct"] is False
        else:  # the scripted model is right on text MCQ, wrong on image MCQ
            assert p["correct"] is (item["kind"] == "text_mcq") and (p["extracted"] == p["reference"]) is p["correct"]
    answers = run.results["answers"]
    assert sum(p["correct"] is True for p in preds.values()) == answers["text_mcq"]["correct"] + answers["image_mcq"]["correct"]

    rows = _samples(tmp_path)
    assert [r["id"] for r in rows] == [i["id"] for i in model.items] and [r["index"] for r in rows] == list(range(N_ITEMS))
    for row in rows:
        p = preds[row["id"]]
        assert row["output"] == p["output"] and row["prompt"].strip()
        assert row["n_images"] >= 1 if row["kind"] == "image_mcq" else row["kind"] == "report" or row["n_images"] == 0
        if row["kind"] != "report":
            assert (row["extracted"], row["reference"], row["correct"]) == (p["extracted"], p["reference"], p["correct"])
            assert row["score"] == (100.0 if row["correct"] else 0.0)
        else:
            assert row["status"] == "not_judged" and row["levels"]["reference"]
    failed_row = next(r for r in rows if r["id"] == failed)
    assert failed_row["status"] == "missing" and "503" in failed_row["request_error"]
    assert "samples.jsonl" in run.summary() and str(tmp_path / "samples.jsonl") in run.summary()

    # A resumed run (the failed item retried) rewrites the table whole, the records still complete.
    model.fail = set()
    with SimServer(latency_s=0.0, max_concurrency=8, responder=model) as server:
        again = run_eval(_cfg(tmp_path, server))
    assert again.results["run"]["resumed_items"] == N_ITEMS - 1
    fixed = next(r for r in _samples(tmp_path) if r["id"] == failed)
    assert fixed["correct"] is True and fixed["request_error"] is None and len(_samples(tmp_path)) == N_ITEMS


def test_floor_scored_reports_are_not_reported_as_judge_means(tmp_path):
    """An empty report output is scored at the floor; with no judge, the results must not show the floor as
    per-dimension judge means (nothing was judged)."""
    model = Model()
    model.empty = {model.ids("report")[0]}
    with SimServer(latency_s=0.01, max_concurrency=8, responder=model) as server:
        r = run_eval(_cfg(tmp_path, server, plots=True)).results
    rep = r["report"]
    assert r["report_status"] == "not_judged" and r["scores"]["report"] is None
    assert (rep["judged"], rep["floor_scored"], rep["scored"]) == (0, 1, 1)
    assert set(rep["dimensions"].values()) == {None} and set(rep["sections"].values()) == {None}
    assert rep["means_over"] == "none"
    assert rep["scored_mean"] is not None  # the floor score is still there, under its own name
    for by_value in r["breakdowns"].values():
        assert all(set(b["report"]["dimensions"].values()) == {None} for b in by_value.values())
    assert (tmp_path / "plots" / "report_dimensions.png").is_file()


def test_cli_records_the_command_without_the_api_key(tmp_path, capsys):
    with SimServer(latency_s=0.01, responder=Model(), api_key="sk-secret") as server:
        code = cli_main(["eval", "--bench", str(sample_bench()), "--model", f"openai:sim@{server.base_url}",
                         "--out", str(tmp_path), "--allow-unregistered", "--api-key", "sk-secret", "--limit", "1",
                         "--no-plots", "--concurrency", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "text MCQ  (P1)  100.00" in printed and "subset" in printed
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    command = results["run"]["command"]
    assert "sk-secret" not in json.dumps(results) and command[command.index("--api-key") + 1] == "***"
    assert command[:2] == ["spinemed", "eval"] and "--limit" in command and "--allow-unregistered" in command
