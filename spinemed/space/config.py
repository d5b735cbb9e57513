"""The Space's settings: command-line flags locally, environment variables on a Hugging Face Space.

| setting | flag (`spinemed space`) | variable (Space settings) | default |
| --- | --- | --- | --- |
| SpineBench folder or Hub repo | ``--bench`` | ``SPINEMED_BENCH`` | none: explorer and submissions off |
| serve an unregistered SpineBench | ``--allow-unregistered`` | ``SPINEMED_ALLOW_UNREGISTERED=1`` | off |
| results folder | ``--results`` | ``SPINEMED_RESULTS_DIR`` | ``space_results`` |
| Hub dataset repo for results | ``--results-repo`` | ``SPINEMED_RESULTS_REPO`` | none (local only) |
| chat model | ``--model`` | ``SPINEMED_CHAT_MODEL`` | none (the chat says how to set one) |
| chat model revision (when the spec has no ``@REV``) | | ``SPINEMED_CHAT_REVISION`` | none (the default branch) |
| requests queue folder | ``--requests`` | ``SPINEMED_REQUESTS_DIR`` | none: model requests off |
| requests queue Hub dataset | ``--requests-repo`` | ``SPINEMED_REQUESTS_REPO`` | none |
| queue takes ``openai:`` endpoint specs | | ``SPINEMED_QUEUE_ENDPOINTS=1`` | off (Hub model ids only) |
| visitors waiting in Gradio's queue | | ``SPINEMED_MAX_QUEUE`` | 32 |
| report judge (``openai:MODEL@URL[,URL...]``) | ``--judge`` | ``SPINEMED_JUDGE`` | none (reports "not judged") |
| upload limit (MB) | ``--max-upload-mb`` | ``SPINEMED_MAX_UPLOAD_MB`` | 25 |
| accepted submissions per model name | | ``SPINEMED_RATE_PER_NAME`` (``COUNT/SECONDS``) | ``2/3600`` |
| accepted submissions per client | | ``SPINEMED_RATE_PER_CLIENT`` (``COUNT/SECONDS``) | ``1/600`` |

Hub access uses ``HF_TOKEN`` (a Space secret); endpoints use ``SPINEMED_API_KEY`` / ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemed.judge import judge_reports_sync
from spinemed.models.loader import openai_client
from spinemed.models.spec import parse_model_spec

from .submissions import RateLimit

__all__ = ["JUDGE_KINDS", "Judge", "SpaceConfig"]

_TRUE = {"1", "true", "yes", "on"}


JUDGE_KINDS = ("openai",)  # the judge is an OpenAI-compatible endpoint


class Judge:
    """The Space's own report judge (:mod:`spinemed.judge` over an OpenAI-compatible endpoint).

    Submitted files never carry scores that are used; reports are judged here or not at all.
    `client` is for tests (any :class:`spinemed.llm.client.LLMClient`).
    """

    def __init__(self, spec: str, *, client: Any = None, concurrency: int = 8, cache_dir: str | os.PathLike | None = None):
        self.spec = parse_model_spec(spec, kinds=JUDGE_KINDS, what="judge")
        self.model, self.urls = self.spec.model, self.spec.urls
        if client is None:
            client = openai_client(self.spec, concurrency=concurrency, cache_dir=cache_dir)
        self.client = client

    def judge(self, items: Sequence[Mapping[str, Any]], outputs: Sequence[str | None]):
        return judge_reports_sync(items, outputs, self.client, model=self.model)


@dataclass
class SpaceConfig:
    bench: str | None = None
    allow_unregistered: bool = False
    results_dir: Path = Path("space_results")
    results_repo: str | None = None
    model: str | None = None
    chat_revision: str | None = None
    judge: str | None = None
    requests_dir: Path | None = None
    requests_repo: str | None = None
    queue_endpoints: bool = False
    max_queue: int = 32
    max_upload_mb: float = 25.0
    bootstrap: int = 1000
    cache_dir: Path = field(default_factory=lambda: Path(os.environ.get("SPINEMED_CACHE_DIR", Path.home() / ".cache" / "spinemed")))
    hf_token: str | None = None
    # A model is submitted a few times at most (a new revision, a fixed run); one client floods.
    rate_per_name: RateLimit = RateLimit(2, 3600.0)
    rate_per_client: RateLimit = RateLimit(1, 600.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SpaceConfig:
        """Settings from environment variables (what a Space has), then `overrides` (non-None win)."""
        env = os.environ if environ is None else environ
        cfg = cls(
            bench=env.get("SPINEMED_BENCH") or None,
            allow_unregistered=str(env.get("SPINEMED_ALLOW_UNREGISTERED", "")).strip().lower() in _TRUE,
            results_dir=Path(env.get("SPINEMED_RESULTS_DIR") or "space_results"),
            results_repo=env.get("SPINEMED_RESULTS_REPO") or None,
            model=env.get("SPINEMED_CHAT_MODEL") or None,
            chat_revision=env.get("SPINEMED_CHAT_REVISION") or None,
            judge=env.get("SPINEMED_JUDGE") or None,
            requests_dir=Path(env["SPINEMED_REQUESTS_DIR"]) if env.get("SPINEMED_REQUESTS_DIR") else None,
            requests_repo=env.get("SPINEMED_REQUESTS_REPO") or None,
            queue_endpoints=str(env.get("SPINEMED_QUEUE_ENDPOINTS", "")).strip().lower() in _TRUE,
            hf_token=env.get("HF_TOKEN") or None,
        )
        if env.get("SPINEMED_MAX_UPLOAD_MB"):
            try:
                cfg.max_upload_mb = float(env["SPINEMED_MAX_UPLOAD_MB"])
            except ValueError:
                raise ValueError(f"SPINEMED_MAX_UPLOAD_MB={env['SPINEMED_MAX_UPLOAD_MB']!r} is not a number") from None
        if env.get("SPINEMED_MAX_QUEUE"):
            try:
                cfg.max_queue = int(env["SPINEMED_MAX_QUEUE"])
            except ValueError:
                raise ValueError(f"SPINEMED_MAX_QUEUE={env['SPINEMED_MAX_QUEUE']!r} is not a whole number") from None
        for key, var in (("rate_per_name", "SPINEMED_RATE_PER_NAME"), ("rate_per_client", "SPINEMED_RATE_PER_CLIENT")):
            if env.get(var):
                setattr(cfg, key, RateLimit.parse(env[var], var))
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"SpaceConfig has no setting {key!r}")
            if value is not None:
                setattr(cfg, key, Path(value) if key in ("results_dir", "cache_dir", "requests_dir") else value)
        if cfg.max_queue < 1:
            raise ValueError(f"SPINEMED_MAX_QUEUE must be >= 1, got {cfg.max_queue}")
        if not 0 < cfg.max_upload_mb <= 1024:
            raise ValueError(f"max upload size must be in (0, 1024] MB, got {cfg.max_upload_mb}")
        return cfg
