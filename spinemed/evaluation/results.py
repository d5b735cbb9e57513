"""The SpineBench results JSON: one documented schema for the runner, the model card and the Space.

A results file is what `spinemed eval` writes (``OUT/results.json``), what
:func:`spinemed.evaluation.model_index.results_to_model_index` turns into model-card
``model-index`` entries and what the Space's leaderboard reads.  Every score in it comes from
:func:`spinemed.scoring.score_predictions`: the scorer's payload is copied in verbatim (its
``config`` block under the name ``scoring``), and this module adds who/what/how around it.

Top-level keys (``docs/eval.md`` has the field-by-field table):

* ``schema_version`` (:data:`RESULTS_SCHEMA_VERSION`), ``kind`` = ``"spinebench-results"``;
* ``model``: ``id``, ``revision``, ``name``, ``backend`` (:data:`BACKENDS`), ``spec``,
  ``baseline`` (bool), ``details`` (backend specifics: endpoints, device map, baseline corpus);
* ``benchmark``: ``name``, ``version``, ``content_hash`` (manifest shard hash), ``items_hash``
  (hash of the rows themselves), ``source``, ``revision``, ``registered``, ``variant``,
  ``items`` evaluated, ``complete`` (every item of the benchmark was evaluated);
* ``prompt``: ``version``, ``hash``; ``generation``: decoding settings;
* ``judge``: judge model / prompt version / prompt hash, or None when reports were not judged;
  ``report_status``: ``judged`` | ``partially_judged`` | ``not_judged`` | ``no_items``;
* the scorer's ``scores``, ``counts``, ``weights``, ``ci``, ``answers``, ``report``, ``levels``,
  ``breakdowns``, ``warnings`` and ``scoring``; the ``report`` blocks (top level and per
  breakdown) pass through :func:`report_block`, which adds ``means_over`` and nulls the
  judge-score means when no report was judged;
* ``unanswered``: items whose output was empty (``[{id, kind}]``); ``errors``: ``count`` and
  ``items`` (``[{id, kind, error}]``) for requests that failed for good;
* ``run``: ``date`` (ISO 8601, UTC), ``kit_version``, ``device``, ``dtype``, ``backend``,
  ``concurrency``, ``batch_size``, ``wall_time_s``, ``requests``, ``resumed_items``, ...;
* ``files``: paths, relative to the results file, of the predictions, the per-item table
  (``samples``: :mod:`spinemed.evaluation.samples`), plots, model index.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_write_text
from spinemed.schema import DIMENSIONS, KINDS, MCQ_KINDS
from spinemed.scoring import MCQ_STATUSES, weighted_total

__all__ = [
    "BACKENDS",
    "REPORT_STATUSES",
    "RESULTS_KIND",
    "RESULTS_SCHEMA_VERSION",
    "ResultsError",
    "load_results",
    "report_block",
    "report_status",
    "validate_results",
    "write_results",
]

RESULTS_SCHEMA_VERSION = "1.0"
RESULTS_KIND = "spinebench-results"
# How the outputs were produced; "external": predictions made elsewhere and scored here
# (e.g. a leaderboard submission rescored by the Space).
BACKENDS = ("transformers", "openai", "baseline", "external")
REPORT_STATUSES = ("judged", "partially_judged", "not_judged", "no_items")
SCORE_KEYS = ("text_mcq", "image_mcq", "closed_qa", "report", "total")
COUNT_KEYS = (*KINDS, "closed_qa", "total")

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema_version": str,
    "kind": str,
    "model": dict,
    "benchmark": dict,
    "prompt": dict,
    "generation": dict,
    "report_status": str,
    "scores": dict,
    "counts": dict,
    "weights": dict,
    "answers": dict,
    "report": dict,
    "levels": dict,
    "breakdowns": dict,
    "warnings": list,
    "scoring": dict,
    "unanswered": list,
    "errors": dict,
    "run": dict,
    "files": dict,
}
_OPTIONAL_NULLABLE = {"judge": dict, "ci": dict}


class ResultsError(ValueError):
    """A results file that does not follow the schema; ``problems`` lists every finding."""

    def __init__(self, where: str, problems: list[str]):
        self.problems = list(problems)
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{where}: not a valid SpineBench results file ({len(self.problems)} problem(s)):\n  {shown}{more}")


def report_status(report: Mapping[str, Any], n_reports: int) -> str:
    """``report_status`` from the scorer's ``report`` block and the number of report items.

    ``judged``: every report has an item score (judged, or floor-scored because the output was
    missing or empty), so P3 exists; ``partially_judged``: some reports were judged, not all;
    ``not_judged``: none was (no judge configured, or every judgement failed); ``no_items``.
    """
    if n_reports == 0:
        return "no_items"
    scored = int(report.get("scored", report.get("judged", 0)))
    if scored >= n_reports:
        return "judged"
    return "partially_judged" if int(report.get("judged", 0)) else "not_judged"


MEANS_OVER = ("judged", "judged_and_floor_scored", "none")


def report_block(report: Mapping[str, Any]) -> dict[str, Any]:
    """The scorer's ``report`` block, saying what its judge-score means rest on.

    ``dimensions`` and ``sections`` are means of 1-5 judge scores over the scored reports, and
    the scorer counts a missing or empty output as scored at the floor.  With no report judged
    those means would be the floor alone and read like a judgement, so they are set to null.
    ``means_over`` says what the means cover: ``judged`` (every scored report was judged),
    ``judged_and_floor_scored`` (judged reports plus ``floor_scored`` ones at the floor, as P3
    counts them) or ``none`` (nothing judged: the means are null; ``floor_scored`` and
    ``scored_mean`` still show any floor scores).
    """
    out = dict(report)
    out["means_over"] = _means_over(report)
    if out["means_over"] == "none":
        out["dimensions"] = {d: None for d in (report.get("dimensions") or DIMENSIONS)}
        out["sections"] = {name: None for name in (report.get("sections") or {})}
    return out


def _means_over(report: Mapping[str, Any]) -> str:
    if not report.get("judged"):
        return "none"
    return "judged_and_floor_scored" if report.get("floor_scored") else "judged"


def benchmark_warnings(bench: Any) -> list[str]:
    """The notes every results file of `bench` starts with (sample build, unregistered, subset)."""
    notes = []
    if getattr(bench, "variant", None) == "sample":
        notes.append("this is the sample SpineBench built from the shipped sample sources with simulated reviewers: "
                     "for trying the tools, not for reporting a result")
    if not bench.registered:
        notes.append(f"benchmark {bench.name} {bench.version} (items hash {bench.items_hash[:16]}...) is not a "
                     "registered SpineBench release: these scores are not comparable with the leaderboard")
    return notes


def assemble_results(metric: Mapping[str, Any], *, model: Mapping[str, Any], benchmark: Mapping[str, Any],
                     prompt: Mapping[str, Any], generation: Mapping[str, Any], run: Mapping[str, Any],
                     warnings: list[str], unanswered: list[dict], errors: list[dict],
                     files: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A results dict in the one schema, from `spinemed.scoring.score_predictions`' output.

    The evaluation runner and the Space's rescoring both build their results here, so the
    score blocks (report means, breakdowns, report status) are derived one way only."""
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "kind": RESULTS_KIND,
        "model": dict(model),
        "benchmark": dict(benchmark),
        "prompt": dict(prompt),
        "generation": dict(generation),
        "judge": metric["judge"],
        "report_status": report_status(metric["report"], metric["counts"]["report"]),
        **{k: metric[k] for k in ("scores", "counts", "weights", "ci", "answers", "levels")},
        "report": report_block(metric["report"]),
        "breakdowns": {key: {value: {**block, "report": report_block(block["report"])} if "report" in block else block
                             for value, block in groups.items()}
                       for key, groups in metric["breakdowns"].items()},
        "scoring": metric["config"],
        "warnings": list(warnings),
        "unanswered": list(unanswered),
        "errors": {"count": len(errors), "items": list(errors)},
        "run": dict(run),
        "files": dict(files),
    }
    results.update(extra)
    return results


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_str(problems: list[str], obj: Mapping, key: str, where: str, *, nullable: bool = False, nonempty: bool = True) -> None:
    if key not in obj:
        problems.append(f"{where}.{key}: missing")
        return
    v = obj[key]
    if v is None and nullable:
        return
    if not isinstance(v, str) or (nonempty and not v.strip()):
        problems.append(f"{where}.{key}: expected a {'non-empty ' if nonempty else ''}string{' or null' if nullable else ''}, got {v!r}")


