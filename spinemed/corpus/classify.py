"""Stage 5: classification into the 7 orthopedic + 14 spinal sub-fields.

The LLM backend classifies (prompt `classify`); its answer must be a known slug.  The
documented fallback is `keyword_classify`: a bilingual keyword match over the lexicon,
used when the backend's answer is invalid after retries and by the offline backend.  When no
keyword matches either, a sub-field named for the whole source in its catalog entry
(`subfield:`, e.g. a fracture dataset) is used; a record with none of these is quarantined as
unclassifiable (never guessed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..lexicon import load_lexicon
from ..llm.base import LLMError
from ..schema import SUBFIELDS
from .prompts import OutputParseError, dumps_facts
from .step import PipelineStep, Window


@dataclass(frozen=True)
class Classification:
    subfield: str | None
    method: str  # "llm" | "keywords" | "none"
    score: float = 0.0
    reason: str = ""


_LATIN_RE_CACHE: dict[str, re.Pattern] = {}


def _keyword_pattern(keywords: list[str]) -> re.Pattern:
    key = "\x00".join(keywords)
    pat = _LATIN_RE_CACHE.get(key)
    if pat is None:
        alts = sorted((re.escape(k.lower()) for k in keywords), key=len, reverse=True)
        pat = re.compile(r"(?<![a-z0-9])(?:" + "|".join(alts) + r")(?![a-z0-9])")
        _LATIN_RE_CACHE[key] = pat
    return pat


def keyword_classify(text: str) -> Classification:
    """Highest keyword-hit sub-field; title/early mentions are not weighted (kept simple and
    predictable); ties go to the sub-field listed first in the lexicon.  None when nothing hits."""
    lex = load_lexicon()
    low = text.lower()
    best, best_score = None, 0
    for slug, kw in lex.subfield_keywords.items():
        score = len(_keyword_pattern(kw["en"]).findall(low)) if kw.get("en") else 0
        score += sum(low.count(k.lower()) for k in kw.get("zh", []))
        if score > best_score:
            best, best_score = slug, score
    if best is None:
        return Classification(None, "none", 0.0, "no sub-field keyword found")
    return Classification(best, "keywords", float(best_score), f"{best_score} keyword hit(s)")


def classification_text(record) -> str:
    """The text a record is classified by: title, body, captions, structured fields."""
    parts = [record.title, record.text, *record.context]
    parts += [img.caption for img in record.images] + [img.description for img in record.images]
    parts += [_flatten(record.fields)]
    return "\n".join(p for p in parts if p)


def _flatten(obj) -> str:
    if isinstance(obj, dict):
        return "\n".join(_flatten(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return "\n".join(_flatten(v) for v in obj)
    return "" if obj is None else str(obj)


def valid_subfield(value) -> str | None:
    return value if isinstance(value, str) and value in SUBFIELDS else None


async def classify_record(generator, prompt, rec) -> tuple[str | None, str]:
    """(sub-field slug or None, method): the backend's answer when it is a known slug, else the
    keyword fallback, else the catalog's sub-field for the whole source."""
    text = classification_text(rec)
    msgs = prompt.render(taxonomy={k: v for k, v in SUBFIELDS.items()}, facts_json=dumps_facts({"text": text[:6000]}))
    try:
        obj, _ = await generator.ask_json(msgs, check=lambda o: o["subfield"], record=rec)
        slug = valid_subfield(obj.get("subfield"))
        if slug:
            return slug, "llm"
    except (OutputParseError, LLMError):
        pass
    fallback = keyword_classify(text)
    if fallback.subfield is None and rec.subfield_hint:
        return rec.subfield_hint, "catalog"
    return fallback.subfield, fallback.method


class Classify(PipelineStep):
    """Assigns each record its sub-field (a window's requests run concurrently); drops the
    unclassifiable.  Stats: `classification` (by method)."""

    name = "classify"

    def __init__(self, generator, prompt):
        super().__init__()
        self.generator = generator
        self.prompt = prompt

    async def process(self, window: Window) -> Window:
        classes = await self.gather([classify_record(self.generator, self.prompt, d.record) for d in window],
                                    failed=lambda c: c[0] is None)
        kept = []
        for doc, (slug, method) in zip(window, classes):
            self.stats["classification"][method] += 1
            if slug is None:
                self.drop(doc, "unclassifiable: no sub-field could be assigned")
                continue
            doc.subfield = slug
            kept.append(doc)
        return kept
