"""Inpatient records (one case per `*.json`, or `*.jsonl`) -> case records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spinemed.schema import SourceIssue, SourceRecord

from .catalog import CatalogEntry, _as_entry, _rel
from .common import DEFAULT_MAX_PARAGRAPH_CHARS, _language, _read_text, _record, _split_long


def read_inpatient(path: str | Path, entry: CatalogEntry | dict[str, Any], *,
                   max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS) -> Iterator[SourceRecord | SourceIssue]:
    """`case` records from inpatient exports: one object per `*.json` (or a list), or JSONL.

    Each case: {"case_id": ..., "record": {structured fields, in the record's own language},
    "notes": [{"type", "date", "text"}, ...]}.  fields = record fields + "notes"; text = the
    notes in order; a note paragraph longer than `max_chars` is reported and split at sentence
    ends into lines.  Identifiers are kept: the de-identification stage removes them.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    raw, read_issues = _read_text(path, entry)
    yield from read_issues
    if raw is None:
        return
    try:
        if path.suffix == ".jsonl":
            cases = [json.loads(ln) for ln in raw.splitlines() if ln.strip()]
        else:
            data = json.loads(raw)
            cases = data if isinstance(data, list) else [data]
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nesting too deep
        yield SourceIssue(rel, f"invalid JSON ({exc})")
        return
    for n, case in enumerate(cases, 1):
        where = f"case {n}"
        if not isinstance(case, dict) or not case.get("case_id"):
            yield SourceIssue(rel, f"{where}: no case_id")
            continue
        # defects name the case by position, not by its id: a case id may be an MRN, and issue
        # reasons end up in the build's work files and counts
        record = case.get("record") or {}
        notes = case.get("notes") or []
        if not isinstance(record, dict) or not isinstance(notes, list):
            yield SourceIssue(rel, f"{where}: 'record' must be an object and 'notes' a list")
            continue
        if not record and not notes:
            yield SourceIssue(rel, f"{where}: no structured fields and no notes")
            continue
        bad = [i for i, nt in enumerate(notes) if not isinstance(nt, dict) or not str(nt.get("text", "")).strip()]
        if bad:
            yield SourceIssue(rel, f"{where}: note(s) {bad} have no text")
            continue
        parts = []
        for i, nt in enumerate(notes):
            head = " ".join(str(x) for x in (nt.get("type", ""), f"({nt['date']})" if nt.get("date") else "") if x)
            body = str(nt["text"]).strip()
            if any(len(para) > max_chars for para in body.splitlines()):
                n_chars = max(len(para) for para in body.splitlines())
                body = "\n".join(piece for para in body.splitlines() for piece in _split_long(para, max_chars))
                yield SourceIssue(rel, f"{where}: over-long paragraph in note {i} ({n_chars} characters, over "
                                       f"max_paragraph_chars {max_chars}): split at sentence ends into lines")
            parts.append(f"{head}\n{body}" if head else body)
        text = "\n\n".join(parts)
        lang = case.get("language") if case.get("language") in ("en", "zh") else None
        if lang is None:
            lang = _language(entry, text + json.dumps(record, ensure_ascii=False))
        yield _record(
            entry, path, kind="case", text=text, locator=f"case {case['case_id']}", source_id=str(case["case_id"]),
            id_parts=(json.dumps(record, ensure_ascii=False, sort_keys=True), text), language=lang,
            fields={**record, "notes": notes},
        )

