"""From a model spec to something that answers: one transformers VLM loader, one OpenAI-compatible
client builder.  The eval runner's adapters, the Space chat and the Space judge all go through here.

* :func:`load_vlm` — ``AutoProcessor`` + ``AutoModelForImageTextToText`` at a revision, on a
  device in a dtype (:func:`select_device_dtype` picks them when "auto");
* :func:`openai_client` — an :class:`~spinemed.llm.client.LLMClient` over the spec's endpoints
  (optionally checked first with :func:`check_endpoint`);
* :func:`tiny_model_folder` — the offline tiny Qwen2.5-VL behind the ``tiny`` spec.

Failures raise :class:`~spinemed.models.spec.ModelError` with what to fix; callers turn it into
their own error type (``EvalError`` in the runner, a chat message in the Space).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from spinemed.extras import needs_extra
from spinemed.llm.cache import CacheError, RequestCache
from spinemed.llm.client import LLMClient
from spinemed.llm.openai_compat import API_KEY_ENV_VARS, OpenAICompatBackend
from spinemed.llm.params import shape_body
from spinemed.models.spec import ModelError, ModelSpec, ModelSpecError
from spinemed.models.tiny import build_tiny_qwen25vl

__all__ = ["LoadedVLM", "check_endpoint", "load_vlm", "openai_client", "select_device_dtype", "tiny_model_folder"]

log = logging.getLogger(__name__)

DTYPES = ("bfloat16", "float16", "float32")


# --------------------------------------------------------------------------------------
# Local transformers VLMs
# --------------------------------------------------------------------------------------


def select_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """``(device, dtype)``: cuda with bfloat16 (float16 where bf16 is unsupported) > mps float16 > cpu float32."""
    with needs_extra("local", "local models"):
        import torch

    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device == "mps":
            dtype = "float16"
        else:
            dtype = "float32"
    if dtype not in DTYPES:
        raise ModelError(f"dtype {dtype!r}: choose auto, {', '.join(DTYPES[:-1])} or {DTYPES[-1]}")
    return device, dtype


@dataclass
class LoadedVLM:
    model: Any  # in eval mode, on `device` (or spread by `device_map`)
    processor: Any
    device: str
    dtype: str


def load_vlm(
    model_id: str | os.PathLike,
    *,
    revision: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    device_map: str | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
) -> LoadedVLM:
    """A vision-language model and its processor (Hub id or local folder), ready to generate."""
    with needs_extra("local", "hf: models"):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
    model_id = str(model_id)
    if model_id.startswith(("/", "./", "../", "~")) and not Path(model_id).expanduser().is_dir():
        raise ModelError(f"cannot load model {model_id!r}: no such folder")
    device, dtype = select_device_dtype(device, dtype)
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        processor = AutoProcessor.from_pretrained(model_id, **kwargs)
        model_kwargs = {**kwargs, "dtype": getattr(torch, dtype)}
        if attn_implementation:
            model_kwargs["attn_implementation"] = attn_implementation
        if device_map:
            model_kwargs["device_map"] = device_map
        model = AutoModelForImageTextToText.from_pretrained(model_id, **model_kwargs)
        if not device_map:
            model = model.to(device)
    except Exception as exc:  # OSError (not found / no weights), ValueError (not an image-text model), ...
        raise ModelError(f"cannot load model {model_id!r}{f' at {revision}' if revision else ''}: "
                         f"{type(exc).__name__}: {exc}") from None
    return LoadedVLM(model.eval(), processor, device, dtype)


def tiny_model_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """The ``tiny`` spec's model: built offline into ``cache_dir/tiny-qwen25vl`` on first use."""
    folder = Path(cache_dir or Path.home() / ".cache" / "spinemed") / "tiny-qwen25vl"
    if not (folder / "config.json").is_file():
        build_tiny_qwen25vl(folder)
    return folder


# --------------------------------------------------------------------------------------
# OpenAI-compatible endpoints
# --------------------------------------------------------------------------------------


def _json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None when the body is not JSON (an HTML page, plain text)."""
    try:
        return response.json()
    except ValueError:
        return None


def _what_came_back(response: httpx.Response) -> str:
    """A short description of a response that is not what an OpenAI-compatible API sends."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    body = response.text.lstrip()[:80].replace("\n", " ")
    kind = "an HTML page" if body[:1] == "<" or ctype == "text/html" else f"{ctype}"
    return f"HTTP {response.status_code}, {kind}: {body!r}"


def _not_an_api(what: str, url: str, detail: str) -> ModelError:
    return ModelError(f"{what} {url} is not an OpenAI-compatible API ({detail}); check the base URL: it usually "
                      "ends in /v1, e.g. http://host:8000/v1 (--no-preflight skips this check)")


