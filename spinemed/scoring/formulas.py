"""The paper's formulas: dimensions to sections to P3, MCQ accuracy, count weights, totals.

Also the scorer's constants (version, floor score, statuses, the released SpineBench counts);
the formulas themselves are described in :mod:`spinemed.scoring`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from spinemed.schema import DIMENSIONS

# 1.1.0: level-aware scores compare the levels a finding is about (spinemed.levels.parse_levels
# drops dermatomes, fixation ranges, counts, negated levels and a root beside its lesion).
# 1.1.1: parse_levels round 2 (ordinal levels, muscle myotomes, surgical history, landmarks).
# 1.1.2: parse_levels round 3 (operative-note constructs, hardware complications, numbering variants,
# conus lines, not-visualised verdicts, partial negation, root beside a lesion anywhere in the text).
# 1.1.3: parse_levels round 4 (reflex verdicts, revision history, fusion status, corrected intra-op
# hardware events, maintain/retain verdicts, cord end / lowest mobile disc numbering).
# 1.1.4: parse_levels round 5 (T2 cord signal, planned surgery, procedure lists, dated history, negative
# biopsy, decompressed levels, intact structures, sensory level around, bracketed cervical rib).
SCORER_VERSION = "1.1.4"

# A floor-scored report: every dimension 1, so every section 20 and the item's P3 20.
FLOOR_DIMENSION_SCORE = 1.0
FLOOR_SCORE = 20.0 * FLOOR_DIMENSION_SCORE
# What P3 does when some report items are neither judged nor floor-scored.
PARTIAL_REPORTS = ("none", "mean")

# Item counts of the released SpineBench (paper): 294 + 193 MCQ, 87 report tasks.
BENCHMARK_COUNTS = {"text_mcq": 294, "image_mcq": 193, "report": 87}

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
# "request_failed": the model's request failed for good (endpoint error): no output to score, never floored.
REPORT_STATUSES = ("judged", "floor_scored", "judge_failed", "not_judged", "request_failed")
OPEN_QA_STATUSES = ("answered", "empty", "missing")


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
