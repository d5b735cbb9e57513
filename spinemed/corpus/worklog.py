"""The build's work files and accounting: the quarantine writer every step reports to.

`WorkLog` writes the JSONL side files of a build (quarantine, duplicates, source issues) and
the private provenance map, and keeps the accounting counters the summary checks (every input
record published, quarantined with a reason, or removed as a duplicate).  Work files hold
opaque ids and scrubbed text only: free text goes through `scrub_text` before it is written.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .. import deid
from ..deid.provenance import ProvenanceIds
from ..schema import SourceIssue, SourceRecord
from .sources import CATALOG_FILE

PROVENANCE_MAP = "provenance_map.jsonl"
# Keys of work-file entries that hold ids, enums and numbers (never free text): left as they are.
_ID_KEYS = {"level", "stage", "record_id", "item_id", "source_file", "kind", "task", "language", "status",
            "duplicate_of", "similarity"}


class WorkLog:
    """JSONL side files of the build (quarantine, duplicates, source issues), and the private
    provenance map (opaque id -> real file name / case id), the one work file that holds real
    names: it is created readable by its owner only and is never published.

    It is the `step.Quarantine` of the build: `counts` holds the accounting of what left it."""

    def __init__(self, work_dir: Path, ids: ProvenanceIds | None = None, sources_root: Path | None = None,
                 progress=None):
        work_dir.mkdir(parents=True, exist_ok=True)
        self.ids = ids if ids is not None else ProvenanceIds()
        self.roots = _root_spellings(sources_root)
        self.progress = progress or (lambda _msg: None)
        self.counts: defaultdict[str, Counter] = defaultdict(Counter)
        self.files = {name: open(work_dir / f"{name}.jsonl", "w", encoding="utf-8")
                      for name in ("quarantine", "duplicates", "source_issues")}
        map_path = work_dir / PROVENANCE_MAP
        fd = os.open(map_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(map_path, 0o600)  # also when the file existed with wider permissions
        self.files["provenance_map"] = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, name: str, entry: dict, scrubbed: bool = False) -> None:
        """One JSONL entry; its free-text values go through `_scrub_value` unless the caller
        already scrubbed them (`scrubbed=True`)."""
        if name != "provenance_map" and not scrubbed:
            entry = {k: v if k in _ID_KEYS else _scrub_value(v, self.ids, self.roots) for k, v in entry.items()}
        self.files[name].write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def flush_ids(self) -> None:
        """Append the opaque ids made since the last call to the private provenance map."""
        for entry in self.ids.drain():
            self.write("provenance_map", entry)

    def close(self) -> None:
        self.flush_ids()
        for f in self.files.values():
            f.close()

    # -------------------------------------------------------------- step.Quarantine

    def record(self, rec: SourceRecord, stage: str, reason: str) -> None:
        reason = scrub_text(reason, self.ids, self.roots)  # exception texts may quote paths
        self.counts["record_outcome"]["quarantined"] += 1
        self.counts["record_quarantine"][f"{stage}: {reason_key(reason)}"] += 1
        self.write("quarantine", {"level": "record", "stage": stage, "record_id": rec.record_id,
                                  "source_file": rec.source_file, "kind": rec.kind, "reason": reason}, scrubbed=True)

    def duplicate(self, rec: SourceRecord, result) -> None:
        self.counts["duplicates"][result.status] += 1
        self.counts["record_outcome"]["duplicate"] += 1
        self.write("duplicates", {"record_id": rec.record_id, "status": result.status, "duplicate_of": result.duplicate_of,
                                  "similarity": round(float(result.similarity), 4), "source_file": rec.source_file})

    def item(self, rec: SourceRecord, outcome) -> None:
        self.counts["items"]["quarantined"] += 1
        self.counts["item_quarantine"][reason_key(outcome.reason)] += 1
        self.write("quarantine", {"level": "item", "stage": outcome.stage, "item_id": outcome.job.item_id,
                                  "record_id": rec.record_id, "source_file": rec.source_file,
                                  "task": outcome.job.task, "language": outcome.job.language,
                                  "reason": outcome.reason, **outcome.detail})

    def no_item_published(self, rec: SourceRecord) -> None:
        self.counts["record_outcome"]["quarantined"] += 1
        self.counts["record_quarantine"]["all planned items quarantined"] += 1

    def source_issue(self, issue: SourceIssue) -> None:
        # the console names the real file (for the person fixing it); the work file and the
        # counts (card, manifest) get its opaque id and the scrubbed reason
        reason = scrub_text(issue.reason, self.ids, self.roots)
        self.counts["source_issues"][reason_key(reason)] += 1
        where = issue.source_file if issue.source_file == CATALOG_FILE else self.ids.opaque(issue.source_file, "src")
        self.write("source_issues", {"source_file": where, "reason": reason,
                                     "stage": issue.stage, "record_id": issue.record_id}, scrubbed=True)
        self.progress(f"  source defect: {issue.source_file}: {issue.reason}")


_ABS_PATH = re.compile(r"(?:(?<![\w.])/|~/|\b[A-Za-z]:\\)[^\s'\"]+")
_REL_PATH = re.compile(r"[^\s'\"():,;]+/[^\s'\"():,;]+\.[A-Za-z0-9]{1,5}\b")
# Format names in fixed reason texts ("malformed JATS XML"): the name scrubber would read two
# capitalised words as a person's name, so they are kept and only the text around them is scrubbed.
_FORMAT_NAMES = r"\b(?:JATS|XML|PDF|PDFium|DICOM|CSV|TSV|JSON|JSONL|YAML|NIfTI|PNG|JPEG|TIFF|HTML|OCR|UTF-8)\b"
_KEEP_OR_PATH = re.compile(r"\b(?:src|case|subj)-[0-9a-f]{12}\b|" + _REL_PATH.pattern + "|" + _FORMAT_NAMES)
_KEEP = re.compile(_FORMAT_NAMES)
_OPAQUE = re.compile(r"\b(?:src|case|subj)-[0-9a-f]{12}\b")


def _root_spellings(root: Path | None) -> list[str]:
    if root is None:
        return []
    spellings = {str(root), str(Path(root).absolute()), str(Path(root).resolve())}
    return sorted((s.rstrip("/") + "/" for s in spellings if s not in ("", ".")), key=len, reverse=True)


def scrub_text(text: str, ids: ProvenanceIds, roots: list[str]) -> str:
    """Free text for a work file: paths under the sources root become opaque ids, other
    absolute paths `<path>`, and the rest goes through the de-identification scrubber."""
    for root in roots:
        text = text.replace(root, "")
    out, pos = [], 0
    for m in _KEEP_OR_PATH.finditer(text):
        out.append(deid.deidentify(text[pos:m.start()]) if m.start() > pos else "")
        token = m.group(0)
        if _OPAQUE.fullmatch(token) or _KEEP.fullmatch(token):
            out.append(token)  # already opaque (a reason written from opaque ids), or a format name
        else:
            out.append("<path>" if _ABS_PATH.match(token) else ids.opaque(token, "src"))
        pos = m.end()
    tail = text[pos:]
    out.append(deid.deidentify(_ABS_PATH.sub("<path>", tail)) if tail else "")
    return "".join(out)


def _scrub_value(value: Any, ids: ProvenanceIds, roots: list[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, ids, roots) if value.strip() else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, ids, roots) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(v, ids, roots) for v in value]
    return value


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")
_PATHLIKE = re.compile(r"\S+/\S+\.[A-Za-z0-9]{1,5}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def reason_key(reason: str) -> str:
    """The reason with record-specific detail (quoted names, file paths, numbers) masked, so
    counts group like reasons together; the full text stays in the JSONL side files."""
    key = _OPAQUE.sub("<id>", reason)
    key = _QUOTED.sub("'…'", key)
    key = _PATHLIKE.sub("<file>", key)
    key = _NUMBER.sub("N", key)
    return re.sub(r"\s+", " ", key).strip()
