"""Model adapters: local transformers VLMs, OpenAI-compatible endpoints, offline baselines.

Every adapter takes the same :class:`Job` list (item, rendered prompt, encoded images) and
reports one :class:`Generation` per job through a callback, so the runner writes predictions
as they arrive whatever produced them.  ``load()`` does everything that can fail before the
first item (weights, processor, endpoint reachability, corpus), so a model that cannot load is
a clear error before any work starts.

Model specs (the CLI's ``--model``; the grammar is :mod:`spinemed.models.spec`, the models and
clients come from :mod:`spinemed.models.loader`)::

    hf:Qwen/Qwen2.5-VL-7B-Instruct        a Hub model id (optionally @REVISION) or a local folder
    openai:MODEL@URL[,URL...]             an OpenAI-compatible endpoint (vLLM, TGI, hosted APIs)
    baseline:retrieval|random|majority    offline baselines (spinemed.evaluation.baselines)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemed.evaluation.baselines import BASELINES, corpus_fingerprint, load_training_corpus, make_baseline
from spinemed.llm.base import ChatRequest, LLMError
from spinemed.llm.images import text_and_images_content
from spinemed.models import loader
from spinemed.models.spec import ModelError, ModelSpec
from spinemed.models.spec import parse_model_spec as parse_spec

__all__ = [
    "EVAL_KINDS",
    "Adapter",
    "BaselineAdapter",
    "EvalError",
    "Generation",
    "Job",
    "ModelSpec",
    "OpenAIAdapter",
    "TransformersAdapter",
    "build_adapter",
    "check_endpoint",
    "parse_model_spec",
    "select_device_dtype",
]

log = logging.getLogger(__name__)


class EvalError(RuntimeError):
    """An evaluation that cannot start or go on (the message says what to fix)."""


@contextlib.contextmanager
def _eval_errors() -> Iterator[None]:
    """The model layer's errors (a bad spec, a model or endpoint that cannot load) as EvalError."""
    try:
        yield
    except ModelError as exc:
        raise EvalError(str(exc)) from None


@dataclass
class Job:
    """One item to answer: the rendered prompt and the item's encoded images (PNG/JPEG bytes)."""

    index: int
    id: str
    kind: str
    language: str
    prompt: str
    images: list[bytes]
    item: dict[str, Any] = field(repr=False)


@dataclass
class Generation:
    """One model answer; ``output`` None means the request failed for good (``error`` says why)."""

    output: str | None
    latency_s: float | None = None
    error: str | None = None
    attempts: int = 1
    cached: bool = False


Emit = Callable[[Job, Generation], None]


