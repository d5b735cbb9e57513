"""LLM client, request cache and OpenAI-compatible backend, against real SimServers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import socket
import sqlite3
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tools.simserver import SimHTTPError, SimServer

from spinemed.llm.base import ChatRequest, ChatResult, LLMError
from spinemed.llm.cache import CacheError, RequestCache
from spinemed.llm.client import LLMClient, build_client
from spinemed.llm.images import image_to_data_url, text_and_images_content
from spinemed.llm.openai_compat import OpenAICompatBackend, RetryableError, _parse_response, parse_retry_after

MODEL = "sim-model"


def req(text: str, **kw) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **kw)


@pytest.fixture
def servers():
    """Factory for started SimServers, all stopped at teardown."""
    started: list[SimServer] = []

    def make(**kw) -> SimServer:
        server = SimServer(**kw)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def client_for(*servers_or_urls, cache=None, backend_timeout=10.0, **kw) -> LLMClient:
    urls = [s.base_url if isinstance(s, SimServer) else s for s in servers_or_urls]
    kw.setdefault("backoff_s", 0.01)
    return LLMClient(OpenAICompatBackend(urls, MODEL, timeout_s=backend_timeout), cache=cache, **kw)


def png_bytes(size=(40, 20), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


# -- basic protocol ----------------------------------------------------------------------


def test_basic_completion_stamps_model_and_reports_endpoint(servers):
    server = servers(latency_s=0.0)

    async def go():
        async with client_for(server) as client:
            return await client.chat(req("Which level is herniated?")), client.stats

    result, stats = asyncio.run(go())
    echo = json.loads(result.text)
    assert echo["last_user"] == "Which level is herniated?"
    assert echo["model"] == MODEL  # empty request model was stamped with the backend's
    assert result.model == MODEL and result.backend == "openai"
    assert result.endpoint == server.base_url
    assert result.attempts == 1 and result.cached is False
    assert result.usage["prompt_tokens"] == 4 and result.usage["total_tokens"] > 4
    assert stats.requests == 1 and stats.cache_hits == 0 and server.requests == 1


def test_image_content_reaches_server_as_data_url(servers):
    seen: list[dict] = []

    def responder(body):
        seen.append(body)
        return "ok"

    server = servers(latency_s=0.0, responder=responder)
    png = png_bytes()
    jpeg_img = Image.new("RGB", (30, 30), (0, 90, 200))
    jbuf = io.BytesIO()
    jpeg_img.save(jbuf, format="JPEG")
    jpeg_img = Image.open(io.BytesIO(jbuf.getvalue()))  # a PIL image that came from a JPEG
    content = text_and_images_content("Describe the sagittal T2 image.", [png, jpeg_img])

    async def go():
        async with client_for(server) as client:
            return await client.chat(ChatRequest(messages=({"role": "user", "content": content},)))

    assert asyncio.run(go()).text == "ok"
    parts = seen[0]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert parts[2]["text"] == "Describe the sagittal T2 image."
    url0, url1 = parts[0]["image_url"]["url"], parts[1]["image_url"]["url"]
    assert url0.startswith("data:image/png;base64,")
    assert base64.b64decode(url0.split(",", 1)[1]) == png  # PNG bytes pass through untouched
    assert url1.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url1.split(",", 1)[1]))).size == (30, 30)


def test_image_to_data_url_resizes_sniffs_and_names_bad_items(tmp_path):
    big = png_bytes(size=(400, 200))
    url = image_to_data_url(big, max_side=100)
    small = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert url.startswith("data:image/png;") and small.format == "PNG" and small.size == (100, 50)
    assert image_to_data_url(big, max_side=400) == "data:image/png;base64," + base64.b64encode(big).decode()

    webp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(webp, format="WEBP")
    path = tmp_path / "fig.webp"
    path.write_bytes(webp.getvalue())
    assert image_to_data_url(path).startswith("data:image/png;base64,")  # re-encoded for any server
    assert image_to_data_url({"bytes": big, "path": None}) == image_to_data_url(big)

    with pytest.raises(ValueError, match=r"images\[1\]: 9 bytes are not a readable image"):
        text_and_images_content("q", [big, b"not image"])
    with pytest.raises(ValueError, match=r"images\[0\]: cannot read image file .*missing\.png"):
        text_and_images_content("q", [tmp_path / "missing.png"])


# -- errors and retries ------------------------------------------------------------------


def test_retries_injected_5xx_then_succeeds(servers):
    calls = {"n": 0}

    def flaky(body):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise SimHTTPError(503, "warming up")
        return "recovered"

    server = servers(latency_s=0.0, responder=flaky)

    async def go():
        async with client_for(server, retries=4) as client:
            return await client.chat(req("q")), client.stats

    result, stats = asyncio.run(go())
    assert result.text == "recovered" and result.attempts == 3
    assert stats.requests == 3 and stats.retries == 2 and stats.failures == 0
    assert server.requests == 3


def test_fail_injection_is_deterministic_with_seed(servers):
    rate, seed = 0.5, 7
    draws = random.Random(seed)
    expected = next(i for i in range(1, 50) if draws.random() >= rate)  # attempts until a success
    assert expected > 1  # the seed must exercise at least one retry

    def run_once():
        server = servers(latency_s=0.0, fail_rate=rate, fail_status=500, seed=seed)

        async def go():
            async with client_for(server, retries=20) as client:
                return await client.chat(req("q"))

        return asyncio.run(go()).attempts, server.failed

    assert run_once() == (expected, expected - 1)
    assert run_once() == (expected, expected - 1)


def test_400_is_not_retried(servers):
    server = servers(latency_s=0.0)

    async def go():
        async with client_for(server, retries=4) as client:
            with pytest.raises(LLMError) as info:
                await client.chat(ChatRequest(messages=()))
            return info.value, client.stats

    error, stats = asyncio.run(go())
    assert not isinstance(error, RetryableError)
    assert "HTTP 400" in str(error) and server.base_url in str(error) and "messages" in str(error)
    assert server.requests == 1 and stats.retries == 0 and stats.failures == 1


def test_timeout_is_retried_then_fails(servers):
    server = servers(latency_s=3.0)

    async def go():
        async with client_for(server, backend_timeout=0.2, retries=2) as client:
            with pytest.raises(LLMError, match=r"failed after 3 attempt\(s\).*timed out after 0.2s"):
                await client.chat(req("slow"))
            return client.stats

    start = time.perf_counter()
    stats = asyncio.run(go())
    assert time.perf_counter() - start < 2.0
    assert stats.requests == 3 and stats.retries == 2 and stats.failures == 1
    assert server.requests == 3


class _ScriptedBackend:
    """A backend replaying a script of exceptions / texts (or hanging on "hang")."""

    name = "scripted"
    model = "scripted-model"

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    async def complete(self, request):
        self.calls += 1
        step = self.script.pop(0)
        if step == "hang":
            await asyncio.sleep(60)
        if isinstance(step, BaseException):
            raise step
        return ChatResult(text=step, model=request.model, backend=self.name)


def test_client_deadline_covers_all_attempts():
    client = LLMClient(_ScriptedBackend(["hang"]), timeout_s=0.2)
    start = time.perf_counter()
    with pytest.raises(LLMError, match=r"timed out after 0.2s \(1 attempt"):
        client.chat_sync(req("q"))
    assert time.perf_counter() - start < 1.0 and client.stats.failures == 1


def test_retry_after_is_honoured():
    backend = _ScriptedBackend([RetryableError("429 busy", retry_after=0.3, status=429), "done"])
    client = LLMClient(backend, backoff_s=0.001, max_backoff_s=5)
    start = time.perf_counter()
    assert client.chat_sync(req("q")).text == "done"
    assert 0.3 <= time.perf_counter() - start < 1.0 and backend.calls == 2

    assert parse_retry_after("2") == 2.0
    assert 58 <= parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_overloaded_server_rejects_with_429_and_client_recovers(servers):
    server = servers(latency_s=0.1, max_concurrency=1, overload="reject")

    async def go():
        async with client_for(server, concurrency=2, max_backoff_s=0.05, retries=10) as client:
            return await client.map([req("a"), req("b")]), client.stats

    results, stats = asyncio.run(go())
    assert [json.loads(r.text)["last_user"] for r in results] == ["a", "b"]
    assert server.rejected >= 1 and stats.retries == server.rejected


def test_malformed_responses_raise_llm_error():
    url = "http://node1:8000/v1"
    with pytest.raises(LLMError, match=r"node1:8000/v1/chat/completions: HTTP 200 response is not JSON"):
        _parse_response(httpx.Response(200, text="<html>proxy</html>"), url, MODEL, 0.1)
    with pytest.raises(LLMError, match=r"no choices\[0\]\.message"):
        _parse_response(httpx.Response(200, json={"choices": []}), url, MODEL, 0.1)
    with pytest.raises(LLMError, match=r"content is missing \(finish_reason='tool_calls'\)"):
        _parse_response(
            httpx.Response(200, json={"choices": [{"message": {"content": None}, "finish_reason": "tool_calls"}]}),
            url,
            MODEL,
            0.1,
        )


# -- cache -------------------------------------------------------------------------------


def test_cache_rerun_sends_nothing_and_new_content_misses(servers, tmp_path):
    server = servers(latency_s=0.0)
    requests = [req(f"question {i}") for i in range(5)]

    async def run(reqs):
        async with client_for(server, cache=RequestCache(tmp_path / "requests.sqlite")) as client:
            return await client.map(reqs), client.stats

    first, stats1 = asyncio.run(run(requests))
    assert stats1.requests == 5 and server.requests == 5
    second, stats2 = asyncio.run(run(requests))  # a new client and a new RequestCache: a "new process"
    assert stats2.requests == 0 and stats2.cache_hits == 5 and server.requests == 5
    assert [r.text for r in second] == [r.text for r in first] and all(r.cached for r in second)

    changed = [req("question 0", temperature=0.7), req("question 5")]
    third, stats3 = asyncio.run(run(changed))
    assert stats3.requests == 2 and stats3.cache_hits == 0 and server.requests == 7
    assert not any(r.cached for r in third)


def test_identical_requests_in_flight_are_sent_once(servers, tmp_path):
    server = servers(latency_s=0.05)

    async def go():
        async with client_for(server, cache=RequestCache(tmp_path / "c.sqlite"), concurrency=4) as client:
            return await client.map([req("same")] * 4), client.stats

    results, stats = asyncio.run(go())
    assert server.requests == 1 and stats.requests == 1 and stats.cache_hits == 3
    assert len({r.text for r in results}) == 1 and sum(not r.cached for r in results) == 1


def test_cache_put_survives_kill_9(tmp_path):
    path = tmp_path / "requests.sqlite"
    code = (
        "import os, signal\n"
        "from spinemed.llm.cache import RequestCache\n"
        f"c = RequestCache({str(path)!r})\n"
        "c.put('k1', {'text': 'kept'})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)
    assert proc.returncode == -9, proc.stderr.decode()
    with RequestCache(path) as cache:
        assert cache.get("k1") == {"text": "kept"} and "k1" in cache and len(cache) == 1
        assert cache.get("missing") is None and "missing" not in cache


def test_corrupt_and_locked_cache_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheError, match=r"bad\.sqlite.*not a database"):
        RequestCache(bad)

    path = tmp_path / "locked.sqlite"
    cache = RequestCache(path, timeout_s=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CacheError, match=r"locked\.sqlite.*locked"):
            cache.put("k", {"text": "x"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    cache.put("k", {"text": "x"})
    cache.close()
    with pytest.raises(CacheError, match="after close"):
        cache.get("k")


# -- throughput and bounds ---------------------------------------------------------------


def test_two_endpoints_halve_the_time(servers):
    one = servers(latency_s=0.05, max_concurrency=2)
    a = servers(latency_s=0.05, max_concurrency=2)
    b = servers(latency_s=0.05, max_concurrency=2)
    requests = [req(f"q{i}") for i in range(16)]

    async def timed(*targets):
        async with client_for(*targets, concurrency=4) as client:
            start = time.perf_counter()
            results = await client.map(requests)
            return time.perf_counter() - start, results

    single, _ = asyncio.run(timed(one))
    double, results = asyncio.run(timed(a, b))
    assert single >= 0.4  # 16 requests, 2 at a time, 0.05 s each
    assert double < 0.7 * single, (single, double)
    assert a.requests + b.requests == 16 and min(a.requests, b.requests) >= 4
    assert {r.endpoint for r in results} == {a.base_url, b.base_url}


def test_dead_endpoint_is_avoided_after_it_fails(servers):
    live = servers(latency_s=0.02)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    probe.close()  # nothing listens there now: connection refused

    async def go():
        async with client_for(dead_url, live, concurrency=4, retries=2) as client:
            return await client.map([req(f"q{i}") for i in range(16)]), client.stats, client.backend.sent

    results, stats, sent = asyncio.run(go())
    assert not [r for r in results if isinstance(r, Exception)]
    assert live.requests == 16 and {r.endpoint for r in results} == {live.base_url}
    # Only the first wave reaches the dead server; without the cooldown, being the least busy
    # endpoint, it would take every new request and every retry.
    assert sent[0] <= 4 and stats.retries == sent[0]


def test_concurrency_is_bounded(servers):
    server = servers(latency_s=0.05, max_concurrency=16)

    async def go():
        async with client_for(server, concurrency=3) as client:
            return await client.map([req(f"q{i}") for i in range(12)])

    asyncio.run(go())
    assert server.in_flight_peak == 3 and server.requests == 12


def test_map_keeps_order_and_returns_errors_in_place(servers):
    server = servers(latency_s=0.01)
    requests = [req("a"), ChatRequest(messages=()), req("c"), req("d")]

    async def go(return_exceptions):
        async with client_for(server, concurrency=4, retries=0) as client:
            return await client.map(requests, return_exceptions=return_exceptions)

    results = asyncio.run(go(True))
    assert isinstance(results[1], LLMError) and "HTTP 400" in str(results[1])
    assert [json.loads(results[i].text)["last_user"] for i in (0, 2, 3)] == ["a", "c", "d"]
    with pytest.raises(LLMError, match="HTTP 400"):
        asyncio.run(go(False))
    assert asyncio.run(client_for(server).map([])) == []


def test_chat_sync_reuses_backend_across_loops_and_refuses_inside_a_loop(servers):
    server = servers(latency_s=0.0)
    client = client_for(server)
    assert json.loads(client.chat_sync(req("one")).text)["last_user"] == "one"
    assert json.loads(client.chat_sync(req("two")).text)["last_user"] == "two"

    async def inside():
        with pytest.raises(RuntimeError, match="running event loop"):
            client.chat_sync(req("three"))

    asyncio.run(inside())
    assert server.requests == 2


# -- factory and argument checks ---------------------------------------------------------


def test_build_client(tmp_path, servers):
    with pytest.raises(ValueError, match="choose one of offline, openai"):
        build_client("vllm")
    with pytest.raises(ValueError, match="needs base_urls"):
        build_client("openai", model=MODEL)
    with pytest.raises(ValueError, match="needs model"):
        build_client("openai", base_urls=["http://localhost:8000/v1"])
    with pytest.raises(ValueError, match="must start with http"):
        OpenAICompatBackend(["localhost:8000/v1"], MODEL)

    server = servers(latency_s=0.0)
    client = build_client(
        "openai", model=MODEL, base_urls=[server.base_url + "/"], cache_dir=tmp_path / "cache", concurrency=2
    )
    assert client.cache.path == tmp_path / "cache" / "requests.sqlite" and client.concurrency == 2
    assert client.chat_sync(req("x")).endpoint == server.base_url
    assert len(client.cache) == 1
    asyncio.run(client.aclose())


def test_build_client_offline():
    from spinemed.corpus.offline_rules import RULES_MODEL, RulesBackend
    from spinemed.llm.offline import OfflineBackend

    client = build_client("offline", offline=RulesBackend)
    assert isinstance(client.backend, OfflineBackend) and client.cache is None
    assert client.backend.model == RULES_MODEL
    assert build_client("offline", model="rules-v2", offline=RulesBackend).backend.model == "rules-v2"
    with pytest.raises(ValueError, match="rules the caller supplies"):  # transport has no rules of its own
        build_client("offline")


def test_api_key_from_argument_or_environment(servers, monkeypatch):
    server = servers(latency_s=0.0, api_key="sk-spine")

    def ask(**kw):
        return LLMClient(OpenAICompatBackend(server.base_url, MODEL, **kw), retries=3).chat_sync(req("q"))

    monkeypatch.delenv("SPINEMED_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMError, match="HTTP 401 .*invalid or missing API key"):
        ask()
    assert server.requests == 1  # 401 is not retried
    assert ask(api_key="sk-spine").text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-spine")
    assert ask().text
    monkeypatch.setenv("SPINEMED_API_KEY", "sk-wrong")  # takes precedence over OPENAI_API_KEY
    with pytest.raises(LLMError, match="HTTP 401"):
        ask()


@pytest.mark.slow
def test_throughput_scales_with_server_processes():
    """1 vs 2 vs 4 SimServer processes (0.5 s per request, 16 slots each), 64 requests per server.

    Run: .venv/bin/python -m pytest tests/eval/test_llm_client.py -m slow -s
    """
    ports = []
    for _ in range(4):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parents[1] / "tools" / "simserver.py"),
                "--port",
                str(port),
                "--latency",
                "0.5",
                "--max-concurrency",
                "16",
            ],
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}/v1" for port in ports]

    async def rate(k: int) -> float:
        backend = OpenAICompatBackend(urls[:k], MODEL, max_concurrency_per_endpoint=64)
        async with LLMClient(backend, concurrency=64) as client:
            start = time.perf_counter()
            results = await client.map([req(f"q{i}") for i in range(64 * k)])
            elapsed = time.perf_counter() - start
        assert not [r for r in results if isinstance(r, Exception)]
        print(f"{k} server(s): {64 * k} requests in {elapsed:.2f}s = {64 * k / elapsed:.1f} req/s (ideal {32 * k})")
        return 64 * k / elapsed

    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait for all servers to listen
            try:
                for url in urls:
                    httpx.get(url + "/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        rates = {k: asyncio.run(rate(k)) for k in (1, 2, 4)}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
    assert rates[1] > 0.8 * 32
    assert rates[2] > 1.7 * rates[1]
    assert rates[4] > 2.5 * rates[1]  # 4 server processes share the test machine's cores


# --------------------------------------------------------------------------------------
# Streaming (the Space chat's path)
# --------------------------------------------------------------------------------------


def _sse_body(*pieces: str) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _streaming_backend(handler, urls=("http://a/v1",)) -> OpenAICompatBackend:
    from spinemed.llm.openai_compat import httpx as client_httpx  # httpx2 when installed

    def respond(request):
        status, headers, content = handler(request)
        return client_httpx.Response(status, headers=headers, content=content)

    return OpenAICompatBackend(list(urls), MODEL, transport=client_httpx.MockTransport(respond))


def test_stream_yields_pieces_spreads_endpoints_and_retries_before_the_first_piece():
    seen, failures = [], {"left": 1}

    def handler(request):
        body = json.loads(request.content)
        seen.append((str(request.url), body["stream"], request.headers.get("accept")))
        if failures["left"]:
            failures["left"] -= 1
            return 503, {"content-type": "application/json"}, b'{"error": {"message": "busy"}}'
        return 200, {"content-type": "text/event-stream"}, _sse_body("L4", "-L5")

    client = LLMClient(_streaming_backend(handler, ("http://a/v1", "http://b/v1")), retries=2, backoff_s=0.01)
    assert list(client.stream_sync(req("which level?"))) == ["L4", "-L5"]
    assert [s[1:] for s in seen] == [(True, "text/event-stream")] * 2
    assert {s[0] for s in seen} == {"http://a/v1/chat/completions", "http://b/v1/chat/completions"}  # the retry moved
    assert (client.stats.requests, client.stats.retries) == (2, 1)
    assert list(client.stream_sync(req("again"))) == ["L4", "-L5"]  # the client's loop thread is reused


def test_stream_errors_and_a_server_that_ignores_stream():
    whole = json.dumps({"choices": [{"message": {"role": "assistant", "content": "whole"}}]}).encode()
    client = LLMClient(_streaming_backend(lambda r: (200, {"content-type": "application/json"}, whole)), retries=0)
    assert list(client.stream_sync(req("q"))) == ["whole"]

    broken = b'data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: {"error": {"message": "model crashed"}}\n\n'
    client = LLMClient(_streaming_backend(lambda r: (200, {"content-type": "text/event-stream"}, broken)), retries=3)
    pieces = client.stream_sync(req("q"))
    assert next(pieces) == "a"
    with pytest.raises(LLMError, match="model crashed"):
        next(pieces)

    client = LLMClient(_streaming_backend(lambda r: (400, {}, b'{"error": {"message": "bad image"}}')), retries=3)
    with pytest.raises(LLMError, match="HTTP 400 \\(not retried\\): bad image"):
        list(client.stream_sync(req("q")))
    assert client.stats.requests == 1
