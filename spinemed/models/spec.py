"""Model specs: one grammar for every place that names a model (``spinemed eval --model``, the
Space's ``--model`` chat and ``--judge``).

::

    hf:PATH_OR_REPO[@REV]                 a local folder or Hub model id loaded with transformers
                                          (@REV: a branch, tag or commit; not split off an existing path)
    openai:MODEL@URL[,URL...]             an OpenAI-compatible server (vLLM, TGI, hosted APIs); several
                                          URLs share the requests (spinemed.llm.openai_compat)
    baseline:NAME                         an offline baseline (spinemed.evaluation.baselines; eval only)
    tiny                                  the random-weight tiny Qwen2.5-VL built offline (spinemed.models.tiny)
    none (or empty)                       no model

Each caller says which kinds it takes (``kinds=``); an error names the forms that caller accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KINDS", "ModelError", "ModelSpec", "ModelSpecError", "parse_model_spec"]

KINDS = ("hf", "openai", "baseline", "tiny", "none")

_FORMS = {
    "hf": "hf:PATH_OR_REPO[@REV] (transformers)",
    "openai": "openai:MODEL@URL[,URL...] (OpenAI-compatible endpoint)",
    "baseline": "baseline:NAME (offline baseline)",
    "tiny": "tiny (offline random-weight test model)",
    "none": "none",
}
_OPENAI = re.compile(r"^(?P<model>.+?)@(?P<urls>https?://.+)$")


class ModelError(RuntimeError):
    """A model or endpoint that cannot be used (the message says what to fix)."""


class ModelSpecError(ModelError, ValueError):
    """A model spec that does not follow the grammar (or names a kind this caller does not take)."""


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # one of KINDS
    model: str = ""  # model id / path, the endpoint's model name, or the baseline name
    revision: str | None = None
    urls: tuple[str, ...] = ()  # openai: endpoint base URLs
    text: str = ""  # the spec as given (stripped)

    @property
    def url(self) -> str:
        """The first endpoint URL ('' for non-endpoint specs)."""
        return self.urls[0] if self.urls else ""


def _forms(kinds: Sequence[str], baselines: Sequence[str]) -> str:
    forms = [_FORMS[k] if k != "baseline" or not baselines else f"baseline:{'|'.join(baselines)}" for k in kinds]
    return forms[0] if len(forms) == 1 else f"{', '.join(forms[:-1])} or {forms[-1]}"


def parse_model_spec(text: str | None, *, kinds: Sequence[str] = KINDS, baselines: Sequence[str] = (),
                     what: str = "model spec") -> ModelSpec:
    """Parse a spec of the grammar above into a :class:`ModelSpec`.

    kinds: the kinds the caller takes (others are an error); baselines: the valid ``baseline:``
    names (empty: any name); what: how errors name the spec ("model spec", "chat model", "judge").
    Raises ModelSpecError (a ValueError) saying what is wrong and which forms are accepted.
    """
    spec = (text or "").strip()

    def fail(problem: str) -> ModelSpecError:
        return ModelSpecError(f"{what} {spec!r}: {problem}; expected {_forms(kinds, baselines)}")

    if not spec or spec.lower() == "none":
        result = ModelSpec("none", text=spec)
    elif spec == "tiny":
        result = ModelSpec("tiny", text=spec)
    else:
        scheme, sep, rest = spec.partition(":")
        if not sep or scheme not in ("hf", "openai", "baseline"):
            raise fail("unknown form" if sep else "no scheme")
        if not rest:
            raise fail(f"nothing after {scheme}:")
        if scheme == "hf":
            model, revision = rest, None
            if "@" in rest and not Path(rest).expanduser().exists():  # a folder may have @ in its name
                model, _, revision = rest.rpartition("@")
                if not model or not revision:
                    raise fail("expected hf:ID@REVISION, e.g. hf:Qwen/Qwen2.5-VL-7B-Instruct@main")
            result = ModelSpec("hf", model, revision, text=spec)
        elif scheme == "openai":
            m = _OPENAI.match(rest)
            if not m:
                raise fail("no endpoint URL after MODEL@ (e.g. openai:Qwen/Qwen2.5-VL-72B-Instruct@http://localhost:8000/v1)")
            urls = tuple(u.strip() for u in m["urls"].split(",") if u.strip())
            bad = [u for u in urls if not u.startswith(("http://", "https://"))]
            if bad:
                raise fail(f"endpoint URL(s) {bad} must start with http:// or https://")
            result = ModelSpec("openai", m["model"], urls=urls, text=spec)
        else:
            if baselines and rest not in baselines:
                raise fail(f"unknown baseline {rest!r}")
            result = ModelSpec("baseline", rest, text=spec)
    if result.kind not in kinds:
        raise fail(f"{result.kind!r} is not accepted here" if result.kind != "none" else "a model is required")
    return result