def _check_scores_block(problems: list[str], scores: Any, counts: Any, prefix: str) -> None:
    """Scores in 0-100 (or null), counts consistent, total = the count-weighted sum.

    `prefix` is "" for the top level or e.g. "breakdowns.language.en." for a group."""
    where = prefix
    if not isinstance(scores, Mapping) or not isinstance(counts, Mapping):
        problems.append(f"{where or 'top level'}: scores and counts must be objects")
        return
    ok_counts = True
    for k in COUNT_KEYS:
        n = counts.get(k)
        if not _is_int(n) or n < 0:
            problems.append(f"{where}counts.{k}: expected a non-negative integer, got {n!r}")
            ok_counts = False
    if ok_counts:
        if counts["closed_qa"] != counts["text_mcq"] + counts["image_mcq"]:
            problems.append(f"{where}counts.closed_qa: {counts['closed_qa']} != text_mcq + image_mcq")
        if counts["total"] != sum(counts[k] for k in KINDS):
            problems.append(f"{where}counts.total: {counts['total']} != text_mcq + image_mcq + report")
    ok_scores = True
    for k in SCORE_KEYS:
        if k not in scores:
            problems.append(f"{where}scores.{k}: missing (use null for no score)")
            ok_scores = False
            continue
        v = scores[k]
        if v is not None and (not _is_num(v) or not 0.0 <= v <= 100.0):
            problems.append(f"{where}scores.{k}: expected a number in 0-100 or null, got {v!r}")
            ok_scores = False
    if not (ok_counts and ok_scores):
        return
    for k in (*MCQ_KINDS, "closed_qa"):
        if (scores[k] is None) != (counts[k] == 0):
            problems.append(f"{where}scores.{k}: {scores[k]!r} does not fit {counts[k]} item(s) (null exactly when there are none)")
    if counts["closed_qa"] and None not in (scores["closed_qa"], *(scores[k] for k in MCQ_KINDS if counts[k])):
        expected = sum(scores[k] * counts[k] for k in MCQ_KINDS if counts[k]) / counts["closed_qa"]
        if abs(expected - scores["closed_qa"]) > 1e-6:
            problems.append(f"{where}scores.closed_qa: {scores['closed_qa']!r} is not the count-weighted mean of "
                            f"the MCQ kinds ({expected!r})")
    if counts["report"] == 0 and scores["report"] is not None:
        problems.append(f"{where}scores.report: {scores['report']!r} but there are no report items")
    if counts["total"]:
        expected = weighted_total({k: scores[k] for k in KINDS}, {k: counts[k] for k in KINDS})
        got = scores["total"]
        if (expected is None) != (got is None) or (expected is not None and abs(expected - got) > 1e-6):
            problems.append(f"{where}scores.total: {got!r} is not the count-weighted total of its components ({expected!r})")


