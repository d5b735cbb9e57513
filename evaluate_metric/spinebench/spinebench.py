"""SpineBench metric for `evaluate`: a thin wrapper around `spinemed.scoring.score_predictions`.

All the scoring logic (answer extraction, the paper's formulas, level-aware scores,
bootstrap intervals) lives in the `spinemed` package, so the CLI, the Space leaderboard and
this module give the same numbers.  This file only maps evaluate's columns to items.
"""

import json

import datasets
import evaluate

from spinemed.scoring import KINDS, score_predictions

_CITATION = """\
@inproceedings{spinebench2026,
  title     = {SpineBench: A Clinically Significant, Segment-Aware Spinal Diagnosis and Treatment
               Evaluation Benchmark and SpineMed-450k Corpus},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2026},
  url       = {https://openreview.net/forum?id=sHeQG5aav8}
}
"""

_DESCRIPTION = """\
SpineBench scores vision-language models on spinal medicine: accuracy on text-only (P1) and
image-text (P2) multiple-choice questions, an LLM-judged report score (P3 = 20 x the mean over
five sections of the mean 1-5 dimension score) and the count-weighted total
sum_k N_k P_k / sum_k N_k.  MCQ answers are extracted from free text (English and Chinese
phrasing, never guessed; refusals and unparsed answers are counted) and report outputs get
a level-aware score (precision/recall/F1 of the vertebral levels they name).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's free-text output per item.  None is scored as an
        empty output (status "empty", wrong, counted in `answers`).
    references (`list` of `str`): MCQ items: the reference letter(s) ("B", "AC");
        report items: the reference report text ("" if none; used for level-aware scores).
    task (`list` of `str`): the item kind, one of "text_mcq", "image_mcq", "report".
    judge_scores (`list`, optional): per item, the judge's 1-5 scores for the ten dimensions as a
        dict or a JSON string; None / "" for MCQ items and unjudged reports.
    options (`list`, optional): per item, the option letters ("ABCDEF") or a {letter: text} dict;
        default "ABCDE".
    subfield (`list` of `str`, optional): per item sub-field, enables `breakdowns["subfield"]`.
    language (`list` of `str`, optional): per item language ("en"/"zh"), enables `breakdowns["language"]`.
    ids (`list` of `str`, optional): item ids, used in error messages and per-item output.
    reference_levels (`list`, optional): per item curated reference levels (list or
        comma-separated string); default: parsed from the report reference.
    sections (`dict`, optional): section name -> list of dimensions (default: the kit's grouping).
    bootstrap (`int`, optional): bootstrap resamples for 95% confidence intervals; 0 (default) = off.
    seed (`int`, optional): bootstrap seed, default 0.
    strict (`bool`, optional): raise instead of reporting unjudged reports as not judged.
    return_items (`bool`, optional): include per-item records.
Returns:
    The `spinemed.scoring.score_predictions` results dict: `scores` (text_mcq, image_mcq,
    closed_qa, report, total; percent, None when not computable), `counts`, `weights`,
    `answers` (correct / answered / refused / empty / unparsed per MCQ kind), `report`
    (judged, not_judged, sections, dimensions), `levels`, `breakdowns`, `ci`, `config`, `warnings`.
Examples:
    >>> spinebench = evaluate.load("evaluate_metric/spinebench")
    >>> results = spinebench.compute(
    ...     predictions=["The answer is B.", "答案：Ｃ", "I cannot answer this."],
    ...     references=["B", "C", "A"],
    ...     task=["text_mcq", "text_mcq", "image_mcq"],
    ... )
    >>> round(results["scores"]["text_mcq"], 2), results["scores"]["image_mcq"], round(results["scores"]["total"], 2)
    (100.0, 0.0, 66.67)
"""

_PER_ITEM = ("judge_scores", "options", "subfield", "language", "ids", "reference_levels")


def _no_none(column):
    return column if column is None else ["" if v is None else v for v in column]


def _check_columns(task, per_item):
    """Task kinds and per-item list lengths: checked before evaluate stores the batch, so a bad
    input fails fast (an error raised inside `_compute` leaves evaluate's cache lock held)."""
    n = len(task)
    for i, kind in enumerate(task):
        if kind not in KINDS:
            raise ValueError(f"task[{i}] = {kind!r} is not a SpineBench item kind; valid kinds: {', '.join(KINDS)}")
    for name, column in per_item.items():
        if column is not None and len(column) != n:
            raise ValueError(f"{name} has {len(column)} entries but there are {n} predictions")


def _judge_entry(value, i):
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"judge_scores[{i}] is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TypeError(f"judge_scores[{i}] must be a dict of dimension -> score, got {value!r}")
    return value


def _levels_entry(value):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Spinebench(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                    "task": datasets.Value("string"),
                }
            ),
            reference_urls=["https://openreview.net/forum?id=sHeQG5aav8"],
        )

    # evaluate rejects None in a string column (only when it is the first value), so None
    # outputs / references / tasks become "" here and are counted or rejected by the scorer.
    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one item (see `compute` for the inputs)."""
        if "task" in kwargs and kwargs["task"] is None:
            kwargs["task"] = ""
        return super().add(
            prediction="" if prediction is None else prediction,
            reference="" if reference is None else reference,
            **kwargs,
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of items (see `compute` for the inputs)."""
        if "task" in kwargs:
            kwargs["task"] = _no_none(kwargs["task"])
        return super().add_batch(predictions=_no_none(predictions), references=_no_none(references), **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Score the items added so far plus those given here; per-item extras go in as kwargs.
"""
        if "task" in kwargs:
            kwargs["task"] = _no_none(kwargs["task"])
            if predictions is not None and references is not None and len(predictions) == len(references) == len(kwargs["task"]):
                _check_columns(kwargs["task"], {k: kwargs.get(k) for k in _PER_ITEM})
        return super().compute(predictions=_no_none(predictions), references=_no_none(references), **kwargs)

    def _compute(
        self,
        predictions,
        references,
        task,
        judge_scores=None,
        options=None,
        subfield=None,
        language=None,
        ids=None,
        reference_levels=None,
        sections=None,
        bootstrap=0,
        seed=0,
        strict=False,
        return_items=False,
    ):
        _check_columns(task, dict(zip(_PER_ITEM, (judge_scores, options, subfield, language, ids, reference_levels))))
        items = []
        for i, kind in enumerate(task):
            item = {"kind": kind}
            if kind == "report":
                item["reference"] = references[i]
            else:
                item["answer"] = references[i]
            if ids is not None and ids[i] not in (None, ""):
                item["id"] = str(ids[i])
            if options is not None and options[i]:
                item["options"] = options[i]
            if subfield is not None and subfield[i]:
                item["subfield"] = subfield[i]
            if language is not None and language[i]:
                item["language"] = language[i]
            if reference_levels is not None:
                levels = _levels_entry(reference_levels[i])
                if levels:
                    item["levels"] = levels
            items.append(item)
        scores = None if judge_scores is None else [_judge_entry(v, i) for i, v in enumerate(judge_scores)]
        return score_predictions(
            items,
            list(predictions),
            scores,
            sections=sections,
            strict=strict,
            bootstrap=int(bootstrap),
            seed=int(seed),
            return_items=return_items,
        )