class Adapter:
    """What the runner needs from a model (see the module docstring)."""

    backend = ""
    spec = ""

    def load(self, benchmark) -> None:
        """Prepare everything (raise :class:`EvalError` with the reason when impossible)."""

    def model_info(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The results' ``model`` block: id, revision, name, backend, spec, baseline, details."""
        raise NotImplementedError

    def run_info(self) -> dict[str, Any]:
        """Device / dtype / concurrency / batch size for the results' ``run`` block."""
        return {}

    def fingerprint(self) -> dict[str, Any]:
        """What makes two runs' outputs interchangeable (for resuming)."""
        return {"spec": self.spec}

    def stats(self) -> dict[str, Any]:
        return {}

    def request_params(self) -> dict[str, Any] | None:
        """The generation parameters as finally used (endpoints: as sent, after the model's rules);
        None where nothing is sent (baselines)."""
        return None

    async def generate(self, jobs: Sequence[Job], emit: Emit) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


# --------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------


EVAL_KINDS = ("hf", "openai", "baseline")  # the model specs the runner takes


def parse_model_spec(text: str) -> ModelSpec:
    """Parse ``hf:ID[@REV]``, ``openai:MODEL@URL[,URL]`` or ``baseline:NAME`` (errors say the form)."""
    with _eval_errors():
        return parse_spec(text, kinds=EVAL_KINDS, baselines=BASELINES)


# --------------------------------------------------------------------------------------
# Offline baselines
# --------------------------------------------------------------------------------------

_BASELINE_NAMES = {
    "retrieval": "Retrieval baseline (BM25 over SpineMed-450k train)",
    "random": "Random baseline (seeded)",
    "majority": "Majority-letter baseline",
}


class BaselineAdapter(Adapter):
    backend = "baseline"

    def __init__(self, name: str, corpus: str | Path | None = None, seed: int = 0):
        self.name = name
        self.spec = f"baseline:{name}"
        self.corpus_source = corpus
        self.seed = seed
        self.baseline = None

    def load(self, benchmark) -> None:
        has_reports = any(i["kind"] == "report" for i in benchmark.items)
        if self.corpus_source is None and (self.name != "random" or has_reports):
            need = "report items" if self.name == "random" else "its answers"
            raise EvalError(
                f"baseline:{self.name} needs the SpineMed-450k training split for {need}: pass --corpus DIR_OR_REPO"
                + (" (or --kinds text_mcq,image_mcq)" if self.name == "random" else "")
            )
        corpus = None
        if self.corpus_source is not None:
            try:
                corpus = load_training_corpus(self.corpus_source, benchmark)
            except (FileNotFoundError, ValueError) as exc:
                raise EvalError(f"baseline:{self.name}: {exc}") from None
            if has_reports and not corpus.reports:
                raise EvalError(f"baseline:{self.name}: the corpus {corpus.source!r} has no report rows to answer report items with")
        try:
            self.baseline = make_baseline(self.name, corpus, self.seed)
        except ValueError as exc:
            raise EvalError(str(exc)) from None

    def model_info(self) -> dict[str, Any]:
        return {
            "id": self.spec,
            "revision": None,
            "name": _BASELINE_NAMES[self.name],
            "backend": self.backend,
            "spec": self.spec,
            "baseline": True,
            "details": self.baseline.details() if self.baseline else {"baseline": self.name, "seed": self.seed},
        }

    def run_info(self) -> dict[str, Any]:
        return {"device": "cpu", "dtype": None, "concurrency": 1, "batch_size": 1}

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": self.spec, "seed": self.seed, "corpus": corpus_fingerprint(self.baseline.corpus if self.baseline else None)}

    async def generate(self, jobs: Sequence[Job], emit: Emit) -> None:
        for job in jobs:
            start = time.perf_counter()
            text = self.baseline.answer(job.item)
            emit(job, Generation(text, time.perf_counter() - start))
            await asyncio.sleep(0)  # let a cancellation (Ctrl-C) in between items


# --------------------------------------------------------------------------------------
# OpenAI-compatible endpoints
# --------------------------------------------------------------------------------------


def check_endpoint(url: str, model: str | None, api_key: str | None, timeout_s: float = 30.0, what: str = "endpoint") -> None:
    """:func:`spinemed.models.loader.check_endpoint`, failing with EvalError."""
    with _eval_errors():
        loader.check_endpoint(url, model, api_key, timeout_s, what)


_AUTH_ERROR = re.compile(r"HTTP (401|403)\b")


class OpenAIAdapter(Adapter):
    """Any OpenAI-compatible chat endpoint through :class:`spinemed.llm.client.LLMClient`.

    Requests are sent by `concurrency` workers (async, over all endpoints), retried with
    backoff on timeouts/429/5xx, cut off after `timeout_s` per attempt, and cached in
    ``cache_dir/requests.sqlite``: a rerun sends only what has no answer yet.  Images go as
    base64 data URLs before the text.
    """

    backend = "openai"

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str],
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        max_new_tokens: int = 1024,
        temperature: float = 0.0,
        image_max_side: int | None = None,
        cache_dir: str | Path | None = None,
        preflight: bool = True,
        revision: str | None = None,
        extra_body: dict | None = None,
    ):
        if concurrency < 1:
            raise EvalError(f"concurrency must be >= 1, got {concurrency}")
        self.model = model
        self.base_urls = list(base_urls)
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.image_max_side = image_max_side
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.preflight = preflight
        self.revision = revision
        self.extra_body = dict(extra_body or {})
        self.spec = f"openai:{model}@{','.join(self.base_urls)}"
        self.client = None
        self.served_model = ""
        self.sent_params: dict[str, int] = {}  # JSON of the parameters as sent -> answers received with them

    def load(self, benchmark) -> None:
        with _eval_errors():
            self.client = loader.openai_client(
                ModelSpec("openai", self.model, urls=tuple(self.base_urls)), api_key=self.api_key,
                concurrency=self.concurrency, timeout_s=self.timeout_s, retries=self.retries, backoff_s=self.backoff_s,
                cache_dir=self.cache_dir, preflight=self.preflight,
            )

    def model_info(self) -> dict[str, Any]:
        return {
            "id": self.model,
            "revision": self.revision,
            "name": self.model,
            "backend": self.backend,
            "spec": self.spec,
            "baseline": False,
            "details": {"endpoints": self.base_urls, "served_model": self.served_model or None},
        }

    def run_info(self) -> dict[str, Any]:
        return {"device": "remote", "dtype": None, "concurrency": self.concurrency, "batch_size": None,
                "timeout_s": self.timeout_s, "retries": self.retries}

    def fingerprint(self) -> dict[str, Any]:
        # Endpoint URLs are left out on purpose: the same model moved to another server resumes.
        return {"spec": f"openai:{self.model}", "revision": self.revision, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "image_max_side": self.image_max_side, "extra_body": self.extra_body}

    def stats(self) -> dict[str, Any]:
        if self.client is None:
            return {}
        s = self.client.stats
        return {"requests_sent": s.requests, "cache_hits": s.cache_hits, "retries": s.retries, "failures": s.failures}

    def request_params(self) -> dict[str, Any] | None:
        # The parameters most answers came with (after the model's rules and what the endpoint
        # refused); all variants with counts when they differ (e.g. answers cached before a rule).
        if not self.sent_params:
            return None
        ranked = sorted(self.sent_params.items(), key=lambda kv: -kv[1])
        params = json.loads(ranked[0][0])
        if len(ranked) > 1:
            params = {**params, "_variants": [{"params": json.loads(k), "answers": n} for k, n in ranked]}
        return params

    def request(self, job: Job) -> ChatRequest:
        content: Any = text_and_images_content(job.prompt, job.images, self.image_max_side) if job.images else job.prompt
        return ChatRequest(
            messages=({"role": "user", "content": content},),
            model=self.model,
            temperature=self.temperature,
            max_tokens=self.max_new_tokens,
            extra=self.extra_body,
        )

    async def generate(self, jobs: Sequence[Job], emit: Emit) -> None:
        queue = iter(jobs)

        async def worker() -> None:
            for job in queue:
                try:
                    result = await self.client.chat(self.request(job))
                except LLMError as exc:
                    if _AUTH_ERROR.search(str(exc)):  # every other request would fail the same way: stop
                        raise EvalError(f"the endpoint refused the API key ({exc}); pass --api-key or set "
                                        "SPINEMED_API_KEY / OPENAI_API_KEY, then rerun to resume") from None
                    tries = re.search(r"after (\d+) attempt", str(exc))
                    emit(job, Generation(None, None, error=str(exc), attempts=int(tries.group(1)) if tries else 1))
                    continue
                self.served_model = self.served_model or result.model
                if result.params:
                    key = json.dumps({k: v for k, v in result.params.items() if k != "model"}, sort_keys=True)
                    self.sent_params[key] = self.sent_params.get(key, 0) + 1
                emit(job, Generation(result.text, 0.0 if result.cached else result.latency_s,
                                     attempts=result.attempts, cached=result.cached))

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(jobs)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


