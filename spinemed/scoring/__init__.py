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

Modules: :mod:`~spinemed.scoring.formulas` (the formulas and the scorer's constants),
:mod:`~spinemed.scoring.items` (one :class:`ItemScore` per item),
:mod:`~spinemed.scoring.summary` (aggregation), :mod:`~spinemed.scoring.bootstrap`
(intervals), :mod:`~spinemed.scoring.results` (:func:`score_predictions`) and
:mod:`~spinemed.scoring.paper` (the paper's table, as printed).  The item kinds and the
judge dimensions live in :mod:`spinemed.schema`; they are re-exported here.
"""

from spinemed.schema import DIMENSIONS, ITEM_KINDS, KINDS, MCQ_KINDS, OPEN_KINDS, item_kind
from spinemed.scoring.bootstrap import bootstrap_ci
from spinemed.scoring.formulas import (
    BENCHMARK_COUNTS,
    DEFAULT_SECTIONS,
    FLOOR_DIMENSION_SCORE,
    FLOOR_SCORE,
    MCQ_STATUSES,
    OPEN_QA_STATUSES,
    PARTIAL_REPORTS,
    REPORT_STATUSES,
    SCORER_VERSION,
    TotalCheck,
    check_reported_total,
    mcq_accuracy,
    normalize_sections,
    report_item_score,
    section_scores,
    validate_dimension_scores,
    weighted_total,
    weights,
)
from spinemed.scoring.items import ItemScore, score_items
from spinemed.scoring.paper import PAPER_AGREEMENT_PEARSON, PAPER_RESULTS, PaperResult, check_paper_table
from spinemed.scoring.results import score_predictions
from spinemed.scoring.summary import summarize

__all__ = [
    "BENCHMARK_COUNTS",
    "DEFAULT_SECTIONS",
    "DIMENSIONS",
    "FLOOR_DIMENSION_SCORE",
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
