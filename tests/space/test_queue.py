"""The requests queue and `spinemed space worker`: requests, atomic claims, reclaiming, and the worker end to
end with the tiny local model and with a simulated OpenAI-compatible endpoint (judge included)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_fixtures import sample_dirs  # noqa: E402
from tools.simserver import SimServer  # noqa: E402

from spinemed.scoring import DIMENSIONS  # noqa: E402
from spinemed.space.queue import (  # noqa: E402
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    HubRequests,
    QueueError,
    RequestsFolder,
    WorkerConfig,
    claim_next,
    new_request,
    run_worker,
)
from spinemed.space.store import ResultsStore  # noqa: E402


def _responder(body):
    """Answers A to every MCQ, a short report, and the judge's JSON (the judge sends a system turn)."""
    if body["messages"][0]["role"] == "system":
        return json.dumps({d: {"score": 4, "reason": "ok"} for d in DIMENSIONS})
    text = body["messages"][-1]["content"]
    text = text if isinstance(text, str) else " ".join(p.get("text", "") for p in text if p["type"] == "text")
    if "A." in text or "A)" in text:
        return "Answer: A"
    return "## Diagnosis\nLumbar disc herniation at L4-L5."


def _worker(tmp_path, **kw) -> WorkerConfig:
    options = kw.pop("eval_options", {"bootstrap": 0, "max_new_tokens": 4, "batch_size": 8})
    return WorkerConfig(bench=str(sample_dirs()[1]), work_dir=tmp_path / "runs", allow_unregistered=True,
                        eval_options=options, **kw)


def test_requests_are_validated_and_not_duplicated(tmp_path):
    queue = RequestsFolder(tmp_path / "requests")
    req = queue.add(new_request("org/SpineLM-7B", "", params_b=7))
    assert (req["status"], req["revision"], req["spec"], req["attempts"]) == (PENDING, "main", "hf:org/SpineLM-7B@main", 0)
    assert (tmp_path / "requests" / f"{req['id']}_eval_request.json").is_file()
    with pytest.raises(QueueError, match="already in the queue"):
        queue.add(new_request("hf:org/SpineLM-7B@main"))
    queue.add(new_request("org/SpineLM-7B", "v2"))  # another revision is another evaluation
    with pytest.raises(QueueError, match="already in the queue"):
        queue.add(new_request("org/SpineLM-7B@v2"))
    for bad, why in [("", "Hub model id"), ("/etc/passwd", "scheme"), ("hf:/etc", "not a Hub model id"),
                     ("openai:m@http://10.0.0.1/v1", "does not evaluate endpoints"), ("baseline:random", "not accepted"),
                     ("org/m", "revision")]:
        with pytest.raises(QueueError, match=why):
            new_request(bad, "bad rev!" if bad == "org/m" else "")
    endpoint = new_request("openai:sim@http://127.0.0.1:9/v1", allow_endpoints=True)
    assert endpoint["kind"] == "openai" and endpoint["model"] == "sim"
    # A broken file in the folder is reported, the rest still listed.
    (tmp_path / "requests" / "junk_eval_request.json").write_text("{not json", encoding="utf-8")
    found, problems = queue.read_all()
    assert len(found) == 2 and len(problems) == 1 and "junk_eval_request.json" in problems[0]


