"""LLM answer extraction for MCQ outputs the rules of :mod:`spinemed.choices` cannot parse.

What peers do for the long tail of phrasings (lmms-eval's and VLMEvalKit's LLM matchers): the
output, the question and the options go to a model that must reply with strict JSON,
``{"answer": "B"}`` (letters among the options) or ``{"answer": null}``.  A reply that is not
exactly that is re-asked once with the error, then counted as ``invalid``; an endpoint failure is
``error``.  Neither ever becomes an answer: the extractor only reads what the output says, it never
guesses.  The prompt is a versioned file (``builders/spinebench/extract_prompts/<version>/extract.md``)
whose version and hash the run records, like the judge's.  Requests go through
:class:`spinemed.llm.client.LLMClient` (cache, retries, the model's request-parameter rules:
temperature 0, none for reasoning models).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spinemed.llm.base import ChatRequest, LLMError
from spinemed.prompts import (
    EXTRACT_PROMPT_DIR,
    EXTRACT_PROMPT_ENV,
    compile_template,
    json_objects,
    load_prompt_version,
    prompt_set_digest,
    resolve_prompt_root,
)

__all__ = [
    "DEFAULT_EXTRACT_PROMPT_VERSION",
    "ExtractParseError",
    "ExtractPrompts",
    "Extraction",
    "ExtractionRun",
    "extract_answers",
    "load_extract_prompts",
    "parse_extraction",
]

DEFAULT_EXTRACT_PROMPT_VERSION = "v1"
_THINK_END = "</think>"
_LETTERS = re.compile(r"[A-Za-z](?:\s*[,、&+ ]\s*(?:and\s+)?[A-Za-z])*")
_REASK = ("Your previous reply could not be used: {error}\nReply again with exactly one JSON object and nothing "
          'else: {{"answer": "<letter or letters>"}} or {{"answer": null}}.')


class ExtractParseError(ValueError):
    """An extractor reply that is not ``{"answer": <letters among the options> | null}``."""


@dataclass(frozen=True)
class ExtractPrompts:
    version: str
    system: str
    user_template: str
    sha256: str

    def messages(self, question: str, options: Sequence[tuple[str, str]], output: str) -> list[dict]:
        user = compile_template(self.user_template).render(question=question, options=list(options), output=output)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def load_extract_prompts(version: str = DEFAULT_EXTRACT_PROMPT_VERSION,
                         prompt_dir: str | Path | None = None) -> ExtractPrompts:
    """Read ``<prompt_dir>/<version>/extract.md``; `prompt_dir` defaults to ``$SPINEMED_EXTRACT_PROMPTS``,
    else the checkout's ``builders/spinebench/extract_prompts``."""
    root = resolve_prompt_root(prompt_dir, EXTRACT_PROMPT_ENV, EXTRACT_PROMPT_DIR, what="answer-extractor prompt",
                               layout="builders/spinebench/extract_prompts/<version>/extract.md")
    prompt = load_prompt_version(root, version, ["extract.md"], what="answer-extractor prompt")["extract.md"]
    sha256 = prompt_set_digest([("system", prompt.system), ("user", prompt.user)])
    return ExtractPrompts(version, prompt.system, prompt.user, sha256)


def parse_extraction(text: str, options: str) -> str | None:
    """The sorted letters of a strict reply, or None for ``{"answer": null}``; raises
    ExtractParseError saying what is wrong (several objects, other keys, letters not offered)."""
    if _THINK_END in (text or ""):
        text = text[text.rindex(_THINK_END) + len(_THINK_END):]
    objects = json_objects(text or "")
    if len(objects) != 1:
        raise ExtractParseError(f"expected one JSON object, found {len(objects)}")
    obj = objects[0]
    if set(obj) != {"answer"}:
        raise ExtractParseError(f"expected exactly the key 'answer', got {sorted(obj)}")
    value = obj["answer"]
    if value is None:
        return None
    if not isinstance(value, str) or not _LETTERS.fullmatch(value.strip()):
        raise ExtractParseError(f"'answer' must be option letters or null, got {value!r}")
    letters = "".join(sorted(set(re.sub(r"\band\b|[^A-Za-z]", "", value).upper())))
    bad = [ch for ch in letters if ch not in options]
    if bad:
        raise ExtractParseError(f"'answer' {value!r} names letter(s) {', '.join(bad)} that are not options ({options})")
    return letters


