"""SpineBench metric for `evaluate`: a thin wrapper around `spinemed.scoring.score_predictions`.

All the scoring logic (answer extraction, the paper's formulas, level-aware scores,
bootstrap intervals) lives in the `spinemed` package, so the CLI, the Space leaderboard and
this module give the same numbers.  This file only maps evaluate's columns to items.
"""

import json

import datasets
import evaluate

# Indented on purpose: evaluate's dependency scan reads top-level imports only and would answer a
# missing kit with its own generic hint; this names the release the metric belongs to.
try:
    from spinemed.scoring import ITEM_KINDS, PARTIAL_REPORTS, score_predictions
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith("spinemed"):
        raise
    raise ImportError("the SpineBench metric scores with the SpineMed kit: pip install 'spinemed==0.1.0'") from None

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
phrasing, never guessed; refusals and unparsed answers are counted).  Report and open-answer
outputs get a level-aware score (precision/recall/F1 of the vertebral levels they name);
open answers are scored by that alone, outside the total.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's free-text output per item.  None is a missing
        output: for MCQ wrong and counted as "missing" in `answers`; a report with a None or
        blank output is floor-scored (every dimension 1, item P3 = 20) and counted.
    references (`list` of `str`): MCQ items: the reference letter(s) ("B", "AC");
        report and open_qa items: the reference text ("" if none; used for level-aware scores).
    task (`list` of `str`): the item kind, one of "text_mcq", "image_mcq", "report",
        "open_qa" (scored by level precision/recall/F1 only, not part of the total).
    judge_scores (`list`, optional): per item, the judge's 1-5 scores for the ten dimensions as a
        dict or a JSON string; None / "" for MCQ items and unjudged reports.
    judge_errors (`list` of `str`, optional): per item, why the judgement of that report failed
        (None / "" where it did not); counted as `report["judge_failed"]`.
    judge_info (`dict`, optional): the judge's metadata (e.g. {"judge_model": ...,
        "prompt_version": "v1", "prompt_hash": ...}), a dict or a JSON string; returned as `judge`.
    partial_reports (`str`, optional): "none" (default): while any report is neither judged nor
        floor-scored, the report score and the total are None; "mean": the report score is the
        mean over the scored reports (recorded in `config`).
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
    strict (`bool`, optional): raise instead of counting None outputs and unjudged reports.
    return_items (`bool`, optional): include per-item records.
Returns:
    The `spinemed.scoring.score_predictions` results dict: `scores` (text_mcq, image_mcq,
    closed_qa, report, total; percent, None when not computable), `counts`, `weights`,
    `answers` (correct / answered / refused / empty / unparsed / missing per MCQ kind), `report`
    (judged, not_judged, floor_scored, judge_failed, no_judge_scores, complete, sections,
    dimensions, ...), `levels` (reports), `open_qa`, `breakdowns`, `ci`, `judge`, `config`, `warnings`.
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

_PER_ITEM = ("judge_scores", "judge_errors", "options", "subfield", "language", "ids", "reference_levels")

# evaluate stores the columns in Arrow and rejects None in a string column (when it is the first
# value), so a None output travels as this marker and becomes None again in `_compute`: the
# scorer must see it as missing (counted, floor-scored for reports), not as "".
_MISSING_OUTPUT = "\x00spinebench:missing-output\x00"


def _no_none(column, fill=""):
    return column if column is None else [fill if v is None else v for v in column]


def _check_columns(task, per_item, options=None):
    """Task kinds, per-item list lengths and options: checked before evaluate stores the batch,
    so a bad input fails fast (an error raised inside `_compute` leaves evaluate's cache lock held)."""
    n = len(task)
    for i, kind in enumerate(task):
        if kind not in ITEM_KINDS:
            raise ValueError(f"task[{i}] = {kind!r} is not a SpineBench item kind; valid kinds: {', '.join(ITEM_KINDS)}")
    for name, column in per_item.items():
        if column is not None and len(column) != n:
            raise ValueError(f"{name} has {len(column)} entries but there are {n} predictions")
    options = options or {}
    if options.get("partial_reports", "none") not in PARTIAL_REPORTS:
        raise ValueError(f"partial_reports must be one of {', '.join(map(repr, PARTIAL_REPORTS))}, got {options['partial_reports']!r}")
    if options.get("judge_info") is not None:
        _judge_info(options["judge_info"])


def _judge_info(value):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"judge_info is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TypeError(f"judge_info must be a dict (judge model, prompt version, ...), got {type(value).__name__}")
    return value


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
            prediction=_MISSING_OUTPUT if prediction is None else prediction,
            reference="" if reference is None else reference,
            **kwargs,
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of items (see `compute` for the inputs)."""
        if "task" in kwargs:
            kwargs["task"] = _no_none(kwargs["task"])
        return super().add_batch(predictions=_no_none(predictions, _MISSING_OUTPUT), references=_no_none(references), **kwargs)

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Score the items added so far plus those given here; per-item extras go in as kwargs.
"""
        if "task" in kwargs:
            kwargs["task"] = _no_none(kwargs["task"])
            if predictions is not None and references is not None and len(predictions) == len(references) == len(kwargs["task"]):
                _check_columns(kwargs["task"], {k: kwargs.get(k) for k in _PER_ITEM}, kwargs)
        return super().compute(predictions=_no_none(predictions, _MISSING_OUTPUT), references=_no_none(references), **kwargs)

    def _compute(
        self,
        predictions,
        references,
        task,
        judge_scores=None,
        judge_errors=None,
        judge_info=None,
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
        partial_reports="none",
    ):
        columns = (judge_scores, judge_errors, options, subfield, language, ids, reference_levels)
        _check_columns(task, dict(zip(_PER_ITEM, columns)), {"partial_reports": partial_reports, "judge_info": judge_info})
        items = []
        for i, kind in enumerate(task):
            item = {"kind": kind}
            if kind in ("report", "open_qa"):
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
        errors = None if judge_errors is None else [str(v) if v not in (None, "") else None for v in judge_errors]
        outputs = [None if p == _MISSING_OUTPUT else p for p in predictions]
        return score_predictions(
            items,
            outputs,
            scores,
            judge_errors=errors,
            judge_info=_judge_info(judge_info),
            partial_reports=partial_reports,
            sections=sections,
            strict=strict,
            bootstrap=int(bootstrap),
            seed=int(seed),
            return_items=return_items,
        )
