"""The de-identification detector and scrubber: every layer's candidates, one resolver.

Layers (each proposes (start, end, kind, priority) candidates; ``Deidentifier.find``
resolves overlaps, strongest rule first):

* ``cues``   labelled values, formats that are unambiguous on their own, cue-driven names;
* ``recall`` the recall-first English scan (a capitalised run not explained by English or
             clinical vocabulary is a name), facilities by suffix, unlabelled identifier-shaped
             numbers, the rarer date and age forms;
* ``zh``     Chinese names, places and facilities: jieba's POS dictionary plus surname lists;
* known values of the record being scrubbed (its name, MRN … from structured fields).
"""

from __future__ import annotations

import bisect
import datetime as _dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..text import CJK_UNIFIED
from . import recall, zh
from .cues import (
    _CJK_SCANNERS,
    _HAS_CJK,
    _NULL_VALUES,
    _P_CUE,
    _P_FORMAT,
    _P_KNOWN,
    _PLACEHOLDER_RE,
    _RULES,
    _URL_RE,
    _WORD_CHARS,
    DEFAULT_ALLOWED_URL_HOSTS,
    KINDS,
    PLACEHOLDERS,
    Finding,
    _Cand,
    _candidate_order,
    _collect_known,
    _en_context_names,
    _en_hospitals,
    _key_kind,
    _known_patterns,
    _labelled_values,
    _scrub_age,
)

__all__ = ["MODES", "Deidentifier", "deidentify", "deidentify_fields", "find_identifiers"]

MODES = ("clinical", "literature")



