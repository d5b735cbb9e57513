"""Fuzz: answer-letter extraction (spinemed/choices.py) and vertebral-level parsing (spinemed/levels.py).

Both read raw model output.  Property: any text gives a result (never an exception) and a
result that is consistent with the options or the level vocabulary; only the documented
argument errors (ValueError for bad `options`, TypeError for a non-string text) are raised.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spinemed.choices import extract_choice, extract_choice_detailed
from spinemed.levels import LEVELS, canonical_level, level_prf, level_sort_key, parse_levels

# Model-output-like text: answer phrases, letters, markup and CJK mixed with arbitrary unicode.
_PIECES = ["Answer:", "答案", "选", "**", "\\boxed{", "}", "(", ")", "<answer>", "</answer>", "</think>", "A", "B", "C",
           "D", "E", "AC", "A, C", "and", "or", "not", "I cannot", "option", "Final answer", "\n", " ", "：", "。",
           "L4/5", "L5-S1", "C3-7", "T1", "T2WI", "腰4、5椎间盘", "第12胸椎", "Th12", "S1", "T13", "L3-5", ",", "-", "/"]
model_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=5)), max_size=60).map("".join),
)
options = st.text(alphabet="ABCDEFGH", min_size=1, max_size=8).filter(lambda s: len(set(s)) == len(s))


@given(text=st.one_of(st.none(), model_text), opts=options,
       option_texts=st.one_of(st.none(), st.dictionaries(st.sampled_from("ABCDEFGH"), st.text(max_size=40), max_size=8)))
def test_extract_choice_answers_from_the_options_or_none(text, opts, option_texts):
    result = extract_choice_detailed(text, opts, option_texts)
    assert result.status in ("answered", "empty", "refused", "unparsed")
    if result.answer is not None:
        assert result.status == "answered"
        assert set(result.answer) <= set(opts.upper()) and result.answer == "".join(sorted(set(result.answer)))
    assert extract_choice(text, opts, option_texts) == result.answer


@given(opts=st.one_of(st.text(max_size=6), st.integers(), st.none()))
def test_extract_choice_rejects_bad_options_with_value_error(opts):
    try:
        extract_choice("B", opts)
    except ValueError:
        pass


@given(text=st.one_of(st.integers(), st.binary(max_size=10), st.lists(st.text(max_size=3), max_size=3)))
def test_extract_choice_rejects_non_text_with_type_error(text):
    with pytest.raises(TypeError):
        extract_choice(text)


@given(text=model_text)
def test_parse_levels_gives_canonical_levels_in_order(text):
    levels = parse_levels(text)
    assert all(lv in LEVELS for lv in levels)
    assert levels == sorted(set(levels), key=level_sort_key)


@given(token=st.one_of(model_text, st.sampled_from(_PIECES), st.integers(), st.none()))
def test_canonical_level_is_a_level_or_none(token):
    canon = canonical_level(token)
    assert canon is None or canon in LEVELS
    if isinstance(token, str):
        try:
            level_sort_key(token)
        except ValueError:
            assert canon is None


@given(pred=st.lists(st.one_of(st.sampled_from(sorted(LEVELS)), model_text), max_size=6),
       ref=st.lists(st.sampled_from(sorted(LEVELS)), max_size=6))
def test_level_prf_scores_or_names_the_bad_level(pred, ref):
    try:
        scores = level_prf(pred, ref)
    except ValueError as exc:
        assert "not one vertebral level" in str(exc)
        return
    for key in ("precision", "recall", "f1"):
        if key in scores:
            assert 0.0 <= scores[key] <= 1.0


@given(piece=st.sampled_from(_PIECES + ["A, ", "a, ", "A and ", "(A), ", "A、"]), n=st.integers(100, 3000))
@example(piece="A, ", n=4000)  # was quadratic: 25 s for 12 KB (an unbounded letter list tried at every "A")
def test_long_repetitive_outputs_finish_fast(piece, n):
    # The profile's deadline (2 s an example) is the assertion: model outputs run to many KB.
    text = piece * n
    extract_choice_detailed(text, "ABCDE")
    parse_levels(text)
