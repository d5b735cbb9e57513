"""Fuzz: predictions files (spinemed/evaluation/predictions.py) and results JSON
(spinemed/evaluation/results.py).

Property: `validate_prediction` / `validate_results` return a list of problems for any value
(never raise); `read_predictions` raises only PredictionsError and `load_results` only
ResultsError, for any bytes on disk, and both name the file.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from spinemed.evaluation.predictions import (
    PREDICTION_FIELDS,
    PREDICTION_STATUSES,
    PredictionsError,
    read_predictions,
    validate_prediction,
)
from spinemed.evaluation.results import ResultsError, load_results, validate_results
from spinemed.schema import KINDS

from .strategies import json_values, mutated

_VALID_PREDICTION = {"id": "T-001", "kind": "text_mcq", "output": "B", "extracted": "B", "status": "answered",
                     "latency_s": 0.5, "error": None, "attempts": 1, "cached": False}
predictions = st.one_of(
    st.fixed_dictionaries({}, optional={k: json_values for k in PREDICTION_FIELDS}),
    st.fixed_dictionaries({"id": st.text(max_size=8), "kind": st.sampled_from(KINDS),
                           "output": st.one_of(st.none(), st.text(max_size=30)),
                           "status": st.sampled_from(PREDICTION_STATUSES)},
                          optional={"error": json_values, "latency_s": json_values}),
    mutated(_VALID_PREDICTION),
    json_values,
)


def _lines(objs: list, tail: bytes) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode("utf-8") + b"\n" for o in objs) + tail


@given(obj=predictions)
def test_validate_prediction_lists_problems(obj):
    problems = validate_prediction(obj, "line 1")
    assert isinstance(problems, list) and all(isinstance(p, str) and p.startswith("line 1") for p in problems)


@given(content=st.one_of(st.builds(_lines, st.lists(predictions, max_size=4), st.binary(max_size=20)),
                         st.binary(max_size=200)), strict=st.booleans())
@example(content=b"\xff\n", strict=True)  # not UTF-8: was a bare UnicodeDecodeError naming no file
@example(content=b"[" * 5000 + b"]" * 5000 + b"\n", strict=True)  # nesting past the recursion limit
@example(content=b"[" * 5000 + b"]" * 5000 + b"\n", strict=False)
def test_read_predictions_raises_only_predictions_error(content, strict):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.jsonl"
        path.write_bytes(content)
        try:
            out = read_predictions(path, strict=strict)
        except PredictionsError as exc:
            assert str(path) in str(exc)
            return
    assert all(isinstance(k, str) and validate_prediction(v) == [] for k, v in out.items())


# --------------------------------------------------------------------------------------
# Results JSON
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _valid_results() -> dict:
    """A real results payload (baseline run over the sample bench, shared with tests/eval)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
    from test_eval_results import _retrieval_results

    return _retrieval_results()


class _LazyResults:
    """Defers the eval run until hypothesis draws from the strategy (not at collection)."""

    @functools.cached_property
    def strategy(self) -> st.SearchStrategy:
        return mutated(_valid_results())


_lazy = _LazyResults()
results_docs = st.one_of(st.deferred(lambda: _lazy.strategy), json_values)


def test_the_fuzzed_results_start_valid():
    assert validate_results(_valid_results()) == []


@given(obj=results_docs)
@example(obj={"scores": {"total": 1e308 * 10}})
def test_validate_results_lists_problems(obj):
    problems = validate_results(obj)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


@given(content=st.one_of(results_docs.map(lambda o: json.dumps(o).encode()), st.binary(max_size=200)))
@example(content=b"\xff{}")  # not UTF-8: was a bare UnicodeDecodeError naming no file
@example(content=b"[" * 5000 + b"]" * 5000)  # nesting past the recursion limit: was a RecursionError
def test_load_results_raises_only_results_error_naming_the_file(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        path.write_bytes(content)
        try:
            load_results(path)
        except ResultsError as exc:
            assert str(path) in str(exc) and exc.problems
