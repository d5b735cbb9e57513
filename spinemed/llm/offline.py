"""The offline backend: deterministic completions in this process, with no network.

Transport only: `OfflineBackend` answers a chat request by calling the rules it is given (a
function of the messages returning the reply text).  The rules belong to the part that wrote
the prompts: the corpus build's are `spinemed.corpus.offline_rules` (cloze MCQs, field-mapped
reports and the other rule-based drafts the demo and the tests build the sample corpus with;
`offline_rules.RulesBackend` is this backend with them).  Rules only write from the facts
they are given and never translate (`can_translate = False`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .base import ChatRequest, ChatResult, LLMError

Rules = Callable[[list[dict]], str]
# Builds an offline backend for a model name (None: the rules' own), e.g. corpus.offline_rules.RulesBackend.
OfflineFactory = Callable[[str | None], "OfflineBackend"]


class OfflineBackend:
    name = "offline"
    can_translate = False
    trusted = True  # runs in this process: nothing leaves the machine

    def __init__(self, rules: Rules, model: str):
        self.rules = rules
        self.model = model

    async def complete(self, request: ChatRequest) -> ChatResult:
        start = time.perf_counter()
        text = self.respond(list(request.messages))
        return ChatResult(text=text, model=self.model, backend=self.name, endpoint="offline",
                          latency_s=time.perf_counter() - start)

    def respond(self, messages: list[dict]) -> str:
        try:
            return self.rules(messages)
        except LookupError as exc:  # the rules have no answer for this prompt
            raise LLMError(str(exc)) from None


def require_factory(offline: OfflineFactory | None) -> OfflineFactory:
    if offline is None:
        raise ValueError("backend 'offline' answers with rules the caller supplies: pass offline="
                         "spinemed.corpus.offline_rules.RulesBackend (the corpus build's rules)")
    return offline
