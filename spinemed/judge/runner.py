"""LLM-as-judge for SpineBench reports: rubric prompts, strict parsing, bounded re-asks.

The judge grades each model report 1-5 on the ten dimensions of
:data:`spinemed.schema.DIMENSIONS`.  Prompts are versioned files under
``builders/spinebench/judge_prompts/<version>/judge.md`` (``## system`` = rubric, ``## user`` =
Jinja2 template); every run records the judge model, the prompt version and the prompt hash.

A judgement either parses strictly (exactly the ten dimensions, integer scores 1-5, a reason
each) or is re-asked with the parse error, up to a bound; what still fails is counted and
reported with its reason, never scored.  Every re-ask names its attempt number and the
previous error, so each attempt is a distinct request: a cached client would otherwise answer
a repeated identical re-ask from its cache instead of asking again.  A missing or blank model
output is not sent (status "missing_output"; the scorer floor-scores it).  Requests go through
:class:`spinemed.llm.client.LLMClient`, so any OpenAI-compatible endpoint and the request
cache work; temperature is 0 (none for reasoning models, which accept only their default:
`spinemed.llm.params`), `gen_kwargs` add request parameters, and the run records the parameters
as finally sent.  The judge sees text only (case, reference, report).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinemed.llm.base import ChatRequest, LLMError
from spinemed.progress import progress
from spinemed.prompts import (
    JUDGE_PROMPT_DIR,
    JUDGE_PROMPT_ENV,
    compile_template,
    json_objects,
    load_prompt_version,
    prompt_set_digest,
    resolve_prompt_root,
)
from spinemed.schema import DIMENSIONS, item_kind

from .records import JudgeResult, JudgeRun

__all__ = [
    "DEFAULT_PROMPT_DIR",
    "DEFAULT_PROMPT_VERSION",
    "JUDGEMENT_SCHEMA",
    "JudgeParseError",
    "JudgePrompts",
    "JudgeResult",
    "JudgeRun",
    "build_messages",
    "judge_reports",
    "judge_reports_sync",
    "load_prompts",
    "parse_judgement",
]

# Versioned files under builders/ (the checkout's or the wheel's copy); $SPINEMED_JUDGE_PROMPTS or
# an explicit `prompt_dir` points elsewhere.
DEFAULT_PROMPT_DIR = JUDGE_PROMPT_DIR
DEFAULT_PROMPT_VERSION = "v1"
PROMPT_DIR_ENV = JUDGE_PROMPT_ENV

_REASK = (
    "Attempt {attempt} of {max_attempts}. Your previous reply could not be used: {error}\n"
    "Reply again with exactly one JSON object and nothing else: the keys are the ten dimensions "
    "({dimensions}), each value an object with an integer \"score\" from 1 to 5 and a short \"reason\"."
)


# JSON Schema of a judgement: what `parse_judgement` accepts.  Endpoints with structured
# output can enforce it: response_format={"type": "json_schema", "json_schema":
# {"name": "judgement", "schema": JUDGEMENT_SCHEMA, "strict": True}}.
JUDGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        d: {
            "type": "object",
            "properties": {
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
                "reason": {"type": "string", "minLength": 1},
            },
            "required": ["score", "reason"],
            "additionalProperties": False,
        }
        for d in DIMENSIONS
    },
    "required": list(DIMENSIONS),
    "additionalProperties": False,
}


class JudgeParseError(ValueError):
    """A judge reply that is not a valid judgement (the message says why)."""


# --------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgePrompts:
    version: str
    system: str
    user_template: str
    sha256: str  # over both sections, so any edit changes it

    def render_user(self, *, case: str, reference: str, report: str, language: str = "") -> str:
        return compile_template(self.user_template).render(case=case, reference=reference, report=report, language=language)


def load_prompts(version: str = DEFAULT_PROMPT_VERSION, prompt_dir: str | Path | None = None) -> JudgePrompts:
    """Read ``<prompt_dir>/<version>/judge.md`` (a ``## system`` rubric, sent as written, and a
    ``## user`` template) and hash it.

    `prompt_dir` defaults to ``$SPINEMED_JUDGE_PROMPTS``, else the checkout's
    ``builders/spinebench/judge_prompts``.
    """
    root = resolve_prompt_root(prompt_dir, PROMPT_DIR_ENV, DEFAULT_PROMPT_DIR, what="judge prompt",
                               layout="builders/spinebench/judge_prompts/<version>/judge.md")
    prompt = load_prompt_version(root, version, ["judge.md"], what="judge prompt")["judge.md"]
    missing = [d for d in DIMENSIONS if d not in prompt.system]
    if missing:
        raise ValueError(f"judge prompt {prompt.path} does not name dimension(s): {', '.join(missing)}")
    # The hash of both turns under the names of the files they had before judge.md (system.md,
    # user.md), so v1's hash is unchanged.
    sha256 = prompt_set_digest([("system.md", prompt.system), ("user.md", prompt.user)])
    return JudgePrompts(version, prompt.system, prompt.user, sha256)


def _text(value: Any) -> str:
    """Case / reference text: a string, or a mapping of named parts (a SpineBench report dict)."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return "\n\n".join(f"### {k}\n{v}" for k, v in value.items() if v)
    return str(value)


def build_messages(prompts: JudgePrompts, item: Mapping[str, Any], output: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge to grade `output` for `item`."""
    reference = item.get("reference")
    if reference is None or reference == "":
        reference = item.get("report")
    user = prompts.render_user(
        case=_text(item.get("case") or item.get("question")),
        reference=_text(reference),
        report=output,
        language=str(item.get("language") or ""),
    )
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user}]


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def parse_judgement(text: str) -> tuple[dict[str, int], dict[str, str]]:
    """Parse a judge reply into ``(scores, reasons)`` or raise :class:`JudgeParseError`.

    The reply must contain exactly one JSON object (bare, in a code fence, or with prose
    around it) whose keys are exactly the ten dimensions, each ``{"score": int 1-5,
    "reason": non-empty str}``.  Floats, strings and booleans are not scores.
    """
    if not isinstance(text, str) or not text.strip():
        raise JudgeParseError("the reply is empty")
    objects = json_objects(text)
    if not objects:
        raise JudgeParseError("no JSON object found in the reply")
    if len(objects) > 1:
        raise JudgeParseError(f"the reply holds {len(objects)} JSON objects; expected exactly one")
    obj = objects[0]
    missing = [d for d in DIMENSIONS if d not in obj]
    extra = sorted(k for k in obj if k not in DIMENSIONS)
    problems = []
    if missing:
        problems.append(f"missing dimension(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unknown key(s) {', '.join(extra)}")
    if problems:
        raise JudgeParseError("; ".join(problems))
    scores, reasons = {}, {}
    for d in DIMENSIONS:
        entry = obj[d]
        if not isinstance(entry, dict):
            raise JudgeParseError(f"{d}: expected an object with 'score' and 'reason', got {json.dumps(entry)[:60]}")
        if set(entry) != {"score", "reason"}:
            raise JudgeParseError(f"{d}: expected exactly the keys 'score' and 'reason', got {sorted(entry)}")
        score, reason = entry["score"], entry["reason"]
        if isinstance(score, bool) or not isinstance(score, int):
            raise JudgeParseError(f"{d}: score must be an integer 1-5, got {json.dumps(score)}")
        if not 1 <= score <= 5:
            raise JudgeParseError(f"{d}: score {score} is outside 1-5")
        if not isinstance(reason, str) or not reason.strip():
            raise JudgeParseError(f"{d}: reason must be a non-empty string")
        scores[d], reasons[d] = score, reason.strip()
    return scores, reasons


# --------------------------------------------------------------------------------------
# Running the judge
# --------------------------------------------------------------------------------------


async def _judge_one(client, prompts: JudgePrompts, item, output, index, item_id, *, model, max_attempts, max_tokens,
                     response_format, gen_kwargs, sent):
    if output is None or not output.strip():
        return JudgeResult(index, item_id, "missing_output", error="model output is " + ("None" if output is None else "empty"))
    base = build_messages(prompts, item, output)
    messages = base
    last_error, raw, used_model = "", "", ""
    for attempt in range(1, max_attempts + 1):
        request = ChatRequest(
            messages=tuple(messages), model=model or "", temperature=0.0, max_tokens=max_tokens, response_format=response_format,
            extra=gen_kwargs,
        )
        try:
            reply = await client.chat(request)
        except LLMError as exc:
            return JudgeResult(index, item_id, "error", attempts=attempt, error=f"endpoint failed: {exc}", raw=raw, model=used_model)
        raw, used_model = reply.text, reply.model or used_model
        if reply.params:
            sent.append(reply.params)
        try:
            scores, reasons = parse_judgement(reply.text)
        except JudgeParseError as exc:
            last_error = str(exc)
            if attempt == max_attempts:
                break
            # Re-ask from the original prompt with only the latest bad reply, so context stays
            # bounded.  The attempt number makes every re-ask a new request, even when the judge
            # repeats the same bad reply: an identical request would come back from the cache.
            reask = _REASK.format(attempt=attempt + 1, max_attempts=max_attempts, error=last_error, dimensions=", ".join(DIMENSIONS))
            messages = [*base, {"role": "assistant", "content": reply.text}, {"role": "user", "content": reask}]
            continue
        return JudgeResult(index, item_id, "ok", scores, reasons, attempt, raw=raw, model=used_model)
    return JudgeResult(index, item_id, "invalid", attempts=max_attempts, error=last_error, raw=raw, model=used_model)


async def judge_reports(
    items: Sequence[Mapping[str, Any]],
    outputs: Sequence[str | None],
    client,
    *,
    prompt_version: str = DEFAULT_PROMPT_VERSION,
    prompt_dir: str | Path | None = None,
    model: str | None = None,
    max_retries: int = 2,
    max_tokens: int | None = 2048,
    response_format: dict | None = None,
    gen_kwargs: Mapping[str, Any] | None = None,
) -> JudgeRun:
    """Judge the model outputs of the report items in `items` (other kinds are skipped).

    Args:
        items: SpineBench items (see :func:`spinemed.scoring.score_predictions`); report items
            may carry ``case``, ``reference`` or ``report`` (reference parts) and ``language``.
        outputs: the model output per item, aligned with `items`.
        client: a :class:`spinemed.llm.client.LLMClient` (adds cache, retries, concurrency).
        model: judge model name sent in the request ("" lets the backend use its own).
        max_retries: re-asks after an unparseable reply (so at most ``1 + max_retries`` calls).
        response_format: e.g. ``{"type": "json_object"}`` or a ``json_schema`` format built from
            :data:`JUDGEMENT_SCHEMA`, for endpoints that support it; replies are parsed strictly
            either way.
        gen_kwargs: extra request parameters (``--judge-gen-kwargs``), e.g. ``{"reasoning_effort": "low"}``.
    """
    if len(outputs) != len(items):
        raise ValueError(f"outputs has {len(outputs)} entries but there are {len(items)} items")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    prompts = load_prompts(prompt_version, prompt_dir)
    ids = [str(item.get("id") or i) for i, item in enumerate(items)]
    jobs, sent = [], []
    extra = dict(gen_kwargs or {})
    for i, (item, output) in enumerate(zip(items, outputs)):
        if item_kind(item, f"items[{i}] (id {ids[i]!r})") != "report":
            continue
        if output is not None and not isinstance(output, str):
            raise TypeError(f"outputs[{i}] (id {ids[i]!r}): expected a string or None, got {type(output).__name__}")
        jobs.append(
            _judge_one(
                client, prompts, item, output, i, ids[i], model=model, max_attempts=1 + max_retries,
                max_tokens=max_tokens, response_format=response_format, gen_kwargs=extra, sent=sent,
            )
        )
    with progress(len(jobs), "judge", unit="report") as bar:

        async def tracked(job):
            result = await job
            bar.update(failed=int(not result.ok))
            return result

        results = list(await asyncio.gather(*(tracked(j) for j in jobs)))
    backend = getattr(client, "backend", None)
    judge_model = next((r.model for r in results if r.model), "") or model or getattr(backend, "model", "") or ""
    return JudgeRun(
        results=results,
        n_items=len(items),
        judge_model=judge_model,
        backend=getattr(backend, "name", "") or "",
        prompt_version=prompts.version,
        prompt_hash=prompts.sha256,
        max_attempts=1 + max_retries,
        item_ids=ids,
        request_params=_without_model(sent[-1]) if sent else {},
    )


def _without_model(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "model"}


def judge_reports_sync(items, outputs, client, **kwargs) -> JudgeRun:
    """:func:`judge_reports` for synchronous callers (not from inside a running event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(judge_reports(items, outputs, client, **kwargs))
    raise RuntimeError("judge_reports_sync called from a running event loop; await judge_reports(...) instead")