def check_endpoint(url: str, model: str | None, api_key: str | None, timeout_s: float = 30.0, what: str = "endpoint") -> None:
    """The base URL is an OpenAI-compatible API that accepts the key and serves `model`.

    GET {url}/models must answer ``{"data": [...]}`` (a model list that, when it names models,
    names `model`).  A server without that route (some gateways) is asked one tiny chat request
    instead (POST {url}/chat/completions, max_tokens 1), which must answer with ``choices`` or an
    OpenAI-style ``{"error": ...}``.  A 404, an HTML page or JSON of another shape raises
    `ModelError` before any work; a busy server (429/5xx) on the chat probe only logs a warning."""
    key = api_key or next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = min(timeout_s, 30.0)
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ModelError(f"{what} {url} is not reachable ({type(exc).__name__}: {exc}); is the server running? "
                         "(--no-preflight skips this check)") from None
    _check_auth(response, what, url)
    if response.status_code == 200:
        body = _json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise _not_an_api(what, url, f"GET /models answered {_what_came_back(response)}, not a model list")
        served = [str(m.get("id")) for m in body["data"] if isinstance(m, dict)]
        if model and served and model not in served:
            raise ModelError(f"{what} {url} does not serve model {model!r} (it serves: {', '.join(served[:10])})")
        return
    log.warning("%s %s: GET /models answered HTTP %d; probing with one tiny chat request", what, url, response.status_code)
    _probe_chat(url, model, headers, timeout, what, models_status=response.status_code)


def _check_auth(response: httpx.Response, what: str, url: str) -> None:
    if response.status_code in (401, 403):
        raise ModelError(f"{what} {url} refused the API key (HTTP {response.status_code}); pass the key "
                         "(--api-key / --judge-api-key) or set SPINEMED_API_KEY / OPENAI_API_KEY")


def _probe_chat(url: str, model: str | None, headers: dict, timeout: float, what: str, models_status: int) -> None:
    body = {"model": model or "", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "temperature": 0}
    body = shape_body(body, model or "")  # a reasoning model takes max_completion_tokens and no temperature
    try:
        response = httpx.post(f"{url}/chat/completions", json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ModelError(f"{what} {url}: GET /models answered HTTP {models_status} and a test chat request failed "
                         f"({type(exc).__name__}: {exc}) (--no-preflight skips this check)") from None
    _check_auth(response, what, url)
    answer = _json_body(response)
    if response.status_code == 200:
        if isinstance(answer, dict) and isinstance(answer.get("choices"), list):
            return
        raise _not_an_api(what, url, f"a test chat request answered {_what_came_back(response)}, without 'choices'")
    if response.status_code == 429 or response.status_code >= 500:
        if isinstance(answer, dict) or answer is None and response.status_code in (429, 503):
            log.warning("%s %s: the test chat request answered HTTP %d (busy?); going on", what, url, response.status_code)
            return
    if response.status_code == 404 and isinstance(answer, dict) and "error" in answer and model and model in response.text:
        # vLLM and hosted APIs answer 404 for a model they do not serve
        raise ModelError(f"{what} {url} does not serve model {model!r} ({str(answer['error'])[:200]})")
    if response.status_code in (400, 422) and isinstance(answer, dict) and "error" in answer:
        # an OpenAI-style refusal of the probe itself (max_tokens, the model name): it is an API
        log.warning("%s %s: the test chat request was refused (%s); going on", what, url, str(answer["error"])[:200])
        return
    raise _not_an_api(what, url, f"GET /models answered HTTP {models_status}, a test chat request "
                                 f"{_what_came_back(response)}")


def openai_client(
    spec: ModelSpec,
    *,
    api_key: str | None = None,
    concurrency: int = 8,
    timeout_s: float = 120.0,
    retries: int = 4,
    backoff_s: float = 0.5,
    cache_dir: str | os.PathLike | None = None,
    preflight: bool = False,
    what: str = "endpoint",
    transport: Any = None,
) -> LLMClient:
    """An :class:`LLMClient` for an ``openai:MODEL@URL[,URL...]`` spec.

    `concurrency` bounds the requests in flight (all endpoints together; a lone server may get
    them all); with `cache_dir` requests are cached in ``cache_dir/requests.sqlite`` (a rerun
    resumes); with `preflight` every endpoint is checked (:func:`check_endpoint`) before the cache
    is opened.  `transport` is for tests (an httpx transport)."""
    if spec.kind != "openai":
        raise ModelSpecError(f"{spec.text or spec.kind!r} is not an OpenAI-compatible endpoint spec (openai:MODEL@URL)")
    try:
        backend = OpenAICompatBackend(list(spec.urls), spec.model, api_key=api_key, timeout_s=timeout_s,
                                      max_concurrency_per_endpoint=max(1, concurrency), transport=transport)
    except ValueError as exc:  # a malformed URL, no model name: the spec's fault
        raise ModelSpecError(str(exc)) from None
    if preflight:
        for url in backend.base_urls:
            check_endpoint(url, spec.model, api_key, timeout_s, what=what)
    try:
        cache = RequestCache(Path(cache_dir) / "requests.sqlite") if cache_dir is not None else None
    except CacheError as exc:
        raise ModelError(str(exc)) from None
    return LLMClient(backend, cache=cache, concurrency=concurrency, retries=retries, backoff_s=backoff_s)