def _check_answers(problems: list[str], answers: Any, counts: Mapping, where: str) -> None:
    if not isinstance(answers, Mapping):
        problems.append(f"{where}: expected an object")
        return
    for k in MCQ_KINDS:
        tally = answers.get(k)
        if not isinstance(tally, Mapping):
            problems.append(f"{where}.{k}: missing")
            continue
        bad = [s for s in ("correct", *MCQ_STATUSES) if not _is_int(tally.get(s)) or tally.get(s) < 0]
        if bad:
            problems.append(f"{where}.{k}: {', '.join(bad)} must be non-negative integers")
            continue
        n = counts.get(k)
        if _is_int(n) and sum(tally[s] for s in MCQ_STATUSES) != n:
            problems.append(f"{where}.{k}: statuses sum to {sum(tally[s] for s in MCQ_STATUSES)}, but there are {n} item(s)")
        if tally["correct"] > tally["answered"]:
            problems.append(f"{where}.{k}: correct ({tally['correct']}) > answered ({tally['answered']})")


def _check_report(problems: list[str], report: Any, counts: Mapping, status: Any, where: str, scores_report: Any) -> None:
    if not isinstance(report, Mapping):
        problems.append(f"{where}: expected an object")
        return
    for key in ("judged", "not_judged", "missing_outputs"):
        if not _is_int(report.get(key)) or report[key] < 0:
            problems.append(f"{where}.{key}: expected a non-negative integer, got {report.get(key)!r}")
            return
    n = counts.get("report")
    if _is_int(n) and report["judged"] + report["not_judged"] != n:
        problems.append(f"{where}: judged + not_judged = {report['judged'] + report['not_judged']}, but there are {n} report item(s)")
    dims = report.get("dimensions")
    if not isinstance(dims, Mapping) or set(dims) != set(DIMENSIONS):
        problems.append(f"{where}.dimensions: expected exactly the ten dimensions {', '.join(DIMENSIONS)}")
    else:
        for d, v in dims.items():
            if v is not None and (not _is_num(v) or not 1.0 <= v <= 5.0):
                problems.append(f"{where}.dimensions.{d}: expected a mean in 1-5 or null, got {v!r}")
        if "means_over" in report:  # written by report_block (older files and external tools may lack it)
            expected = _means_over(report)
            if report["means_over"] not in MEANS_OVER:
                problems.append(f"{where}.means_over: {report['means_over']!r} is not one of {', '.join(MEANS_OVER)}")
            elif report["means_over"] != expected:
                problems.append(f"{where}.means_over: {report['means_over']!r} but the counts say {expected!r}")
            if report["judged"] == 0 and any(v is not None for v in dims.values()):
                problems.append(f"{where}.dimensions: no report was judged, so the judge-score means must be null "
                                "(floor scores are counted in floor_scored / scored_mean)")
    if _is_int(n) and n and report.get("complete") is True and scores_report is None and report.get("partial_reports") != "mean":
        problems.append(f"{where}: every report item is scored but scores.report is null")
    if report.get("scored") == 0 and scores_report is not None:
        problems.append(f"{where}: no report item is scored but scores.report is {scores_report!r}")
    if status not in REPORT_STATUSES:
        problems.append(f"report_status: {status!r} is not one of {', '.join(REPORT_STATUSES)}")
    elif _is_int(n) and status != report_status(report, n):
        problems.append(f"report_status: {status!r} but the report block says {report_status(report, n)!r}")


