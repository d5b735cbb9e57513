"""`LLMClient`: cache, concurrency bound, retries and timeouts around any `Backend`.

The corpus pipeline, the benchmark runner and the LLM judge all talk to models through this
class.  A request whose result is in the cache is never sent again, so a crashed build
rerun with the same cache repeats no request; identical requests in flight at the same time
are sent once (when a cache is set, the second would be a cache hit a moment later anyway).
`stream` / `stream_sync` yield an answer's text as it arrives (the Space chat), uncached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spinemed.llm.base import Backend, ChatRequest, ChatResult, LLMError, RetryableError, UnstampedRequestError
from spinemed.llm.cache import RequestCache
from spinemed.llm.offline import OfflineFactory, require_factory
from spinemed.llm.openai_compat import OpenAICompatBackend

__all__ = ["BACKENDS", "ClientStats", "LLMClient", "build_client"]

log = logging.getLogger(__name__)

BACKENDS = ("offline", "openai")
_RESULT_FIELDS = {f.name for f in dataclasses.fields(ChatResult)}


@dataclass
class ClientStats:
    """Counters for one client: `requests` is backend calls made (retries included)."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    total_latency_s: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.requests} requests, {self.cache_hits} cache hits, {self.retries} retries, "
            f"{self.failures} failures, {self.total_latency_s:.1f}s in backend calls"
        )


