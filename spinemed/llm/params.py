"""Request parameters per model: what a chat body may carry for the model it goes to.

OpenAI's reasoning models (the gpt-5 family, the o1/o3/o4 series) answer HTTP 400 to
``max_tokens`` (they take ``max_completion_tokens``) and to any ``temperature`` other than the
default 1.  Two layers keep such endpoints working:

* by family: a model name of a known reasoning family gets ``max_completion_tokens`` instead of
  ``max_tokens`` and no ``temperature``, before the first request;
* adaptively: a 400 whose OpenAI-style error names an unsupported parameter or value
  (``code`` ``unsupported_parameter`` / ``unsupported_value``, or the same words in the message)
  is learned for that endpoint and model: the parameter is renamed when the error says which one
  to use instead, dropped otherwise, and the request is sent once more.  What was learned is kept
  in-process (:data:`LEARNED`, a lock-protected table shared by threads and event loops), so
  later requests to the same endpoint and model are right the first time.

Parameters the caller set explicitly (``ChatRequest.extra``, e.g. ``--gen-kwargs``) are left
alone by the family rule: the user asked for them.  The adaptive rule applies to every
parameter, because the server has just said it refuses it.  ``sent_params`` is what callers
record: the body as finally sent, without the messages.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "LEARNED",
    "ParamTable",
    "is_reasoning_model",
    "parse_gen_kwargs",
    "sent_params",
    "shape_body",
    "unsupported_param",
]

# gpt-5, gpt-5-mini, gpt-5.1, o1, o1-mini, o3-pro, o4-mini, also behind a provider prefix
# ("openai/gpt-5-mini", "azure/o3").  Not gpt-4o, not "o10-foo" (no such family yet), and not
# gpt-5-chat-latest, the non-reasoning chat model that takes a temperature.
_REASONING = re.compile(r"(?:^|/)(?:gpt-5(?![0-9])(?![\w.:-]*-chat)|o[134](?![0-9]))(?:$|[-.:_@])", re.IGNORECASE)


def is_reasoning_model(model: str | None) -> bool:
    """A model of OpenAI's reasoning families (gpt-5*, o1*, o3*, o4*), by name."""
    return bool(model) and _REASONING.search(model.strip()) is not None


# "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
# "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported."
_UNSUPPORTED_MSG = re.compile(r"unsupported\s+(?:parameter|value)\s*:\s*'(?P<param>[A-Za-z_][\w.]*)'", re.IGNORECASE)
_USE_INSTEAD = re.compile(r"\buse\s+'(?P<param>[A-Za-z_]\w*)'\s+instead", re.IGNORECASE)
_CODES = ("unsupported_parameter", "unsupported_value")
# Never dropped or renamed: without them there is no request.
_ESSENTIAL = frozenset({"model", "messages", "stream"})


def unsupported_param(error_body: Any) -> tuple[str, str | None] | None:
    """``(parameter, replacement or None)`` when a 400 body says a parameter (or its value) is
    unsupported, in OpenAI's shape ``{"error": {"param", "code", "message"}}``; None otherwise."""
    if isinstance(error_body, (str, bytes)):
        try:
            error_body = json.loads(error_body)
        except ValueError:
            return None
    err = error_body.get("error") if isinstance(error_body, dict) else None
    if isinstance(err, str):
        err = {"message": err}
    if not isinstance(err, dict):
        return None
    message = str(err.get("message") or "")
    param = err.get("param") if isinstance(err.get("param"), str) else None
    by_message = _UNSUPPORTED_MSG.search(message)
    if err.get("code") not in _CODES and by_message is None:
        return None  # another kind of 400 (bad message, too long): not ours to fix
    param = param or (by_message.group("param") if by_message else None)
    if not param or param in _ESSENTIAL:
        return None
    instead = _USE_INSTEAD.search(message)
    replacement = instead.group("param") if instead and instead.group("param") != param else None
    return param, replacement


class ParamTable:
    """What each (endpoint, model) was found to refuse: parameter -> replacement or None (drop).

    Thread- and async-safe: lookups and updates hold one lock for a few dictionary operations
    (never across an await)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[tuple[str, str], dict[str, str | None]] = {}

    def rules(self, endpoint: str, model: str) -> dict[str, str | None]:
        with self._lock:
            return dict(self._table.get((endpoint, model), {}))

    def learn(self, endpoint: str, model: str, param: str, replacement: str | None) -> bool:
        """Remember a refusal; False when it was already known (a retry would not help)."""
        with self._lock:
            rules = self._table.setdefault((endpoint, model), {})
            if param in rules:
                return False
            rules[param] = replacement
            return True

    def forget(self, endpoint: str | None = None) -> None:
        """Forget what was learned (for one endpoint, or all); tests start clean with it."""
        with self._lock:
            if endpoint is None:
                self._table.clear()
            else:
                for key in [k for k in self._table if k[0] == endpoint]:
                    del self._table[key]

    def snapshot(self) -> dict[str, dict[str, str | None]]:
        """``{"endpoint model": {param: replacement}}`` for logs and results."""
        with self._lock:
            return {f"{e} {m}": dict(r) for (e, m), r in self._table.items()}


LEARNED = ParamTable()  # the process-wide table every OpenAI-compatible backend shares by default


def shape_body(body: Mapping[str, Any], model: str, *, explicit: Iterable[str] = (),
               learned: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """The body to send: the family rule for `model` (skipping `explicit` keys), then the learned rules."""
    out = dict(body)
    keep = set(explicit)
    if is_reasoning_model(model):
        if "max_tokens" in out and "max_tokens" not in keep:
            value = out.pop("max_tokens")
            out.setdefault("max_completion_tokens", value)
        if "temperature" in out and "temperature" not in keep:
            del out["temperature"]
    for param, replacement in (learned or {}).items():
        if param not in out:
            continue
        value = out.pop(param)
        if replacement and replacement not in out:
            out[replacement] = value
    return out


def sent_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a sent body (everything but the messages), for results and manifests."""
    return {k: v for k, v in body.items() if k != "messages"}


def parse_gen_kwargs(text: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``--gen-kwargs``: a JSON object, or ``k=v,k=v`` (values read as JSON when they parse:
    numbers, true/false/null, lists; else strings).  Raises ValueError saying what is wrong."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"--gen-kwargs {text!r}: not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise ValueError(f"--gen-kwargs {text!r}: must be a JSON object")
        result = value
    else:
        result = {}
        for part in text.split(","):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"--gen-kwargs {text!r}: {part.strip()!r} is not KEY=VALUE "
                                 "(give a JSON object or k=v,k=v, e.g. reasoning_effort=low,max_completion_tokens=4096)")
            raw = raw.strip()
            try:
                result[key] = json.loads(raw)
            except ValueError:
                result[key] = raw
    bad = sorted(set(result) & _ESSENTIAL)
    if bad:
        raise ValueError(f"--gen-kwargs: {', '.join(bad)} cannot be set here (the kit sets them)")
    return result
