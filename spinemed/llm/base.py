"""The contract every generation backend follows (OpenAI-compatible endpoints, the offline rules).

Requests use the OpenAI chat format so the same prompt goes to vLLM, TGI, a hosted API or the
offline backend; `ChatRequest.cache_key()` identifies a request by its content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


class LLMError(RuntimeError):
    """A request that failed for good (after retries), with the reason."""


class UntrustedEndpointError(RuntimeError):
    """A request from a clinical source (inpatient record, imaging study) would go to an
    endpoint not declared trusted.  Not an `LLMError`: a build stops on it, it never
    quarantines the item and goes on."""


class UnstampedRequestError(RuntimeError):
    """A client that requires de-identification stamps got a request without one."""


class RetryableError(LLMError):
    """A failure worth retrying (timeout, connection error, 408/409/429/5xx).

    `retry_after` is the server's Retry-After in seconds when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RejectedRequestError(LLMError):
    """An HTTP 4xx that is not retried as is (400 bad parameter, 401 key, 404 model ...).

    `status` is the HTTP status and `body` the server's JSON error (None when not JSON), so the
    backend can tell an unsupported parameter (renamed or dropped, then sent again) from the rest."""

    def __init__(self, message: str, status: int, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request.

    messages: OpenAI chat messages; `content` is a string or a list of parts
    ({"type": "text", "text": ...} / {"type": "image_url", "image_url": {"url": "data:..."}}).
    `route` and `deid_stamp` travel with the request for routing and checks; `body()` (what is
    sent) and `cache_key()` leave them out.
    """

    messages: tuple  # tuple of dicts (kept hashable-ish / immutable by convention)
    model: str = ""
    temperature: float = 0.0
    max_tokens: int | None = None
    response_format: dict | None = None
    extra: dict = field(default_factory=dict)  # passed through to the endpoint body
    # Where the request comes from; neither is part of the body or the cache key.
    route: str = ""  # the source type of the record the prompt was built from (endpoint routing)
    deid_stamp: str = ""  # that record's de-identification stamp (spinemed.deid.provenance)

    def body(self) -> dict[str, Any]:
        """The JSON body sent to POST {base_url}/chat/completions."""
        body: dict[str, Any] = {"model": self.model, "messages": list(self.messages), "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.response_format is not None:
            body["response_format"] = self.response_format
        body.update(self.extra)
        return body

    def cache_key(self) -> str:
        blob = json.dumps(self.body(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class ChatResult:
    text: str
    model: str = ""
    backend: str = ""
    endpoint: str = ""
    cached: bool = False
    latency_s: float = 0.0
    attempts: int = 1
    usage: dict = field(default_factory=dict)
    # The request's parameters as finally sent (body without the messages, after the per-model
    # rules of spinemed.llm.params); empty for backends without a request body (offline).
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """A source of completions.  `complete` performs exactly one request (no cache, no retry:
    `spinemed.llm.client.LLMClient` adds those around any backend)."""

    name: str  # "openai" | "offline"
    model: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...
