"""Predictions JSONL: one line per benchmark item, appended as outputs arrive (resumable).

Line format (``PREDICTION_FIELDS``)::

    {"id": "mcq-...", "kind": "text_mcq", "output": "... Answer: B", "extracted": "B",
     "extraction": "rules", "status": "answered", "reference": "B", "correct": true, "latency_s": 1.42,
     "error": null, "attempts": 1, "cached": false}

* ``output``: the model's raw text; null only when the request failed for good (``error`` says why).
* ``extracted`` / ``status``: for MCQ items what :func:`spinemed.scoring.score_items` extracts
  (``answered`` | ``refused`` | ``empty`` | ``unparsed``); report items are ``generated`` or
  ``empty``; a failed request is ``error``.  While a run is going, lines are written with the
  raw output only (``generated`` / ``empty`` / ``error``); the finished run rewrites the file
  in benchmark order with the extraction.  Both fields are informative: scoring always
  re-extracts from ``output``, so a hand-edited ``extracted`` changes nothing.
* ``extraction``: how an MCQ answer was found: ``rules`` (:mod:`spinemed.choices`), ``llm`` (the
  judge model as answer extractor, for an output the rules left unparsed; its replies are in
  ``extraction.json`` and the scorer takes them as ``llm_answers``) or ``none``; null for reports.
* ``reference`` / ``correct``: for MCQ items the reference letters and whether the extracted
  answer equals them (a failed request is not correct), added with the extraction; null for
  reports (their judge scores are in ``samples.jsonl``, see :mod:`spinemed.evaluation.samples`)
  and while the run is going.  Informative too: scoring compares with the benchmark's answer.
* ``latency_s``: seconds the model took for this item (for batched local generation, the
  batch time divided by its size; 0 for answers served from the request cache).

A run writes ``predictions.jsonl`` next to ``predictions.meta.json``, which fingerprints what
produced the outputs (model, benchmark items hash, prompt hash, decoding settings); a rerun
with the same fingerprint resumes, keeping every line without an error, and a rerun with a
different fingerprint is refused rather than mixing two models' outputs.  A half-written last
line (a killed process) is ignored.  The same file is the leaderboard's upload format.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_write_json, atomic_write_lines
from spinemed.schema import KINDS

__all__ = [
    "PREDICTION_FIELDS",
    "PREDICTION_STATUSES",
    "PredictionsError",
    "PredictionWriter",
    "annotate_meta",
    "check_fingerprint",
    "read_predictions",
    "validate_prediction",
    "write_predictions",
]

log = logging.getLogger(__name__)

PREDICTIONS_FORMAT = "spinebench-predictions/1"
PREDICTION_FIELDS = ("id", "kind", "output", "extracted", "extraction", "status", "reference", "correct", "latency_s",
                     "error", "attempts", "cached")
EXTRACTIONS = ("rules", "llm", "none")  # how an MCQ answer was found; null for reports
PREDICTION_STATUSES = ("answered", "refused", "empty", "unparsed", "generated", "error")


class PredictionsError(ValueError):
    """A predictions file that cannot be used (malformed line, another run's outputs)."""


def validate_prediction(obj: Any, where: str = "prediction") -> list[str]:
    """Problems with one predictions line (``[]`` when valid)."""
    if not isinstance(obj, Mapping):
        return [f"{where}: expected a JSON object, got {type(obj).__name__}"]
    problems = []
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        problems.append(f"{where}: 'id' must be a non-empty string")
    if obj.get("kind") not in KINDS:
        problems.append(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {obj.get('kind')!r}")
    output = obj.get("output")
    if output is not None and not isinstance(output, str):
        problems.append(f"{where}: 'output' must be a string or null, got {type(output).__name__}")
    status = obj.get("status")
    if status not in PREDICTION_STATUSES:
        problems.append(f"{where}: 'status' must be one of {', '.join(PREDICTION_STATUSES)}, got {status!r}")
    if output is None and status != "error":
        problems.append(f"{where}: 'output' is null but 'status' is {status!r} (null output means an error)")
    if status == "error" and not obj.get("error"):
        problems.append(f"{where}: status 'error' needs an 'error' message")
    extraction = obj.get("extraction")
    if extraction is not None and extraction not in EXTRACTIONS:
        problems.append(f"{where}: 'extraction' must be one of {', '.join(EXTRACTIONS)} or null, got {extraction!r}")
    if obj.get("correct") is not None and not isinstance(obj["correct"], bool):
        problems.append(f"{where}: 'correct' must be true, false or null, got {obj['correct']!r}")
    if obj.get("reference") is not None and not isinstance(obj["reference"], str):
        problems.append(f"{where}: 'reference' must be a string or null, got {type(obj['reference']).__name__}")
    latency = obj.get("latency_s")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0):
        problems.append(f"{where}: 'latency_s' must be a non-negative number or null, got {latency!r}")
    return problems


def read_predictions(path: str | os.PathLike, *, strict: bool = True) -> dict[str, dict[str, Any]]:
    """Lines of a predictions file by item id (a later line for the same id wins).

    A last line that is not valid JSON and has no newline is a write cut short by a kill: it
    is dropped with a warning.  Any other bad line raises :class:`PredictionsError` (with
    ``strict=False`` it is skipped with a warning instead).
    """
    p = Path(path)
    out: dict[str, dict[str, Any]] = {}
    if not p.is_file():
        return out
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PredictionsError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.split("\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nesting too deep
            if n == len(lines) and not text.endswith("\n"):
                log.warning("%s: ignoring the cut-off last line %d (an interrupted write)", p, n)
                continue
            problem = f"{p}:{n}: not valid JSON ({getattr(exc, 'msg', None) or exc})"
            if strict:
                raise PredictionsError(problem) from None
            log.warning("%s", problem)
            continue
        problems = validate_prediction(obj, f"{p}:{n}")
        if problems:
            if strict:
                raise PredictionsError("; ".join(problems))
            log.warning("%s", "; ".join(problems))
            continue
        out[obj["id"]] = obj
    return out


class PredictionWriter:
    """Appends prediction lines, flushed one by one so a killed run loses at most the line in flight."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A cut-off last line from a killed run gets its own line, so the next record stays parseable.
        needs_newline = self.path.is_file() and self.path.stat().st_size > 0 and not self.path.read_bytes().endswith(b"\n")
        self._fh = self.path.open("a", encoding="utf-8")
        if needs_newline:
            self._fh.write("\n")
        self.written = 0

    def write(self, record: Mapping[str, Any]) -> None:
        problems = validate_prediction(record)
        if problems:
            raise PredictionsError("; ".join(problems))
        line = {k: record.get(k) for k in PREDICTION_FIELDS}
        self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.written += 1

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def write_predictions(path: str | os.PathLike, records: list[Mapping[str, Any]]) -> Path:
    """Rewrite the whole file atomically in the given order (the compacted, final form of a run)."""
    def lines():
        for record in records:
            problems = validate_prediction(record)
            if problems:
                raise PredictionsError("; ".join(problems))  # the old file stays, no temporary file is left
            yield json.dumps({k: record.get(k) for k in PREDICTION_FIELDS}, ensure_ascii=False) + "\n"

    return atomic_write_lines(path, lines())


def check_fingerprint(meta_path: str | os.PathLike, fingerprint: Mapping[str, Any], *, overwrite: bool = False) -> bool:
    """Compare a run's fingerprint with the one stored next to its predictions.

    Returns True when earlier predictions may be reused (same fingerprint), False when there
    are none (or `overwrite` discards them); raises :class:`PredictionsError` naming the
    differing fields otherwise.  Writes the fingerprint for the run that follows.
    """
    meta = Path(meta_path)
    predictions = meta.with_name("predictions.jsonl")
    fp = json.loads(json.dumps(dict(fingerprint), sort_keys=True, default=str))
    reuse = False
    if meta.is_file() and not overwrite:
        try:
            old = json.loads(meta.read_text(encoding="utf-8")).get("fingerprint", {})
        except json.JSONDecodeError as exc:
            raise PredictionsError(f"{meta}: not valid JSON ({exc}); delete it or pass --overwrite") from None
        diff = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
        if diff:
            shown = "; ".join(f"{k}: {old.get(k)!r} -> {fp.get(k)!r}" for k in diff[:6])
            raise PredictionsError(
                f"{meta.parent} holds predictions of a different run ({shown}); use another --out folder, "
                "or --overwrite to discard them"
            )
        reuse = True
    elif predictions.is_file() and not overwrite and predictions.stat().st_size:
        raise PredictionsError(
            f"{predictions} exists without {meta.name}, so it cannot be told which run made it; "
            "use another --out folder, or --overwrite to discard it"
        )
    if overwrite:
        predictions.unlink(missing_ok=True)
    atomic_write_json(meta, {"format": PREDICTIONS_FORMAT, "fingerprint": fp}, indent=2)
    return reuse


def annotate_meta(meta_path: str | os.PathLike, **fields: Any) -> None:
    """Add facts learned during the run (e.g. ``request_params``, the parameters as sent) to the
    meta file; they sit next to the fingerprint and never decide whether a rerun may resume."""
    meta = Path(meta_path)
    data = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {"format": PREDICTIONS_FORMAT}
    data.update(json.loads(json.dumps(fields, sort_keys=True, default=str)))
    atomic_write_json(meta, data, indent=2)