class _LoopState:
    """The semaphore and in-flight table of one event loop (asyncio objects are loop-bound)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, concurrency: int):
        self.loop = loop
        self.semaphore = asyncio.Semaphore(concurrency)
        self.inflight: dict[str, asyncio.Future] = {}


class LLMClient:
    """Sends `ChatRequest`s through a backend with caching, bounded concurrency and retries.

    concurrency: backend calls in flight at once, over all callers of this client.
    retries: extra attempts after a `RetryableError`; the wait before retry n is
      `min(max_backoff_s, backoff_s * 2**(n-1))` scaled by a random factor in [0.5, 1]
      (jitter keeps many clients from retrying in lockstep), or the server's Retry-After
      (capped at max_backoff_s) when it sent one.  A request keeps its concurrency slot
      while it backs off, so an overloaded server is not refilled by new requests.
    timeout_s: deadline for one request over all its attempts and waits, from the moment
      it gets a slot (time queued behind `concurrency` does not count); None: no deadline
      beyond the backend's own per-attempt timeout.
    require_deid_stamp: refuse (`UnstampedRequestError`, before the cache is even looked at) any
      request without a de-identification stamp; the corpus build sets it, so nothing it sends
      can bypass the stamp check where prompts are built from records.
    """

    def __init__(
        self,
        backend: Backend,
        cache: RequestCache | None = None,
        concurrency: int = 8,
        retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30,
        timeout_s: float | None = None,
        require_deid_stamp: bool = False,
    ):
        if not isinstance(backend, Backend):
            raise TypeError(
                f"backend must follow spinemed.llm.base.Backend (name, model, complete), got {type(backend).__name__}"
            )
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s}")
        self.backend = backend
        self.cache = cache
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.require_deid_stamp = require_deid_stamp
        self.stats = ClientStats()
        self._rng = random.Random()
        self._state: _LoopState | None = None
        self._sync_lock = threading.Lock()
        self._sync_loop: asyncio.AbstractEventLoop | None = None  # stream_sync's event-loop thread

    def __repr__(self) -> str:
        return f"LLMClient(backend={self.backend!r}, cache={self.cache!r}, concurrency={self.concurrency})"

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            self._state = _LoopState(loop, self.concurrency)
        return self._state

    def prepare(self, request: ChatRequest) -> ChatRequest:
        """The request as it will be sent and cached: stamped with the backend's model if empty
        (a routing backend's: the model of the endpoint the request's route goes to)."""
        if not isinstance(request, ChatRequest):
            raise TypeError(f"expected a ChatRequest, got {type(request).__name__}")
        if request.model:
            return request
        backend = self.backend.backend_for(request.route) if hasattr(self.backend, "backend_for") else self.backend
        return dataclasses.replace(request, model=backend.model)

    # -- single request ------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResult:
        """The result for `request`: from the cache, from an identical request in flight, or sent."""
        request = self.prepare(request)
        if self.require_deid_stamp and not request.deid_stamp:
            raise UnstampedRequestError(
                "this client sends only requests built from de-identified, stamped records "
                "(ChatRequest.deid_stamp is empty)")
        if self.cache is None:
            return await self._send(request)
        key = request.cache_key()
        state = self._loop_state()
        while True:
            hit = self._cached(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return hit
            pending = state.inflight.get(key)
            if pending is None:
                break
            try:
                result = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():  # the sender was cancelled, not us: send it ourselves
                    continue
                raise
            self.stats.cache_hits += 1
            return dataclasses.replace(result, cached=True)

        future: asyncio.Future = state.loop.create_future()
        state.inflight[key] = future
        try:
            result = await self._send(request)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody may be waiting
            raise
        else:
            future.set_result(result)  # before the write, so waiters never hang on a cache error
            self.cache.put(key, result.to_json())
            return result
        finally:
            state.inflight.pop(key, None)

    def _cached(self, key: str) -> ChatResult | None:
        value = self.cache.get(key)
        if value is None:
            return None
        if not isinstance(value.get("text"), str):
            log.warning("request cache %s: entry %s has no text; sending the request again", self.cache.path, key)
            return None
        return ChatResult(**{**{k: v for k, v in value.items() if k in _RESULT_FIELDS}, "cached": True})

    async def _send(self, request: ChatRequest) -> ChatResult:
        state = self._loop_state()
        async with state.semaphore:
            loop = state.loop
            deadline = None if self.timeout_s is None else loop.time() + self.timeout_s
            attempt = 0
            while True:
                attempt += 1
                remaining = None if deadline is None else deadline - loop.time()
                self.stats.requests += 1
                start = time.perf_counter()
                try:
                    result = await asyncio.wait_for(self.backend.complete(request), remaining)
                    error: RetryableError | None = None
                except RetryableError as exc:
                    error = exc
                except asyncio.TimeoutError:
                    self.stats.failures += 1
                    raise LLMError(
                        f"{self.backend.name}: request timed out after {self.timeout_s:g}s ({attempt} attempt(s))"
                    ) from None
                except Exception:
                    self.stats.failures += 1
                    raise
                finally:
                    self.stats.total_latency_s += time.perf_counter() - start
                if error is None:
                    return dataclasses.replace(result, attempts=attempt, cached=False)

                if attempt > self.retries:
                    self.stats.failures += 1
                    raise LLMError(f"{self.backend.name}: failed after {attempt} attempt(s): {error}") from error
                delay = self._backoff(attempt, error.retry_after)
                if deadline is not None and loop.time() + delay >= deadline:
                    self.stats.failures += 1
                    raise LLMError(
                        f"{self.backend.name}: no time left for retry {attempt} within {self.timeout_s:g}s: {error}"
                    ) from error
                log.info("retry %d/%d in %.2fs: %s", attempt, self.retries, delay, error)
                self.stats.retries += 1
                await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff_s, retry_after)
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * self._rng.random())

    # -- streaming -----------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """The answer's text pieces as the backend streams them (a backend without `stream`
        yields the whole answer as one piece).  Not cached: a streamed answer is read as it
        comes.  A `RetryableError` before the first piece is retried like in `chat`; one after
        it ends the stream with an `LLMError`."""
        request = self.prepare(request)
        if self.require_deid_stamp and not request.deid_stamp:
            raise UnstampedRequestError(
                "this client sends only requests built from de-identified, stamped records "
                "(ChatRequest.deid_stamp is empty)")
        stream = getattr(self.backend, "stream", None)
        if stream is None:
            yield (await self._send(request)).text
            return
        state = self._loop_state()
        async with state.semaphore:
            attempt = 0
            while True:
                attempt += 1
                self.stats.requests += 1
                started = False
                start = time.perf_counter()
                try:
                    async for piece in stream(request):
                        started = True
                        yield piece
                    return
                except RetryableError as exc:
                    if started:
                        self.stats.failures += 1
                        raise LLMError(f"{self.backend.name}: the stream broke off: {exc}") from exc
                    if attempt > self.retries:
                        self.stats.failures += 1
                        raise LLMError(f"{self.backend.name}: failed after {attempt} attempt(s): {exc}") from exc
                    error = exc
                except Exception:
                    self.stats.failures += 1
                    raise
                finally:
                    self.stats.total_latency_s += time.perf_counter() - start
                delay = self._backoff(attempt, error.retry_after)
                log.info("retry %d/%d in %.2fs: %s", attempt, self.retries, delay, error)
                self.stats.retries += 1
                await asyncio.sleep(delay)

    def stream_sync(self, request: ChatRequest) -> Iterator[str]:
        """`stream` for synchronous code (a Gradio handler).  It runs on this client's own
        event-loop thread, so callers in many threads share one connection pool and one
        concurrency bound; closing the iterator early closes the stream."""
        loop = self._stream_loop()
        pieces = self.stream(request)

        async def next_piece() -> str:
            return await pieces.__anext__()

        try:
            while True:
                try:
                    piece = asyncio.run_coroutine_threadsafe(next_piece(), loop).result()
                except StopAsyncIteration:
                    return
                yield piece
        finally:
            asyncio.run_coroutine_threadsafe(pieces.aclose(), loop).result()

    def _stream_loop(self) -> asyncio.AbstractEventLoop:
        with self._sync_lock:
            if self._sync_loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="spinemed-llm-stream", daemon=True).start()
                self._sync_loop = loop
            return self._sync_loop

    # -- many requests -------------------------------------------------------------------

    async def map(self, requests: Iterable[ChatRequest], return_exceptions: bool = True) -> list:
        """Results in input order.  With return_exceptions an `LLMError` (or other exception)
        takes the place of its result; without, the first error cancels the rest and is raised.

        A fixed pool of `concurrency` workers pulls requests, so memory stays flat for
        hundreds of thousands of requests.
        """
        items = list(requests)
        results: list = [None] * len(items)
        queue = iter(range(len(items)))

        async def worker() -> None:
            for i in queue:
                try:
                    results[i] = await self.chat(items[i])
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    results[i] = exc

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(items)))]
        if not workers:
            return results
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return results

    def chat_sync(self, request: ChatRequest) -> ChatResult:
        """`chat` for synchronous code; it runs (and closes) its own event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("LLMClient.chat_sync() called inside a running event loop; use `await client.chat(...)`")

        async def run() -> ChatResult:
            try:
                return await self.chat(request)
            finally:
                await _close_backend(self.backend)  # its connections die with this loop

        return asyncio.run(run())

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the backend's connections and the cache."""
        await _close_backend(self.backend)
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