def _check_ci(problems: list[str], ci: Any, scores: Mapping) -> None:
    if ci is None:
        return
    intervals = ci.get("intervals") if isinstance(ci, Mapping) else None
    if not isinstance(intervals, Mapping):
        problems.append("ci.intervals: missing")
        return
    for k in SCORE_KEYS:
        iv = intervals.get(k)
        if iv is None:
            if isinstance(scores, Mapping) and scores.get(k) is not None:
                problems.append(f"ci.intervals.{k}: null but scores.{k} has a value")
            continue
        if not (isinstance(iv, list) and len(iv) == 2 and all(_is_num(x) for x in iv) and 0 <= iv[0] <= iv[1] <= 100):
            problems.append(f"ci.intervals.{k}: expected [low, high] with 0 <= low <= high <= 100, got {iv!r}")
    conf = ci.get("confidence")
    if not _is_num(conf) or not 0 < conf < 1:
        problems.append(f"ci.confidence: expected a number in (0, 1), got {conf!r}")


def validate_results(obj: Any) -> list[str]:
    """Every way `obj` departs from the results schema, as readable strings; [] when valid.

    Checks types and required keys, the schema version, that scores are percentages that fit
    their counts (null exactly where a part has no items), that the total is the
    count-weighted sum of its parts, answer tallies, the report block against
    ``report_status``, the intervals, the error list and the run date.
    """
    if not isinstance(obj, Mapping):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    problems: list[str] = []
    for key, typ in _REQUIRED.items():
        if key not in obj:
            problems.append(f"{key}: missing")
        elif not isinstance(obj[key], typ):
            problems.append(f"{key}: expected {typ.__name__ if isinstance(typ, type) else typ}, got {type(obj[key]).__name__}")
    for key, typ in _OPTIONAL_NULLABLE.items():
        if key not in obj:
            problems.append(f"{key}: missing (use null)")
        elif obj[key] is not None and not isinstance(obj[key], typ):
            problems.append(f"{key}: expected an object or null, got {type(obj[key]).__name__}")
    if problems:
        return problems

    version = obj["schema_version"]
    if version.split(".")[0] != RESULTS_SCHEMA_VERSION.split(".")[0]:
        problems.append(f"schema_version: {version!r} is not readable by this kit (expects {RESULTS_SCHEMA_VERSION})")
    if obj["kind"] != RESULTS_KIND:
        problems.append(f"kind: expected {RESULTS_KIND!r}, got {obj['kind']!r}")

    model = obj["model"]
    _check_str(problems, model, "id", "model")
    _check_str(problems, model, "name", "model")
    _check_str(problems, model, "revision", "model", nullable=True)
    if model.get("backend") not in BACKENDS:
        problems.append(f"model.backend: {model.get('backend')!r} is not one of {', '.join(BACKENDS)}")
    if not isinstance(model.get("baseline"), bool):
        problems.append(f"model.baseline: expected true/false, got {model.get('baseline')!r}")

    bench = obj["benchmark"]
    for key in ("name", "version", "items_hash"):
        _check_str(problems, bench, key, "benchmark")
    _check_str(problems, bench, "content_hash", "benchmark", nullable=True)
    for key in ("registered", "complete"):
        if not isinstance(bench.get(key), bool):
            problems.append(f"benchmark.{key}: expected true/false, got {bench.get(key)!r}")
    if not _is_int(bench.get("items")) or bench["items"] < 0:
        problems.append(f"benchmark.items: expected a non-negative integer, got {bench.get('items')!r}")
    elif _is_int(obj["counts"].get("total")) and bench["items"] != obj["counts"]["total"]:
        problems.append(f"benchmark.items: {bench['items']} but counts.total is {obj['counts']['total']}")

    _check_str(problems, obj["prompt"], "version", "prompt")
    _check_str(problems, obj["prompt"], "hash", "prompt")

    _check_scores_block(problems, obj["scores"], obj["counts"], "")
    _check_answers(problems, obj["answers"], obj["counts"], "answers")
    _check_report(problems, obj["report"], obj["counts"], obj["report_status"], "report", obj["scores"].get("report"))
    if obj["judge"] is None and obj["report"].get("judged"):
        problems.append("judge: null but report.judged > 0 (say which judge scored the reports)")
    _check_ci(problems, obj["ci"], obj["scores"])

    for key, groups in obj["breakdowns"].items():
        if not isinstance(groups, Mapping):
            problems.append(f"breakdowns.{key}: expected an object of groups")
            continue
        for value, block in groups.items():
            if not isinstance(block, Mapping):
                problems.append(f"breakdowns.{key}.{value}: expected an object")
                continue
            _check_scores_block(problems, block.get("scores"), block.get("counts"), f"breakdowns.{key}.{value}.")

    if not all(isinstance(w, str) for w in obj["warnings"]):
        problems.append("warnings: expected a list of strings")
    for i, entry in enumerate(obj["unanswered"]):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or entry.get("kind") not in KINDS:
            problems.append(f"unanswered[{i}]: expected {{id, kind}}, got {entry!r}")
    errors = obj["errors"]
    items = errors.get("items")
    if not isinstance(items, list) or not _is_int(errors.get("count")):
        problems.append("errors: expected {count: int, items: [...]}")
    else:
        if errors["count"] != len(items):
            problems.append(f"errors.count: {errors['count']} but {len(items)} item(s) listed")
        for i, entry in enumerate(items):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("error"), str):
                problems.append(f"errors.items[{i}]: expected {{id, kind, error}}, got {entry!r}")

    run = obj["run"]
    date = run.get("date")
    try:
        datetime.fromisoformat(str(date).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"run.date: {date!r} is not an ISO 8601 timestamp")
    _check_str(problems, run, "kit_version", "run")
    if not _is_num(run.get("wall_time_s")) or run["wall_time_s"] < 0:
        problems.append(f"run.wall_time_s: expected a non-negative number, got {run.get('wall_time_s')!r}")
    return problems


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a results JSON file; raises :class:`ResultsError` listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(str(p), [f"cannot read the file ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError as exc:
        raise ResultsError(str(p), [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nesting too deep
        raise ResultsError(str(p), [f"not valid JSON ({exc})"]) from None
    problems = validate_results(obj)
    if problems:
        raise ResultsError(str(p), problems)
    return obj


def write_results(results: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Validate and write atomically (a reader never sees half a file); raises on an invalid payload."""
    problems = validate_results(results)
    if problems:
        raise ResultsError("results to write", problems)
    return atomic_write_text(path, json.dumps(results, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
