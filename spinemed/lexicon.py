"""The bilingual clinical lexicon shipped with the package (keyword classifier, offline backend)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import yaml

from .schema import SUBFIELDS


@dataclass(frozen=True)
class Term:
    en: str
    zh: str
    category: str
    subfield: str
    abbr: str = ""

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class Lexicon:
    version: str
    subfield_keywords: dict  # slug -> {"en": [...], "zh": [...]}
    terms: tuple

    def terms_in(self, text: str, language: str) -> list[Term]:
        """Terms named in `text` (in `language`), longest first so specific terms win."""
        found = []
        low = text.lower()
        for term in self.terms:
            surface = term.text(language)
            if _contains(low, surface.lower(), language):
                found.append(term)
        return sorted(found, key=lambda t: -len(t.text(language)))

    def same_category(self, term: Term) -> list[Term]:
        return [t for t in self.terms if t.category == term.category and t != term]


def _contains(haystack: str, needle: str, language: str) -> bool:
    if language == "zh" or not needle.isascii():
        return needle in haystack
    return re.search(r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])", haystack) is not None


@functools.lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    raw = yaml.safe_load(resources.files("spinemed.resources").joinpath("lexicon.yaml").read_text("utf-8"))
    unknown = set(raw["subfield_keywords"]) - set(SUBFIELDS)
    if unknown:
        raise ValueError(f"lexicon.yaml: unknown sub-fields {sorted(unknown)}")
    terms = []
    for i, t in enumerate(raw["terms"]):
        if t["subfield"] not in SUBFIELDS:
            raise ValueError(f"lexicon.yaml: term #{i} ({t['en']!r}) has unknown sub-field {t['subfield']!r}")
        terms.append(Term(en=t["en"], zh=t["zh"], category=t["category"], subfield=t["subfield"], abbr=t.get("abbr", "")))
    return Lexicon(version=str(raw["version"]), subfield_keywords=raw["subfield_keywords"], terms=tuple(terms))
