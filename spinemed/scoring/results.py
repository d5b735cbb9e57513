"""`score_predictions`: the "results" payload every consumer shares (design section 6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spinemed.judge.records import JudgeRun

from .bootstrap import bootstrap_ci
from .formulas import FLOOR_SCORE, SCORER_VERSION, normalize_sections
from .items import ItemScore, score_items
from .summary import _check_partial, summarize


def _from_judge_run(judge_scores: Any) -> tuple[Any, Any, dict[str, Any] | None, list[str] | None]:
    """(scores, errors, info, item ids) from a JudgeRun or its JSON (``JudgeRun.to_json()``),
    else (judge_scores, None, None, None)."""
    if isinstance(judge_scores, Mapping) and "results" in judge_scores and "prompt_hash" in judge_scores:
        judge_scores = JudgeRun.from_json(judge_scores)
    if judge_scores is not None and hasattr(judge_scores, "scores") and hasattr(judge_scores, "info"):
        errors = judge_scores.errors() if hasattr(judge_scores, "errors") else None
        item_ids = list(getattr(judge_scores, "item_ids", None) or []) or None
        return judge_scores.scores(), errors, judge_scores.info(), item_ids
    return judge_scores, None, None, None


def score_predictions(
    items: Sequence[Mapping[str, Any]],
    predictions: Sequence[str | None],
    judge_scores: Any = None,
    *,
    sections: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    levels: bool = True,
    breakdowns: Sequence[str] = ("subfield", "language"),
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    judge_info: Mapping[str, Any] | None = None,
    return_items: bool = False,
    partial_reports: str = "none",
    judge_errors: Sequence[str | None] | Mapping[str, str] | None = None,
    request_errors: Sequence[str | None] | Mapping[str, str] | None = None,
    llm_answers: Sequence[str | None] | Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Score model outputs on SpineBench items: the "results" payload every consumer shares.

    Args:
        items: one mapping per item (a list, or a ``datasets.Dataset`` of SpineBench rows: drop
            its ``images`` column first so rows are not decoded for nothing).  Keys: ``kind``
            ("text_mcq" | "image_mcq" | "report" | "open_qa"), or a row's ``task`` ("mcq" |
            "report" | "open_qa") + ``modality`` ("text" | "image", for MCQ);
            ``answer`` (MCQ reference letters, e.g. "B" or "AC"; an open_qa row's reference
            answer text); optional ``options`` (letter string, ``{letter: text}`` or the row's
            ``[{"label", "text"}]``; default "ABCDE"); for reports and open_qa optional
            ``reference`` (text or dict of parts; a report row's ``report`` dict or an open_qa
            row's ``answer`` is used otherwise) and ``levels`` (curated reference levels;
            parsed from the reference text when absent); optional ``id``, ``subfield``,
            ``language``.
        predictions: the model's free-text output per item.  None is a missing output: wrong
            and counted for MCQ, floor-scored for reports (raises in strict mode).  A blank
            report output is floor-scored too.
        judge_scores: per-dimension 1-5 scores for report items, either a list aligned with
            `items` (None for items not judged) or a mapping item id -> scores; a
            :class:`spinemed.judge.JudgeRun` or its JSON (``JudgeRun.to_json()``, the
            ``judge.json`` the evaluation runner writes) is accepted too: its scores, its
            failures (as `judge_errors`) and its metadata (as `judge_info`) are used.
        sections: dimension grouping for P3 (default :data:`DEFAULT_SECTIONS`).
        strict: raise instead of counting when an output is None or a report has no judge scores.
        levels: compute level-aware scores for report and open_qa items.
        breakdowns: item metadata keys to break the scores down by, where items carry them.
        bootstrap: number of bootstrap resamples for 95% intervals (0 = off).
        judge_info: judge metadata (model, prompt version and hash) to record in the results.
        return_items: include the per-item records.
        partial_reports: what P3 is when some report items are neither judged nor
            floor-scored (judge failures, missing judge scores): "none" (default): P3 and the
            total are None, with counts and a warning; "mean": P3 is the mean over the scored
            reports (an explicit opt-in, recorded in ``config`` and ``report``).
        judge_errors: report items whose judgement failed, as a list aligned with `items`
            (None where it did not) or a mapping item id -> reason; counted as ``judge_failed``.
        request_errors: items whose model request failed for good (endpoint errors), aligned
            the same way: a report with no output is then ``request_failed`` (unscored, never
            floor-scored; the report block gains ``request_failed`` and ``request_failures``),
            an MCQ item stays ``missing``.
        llm_answers: letters an LLM extractor read from MCQ outputs the rules left unparsed
            (aligned, or item id -> letters); such items count as answered, marked
            ``extraction: "llm"`` and counted per kind in ``answers[kind]["llm_extracted"]``.

    Returns:
        A JSON-serialisable dict:

        - ``scores``: ``text_mcq`` (P1), ``image_mcq`` (P2), ``closed_qa``, ``report`` (P3),
          ``total``; percent (0-100); None where a part has no items, and P3 / total None
          while any report item is unscored (see `partial_reports`).
        - ``counts``: N_k per weighted kind plus ``closed_qa`` and ``total`` (open_qa items are
          counted in ``open_qa``, not here); ``weights``: w_k.
        - ``answers``: per MCQ kind the number ``correct`` and per extraction status
          (``answered``, ``refused``, ``empty``, ``unparsed``, ``missing``).
        - ``report``: ``judged``, ``not_judged`` (= N_report - judged), split into
          ``floor_scored``, ``judge_failed`` and ``no_judge_scores``; ``scored`` (judged +
          floor-scored), ``complete``, ``partial_reports``, ``scored_mean`` (mean P3 over the
          scored reports, also when P3 is None), ``missing_outputs`` (None),
          ``empty_outputs`` (blank), ``ignored_judge_scores``, ``judge_failures`` (``[{id,
          error}]``), ``sections`` (0-100 per section) and ``dimensions`` (mean 1-5 per
          dimension) over the scored reports.
        - ``levels``: level-aware precision/recall/F1 of report items (0-1; micro over pooled
          counts and ``macro_*`` over items), ``items`` compared and ``no_reference_levels``.
        - ``open_qa``: ``count``, ``answered`` / ``empty`` / ``missing`` and ``levels`` (the
          same level-aware block) for open_qa items; not part of the total.
        - ``breakdowns``: ``{key: {value: {scores, counts, weights, answers, report, levels,
          open_qa}}}`` for each key in `breakdowns` that the items carry (weights are the
          subgroup's own).
        - ``ci``: bootstrap intervals (see :func:`bootstrap_ci`) or None.
        - ``judge``: judge metadata or None; ``config``: scorer version, sections, options;
          ``warnings``: human-readable notes on anything partial; ``items`` when asked.
    """
    _check_partial(partial_reports)
    judge_scores, run_errors, run_info, run_ids = _from_judge_run(judge_scores)
    if run_info is not None:
        judge_info = {**run_info, **(judge_info or {})}
        if run_errors is not None:
            if judge_errors is not None:
                raise ValueError("judge_errors: given together with a JudgeRun, which carries its own failures")
            judge_errors = run_errors
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes, Mapping)):
        items = list(items)  # indexed again below for breakdown keys
    if run_ids is not None:
        ids = [str(item.get("id") or i) if isinstance(item, Mapping) else "" for i, item in enumerate(items)]
        if run_ids != ids:
            raise ValueError("judge_scores: the JudgeRun was made for another item list (its item ids differ from items'); "
                             "judge these items or pass the scores keyed by item id")
    secs = normalize_sections(sections)
    scored = score_items(items, predictions, judge_scores, sections=secs, strict=strict, levels=levels, judge_errors=judge_errors,
                         request_errors=request_errors, llm_answers=llm_answers)
    result = summarize(scored, secs, partial_reports=partial_reports)

    result["breakdowns"] = {}
    for key in breakdowns:
        groups: dict[str, list[ItemScore]] = {}
        for s in scored:
            value = getattr(s, key, None) if key in ("subfield", "language") else items[s.index].get(key)
            if value:
                groups.setdefault(str(value), []).append(s)
        if groups:
            result["breakdowns"][key] = {v: summarize(g, secs, partial_reports=partial_reports) for v, g in sorted(groups.items())}

    result["ci"] = (
        bootstrap_ci(scored, n_resamples=bootstrap, seed=seed, confidence=confidence, partial_reports=partial_reports)
        if bootstrap else None
    )
    result["judge"] = dict(judge_info) if judge_info else None
    result["config"] = {
        "scorer_version": SCORER_VERSION,
        "sections": {k: list(v) for k, v in secs.items()},
        "strict": strict,
        "levels": levels,
        "partial_reports": partial_reports,
        "floor_score": FLOOR_SCORE,
    }
    result["warnings"] = _warnings(result)
    if return_items:
        result["items"] = [s.to_json() for s in scored]
    return result


