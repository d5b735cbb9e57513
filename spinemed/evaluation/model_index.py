"""Model-card ``model-index`` entries from a results JSON.

:func:`results_to_eval_results` gives ``huggingface_hub.EvalResult`` objects (for
``ModelCardData(eval_results=...)``); :func:`results_to_model_index` gives the ``model-index``
YAML structure, built by huggingface_hub's own ``eval_results_to_model_index`` so it parses
back with ``model_index_to_eval_results``.  Scores are percentages, as on the leaderboard;
a score that was not computed (reports not judged) is left out, never written as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from huggingface_hub import EvalResult
from huggingface_hub.repocard_data import eval_results_to_model_index

from spinemed.evaluation.results import validate_results

__all__ = ["TASK_TYPE", "results_to_eval_results", "results_to_model_index"]

TASK_TYPE = "image-text-to-text"

# (score key, metric type, metric name)
_METRICS = (
    ("text_mcq", "accuracy", "Text MCQ accuracy (P1, %)"),
    ("image_mcq", "accuracy", "Image MCQ accuracy (P2, %)"),
    ("closed_qa", "accuracy", "Closed QA accuracy (%)"),
    ("report", "spinebench_report", "Report score (P3, LLM judge, %)"),
    ("total", "spinebench_total", "SpineBench total (%)"),
)


def results_to_eval_results(results: Mapping[str, Any], *, allow_partial: bool = False) -> list[EvalResult]:
    """One ``EvalResult`` per computed score of a valid results dict.

    A run on a subset of the benchmark (``--limit``/``--kinds``) is refused unless
    `allow_partial`: a model card must not present a smoke run as the benchmark score.
    """
    problems = validate_results(results)
    if problems:
        raise ValueError(f"not a valid results payload: {'; '.join(problems[:5])}")
    bench = results["benchmark"]
    if bench.get("items_errored") and not allow_partial:
        raise ValueError(f"{bench['items_errored']} of {bench['items']} item(s) of the run errored (requests failed); "
                         "model-index entries need a complete run: rerun the same command to retry them")
    if not bench["complete"] and not allow_partial:
        raise ValueError(
            f"the run covers only a subset of {bench['name']} {bench['version']} ({bench['items']} items); "
            "model-index entries need a complete run (or allow_partial=True)"
        )
    name = "SpineBench" + (" (sample)" if bench.get("variant") == "sample" else "")
    if not bench["registered"]:
        name += " (unregistered build)"
    common = {
        "task_type": TASK_TYPE,
        "task_name": "SpineBench",
        "dataset_type": bench.get("repo") or bench["name"],
        "dataset_name": name,
        "dataset_split": "test",
        "dataset_revision": bench["version"],
    }
    judge = (results.get("judge") or {}).get("judge_model")
    out = []
    for key, metric_type, metric_name in _METRICS:
        value = results["scores"].get(key)
        if value is None:
            continue
        args = {"n": results["counts"][key if key in results["counts"] else "total"]}
        if key in ("report", "total") and judge:
            args["judge"] = judge
        out.append(EvalResult(metric_type=metric_type, metric_name=metric_name, metric_value=round(float(value), 2),
                              metric_args=args, **common))
    levels = results.get("levels") or {}
    if levels.get("items") and levels.get("f1") is not None:
        out.append(EvalResult(metric_type="f1", metric_name="Vertebral-level F1 in reports (micro)",
                              metric_value=round(float(levels["f1"]), 4), metric_args={"n": levels["items"]}, **common))
    if not out:
        raise ValueError("the results hold no computed score")
    return out


def results_to_model_index(results: Mapping[str, Any], model_name: str | None = None, *,
                           allow_partial: bool = False) -> list[dict[str, Any]]:
    """The ``model-index`` list for a model card (``[{"name", "results": [...]}]``)."""
    name = model_name or results["model"]["name"]
    return eval_results_to_model_index(name, results_to_eval_results(results, allow_partial=allow_partial))
