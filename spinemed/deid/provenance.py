"""Provenance without identifiers, and the de-identification stamp every LLM request is checked for.

Opaque ids
    File names and case ids can carry a patient's name or number ("inpatient/whitaker_d.json",
    case "MRN-00482913", imaging subject "sub-zhang-wei").  The build replaces them in every
    published field (``provenance.source_file``, ``source_id``, ``locator``, image file names,
    the manifest, the summary) with stable opaque ids: ``opaque_id(value, kind)`` is
    ``<kind>-`` + the first 12 hex digits of sha256(value), or of HMAC-SHA256(secret, value)
    when a secret is set (``SPINEMED_PROVENANCE_SECRET``).  The same value gives the same id in
    every rebuild (with the same secret), so ids stay usable for dedup, decontamination and
    comparing releases.  Public literature ids (DOI, PMCID, PMID, ISBN, arXiv) are kept
    (``is_public_id``).  Without a secret a short case id (an MRN-like number) can be found
    again by hashing every candidate: set a secret for real records and keep it with the
    private mapping.

    The mapping opaque id -> real value is written only to ``OUT.work/provenance_map.jsonl``
    (``ProvenanceIds.drain``), a private file that is never published.

The stamp
    After de-identification the build stamps each record (``stamp_record``): a hash over every
    text-bearing field of the record and ``spinemed.deid.DEID_VERSION``.  The code that turns a
    record into a chat request calls ``verify_record`` first, which raises
    ``UnscrubbedRecordError`` when the record was never stamped (never scrubbed) or was changed
    after it was stamped.  So no text reaches an LLM endpoint that did not go through the
    scrubber in its current version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from . import cues

__all__ = [
    "ID_KINDS",
    "ProvenanceIds",
    "UnscrubbedRecordError",
    "deidentify_provenance",
    "is_opaque_id",
    "is_public_id",
    "opaque_id",
    "record_digest",
    "stamp_record",
    "verify_record",
]

# kind -> prefix of the opaque id
ID_KINDS = {"src": "src", "case": "case", "subject": "subj"}
_OPAQUE_RE = re.compile(r"\b(?:src|case|subj)-[0-9a-f]{12}\b")

# Source types whose per-record source_id is a patient's case id (not a publication).
CASE_ID_SOURCE_TYPES = frozenset({"inpatient"})
# Ids shorter than this are replaced in locators and structured fields only, never in free
# text (a case id "7" must not rewrite every "7" of a note).
_MIN_TEXT_REPLACE = 4

_PUBLIC_ID_RES = (
    # DOI, bare or as doi: / https://doi.org/ ...
    re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+$", re.I),
    re.compile(r"^PMC\d{1,10}$", re.I),  # PubMed Central
    re.compile(r"^PMID:?\s*\d{1,9}$", re.I),  # PubMed (the prefix is required: a bare number may be an MRN)
    re.compile(r"^arXiv:\d{4}\.\d{4,5}(?:v\d+)?$", re.I),
)
_ISBN_RE = re.compile(r"^ISBN(?:-1[03])?:?\s*(\d[\d -]{7,15}[\dX])$", re.I)


class UnscrubbedRecordError(RuntimeError):
    """A record was about to be sent to an LLM endpoint without a valid de-identification stamp.

    Deliberately not an `LLMError`: the build treats it as a bug and stops, it never
    quarantines the item and goes on."""


def is_public_id(value: str) -> bool:
    """True for public literature ids that may be published as they are: DOI, PMCID, PMID
    (with its prefix), ISBN (with its prefix), arXiv."""
    value = str(value or "").strip()
    if not value:
        return False
    m = _ISBN_RE.match(value)  # with its prefix: a bare digit string is not trusted to be an ISBN
    if m:
        return len(re.sub(r"[- ]", "", m.group(1))) in (10, 13)
    return any(r.match(value) for r in _PUBLIC_ID_RES)


def is_opaque_id(value: str) -> bool:
    return bool(_OPAQUE_RE.fullmatch(str(value or "")))


def _normalise(value: str, kind: str) -> str:
    value = str(value).strip()
    if kind == "src":  # a relative path: one spelling per file
        value = value.replace("\\", "/")
        while value.startswith("./"):
            value = value[2:]
    return value


def opaque_id(value: str, kind: str = "src", secret: str | bytes | None = None) -> str:
    """`<prefix>-<12 hex>`: a stable id for a file path relative to the sources root
    (kind "src"), an inpatient case id ("case") or an imaging subject ("subject").

    Unkeyed (sha256 of the value) by default; with `secret`, HMAC-SHA256 so ids cannot be
    recomputed from guessed case numbers."""
    if kind not in ID_KINDS:
        raise ValueError(f"opaque_id: kind must be one of {sorted(ID_KINDS)}, got {kind!r}")
    data = _normalise(value, kind).encode("utf-8")
    if secret:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(data).hexdigest()
    return f"{ID_KINDS[kind]}-{digest[:12]}"


class ProvenanceIds:
    """`opaque_id` with a memory of what it mapped, for the private provenance map.

    `drain()` returns the mapping entries added since the last call ({"id", "kind", "value"}),
    so a build can append them to ``OUT.work/provenance_map.jsonl`` window by window.  Two
    different values that map to one id (a 48-bit collision) raise ValueError rather than
    silently merging two sources."""

    def __init__(self, secret: str | bytes | None = None):
        self.secret = secret or None
        self._seen: dict[str, tuple[str, str]] = {}
        self._new: list[dict[str, str]] = []

    @property
    def keyed(self) -> bool:
        return self.secret is not None

    def opaque(self, value: str, kind: str = "src") -> str:
        oid = opaque_id(value, kind, self.secret)
        norm = _normalise(value, kind)
        prev = self._seen.get(oid)
        if prev is None:
            self._seen[oid] = (kind, norm)
            self._new.append({"id": oid, "kind": kind, "value": norm})
        elif prev != (kind, norm):
            raise ValueError(f"opaque id collision: {oid} names two different {kind} values; "
                             "set another SPINEMED_PROVENANCE_SECRET")
        return oid

    def drain(self) -> list[dict[str, str]]:
        out, self._new = self._new, []
        return out

    def __len__(self) -> int:
        return len(self._seen)


def _replace_all(obj: Any, pattern: re.Pattern, table: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return pattern.sub(lambda m: table[m.group(0)], obj)
    if isinstance(obj, dict):
        return {k: _replace_all(v, pattern, table) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_all(v, pattern, table) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_replace_all(v, pattern, table) for v in obj)
    return obj


def _pattern(values) -> re.Pattern | None:
    values = sorted({v for v in values if v}, key=len, reverse=True)
    if not values:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(v) for v in values) + r")(?![A-Za-z0-9])")


def deidentify_provenance(rec, ids: ProvenanceIds):
    """Replace a record's file name, case id and imaging subject with opaque ids, in place.

    - `source_file` (path relative to the sources root) -> ``src-…``;
    - inpatient `source_id` (the case id) -> ``case-…`` unless it is a public id;
    - a volume's `fields["subject"]` -> ``subj-…``;
    and every occurrence of those values (and of the record's image paths) in the locator,
    the structured fields, the text, captions, labels and descriptions is replaced too.  Run it
    before the text scrubber.  `record_id` is left alone: it is a hash of the record's content,
    computed by the adapter, and stays stable across rebuilds whatever the secret.
    """
    table: dict[str, str] = {}
    if rec.source_file and not is_opaque_id(rec.source_file):
        table[rec.source_file] = ids.opaque(rec.source_file, "src")
        rec.source_file = table[rec.source_file]
    if rec.source_type in CASE_ID_SOURCE_TYPES and rec.source_id and not is_public_id(rec.source_id) \
            and not is_opaque_id(rec.source_id):
        table[rec.source_id] = ids.opaque(rec.source_id, "case")
        rec.source_id = table[rec.source_id]
    subject = rec.fields.get("subject") if rec.kind == "volume" else None
    if isinstance(subject, str) and subject and not is_public_id(subject) and not is_opaque_id(subject):
        table[subject] = ids.opaque(subject, "subject")
    for img in rec.images:
        if img.path and not is_opaque_id(img.path):
            table.setdefault(img.path, ids.opaque(img.path, "src"))
    if not table:
        return rec
    everywhere = _pattern(table)
    rec.locator = _replace_all(rec.locator, everywhere, table)
    rec.fields = _replace_all(rec.fields, everywhere, table)
    for img in rec.images:
        img.label = _replace_all(img.label, everywhere, table)
    in_text = _pattern(v for v in table if len(v) >= _MIN_TEXT_REPLACE)
    if in_text is not None:
        rec.text = _replace_all(rec.text, in_text, table)
        rec.title = _replace_all(rec.title, in_text, table)
        rec.context = _replace_all(list(rec.context), in_text, table)
        for img in rec.images:
            img.caption = _replace_all(img.caption, in_text, table)
            img.description = _replace_all(img.description, in_text, table)
    return rec


# --------------------------------------------------------------------------------------
# The de-identification stamp
# --------------------------------------------------------------------------------------


def _deid_version() -> str:
    return str(cues.DEID_VERSION)  # read per call: the stamp must follow the rules' version


def record_digest(rec) -> str:
    """sha256 over every field of a record that can reach a prompt (and its images' bytes)."""
    payload = {
        "deid_version": _deid_version(),
        "record_id": rec.record_id, "source_type": rec.source_type, "source_id": rec.source_id,
        "kind": rec.kind, "language": rec.language, "text": rec.text, "title": rec.title,
        "locator": rec.locator, "source_file": rec.source_file, "fields": rec.fields,
        "context": list(rec.context),
        "images": [{"path": i.path, "label": i.label, "caption": i.caption, "description": i.description,
                    "data": hashlib.sha256(i.data).hexdigest() if i.data is not None else None} for i in rec.images],
    }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def stamp_record(rec) -> str:
    """Mark a record as de-identified in its current state; returns the stamp
    (``deid-<DEID_VERSION>:<32 hex>``), also stored as ``rec.deid_stamp``."""
    stamp = f"deid-{_deid_version()}:{record_digest(rec)[:32]}"
    rec.deid_stamp = stamp
    return stamp


def verify_record(rec) -> str:
    """The record's stamp, after checking it still matches the record; raises
    `UnscrubbedRecordError` naming the record when it does not."""
    stamp = getattr(rec, "deid_stamp", "") or ""
    what = f"record {getattr(rec, 'record_id', '?')} ({getattr(rec, 'source_type', '?')}/{getattr(rec, 'kind', '?')})"
    if not stamp:
        raise UnscrubbedRecordError(
            f"{what} has no de-identification stamp: it did not go through the de-identification stage "
            "(spinemed.corpus.deidentify: deidentify_provenance + deidentify_record + stamp_record), so it may "
            "not be sent to an LLM endpoint")
    expected = f"deid-{_deid_version()}:{record_digest(rec)[:32]}"
    if stamp != expected:
        raise UnscrubbedRecordError(
            f"{what} changed after de-identification (or was scrubbed by another de-identification "
            f"version: stamp {stamp.split(':', 1)[0]}, current deid-{_deid_version()}); it may not be sent "
            "to an LLM endpoint until it is scrubbed and stamped again")
    return stamp
