"""Submissions with provenance (revision, prompt version + hash, generation settings, judge), wrong files
recognised with what to upload instead, and model requests from the Space into the queue."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_fixtures import prediction_lines, run_meta, sample_dirs, write_jsonl  # noqa: E402

from spinemed.evaluation.prompts import load_eval_prompts  # noqa: E402
from spinemed.space.bench import SpaceBench  # noqa: E402
from spinemed.space.config import SpaceConfig  # noqa: E402
from spinemed.space.provenance import PROVENANCE_KEYS  # noqa: E402
from spinemed.space.queue import PENDING, RequestsFolder  # noqa: E402
from spinemed.space.queue_ui import QueueFront  # noqa: E402
from spinemed.space.store import ResultsStore  # noqa: E402
from spinemed.space.submissions import identify_wrong_file  # noqa: E402

V1 = load_eval_prompts("v1").sha256


@pytest.fixture(scope="module")
def bench() -> SpaceBench:
    return SpaceBench.load(sample_dirs()[1], allow_unregistered=True)


def _state(tmp_path, bench, **cfg):
    from spinemed.space.app import SpaceState

    config = SpaceConfig(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", bootstrap=0, **cfg)
    return SpaceState(config, bench=bench, store=ResultsStore(config.results_dir))


def _stored(tmp_path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (tmp_path / "results" / "submissions").glob("*/results.json")]


def test_provenance_from_the_runs_meta_file_is_stored_with_the_row(tmp_path, bench):
    state = _state(tmp_path, bench)
    preds = write_jsonl(tmp_path / "predictions.jsonl", prediction_lines(bench))
    meta = run_meta(tmp_path / "predictions.meta.json", bench, revision="2024-08-06")
    message = state.submit(str(preds), "org/SpineLM-7B", 7, "open", "medical", "", str(meta))
    assert message.startswith("### Accepted"), message
    (results,) = _stored(tmp_path)
    prov = results["provenance"]
    assert set(prov) == set(PROVENANCE_KEYS)
    assert prov == {"model_id": "org/model", "model_revision": "2024-08-06", "prompt_version": "v1", "prompt_hash": V1,
                    "generation": {"max_new_tokens": 1024, "temperature": 0.0}, "judge_model": None,
                    "judge_prompt_version": None, "benchmark_version": "v1.0.0", "bench_items": 22, "source": "submission"}
    assert results["prompt"] == {"version": "v1", "hash": V1} and results["model"]["revision"] == "2024-08-06"
    assert results["submission"]["provenance_from"] == "predictions.meta.json"


def test_provenance_typed_into_the_form(tmp_path, bench):
    state = _state(tmp_path, bench)
    preds = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    message = state.submit(str(preds), "org/Typed-7B", None, "open", "general", "abc1234", None, "v1", V1.upper(),
                           "temperature=0, max_new_tokens=512, decoding=greedy")
    assert message.startswith("### Accepted"), message
    (results,) = _stored(tmp_path)
    assert results["provenance"]["generation"] == {"temperature": 0, "max_new_tokens": 512, "decoding": "greedy"}
    assert results["provenance"]["model_revision"] == "abc1234" and results["submission"]["provenance_from"] == "form"


def test_missing_or_inconsistent_provenance_is_refused_and_nothing_stored(tmp_path, bench):
    state = _state(tmp_path, bench)
    preds = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    missing = state.submit(str(preds), "org/m", None, "open", "general").replace("\\", "")
    for field in ("model revision: required", "prompt version: required", "prompt hash: required",
                  "generation settings: required"):
        assert field in missing, field
    assert "predictions.meta.json" in missing
    cases = [
        (dict(revision="r2", meta_file=str(run_meta(tmp_path / "a.json", bench, revision="r1"))), "the form says 'r2'"),
        (dict(meta_file=str(run_meta(tmp_path / "b.json", bench, prompt_hash="0" * 64))), "used modified prompts"),
        (dict(meta_file=str(run_meta(tmp_path / "c.json", bench, benchmark_items_hash="f" * 64))), "other benchmark items"),
        (dict(revision="r1", prompt_version="v1", prompt_hash="xyz", generation="temperature"), "64 hexadecimal"),
        (dict(meta_file=str(write_jsonl(tmp_path / "d.json", [{"no": "fingerprint"}]))), "not a run's predictions.meta.json"),
    ]
    for kwargs, expected in cases:
        message = state.submit(str(preds), "org/m", None, "open", "general", **kwargs)
        assert "nothing was stored" in message and expected in message.replace("\\", ""), (kwargs, message)
    assert _stored(tmp_path) == []


def test_a_results_json_upload_is_recognised_and_answered_with_what_to_upload(tmp_path, bench):
    state = _state(tmp_path, bench)
    preds = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    meta = run_meta(tmp_path / "predictions.meta.json", bench)
    assert state.submit(str(preds), "org/m", None, "open", "general", meta_file=str(meta)).startswith("### Accepted")
    results_file = next((tmp_path / "results" / "submissions").glob("*/results.json"))
    message = state.submit(str(results_file), "org/other", None, "open", "general", meta_file=str(meta))
    message = message.replace("\\", "")
    assert message.startswith("### Wrong file") and "problem(s)" not in message
    assert "results file" in message and "predictions.jsonl" in message and "predictions.meta.json" in message
    # The other files a run writes, and a few that are nothing of the kind.
    judge = {"results": [], "judge_model": "j", "prompt_version": "v1", "prompt_hash": "x"}
    for data, expected in [(meta.read_bytes(), "run metadata"), (json.dumps(judge).encode(), "judge.json"),
                           (json.dumps([{"name": "m", "results": []}]).encode(), "model index"),
                           (json.dumps(prediction_lines(bench)).encode(), "JSON array of predictions"),
                           (b"\x89PNG\r\n\x1a\n....", "an image"), (b"PK\x03\x04rest", "compressed")]:
        assert expected in (identify_wrong_file(data) or ""), expected
    assert identify_wrong_file(preds.read_bytes()) is None  # real predictions pass through
    assert identify_wrong_file(b'{"id": "x", "kind": "text_mcq", "output": "A"}') is None


def test_model_requests_from_the_page_join_the_queue(tmp_path, bench):
    state = _state(tmp_path, bench, requests_dir=tmp_path / "requests")
    front = QueueFront(state)
    assert front.enabled and "Hub model id" in front.intro_md() and "openai:" not in front.intro_md()
    message = front.request("org/SpineLM-7B", "", "", 7, "open", "medical", client="host:a")
    assert message.startswith("### Queued") and "PENDING" in message
    (req,) = RequestsFolder(tmp_path / "requests").read_all()[0]
    assert (req["status"], req["model"], req["revision"], req["params_b"]) == (PENDING, "org/SpineLM-7B", "main", 7.0)
    frame = front.frame()
    assert list(frame["Status"]) == ["PENDING"] and "1 PENDING" in front.summary_md()
    for args, expected in [(("org/SpineLM-7B", "main", "", 7, "open", "medical"), "already in the queue"),
                           (("openai:m@http://10.0.0.1/v1", "", "", 0, "open", "general"), "does not evaluate endpoints"),
                           (("/data/private-model", "", "", 0, "open", "general"), "scheme"),
                           (("org/x", "", "GPT-4o", 0, "open", "general"), "reserved"),
                           (("org/x", "", "", 0, "shared", "general"), "access")]:
        message = front.request(*args, client=f"host:{expected}")
        assert message.startswith("### Request not queued") and expected in message.replace("\\", ""), (args, message)
    assert len(RequestsFolder(tmp_path / "requests").read_all()[0]) == 1
    off = QueueFront(_state(tmp_path / "off", bench))
    assert not off.enabled and "closed" in off.request("org/m", "", "", 0, "open", "general")


def test_the_space_push_carries_the_eval_prompts_the_hash_check_reads():
    from spinemed.space.push import space_files

    names = {name for name, _ in space_files()}
    assert {"builders/spinebench/eval_prompts/v1/mcq.en.md", "builders/spinebench/eval_prompts/v1/report.zh.md"} <= names


def test_results_a_remote_worker_committed_are_fetched_when_the_queue_is_refreshed(tmp_path, bench):
    from test_space_fixtures import FakeHubApi

    from spinemed.space.app import SpaceState

    api = FakeHubApi()
    worker_side = _state(tmp_path / "worker", bench)
    worker_side.store = ResultsStore(tmp_path / "worker" / "results", hub_repo="org/results", api=api)
    preds = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    assert "committed to the Hub" in worker_side.submit(str(preds), "org/m", None, "open", "general",
                                                        meta_file=str(run_meta(tmp_path / "m.json", bench)))
    sid = api.commits[0]["paths"][0].split("/")[1]
    queue = RequestsFolder(tmp_path / "requests")
    queue.add({"id": "m-1", "model": "org/m", "revision": "main", "kind": "hf", "spec": "hf:org/m@main", "name": "org/m",
               "status": "FINISHED", "submitted_time": "2026-01-01T00:00:00Z", "submission_id": sid})
    config = SpaceConfig(results_dir=tmp_path / "space", cache_dir=tmp_path / "cache", requests_dir=tmp_path / "requests")
    space = SpaceState(config, bench=bench, store=ResultsStore(tmp_path / "space", hub_repo="org/results", api=api))
    assert "org/m" not in {r.entry.model for r in space.rows(edition=space.served_edition)}
    assert QueueFront(space).sync_results() == [sid]
    space.reload()
    assert "org/m" in {r.entry.model for r in space.rows(edition=space.served_edition)}
