"""The offline backend: deterministic completions in this process, with no network.

Transport only: `OfflineBackend` answers a chat request by calling its rules (a function of
the messages returning the reply text).  The default rules are the corpus build's
(`spinemed.corpus.offline_rules`): cloze MCQs, field-mapped reports and the other rule-based
drafts the demo and the tests build the sample corpus with.  They only write from the facts
they are given and never translate (`can_translate = False`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..corpus import offline_rules
from .base import ChatRequest, ChatResult, LLMError

DEFAULT_MODEL = offline_rules.RULES_MODEL


class OfflineBackend:
    name = "offline"
    can_translate = False
    trusted = True  # runs in this process: nothing leaves the machine

    def __init__(self, model: str | None = None, rules: Callable[[list[dict]], str] | None = None):
        self.model = model or DEFAULT_MODEL
        self.rules = rules or offline_rules.respond

    async def complete(self, request: ChatRequest) -> ChatResult:
        start = time.perf_counter()
        text = self.respond(list(request.messages))
        return ChatResult(text=text, model=self.model, backend=self.name, endpoint="offline",
                          latency_s=time.perf_counter() - start)

    def respond(self, messages: list[dict]) -> str:
        try:
            return self.rules(messages)
        except offline_rules.NoRuleError as exc:
            raise LLMError(str(exc)) from None