async def _close_backend(backend: Backend) -> None:
    close = getattr(backend, "aclose", None)
    if close is not None:
        await close()


def build_client(
    backend: str = "offline",
    model: str | None = None,
    base_urls: list[str] | None = None,
    api_key: str | None = None,
    concurrency: int = 8,
    cache_dir: str | Path | None = None,
    retries: int = 4,
    timeout_s: float = 120,
    trusted: bool = False,
    offline: OfflineFactory | None = None,
) -> LLMClient:
    """An `LLMClient` from command-line style settings.

    backend "offline": deterministic rules in this process (no server needed), built by `offline`
    (e.g. `spinemed.corpus.offline_rules.RulesBackend`);
    "openai": any OpenAI-compatible server(s) at `base_urls`, `model` as the server names it.
    timeout_s is the per-attempt HTTP timeout.  `trusted` declares an "openai" endpoint
    on-premises (clinical sources may be sent to it; see `spinemed.llm.routing`).  With `cache_dir` requests are cached in
    `cache_dir/requests.sqlite`, which is what makes a rerun resume instead of repeat.
    """
    if backend == "offline":
        impl: Backend = require_factory(offline)(model)
    elif backend == "openai":
        if not base_urls:
            raise ValueError("backend 'openai' needs base_urls, e.g. ['http://localhost:8000/v1']")
        if not model:
            raise ValueError(
                "backend 'openai' needs model: the name the server serves, e.g. Qwen/Qwen2.5-VL-72B-Instruct"
            )
        impl = OpenAICompatBackend(
            base_urls,
            model,
            api_key=api_key,
            timeout_s=timeout_s,
            # Let the global bound, not the per-server one, decide; a lone server may get it all.
            max_concurrency_per_endpoint=max(1, concurrency),
            trusted=trusted,
        )
    else:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    cache = RequestCache(Path(cache_dir) / "requests.sqlite") if cache_dir is not None else None
    return LLMClient(impl, cache=cache, concurrency=concurrency, retries=retries)
