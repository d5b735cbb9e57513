"""Fuzz: a submission's provenance (spinemed/space/submissions.py: identify_wrong_file, read_run_meta,
resolve_provenance) and a model request (spinemed/space/queue.py: new_request).

Property: any uploaded metadata bytes and any typed values are accepted or refused with
SubmissionRejected / QueueError (ValueErrors saying why), never another exception; what is accepted
has every provenance field filled.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from hypothesis import example, given
from hypothesis import strategies as st

from spinemed.space.bench import SpaceBench
from spinemed.space.queue import PENDING, QueueError, new_request
from spinemed.space.submissions import SubmissionRejected, identify_wrong_file, read_run_meta, resolve_provenance

from .strategies import json_values

BENCH = SpaceBench(SimpleNamespace(items=[{"id": "T-001", "kind": "text_mcq"}], name="SpineBench", version="v0-fuzz",
                                   registered=True, items_hash="a" * 64))
_META = {"spec": "openai:org/model", "revision": "r1", "max_new_tokens": 1024, "temperature": 0.0,
         "prompt_version": "v9-unknown", "prompt_hash": "b" * 64, "benchmark_items_hash": "a" * 64}
metas = st.one_of(
    st.builds(lambda fp: json.dumps({"format": "spinebench-predictions/1", "fingerprint": fp}).encode(),
              st.dictionaries(st.sampled_from(sorted(_META) + ["decoding", "x"]), json_values, max_size=8)),
    st.binary(max_size=200),
    st.just(json.dumps({"format": "spinebench-predictions/1", "fingerprint": _META}).encode()),
)
texts = st.one_of(st.text(max_size=80), json_values)


@given(data=metas, revision=texts, version=texts, digest=texts, generation=texts)
@example(data=b"[" * 3000 + b"]" * 3000, revision="", version="", digest="", generation="")
def test_metadata_and_typed_provenance_are_accepted_or_refused(data, revision, version, digest, generation):
    identify_wrong_file(data)  # never raises
    try:
        meta = read_run_meta(data)
        prov = resolve_provenance(BENCH, name="org/m", revision=revision, prompt_version=version, prompt_hash=digest,
                                  generation=generation, meta=meta)
    except SubmissionRejected as exc:
        assert exc.problems and all(isinstance(p, str) for p in exc.problems) and exc.markdown()
        return
    assert prov.revision and prov.prompt_version and len(prov.prompt_hash) == 64 and prov.generation


@given(model=texts, revision=texts, name=texts, endpoints=st.booleans())
@example(model="org/m@v1", revision="v2", name="", endpoints=False)
@example(model="openai:m@http://x/v1", revision="", name="", endpoints=True)
def test_model_requests_are_made_or_refused(model, revision, name, endpoints):
    try:
        req = new_request(model, revision, name=name, allow_endpoints=endpoints)
    except QueueError as exc:
        assert str(exc)
        return
    assert req["status"] == PENDING and req["model"] and req["revision"] and req["spec"].startswith(("hf:", "openai:"))
