"""Item-level scoring: one :class:`ItemScore` per item (MCQ extraction, report judge scores or
the floor, level-aware comparison); :mod:`spinemed.scoring.summary` aggregates them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from spinemed.choices import extract_choice_detailed
from spinemed.levels import canonical_level, level_prf, level_sort_key, parse_levels
from spinemed.schema import DIMENSIONS, MCQ_KINDS, item_kind

from .formulas import FLOOR_DIMENSION_SCORE, normalize_sections, section_scores, validate_dimension_scores


@dataclass
class ItemScore:
    """How one item was scored (one entry of the results' ``items`` list).

    status: MCQ items "answered" | "refused" | "empty" | "unparsed" | "missing" (output None);
    report items "judged" | "floor_scored" (output None or blank) | "judge_failed" |
    "not_judged" (no judge scores given) | "request_failed" (the request failed: unscored, never floored); open_qa items "answered" | "empty" | "missing".
    `score` is 100/0 for MCQ, the item's P3 for judged and floor-scored reports (20 for the
    floor), None otherwise (open_qa items have level scores only).  `levels` holds the
    level-aware comparison for report and open_qa items whose reference names at least one
    vertebral level.  `error` is the judge's failure reason for "judge_failed" items.
    """

    index: int
    id: str
    kind: str
    status: str
    score: float | None
    extracted: str | None = None
    reference: str | None = None
    correct: bool | None = None
    sections: dict[str, float] | None = None
    dimensions: dict[str, float] | None = None
    levels: dict[str, Any] | None = None
    missing_output: bool = False
    subfield: str = ""
    language: str = ""
    error: str = ""
    ignored_judge_scores: bool = False  # a floor-scored report that came with judge scores
    # MCQ items: how the answer was found: "rules" (spinemed.choices), "llm" (the LLM extractor,
    # for an output the rules left unparsed) or "none" (no answer); None for other kinds.
    extraction: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _options(item: Mapping[str, Any], where: str) -> tuple[str, dict[str, str] | None]:
    """Option letters and texts from the item: "ABCDE", [{"label", "text"}, ...] or {letter: text}."""
    opts = item.get("options")
    if opts is None or opts == "" or (isinstance(opts, (list, tuple, dict)) and not opts):
        return "ABCDE", None
    if isinstance(opts, str):
        letters = opts.strip().upper()
        if not letters.isalpha() or len(set(letters)) != len(letters):
            raise ValueError(f"{where}: options {opts!r} is not a string of distinct letters")
        return letters, None
    if isinstance(opts, Mapping):
        texts = {str(k).strip().upper(): str(v) for k, v in opts.items()}
    elif isinstance(opts, (list, tuple)) and all(isinstance(o, Mapping) and "label" in o for o in opts):
        texts = {str(o["label"]).strip().upper(): str(o.get("text", "")) for o in opts}
    else:
        raise ValueError(f"{where}: options must be a letter string, a mapping or a list of {{'label','text'}}, got {opts!r}")
    if not all(len(k) == 1 and k.isalpha() for k in texts):
        raise ValueError(f"{where}: option labels must be single letters, got {sorted(texts)}")
    return "".join(sorted(texts)), texts


_ANSWER_SEPARATORS = str.maketrans("", "", " \t,;/、，；|+&")


def _reference_letters(answer: Any, letters: str, where: str) -> str:
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"{where}: MCQ reference 'answer' must be a non-empty string of option letters, got {answer!r}")
    # Full-width letters (Ａ-Ｚ) fold to ASCII before the check.
    folded = "".join(chr(ord(c) - 0xFEE0) if "Ａ" <= c <= "Ｚ" or "ａ" <= c <= "ｚ" else c for c in answer)
    cleaned = folded.translate(_ANSWER_SEPARATORS).upper()
    bad = [c for c in cleaned if c not in letters]
    if not cleaned or bad:
        raise ValueError(f"{where}: MCQ reference answer {answer!r} is not made of the option letters {letters}")
    return "".join(sorted(set(cleaned)))


def _reference_text(item: Mapping[str, Any], kind: str = "report") -> str:
    """Reference text: ``reference`` (str or dict of parts), else a report row's ``report`` dict
    or an open_qa row's ``answer``."""
    ref = item.get("reference")
    if ref is None or ref == "":
        ref = item.get("answer" if kind == "open_qa" else "report")
    if ref is None:
        return ""
    if isinstance(ref, Mapping):
        return "\n".join(str(v) for v in ref.values() if v)
    if not isinstance(ref, str):
        raise TypeError(f"reference {'answer' if kind == 'open_qa' else 'report'} must be a string or a mapping of parts, got {type(ref).__name__}")
    return ref


