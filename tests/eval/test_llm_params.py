"""Request parameters per model: reasoning-model rules, the adaptive 400 path, --gen-kwargs, recording."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from test_eval_openai import Model
from test_eval_support import sample_bench
from tools.simserver import SimHTTPError, SimServer

from spinemed.cli import main as cli_main
from spinemed.evaluation.benchmark import load_benchmark
from spinemed.evaluation.runner import EvalConfig, run_eval
from spinemed.judge import judge_reports
from spinemed.llm.base import ChatRequest, LLMError, RejectedRequestError
from spinemed.llm.client import LLMClient
from spinemed.llm.openai_compat import OpenAICompatBackend
from spinemed.llm.params import ParamTable, is_reasoning_model, parse_gen_kwargs, shape_body, unsupported_param

MAX_TOKENS_400 = {"error": {
    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
    "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}
TEMPERATURE_400 = {"error": {
    "message": "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
    "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}


def _models(*names):
    return {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}


def _request(**kw):
    return ChatRequest(messages=({"role": "user", "content": "hi"},), temperature=0.0, max_tokens=64, **kw)


@pytest.mark.parametrize("name", ["gpt-5", "gpt-5-mini", "gpt-5-nano-2025-08-07", "gpt-5.1", "o1", "o1-mini", "o3",
                                  "o3-pro", "o4-mini", "openai/gpt-5-mini", "azure/o3-mini", "GPT-5-Mini"])
def test_reasoning_families_by_name(name):
    assert is_reasoning_model(name)


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o10-foo", "gpt-50", "Qwen/Qwen2.5-VL-72B-Instruct",
                                  "sim", "", "foo-o3", "llama-3-o1x", "gpt-5-chat-latest"])
def test_other_models_are_not_reasoning_models(name):
    assert not is_reasoning_model(name)


def test_family_rule_renames_max_tokens_and_drops_temperature_but_keeps_explicit_keys():
    body = {"model": "gpt-5-mini", "messages": [], "temperature": 0.0, "max_tokens": 64}
    assert shape_body(body, "gpt-5-mini") == {"model": "gpt-5-mini", "messages": [], "max_completion_tokens": 64}
    assert shape_body(body, "gpt-4o") == body
    # the user asked for temperature 1 through --gen-kwargs: left as asked
    kept = shape_body({**body, "temperature": 1}, "gpt-5-mini", explicit=["temperature"])
    assert kept["temperature"] == 1 and "max_tokens" not in kept


def test_unsupported_param_reads_openai_error_shapes():
    assert unsupported_param(MAX_TOKENS_400) == ("max_tokens", "max_completion_tokens")
    assert unsupported_param(TEMPERATURE_400) == ("temperature", None)
    assert unsupported_param(json.dumps(TEMPERATURE_400)) == ("temperature", None)
    # message only (a gateway that drops param/code)
    assert unsupported_param({"error": {"message": "Unsupported parameter: 'top_p' is not supported"}}) == ("top_p", None)
    # other 400s are not parameter problems
    assert unsupported_param({"error": {"message": "messages[0].content is too long", "code": "context_length_exceeded"}}) is None
    assert unsupported_param({"error": {"message": "bad", "param": "messages", "code": "unsupported_value"}}) is None
    assert unsupported_param("not json") is None and unsupported_param(None) is None


def test_gen_kwargs_parse_json_and_pairs_and_refuse_bad_input():
    assert parse_gen_kwargs('{"reasoning_effort": "low", "top_p": 0.9}') == {"reasoning_effort": "low", "top_p": 0.9}
    assert parse_gen_kwargs("reasoning_effort=low, max_completion_tokens=4096,seed=null,stop=[\"x\"]") == {
        "reasoning_effort": "low", "max_completion_tokens": 4096, "seed": None, "stop": ["x"]}
    assert parse_gen_kwargs("") == {} and parse_gen_kwargs(None) == {}
    for bad, why in [("{not json", "not valid JSON"), ("[1]", "JSON object"), ("top_p", "KEY=VALUE"),
                     ("model=x", "cannot be set")]:
        with pytest.raises(ValueError, match=why):
            parse_gen_kwargs(bad)


def test_reasoning_family_is_right_the_first_time():
    with SimServer(latency_s=0, reasoning=True, capture=True) as server:
        backend = OpenAICompatBackend(server.base_url, "gpt-5-mini", learned=ParamTable())
        result = asyncio.run(backend.complete(_request()))
    assert server.param_rejections == 0 and server.requests == 1
    sent = server.captured[0]["body"]
    assert sent["max_completion_tokens"] == 64 and "max_tokens" not in sent and "temperature" not in sent
    assert result.params == {"model": "gpt-5-mini", "max_completion_tokens": 64}


def test_unknown_model_adapts_once_per_parameter_and_remembers_it():
    table = ParamTable()
    with SimServer(latency_s=0, reasoning=True, capture=True) as server:
        backend = OpenAICompatBackend(server.base_url, "house-reasoner", learned=table)
        first = asyncio.run(backend.complete(_request()))
        assert server.param_rejections == 2 and server.requests == 3  # max_tokens, then temperature, then ok
        second = asyncio.run(backend.complete(_request()))
        assert server.param_rejections == 2 and server.requests == 4  # remembered: right the first time
        other = OpenAICompatBackend(server.base_url, "house-reasoner", learned=table)  # shared per endpoint+model
        asyncio.run(other.complete(_request()))
        assert server.requests == 5
    assert first.params == second.params == {"model": "house-reasoner", "max_completion_tokens": 64}
    assert table.rules(server.base_url, "house-reasoner") == {"max_tokens": "max_completion_tokens", "temperature": None}
    assert table.rules(server.base_url, "another-model") == {}


def test_adaptation_is_safe_under_concurrency_and_in_streams():
    table = ParamTable()
    with SimServer(latency_s=0.01, reasoning=True, max_concurrency=16) as server:
        backend = OpenAICompatBackend(server.base_url, "house-reasoner", learned=table)
        client = LLMClient(backend, concurrency=16, retries=0)
        results = asyncio.run(client.map([_request(extra={"seed": i}) for i in range(40)]))
        assert all(not isinstance(r, Exception) for r in results), results
        # at most one 400 per parameter per request in flight before the first lesson
        assert server.param_rejections <= 2 * 16
        before = server.param_rejections
        assert "".join(client.stream_sync(_request())) and server.param_rejections == before

    with SimServer(latency_s=0, reasoning=True) as server:  # a stream that has to adapt itself
        client = LLMClient(OpenAICompatBackend(server.base_url, "house-reasoner", learned=ParamTable()), retries=0)
        assert "".join(client.stream_sync(_request())) and server.param_rejections == 2


def test_other_4xx_are_not_retried_and_say_why():
    def responder(body):
        raise SimHTTPError(400, "messages[0].content is too long")

    with SimServer(latency_s=0, responder=responder) as server:
        client = LLMClient(OpenAICompatBackend(server.base_url, "gpt-4o", learned=ParamTable()), retries=3)
        with pytest.raises(RejectedRequestError, match=r"HTTP 400 \(not retried\): messages\[0\].content is too long") as info:
            asyncio.run(client.chat(_request()))
    assert info.value.status == 400 and server.requests == 1
    assert isinstance(info.value, LLMError)


def test_a_parameter_refused_again_is_not_retried_forever():
    def responder(body):  # refuses temperature whatever is sent (a broken gateway)
        raise SimHTTPError(400, "Unsupported value: 'temperature' is not supported")

    with SimServer(latency_s=0, responder=responder) as server:
        backend = OpenAICompatBackend(server.base_url, "gpt-4o", learned=ParamTable())
        with pytest.raises(RejectedRequestError):
            asyncio.run(backend.complete(_request()))
    assert server.requests == 2  # once as asked, once without temperature


def _cfg(out, server, model, **kw):
    kw.setdefault("allow_unregistered", True)
    kw.setdefault("plots", False)
    kw.setdefault("bootstrap", 0)
    kw.setdefault("backoff_s", 0.01)
    return EvalConfig(bench=sample_bench(), model=f"openai:{model}@{server.base_url}", out=out, **kw)


@pytest.mark.parametrize("model", ["gpt-5-mini", "house-reasoner"])  # by family / adaptively
def test_eval_against_a_reasoning_endpoint_has_zero_errors(tmp_path, model):
    sim = Model()
    with SimServer(latency_s=0, responder=sim, reasoning=True, capture=True, models_body=_models(model)) as server:
        run = run_eval(_cfg(tmp_path / "run", server, model, gen_kwargs={"reasoning_effort": "low"},
                            judge_model=model, judge_urls=[server.base_url],
                            judge_gen_kwargs={"reasoning_effort": "minimal"}))
    results = run.results
    assert run.error_count == 0 and results["benchmark"]["complete"]
    assert results["scores"]["text_mcq"] == 100.0
    gen = results["generation"]
    assert gen["request_params"] == {"max_completion_tokens": 1024, "reasoning_effort": "low"}
    assert gen["temperature"] is None and "default" in gen["decoding"]
    assert gen["gen_kwargs"] == {"reasoning_effort": "low"}
    assert results["judge"]["request_params"] == {"max_completion_tokens": 2048, "reasoning_effort": "minimal"}
    bodies = [c["body"] for c in server.captured if c["body"]]
    sent_ok = [b for b in bodies if "max_tokens" not in b and "temperature" not in b]
    assert all(b["reasoning_effort"] in ("low", "minimal") for b in bodies)
    meta = json.loads((tmp_path / "run" / "predictions.meta.json").read_text())
    assert meta["request_params"] == gen["request_params"] and meta["fingerprint"]["extra_body"] == {"reasoning_effort": "low"}
    n_items = len(load_benchmark(sample_bench(), allow_unregistered=True).items)
    assert len(sent_ok) >= n_items
    if model == "gpt-5-mini":
        assert server.param_rejections == 0


def test_cli_gen_kwargs_are_recorded_and_all_errors_exit_nonzero(tmp_path, capsys):
    sim = Model()
    sim.fail = {i["id"] for i in sim.items}  # every request fails (503 after retries)
    with SimServer(latency_s=0, responder=sim) as server:
        code = cli_main(["eval", "--bench", str(sample_bench()), "--model", f"openai:sim@{server.base_url}",
                         "--out", str(tmp_path / "run"), "--allow-unregistered", "--no-plots", "--bootstrap", "0",
                         "--retries", "0", "--max-error-rate", "1", "--gen-kwargs", "top_p=0.5"])
    err = capsys.readouterr().err
    assert code == 3
    assert "every one of the" in err and "nothing was evaluated" in err and "overloaded" in err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["generation"]["gen_kwargs"] == {"top_p": 0.5}
    command = results["run"]["command"]
    assert command[command.index("--gen-kwargs") + 1] == '{"top_p": 0.5}'


def test_cli_refuses_bad_gen_kwargs(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["eval", "--bench", "x", "--model", "baseline:random", "--out", "y", "--gen-kwargs", "top_p"])
    assert info.value.code == 2 and "KEY=VALUE" in capsys.readouterr().err


def test_judge_sends_gen_kwargs_and_records_params():
    items = [i for i in load_benchmark(sample_bench(), allow_unregistered=True).items if i["kind"] == "report"][:2]
    sim = Model()
    lock, seen = threading.Lock(), []

    def responder(body):
        with lock:
            seen.append(body)
        return sim(body)

    with SimServer(latency_s=0, responder=responder) as server:
        client = LLMClient(OpenAICompatBackend(server.base_url, "judge", learned=ParamTable()), retries=0)
        run = asyncio.run(judge_reports(items, ["A report."] * len(items), client, gen_kwargs={"seed": 7}))
    assert all(b["seed"] == 7 and b["temperature"] == 0.0 for b in seen)
    assert run.request_params == {"temperature": 0.0, "max_tokens": 2048, "seed": 7}
    assert run.info()["request_params"] == run.request_params


def test_space_chat_streams_from_a_reasoning_endpoint():
    from spinemed.space.chat import OpenAIChatBackend, Turn

    # the process-wide table: a name no other test uses, so nothing was learned for it before
    model = f"space-reasoner-{uuid.uuid4().hex[:8]}"
    with SimServer(latency_s=0, reasoning=True, capture=True, models_body=_models(model)) as server:
        chat = OpenAIChatBackend(server.base_url, model)
        first = "".join(chat.stream([Turn("user", "L4-L5 disc?")], "en"))
        second = "".join(chat.stream([Turn("user", "And L5-S1?")], "en"))
    assert first and second
    assert server.param_rejections == 2  # learned on the first message, not asked again on the second
    last = server.captured[-1]["body"]
    assert last["stream"] is True and "temperature" not in last and last["max_completion_tokens"] == 1024


def test_preflight_probe_follows_the_model_rules():
    from spinemed.models.loader import check_endpoint

    with SimServer(latency_s=0, reasoning=True, models_route=False, capture=True) as server:
        check_endpoint(server.base_url, "gpt-5-mini", None)
    assert server.param_rejections == 0
    assert server.captured[-1]["body"]["max_completion_tokens"] == 1
