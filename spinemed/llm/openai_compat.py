"""Backend for any OpenAI-compatible chat endpoint (vLLM, TGI, SGLang, hosted APIs).

One `AsyncClient` (httpx2, else httpx) serves every endpoint.  With several base URLs each
request goes to the endpoint with the fewest requests in flight (ties round-robin), so a slow
or busy server gets less work and throughput grows with the number of servers.  An endpoint
that just failed (connection error, timeout, 5xx) is avoided for a cooldown that doubles per
consecutive failure (1 s .. 30 s); otherwise a dead server, always the least busy, would
attract every new request and every retry.  The backend makes one attempt per call;
`LLMClient` adds retries, caching and the global concurrency bound.

`stream` sends the same request with ``"stream": true`` and yields the answer's text as the
server-sent events arrive (the Space chat); a server that ignores ``stream`` and answers with one
JSON body yields the whole answer as one piece.

Request parameters follow the model (`spinemed.llm.params`): a reasoning model (gpt-5, o1/o3/o4)
gets ``max_completion_tokens`` and no ``temperature``, and a 400 naming an unsupported parameter
is learned for that endpoint and model and the request sent again without it (or renamed): once
per parameter, within the same call.  Every result carries the parameters actually sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import time
from collections.abc import AsyncIterator

try:
    # httpx2, pydantic's httpx fork that huggingface_hub already depends on, has the same API
    # and a connection pool that stays O(connections) per request; with httpx 0.28 /
    # httpcore 1.0.9 the pool's bookkeeping grows quadratically and, measured here at 64
    # requests in flight, cost 3-10 ms of client CPU per request, enough to stop throughput
    # from scaling with the number of servers.
    import httpx2 as httpx
except ImportError:  # pragma: no cover - plain httpx works, only slower at high concurrency
    import httpx

from spinemed.llm.base import ChatRequest, ChatResult, LLMError, RejectedRequestError, RetryableError
from spinemed.llm.params import LEARNED, ParamTable, sent_params, shape_body, unsupported_param

__all__ = ["RETRYABLE_STATUS", "OpenAICompatBackend", "RetryableError", "parse_retry_after"]

log = logging.getLogger(__name__)

# 408 timeout, 409 conflict (some gateways), 429 rate limit, 5xx server/gateway errors.
RETRYABLE_STATUS = frozenset({408, 409, 429})
API_KEY_ENV_VARS = ("SPINEMED_API_KEY", "OPENAI_API_KEY")
COOLDOWN_BASE_S, COOLDOWN_MAX_S = 1.0, 30.0
MAX_ADAPTATIONS = 4  # parameters one request may shed after 400s (max_tokens, temperature, ...)


class _LoopState:
    """Objects bound to one event loop (httpx connections, the dispatch condition)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient):
        self.loop = loop
        self.client = client
        self.slot_free = asyncio.Condition()


