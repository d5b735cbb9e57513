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

Report items, in three cases (design section 6; all counted in the results' ``report`` block):

* *judged*: the judge's ten 1-5 scores give the item's P3.
* *floor-scored*: the model's output is missing (None) or empty (blank after stripping).
  There is nothing to judge, and leaving the item out would reward a model for not
  answering, so it scores the floor: every dimension 1, item P3 = 20.  The output decides:
  judge scores given for an empty output are overridden (and a warning says so).
* *not judged*: a non-empty output without judge scores, either because its judgement
  failed (``judge_failed``: a :class:`spinemed.judge.JudgeRun` failure or ``judge_errors``
  entry) or because none were given (``no_judge_scores``).  Then P3 and the total are
  ``None`` (never 0, never the mean of the rest) unless the caller opts in with
  ``partial_reports="mean"``: P3 is then the mean over the scored (judged + floor-scored)
  reports, and the choice is recorded in the results' ``config``.

``open_qa`` items (free-text answers) are scored by level-aware precision / recall / F1 only
and reported in their own ``open_qa`` block; they are not part of the weighted total, which
stays the paper's text MCQ / image MCQ / report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from .choices import extract_choice_detailed
from .levels import canonical_level, level_prf, level_sort_key, parse_levels

SCORER_VERSION = "1.0.0"

# The kinds that enter the weighted total (the paper's three components).
KINDS = ("text_mcq", "image_mcq", "report")
MCQ_KINDS = ("text_mcq", "image_mcq")
# Kinds scored on their own (level-aware only), outside the total.
OPEN_KINDS = ("open_qa",)
ITEM_KINDS = KINDS + OPEN_KINDS

# A floor-scored report: every dimension 1, so every section 20 and the item's P3 20.
FLOOR_DIMENSION_SCORE = 1.0
FLOOR_SCORE = 20.0 * FLOOR_DIMENSION_SCORE
# What P3 does when some report items are neither judged nor floor-scored.
PARTIAL_REPORTS = ("none", "mean")

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
REPORT_STATUSES = ("judged", "floor_scored", "judge_failed", "not_judged")
OPEN_QA_STATUSES = ("answered", "empty", "missing")

__all__ = [
    "BENCHMARK_COUNTS",
    "DEFAULT_SECTIONS",
    "DIMENSIONS",
    "FLOOR_SCORE",
    "ITEM_KINDS",
    "KINDS",
    "MCQ_KINDS",
    "MCQ_STATUSES",
    "OPEN_KINDS",
    "OPEN_QA_STATUSES",
    "PARTIAL_REPORTS",
    "REPORT_STATUSES",
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
    difference: float  # reported - recomputed, unrounded
    allowed: float  # the tolerance on the rounded difference
    consistent: bool
    decimals: int | None = 2
    rounded_difference: float | None = None  # round(reported) - round(recomputed): what is compared

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _decimal(value: float) -> Decimal:
    """`value` as a decimal, cleared of binary floating-point noise (9 places: 50.004999999999995 -> 50.005)."""
    return Decimal(repr(float(value))).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)


def _round_half_up(value: float, decimals: int) -> Decimal:
    return _decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


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

    The rule, exactly: recompute ``sum_k w_k P_k`` from the components, round it and the
    reported total to `decimals` places (half-up, in decimal arithmetic on the numbers as
    printed after clearing float noise at 9 places, so 50.015 and a recomputed
    50.004999999999995 round to 50.02 and 50.01), and flag the total when the two rounded
    values differ by more than `tolerance`.  With the defaults (2 decimals, 0.01) a total one
    unit off in the last printed place passes (GPT5-mini: 87.00 recomputed vs 87.01 printed)
    and anything further is flagged.  ``decimals=None`` compares the unrounded numbers.
    """
    recomputed = weighted_total(components, counts)
    if recomputed is None:
        raise ValueError(f"{label or 'check_reported_total'}: a component score is None")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 8):
        raise ValueError(f"decimals must be an integer 0-8 or None, got {decimals!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    diff = float(reported_total) - recomputed
    if decimals is None:
        rounded = _decimal(reported_total) - _decimal(recomputed)
    else:
        rounded = _round_half_up(reported_total, decimals) - _round_half_up(recomputed, decimals)
    consistent = abs(rounded) <= _decimal(tolerance)
    return TotalCheck(
        label, quantity, float(reported_total), recomputed, diff, float(tolerance), bool(consistent), decimals, float(rounded)
    )


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
    report items "judged" | "floor_scored" (output None or blank) | "judge_failed" |
    "not_judged" (no judge scores given); open_qa items "answered" | "empty" | "missing".
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_SPINEBENCH_TASKS = {("mcq", "text"): "text_mcq", ("mcq", "image"): "image_mcq"}


def item_kind(item: Mapping[str, Any], where: str = "item") -> str:
    """The item's kind: its ``kind`` key, or derived from a row's ``task`` (+ ``modality`` for MCQ)."""
    if "kind" in item:
        kind = item["kind"]
        if kind not in ITEM_KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}; valid kinds: {', '.join(ITEM_KINDS)}")
        return kind
    task, modality = item.get("task"), item.get("modality")
    if task in ("report", "open_qa"):
        return task
    if (task, modality) in _SPINEBENCH_TASKS:
        return _SPINEBENCH_TASKS[(task, modality)]
    raise ValueError(
        f"{where}: cannot tell the item kind (kind={item.get('kind')!r}, task={task!r}, modality={modality!r}); "
        f"give 'kind' as one of {', '.join(ITEM_KINDS)}, or a row with task 'mcq' (modality 'text'/'image'), "
        "'report' or 'open_qa'"
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
) -> list[ItemScore]:
    """Score every item on its own; :func:`summarize` aggregates the result.

    `judge_errors` marks report items whose judgement failed (a list aligned with `items` or a
    mapping item id -> reason); see :func:`score_predictions` for the other arguments.
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

    out: list[ItemScore] = []
    for i, (item, pred, js, err) in enumerate(zip(items, predictions, aligned, errors)):
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
            correct = answer is not None and answer == ref
            out.append(
                ItemScore(i, ids[i], kind, status, 100.0 if correct else 0.0, answer, ref, correct, missing_output=pred is None, **meta)
            )
        elif kind == "open_qa":
            lv = _level_comparison(pred or "", item, where, kind) if levels else None
            status = "missing" if pred is None else "empty" if not pred.strip() else "answered"
            out.append(ItemScore(i, ids[i], kind, status, None, levels=lv, missing_output=pred is None, **meta))
        else:
            lv = _level_comparison(pred or "", item, where) if levels else None
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


# --------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------


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

    report = {
        # judged + not_judged = N_report; not_judged = floor_scored + judge_failed + no_judge_scores.
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


def bootstrap_ci(
    scored: Sequence[ItemScore],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    partial_reports: str = "none",
) -> dict[str, Any]:
    """Percentile bootstrap intervals for P1, P2, closed QA, P3 and the total.

    Resampling is stratified by kind (each resample keeps every N_k), so the total's weights
    stay those of the point estimate; P3 resamples the scored (judged + floor-scored) reports,
    like its estimate, and has no interval where the estimate is None (`partial_reports`).
    open_qa items take no part.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    _check_partial(partial_reports)
    rng = np.random.default_rng(seed)
    reports = [s for s in scored if s.kind == "report"]
    p3_defined = _report_p3(reports, partial_reports) is not None
    arrays = {
        "text_mcq": np.array([s.score for s in scored if s.kind == "text_mcq"], dtype=float),
        "image_mcq": np.array([s.score for s in scored if s.kind == "image_mcq"], dtype=float),
        "report": np.array([s.score for s in reports if s.status in _SCORED_REPORT] if p3_defined else [], dtype=float),
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


def _from_judge_run(judge_scores: Any) -> tuple[Any, Any, dict[str, Any] | None, list[str] | None]:
    """(scores, errors, info, item ids) from a JudgeRun or its JSON (``JudgeRun.to_json()``),
    else (judge_scores, None, None, None)."""
    if isinstance(judge_scores, Mapping) and "results" in judge_scores and "prompt_hash" in judge_scores:
        from .judge import JudgeRun  # judge imports this module: import here, not at the top

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
    scored = score_items(items, predictions, judge_scores, sections=secs, strict=strict, levels=levels, judge_errors=judge_errors)
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
        parts = [f"{k} {label}" for k, label in ((rep["judge_failed"], "judgement(s) failed"), (rep["no_judge_scores"], "without judge scores")) if k]
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
