"""A simulated OpenAI-compatible chat server for tests and throughput benchmarks (stdlib only).

It really listens on a TCP port and speaks HTTP/1.1 with keep-alive, so the whole client
stack (httpx, retries, dispatch over endpoints) is exercised as against vLLM.  Like vLLM's
scheduler it runs at most `max_concurrency` requests at a time and *queues* the rest
(`overload="queue"`, the default); `overload="reject"` answers 429 with Retry-After instead,
as rate-limited hosted APIs do, and counts those in `rejected`.

A test and benchmark tool, not part of the library: tests and benchmarks put ``tests/tools`` on
``sys.path`` and ``import simserver``.  As a script::

    python tests/tools/simserver.py --port 8011 --latency 0.1 --max-concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

__all__ = ["SimHTTPError", "SimServer", "echo_responder"]


class SimHTTPError(Exception):
    """Raise from a responder to answer with this HTTP status and error message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image_types(body: dict) -> list[str]:
    """Media types of the image parts, e.g. ["image/png"] ("url" for non-data URLs)."""
    types = []
    for message in body.get("messages", []):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = str((part.get("image_url") or {}).get("url", ""))
                types.append(url[5:].split(";", 1)[0] if url.startswith("data:") else "url")
    return types


def echo_responder(body: dict) -> str:
    """Default responder: a deterministic JSON summary of the request."""
    users = [m for m in body["messages"] if m.get("role") == "user"]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(
        {
            "model": body.get("model", ""),
            "messages": len(body["messages"]),
            "last_user": _text_of(users[-1].get("content"))[:200] if users else "",
            "images": _image_types(body),
            "digest": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _validate(body) -> str | None:
    """The reason a body is not a valid chat request (answered with 400), or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' must be a non-empty string"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool", "developer"):
            return f"messages[{i}] needs a valid 'role'"
        if not isinstance(m.get("content"), (str, list)):
            return f"messages[{i}].content must be a string or a list of parts"
    if body.get("max_tokens") is not None and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        return "'max_tokens' must be a positive integer"
    return None


class SimServer:
    """An OpenAI-compatible server on 127.0.0.1, run in a background thread.

    latency_s: time each admitted request takes.  max_concurrency: requests processed at
    once; further requests queue (overload="queue") or get 429 (overload="reject").
    responder: body -> assistant text (default `echo_responder`); it may raise SimHTTPError.
    fail_rate / fail_status: each chat request fails with `fail_status` with this
    probability, decided in arrival order by a `random.Random(seed)`, so a given sequence
    of requests sees the same failures on every run.
    api_key: when set, chat requests without `Authorization: Bearer <api_key>` get 401, as
    with `vllm serve --api-key`.
    html_page: when set, every request on every path is answered 200 with this text as
    ``text/html`` (a web server, login portal or dashboard at the wrong base URL).
    models_route: False answers GET /models with 404 (gateways without the route; chat works).
    models_body: when set, what GET /models answers (200, JSON) instead of the model list
    (an API of another kind at the base URL).
    capture: keep every chat request in `captured` ({"headers": lowercased names -> values,
    "raw": the body as sent (text), "body": the parsed JSON or None}), for tests that check what
    a client sends (e.g. that no identifier leaves the machine).
    reasoning: answer like OpenAI's reasoning models (gpt-5, o-series): HTTP 400 with OpenAI's
    exact error body to ``max_tokens`` (``unsupported_parameter``, "Use 'max_completion_tokens'
    instead") and to a ``temperature`` other than 1 (``unsupported_value``); counted in
    `param_rejections`.

    Counters (read from any thread): `requests` chat requests received (all outcomes),
    `in_flight_peak` most requests open at once *including queued ones* (what a client's
    concurrency bound controls), `rejected` 429s sent for overload, `failed` injected failures.
    """

    def __init__(
        self,
        latency_s: float = 0.05,
        max_concurrency: int = 8,
        responder: Callable[[dict], str] | None = None,
        fail_rate: float = 0.0,
        fail_status: int = 500,
        seed: int = 0,
        overload: str = "queue",
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        capture: bool = False,
        html_page: str | None = None,
        models_body=None,
        models_route: bool = True,
        reasoning: bool = False,
    ):
        if max_concurrency < 1:
            raise ValueError(f"SimServer: max_concurrency must be >= 1, got {max_concurrency}")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"SimServer: fail_rate must be in [0, 1], got {fail_rate}")
        if overload not in ("queue", "reject"):
            raise ValueError(f"SimServer: overload must be 'queue' or 'reject', got {overload!r}")
        if latency_s < 0:
            raise ValueError(f"SimServer: latency_s must be >= 0, got {latency_s}")
        self.latency_s = latency_s
        self.max_concurrency = max_concurrency
        self.responder = responder or echo_responder
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.overload = overload
        self.host = host
        self.port = port
        self.api_key = api_key
        self.capture = capture
        self.html_page = html_page
        self.models_body = models_body
        self.models_route = models_route
        self.captured: list[dict] = []
        self.reasoning = reasoning
        self.param_rejections = 0
        self._rng = random.Random(seed)
        self.requests = 0
        self.in_flight = 0
        self.in_flight_peak = 0
        self.rejected = 0
        self.failed = 0
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self._sem: asyncio.Semaphore | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Start listening (port 0 picks a free port) and return the base URL ending in /v1."""
        if self._thread is not None:
            raise RuntimeError(f"SimServer already running at {self.base_url}")
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(ready, errors), name="spinemed-simserver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SimServer did not start within 10 s")
        if errors:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"SimServer could not listen on {self.host}:{self.port}: {errors[0]}") from errors[0]
        return self.base_url

    def stop(self) -> None:
        """Stop listening and abort open requests; safe to call twice."""
        if self._thread is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self, ready: threading.Event, errors: list) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
        except OSError as exc:
            errors.append(exc)
            ready.set()
            loop.close()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._sem = asyncio.Semaphore(self.max_concurrency)
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while True:  # keep-alive: one connection, many requests
                request_line = await reader.readline()
                if not request_line:
                    break
                parts = request_line.decode("latin-1").split()
                if len(parts) != 3:
                    await self._write(writer, 400, {"error": {"message": "malformed request line"}}, keep_alive=False)
                    break
                method, target, version = parts
                headers = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    await self._write(
                        writer, 411, {"error": {"message": "chunked bodies not supported"}}, keep_alive=False
                    )
                    break
                raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, payload, extra = await self._route(method, target.split("?", 1)[0], raw, headers)
                keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                await self._write(writer, status, payload, keep_alive, extra)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # client went away or sent garbage: drop the connection
        except asyncio.CancelledError:
            # stop() cancels open handlers; ending normally keeps asyncio.streams (3.11) from
            # logging the cancellation as an unhandled error.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    @staticmethod
    async def _write(writer, status: int, payload: dict | str, keep_alive: bool, extra: dict | None = None) -> None:
        # a str payload is an HTML page (html_page), anything else JSON
        html = isinstance(payload, str)
        data = payload.encode("utf-8") if html else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        head = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Type: {'text/html; charset=utf-8' if html else 'application/json'}",
            f"Content-Length: {len(data)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{k}: {v}" for k, v in (extra or {}).items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()

    async def _route(self, method: str, path: str, raw: bytes, headers: dict) -> tuple[int, dict, dict]:
        path = path.rstrip("/")
        if self.html_page is not None:
            if path.endswith("/chat/completions"):
                self.requests += 1
            return 200, self.html_page, {}
        if path in ("/v1/chat/completions", "/chat/completions"):
            if self.capture:
                text = raw.decode("utf-8", "replace")
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError:
                    parsed = None
                self.captured.append({"headers": dict(headers), "raw": text, "body": parsed})
            if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
                self.requests += 1
                return 401, _error("invalid or missing API key", "authentication_error"), {}
            if method != "POST":
                return 405, {"error": {"message": f"{method} not allowed; use POST"}}, {"Allow": "POST"}
            return await self._chat(raw)
        if path in ("/v1/models", "/models") and method == "GET" and self.models_route:
            if self.models_body is not None:
                return 200, self.models_body, {}
            return 200, {"object": "list", "data": [{"id": "sim", "object": "model", "owned_by": "spinemed"}]}, {}
        if path == "/health" and method == "GET":
            return 200, {"status": "ok"}, {}
        return 404, {"error": {"message": f"no route for {method} {path}"}}, {}

    async def _chat(self, raw: bytes) -> tuple[int, dict, dict]:
        self.requests += 1
        number = self.requests
        fail = self.fail_rate > 0 and self._rng.random() < self.fail_rate  # drawn in arrival order
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                return 400, _error(f"body is not JSON: {exc}", "invalid_request_error"), {}
            problem = _validate(body)
            if problem:
                return 400, _error(problem, "invalid_request_error"), {}
            refusal = _reasoning_refusal(body) if self.reasoning else None
            if refusal:
                self.param_rejections += 1
                return 400, refusal, {}
            if fail:
                self.failed += 1
                return self.fail_status, _error("injected failure", "server_error"), {}
            if self.overload == "reject" and self._active >= self.max_concurrency:
                self.rejected += 1
                return 429, _error("server busy", "rate_limit_exceeded"), {"Retry-After": "1"}
            async with self._sem:
                self._active += 1
                try:
                    await asyncio.sleep(self.latency_s)
                    try:
                        text = self.responder(body)
                    except SimHTTPError as exc:
                        return exc.status, _error(exc.message, "responder_error"), {}
                    except Exception as exc:  # a broken responder is a server error, not a crash
                        return 500, _error(f"responder failed: {type(exc).__name__}: {exc}", "server_error"), {}
                finally:
                    self._active -= 1
        finally:
            self.in_flight -= 1
        prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in body["messages"])
        completion_tokens = len(str(text).split())
        return (
            200,
            {
                "id": f"chatcmpl-sim-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": str(text)}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            {},
        )