class OpenAICompatBackend:
    """`Backend` that POSTs `ChatRequest.body()` to `{base_url}/chat/completions`.

    base_urls: one URL or a list, each ending in the API root (e.g. "http://node1:8000/v1").
    api_key: sent as a Bearer token; defaults to $SPINEMED_API_KEY, then $OPENAI_API_KEY;
      no header when none is set (a local vLLM without --api-key).
    timeout_s: per-attempt HTTP timeout.
    max_concurrency_per_endpoint: requests in flight per endpoint; more wait for a free slot.
    trusted: the endpoint is declared on-premises: clinical sources (inpatient records, imaging
      studies) may be sent to it.  Never inferred (a loopback URL may be a tunnel to anywhere).
    transport: an httpx transport for tests (e.g. ``httpx.MockTransport``; the `httpx` of this module).
    learned: where refused parameters are remembered (default: the process-wide
      `spinemed.llm.params.LEARNED`, so every client of one endpoint and model shares it).

    A request's de-identification stamp, when it has one, goes along as the
    `X-SpineMed-Deid-Stamp` header (a hash of the scrubbed record: it carries no content), so a
    server-side log or a capture proxy can check that every request came from a scrubbed record.
    """

    name = "openai"
    STAMP_HEADER = "X-SpineMed-Deid-Stamp"

    def __init__(
        self,
        base_urls: list[str] | str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120,
        max_concurrency_per_endpoint: int = 16,
        headers: dict | None = None,
        trusted: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        learned: ParamTable | None = None,
    ):
        if not isinstance(trusted, bool):
            raise TypeError(f"OpenAICompatBackend: trusted must be true or false, got {trusted!r}")
        self.trusted = trusted
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError(
                "OpenAICompatBackend: base_urls is empty; give at least one URL like http://localhost:8000/v1"
            )
        self.base_urls: list[str] = []
        for url in urls:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError(f"OpenAICompatBackend: base URL {url!r} must start with http:// or https://")
            url = url.rstrip("/")
            url = url.removesuffix("/chat/completions")  # a full endpoint URL given by mistake
            self.base_urls.append(url)
        if len(set(self.base_urls)) != len(self.base_urls):
            raise ValueError(f"OpenAICompatBackend: duplicate base URLs in {self.base_urls}")
        if not model:
            raise ValueError(
                "OpenAICompatBackend: model is required (the name the server serves, e.g. Qwen/Qwen2.5-VL-72B-Instruct)"
            )
        if max_concurrency_per_endpoint < 1:
            raise ValueError(
                f"OpenAICompatBackend: max_concurrency_per_endpoint must be >= 1, got {max_concurrency_per_endpoint}"
            )
        if timeout_s <= 0:
            raise ValueError(f"OpenAICompatBackend: timeout_s must be > 0, got {timeout_s}")
        self.model = model
        self.timeout_s = float(timeout_s)
        self.max_concurrency_per_endpoint = max_concurrency_per_endpoint
        if api_key is None:
            api_key = next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.in_flight = [0] * len(self.base_urls)
        self.sent = [0] * len(self.base_urls)  # attempts dispatched per endpoint, for logs
        self._failures = [0] * len(self.base_urls)  # consecutive failures per endpoint
        self._down_until = [0.0] * len(self.base_urls)  # time.monotonic() when usable again
        self._next = 0  # round-robin pointer for ties
        self._transport = transport
        self._state: _LoopState | None = None
        self.learned = learned if learned is not None else LEARNED

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(base_urls={self.base_urls!r}, model={self.model!r}, trusted={self.trusted})"

    def _loop_state(self) -> _LoopState:
        # httpx connections and asyncio primitives belong to one loop; `chat_sync` runs a
        # fresh loop per call, so rebuild them when the loop changes.
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            limit = self.max_concurrency_per_endpoint * len(self.base_urls)
            client = httpx.AsyncClient(
                headers=self._headers,
                timeout=httpx.Timeout(self.timeout_s),
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                transport=self._transport,
            )
            self._state = _LoopState(loop, client)
            self.in_flight = [0] * len(self.base_urls)
        return self._state

    async def _acquire_endpoint(self, state: _LoopState) -> int:
        async with state.slot_free:
            cap = self.max_concurrency_per_endpoint
            while min(self.in_flight) >= cap:
                await state.slot_free.wait()
            now, n = time.monotonic(), len(self.base_urls)
            # Healthy before cooling down, then fewest in flight, then round-robin order.  A
            # cooling endpoint is still used when it is the only one with a free slot: that
            # request doubles as the probe that tells whether it is back.
            index = min(
                (i for i in range(n) if self.in_flight[i] < cap),
                key=lambda i: (self._down_until[i] > now, self.in_flight[i], (i - self._next) % n),
            )
            self._next = (index + 1) % n
            self.in_flight[index] += 1
            self.sent[index] += 1
            return index

    async def _release_endpoint(self, state: _LoopState, index: int) -> None:
        async with state.slot_free:
            self.in_flight[index] -= 1
            state.slot_free.notify()

    def _shape(self, url: str, request: ChatRequest, extra: dict | None = None) -> dict:
        """The body for `url`: the model's family rules, then what this endpoint refused before."""
        body = {**request.body(), **(extra or {})}
        if not body.get("model"):
            body["model"] = self.model
        model = body["model"]
        return shape_body(body, model, explicit=request.extra, learned=self.learned.rules(url, model))

    def _adapt(self, url: str, body: dict, error: RejectedRequestError) -> dict | None:
        """The body to send again after a 400 that names an unsupported parameter of it, else None."""
        found = unsupported_param(error.body) if error.status == 400 else None
        if found is None or found[0] not in body:
            return None
        param, replacement = found
        if self.learned.learn(url, body["model"], param, replacement):
            log.warning("%s refuses %r for model %s; sending %s from now on", url, param, body["model"],
                        f"{replacement!r} instead" if replacement else "without it")
        return shape_body(body, body["model"], learned={param: replacement})

    async def _post_adapting(self, client: httpx.AsyncClient, url: str, body: dict,
                             headers: dict | None) -> tuple[httpx.Response, dict]:
        for adaptation in range(MAX_ADAPTATIONS + 1):
            try:
                return await self._post(client, url, body, headers), body
            except RejectedRequestError as exc:
                retry = self._adapt(url, body, exc) if adaptation < MAX_ADAPTATIONS else None
                if retry is None:
                    raise
                body = retry
        raise AssertionError("unreachable")  # pragma: no cover

    async def complete(self, request: ChatRequest) -> ChatResult:
        state = self._loop_state()
        index = await self._acquire_endpoint(state)
        url = self.base_urls[index]
        body = self._shape(url, request)
        try:
            start = time.perf_counter()
            extra_headers = {self.STAMP_HEADER: request.deid_stamp} if request.deid_stamp else None
            response, body = await self._post_adapting(state.client, url, body, extra_headers)
            latency = time.perf_counter() - start
        except RetryableError as exc:
            if exc.status is None or exc.status >= 500:
                self._mark_down(index, exc)
            raise
        else:
            self._mark_up(index)
        finally:
            # Shielded so a cancelled request still frees its endpoint slot.
            await asyncio.shield(self._release_endpoint(state, index))
        result = _parse_response(response, url, body["model"], latency)
        result.params = sent_params(body)
        return result

    def _mark_up(self, index: int) -> None:
        self._failures[index] = 0
        self._down_until[index] = 0.0

    def _mark_down(self, index: int, error: Exception) -> None:
        self._failures[index] += 1
        cooldown = min(COOLDOWN_MAX_S, COOLDOWN_BASE_S * 2 ** (self._failures[index] - 1))
        self._down_until[index] = time.monotonic() + cooldown
        if len(self.base_urls) > 1:
            log.warning(
                "avoiding %s for %.0fs after %d failure(s): %s",
                self.base_urls[index],
                cooldown,
                self._failures[index],
                error,
            )

    async def _post(self, client: httpx.AsyncClient, url: str, body: dict,
                    headers: dict | None = None) -> httpx.Response:
        target = f"{url}/chat/completions"
        try:
            response = await client.post(target, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise self._timed_out(target, exc) from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{target}: connection failed ({type(exc).__name__}: {exc})") from exc
        _raise_for_status(response, target)
        return response

    def _timed_out(self, target: str, exc: Exception) -> RetryableError:
        return RetryableError(f"{target}: timed out after {self.timeout_s:g}s ({type(exc).__name__})")

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """The answer's text pieces as the server streams them (one attempt, like `complete`).

        Errors before the first piece are `complete`'s (RetryableError for timeouts, connection
        errors, 408/409/429/5xx; LLMError otherwise); an error chunk or a broken stream later is
        an LLMError (or RetryableError for a dropped connection)."""
        state = self._loop_state()
        index = await self._acquire_endpoint(state)
        url = self.base_urls[index]
        body = self._shape(url, request, {"stream": True})
        target = f"{url}/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if request.deid_stamp:
            headers[self.STAMP_HEADER] = request.deid_stamp
        try:
            for adaptation in range(MAX_ADAPTATIONS + 1):
                async with state.client.stream("POST", target, json=body, headers=headers) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        try:
                            _raise_for_status(response, target)
                        except RejectedRequestError as exc:  # before any piece: adapt and send again
                            retry = self._adapt(url, body, exc) if adaptation < MAX_ADAPTATIONS else None
                            if retry is None:
                                raise
                            body = retry
                            continue
                    if "text/event-stream" in response.headers.get("content-type", ""):
                        async for piece in _sse_deltas(response.aiter_lines(), target):
                            yield piece
                    else:
                        await response.aread()
                        yield _parse_response(response, url, body["model"], 0.0).text
                break
        except httpx.TimeoutException as exc:
            error = self._timed_out(target, exc)
            self._mark_down(index, error)
            raise error from exc
        except httpx.TransportError as exc:
            error = RetryableError(f"{target}: connection failed ({type(exc).__name__}: {exc})")
            self._mark_down(index, error)
            raise error from exc
        except RetryableError as exc:
            if exc.status is None or exc.status >= 500:
                self._mark_down(index, exc)
            raise
        else:
            self._mark_up(index)
        finally:
            await asyncio.shield(self._release_endpoint(state, index))

    async def aclose(self) -> None:
        """Close pooled connections; the backend stays usable and reconnects on next use."""
        state, self._state = self._state, None
        if state is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # Connections of a loop that is gone cannot be closed from here; dropping them is all
        # that is left (the sockets close when collected).
        if state.loop is running:
            await state.client.aclose()


def _parse_response(response: httpx.Response, url: str, model: str, latency: float) -> ChatResult:
    target = f"{url}/chat/completions"
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LLMError(
            f"{target}: HTTP {response.status_code} response is not JSON ({exc}): {response.text[:200]!r}"
        ) from exc
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"{target}: response has no choices[0].message: {str(data)[:300]}") from exc
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        reason = data["choices"][0].get("finish_reason") if isinstance(data["choices"][0], dict) else None
        raise LLMError(
            f"{target}: choices[0].message.content is missing (finish_reason={reason!r}): {str(message)[:300]}"
        )
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ChatResult(
        text=content,
        model=str(data.get("model") or model),
        backend=OpenAICompatBackend.name,
        endpoint=url,
        latency_s=latency,
        usage=usage,
    )


