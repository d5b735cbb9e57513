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
* a rejected upload stores nothing; the message lists what is wrong (escaped for display); a file
  that is plainly not predictions (the run's ``results.json``, ``judge.json``, a model index, an
  image, a compressed file) is recognised and answered with what to upload instead
  (:func:`identify_wrong_file`);
* provenance is required (:func:`resolve_provenance`): the model revision, the prompt version and
  hash and the generation settings, typed in or read from the run's ``predictions.meta.json``
  (which ``spinemed eval`` writes next to the predictions); the prompt hash is checked against the
  prompt version when this Space knows it, and the run's benchmark items hash against the served
  benchmark.  The judge is the Space's own; the results carry a ``provenance`` block
  (:mod:`spinemed.space.provenance`);
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
from spinemed.evaluation.predictions import PREDICTION_FIELDS, PREDICTIONS_FORMAT, validate_prediction
from spinemed.evaluation.prompts import load_eval_prompts
from spinemed.evaluation.results import RESULTS_KIND, assemble_results, benchmark_warnings, validate_results
from spinemed.llm.base import LLMError
from spinemed.schema import KINDS
from spinemed.scoring import score_predictions

from .bench import SpaceBench
from .leaderboard import ACCESS, DOMAINS
from .provenance import provenance_from_results
from .safety import check_name_free, md_code, md_escape, name_key, validate_model_name