def _reasoning_refusal(body: dict) -> dict | None:
    """OpenAI's 400 body for what a reasoning model refuses (the texts as the API sends them)."""
    if "max_tokens" in body:
        return {"error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                       "Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}
    if "temperature" in body and body["temperature"] != 1:
        return {"error": {
            "message": f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                       "Only the default (1) value is supported.",
            "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}
    return None


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/tools/simserver.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=8, help="requests processed at once")
    parser.add_argument("--overload", choices=("queue", "reject"), default="queue")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="require this Bearer token")
    parser.add_argument("--model", default="sim", help="the model id GET /models lists (e.g. gpt-5-mini with --reasoning)")
    parser.add_argument("--reasoning", action="store_true",
                        help="refuse max_tokens and temperature != 1 with HTTP 400, as OpenAI's reasoning models do")
    args = parser.parse_args(argv)
    server = SimServer(
        latency_s=args.latency,
        max_concurrency=args.max_concurrency,
        fail_rate=args.fail_rate,
        fail_status=args.fail_status,
        seed=args.seed,
        overload=args.overload,
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        reasoning=args.reasoning,
        models_body={"object": "list", "data": [{"id": args.model, "object": "model", "owned_by": "spinemed"}]},
    )
    print(f"simulated OpenAI-compatible server at {server.start()} (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly when a script kills it
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"served {server.requests} requests (peak in flight {server.in_flight_peak}, rejected {server.rejected})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
