"""Named generation endpoints, routing by source type, and the trusted-endpoint rule.

The paper sent real hospital records only to a locally deployed model and textbooks to a
hosted one.  A builder's `generation:` block says the same thing declaratively:

    generation:
      backend: openai                      # the "default" endpoint (CLI --backend/--model/--base-url)
      model: gemini-2.5-pro
      base_urls: [https://api.example.com/v1]
      trusted: false                       # declared, never inferred
      endpoints:                           # more named endpoints
        local:
          backend: openai
          model: GLM-4.5V
          base_urls: [http://gpu1:8000/v1, http://gpu2:8000/v1]
          trusted: true                    # on-premises: clinical records may go here
          api_key_env: LOCAL_API_KEY       # optional; default $SPINEMED_API_KEY / $OPENAI_API_KEY
      routing:                             # source_type -> endpoint; the rest go to `default`
        inpatient: local
        open_dataset: local

Rule: records of `CLINICAL_SOURCE_TYPES` (inpatient records, imaging studies) are only ever sent
to an endpoint with `trusted: true`.  The offline backend runs in-process and is always trusted;
an OpenAI-compatible endpoint is trusted only when the config (or `--trusted-endpoint`) says so:
a loopback URL is not trusted by itself (it may be a tunnel to anywhere).  `check_routing`
refuses a configuration that breaks the rule before anything is sent, naming the source type
and the endpoint; `RoutingBackend` checks every request again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Backend, ChatRequest, ChatResult, UntrustedEndpointError
from .offline import OfflineFactory, require_factory

__all__ = [
    "CLINICAL_SOURCE_TYPES",
    "DEFAULT_ENDPOINT",
    "EndpointSpec",
    "RoutingBackend",
    "build_backend",
    "check_routing",
    "is_trusted",
    "resolve_endpoints",
]

# Source types holding patients' data (schema.SOURCE_TYPES): inpatient records and imaging
# studies (3D volumes).  Literature (textbook, guideline, case_report) and question banks are not.
CLINICAL_SOURCE_TYPES = frozenset({"inpatient", "open_dataset"})
DEFAULT_ENDPOINT = "default"
_ENDPOINT_KEYS = {"backend", "model", "base_urls", "trusted", "api_key_env", "concurrency"}


@dataclass
class EndpointSpec:
    """One named endpoint of a builder config."""

    name: str
    backend: str = "offline"  # offline | openai
    model: str | None = None
    base_urls: list[str] = field(default_factory=list)
    trusted: bool = False
    api_key: str | None = None
    api_key_env: str | None = None
    concurrency: int | None = None  # requests in flight at this endpoint (default: the global bound)

    @property
    def is_trusted(self) -> bool:
        return self.backend == "offline" or self.trusted

    def describe(self) -> str:
        where = "in-process" if self.backend == "offline" else ", ".join(self.base_urls) or "no base URL"
        return f"endpoint {self.name!r} ({self.backend}, {where})"


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")
    return value


def _urls(value: Any, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise ValueError(f"{what} must be a URL or a list of URLs")
    return list(value)


def resolve_endpoints(gen: Mapping[str, Any], api_key: str | None = None) -> tuple[dict[str, EndpointSpec], dict[str, str]]:
    """(endpoints by name, routing source_type -> endpoint name, with a "default" entry).

    The flat keys of `generation:` (backend, model, base_urls, trusted; the CLI flags
    --backend/--model/--base-url/--trusted-endpoint override them) define the endpoint named
    "default"; `endpoints:` adds named ones; `routing:` maps source types (and "default") to
    names.  Raises ValueError for unknown keys, names or source types."""
    from ..schema import SOURCE_TYPES

    default = EndpointSpec(
        name=DEFAULT_ENDPOINT, backend=str(gen.get("backend") or "offline"), model=gen.get("model") or None,
        base_urls=_urls(gen.get("base_urls"), "generation.base_urls"),
        trusted=_bool(gen.get("trusted", False), "generation.trusted"), api_key=api_key)
    endpoints = {DEFAULT_ENDPOINT: default}
    raw = gen.get("endpoints") or {}
    if not isinstance(raw, Mapping):
        raise ValueError("generation.endpoints must be a mapping of name -> endpoint")
    for name, spec in raw.items():
        what = f"generation.endpoints.{name}"
        if name == DEFAULT_ENDPOINT:
            raise ValueError(f"{what}: the name 'default' is the endpoint of the flat generation keys "
                             "(backend/model/base_urls); give this one another name")
        if not isinstance(spec, Mapping):
            raise ValueError(f"{what} must be a mapping")
        unknown = set(spec) - _ENDPOINT_KEYS
        if unknown:
            raise ValueError(f"{what}: unknown key(s) {sorted(unknown)}; known: {sorted(_ENDPOINT_KEYS)}")
        if "trusted" not in spec and spec.get("backend", "offline") != "offline":
            raise ValueError(f"{what}: say `trusted: true` (on-premises) or `trusted: false`")
        concurrency = spec.get("concurrency")
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise ValueError(f"{what}.concurrency must be a positive integer")
        endpoints[str(name)] = EndpointSpec(
            name=str(name), backend=str(spec.get("backend") or "offline"), model=spec.get("model") or None,
            base_urls=_urls(spec.get("base_urls"), f"{what}.base_urls"),
            trusted=_bool(spec.get("trusted", False), f"{what}.trusted"),
            api_key_env=spec.get("api_key_env") or None, concurrency=concurrency)
    routing_raw = gen.get("routing") or {}
    if not isinstance(routing_raw, Mapping):
        raise ValueError("generation.routing must be a mapping of source_type -> endpoint name")
    routing = {DEFAULT_ENDPOINT: DEFAULT_ENDPOINT}
    for source_type, name in routing_raw.items():
        if source_type != DEFAULT_ENDPOINT and source_type not in SOURCE_TYPES:
            raise ValueError(f"generation.routing: {source_type!r} is not a source type; "
                             f"known: default, {', '.join(SOURCE_TYPES)}")
        if name not in endpoints:
            raise ValueError(f"generation.routing.{source_type}: no endpoint named {name!r}; "
                             f"defined: {', '.join(sorted(endpoints))}")
        routing[str(source_type)] = str(name)
    return endpoints, routing


def endpoint_for(routing: Mapping[str, str], source_type: str) -> str:
    return routing.get(source_type) or routing.get(DEFAULT_ENDPOINT, DEFAULT_ENDPOINT)


def check_routing(endpoints: Mapping[str, EndpointSpec], routing: Mapping[str, str],
                  source_types: Iterable[str]) -> None:
    """Raise `UntrustedEndpointError` when a clinical source type among `source_types` would
    be sent to an endpoint that is not trusted; the message names both and says how to fix it."""
    problems = []
    for st in sorted(set(source_types) & CLINICAL_SOURCE_TYPES):
        spec = endpoints[endpoint_for(routing, st)]
        if not spec.is_trusted:
            problems.append(f"source type {st!r} would be sent to {spec.describe()}, which is not trusted")
    if problems:
        raise UntrustedEndpointError(
            "refusing to start: " + "; ".join(problems) + ". Clinical sources (inpatient records, imaging "
            "studies) go only to endpoints declared on-premises: route them to one "
            "(generation.routing: {inpatient: <name>, open_dataset: <name>} with generation.endpoints.<name>."
            "trusted: true), or, if this endpoint really is on-premises, declare it with --trusted-endpoint "
            "(generation.trusted: true).")


def is_trusted(backend: Any, source_type: str = "") -> bool:
    """Whether `backend` may receive records of `source_type` (routing backends answer per type)."""
    if hasattr(backend, "backend_for"):
        backend = backend.backend_for(source_type)
    return getattr(backend, "trusted", False) is True


def build_backend(spec: EndpointSpec, concurrency: int = 8, timeout_s: float = 120,
                  offline: OfflineFactory | None = None) -> Backend:
    """The backend of one endpoint; an "offline" endpoint is built by `offline` (the caller's rules)."""
    if spec.backend == "offline":
        return require_factory(offline)(spec.model)
    if spec.backend == "openai":
        from .openai_compat import OpenAICompatBackend

        what = f"endpoint {spec.name!r}" if spec.name != DEFAULT_ENDPOINT else "backend 'openai'"
        if not spec.base_urls:
            raise ValueError(f"{what} needs base_urls, e.g. ['http://localhost:8000/v1']")
        if not spec.model:
            raise ValueError(f"{what} needs model: the name the server serves, e.g. Qwen/Qwen2.5-VL-72B-Instruct")
        key = spec.api_key
        if key is None and spec.api_key_env:
            key = os.environ.get(spec.api_key_env) or None
        return OpenAICompatBackend(spec.base_urls, spec.model, api_key=key, timeout_s=timeout_s,
                                   max_concurrency_per_endpoint=max(1, spec.concurrency or concurrency),
                                   trusted=spec.trusted)
    raise ValueError(f"endpoint {spec.name!r}: unknown backend {spec.backend!r}; choose offline or openai")


class RoutingBackend:
    """A `Backend` that sends each request to the endpoint its `route` (source type) maps to.

    `name` / `model` are the single endpoint's when all routes share one, else a summary
    ("openai+offline", "default=m1,local=m2"); `backend_for(source_type)` gives the one a record
    goes to.  A request of a clinical source type for an untrusted endpoint raises
    `UntrustedEndpointError` (the start-up check should have refused it already)."""

    def __init__(self, backends: Mapping[str, Backend], routing: Mapping[str, str]):
        if DEFAULT_ENDPOINT not in routing:
            raise ValueError("routing needs a 'default' entry")
        missing = sorted(set(routing.values()) - set(backends))
        if missing:
            raise ValueError(f"routing names endpoints without a backend: {missing}")
        self.backends = dict(backends)
        self.routing = dict(routing)
        used = [n for n in self.backends if n in set(self.routing.values())]
        self.used = used
        names = sorted({self.backends[n].name for n in used})
        self.name = names[0] if len(names) == 1 else "+".join(names)
        models = {n: self.backends[n].model for n in used}
        self.model = next(iter(models.values())) if len(set(models.values())) == 1 else \
            ",".join(f"{n}={m}" for n, m in sorted(models.items()))
        self.sent: dict[str, int] = {n: 0 for n in self.backends}

    def __repr__(self) -> str:
        return f"RoutingBackend({self.routing!r})"

    def endpoint_for(self, source_type: str) -> str:
        return endpoint_for(self.routing, source_type)

    def backend_for(self, source_type: str) -> Backend:
        return self.backends[self.endpoint_for(source_type)]

    @property
    def trusted(self) -> bool:  # trusted for every route
        return all(getattr(self.backends[n], "trusted", False) is True for n in self.used)

    @property
    def can_translate(self) -> bool:
        return all(getattr(self.backends[n], "can_translate", True) for n in self.used)

    async def complete(self, request: ChatRequest) -> ChatResult:
        name = self.endpoint_for(request.route)
        backend = self.backends[name]
        if request.route in CLINICAL_SOURCE_TYPES and getattr(backend, "trusted", False) is not True:
            raise UntrustedEndpointError(
                f"refused: a request from source type {request.route!r} was about to go to endpoint {name!r}, "
                "which is not trusted")
        self.sent[name] += 1
        return await backend.complete(request)

    async def aclose(self) -> None:
        await asyncio.gather(*(b.aclose() for b in self.backends.values() if hasattr(b, "aclose")))