__all__ = [
    "RunProvenance",
    "RateLimit",
    "RateLimiter",
    "SubmissionLimits",
    "SubmissionMeta",
    "SubmissionRejected",
    "identify_wrong_file",
    "parse_predictions",
    "read_run_meta",
    "resolve_provenance",
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

    def __init__(self, problems: Sequence[str], shown: int = 12, *, wrong_file: bool = False):
        self.problems = list(problems)
        self.shown = shown
        self.wrong_file = wrong_file
        super().__init__("; ".join(self.problems[:shown]))

    def markdown(self) -> str:
        """The message for the page: every problem escaped, the list bounded."""
        if self.wrong_file:  # one clear answer, not a list of per-line parse errors
            return f"### Wrong file: nothing was stored\n\n{md_escape(self.problems[0], 600)}"
        head = f"### Submission rejected: nothing was stored\n\n{len(self.problems)} problem(s):\n"
        lines = [f"- {md_escape(p, 400)}" for p in self.problems[: self.shown]]
        if len(self.problems) > self.shown:
            lines.append(f"- … and {len(self.problems) - self.shown} more")
        tip = ("\n\nExpected: the `predictions.jsonl` written by `spinemed eval`, one JSON object per line "
               "with `id`, `kind`, `output` and `status`, covering every benchmark item once, with the run's "
               "`predictions.meta.json` (or the revision, prompt version and hash and generation settings typed in).")
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


# --------------------------------------------------------------------------------------
# Wrong files and provenance
# --------------------------------------------------------------------------------------

_UPLOAD_INSTEAD = ("Upload the `predictions.jsonl` from the same run folder (written by `spinemed eval`), and its "
                   "`predictions.meta.json` as the run metadata.")


def identify_wrong_file(data: bytes, filename: str = "", expect: str = "predictions") -> str | None:
    """What to say when `data` is plainly not the file expected (`expect`: "predictions" or "meta",
    the run's predictions.meta.json) but another file a run writes, an image, a compressed or binary
    file; None when it may be the expected file."""
    name = f"`{filename}`" if filename else "This file"
    head = data[:8]
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return f"{name} is an image (a plot from the run's plots/ folder?), not predictions. {_UPLOAD_INSTEAD}"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"BZh")):
        return f"{name} is a compressed archive. Unpack it and upload the `predictions.jsonl` inside it."
    if head.startswith(b"PAR1"):
        return f"{name} is a Parquet file (a dataset shard?), not predictions. {_UPLOAD_INSTEAD}"
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith((b"{", b"[")) or len(data) > 64 * 1024 * 1024:
        return None
    try:
        obj = json.loads(stripped.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None  # not one JSON document: predictions (JSON lines) or a broken file, checked line by line
    if isinstance(obj, Mapping):
        if obj.get("kind") == RESULTS_KIND or {"scores", "counts", "model"} <= set(obj):
            return (f"{name} is a results file (`results.json`): its scores were computed elsewhere, and the Space "
                    f"recomputes every score itself. {_UPLOAD_INSTEAD}")
        if expect == "meta":
            return None  # the caller says what a metadata file lacks
        if "fingerprint" in obj and str(obj.get("format", "")).startswith("spinebench-predictions"):
            return (f"{name} is the run's `predictions.meta.json`: put it in the *run metadata* box, and the "
                    "`predictions.jsonl` from the same folder in the *predictions* box.")
        if {"results", "judge_model"} <= set(obj):
            return f"{name} is the run's `judge.json` (report judgements); the Space judges reports itself. {_UPLOAD_INSTEAD}"
        if "model-index" in obj or "model_index" in obj:
            return f"{name} is a model index for a model card, not predictions. {_UPLOAD_INSTEAD}"
        if {"id", "kind", "output"} <= set(obj):
            return None  # a one-item predictions file: the line checks say what is missing
        return f"{name} is one JSON object, not predictions (one JSON object per line, one line per item). {_UPLOAD_INSTEAD}"
    if isinstance(obj, list) and obj and all(isinstance(x, Mapping) for x in obj[:50]):
        if all({"id", "output"} <= set(x) for x in obj[:50]):
            return (f"{name} is a JSON array of predictions; the Space takes JSON lines: one object per line, no "
                    "enclosing [ ] (what `spinemed eval` writes as `predictions.jsonl`).")
        if any("results" in x and "name" in x for x in obj[:5]):
            return f"{name} is a model index for a model card, not predictions. {_UPLOAD_INSTEAD}"
    return None


@dataclass(frozen=True)
class RunProvenance:
    """How the submitted outputs were produced (all required; see :func:`resolve_provenance`)."""

    model_id: str
    revision: str
    prompt_version: str
    prompt_hash: str
    generation: dict[str, Any]
    from_meta: bool = False


_GEN_KEYS = ("max_new_tokens", "temperature", "decoding", "top_p", "image_max_side")


def read_run_meta(data: bytes, filename: str = "predictions.meta.json") -> dict[str, Any]:
    """The ``fingerprint`` of a run's ``predictions.meta.json``; raises SubmissionRejected saying why not."""
    try:
        obj = json.loads(data.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SubmissionRejected([f"{filename}: not a JSON file ({str(exc)[:120]})"]) from None
    if not isinstance(obj, Mapping) or not isinstance(obj.get("fingerprint"), Mapping):
        wrong = identify_wrong_file(data, filename, expect="meta")
        raise SubmissionRejected([wrong or f"{filename}: not a run's predictions.meta.json (no `fingerprint`); it is "
                                  "the file `spinemed eval` writes next to predictions.jsonl"], wrong_file=bool(wrong))
    if obj.get("format") not in (None, PREDICTIONS_FORMAT):
        raise SubmissionRejected([f"{filename}: format {str(obj.get('format'))[:40]!r}; this Space reads {PREDICTIONS_FORMAT!r}"])
    return dict(obj["fingerprint"])


def _parse_generation(text: Any) -> tuple[dict[str, Any] | None, str | None]:
    if isinstance(text, Mapping):
        obj: Any = dict(text)
    else:
        raw = str(text or "").strip()
        if not raw:
            return None, None
        try:
            obj = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            # also accept key=value pairs: "temperature=0, max_new_tokens=1024"
            obj = {}
            for part in re.split(r"[,;\n]+", raw):
                key, sep, value = part.partition("=")
                if not sep or not key.strip():
                    return None, ('generation settings: write JSON ({"temperature": 0, "max_new_tokens": 1024}) '
                                  "or key=value pairs (temperature=0, max_new_tokens=1024)")
                try:
                    obj[key.strip()] = json.loads(value.strip())
                except ValueError:
                    obj[key.strip()] = value.strip()
    if not isinstance(obj, Mapping) or not obj:
        return None, "generation settings: expected an object of settings, e.g. {\"temperature\": 0, \"max_new_tokens\": 1024}"
    if len(obj) > 20 or any(not isinstance(v, (str, int, float, bool, type(None))) or len(str(k)) > 40 or len(str(v)) > 100
                            for k, v in obj.items()):
        return None, "generation settings: at most 20 plain settings (names up to 40 characters, values up to 100)"
    return {str(k): v for k, v in obj.items()}, None


def resolve_provenance(bench: SpaceBench, *, name: str, revision: str = "", prompt_version: str = "", prompt_hash: str = "",
                       generation: Any = "", meta: Mapping[str, Any] | None = None) -> RunProvenance:
    """The submission's provenance from the form fields and/or the run's ``predictions.meta.json``
    fingerprint (`meta`).  Everything is required; a field given both ways must agree.  Raises
    SubmissionRejected listing every problem (and how to supply what is missing)."""
    meta = dict(meta or {})
    problems: list[str] = []
    spec = str(meta.get("spec") or "")
    model_id = spec.partition(":")[2] if spec.startswith(("hf:", "openai:")) else name
    if spec.startswith("hf:") and "@" in model_id and not meta.get("revision"):
        model_id, _, meta["revision"] = model_id.rpartition("@")
    if spec.startswith("baseline:"):
        model_id = spec

    def pick(field_name: str, typed: str, from_meta: Any) -> str:
        typed, from_meta = str(typed or "").strip(), str(from_meta or "").strip()
        if typed and from_meta and typed != from_meta:
            problems.append(f"{field_name}: the form says {typed[:70]!r}, predictions.meta.json says {from_meta[:70]!r}")
        return typed or from_meta

    how = "type it in, or upload the run's predictions.meta.json"
    rev = pick("model revision", revision, meta.get("revision"))
    if not rev:
        problems.append(f"model revision: required (a commit, tag, or an API model's dated snapshot); {how}")
    elif len(rev) > 64 or not _REVISION_OK.match(rev):
        problems.append("model revision: at most 64 characters of letters, digits and . _ - / + (a commit, tag or date)")
    version = pick("prompt version", prompt_version, meta.get("prompt_version"))
    digest = pick("prompt hash", prompt_hash, meta.get("prompt_hash")).lower()
    if not version:
        problems.append(f"prompt version: required (`spinemed eval --prompt-version`, default v1); {how}")
    elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", version):
        problems.append("prompt version: letters, digits and . _ - (e.g. v1)")
    if not digest:
        problems.append(f"prompt hash: required (the sha256 `spinemed eval` records as prompt.hash); {how}")
    elif not re.fullmatch(r"[0-9a-f]{64}", digest):
        problems.append("prompt hash: expected 64 hexadecimal characters (sha256)")
    elif version and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", version):
        try:
            known = load_eval_prompts(version).sha256
        except (FileNotFoundError, ValueError):
            known = None  # a prompt version this Space does not ship: recorded as given
        if known and known != digest:
            problems.append(f"prompt hash: {digest[:12]}… is not the hash of the {version} prompts ({known[:12]}…): the run "
                            "used modified prompts; submit a run with the released prompts")
    gen_meta = {k: meta[k] for k in _GEN_KEYS if meta.get(k) is not None}
    gen, gen_problem = _parse_generation(generation)
    if gen_problem:
        problems.append(gen_problem)
    elif gen and gen_meta:
        clash = [k for k in gen_meta if k in gen and gen[k] != gen_meta[k]]
        if clash:
            problems.append(f"generation settings: {', '.join(clash)} differ between the form and predictions.meta.json")
    gen = {**gen_meta, **(gen or {})}
    if not gen and not gen_problem:
        problems.append(f"generation settings: required (e.g. temperature=0, max_new_tokens=1024); {how}")
    items_hash = meta.get("benchmark_items_hash")
    if items_hash and items_hash != bench.bench.items_hash:
        problems.append(f"predictions.meta.json: the run was made on other benchmark items (items hash {str(items_hash)[:12]}…, "
                        f"this Space serves {bench.bench.items_hash[:12]}…)")
    if problems:
        raise SubmissionRejected(problems)
    return RunProvenance(model_id=model_id or name, revision=rev, prompt_version=version, prompt_hash=digest,
                         generation=gen, from_meta=bool(meta))


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
    wrong = identify_wrong_file(data)
    if wrong:
        raise SubmissionRejected([wrong], wrong_file=True)
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
    provenance: RunProvenance | None = None,
) -> dict[str, Any]:
    """Score the outputs with the one scorer and wrap them in the results schema.

    `judge`: the Space's own judge (:class:`spinemed.space.config.Judge`, anything with
    ``judge(items, outputs) -> JudgeRun``), or None (reports not judged).  Only the
    ``output`` of each row is used; the submitter's ``extracted``/``status`` are ignored.
    `provenance`: how the outputs were made (:func:`resolve_provenance`); without it the results
    say "external" / "unknown" (library callers that have none).
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
        model={"id": provenance.model_id if provenance else meta.name,
               "revision": (provenance.revision if provenance else meta.revision) or None, "name": meta.name,
               "backend": "external", "spec": "external:space-submission", "baseline": False,
               "details": {"params_b": meta.params_b, "access": meta.access, "domain": meta.domain}},
        benchmark=bench.bench.describe(),
        # As the submitter declared (or their run's predictions.meta.json recorded); the hash is checked above.
        prompt={"version": provenance.prompt_version, "hash": provenance.prompt_hash} if provenance
        else {"version": "external", "hash": "unknown"},
        generation=dict(provenance.generation) if provenance else {},
        run={"date": now, "kit_version": spinemed.__version__, "backend": "external", "device": None, "dtype": None,
             "wall_time_s": round(time.perf_counter() - start, 3), "rescored_by": "space"},
        warnings=warnings, unanswered=unanswered, errors=errors,
        files={"predictions": "predictions.jsonl"},
        submission={"id": submission_id, "predictions_sha256": predictions_digest(rows), "submitted_at": now,
                    "ignored_claims": ["extracted", "status"],
                    "provenance_from": ("predictions.meta.json" if provenance.from_meta else "form") if provenance else None},
    )
    if provenance is not None:
        results["provenance"] = provenance_from_results(results, "submission")
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
