"""Aggregation: item scores to the headline block (scores, counts, weights, answers, report, levels, open_qa)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spinemed.schema import DIMENSIONS, ITEM_KINDS, KINDS, MCQ_KINDS

from .formulas import (
    MCQ_STATUSES,
    OPEN_QA_STATUSES,
    PARTIAL_REPORTS,
    REPORT_STATUSES,
    mcq_accuracy,
    normalize_sections,
    weighted_total,
    weights,
)
from .items import ItemScore


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _check_partial(partial_reports: str) -> str:
    if partial_reports not in PARTIAL_REPORTS:
        raise ValueError(f"partial_reports must be one of {', '.join(map(repr, PARTIAL_REPORTS))}, got {partial_reports!r}")
    return partial_reports


def _level_summary(scored: list[ItemScore], kind: str = "report") -> dict[str, Any]:
    """Micro (pooled tp/fp/fn) and macro (mean of per-item) level precision/recall/F1, on 0-1.

    Only items of `kind` whose reference names a level are compared; all None when there are none.
    """
    of_kind = [s for s in scored if s.kind == kind]
    with_ref = [s.levels for s in of_kind if s.levels is not None]
    tp = sum(int(lv["tp"]) for lv in with_ref)
    fp = sum(int(lv["fp"]) for lv in with_ref)
    fn = sum(int(lv["fn"]) for lv in with_ref)
    if with_ref:
        # Same convention as `levels.level_prf`: naming no level at all earns precision 0.
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)  # every compared item has reference levels, so tp + fn > 0
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    else:
        precision = recall = f1 = None

    def macro(key: str) -> float | None:
        return _mean([float(lv[key]) for lv in with_ref])

    return {
        "items": len(with_ref),
        "no_reference_levels": len(of_kind) - len(with_ref),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "macro_f1": macro("f1"),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


_SCORED_REPORT = ("judged", "floor_scored")


def _report_p3(reports: list[ItemScore], partial_reports: str) -> float | None:
    """P3: the mean over scored reports when all are scored (or the caller opted into a partial mean)."""
    scored = [s.score for s in reports if s.status in _SCORED_REPORT]
    if len(scored) < len(reports) and partial_reports != "mean":
        return None
    return _mean(scored)


def summarize(
    scored: Sequence[ItemScore],
    sections: Mapping[str, Sequence[str]] | None = None,
    *,
    partial_reports: str = "none",
) -> dict[str, Any]:
    """Aggregate item scores into the headline block (scores, counts, weights, answers, report, levels, open_qa)."""
    secs = normalize_sections(sections)
    _check_partial(partial_reports)
    by_kind: dict[str, list[ItemScore]] = {k: [s for s in scored if s.kind == k] for k in ITEM_KINDS}
    counts = {k: len(by_kind[k]) for k in KINDS}
    mcq = by_kind["text_mcq"] + by_kind["image_mcq"]
    reports = by_kind["report"]
    in_p3 = [s for s in reports if s.status in _SCORED_REPORT]
    status_count = {st: sum(1 for s in reports if s.status == st) for st in REPORT_STATUSES}

    scores: dict[str, float | None] = {
        "text_mcq": mcq_accuracy([s.correct for s in by_kind["text_mcq"]]),
        "image_mcq": mcq_accuracy([s.correct for s in by_kind["image_mcq"]]),
        "closed_qa": mcq_accuracy([s.correct for s in mcq]),
        "report": _report_p3(reports, partial_reports),
    }
    scores["total"] = weighted_total(scores, counts) if sum(counts.values()) else None

    answers = {}
    for k in MCQ_KINDS:
        tally = {st: 0 for st in MCQ_STATUSES}
        for s in by_kind[k]:
            tally[s.status] = tally.get(s.status, 0) + 1
        answers[k] = {"correct": sum(1 for s in by_kind[k] if s.correct), **tally}
        llm = sum(1 for s in by_kind[k] if s.extraction == "llm")
        if llm:  # only then, so the blocks of runs without an LLM extractor keep their bytes
            answers[k]["llm_extracted"] = llm  # of `answered`: found by the LLM extractor, not the rules

    report = {
        # judged + not_judged = N_report; not_judged = floor_scored + judge_failed + no_judge_scores
        # (+ request_failed, a key present only when some model request failed).
        "judged": status_count["judged"],
        "not_judged": counts["report"] - status_count["judged"],
        "floor_scored": status_count["floor_scored"],
        "judge_failed": status_count["judge_failed"],
        "no_judge_scores": status_count["not_judged"],
        "scored": len(in_p3),
        "complete": len(in_p3) == counts["report"],
        "partial_reports": partial_reports,
        "scored_mean": _mean([s.score for s in in_p3]),
        "missing_outputs": sum(1 for s in reports if s.missing_output),
        "empty_outputs": sum(1 for s in reports if s.status == "floor_scored" and not s.missing_output),
        "ignored_judge_scores": sum(1 for s in reports if s.ignored_judge_scores),
        "judge_failures": [{"id": s.id, "error": s.error} for s in reports if s.status == "judge_failed"],
        "sections": {name: _mean([s.sections[name] for s in in_p3]) for name in secs},
        "dimensions": {d: _mean([s.dimensions[d] for s in in_p3]) for d in DIMENSIONS},
    }
    if status_count["request_failed"]:  # only then, so the blocks of runs without failures keep their bytes
        report["request_failed"] = status_count["request_failed"]
        report["request_failures"] = [{"id": s.id, "error": s.error} for s in reports if s.status == "request_failed"]
    open_items = by_kind["open_qa"]
    open_qa = {
        "count": len(open_items),
        **{st: sum(1 for s in open_items if s.status == st) for st in OPEN_QA_STATUSES},
        "levels": _level_summary(open_items, "open_qa"),
    }
    return {
        "scores": scores,
        "counts": {**counts, "closed_qa": len(mcq), "total": sum(counts.values())},
        "weights": weights(counts) if sum(counts.values()) else {},
        "answers": answers,
        "report": report,
        "levels": _level_summary(list(scored), "report"),
        "open_qa": open_qa,
    }