def test_two_workers_never_claim_one_request(tmp_path):
    queue = RequestsFolder(tmp_path / "requests")
    for i in range(6):
        queue.add(new_request(f"org/m{i}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def work(n):
        cfg = WorkerConfig(bench="unused", work_dir=tmp_path, worker_id=f"w{n}")
        while (got := claim_next(queue, cfg)) is not None:
            with lock:
                claimed.append(got["id"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 6 and len(set(claimed)) == 6
    assert all(r["status"] == RUNNING for r in queue.read_all()[0])


def test_a_killed_workers_request_is_reclaimed_after_the_timeout_then_given_up(tmp_path):
    queue = RequestsFolder(tmp_path / "requests")
    queue.add(new_request("org/m"))
    first = WorkerConfig(bench="unused", work_dir=tmp_path, worker_id="dead", stale_after_s=100, max_attempts=2)
    got = claim_next(queue, first)
    assert got["status"] == RUNNING and got["worker"] == "dead"
    other = WorkerConfig(bench="unused", work_dir=tmp_path, worker_id="alive", stale_after_s=100, max_attempts=2)
    assert claim_next(queue, other) is None  # fresh heartbeat: left alone
    later = time.time() + 101
    again = claim_next(queue, other, now=later)
    assert (again["worker"], again["attempts"]) == ("alive", 2) and "reclaimed from dead" in again["reason"]
    assert claim_next(queue, first, now=later + 101) is None  # third claim: given up instead
    final = queue.read_all()[0][0]
    assert final["status"] == FAILED and "given up after 2 attempts" in final["reason"]


def test_worker_evaluates_an_endpoint_request_with_the_judge_and_posts_the_row(tmp_path):
    from spinemed.space.app import SpaceState
    from spinemed.space.config import SpaceConfig

    queue = RequestsFolder(tmp_path / "requests")
    store = ResultsStore(tmp_path / "results")
    with SimServer(latency_s=0.0, responder=_responder) as sim:
        req = queue.add(new_request(f"openai:sim@{sim.base_url}", name="org/Sim-7B", params_b=7, allow_endpoints=True))
        down = queue.add(new_request("openai:gone@http://127.0.0.1:9/v1", allow_endpoints=True))
        done = run_worker(queue, store, _worker(tmp_path, judge=f"openai:sim@{sim.base_url}"), once=True)
    by_id = {r["id"]: r for r in done}
    assert set(by_id) == {req["id"], down["id"]}
    ok, failed = by_id[req["id"]], by_id[down["id"]]
    assert ok["status"] == FINISHED and ok["submission_id"] == f"queue-{req['id']}", ok["reason"]
    assert failed["status"] == FAILED and failed["reason"] and failed["submission_id"] is None
    stored = {r["id"]: r["status"] for r in queue.read_all()[0]}
    assert stored == {req["id"]: FINISHED, down["id"]: FAILED}

    results = json.loads((tmp_path / "results" / "submissions" / ok["submission_id"] / "results.json").read_text())
    prov = results["provenance"]
    assert prov["source"] == "queue" and prov["model_id"] == "sim" and prov["judge_model"] == "sim"
    assert prov["prompt_version"] == "v1" and len(prov["prompt_hash"]) == 64 and prov["bench_items"] == 22
    assert prov["generation"]["max_new_tokens"] == 4 and prov["judge_prompt_version"] == "v1"
    assert results["scores"]["total"] is not None  # judged: the row has a total
    assert sim.base_url not in json.dumps(results)  # the endpoint's address is not published
    state = SpaceState(SpaceConfig(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache"))
    # the fixture bench is its own edition: the queued row is ranked there, not in the paper's table
    assert "org/Sim-7B" in {r.entry.model for r in state.rows(edition=state.editions()[-1])}


def test_worker_evaluates_the_tiny_local_model(tmp_path):
    pytest.importorskip("transformers")
    from spinemed.models.tiny import build_tiny_qwen25vl

    tiny = build_tiny_qwen25vl(tmp_path / "tiny", seed=0)
    queue = RequestsFolder(tmp_path / "requests")
    with pytest.raises(QueueError, match="not a Hub model id"):
        new_request(f"hf:{tiny}")  # the page never takes a local path
    req = queue.add(new_request(f"hf:{tiny}", name="tiny-local", allow_local=True))
    store = ResultsStore(tmp_path / "results")
    [final] = run_worker(queue, store, _worker(tmp_path), once=True)
    assert final["status"] == FINISHED, final["reason"]
    folder = tmp_path / "results" / "submissions" / final["submission_id"]
    results = json.loads((folder / "results.json").read_text())
    assert results["model"]["backend"] == "transformers" and results["model"]["name"] == "tiny-local"
    assert results["provenance"]["source"] == "queue" and results["provenance"]["judge_model"] is None
    assert results["judge"] is None  # no judge configured: none named in the provenance either
    assert len((folder / "predictions.jsonl").read_text().splitlines()) == 22
    assert req["id"] in final["submission_id"]


class _RacyHub:
    """The HfApi calls HubRequests makes, over one in-memory branch that refuses a stale parent_commit."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.sha = "0" * 40
        self.lock = threading.Lock()
        self.refused = 0

    def create_repo(self, *a, **kw):
        pass

    def repo_info(self, repo_id, *, repo_type=None, **kw):
        return type("Info", (), {"sha": self.sha})()

    def list_repo_files(self, repo_id, *, repo_type=None, revision=None, **kw):
        return sorted(self.files)

    def hf_hub_download(self, repo_id, filename, *, repo_type=None, revision=None, local_dir=None, **kw):
        target = Path(local_dir) / filename
        target.write_bytes(self.files[filename])
        return str(target)

    def create_commit(self, repo_id, *, operations, parent_commit=None, **kw):
        with self.lock:
            if parent_commit != self.sha:
                self.refused += 1
                raise RuntimeError("412 Precondition Failed: the branch moved")
            for op in operations:
                self.files[op.path_in_repo] = op.path_or_fileobj
            self.sha = f"{int(self.sha, 16) + 1:040x}"


def test_hub_requests_claim_with_parent_commit(tmp_path):
    api = _RacyHub()
    queue = HubRequests("org/requests", api=api)
    for i in range(3):
        queue.add(new_request(f"org/m{i}"))
    claimed, lock = [], threading.Lock()

    def work(n):
        cfg = WorkerConfig(bench="unused", work_dir=tmp_path, worker_id=f"w{n}")
        while (got := claim_next(queue, cfg)) is not None:
            with lock:
                claimed.append(got["id"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 3 and len(set(claimed)) == 3
    assert {r["status"] for r in queue.read_all()[0]} == {RUNNING}


def test_the_worker_command_runs_the_queue_once(tmp_path, capsys):
    from spinemed.cli import main as cli_main

    queue = RequestsFolder(tmp_path / "requests")
    with SimServer(latency_s=0.0, responder=_responder) as sim:
        req = queue.add(new_request(f"openai:sim@{sim.base_url}", name="org/Cli-7B", allow_endpoints=True))
        rc = cli_main(["space", "worker", "--bench", str(sample_dirs()[1]), "--allow-unregistered", "--once",
                       "--requests", str(tmp_path / "requests"), "--results", str(tmp_path / "results"),
                       "--work-dir", str(tmp_path / "runs"), "--bootstrap", "0", "--max-new-tokens", "8"])
    err = capsys.readouterr().err
    assert rc == 0 and "1 request(s) processed, 0 failed" in err and f"[{req['id']}] FINISHED" in err
    assert queue.read_all()[0][0]["status"] == FINISHED
    assert rc == 0 and cli_main(["space", "worker", "--once", "--bench", str(sample_dirs()[1]), "--allow-unregistered",
                                 "--requests", str(tmp_path / "requests"), "--results", str(tmp_path / "results")]) == 0


def test_a_stopped_worker_hands_its_request_back_and_a_crash_fails_only_that_request(tmp_path, monkeypatch):
    import spinemed.evaluation.runner as runner
    from spinemed.evaluation.runner import EvalInterrupted

    queue = RequestsFolder(tmp_path / "requests")
    first = queue.add(new_request("org/first"))
    second = queue.add(new_request("org/second"))

    def interrupted(cfg, progress=None):
        raise EvalInterrupted("interrupted after 3 of 22 items")

    monkeypatch.setattr(runner, "run_eval", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_worker(queue, ResultsStore(tmp_path / "results"), _worker(tmp_path), once=True)
    back = {r["id"]: r for r in queue.read_all()[0]}[first["id"]]
    assert (back["status"], back["worker"], back["attempts"]) == (PENDING, None, 0) and "was stopped" in back["reason"]

    def crash(cfg, progress=None):
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(runner, "run_eval", crash)
    done = run_worker(queue, ResultsStore(tmp_path / "results"), _worker(tmp_path), once=True)
    assert [r["status"] for r in done] == [FAILED, FAILED] and {r["id"] for r in done} == {first["id"], second["id"]}
    assert all(r["reason"] == "RuntimeError: CUDA error: device-side assert triggered" for r in done)


def test_the_heartbeat_keeps_a_long_run_from_being_reclaimed(tmp_path, monkeypatch):
    import spinemed.evaluation.runner as runner

    queue = RequestsFolder(tmp_path / "requests")
    queue.add(new_request("org/slow"))
    stolen = []

    def slow(cfg, progress=None):
        other = WorkerConfig(bench="unused", work_dir=tmp_path, worker_id="other", stale_after_s=3.0)
        for _ in range(8):  # 6 s: twice the timeout, but the running worker beats every second
            time.sleep(0.75)
            stolen.append(claim_next(queue, other))
        raise EvalError("stop here")

    from spinemed.evaluation.models import EvalError

    monkeypatch.setattr(runner, "run_eval", slow)
    [done] = run_worker(queue, ResultsStore(tmp_path / "results"), _worker(tmp_path, stale_after_s=3.0), once=True)
    assert stolen == [None] * 8 and done["status"] == FAILED and done["reason"] == "EvalError: stop here"


def test_a_request_whose_results_are_already_stored_ends_finished_without_a_rerun(tmp_path, monkeypatch):
    # The worker stored the row, then died before the request said FINISHED: the reclaimed request must
    # not run again and fail on "already stored" while its row is on the board.
    import spinemed.evaluation.runner as runner

    queue = RequestsFolder(tmp_path / "requests")
    req = queue.add(new_request("org/stored"))
    store = ResultsStore(tmp_path / "results")
    (tmp_path / "results" / "submissions" / f"queue-{req['id']}").mkdir()

    def never(cfg, progress=None):
        raise AssertionError("the stored request was evaluated again")

    monkeypatch.setattr(runner, "run_eval", never)
    [done] = run_worker(queue, store, _worker(tmp_path), once=True)
    assert done["status"] == FINISHED and done["submission_id"] == f"queue-{req['id']}" and "already stored" in done["reason"]


def test_a_failed_status_update_keeps_the_worker_loop_alive(tmp_path, monkeypatch):
    import spinemed.evaluation.runner as runner
    import spinemed.space.queue as queue_mod
    from spinemed.evaluation.models import EvalError

    queue = RequestsFolder(tmp_path / "requests")
    first = queue.add(new_request("org/first"))
    second = queue.add(new_request("org/second"))

    def fails(cfg, progress=None):
        raise EvalError("no")

    real_finish, calls = queue_mod._finish, []

    def flaky_finish(*args, **kwargs):
        calls.append(args[1]["id"])
        if len(calls) == 1:
            raise OSError("requests repo unreachable")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(runner, "run_eval", fails)
    monkeypatch.setattr(queue_mod, "_finish", flaky_finish)
    done = run_worker(queue, ResultsStore(tmp_path / "results"), _worker(tmp_path), once=True)
    assert [r["id"] for r in done] == [second["id"]] and done[0]["status"] == FAILED
    left = {r["id"]: r for r in queue.read_all()[0]}[first["id"]]
    assert left["status"] == RUNNING  # still claimable again once its heartbeat is stale


def test_hub_update_raises_when_the_retries_run_out_and_claims_move_on(tmp_path):
    api = _RacyHub()
    queue = HubRequests("org/requests", api=api, retries=2)
    req = queue.add(new_request("org/busy"))

    def always_moved(repo_id, *, operations, parent_commit=None, **kw):
        raise RuntimeError("412 Precondition Failed: the branch moved")

    api.create_commit = always_moved
    with pytest.raises(QueueError, match="after 2 tries"):
        queue.update(req["id"], lambda r: {**r, "reason": "x"})
    assert queue.update(req["id"], lambda r: None) is None  # nothing to change is still None
    assert claim_next(queue, WorkerConfig(bench="unused", work_dir=tmp_path)) is None  # logged, not raised


def test_urls_are_redacted_from_failure_reasons(tmp_path, monkeypatch):
    import spinemed.evaluation.runner as runner
    from spinemed.evaluation.models import EvalError
    from spinemed.space.queue import redact_urls

    assert redact_urls("Error code: 401 - http://10.0.0.5:8000/v1/chat/completions, https://h.example/v1?k=1 down") \
        == "Error code: 401 - <endpoint>, <endpoint> down"
    assert redact_urls("no address here") == "no address here"

    queue = RequestsFolder(tmp_path / "requests")
    queue.add(new_request("org/secret"))

    def down(cfg, progress=None):
        raise EvalError("Connection error: http://10.0.0.5:8000/v1/chat/completions refused")

    monkeypatch.setattr(runner, "run_eval", down)
    [done] = run_worker(queue, ResultsStore(tmp_path / "results"), _worker(tmp_path), once=True)
    assert done["status"] == FAILED and done["reason"] == "EvalError: Connection error: <endpoint> refused"
    assert "10.0.0.5" not in json.dumps(queue.read_all()[0])


def test_queue_runs_extract_mcq_answers_by_rules_only_like_uploads(tmp_path):
    # One scoring on one board: uploads are rescored by the rules alone, so queue runs must not send
    # unparsed MCQ outputs to the judge's LLM extractor, even when a judge is configured.
    from spinemed.space.queue import _eval_config

    cfg = _worker(tmp_path, judge="openai:judge@http://127.0.0.1:9/v1", eval_options={"llm_extract": True})
    ecfg = _eval_config(new_request("org/m"), cfg)
    assert ecfg.judge_model == "judge" and ecfg.llm_extract is False