# --------------------------------------------------------------------------------------
# Local transformers models
# --------------------------------------------------------------------------------------


def select_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """:func:`spinemed.models.loader.select_device_dtype`, failing with EvalError."""
    with _eval_errors():
        return loader.select_device_dtype(device, dtype)


class TransformersAdapter(Adapter):
    """A local vision-language model via ``AutoModelForImageTextToText`` + ``AutoProcessor``.

    Prompts go through the processor's chat template with the images as image parts (PIL
    images, before the text); generation is greedy and batched with left padding, text-only
    and image items in separate batches, each batch sorted by prompt length.  A batch that
    runs out of memory is split in halves; an item that still fails is recorded as an error.
    """

    backend = "transformers"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        max_new_tokens: int = 1024,
        device_map: str | None = None,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        gen_kwargs: dict | None = None,
    ):
        if batch_size < 1:
            raise EvalError(f"batch_size must be >= 1, got {batch_size}")
        self.model_id = model
        self.revision = revision
        self.device_arg, self.dtype_arg = device, dtype
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.device_map = device_map
        self.trust_remote_code = trust_remote_code
        self.attn_implementation = attn_implementation
        # generate() keyword arguments from --gen-kwargs (they override the greedy defaults)
        self.gen_kwargs = dict(gen_kwargs or {})
        self.spec = f"hf:{model}" + (f"@{revision}" if revision else "")
        self.model = self.processor = None
        self.device = self.dtype = None
        self.resolved_revision: str | None = revision
        self.batches = 0

    def load(self, benchmark) -> None:
        with _eval_errors():
            vlm = loader.load_vlm(self.model_id, revision=self.revision, device=self.device_arg, dtype=self.dtype_arg,
                                  device_map=self.device_map, trust_remote_code=self.trust_remote_code,
                                  attn_implementation=self.attn_implementation)
        self.model, self.processor, self.device, self.dtype = vlm.model, vlm.processor, vlm.device, vlm.dtype
        tokenizer = getattr(self.processor, "tokenizer", None)
        template = getattr(self.processor, "chat_template", None) or getattr(tokenizer, "chat_template", None)
        if tokenizer is None or template is None:
            raise EvalError(f"model {self.model_id!r}: the processor has no tokenizer or no chat template; "
                            "evaluate an instruction-tuned checkpoint (or one that ships a chat template)")
        tokenizer.padding_side = "left"  # generation continues from the end of every prompt
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.resolved_revision = self.revision or getattr(self.model.config, "_commit_hash", None)

    def _fingerprint_local(self) -> str | None:
        """For a local folder: sha256 of its config and the names + sizes of its files."""
        path = Path(self.model_id).expanduser()
        if not path.is_dir():
            return None
        h = hashlib.sha256()
        for f in sorted(path.rglob("*")):
            if f.is_file():
                h.update(f"{f.relative_to(path).as_posix()}\t{f.stat().st_size}\n".encode())
        config = path / "config.json"
        if config.is_file():
            h.update(config.read_bytes())
        return h.hexdigest()[:16]

    def model_info(self) -> dict[str, Any]:
        local = Path(self.model_id).expanduser().is_dir()
        return {
            "id": self.model_id,
            "revision": self.resolved_revision,
            "name": Path(self.model_id).name if local else self.model_id,
            "backend": self.backend,
            "spec": self.spec,
            "baseline": False,
            "details": {
                "local_path": str(Path(self.model_id).expanduser().resolve()) if local else None,
                "local_fingerprint": self._fingerprint_local(),
                "architecture": type(self.model).__name__ if self.model is not None else None,
                "device_map": self.device_map,
            },
        }

    def run_info(self) -> dict[str, Any]:
        import torch
        import transformers

        info = {"device": self.device, "dtype": self.dtype, "concurrency": 1, "batch_size": self.batch_size,
                "torch": torch.__version__, "transformers": transformers.__version__}
        if self.device and self.device.startswith("cuda"):
            info["gpu"] = torch.cuda.get_device_name(torch.device(self.device))
        return info

    def fingerprint(self) -> dict[str, Any]:
        return {"spec": f"hf:{self.model_id}", "revision": self.resolved_revision, "local": self._fingerprint_local(),
                "max_new_tokens": self.max_new_tokens, "decoding": "greedy",
                **({"gen_kwargs": self.gen_kwargs} if self.gen_kwargs else {})}

    def request_params(self) -> dict[str, Any] | None:
        return {"max_new_tokens": self.max_new_tokens, "do_sample": False, **self.gen_kwargs}

    def stats(self) -> dict[str, Any]:
        return {"batches": self.batches}

    def _inputs(self, batch: Sequence[Job]):
        from PIL import Image

        texts, images = [], []
        for job in batch:
            pil = [Image.open(io.BytesIO(b)).convert("RGB") for b in job.images]
            content = [{"type": "image"} for _ in pil] + [{"type": "text", "text": job.prompt}]
            texts.append(self.processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                            add_generation_prompt=True))
            images.append(pil)
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if any(images):
            kwargs["images"] = images
        return self.processor(**kwargs)

    def _generate_batch(self, batch: Sequence[Job]) -> list[str]:
        import torch

        inputs = self._inputs(batch)
        target = self.model.device if self.device_map else self.device
        inputs = inputs.to(target)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.request_params())
        self.batches += 1
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(new, skip_special_tokens=True)

    def _run(self, batch: Sequence[Job], emit: Emit) -> None:
        import torch

        start = time.perf_counter()
        try:
            texts = self._generate_batch(batch)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if len(batch) > 1:
                    half = len(batch) // 2
                    log.warning("batch of %d ran out of memory; splitting it", len(batch))
                    self._run(batch[:half], emit)
                    self._run(batch[half:], emit)
                    return
            for job in batch:
                emit(job, Generation(None, None, error=f"generation failed: {type(exc).__name__}: {exc}"))
            return
        per_item = (time.perf_counter() - start) / len(batch)
        for job, text in zip(batch, texts):
            emit(job, Generation(text, per_item))

    async def generate(self, jobs: Sequence[Job], emit: Emit) -> None:
        for with_images in (False, True):  # image and text-only prompts never share a batch
            group = sorted((j for j in jobs if bool(j.images) == with_images), key=lambda j: len(j.prompt))
            for start in range(0, len(group), self.batch_size):
                self._run(group[start:start + self.batch_size], emit)
                await asyncio.sleep(0)  # let a cancellation (Ctrl-C) in between batches


