"""What a leaderboard row was made from: the model revision, prompts, decoding, judge and benchmark.

Every accepted submission and every queue result carries a ``provenance`` block at the top of its
results JSON, with these keys (the leaderboard's details view shows them):

    model_id, model_revision, prompt_version, prompt_hash, generation (dict), judge_model,
    judge_prompt_version, benchmark_version, bench_items (int), source ("paper" | "submission" | "queue")

It is derived from the results themselves (:func:`provenance_from_results`), so it can never say
something the scored file does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PROVENANCE_KEYS", "PROVENANCE_SOURCES", "provenance_from_results"]

PROVENANCE_KEYS = ("model_id", "model_revision", "prompt_version", "prompt_hash", "generation", "judge_model",
                   "judge_prompt_version", "benchmark_version", "bench_items", "source")
PROVENANCE_SOURCES = ("paper", "submission", "queue")


def _block(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = results.get(key)
    return value if isinstance(value, Mapping) else {}


def provenance_from_results(results: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The provenance block of a results dict (the runner's / the Space's results schema).

    The judge fields are None when the reports were not judged: the row's report part then
    has no score, and the block says so rather than naming a judge that did not run.
    """
    if source not in PROVENANCE_SOURCES:
        raise ValueError(f"provenance source must be one of {PROVENANCE_SOURCES}, got {source!r}")
    model, prompt, bench, judge = (_block(results, k) for k in ("model", "prompt", "benchmark", "judge"))
    items = bench.get("items")
    return {
        "model_id": model.get("id") or model.get("name"),
        "model_revision": model.get("revision"),
        "prompt_version": prompt.get("version"),
        "prompt_hash": prompt.get("hash"),
        "generation": dict(_block(results, "generation")),
        "judge_model": judge.get("judge_model"),
        "judge_prompt_version": judge.get("prompt_version"),
        "benchmark_version": bench.get("version"),
        "bench_items": int(items) if isinstance(items, int) and not isinstance(items, bool) else None,
        "source": source,
    }