def _level_comparison(prediction: str, item: Mapping[str, Any], where: str, kind: str = "report") -> dict[str, Any] | None:
    # Curated reference levels (the SpineBench `levels` column) win over parsing the text.
    ref_levels = item.get("levels")
    if ref_levels:
        if isinstance(ref_levels, str) or not isinstance(ref_levels, Sequence):
            raise TypeError(f"{where}: 'levels' must be a list of vertebral levels, got {ref_levels!r}")
        canon = [canonical_level(x) if isinstance(x, str) else None for x in ref_levels]
        bad = [x for x, c in zip(ref_levels, canon) if c is None]
        if bad:
            raise ValueError(f"{where}: 'levels' entry {bad[0]!r} is not a vertebral level")
        ref_levels = sorted(set(canon), key=level_sort_key)
    else:
        try:
            ref_levels = parse_levels(_reference_text(item, kind))
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None
    if not ref_levels:
        return None
    predicted = parse_levels(prediction)
    prf = level_prf(predicted, ref_levels)
    return {"predicted": list(predicted), "reference": list(ref_levels), **{k: prf[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")}}


def _aligned(values: Any, items: Sequence[Mapping[str, Any]], ids: list[str], name: str, what: str) -> list[Any]:
    """Align per-item values to items: a sequence (one entry per item) or a mapping item id -> value."""
    if values is None:
        return [None] * len(items)
    if isinstance(values, Mapping):
        known = set(ids)
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(f"{name}: no item with id {unknown[0]!r} ({len(unknown)} unknown id(s))")
        return [values.get(i) for i in ids]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name}: expected a list aligned with items or a mapping item id -> {what}")
    if len(values) != len(items):
        raise ValueError(f"{name} has {len(values)} entries but there are {len(items)} items")
    return list(values)


def _judge_scores_for(judge_scores: Any, items: Sequence[Mapping[str, Any]], ids: list[str]) -> list[Any]:
    return _aligned(judge_scores, items, ids, "judge_scores", "scores")


def _is_blank(output: str | None) -> bool:
    return output is None or not output.strip()


def _floor_item(i: int, item_id: str, secs: Mapping[str, Sequence[str]], lv, missing: bool, meta) -> ItemScore:
    dims = {d: FLOOR_DIMENSION_SCORE for d in DIMENSIONS}
    per_section = section_scores(dims, secs)
    return ItemScore(
        i, item_id, "report", "floor_scored", sum(per_section.values()) / len(per_section),
        sections=per_section, dimensions=dims, levels=lv, missing_output=missing, **meta,
    )


def score_items(
    items: Sequence[Mapping[str, Any]],
    predictions: Sequence[str | None],
    judge_scores: Sequence[Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]] | None = None,
    *,
    sections: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    levels: bool = True,
    judge_errors: Sequence[str | None] | Mapping[str, str] | None = None,
    request_errors: Sequence[str | None] | Mapping[str, str] | None = None,
    llm_answers: Sequence[str | None] | Mapping[str, str] | None = None,
) -> list[ItemScore]:
    """Score every item on its own; :func:`summarize` aggregates the result.

    `judge_errors` marks report items whose judgement failed (a list aligned with `items` or a
    mapping item id -> reason); `request_errors` likewise marks items whose model request failed
    for good: such a report is "request_failed" (unscored, never floor-scored), an MCQ item stays
    "missing" (wrong and counted).  `llm_answers` (aligned or by item id) are the letters an LLM
    extractor (:mod:`spinemed.judge.extract`) read from MCQ outputs; they count only where the
    rules left an output "unparsed" (never over a rules answer, a refusal or an empty output) and
    mark the item ``extraction="llm"``.  See :func:`score_predictions` for the other arguments.
    """
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise TypeError("items: expected a list of item mappings")
    if isinstance(predictions, (str, bytes, Mapping)) or not isinstance(predictions, Iterable):
        raise TypeError("predictions: expected a list of output strings, one per item")
    items, predictions = list(items), list(predictions)  # also a datasets.Dataset / Column, a numpy array
    if len(predictions) != len(items):
        raise ValueError(f"predictions has {len(predictions)} entries but there are {len(items)} items")
    secs = normalize_sections(sections)
    ids = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise TypeError(f"items[{i}]: expected a mapping, got {type(item).__name__}")
        ids.append(str(item.get("id") or i))
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise ValueError(f"items: id {dup!r} appears more than once")
    aligned = _judge_scores_for(judge_scores, items, ids)
    errors = _aligned(judge_errors, items, ids, "judge_errors", "error message")
    failed_requests = _aligned(request_errors, items, ids, "request_errors", "error message")
    llm = _aligned(llm_answers, items, ids, "llm_answers", "letters")

    out: list[ItemScore] = []
    for i, (item, pred, js, err, req_err, llm_answer) in enumerate(
            zip(items, predictions, aligned, errors, failed_requests, llm)):
        where = f"items[{i}] (id {ids[i]!r})"
        kind = item_kind(item, where)
        if pred is not None and not isinstance(pred, str):
            raise TypeError(f"predictions[{i}] (id {ids[i]!r}): expected a string or None, got {type(pred).__name__}")
        if pred is None and strict:
            raise ValueError(f"predictions[{i}] (id {ids[i]!r}) is None (strict mode)")
        has_scores = not (js is None or (isinstance(js, Mapping) and not js))
        if err is not None and not isinstance(err, str):
            raise TypeError(f"judge_errors[{i}] (id {ids[i]!r}): expected a string or None, got {type(err).__name__}")
        if kind != "report":
            # A score or failure for a non-report item means the judge data is misaligned.
            if has_scores:
                raise ValueError(f"judge_scores[{i}]: judge scores given for {kind} item {ids[i]!r}; only report items are judged")
            if err:
                raise ValueError(f"judge_errors[{i}]: a judge error given for {kind} item {ids[i]!r}; only report items are judged")
        meta = {"subfield": str(item.get("subfield") or ""), "language": str(item.get("language") or "")}
        if kind in MCQ_KINDS:
            letters, texts = _options(item, where)
            ref = _reference_letters(item.get("answer"), letters, where)
            if pred is None:
                answer, status = None, "missing"
            else:
                res = extract_choice_detailed(pred, options=letters, option_texts=texts)
                answer, status = res.answer, res.status
            extraction = "rules" if answer else "none"
            if status == "unparsed" and llm_answer:
                answer, status, extraction = _reference_letters(llm_answer, letters, f"llm_answers[{i}]"), "answered", "llm"
            correct = answer is not None and answer == ref
            out.append(
                ItemScore(i, ids[i], kind, status, 100.0 if correct else 0.0, answer, ref, correct, missing_output=pred is None,
                          extraction=extraction, **meta)
            )
        elif kind == "open_qa":
            lv = _level_comparison(pred or "", item, where, kind) if levels else None
            status = "missing" if pred is None else "empty" if not pred.strip() else "answered"
            out.append(ItemScore(i, ids[i], kind, status, None, levels=lv, missing_output=pred is None, **meta))
        else:
            lv = _level_comparison(pred or "", item, where) if levels else None
            if req_err and pred is None:  # no answer was received: nothing to floor, nothing to judge
                out.append(ItemScore(i, ids[i], kind, "request_failed", None, levels=lv, missing_output=True,
                                     error=str(req_err), **meta))
                continue
            if _is_blank(pred):  # nothing to judge: the floor, whatever scores came with it
                out.append(_floor_item(i, ids[i], secs, lv, pred is None, meta))
                out[-1].ignored_judge_scores = has_scores
                continue
            if has_scores and err:
                raise ValueError(f"report item {ids[i]!r} (index {i}) has both judge scores and a judge error ({err!r})")
            if not has_scores:
                if strict:
                    why = f"its judgement failed ({err})" if err else "no judge scores"
                    raise ValueError(f"judge_scores[{i}]: report item {ids[i]!r} has {why} (strict mode)")
                status = "judge_failed" if err else "not_judged"
                out.append(ItemScore(i, ids[i], kind, status, None, levels=lv, missing_output=False, error=err or "", **meta))
                continue
            dims = validate_dimension_scores(js, f"judge_scores[{i}] (report item {ids[i]!r})")
            per_section = section_scores(dims, secs)
            out.append(
                ItemScore(
                    i, ids[i], kind, "judged", sum(per_section.values()) / len(per_section),
                    sections=per_section, dimensions=dims, levels=lv, **meta,
                )
            )
    return out