def _raise_for_status(response: httpx.Response, target: str) -> None:
    status = response.status_code
    if status in RETRYABLE_STATUS or status >= 500:
        raise RetryableError(
            f"{target}: HTTP {status}: {_error_text(response)}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
        )
    if status >= 400:
        raise RejectedRequestError(f"{target}: HTTP {status} (not retried): {_error_text(response)}", status,
                                   _json_or_none(response))


def _json_or_none(response: httpx.Response):
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


async def _sse_deltas(lines: AsyncIterator[str], target: str) -> AsyncIterator[str]:
    """The text deltas of an OpenAI chat-completions event stream, up to ``data: [DONE]``."""
    async for line in lines:
        if not line.startswith("data:"):
            continue  # comments, event names, keep-alives
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            obj = json.loads(data)
        except ValueError:
            raise LLMError(f"{target}: malformed stream chunk {data[:120]!r}") from None
        if isinstance(obj, dict) and obj.get("error"):
            err = obj["error"]
            raise LLMError(f"{target}: {str(err.get('message', err) if isinstance(err, dict) else err)[:300]}")
        try:
            delta = obj["choices"][0].get("delta") or {}
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # usage-only chunks have no choices
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(piece, str) and piece:
            yield piece


def _error_text(response: httpx.Response) -> str:
    """The server's error message (OpenAI style {"error": {"message": ...}} or raw text)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300].strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data.get("message", data.get("detail", data)))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:300]
    return str(data)[:300]


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
