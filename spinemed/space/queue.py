"""The evaluation requests queue, as in the Hub leaderboard template (a requests dataset of
``eval_request`` JSON files read by a backend), and the worker that empties it.

A visitor asks for a model to be evaluated (a Hub model id + revision, or, where the operator
allows it, an OpenAI-compatible endpoint spec); that creates one ``<id>_eval_request.json`` with
status ``PENDING`` in the requests folder.  ``spinemed space worker`` takes pending requests, runs
the evaluation with :func:`spinemed.evaluation.runner.run_eval` (what ``spinemed eval`` runs) and
the report judge when configured, stores the results where the Space reads submissions
(:class:`spinemed.space.store.ResultsStore`), and moves the request on::

    PENDING -> RUNNING -> FINISHED            (results stored; ``submission_id`` names them)
                       -> FAILED              (``reason`` says why; nothing stored)
    RUNNING, no heartbeat for ``stale_after_s`` -> claimed again by the next worker
                                                   (FAILED after ``max_attempts`` claims)

Claims are atomic: a local folder updates every request under an exclusive ``flock`` on
``<root>/.queue.lock`` (so two worker processes on one machine never both claim one request); a
Hub dataset repo commits with ``parent_commit`` set to the revision that was read, so of two
workers racing for a request only the first commit lands and the other re-reads.  The two stores
have one interface (:class:`RequestsFolder`, :class:`HubRequests`); the Hub one goes through
``huggingface_hub.HfApi``, which reads ``HF_ENDPOINT`` and ``HF_TOKEN`` like every Hub flow here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinemed.evaluation import runner as eval_runner  # run_eval through the module: tests replace it
from spinemed.evaluation.models import EvalError
from spinemed.evaluation.predictions import PREDICTION_FIELDS, PredictionsError, read_predictions
from spinemed.evaluation.results import validate_results
from spinemed.evaluation.runner import EvalConfig, EvalInterrupted
from spinemed.fileio import atomic_write_json
from spinemed.models.spec import ModelError, parse_model_spec

from .provenance import provenance_from_results
from .safety import validate_model_name
from .store import SUBMISSIONS, ResultsStore
from .submissions import predictions_digest

__all__ = [
    "FAILED",
    "FINISHED",
    "PENDING",
    "RUNNING",
    "STATUSES",
    "HubRequests",
    "QueueError",
    "RequestsFolder",
    "WorkerConfig",
    "claim_next",
    "new_request",
    "open_requests",
    "process_request",
    "queue_rows",
    "redact_urls",
    "run_worker",
]

log = logging.getLogger(__name__)

PENDING, RUNNING, FINISHED, FAILED = "PENDING", "RUNNING", "FINISHED", "FAILED"
STATUSES = (PENDING, RUNNING, FINISHED, FAILED)
REQUEST_SUFFIX = "_eval_request.json"
QUEUE_FORMAT = 1
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/+]{0,63}$")


class QueueError(ValueError):
    """A request that cannot be queued (the message says why)."""


def _now(precise: bool = False) -> str:
    # Heartbeats in milliseconds: whether a run is stale must not depend on where in a second it beat.
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds" if precise else "seconds").replace("+00:00", "Z")


def _epoch(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


_URL = re.compile(r"https?://[^\s'\"<>()\[\]{},]+", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """`text` with every http(s) URL replaced by ``<endpoint>``: a FAILED request's reason is shown
    on the page, and client errors (OpenAI's among them) start with the endpoint they called."""
    return _URL.sub("<endpoint>", str(text))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:48].strip("-") or "model"


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------