class Deidentifier:
    """The detector and scrubber, optionally told identifiers known in advance.

    known: kind -> values that must be scrubbed wherever they occur (the patient's name from
    the record's name field, an MRN …). Person names are also matched by their single words
    ("Smith" of "John Smith"); numbers match whatever separators they are written with.
    allowed_url_hosts: hosts (and their sub-domains) whose URLs are public references
    (DOIs, licences), not identifiers.
    mode: "clinical" (the default: patient-bearing text, recall first: a capitalised run that
    English and clinical vocabulary do not explain is a name) or "literature" (textbooks and
    guidelines: author names and citations are public and kept; cue-driven names, formats,
    labelled numbers and facilities are still removed).
    """

    def __init__(
        self,
        known: Mapping[str, Iterable[str]] | None = None,
        *,
        allowed_url_hosts: Iterable[str] = DEFAULT_ALLOWED_URL_HOSTS,
        mode: str = "clinical",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown de-identification mode {mode!r}; expected one of {MODES}")
        self.mode = mode
        self.allowed_url_hosts = tuple(h.lower().lstrip(".") for h in allowed_url_hosts)
        self.known: dict[str, tuple[str, ...]] = {}
        for kind, values in (known or {}).items():
            if kind not in PLACEHOLDERS:
                raise ValueError(f"unknown identifier kind {kind!r} in known values; expected one of {KINDS}")
            if isinstance(values, str):
                raise TypeError(f"known[{kind!r}] must be a list of strings, not a single string")
            self.known[kind] = tuple(dict.fromkeys(str(v) for v in values if v is not None))
        self._known_rules = self._compile_known()

    # ---- known values ----------------------------------------------------------------

    def _compile_known(self) -> list[tuple[str, re.Pattern, bool]]:
        """One regex per kind and case mode: (kind, regex, runs on the lower-cased text)."""
        rules = []
        for kind, values in self.known.items():
            folded: set[str] = set()
            exact: set[str] = set()
            for value in values:
                f, e = _known_patterns(kind, value)
                folded |= f
                exact |= e
            for alts, on_low in ((folded, True), (exact, False)):
                if alts:
                    body = "|".join(sorted(alts, key=len, reverse=True))
                    rules.append((kind, re.compile(body), on_low))
        return rules

    def with_known(self, known: Mapping[str, Iterable[str]]) -> Deidentifier:
        """A copy that also scrubs `known` values (merged with this instance's)."""
        merged: dict[str, list[str]] = {k: list(v) for k, v in self.known.items()}
        for kind, values in known.items():
            merged.setdefault(kind, []).extend(values)
        return Deidentifier(merged, allowed_url_hosts=self.allowed_url_hosts, mode=self.mode)

    # ---- detection -------------------------------------------------------------------

    def _url_candidates(self, low: str) -> Iterator[_Cand]:
        if "://" not in low and "www." not in low:
            return
        for m in _URL_RE.finditer(low):
            if m.start() > 0 and low[m.start() - 1] in _WORD_CHARS:
                continue
            url = m.group().rstrip(".,;:!?")
            host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
            if any(host == h or host.endswith("." + h) for h in self.allowed_url_hosts):
                continue
            yield m.start(), m.start() + len(url), "URL", _P_FORMAT

    def _candidates(self, text: str) -> Iterator[_Cand]:
        low = text.lower()
        if len(low) != len(text):  # a few characters lower-case to two ("İ"); keep offsets aligned
            low = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
        has_cjk = _HAS_CJK.search(text) is not None
        for rule in _RULES:
            if has_cjk or not rule.cjk:
                yield from rule.scan(text)
        yield from _labelled_values(text, low, has_cjk)
        yield from _en_hospitals(text, low)
        yield from _en_context_names(text, low)
        if has_cjk:
            for scanner in _CJK_SCANNERS:
                yield from scanner(text, low)
        yield from self._url_candidates(low)
        yield from recall.candidates(text, low, literature=self.mode == "literature")
        if has_cjk:
            yield from zh.candidates(text, literature=self.mode == "literature")
        for kind, regex, on_low in self._known_rules:
            for m in regex.finditer(low if on_low else text):
                yield m.start(), m.end(), kind, _P_KNOWN

    def find(self, text: str) -> list[Finding]:
        """Identifiers in `text`: sorted by start, non-overlapping, placeholders excluded."""
        if not isinstance(text, str):
            raise TypeError(f"expected the text as a str, got {type(text).__name__}")
        if not text:
            return []
        candidates = set(self._candidates(text))
        findings = self._resolve(text, candidates)
        # A name found once is that person everywhere in the text: its parts ("Janice" of
        # "Janice Hollis", "淑英" of "吴淑英") are scrubbed wherever they recur on their own.
        extra = set(_name_part_candidates(text, findings)) - candidates
        if extra:
            findings = self._resolve(text, candidates | extra)
        return findings

    def _resolve(self, text: str, candidates: set) -> list[Finding]:
        # Taken spans, sorted and disjoint; kind None marks a placeholder, never reported.
        starts: list[int] = []
        ends: list[int] = []
        kinds: list[str | None] = []
        for m in _PLACEHOLDER_RE.finditer(text):
            starts.append(m.start())
            ends.append(m.end())
            kinds.append(None)
        # Strongest rule first, then longest span: a labelled MRN beats a date-shaped piece of
        # it, an address beats the city inside it. A candidate overlapping only findings of its
        # own kind widens them ("daughter Emily Lindqvist" over the known surname "Lindqvist").
        for start, end, kind, _ in sorted(candidates, key=_candidate_order):
            lo = hi = bisect.bisect_right(starts, start)
            if lo and ends[lo - 1] > start:
                lo -= 1
            while hi < len(starts) and starts[hi] < end:
                hi += 1
            if lo < hi:
                if any(k != kind for k in kinds[lo:hi]):
                    continue
                start, end = min(start, starts[lo]), max(end, ends[hi - 1])
            starts[lo:hi] = [start]
            ends[lo:hi] = [end]
            kinds[lo:hi] = [kind]
        findings: list[Finding] = []
        for start, end, kind in zip(starts, ends, kinds, strict=True):
            if kind is None:
                continue
            prev = findings[-1] if findings else None
            if prev and kind == "NAME" == prev.kind and not text[prev.end : start].strip(" \t"):
                # Given name and surname found apart ("Mr David" + "Okafor") are one name.
                findings[-1] = Finding(kind, text[prev.start : end], prev.start, end)
            else:
                findings.append(Finding(kind, text[start:end], start, end))
        return findings

    def scrub(self, text: str) -> str:
        """`text` with every identifier replaced by its kind's placeholder.

        Replacing can expose what an overlapping, weaker rule had matched, or give a name the
        boundary it lacked; scanning again until nothing is found makes the result a fixed
        point, hence idempotent. It ends: each pass turns at least one character that is not
        a placeholder into one, and placeholders are never matched.
        """
        while True:
            findings = self.find(text)
            if not findings:
                return text
            parts, last = [], 0
            for f in findings:
                parts.append(text[last : f.start])
                parts.append(PLACEHOLDERS[f.kind])
                last = f.end
            parts.append(text[last:])
            text = "".join(parts)

    # ---- structured records ----------------------------------------------------------

    def scrub_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """De-identify a structured record (nested dicts/lists of strings and numbers).

        1. Values under identifier keys (name, 住院号, phone, address, dates …) are replaced
           wholesale by their kind's placeholder; numeric ages over 89 become "90+".
        2. Those values are also scrubbed wherever they recur in the record's free text.
        3. Every other string goes through `scrub`.
        A new dict is returned; the input is not modified.
        """
        if not isinstance(fields, Mapping):
            raise TypeError(f"deidentify_fields expects a dict, got {type(fields).__name__}")
        known: dict[str, list[str]] = {}
        _collect_known(fields, None, known, "fields")
        scrubber = self.with_known(known) if known else self
        return scrubber._scrub_value(fields, None, "fields")

    def _scrub_value(self, value: Any, kind: str | None, path: str) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                key_kind = _key_kind(key) if isinstance(key, str) else None
                out[key] = self._scrub_value(item, key_kind or (kind if kind != "AGE" else None), f"{path}.{key}")
            return out
        if isinstance(value, (list, tuple)):
            return [self._scrub_value(item, kind, f"{path}[{i}]") for i, item in enumerate(value)]
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
            return PLACEHOLDERS["DATE"] if kind in (None, "DATE") else PLACEHOLDERS[kind]
        if kind == "AGE":
            return _scrub_age(value, path, self)
        if isinstance(value, (int, float)):
            return value if kind is None else PLACEHOLDERS[kind]
        if isinstance(value, str):
            if kind is None:
                return self.scrub(value)
            keep = value.strip().lower() in _NULL_VALUES or _PLACEHOLDER_RE.fullmatch(value.strip())
            return value if keep else PLACEHOLDERS[kind]
        raise TypeError(
            f"deidentify_fields: unsupported value of type {type(value).__name__} at {path}; "
            "expected dict, list, str, int, float, bool, None or a date"
        )


_NAME_PART_RE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ɏ'’\-]{3,}")
_CJK_NAME_RE = re.compile(f"^[{CJK_UNIFIED}]{{2,4}}$")


def _name_part_candidates(text: str, findings: list[Finding]) -> Iterator[_Cand]:
    """The parts of each found name, wherever they stand alone in `text`."""
    parts: set[str] = set()
    for f in findings:
        if f.kind != "NAME":
            continue
        if _CJK_NAME_RE.match(f.text):
            parts.add(f.text)  # the full name again: "厍亮说…" after "患者厍亮，男性"
            sl = zh._starts_with_surname(f.text)
            if sl and len(f.text) - sl == 2:
                parts.add(f.text[sl:])  # the given name: "淑英" of "吴淑英"
            continue
        for word in _NAME_PART_RE.findall(f.text):
            # a name part that is an ordinary word ("Grace", "Baker" as words) is not chased
            if word[0].isupper() and recall._classify(word) not in (recall._SAFE, recall._WORD):
                parts.add(word)
            elif word.isupper() and recall._classify(word.title()) not in (recall._SAFE, recall._WORD):
                parts.add(word)
    for part in parts:
        pattern = re.escape(part)
        if part.isascii() or not _CJK_NAME_RE.match(part):
            pattern = r"(?<![\w])" + pattern + r"(?![\w])"
        else:
            pattern = r"(?<![0-9])" + pattern  # "术后1周明显好转" holds no 周明
        for m in re.finditer(pattern, text):
            if recall._CITATION_AFTER.match(text, m.end()):
                continue  # "Smith et al., 2019" cites an author, whoever else is called Smith
            yield m.start(), m.end(), "NAME", _P_CUE


_DEFAULTS = {mode: Deidentifier(mode=mode) for mode in MODES}


def find_identifiers(text: str, *, mode: str = "clinical") -> list[Finding]:
    """The identifiers in `text` (sorted by start, non-overlapping); placeholders are not reported."""
    return _DEFAULTS[mode].find(text)


def deidentify(text: str, *, mode: str = "clinical") -> str:
    """`text` with each identifier replaced by a placeholder of its kind (idempotent)."""
    return _DEFAULTS[mode].scrub(text)


def deidentify_fields(fields: dict, *, mode: str = "clinical") -> dict:
    """A de-identified copy of a structured record; see `Deidentifier.scrub_fields`."""
    return _DEFAULTS[mode].scrub_fields(fields)
