"""Leaderboard submissions: validate an uploaded predictions file, rescore it, build its results.

The upload is the evaluation runner's predictions JSONL (:mod:`spinemed.evaluation.predictions`):
one JSON object per line with ``id``, ``kind``, ``output``, ``status`` (and optional
``extracted``, ``latency_s``, ``error``, ...).  It is untrusted input:

* it is only ever parsed as JSON (never unpickled, evaluated or imported), within size limits;
* every line must follow the predictions schema, name an item of the served benchmark with
  the right kind, once; every item must be present (a partial run is not a leaderboard entry);
* claimed answers, statuses and any scores in it are ignored: the outputs are rescored with
  :func:`spinemed.scoring.score_predictions`, and report outputs are judged by the Space's own
  judge when one is configured (otherwise the report part is "not judged", never a claimed
  number);
* a rejected upload stores nothing; the message lists what is wrong (escaped for display);
* the name is NFKC-normalised, visible text only, never a paper row's name nor a look-alike of a
  row on the board (:func:`spinemed.space.safety.check_name_free`); the same (model name, revision,
  predictions) is accepted once, and :class:`RateLimiter` bounds accepted submissions per name and
  per client.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import spinemed
from spinemed.evaluation.predictions import PREDICTION_FIELDS, validate_prediction
from spinemed.evaluation.results import assemble_results, benchmark_warnings, validate_results
from spinemed.llm.base import LLMError
from spinemed.schema import KINDS
from spinemed.scoring import score_predictions

from .bench import SpaceBench
from .leaderboard import ACCESS, DOMAINS
from .safety import check_name_free, md_code, md_escape, name_key, validate_model_name

__all__ = [
    "RateLimit",
    "RateLimiter",
    "SubmissionLimits",
    "SubmissionMeta",
    "SubmissionRejected",
    "parse_predictions",
    "predictions_digest",
    "rescore",
    "validate_meta",
]


@dataclass(frozen=True)
class SubmissionLimits:
    """Bounds on an upload.  The file limit is also given to Gradio (`launch(max_file_size=)`)
    so an oversized upload is refused before it is written to disk."""

    max_bytes: int = 25 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    max_output_chars: int = 200_000
    max_problems_shown: int = 12


class SubmissionRejected(ValueError):
    """An upload that cannot be accepted; `problems` lists every finding (raw text)."""

    def __init__(self, problems: Sequence[str], shown: int = 12):
        self.problems = list(problems)
        self.shown = shown
        super().__init__("; ".join(self.problems[:shown]))

    def markdown(self) -> str:
        """The message for the page: every problem escaped, the list bounded."""
        head = f"### Submission rejected: nothing was stored\n\n{len(self.problems)} problem(s):\n"
        lines = [f"- {md_escape(p, 400)}" for p in self.problems[: self.shown]]
        if len(self.problems) > self.shown:
            lines.append(f"- … and {len(self.problems) - self.shown} more")
        tip = ("\n\nExpected: the `predictions.jsonl` written by `spinemed eval`, one JSON object per line "
               "with `id`, `kind`, `output` and `status`, covering every benchmark item once.")
        return head + "\n".join(lines) + tip


@dataclass(frozen=True)
class RateLimit:
    """At most `count` accepted submissions per `window_s` seconds (written ``COUNT/SECONDS``)."""

    count: int
    window_s: float

    @classmethod
    def parse(cls, text: str, what: str = "rate limit") -> RateLimit:
        try:
            count, _, window = str(text).partition("/")
            limit = cls(int(count), float(window))
        except ValueError:
            raise ValueError(f"{what}: expected COUNT/SECONDS (e.g. 2/3600), got {text!r}") from None
        if limit.count < 1 or not math.isfinite(limit.window_s) or limit.window_s <= 0:
            raise ValueError(f"{what}: COUNT must be >= 1 and SECONDS > 0, got {text!r}")
        return limit

    def __str__(self) -> str:
        return f"{self.count} per {self.window_s:g} s"


class RateLimiter:
    """Accepted submissions per model name and per client over sliding windows.

    Only accepted submissions count (a rejected file costs the submitter nothing); the check runs
    before the rescoring, the record after the store.  The client is the Gradio request's
    logged-in user or address; a call without one (tests, scripts over the library) is limited
    by name only.  Name counts are seeded from the stored submissions, so a restart does not
    reset them; client counts live in memory (addresses are not stored).
    """

    def __init__(self, per_name: RateLimit, per_client: RateLimit, clock: Callable[[], float] = time.time):
        self.per_name, self.per_client, self.clock = per_name, per_client, clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, kind: str, key: str, limit: RateLimit, now: float) -> deque[float]:
        times = self._seen.setdefault((kind, key), deque())
        while times and times[0] <= now - limit.window_s:
            times.popleft()
        return times

    def check(self, name: str, client: str | None) -> None:
        """Raise SubmissionRejected when `name` or `client` has used up its window."""
        now = self.clock()
        with self._lock:
            checks = [("name", name_key(name), self.per_name, f"model name {name!r}")]
            if client:
                checks.append(("client", client, self.per_client, "this client"))
            for kind, key, limit, who in checks:
                times = self._recent(kind, key, limit, now)
                if len(times) >= limit.count:
                    wait = max(1, math.ceil(times[0] + limit.window_s - now))
                    raise SubmissionRejected([f"rate limit: {who} already has {len(times)} accepted submission(s) "
                                              f"in the last {limit.window_s:g} s (limit {limit}); try again in {wait} s"])

    def record(self, name: str, client: str | None, at: float | None = None) -> None:
        at = self.clock() if at is None else at
        with self._lock:
            self._seen.setdefault(("name", name_key(name)), deque()).append(at)
            if client:
                self._seen.setdefault(("client", client), deque()).append(at)
            for times in self._seen.values():  # seeding may arrive out of order
                if len(times) > 1 and times[-2] > times[-1]:
                    ordered = sorted(times)
                    times.clear()
                    times.extend(ordered)


@dataclass(frozen=True)
class SubmissionMeta:
    name: str
    params_b: float | None
    access: str
    domain: str
    revision: str = ""


_REVISION_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/+]*$")


def validate_meta(name: Any, params_b: Any, access: Any, domain: Any, revision: Any = "", *,
                  existing: Iterable[str] = (), reserved: Iterable[str] = ()) -> SubmissionMeta:
    """Check the form fields; raises SubmissionRejected listing every bad field.

    `existing`: model names of the rows on the board; `reserved`: the paper's rows (see
    :func:`spinemed.space.safety.check_name_free`).
    """
    problems = []
    try:
        clean_name = validate_model_name(name)
        check_name_free(clean_name, existing, reserved)
    except ValueError as exc:
        problems.append(str(exc))
        clean_name = ""
    clean_revision = "" if revision is None else str(revision).strip()
    if clean_revision and (len(clean_revision) > 64 or not _REVISION_OK.match(clean_revision)):
        problems.append("revision: at most 64 characters of letters, digits and . _ - / + (a commit, tag or date)")
    params = None
    if params_b not in (None, "", 0, 0.0):  # the page's number field shows 0 when left empty: unknown
        try:
            params = float(params_b)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past float range
            problems.append(f"model size: expected a number of billions of parameters, got {str(params_b)[:40]!r}")
        else:
            if not math.isfinite(params) or not 0 < params <= 10_000:
                problems.append(f"model size: expected 0 < size <= 10000 (billions), got {params_b!r}")
                params = None
    if access not in ACCESS:
        problems.append(f"access: choose one of {', '.join(ACCESS)}")
    if domain not in DOMAINS:
        problems.append(f"domain: choose one of {', '.join(DOMAINS)}")
    if problems:
        raise SubmissionRejected(problems)
    return SubmissionMeta(clean_name, params, str(access), str(domain), clean_revision)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_object(line: str) -> Any:
    # Plain json: no object hooks, no custom types; NaN/Infinity refused.  Deeply nested input
    # raises RecursionError, which the caller reports like any other bad line.
    return json.loads(line, parse_constant=_reject_constant)


def parse_predictions(data: bytes, bench: SpaceBench, limits: SubmissionLimits = SubmissionLimits()) -> list[dict[str, Any]]:
    """Validate an uploaded predictions file against `bench`; rows come back in benchmark order.

    Each returned row keeps only the predictions schema's fields.  Raises SubmissionRejected
    with every problem found (bounded): size, encoding, JSON, schema, unknown ids, wrong kinds,
    duplicates, missing items.
    """
    problems: list[str] = []
    cap = limits.max_problems_shown * 4  # stop collecting once the message is clearly long enough

    def problem(msg: str) -> None:
        problems.append(msg)
        if len(problems) >= cap:
            raise SubmissionRejected(problems + ["(stopped checking: too many problems)"], limits.max_problems_shown)

    if len(data) > limits.max_bytes:
        raise SubmissionRejected([f"file is {len(data):,} bytes; the limit is {limits.max_bytes:,}"])
    if not data.strip():
        raise SubmissionRejected(["file is empty"])
    if b"\x00" in data:
        raise SubmissionRejected(["file contains NUL bytes: not a UTF-8 text file (is it compressed or binary?)"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionRejected([f"file is not UTF-8 text (byte {exc.start}: {exc.reason})"]) from None

    by_id: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        if len(line.encode("utf-8")) > limits.max_line_bytes:
            problem(f"{where}: longer than {limits.max_line_bytes:,} bytes")
            continue
        try:
            obj = _json_object(line)
        except (ValueError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or type(exc).__name__
            problem(f"{where}: not a JSON object on one line ({msg})")
            continue
        for p in validate_prediction(obj, where):
            problem(p)
        if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str) or not obj.get("id"):
            continue
        item_id = obj["id"]
        item = bench.by_id.get(item_id)
        if item is None:
            problem(f"{where}: id {item_id[:80]!r} is not an item of {bench.label}")
            continue
        if item_id in first_line:
            problem(f"{where}: id {item_id!r} appears again (first on line {first_line[item_id]})")
            continue
        first_line[item_id] = n
        if obj.get("kind") in KINDS and obj["kind"] != item["kind"]:
            problem(f"{where}: id {item_id!r} is a {item['kind']} item, the line says {obj['kind']!r}")
        output = obj.get("output")
        if isinstance(output, str) and len(output) > limits.max_output_chars:
            problem(f"{where}: output is {len(output):,} characters; the limit is {limits.max_output_chars:,}")
        by_id[item_id] = {k: obj.get(k) for k in PREDICTION_FIELDS}

    missing = [i for i in bench.ids if i not in first_line]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:5])
        problem(f"{len(missing)} of {len(bench)} benchmark items have no prediction (e.g. {shown}); "
                f"submit a complete run over {bench.label}")
    if problems:
        raise SubmissionRejected(problems, limits.max_problems_shown)
    return [by_id[i] for i in bench.ids]


def predictions_digest(rows: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of the (id, output) pairs in benchmark order: identical outputs, identical digest."""
    blob = json.dumps([[r["id"], r.get("output")] for r in rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def rescore(
    bench: SpaceBench,
    rows: Sequence[Mapping[str, Any]],
    meta: SubmissionMeta,
    *,
    judge: Any = None,
    bootstrap: int = 1000,
    seed: int = 0,
    submission_id: str = "",
) -> dict[str, Any]:
    """Score the outputs with the one scorer and wrap them in the results schema.

    `judge`: the Space's own judge (:class:`spinemed.space.config.Judge`, anything with
    ``judge(items, outputs) -> JudgeRun``), or None (reports not judged).  Only the
    ``output`` of each row is used; the submitter's ``extracted``/``status`` are ignored.
    """
    start = time.perf_counter()
    outputs = [r.get("output") for r in rows]
    judge_run = judge.judge(bench.items, outputs) if judge is not None and bench.bench.counts.get("report") else None
    if judge_run is not None:
        # A judge that failed (endpoint down, unparseable replies) must not leave a permanent,
        # partially judged entry: refuse, store nothing, let the submitter retry.  Reports whose
        # output is missing are the submission's own doing and are scored as such.
        failed = [r for r in judge_run.results if r.status in ("error", "invalid")]
        if failed:
            raise LLMError(f"the report judge failed on {len(failed)} of {len(judge_run.results)} report(s) "
                           f"(first: {failed[0].id}: {failed[0].error[:200]})")
    payload = score_predictions(bench.items, outputs, judge_run, bootstrap=bootstrap, seed=seed, return_items=True)
    scored_items = payload.pop("items")
    unanswered = [
        {"id": s["id"], "kind": s["kind"]}
        for s, out in zip(scored_items, outputs)
        if (s["kind"] == "report" and out is not None and not out.strip()) or s["status"] == "empty"
    ]
    errors = [{"id": r["id"], "kind": r.get("kind"), "error": str(r.get("error") or "")[:500]}
              for r in rows if r.get("output") is None]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    # Same notes as `spinemed eval` writes, so a rescored submission reads like a local run.
    warnings = list(payload["warnings"])
    if judge_run is None and payload["counts"]["report"]:
        warnings = [w for w in warnings if "not judged" not in w]
        warnings.append(f"{payload['counts']['report']} report item(s) were not judged: this Space has no judge "
                        "configured, so P3 and the total are not computed (which is not a score of 0)")
    warnings[:0] = benchmark_warnings(bench.bench)
    results = assemble_results(
        payload,
        model={"id": meta.name, "revision": meta.revision or None, "name": meta.name, "backend": "external",
               "spec": "external:space-submission", "baseline": False,
               "details": {"params_b": meta.params_b, "access": meta.access, "domain": meta.domain}},
        benchmark=bench.bench.describe(),
        # The submitter's prompts and decoding are not known to the Space.
        prompt={"version": "external", "hash": "unknown"},
        generation={},
        run={"date": now, "kit_version": spinemed.__version__, "backend": "external", "device": None, "dtype": None,
             "wall_time_s": round(time.perf_counter() - start, 3), "rescored_by": "space"},
        warnings=warnings, unanswered=unanswered, errors=errors,
        files={"predictions": "predictions.jsonl"},
        submission={"id": submission_id, "predictions_sha256": predictions_digest(rows), "submitted_at": now,
                    "ignored_claims": ["extracted", "status"]},
    )
    problems = validate_results(results)
    if problems:  # a bug here, not the submitter's fault: say so rather than store a bad file
        raise RuntimeError("rescored results do not follow the results schema: " + "; ".join(problems[:5]))
    return results


def accepted_markdown(results: Mapping[str, Any], stored: str) -> str:
    """Summary shown after a successful submission (all numbers from the rescoring)."""
    s, c = results["scores"], results["counts"]

    def pct(v: Any) -> str:
        return "—" if v is None else f"{v:.2f}"

    lines = [
        f"### Accepted: {md_code(results['model']['name'])}",
        "",
        f"Rescored by the Space over {c['total']} items of {md_escape(results['benchmark']['name'])} "
        f"{md_escape(results['benchmark']['version'])} (claimed answers and scores in the file were ignored).",
        "",
        "| Text MCQ (P1) | Image MCQ (P2) | Closed QA | Report (P3) | Total |",
        "| --- | --- | --- | --- | --- |",
        f"| {pct(s['text_mcq'])} | {pct(s['image_mcq'])} | {pct(s['closed_qa'])} | {pct(s['report'])} | {pct(s['total'])} |",
        "",
        f"Unparsed / refused / empty MCQ answers: "
        f"{sum(results['answers'][k][st] for k in ('text_mcq', 'image_mcq') for st in ('unparsed', 'refused', 'empty', 'missing'))}; "
        f"report status: {md_escape(results['report_status'])}.",
    ]
    for w in results.get("warnings") or []:
        lines.append(f"\nWarning: {md_escape(w)}")
    lines.append(f"\n{md_escape(stored, None)}")
    return "\n".join(lines)