def _options(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    opts = item.get("options")
    if isinstance(opts, Mapping):
        pairs = [(str(k), str(v)) for k, v in opts.items()]
    elif isinstance(opts, (list, tuple)):
        pairs = [(str(o.get("label", "")), str(o.get("text", ""))) for o in opts if isinstance(o, Mapping)]
    elif isinstance(opts, str) and opts:
        pairs = [(ch, "") for ch in opts]
    else:
        pairs = [(ch, "") for ch in "ABCDE"]
    return sorted((k.strip().upper(), v) for k, v in pairs if k.strip())


@dataclass
class Extraction:
    """One item: ``status`` "answered" (``answer`` set), "none" (the extractor says the output
    commits to nothing), "invalid" (no strict reply after the re-ask) or "error" (endpoint failed)."""

    index: int
    id: str
    status: str
    answer: str | None = None
    attempts: int = 0
    raw: str = ""
    error: str = ""


@dataclass
class ExtractionRun:
    results: list[Extraction]
    model: str
    prompt_version: str
    prompt_hash: str
    request_params: dict = field(default_factory=dict)

    def answers(self) -> dict[str, str]:
        """Item id -> letters, for the items the extractor answered."""
        return {r.id: r.answer for r in self.results if r.status == "answered" and r.answer}

    def info(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.results) for s in ("answered", "none", "invalid", "error")}
        return {"model": self.model, "prompt_version": self.prompt_version, "prompt_hash": self.prompt_hash,
                "request_params": dict(self.request_params), "sent": len(self.results), **counts,
                "failures": [{"id": r.id, "status": r.status, "error": r.error} for r in self.results
                             if r.status in ("invalid", "error")]}

    def to_json(self) -> dict[str, Any]:
        return {**self.info(), "results": [asdict(r) for r in self.results]}


async def _extract_one(client, prompts: ExtractPrompts, item, output: str, index: int, item_id: str, *, model: str,
                       max_attempts: int, gen_kwargs: dict, sent: list) -> Extraction:
    options = _options(item)
    letters = "".join(k for k, _ in options)
    base = prompts.messages(str(item.get("question") or ""), options, output)
    messages, raw, error = base, "", ""
    for attempt in range(1, max_attempts + 1):
        # temperature 0: spinemed.llm.params drops it for models that take only their default
        request = ChatRequest(messages=tuple(messages), model=model or "", temperature=0.0, extra=gen_kwargs)
        try:
            reply = await client.chat(request)
        except LLMError as exc:
            return Extraction(index, item_id, "error", attempts=attempt, raw=raw, error=f"endpoint failed: {exc}")
        raw = reply.text
        if reply.params:
            sent.append({k: v for k, v in reply.params.items() if k != "model"})
        try:
            answer = parse_extraction(raw, letters)
        except ExtractParseError as exc:
            error = str(exc)
            messages = [*base, {"role": "assistant", "content": raw}, {"role": "user", "content": _REASK.format(error=error)}]
            continue
        return Extraction(index, item_id, "answered" if answer else "none", answer, attempt, raw)
    return Extraction(index, item_id, "invalid", attempts=max_attempts, raw=raw, error=error)


async def extract_answers(
    items: Sequence[Mapping[str, Any]],
    outputs: Sequence[str],
    client,
    *,
    model: str | None = None,
    prompt_version: str = DEFAULT_EXTRACT_PROMPT_VERSION,
    prompt_dir: str | Path | None = None,
    gen_kwargs: Mapping[str, Any] | None = None,
    max_retries: int = 1,
) -> ExtractionRun:
    """Ask the extractor model which letters each output commits to (items and outputs aligned;
    pass only the MCQ items the rules left unparsed)."""
    if len(outputs) != len(items):
        raise ValueError(f"outputs has {len(outputs)} entries but there are {len(items)} items")
    prompts = load_extract_prompts(prompt_version, prompt_dir)
    sent: list[dict] = []
    extra = dict(gen_kwargs or {})
    jobs = [
        _extract_one(client, prompts, item, output, i, str(item.get("id") or i), model=model or "",
                     max_attempts=1 + max_retries, gen_kwargs=extra, sent=sent)
        for i, (item, output) in enumerate(zip(items, outputs))
    ]
    results = list(await asyncio.gather(*jobs))
    backend = getattr(client, "backend", None)
    return ExtractionRun(results, model or getattr(backend, "model", "") or "", prompts.version, prompts.sha256,
                         sent[-1] if sent else {})
