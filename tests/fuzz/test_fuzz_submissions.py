"""Fuzz: leaderboard uploads (spinemed/space/submissions.py: parse_predictions, validate_meta).

Property: any uploaded bytes and any form values are accepted or refused with
SubmissionRejected (a ValueError listing the problems), never another exception; an accepted
upload covers every benchmark item once, in benchmark order.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from hypothesis import example, given
from hypothesis import strategies as st

from spinemed.evaluation.predictions import PREDICTION_FIELDS, PREDICTION_STATUSES
from spinemed.schema import KINDS
from spinemed.space.bench import SpaceBench
from spinemed.space.leaderboard import ACCESS, DOMAINS
from spinemed.space.submissions import SubmissionLimits, SubmissionRejected, parse_predictions, validate_meta

from .strategies import json_values, mutated, near_values

_ITEMS = [{"id": "T-001", "kind": "text_mcq"}, {"id": "I-001", "kind": "image_mcq"}, {"id": "R-001", "kind": "report"}]
BENCH = SpaceBench(SimpleNamespace(items=_ITEMS, name="SpineBench", version="v0-fuzz", registered=True))
_VALID = [{"id": "T-001", "kind": "text_mcq", "output": "B", "status": "answered"},
          {"id": "I-001", "kind": "image_mcq", "output": "A", "status": "answered"},
          {"id": "R-001", "kind": "report", "output": "Findings: L4-L5 disc herniation.", "status": "generated"}]
LIMITS = SubmissionLimits(max_bytes=4096, max_line_bytes=512, max_output_chars=200)


def _jsonl(rows, sep: str = "\n") -> bytes:
    return sep.join(json.dumps(r, ensure_ascii=False, allow_nan=True) for r in rows).encode("utf-8")


rows = st.one_of(
    st.fixed_dictionaries({"id": st.sampled_from([i["id"] for i in _ITEMS] + ["X-1", ""]),
                           "kind": st.sampled_from(KINDS), "output": st.one_of(st.none(), st.text(max_size=30)),
                           "status": st.sampled_from(PREDICTION_STATUSES)},
                          optional={k: json_values for k in PREDICTION_FIELDS if k not in ("id", "kind", "output", "status")}),
    json_values,
)
uploads = st.one_of(
    mutated(_VALID).map(_jsonl),
    st.builds(_jsonl, st.lists(rows, max_size=5), st.sampled_from(["\n", "\r\n", "\u2028", "\x85"])),
    st.lists(st.one_of(st.binary(max_size=30), st.sampled_from([b"\n", b"\xef\xbb\xbf", b"{", b"}", b'"id"']))).map(b"".join),
    st.binary(max_size=300),
)


@given(data=uploads)
@example(data=_jsonl(_VALID))
@example(data=b"[" * 5000 + b"]" * 5000)
def test_uploads_are_accepted_whole_or_rejected(data):
    try:
        accepted = parse_predictions(data, BENCH, LIMITS)
    except SubmissionRejected as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems)
        assert exc.markdown()
        return
    assert [r["id"] for r in accepted] == BENCH.ids
    assert all(set(r) == set(PREDICTION_FIELDS) for r in accepted)


@given(name=st.one_of(st.text(max_size=90), json_values), params_b=near_values,
       access=st.one_of(st.sampled_from(ACCESS), near_values), domain=st.one_of(st.sampled_from(DOMAINS), near_values))
@example(name="my-org/SpineLM-7B", params_b=10**400, access=ACCESS[0], domain=DOMAINS[0])  # was an OverflowError
@example(name="my-org/SpineLM-7B", params_b="1e400", access=ACCESS[0], domain=DOMAINS[0])
@example(name="my-org/SpineLM-7B", params_b=7, access=[], domain={})
def test_form_fields_are_accepted_or_rejected(name, params_b, access, domain):
    try:
        meta = validate_meta(name, params_b, access, domain)
    except SubmissionRejected as exc:
        assert exc.problems
        return
    assert meta.access in ACCESS and meta.domain in DOMAINS
    assert meta.params_b is None or 0 < meta.params_b <= 10_000


def test_the_fuzzed_upload_starts_valid():
    assert [r["id"] for r in parse_predictions(_jsonl(_VALID), BENCH, LIMITS)] == BENCH.ids
