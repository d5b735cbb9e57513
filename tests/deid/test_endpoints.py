"""Trusted endpoints: routing by source type, and the refusal to send clinical records elsewhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from test_deid_requests import scrubbed_stamps
from tools.simserver import SimServer

from spinemed.cli import main as cli_main
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.pipeline import DEFAULT_BUILDER, BuildConfig, CorpusBuilder, run_build
from spinemed.llm.base import ChatRequest, UnstampedRequestError, UntrustedEndpointError
from spinemed.llm.client import LLMClient
from spinemed.llm.openai_compat import OpenAICompatBackend
from spinemed.llm.routing import CLINICAL_SOURCE_TYPES, RoutingBackend, check_routing, resolve_endpoints
from spinemed.schema import TASKS

ROOT = Path(__file__).resolve().parents[2]


def _builder(tmp_path: Path, generation: dict) -> Path:
    """A copy of the shipped builder YAML with its own generation block (paths made absolute)."""
    spec = yaml.safe_load(DEFAULT_BUILDER.read_text("utf-8"))
    base = DEFAULT_BUILDER.parent
    for key in ("sources", "prompts", "criteria", "card_template"):
        spec[key] = str((base / spec[key]).resolve())
    spec["generation"] = {"concurrency": 8, "languages": "source", "json_retries": 2, **generation}
    path = tmp_path / "builder.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return path


def _responder():
    rules = RulesBackend()
    return lambda body: rules.respond(body["messages"])


# ---------------------------------------------------------------- configuration


def test_clinical_source_types_are_inpatient_records_and_imaging_studies():
    assert CLINICAL_SOURCE_TYPES == {"inpatient", "open_dataset"}


def test_offline_is_trusted_a_loopback_url_is_not():
    endpoints, routing = resolve_endpoints({"backend": "offline"})
    check_routing(endpoints, routing, ["inpatient", "textbook"])  # no error
    endpoints, routing = resolve_endpoints({"backend": "openai", "model": "m", "base_urls": ["http://127.0.0.1:8000/v1"]})
    with pytest.raises(UntrustedEndpointError, match=r"'inpatient'.*endpoint 'default' \(openai, http://127.0.0.1:8000/v1\)"):
        check_routing(endpoints, routing, ["inpatient", "textbook"])
    check_routing(endpoints, routing, ["textbook", "case_report"])  # literature may go anywhere
    endpoints, routing = resolve_endpoints({"backend": "openai", "model": "m", "base_urls": ["http://127.0.0.1:8000/v1"],
                                            "trusted": True})
    check_routing(endpoints, routing, ["inpatient", "open_dataset"])


@pytest.mark.parametrize("gen,match", [
    ({"routing": {"inpatients": "default"}}, "not a source type"),
    ({"routing": {"inpatient": "local"}}, "no endpoint named 'local'"),
    ({"endpoints": {"local": {"backend": "openai", "model": "m", "base_urls": ["http://x/v1"]}}}, "trusted: true"),
    ({"endpoints": {"local": {"backend": "openai", "trusted": "yes"}}}, "true or false"),
    ({"endpoints": {"default": {"backend": "offline"}}}, "'default' is the endpoint"),
    ({"endpoints": {"local": {"backend": "offline", "url": "x"}}}, "unknown key"),
    ({"trusted": "true"}, "generation.trusted must be true or false"),
])
def test_config_errors_are_clear(gen, match):
    with pytest.raises(ValueError, match=match):
        resolve_endpoints(gen)


def test_routing_backend_checks_every_request_again():
    class Hosted(RulesBackend):
        name, trusted = "hosted-stub", False

    routed = RoutingBackend({"default": Hosted(), "local": RulesBackend()}, {"default": "default", "inpatient": "local"})
    req = ChatRequest(messages=({"role": "user", "content": "x"},), route="open_dataset")
    with pytest.raises(UntrustedEndpointError, match="'open_dataset'.*'default'"):
        asyncio.run(routed.complete(req))
    assert routed.sent == {"default": 0, "local": 0}


def test_a_client_that_requires_stamps_refuses_unstamped_requests():
    client = LLMClient(RulesBackend(), require_deid_stamp=True)
    with pytest.raises(UnstampedRequestError):
        client.chat_sync(ChatRequest(messages=({"role": "user", "content": "x"},)))


# ---------------------------------------------------------------- refusal


def test_build_refuses_to_send_clinical_sources_to_an_untrusted_endpoint(tmp_path, capsys):
    with SimServer(latency_s=0.0, capture=True, responder=_responder()) as server:
        rc = cli_main(["build", "--out", str(tmp_path / "a"), "--backend", "openai", "--model", "m",
                       "--base-url", server.base_url])
        err = capsys.readouterr().err
        assert rc == 2
        assert "refusing to start" in err and "'inpatient'" in err and "'open_dataset'" in err
        assert f"endpoint 'default' (openai, {server.base_url})" in err and "--trusted-endpoint" in err
        # configured routing: clinical records routed to the hosted (untrusted) endpoint
        builder = _builder(tmp_path, {
            "backend": "offline",
            "endpoints": {"hosted": {"backend": "openai", "model": "m", "base_urls": [server.base_url], "trusted": False}},
            "routing": {"inpatient": "hosted"}})
        with pytest.raises(UntrustedEndpointError, match=r"'inpatient' would be sent to endpoint 'hosted'"):
            run_build(BuildConfig(out=tmp_path / "b", builder=builder), progress=None)
        assert server.requests == 0  # nothing was sent
    assert not (tmp_path / "a" / "manifest.json").exists() and not (tmp_path / "b").exists()


def test_a_callers_client_must_be_trusted_for_clinical_sources(tmp_path):
    class Hosted(RulesBackend):
        name, trusted = "hosted-stub", False

    with pytest.raises(UntrustedEndpointError, match="'inpatient'"):
        CorpusBuilder(BuildConfig(out=tmp_path / "x"), client=LLMClient(Hosted()), progress=None)


# ---------------------------------------------------------------- a routed build


def test_routed_build_sends_each_source_type_only_to_its_endpoint(tmp_path):
    with SimServer(latency_s=0.0, max_concurrency=8, capture=True, responder=_responder()) as local, \
            SimServer(latency_s=0.0, max_concurrency=8, capture=True, responder=_responder()) as hosted:
        builder = _builder(tmp_path, {
            "backend": "openai", "model": "hosted-model", "base_urls": [hosted.base_url], "trusted": False,
            "endpoints": {"local": {"backend": "openai", "model": "local-model", "base_urls": [local.base_url],
                                    "trusted": True}},
            "routing": {"inpatient": "local", "open_dataset": "local"}})
        summary = run_build(BuildConfig(out=tmp_path / "out", builder=builder), progress=None)
        got = {"local": list(local.captured), "hosted": list(hosted.captured)}
    stamps = scrubbed_stamps()
    header = OpenAICompatBackend.STAMP_HEADER.lower()
    types = {name: {stamps[r["headers"][header]] for r in reqs} for name, reqs in got.items()}
    assert types["local"] == {"inpatient", "open_dataset"}
    assert types["hosted"] and not types["hosted"] & CLINICAL_SOURCE_TYPES
    assert {r["body"]["model"] for r in got["local"]} == {"local-model"}
    assert {r["body"]["model"] for r in got["hosted"]} == {"hosted-model"}
    # rows record the endpoint's model; the summary says which endpoint got what
    for task in TASKS:
        for path in (tmp_path / "out" / "data" / task).glob("*.parquet"):
            for row in pq.read_table(path, columns=["provenance", "generation"]).to_pylist():
                clinical = row["provenance"]["source_type"] in CLINICAL_SOURCE_TYPES
                assert row["generation"]["model"] == ("local-model" if clinical else "hosted-model")
    ends = summary["endpoints"]
    assert ends["local"]["trusted"] and not ends["default"]["trusted"]
    assert ends["local"]["source_types"] == ["inpatient", "open_dataset"]
    assert ends["local"]["requests"] == len(got["local"]) and ends["default"]["requests"] == len(got["hosted"])
    assert "http" not in json.dumps(ends)  # no URLs in the work files
    assert summary["accounting"]["balanced"]