# --------------------------------------------------------------------------------------


def build_adapter(spec: str | ModelSpec, **options: Any) -> Adapter:
    """An adapter for a model spec; `options` are the CLI's settings (unused ones are ignored)."""
    s = parse_model_spec(spec) if isinstance(spec, str) else spec
    if s.kind == "baseline":
        return BaselineAdapter(s.model, corpus=options.get("corpus"), seed=options.get("seed", 0))
    if s.kind == "openai":
        return OpenAIAdapter(
            s.model, s.urls, api_key=options.get("api_key"), concurrency=options.get("concurrency", 16),
            timeout_s=options.get("timeout_s", 120.0), retries=options.get("retries", 4),
            backoff_s=options.get("backoff_s", 0.5), max_new_tokens=options.get("max_new_tokens", 1024),
            image_max_side=options.get("image_max_side"), cache_dir=options.get("cache_dir"),
            preflight=options.get("preflight", True), revision=options.get("model_revision"),
            extra_body=options.get("gen_kwargs"),
        )
    return TransformersAdapter(
        s.model, s.revision or options.get("model_revision"), device=options.get("device", "auto"),
        dtype=options.get("dtype", "auto"), batch_size=options.get("batch_size", 8),
        max_new_tokens=options.get("max_new_tokens", 1024), device_map=options.get("device_map"),
        trust_remote_code=options.get("trust_remote_code", False), gen_kwargs=options.get("gen_kwargs"),
    )
