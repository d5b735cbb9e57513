"""Running a model over SpineBench: predictions, scores, plots and leaderboard / model-card entries.

Light to import (no torch, no matplotlib): the heavy parts load on demand.

* :func:`spinemed.evaluation.runner.run_eval` / ``spinemed eval``: the runner;
* :mod:`spinemed.evaluation.results`: the one results JSON schema (``RESULTS_SCHEMA_VERSION``,
  ``validate_results``, ``load_results``);
* :mod:`spinemed.evaluation.predictions`: the predictions JSONL (also the leaderboard upload format);
* :mod:`spinemed.evaluation.models` / :mod:`~spinemed.evaluation.baselines`: model adapters;
* :mod:`spinemed.evaluation.model_index`: ``results_to_model_index`` for model cards;
* :func:`spinemed.evaluation.demo.run_eval_demo`: the offline baselines of ``spinemed demo``;
* :mod:`spinemed.evaluation.agreement`: human-vs-judge agreement (``spinemed eval agreement``).
"""

from spinemed.evaluation.results import RESULTS_SCHEMA_VERSION, load_results, validate_results

__all__ = ["RESULTS_SCHEMA_VERSION", "load_results", "run_eval", "run_eval_demo", "validate_results"]


def __getattr__(name: str):
    # run_eval / run_eval_demo import the runner (and with it the scorer) only when used.
    if name == "run_eval":
        from spinemed.evaluation.runner import run_eval

        return run_eval
    if name == "run_eval_demo":
        from spinemed.evaluation.demo import run_eval_demo

        return run_eval_demo
    raise AttributeError(f"module 'spinemed.evaluation' has no attribute {name!r}")
