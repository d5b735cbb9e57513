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
from ..schema import SUBFIELDS


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