def new_request(model: str, revision: str = "", *, name: str = "", params_b: float | None = None, access: str = "open",
                domain: str = "general", allow_endpoints: bool = False, allow_local: bool = False) -> dict[str, Any]:
    """A PENDING request for `model`: a Hub model id (``ORG/NAME`` or ``hf:ORG/NAME``), or an
    ``openai:MODEL@URL`` endpoint spec when `allow_endpoints`.  `allow_local` (the operator's own
    CLI and the tests, never the page) also takes ``hf:`` paths to local folders.

    Raises QueueError naming what is wrong.  The revision defaults to ``main``; the worker records
    the commit it actually evaluated.
    """
    # Form values are text; anything else (a script over the API) is treated as empty.
    text, revision, name = (v.strip() if isinstance(v, str) else "" for v in (model, revision, name))
    if not text:
        raise QueueError("model: enter a Hub model id (ORG/NAME)" + (" or an openai:MODEL@URL endpoint" if allow_endpoints else ""))
    if ":" not in text and _HUB_ID.match(text.partition("@")[0]):  # ORG/NAME or ORG/NAME@REV
        text = f"hf:{text}"
    try:
        spec = parse_model_spec(text, kinds=("hf", "openai"), what="model")
    except ValueError as exc:
        raise QueueError(str(exc)) from None
    rev = (revision or "").strip()
    if rev and not _REVISION.match(rev):
        raise QueueError("revision: at most 64 characters of letters, digits and . _ - / + (a branch, tag or commit)")
    if spec.kind == "openai":
        if not allow_endpoints:
            raise QueueError("this Space does not evaluate endpoints: enter a Hub model id (ORG/NAME)")
        model_id, rev = spec.model, rev or "unknown (endpoint)"
    else:
        local = not _HUB_ID.match(spec.model)
        if local and not (allow_local and Path(spec.model).expanduser().is_dir()):
            raise QueueError(f"model: {spec.model[:100]!r} is not a Hub model id (ORG/NAME)")
        if spec.revision and rev and spec.revision != rev:
            raise QueueError(f"revision: the model spec says @{spec.revision} and the revision field {rev!r}")
        model_id, rev = spec.model, spec.revision or rev or ("local" if local else "main")
    try:
        clean_name = validate_model_name(name or model_id)
    except ValueError as exc:
        raise QueueError(str(exc)) from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    rid = f"{_slug(model_id.rpartition('/')[2])}-{stamp}-{uuid.uuid4().hex[:6]}"
    # The endpoint's URLs stay in the request (the worker needs them) but never reach the leaderboard.
    run_spec = spec.text if spec.kind == "openai" else f"hf:{model_id}" + (f"@{rev}" if rev not in ("local",) else "")
    return {
        "queue_format": QUEUE_FORMAT, "id": rid, "model": model_id, "revision": rev, "kind": spec.kind, "spec": run_spec,
        "name": clean_name, "params_b": params_b, "access": access, "domain": domain,
        "status": PENDING, "submitted_time": _now(), "started_time": None, "finished_time": None, "heartbeat_time": None,
        "worker": None, "attempts": 0, "reason": "", "submission_id": None,
    }


