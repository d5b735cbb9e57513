"""SpineBench scoring: the one implementation of the paper's formulas (design section 6).

The CLI, the `evaluate` metric module, the Space leaderboard and the evaluation runner all
call :func:`score_predictions`; nothing else re-implements these numbers.

Formulas (all scores on a 0-100 scale):

* P1 / P2: accuracy on text-only / image-text MCQ items.  An item counts as correct only when
  the letters the output commits to equal the reference letters exactly (multi-answer items
  included).  Refused, empty, unparsed and missing outputs are wrong *and counted*.
* P3 (reports): ``20 x mean over sections of the section mean`` of the judge's 1-5 scores, per
  item, then the mean over judged items.  The paper prints ``20 x sum``, which exceeds 100 for
  1-5 scores; the mean is the reading that reproduces its table (design section 6).
* total = sum_k w_k P_k with w_k = N_k / sum_i N_i over the kinds present.

Report items without judge scores are *not judged*: P3 is ``None`` with a count, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .choices import extract_choice_detailed
from .levels import canonical_level, level_prf, level_sort_key, parse_levels

SCORER_VERSION = "1.0.0"

KINDS = ("text_mcq", "image_mcq", "report")
MCQ_KINDS = ("text_mcq", "image_mcq")

# Item counts of the released SpineBench (paper): 294 + 193 MCQ, 87 report tasks.
BENCHMARK_COUNTS = {"text_mcq": 294, "image_mcq": 193, "report": 87}

# The ten judge dimensions, in the paper's order.
DIMENSIONS = (
    "imaging_report",
    "diagnosis",
    "patient_guidance",
    "evidence_based_treatment",
    "technical_feasibility",
    "risk_prognosis",
    "coverage",
    "relevance",
    "granularity",
    "interpretability",
)

# The paper does not publish which dimensions form its five sections; this grouping follows
# the report's own parts (design section 6).  Pass `sections=` to use another one.
DEFAULT_SECTIONS: dict[str, tuple[str, ...]] = {
    "imaging_report": ("imaging_report",),
    "diagnosis": ("diagnosis",),
    "treatment": ("patient_guidance", "evidence_based_treatment", "technical_feasibility"),
    "risk_prognosis": ("risk_prognosis",),
    "report_quality": ("coverage", "relevance", "granularity", "interpretability"),
}

MCQ_STATUSES = ("answered", "refused", "empty", "unparsed", "missing")

__all__ = [
    "BENCHMARK_COUNTS",
    "DEFAULT_SECTIONS",
    "DIMENSIONS",
    "KINDS",
    "MCQ_KINDS",
    "PAPER_AGREEMENT_PEARSON",
    "PAPER_RESULTS",
    "SCORER_VERSION",
    "ItemScore",
    "PaperResult",
    "TotalCheck",
    "bootstrap_ci",
    "check_paper_table",
    "check_reported_total",
    "item_kind",
    "mcq_accuracy",
    "normalize_sections",
    "report_item_score",
    "score_items",
    "score_predictions",
    "section_scores",
    "summarize",
    "validate_dimension_scores",
    "weighted_total",
    "weights",
]


# --------------------------------------------------------------------------------------
# Formulas
# --------------------------------------------------------------------------------------


def normalize_sections(sections: Mapping[str, Iterable[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """Check that `sections` groups the ten dimensions, each exactly once, into non-empty sections."""
    if sections is None:
        return dict(DEFAULT_SECTIONS)
    if not isinstance(sections, Mapping) or not sections:
        raise ValueError("sections: expected a non-empty mapping of section name -> list of dimensions")
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for name, dims in sections.items():
        if isinstance(dims, str):
            raise TypeError(f"sections[{name!r}]: expected a list of dimensions, got the string {dims!r}")
        dims = tuple(dims)
        if not dims:
            raise ValueError(f"sections[{name!r}] is empty")
        for d in dims:
            if d not in DIMENSIONS:
                raise ValueError(f"sections[{name!r}]: unknown dimension {d!r}; valid dimensions: {', '.join(DIMENSIONS)}")
            if d in seen:
                raise ValueError(f"sections: dimension {d!r} is in both {seen[d]!r} and {name!r}")
            seen[d] = str(name)
        out[str(name)] = dims
    missing = [d for d in DIMENSIONS if d not in seen]
    if missing:
        raise ValueError(f"sections: dimensions not in any section: {', '.join(missing)}")
    return out


def validate_dimension_scores(scores: Mapping[str, Any], where: str = "judge scores") -> dict[str, float]:
    """Check one item's judge scores: every dimension present, a number in [1, 5], nothing extra.

    Integers are what the judge gives; floats are accepted for averaged human ratings.
    """
    if not isinstance(scores, Mapping):
        raise TypeError(f"{where}: expected a mapping of dimension -> score, got {type(scores).__name__}")
    extra = sorted(set(scores) - set(DIMENSIONS))
    if extra:
        raise ValueError(f"{where}: unknown dimension(s) {', '.join(map(repr, extra))}; valid: {', '.join(DIMENSIONS)}")
    missing = [d for d in DIMENSIONS if d not in scores]
    if missing:
        raise ValueError(f"{where}: missing dimension(s) {', '.join(missing)}")
    out = {}
    for d in DIMENSIONS:
        v = scores[d]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where}: {d} must be a number in 1-5, got {v!r}")
        v = float(v)
        if not (1.0 <= v <= 5.0):  # also rejects nan
            raise ValueError(f"{where}: {d} = {v!r} is outside 1-5")
        out[d] = v
    return out


def section_scores(scores: Mapping[str, float], sections: Mapping[str, Sequence[str]] = DEFAULT_SECTIONS) -> dict[str, float]:
    """Each section's score on 0-100: 20 x the mean of its dimensions' 1-5 scores."""
    return {name: 20.0 * sum(scores[d] for d in dims) / len(dims) for name, dims in sections.items()}


def report_item_score(scores: Mapping[str, Any], sections: Mapping[str, Sequence[str]] | None = None) -> float:
    """P3 of one report: 20 x (mean over sections of the section mean), on 0-100."""
    secs = normalize_sections(sections)
    per_section = section_scores(validate_dimension_scores(scores), secs)
    return sum(per_section.values()) / len(per_section)


def mcq_accuracy(correct: Sequence[bool]) -> float | None:
    """Accuracy in percent; None for no items (an empty kind has no score, not 0)."""
    return 100.0 * sum(bool(c) for c in correct) / len(correct) if len(correct) else None


def weights(counts: Mapping[str, int]) -> dict[str, float]:
    """w_k = N_k / sum_i N_i over the components with N_k > 0."""
    for k, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"counts[{k!r}] must be a non-negative integer, got {n!r}")
    total = sum(counts.values())
    if total == 0:
        raise ValueError("counts: all zero, no weights")
    return {k: n / total for k, n in counts.items() if n > 0}


def weighted_total(scores: Mapping[str, float | None], counts: Mapping[str, int]) -> float | None:
    """sum_k w_k P_k.  None when a component with items has no score (e.g. reports not judged)."""
    missing = [k for k, n in counts.items() if n > 0 and k not in scores]
    if missing:
        raise KeyError(f"weighted_total: no score given for component(s) {', '.join(missing)}")
    w = weights(counts)
    if any(scores[k] is None for k in w):
        return None
    return sum(w[k] * float(scores[k]) for k in w)


@dataclass(frozen=True)
class TotalCheck:
    """Result of checking a published total against its published components."""

    label: str
    quantity: str  # what was checked: "total" or "closed_qa"
    reported: float
    recomputed: float
    difference: float  # reported - recomputed
    allowed: float  # tolerance + rounding allowance
    consistent: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_reported_total(
    components: Mapping[str, float],
    counts: Mapping[str, int],
    reported_total: float,
    *,
    tolerance: float = 0.01,
    decimals: int | None = 2,
    label: str = "",
    quantity: str = "total",
) -> TotalCheck:
    """Does a claimed total follow from its components by the count-weighted formula?

    The allowed gap is `tolerance` plus the rounding allowance: when the components and the
    total are printed with `decimals` places, each is off by up to half a unit, so exact
    arithmetic on printed numbers can miss by ``0.5 * 10**-decimals * (1 + sum w_k)``
    (= one unit in the last place).  ``decimals=None`` turns the allowance off.
    """
    recomputed = weighted_total(components, counts)
    if recomputed is None:
        raise ValueError(f"{label or 'check_reported_total'}: a component score is None")
    rounding = 0.0 if decimals is None else 0.5 * 10.0 ** (-decimals) * (1.0 + sum(weights(counts).values()))
    allowed = float(tolerance) + rounding
    diff = float(reported_total) - recomputed
    # The 1e-9 keeps a gap of exactly `allowed` (binary floating point) on the consistent side.
    return TotalCheck(label, quantity, float(reported_total), recomputed, diff, allowed, abs(diff) <= allowed + 1e-9)


# --------------------------------------------------------------------------------------
# The paper's reported figures (data, as printed; not recomputed)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperResult:
    """One row as *reported* in the SpineBench paper (percent, two decimals).

    `total` is the published total, which is not always consistent with the published
    components: use :func:`check_paper_table` / recompute instead of copying it.
    """

    model: str
    size: str
    closed_qa: float
    report: float | None = None
    total: float | None = None
    text_mcq: float | None = None
    image_mcq: float | None = None
    source: str = "SpineBench paper, main results table"


PAPER_RESULTS: tuple[PaperResult, ...] = (
    PaperResult("Gemini-2.5-Pro", ">100B", 88.50, 93.32, 89.23),
    PaperResult("GPT5-mini", "-", 85.83, 93.56, 87.01),
    PaperResult("GPT5", "-", 84.46, 91.60, 85.54, text_mcq=87.41, image_mcq=79.97),
    PaperResult("GLM-4.5V", "21B", 83.98, 79.24, 83.26, text_mcq=85.71, image_mcq=81.35),
    PaperResult("Qwen2.5-VL-72B", "72B", 82.75, 63.80, 79.88),
    PaperResult("Medgemma-27B", "27B", 82.34, 70.16, 76.66),
    PaperResult("Qwen2.5-VL-7B", "7B", 74.95, 54.52, 64.74, text_mcq=75.51, image_mcq=74.09),
    PaperResult("SpineGPT", "7B", 87.89, 87.24, 87.44, text_mcq=89.46),
    PaperResult("Claude4", "-", 79.67, source="SpineBench paper, text (closed QA only)"),
    PaperResult("GPT-4o", "-", 84.74, source="SpineBench paper, text (closed QA only)"),
)

# Human-vs-judge Pearson correlation range the paper reports over the ten dimensions.
PAPER_AGREEMENT_PEARSON = (0.382, 0.949)


def check_paper_table(
    rows: Iterable[PaperResult] = PAPER_RESULTS,
    counts: Mapping[str, int] = BENCHMARK_COUNTS,
    *,
    tolerance: float = 0.01,
) -> list[TotalCheck]:
    """Recompute every published total (and closed QA where the text/image split is published)."""
    n_closed = counts["text_mcq"] + counts["image_mcq"]
    checks = []
    for row in rows:
        if row.total is not None and row.report is not None:
            checks.append(
                check_reported_total(
                    {"closed_qa": row.closed_qa, "report": row.report},
                    {"closed_qa": n_closed, "report": counts["report"]},
                    row.total,
                    tolerance=tolerance,
                    label=row.model,
                )
            )
        if row.text_mcq is not None and row.image_mcq is not None:
            checks.append(
                check_reported_total(
                    {"text_mcq": row.text_mcq, "image_mcq": row.image_mcq},
                    {"text_mcq": counts["text_mcq"], "image_mcq": counts["image_mcq"]},
                    row.closed_qa,
                    tolerance=tolerance,
                    label=row.model,
                    quantity="closed_qa",
                )
            )
    return checks


# --------------------------------------------------------------------------------------
# Item-level scoring
# --------------------------------------------------------------------------------------


@dataclass
class ItemScore:
    """How one item was scored (one entry of the results' ``items`` list).

    status: MCQ items "answered" | "refused" | "empty" | "unparsed" | "missing" (output None);
    report items "judged" | "not_judged".  `score` is 100/0 for MCQ, the item's P3 for judged
    reports, None otherwise.  `levels` holds the level-aware comparison for report items whose
    reference names at least one vertebral level.
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_SPINEBENCH_TASKS = {("mcq", "text"): "text_mcq", ("mcq", "image"): "image_mcq"}


def item_kind(item: Mapping[str, Any], where: str = "item") -> str:
    """The item's kind: its ``kind`` key, or derived from a SpineBench row's ``task`` + ``modality``."""
    if "kind" in item:
        kind = item["kind"]
        if kind not in KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        return kind
    task, modality = item.get("task"), item.get("modality")
    if task == "report":
        return "report"
    if (task, modality) in _SPINEBENCH_TASKS:
        return _SPINEBENCH_TASKS[(task, modality)]
    raise ValueError(
        f"{where}: cannot tell the item kind (kind={item.get('kind')!r}, task={task!r}, modality={modality!r}); "
        f"give 'kind' as one of {', '.join(KINDS)}, or a SpineBench row with task 'mcq'/'report' and modality 'text'/'image'"
    )


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


def _reference_text(item: Mapping[str, Any]) -> str:
    """Reference report text: ``reference`` (str or dict of parts), else a SpineBench ``report`` dict."""
    ref = item.get("reference")
    if ref is None or ref == "":
        ref = item.get("report")
    if ref is None:
        return ""
    if isinstance(ref, Mapping):
        return "\n".join(str(v) for v in ref.values() if v)
    if not isinstance(ref, str):
        raise TypeError(f"reference report must be a string or a mapping of parts, got {type(ref).__name__}")
    return ref


def _level_comparison(prediction: str, item: Mapping[str, Any], where: str) -> dict[str, Any] | None:
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
        ref_levels = parse_levels(_reference_text(item))
    if not ref_levels:
        return None
    predicted = parse_levels(prediction)
    prf = level_prf(predicted, ref_levels)
    return {"predicted": list(predicted), "reference": list(ref_levels), **{k: prf[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")}}


def _judge_scores_for(judge_scores: Any, items: Sequence[Mapping[str, Any]], ids: list[str]) -> list[Any]:
    """Align judge scores to items: a sequence (one entry per item) or a mapping item id -> scores."""
    if judge_scores is None:
        return [None] * len(items)
    if isinstance(judge_scores, Mapping):
        known = set(ids)
        unknown = [k for k in judge_scores if k not in known]
        if unknown:
            raise ValueError(f"judge_scores: no item with id {unknown[0]!r} ({len(unknown)} unknown id(s))")
        return [judge_scores.get(i) for i in ids]
    if isinstance(judge_scores, (str, bytes)) or not isinstance(judge_scores, Sequence):
        raise TypeError("judge_scores: expected a list aligned with items or a mapping item id -> scores")
    if len(judge_scores) != len(items):
        raise ValueError(f"judge_scores has {len(judge_scores)} entries but there are {len(items)} items")
    return list(judge_scores)


def score_items(
    items: Sequence[Mapping[str, Any]],
    predictions: Sequence[str | None],
    judge_scores: Sequence[Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]] | None = None,
    *,
    sections: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    levels: bool = True,
) -> list[ItemScore]:
    """Score every item on its own; :func:`summarize` aggregates the result."""
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

    out: list[ItemScore] = []
    for i, (item, pred, js) in enumerate(zip(items, predictions, aligned)):
        where = f"items[{i}] (id {ids[i]!r})"
        kind = item_kind(item, where)
        if pred is not None and not isinstance(pred, str):
            raise TypeError(f"predictions[{i}] (id {ids[i]!r}): expected a string or None, got {type(pred).__name__}")
        if pred is None and strict:
            raise ValueError(f"predictions[{i}] (id {ids[i]!r}) is None (strict mode)")
        meta = {"subfield": str(item.get("subfield") or ""), "language": str(item.get("language") or "")}
        if kind in MCQ_KINDS:
            if js:  # a score for an MCQ item means the scores are misaligned
                raise ValueError(f"judge_scores[{i}]: judge scores given for {kind} item {ids[i]!r}; only report items are judged")
            letters, texts = _options(item, where)
            ref = _reference_letters(item.get("answer"), letters, where)
            if pred is None:
                answer, status = None, "missing"
            else:
                res = extract_choice_detailed(pred, options=letters, option_texts=texts)
                answer, status = res.answer, res.status
            correct = answer is not None and answer == ref
            out.append(
                ItemScore(i, ids[i], kind, status, 100.0 if correct else 0.0, answer, ref, correct, missing_output=pred is None, **meta)
            )
        else:
            lv = _level_comparison(pred or "", item, where) if levels else None
            if js is None or (isinstance(js, Mapping) and not js):
                if strict:
                    raise ValueError(f"judge_scores[{i}]: report item {ids[i]!r} has no judge scores (strict mode)")
                out.append(ItemScore(i, ids[i], kind, "not_judged", None, levels=lv, missing_output=pred is None, **meta))
                continue
            dims = validate_dimension_scores(js, f"judge_scores[{i}] (report item {ids[i]!r})")
            per_section = section_scores(dims, secs)
            out.append(
                ItemScore(
                    i, ids[i], kind, "judged", sum(per_section.values()) / len(per_section),
                    sections=per_section, dimensions=dims, levels=lv, missing_output=pred is None, **meta,
                )
            )
    return out


# --------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _level_summary(scored: list[ItemScore]) -> dict[str, Any]:
    """Micro (pooled tp/fp/fn) and macro (mean of per-item) level precision/recall/F1, on 0-1.

    Only report items whose reference names a level are compared; all None when there are none.
    """
    reports = [s for s in scored if s.kind == "report"]
    with_ref = [s.levels for s in reports if s.levels is not None]
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
        "no_reference_levels": len(reports) - len(with_ref),
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


def summarize(scored: Sequence[ItemScore], sections: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Aggregate item scores into the headline block (scores, counts, weights, answers, report, levels)."""
    secs = normalize_sections(sections)
    by_kind: dict[str, list[ItemScore]] = {k: [s for s in scored if s.kind == k] for k in KINDS}
    counts = {k: len(v) for k, v in by_kind.items()}
    mcq = by_kind["text_mcq"] + by_kind["image_mcq"]
    judged = [s for s in by_kind["report"] if s.status == "judged"]

    scores: dict[str, float | None] = {
        "text_mcq": mcq_accuracy([s.correct for s in by_kind["text_mcq"]]),
        "image_mcq": mcq_accuracy([s.correct for s in by_kind["image_mcq"]]),
        "closed_qa": mcq_accuracy([s.correct for s in mcq]),
        "report": _mean([s.score for s in judged]),
    }
    scores["total"] = weighted_total(scores, counts) if sum(counts.values()) else None

    answers = {}
    for k in MCQ_KINDS:
        tally = {st: 0 for st in MCQ_STATUSES}
        for s in by_kind[k]:
            tally[s.status] = tally.get(s.status, 0) + 1
        answers[k] = {"correct": sum(1 for s in by_kind[k] if s.correct), **tally}

    report = {
        "judged": len(judged),
        "not_judged": counts["report"] - len(judged),
        "missing_outputs": sum(1 for s in by_kind["report"] if s.missing_output),
        "sections": {name: _mean([s.sections[name] for s in judged]) for name in secs},
        "dimensions": {d: _mean([s.dimensions[d] for s in judged]) for d in DIMENSIONS},
    }
    return {
        "scores": scores,
        "counts": {**counts, "closed_qa": len(mcq), "total": sum(counts.values())},
        "weights": weights(counts) if sum(counts.values()) else {},
        "answers": answers,
        "report": report,
        "levels": _level_summary(list(scored)),
    }


def bootstrap_ci(
    scored: Sequence[ItemScore],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Percentile bootstrap intervals for P1, P2, closed QA, P3 and the total.

    Resampling is stratified by kind (each resample keeps every N_k), so the total's weights
    stay those of the point estimate; P3 resamples the judged reports only, like its estimate.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    arrays = {
        "text_mcq": np.array([s.score for s in scored if s.kind == "text_mcq"], dtype=float),
        "image_mcq": np.array([s.score for s in scored if s.kind == "image_mcq"], dtype=float),
        "report": np.array([s.score for s in scored if s.kind == "report" and s.status == "judged"], dtype=float),
    }
    counts = {k: sum(1 for s in scored if s.kind == k) for k in KINDS}
    samples: dict[str, np.ndarray | None] = {}
    for k, arr in arrays.items():
        samples[k] = arr[rng.integers(0, len(arr), size=(n_resamples, len(arr)))].mean(axis=1) if len(arr) else None
    n_mcq = counts["text_mcq"] + counts["image_mcq"]
    if n_mcq:
        samples["closed_qa"] = sum(samples[k] * counts[k] for k in MCQ_KINDS if samples[k] is not None) / n_mcq
    else:
        samples["closed_qa"] = None
    w = weights(counts) if sum(counts.values()) else {}
    if w and all(samples[k] is not None for k in w):
        samples["total"] = sum(samples[k] * w[k] for k in w)
    else:
        samples["total"] = None
    alpha = (1 - confidence) / 2 * 100
    intervals = {
        k: (None if v is None else [float(x) for x in np.percentile(v, [alpha, 100 - alpha])])
        for k, v in samples.items()
    }
    return {
        "intervals": {k: intervals[k] for k in ("text_mcq", "image_mcq", "closed_qa", "report", "total")},
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "method": "percentile bootstrap, stratified by item kind",
    }


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
) -> dict[str, Any]:
    """Score model outputs on SpineBench items: the "results" payload every consumer shares.

    Args:
        items: one mapping per item (a list, or a ``datasets.Dataset`` of SpineBench rows: drop
            its ``images`` column first so rows are not decoded for nothing).  Keys: ``kind`` ("text_mcq" | "image_mcq" | "report"), or a
            SpineBench row's ``task`` ("mcq" | "report") + ``modality`` ("text" | "image");
            ``answer`` (MCQ reference letters, e.g. "B" or "AC"); optional ``options`` (letter
            string, ``{letter: text}`` or the row's ``[{"label", "text"}]``; default "ABCDE");
            for reports optional ``reference`` (text or dict of parts; a row's ``report`` dict
            is used otherwise) and ``levels`` (curated reference levels; parsed from the
            reference text when absent); optional ``id``, ``subfield``, ``language``.
        predictions: the model's free-text output per item; None is a missing output (counted,
            wrong for MCQ; raises in strict mode).
        judge_scores: per-dimension 1-5 scores for report items, either a list aligned with
            `items` (None for items not judged) or a mapping item id -> scores; a
            :class:`spinemed.judge.JudgeRun` is accepted too (its scores and judge metadata are used).
        sections: dimension grouping for P3 (default :data:`DEFAULT_SECTIONS`).
        strict: raise instead of counting when an output is None or a report lacks judge scores.
        levels: compute level-aware scores for report items.
        breakdowns: item metadata keys to break the scores down by, where items carry them.
        bootstrap: number of bootstrap resamples for 95% intervals (0 = off).
        judge_info: judge metadata (model, prompt version and hash) to record in the results.
        return_items: include the per-item records.

    Returns:
        A JSON-serialisable dict:

        - ``scores``: ``text_mcq`` (P1), ``image_mcq`` (P2), ``closed_qa``, ``report`` (P3),
          ``total``; percent (0-100); None where a part has no items or no judged report.
        - ``counts``: N_k per kind plus ``closed_qa`` and ``total``; ``weights``: w_k.
        - ``answers``: per MCQ kind the number ``correct`` and per extraction status
          (``answered``, ``refused``, ``empty``, ``unparsed``, ``missing``).
        - ``report``: ``judged``, ``not_judged``, ``missing_outputs``, ``sections`` (0-100 per
          section), ``dimensions`` (mean 1-5 per dimension).
        - ``levels``: level-aware precision/recall/F1 of report items (0-1; micro over pooled
          counts and ``macro_*`` over items), ``items`` compared and ``no_reference_levels``.
        - ``breakdowns``: ``{key: {value: {scores, counts, weights, answers, report, levels}}}``
          for each key in `breakdowns` that the items carry (weights are the subgroup's own).
        - ``ci``: bootstrap intervals (see :func:`bootstrap_ci`) or None.
        - ``judge``: judge metadata or None; ``config``: scorer version, sections, options;
          ``warnings``: human-readable notes on anything partial; ``items`` when asked.
    """
    if judge_scores is not None and hasattr(judge_scores, "scores") and hasattr(judge_scores, "info"):
        judge_info = {**judge_scores.info(), **(judge_info or {})}
        judge_scores = judge_scores.scores()
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes, Mapping)):
        items = list(items)  # indexed again below for breakdown keys
    secs = normalize_sections(sections)
    scored = score_items(items, predictions, judge_scores, sections=secs, strict=strict, levels=levels)
    result = summarize(scored, secs)

    result["breakdowns"] = {}
    for key in breakdowns:
        groups: dict[str, list[ItemScore]] = {}
        for s in scored:
            value = getattr(s, key, None) if key in ("subfield", "language") else items[s.index].get(key)
            if value:
                groups.setdefault(str(value), []).append(s)
        if groups:
            result["breakdowns"][key] = {v: summarize(g, secs) for v, g in sorted(groups.items())}

    result["ci"] = bootstrap_ci(scored, n_resamples=bootstrap, seed=seed, confidence=confidence) if bootstrap else None
    result["judge"] = dict(judge_info) if judge_info else None
    result["config"] = {
        "scorer_version": SCORER_VERSION,
        "sections": {k: list(v) for k, v in secs.items()},
        "strict": strict,
        "levels": levels,
    }
    warnings = []
    rep = result["report"]
    if rep["not_judged"]:
        if rep["judged"]:
            warnings.append(
                f"{rep['not_judged']} of {result['counts']['report']} report items not judged; "
                f"P3 is the mean over the {rep['judged']} judged items"
            )
        else:
            warnings.append(f"{rep['not_judged']} report items not judged: P3 and the total are None")
    missing = sum(a["missing"] for a in result["answers"].values())
    if missing:
        warnings.append(f"{missing} MCQ outputs are None (counted as 'missing', scored wrong)")
    result["warnings"] = warnings
    if return_items:
        result["items"] = [s.to_json() for s in scored]
    return result