def _warnings(result: Mapping[str, Any]) -> list[str]:
    warnings = []
    rep, n = result["report"], result["counts"]["report"]
    if rep["floor_scored"]:
        warnings.append(
            f"{rep['floor_scored']} of {n} report outputs are missing or empty: scored at the floor "
            f"(every dimension 1, item P3 = {FLOOR_SCORE:g})"
        )
    if rep["ignored_judge_scores"]:
        warnings.append(f"judge scores given for {rep['ignored_judge_scores']} empty report output(s) were ignored (floor-scored)")
    unscored = n - rep["scored"]
    if unscored:
        parts = [f"{k} {label}" for k, label in ((rep["judge_failed"], "judgement(s) failed"), (rep["no_judge_scores"], "without judge scores"),
                                                 (rep.get("request_failed", 0), "model request(s) failed")) if k]
        why = f" ({', '.join(parts)})"
        if not rep["scored"]:
            warnings.append(f"{unscored} report items not judged{why}: P3 and the total are None")
        elif rep["partial_reports"] == "mean":
            warnings.append(
                f"{unscored} of {n} report items not judged{why}: P3 is the mean over the {rep['scored']} scored items "
                "(partial_reports='mean')"
            )
        else:
            warnings.append(
                f"{unscored} of {n} report items not judged{why}: P3 and the total are None; "
                f"pass partial_reports='mean' to score P3 over the {rep['scored']} scored items"
            )
    missing = sum(a["missing"] for a in result["answers"].values())
    if missing:
        warnings.append(f"{missing} MCQ outputs are None (counted as 'missing', scored wrong)")
    oq = result["open_qa"]
    if oq["count"] and oq["levels"]["no_reference_levels"]:
        warnings.append(f"{oq['levels']['no_reference_levels']} of {oq['count']} open_qa items have no reference level: not compared")
    return warnings