def request_key(request: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two requests the same evaluation (endpoint URLs left out: the same model moved)."""
    return (str(request.get("kind")), str(request.get("model")), str(request.get("revision")))


class RequestsFolder:
    """Requests as files in a local folder; every change under an exclusive lock (``flock``)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.where = str(self.root)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX (Spaces, workers); imported here so the module loads anywhere

        with open(self.root / ".queue.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @staticmethod
    def _name(rid: str) -> str:
        if not rid or "/" in rid or "\\" in rid or rid.startswith("."):
            raise QueueError(f"invalid request id {rid!r}")
        return f"{rid}{REQUEST_SUFFIX}"

    def _path(self, rid: str) -> Path:
        return self.root / self._name(rid)

    def read_all(self) -> tuple[list[dict[str, Any]], list[str]]:
        """(requests, problems): every readable request; unreadable files named in the problems."""
        found, problems = [], []
        for path in sorted(self.root.glob(f"*{REQUEST_SUFFIX}")):
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(f"{path.name}: not readable JSON ({exc})")
                continue
            if not isinstance(obj, dict) or obj.get("status") not in STATUSES or not obj.get("id"):
                problems.append(f"{path.name}: not an eval request (no id or a status other than {', '.join(STATUSES)})")
                continue
            found.append(obj)
        return found, problems

    def add(self, request: Mapping[str, Any], *, unique: bool = True) -> dict[str, Any]:
        """Store a new request; with `unique`, refuse one whose evaluation is already queued, running or done."""
        with self._locked():
            if unique:
                self._check_unique(request, self.read_all()[0])
            atomic_write_json(self._path(request["id"]), dict(request), indent=2)
        return dict(request)

    def update(self, rid: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Read-modify-write one request atomically: `change` gets the current request and returns
        the new one, or None to leave it.  Returns what was written (None: nothing)."""
        with self._locked():
            path = self._path(rid)
            try:
                current = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            new = change(dict(current))
            if new is None:
                return None
            atomic_write_json(path, new, indent=2)
            return new

    @staticmethod
    def _check_unique(request: Mapping[str, Any], existing: list[dict[str, Any]]) -> None:
        for other in existing:
            if request_key(other) == request_key(request) and other.get("status") != FAILED:
                raise QueueError(f"{request['model']} at revision {request['revision']} is already in the queue "
                                 f"({other['status']}, request {other['id']})")


class HubRequests(RequestsFolder):
    """Requests as files in a Hub dataset repo (``huggingface_hub.HfApi``; ``HF_ENDPOINT``, ``HF_TOKEN``).

    Each change is one commit made with ``parent_commit`` = the revision the request was read at,
    so a concurrent change makes it fail and the change is retried on the new state.
    `api`: a ``HfApi`` or anything with ``create_repo``, ``repo_info``, ``list_repo_files``,
    ``hf_hub_download`` and ``create_commit``.
    """

    def __init__(self, repo_id: str, *, api: Any = None, token: str | None = None, private: bool = True, retries: int = 5):
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
        self.api, self.repo_id, self.retries = api, repo_id, retries
        self.where = f"Hub dataset {repo_id}"
        self.api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)

    def _snapshot(self) -> tuple[str | None, list[str]]:
        sha = getattr(self.api.repo_info(self.repo_id, repo_type="dataset"), "sha", None)
        files = self.api.list_repo_files(self.repo_id, repo_type="dataset", revision=sha)
        return sha, sorted(f for f in files if f.endswith(REQUEST_SUFFIX) and "/" not in f)

    def _read(self, name: str, sha: str | None) -> Any:
        with tempfile.TemporaryDirectory(prefix="spinemed-requests-") as tmp:
            got = self.api.hf_hub_download(self.repo_id, name, repo_type="dataset", revision=sha, local_dir=tmp)
            return json.loads(Path(got).read_text(encoding="utf-8"))

    def read_all(self) -> tuple[list[dict[str, Any]], list[str]]:
        sha, names = self._snapshot()
        found, problems = [], []
        for name in names:
            try:
                obj = self._read(name, sha)
            except (OSError, ValueError) as exc:
                problems.append(f"{name}: not readable JSON ({exc})")
                continue
            if isinstance(obj, dict) and obj.get("status") in STATUSES and obj.get("id"):
                found.append(obj)
            else:
                problems.append(f"{name}: not an eval request")
        return found, problems

    def _commit(self, name: str, obj: Mapping[str, Any], sha: str | None, message: str) -> bool:
        from huggingface_hub import CommitOperationAdd

        data = (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        try:
            self.api.create_commit(self.repo_id, repo_type="dataset", commit_message=message, parent_commit=sha,
                                   operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=data)])
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (409, 412) or "412" in str(exc) or "parent" in str(exc).lower():
                log.info("commit to %s not applied (another change came first); re-reading", self.repo_id)
                return False  # a concurrent commit moved the branch: re-read and retry
            raise  # auth, network: the caller must know the change was not made
        return True

    def add(self, request: Mapping[str, Any], *, unique: bool = True) -> dict[str, Any]:
        name = self._name(request["id"])
        for _ in range(self.retries):
            sha, _names = self._snapshot()
            if unique:
                self._check_unique(request, self.read_all()[0])
            if self._commit(name, request, sha, f"Add eval request {request['id']}"):
                return dict(request)
        raise QueueError(f"could not add the request to {self.repo_id} after {self.retries} tries (busy repo)")

    def update(self, rid: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        name = self._name(rid)
        for _ in range(self.retries):
            sha, names = self._snapshot()
            if name not in names:
                return None
            new = change(dict(self._read(name, sha)))
            if new is None:
                return None
            if self._commit(name, new, sha, f"Eval request {rid}: {new.get('status')}"):
                return new
        # Not None ("nothing to change"): the caller must know its change was not made.
        raise QueueError(f"could not update request {rid} in {self.repo_id} after {self.retries} tries (busy repo)")


def open_requests(path: str | os.PathLike | None = None, repo: str | None = None, *, api: Any = None,
                  token: str | None = None) -> RequestsFolder:
    """The requests store: a Hub dataset repo when `repo` is given, else the local folder `path`."""
    if repo:
        return HubRequests(repo, api=api, token=token)
    return RequestsFolder(path or "space_requests")


def queue_rows(requests: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows for the page's queue table, newest first: status, model, revision, name, submitted, reason."""
    order = sorted(requests, key=lambda r: str(r.get("submitted_time") or ""), reverse=True)
    return [[r.get("status"), r.get("model"), r.get("revision"), r.get("name"), r.get("submitted_time"),
             r.get("finished_time") or r.get("started_time") or "", r.get("reason") or ""] for r in order]


QUEUE_HEADERS = ["Status", "Model", "Revision", "Leaderboard name", "Submitted", "Updated", "Reason"]


# --------------------------------------------------------------------------------------
# The worker
# --------------------------------------------------------------------------------------


@dataclass
class WorkerConfig:
    """How ``spinemed space worker`` evaluates a request (see its ``--help``)."""

    bench: str
    work_dir: Path
    allow_unregistered: bool = False
    judge: str | None = None  # openai:MODEL@URL[,URL...]
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    stale_after_s: float = 6 * 3600.0
    heartbeat_s: float = 600.0  # a Hub queue commits each beat: every 10 minutes is plenty against a 6 h timeout
    max_attempts: int = 3
    eval_options: dict[str, Any] = field(default_factory=dict)  # extra EvalConfig fields (max_new_tokens, batch_size, ...)

    def __post_init__(self) -> None:
        if self.stale_after_s <= 0 or self.max_attempts < 1:
            raise ValueError("stale_after_s must be > 0 and max_attempts >= 1")
        # Several beats fit in the timeout, so one missed beat never gets a live run reclaimed.
        self.heartbeat_s = min(self.heartbeat_s, self.stale_after_s / 3)


def _stale(request: Mapping[str, Any], now: float, stale_after_s: float) -> bool:
    beat = _epoch(request.get("heartbeat_time") or request.get("started_time"))
    return beat is None or now - beat > stale_after_s


def claim_next(queue: RequestsFolder, cfg: WorkerConfig, now: float | None = None) -> dict[str, Any] | None:
    """Claim the oldest PENDING request (or a RUNNING one whose worker stopped beating for
    `stale_after_s`): it becomes RUNNING under this worker.  None when there is nothing to do."""
    now = time.time() if now is None else now
    requests, problems = queue.read_all()
    for p in problems:
        log.warning("requests %s: %s", queue.where, p)
    candidates = sorted((r for r in requests if r["status"] == PENDING
                         or (r["status"] == RUNNING and _stale(r, now, cfg.stale_after_s))),
                        key=lambda r: (r["status"] != PENDING, str(r.get("submitted_time") or "")))
    for cand in candidates:
        def take(current: dict[str, Any], was=cand) -> dict[str, Any] | None:
            # Re-checked under the lock / on the fresh revision: another worker may have been first.
            if current.get("status") != was["status"] or (current["status"] == RUNNING and not _stale(current, now, cfg.stale_after_s)):
                return None
            if current["status"] == RUNNING and current.get("heartbeat_time") != was.get("heartbeat_time"):
                return None  # it beat again since it was read: alive after all
            attempts = int(current.get("attempts") or 0) + 1
            stamp = _now()
            if attempts > cfg.max_attempts:
                return {**current, "status": FAILED, "finished_time": stamp, "worker": cfg.worker_id,
                        "reason": f"given up after {cfg.max_attempts} attempts: the worker running it stopped "
                                  f"(no heartbeat for {cfg.stale_after_s:g} s)"}
            note = f"reclaimed from {current.get('worker')} (no heartbeat)" if current["status"] == RUNNING else ""
            return {**current, "status": RUNNING, "worker": cfg.worker_id, "started_time": stamp, "heartbeat_time": _now(True),
                    "attempts": attempts, "reason": note}

        try:
            got = queue.update(cand["id"], take)
        except QueueError as exc:  # a busy Hub repo: try the next candidate; this one is retried next poll
            log.warning("could not claim %s: %s", cand["id"], exc)
            continue
        if got is not None and got["status"] == RUNNING:
            return got
    return None


class _Heartbeat:
    """Refreshes ``heartbeat_time`` while a request runs, so other workers leave it alone."""

    def __init__(self, queue: RequestsFolder, rid: str, worker_id: str, every_s: float):
        self.queue, self.rid, self.worker_id, self.every_s = queue, rid, worker_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{rid}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            def beat(current: dict[str, Any]) -> dict[str, Any] | None:
                if current.get("status") != RUNNING or current.get("worker") != self.worker_id:
                    return None
                return {**current, "heartbeat_time": _now(precise=True)}

            try:
                self.queue.update(self.rid, beat)
            except Exception as exc:  # a missed beat is retried; the run goes on
                log.warning("heartbeat for %s failed: %s", self.rid, exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _finish(queue: RequestsFolder, request: Mapping[str, Any], worker_id: str, status: str, reason: str,
            submission_id: str | None = None) -> dict[str, Any]:
    def done(current: dict[str, Any]) -> dict[str, Any] | None:
        if current.get("worker") != worker_id or current.get("status") != RUNNING:
            return None  # reclaimed meanwhile: the other worker owns it now
        return {**current, "status": status, "reason": reason, "finished_time": _now(), "submission_id": submission_id}

    return queue.update(request["id"], done) or dict(request)


def _release(queue: RequestsFolder, request: Mapping[str, Any], worker_id: str) -> None:
    def back(current: dict[str, Any]) -> dict[str, Any] | None:
        if current.get("worker") != worker_id or current.get("status") != RUNNING:
            return None
        return {**current, "status": PENDING, "worker": None, "heartbeat_time": None,
                "attempts": max(0, int(current.get("attempts") or 1) - 1),  # a clean stop is no failed attempt
                "reason": f"worker {worker_id} was stopped; the next worker resumes the run"}

    queue.update(request["id"], back)


def _eval_config(request: Mapping[str, Any], cfg: WorkerConfig):
    judge_model, judge_urls = None, ()
    if cfg.judge:
        spec = parse_model_spec(cfg.judge, kinds=("openai",), what="judge")
        judge_model, judge_urls = spec.model, spec.urls
    # Rules-only MCQ extraction, as uploaded submissions are rescored (submissions.py): one scoring on one board,
    # so the judge grades reports only and never the MCQ outputs the rules leave unparsed.
    options = {"plots": False, "bootstrap": 1000, **cfg.eval_options, "llm_extract": False}
    return EvalConfig(bench=cfg.bench, model=request["spec"], out=Path(cfg.work_dir) / request["id"],
                      allow_unregistered=cfg.allow_unregistered, judge_model=judge_model, judge_urls=judge_urls,
                      name=request.get("name") or None, command=["spinemed", "space", "worker"], **options)


def process_request(queue: RequestsFolder, store: ResultsStore, request: Mapping[str, Any], cfg: WorkerConfig,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate one claimed (RUNNING) request and store its results; returns the final request.

    Every failure ends the request as FAILED with the reason (bad model, unreachable endpoint,
    items that errored, a judge that failed): a partial run is not a leaderboard entry.
    """
    say = progress or (lambda message: None)
    rid = request["id"]
    sid = f"queue-{rid}"
    if _stored(store, sid):
        # An earlier attempt stored the results, then its worker died (or its last update failed)
        # before the request said FINISHED: the row is on the board, so the request is finished.
        reason = f"results already stored as {sid} by an earlier attempt"
        say(f"[{rid}] FINISHED: {reason}")
        return _finish(queue, request, cfg.worker_id, FINISHED, reason, sid)
    try:
        with _Heartbeat(queue, rid, cfg.worker_id, cfg.heartbeat_s):
            run = eval_runner.run_eval(_eval_config(request, cfg), lambda m: say(f"[{rid}] {m}"))
        if run.error_count:
            first = redact_urls(run.results['errors']['items'][0]['error'])[:200]
            raise EvalError(f"{run.error_count} of {run.results['benchmark']['items']} item(s) failed after all retries "
                            f"(first: {first})")
        judge = run.results.get("judge") or {}
        if judge.get("failed"):
            raise EvalError(f"the report judge failed on {judge['failed']} report(s)")
        rows = list(read_predictions(run.predictions_path).values())
        results = _queue_results(run.results, request, rows)
        outcome = store.save(sid, results, [{k: r.get(k) for k in PREDICTION_FIELDS} for r in rows])
    except EvalInterrupted:
        # Ctrl-C: hand the request back rather than fail it; the next run resumes from the saved answers.
        try:
            _release(queue, request, cfg.worker_id)
        except Exception as exc:  # not handed back: it is reclaimed once its heartbeat is stale
            log.warning("could not hand request %s back: %s", rid, exc)
        raise KeyboardInterrupt from None
    except Exception as exc:  # whatever went wrong, the request says so and the worker goes on
        if not isinstance(exc, (EvalError, ModelError, PredictionsError, FileExistsError, ValueError, OSError)):
            log.exception("request %s failed unexpectedly", rid)
        if isinstance(exc, FileExistsError) and _stored(store, sid):  # stored meanwhile (a reclaimed run's twin)
            say(f"[{rid}] FINISHED: results already stored as {sid}")
            return _finish(queue, request, cfg.worker_id, FINISHED, f"results already stored as {sid}", sid)
        reason = redact_urls(f"{type(exc).__name__}: {exc}")[:1000]
        say(f"[{rid}] FAILED: {reason}")
        return _finish(queue, request, cfg.worker_id, FAILED, reason)
    say(f"[{rid}] FINISHED: {outcome.describe()}")
    return _finish(queue, request, cfg.worker_id, FINISHED, outcome.describe(), sid)


def _stored(store: ResultsStore, sid: str) -> bool:
    return (Path(store.root) / SUBMISSIONS / sid).is_dir()


def _queue_results(results: Mapping[str, Any], request: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's results as a leaderboard entry: the request's name and details, the submission
    block the store keys on, the provenance; endpoint URLs removed."""
    out = json.loads(json.dumps(results))
    model = out["model"]
    model["name"] = request.get("name") or model.get("name")
    model["details"] = {**(model.get("details") or {}), "params_b": request.get("params_b"),
                        "access": request.get("access"), "domain": request.get("domain")}
    if request.get("kind") == "openai":  # the URLs are the operator's business, not the board's
        model["spec"] = f"openai:{request['model']}"
        model["details"].pop("endpoints", None)
    if not model.get("revision"):
        model["revision"] = request.get("revision")
    out["submission"] = {"id": f"queue-{request['id']}", "predictions_sha256": predictions_digest(rows),
                         "submitted_at": request.get("submitted_time") or _now(), "request_id": request["id"],
                         "evaluated_by": "queue worker", "ignored_claims": []}
    out["provenance"] = provenance_from_results(out, "queue")
    problems = validate_results(out)
    if problems:  # a bug here, not the requester's: say so rather than store a bad file
        raise RuntimeError("queue results do not follow the results schema: " + "; ".join(problems[:5]))
    return out


def run_worker(queue: RequestsFolder, store: ResultsStore, cfg: WorkerConfig, *, once: bool = False, poll_s: float = 30.0,
               progress: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> list[dict[str, Any]]:
    """Process requests until the queue is empty (`once`) or forever, polling every `poll_s` seconds.
    Returns the requests processed (final state)."""
    say = progress or (lambda message: None)
    done: list[dict[str, Any]] = []
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            request = claim_next(queue, cfg)
        except Exception as exc:  # the requests repo unreachable: a polling worker waits and tries again
            if once:
                raise
            say(f"cannot read the requests queue ({type(exc).__name__}: {exc}); retrying in {poll_s:g} s")
            stop.wait(poll_s)
            continue
        if request is None:
            if once:
                break
            stop.wait(poll_s)
            continue
        say(f"[{request['id']}] RUNNING: {request['spec'] if request.get('kind') != 'openai' else 'openai:' + request['model']} "
            f"(attempt {request['attempts']})")
        try:
            done.append(process_request(queue, store, request, cfg, say))
        except Exception as exc:  # e.g. the final status update failed: the request stays RUNNING and is reclaimed
            log.exception("request %s: could not record its outcome", request["id"])
            say(f"[{request['id']}] could not record the outcome ({type(exc).__name__}: {redact_urls(str(exc))[:300]}); "
                f"it is claimed again once its heartbeat is stale")
    return done
