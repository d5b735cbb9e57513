"""Import: filled packets in, strictly, all or nothing per call, into the audit log.

An unknown packet or item id, an unknown decision, an edited read-only cell, a fix without a
change, a correction on an accept/remove row, a corrected item that fails the corpus
validator, an identifier in corrected text, a packet imported twice (same decisions, whatever
the file name or line endings) or a second decision by the same reviewer on the same item in
the same round: each is reported by file, spreadsheet row and column, and nothing from that
call is recorded.  Rows left blank are simply not decided yet.

A file must be UTF-8 (with or without BOM) unless `encoding` names its encoding; read-only
cells must come back byte for byte (only line breaks may differ); a file that lacks rows of a
packet it holds (cut short, rows deleted) is refused, naming how many and which, unless
`allow_missing` is set: then its rows are imported and the missing ones reported (they stay
pending).  Refusing is the default because a truncated file looks exactly like a finished
one, and the import must never leave items pending without a word.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinemed import deid
from spinemed.corpus.validate import validate_row

from .packets import (
    _CONTENT,
    CORRECTABLE,
    PacketError,
    _norm,
    _normalize_correction,
    _unescape,
    apply_changes,
    field_value,
    packet_cells,
    packet_columns,
    read_only_columns,
    read_only_difference,
    read_packet_csv,
)
from .resolution import resolve
from .workspace import _REVIEWER_RE, MODES, Workspace, _now

_DECISION_ALIASES = {"accept": "accept", "accepted": "accept", "接受": "accept",
                     "fix": "fix", "fixed": "fix", "修改": "fix",
                     "remove": "remove", "removed": "remove", "删除": "remove"}
_MAX_PROBLEMS = 50
_MAX_IDS_SHOWN = 10


@dataclass
class ImportResult:
    entries: list[dict[str, Any]]
    files: list[dict[str, Any]]  # per file: name, encoding, packet ids, decided, blank, decisions, missing
    resolution: dict[str, Any]


class _Problems:
    """Collects problems as 'file row N, column C: message' (the first 50 are kept verbatim)."""

    def __init__(self):
        self.kept: list[str] = []
        self.total = 0

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.kept) < _MAX_PROBLEMS:
            where = file + (f" row {row}" if row is not None else "") + (f", column {column!r}" if column else "")
            self.kept.append(f"{where}: {message}")

    def extend(self, messages: Iterable[str]) -> None:
        for message in messages:
            self.total += 1
            if len(self.kept) < _MAX_PROBLEMS:
                self.kept.append(message)


def _packet_config(name: str, header: list[str], problems: _Problems) -> str | None:
    """The config whose packet columns `header` has exactly, or None (problems reported)."""
    config = next((c for c in ("mcq", "report") if "item_id" in header and set(_CONTENT[c]) <= set(header)), None)
    if config is None:
        problems.add(name, 1, None, "header is not a SpineBench packet header (expected the columns of an mcq or "
                                    "report packet, starting with packet_id, item_id)")
        return None
    expected = packet_columns(config)
    before = problems.total
    for c in sorted(c for c, n in Counter(header).items() if n > 1):
        problems.add(name, 1, c, "column appears twice")
    for c in expected:
        if c not in header:
            problems.add(name, 1, c, "column is missing (do not delete or rename columns)")
    for c in header:
        if c not in expected:
            problems.add(name, 1, c, "unknown column (packets have fixed columns; put remarks in 'comment')")
    return config if problems.total == before else None


def _row_decision(ws: Workspace, registry: Mapping[str, Mapping[str, Any]], config: str, name: str, rownum: int,
                  cells: Mapping[str, str], problems: _Problems, hint: str) -> dict[str, Any] | None:
    """The decision one filled row records, or None (blank row, or problems reported)."""
    packet = registry.get(cells["packet_id"].strip())
    if packet is None:
        problems.add(name, rownum, "packet_id", f"unknown packet id {cells['packet_id']!r} (not exported from {ws.path})")
        return None
    if packet["config"] != config:
        problems.add(name, rownum, "packet_id", f"packet {packet['packet_id']} is a {packet['config']} packet, "
                                                f"this file has {config} columns")
        return None
    item_id = cells["item_id"].strip()
    if item_id not in packet["items"]:
        known = "another packet" if item_id in ws.candidate_ids() else "no packet"
        problems.add(name, rownum, "item_id", f"unknown item id {item_id!r} for packet {packet['packet_id']} "
                                              f"(it belongs to {known})")
        return None
    row = ws.candidate_rows([item_id])[item_id]
    original = packet_cells(row, config, packet["packet_id"])
    edited = False
    for c in read_only_columns(config):
        difference = read_only_difference(original[c], cells[c])
        if difference is not None:
            edited = True
            advice = f"; put the correction in 'corrected_{c}'" if c in CORRECTABLE[config] else ""
            problems.add(name, rownum, c, f"read-only cell was edited ({difference}){advice}{hint}")
    if edited:
        return None
    decision_raw, reviewer = cells["decision"].strip(), cells["reviewer_id"].strip()
    comment = _norm(cells["comment"])
    corrected = {f: _norm(cells[f"corrected_{f}"]) for f in CORRECTABLE[config] if _norm(cells[f"corrected_{f}"])}
    if not decision_raw:
        filled = [x for x, v in (("a reviewer_id", reviewer), ("a comment", comment), ("corrections", corrected)) if v]
        if filled:
            problems.add(name, rownum, "decision", f"is empty but the row has {', '.join(filled)}; fill in the "
                                                   "decision (accept, fix or remove) so it is not lost")
        return None
    decision = _DECISION_ALIASES.get(decision_raw.casefold())
    if decision is None:
        problems.add(name, rownum, "decision", f"unknown decision {decision_raw!r}; use accept, fix or remove")
        return None
    if not reviewer:
        problems.add(name, rownum, "reviewer_id", "is empty; every decision needs the reviewer's code")
        return None
    if not _REVIEWER_RE.match(reviewer):
        problems.add(name, rownum, "reviewer_id", f"{reviewer!r} is not a reviewer code (letters, digits, . _ -, "
                                                  "at most 64; pseudonymous codes such as R07, not names)")
        return None
    if decision == "remove" and not comment:
        problems.add(name, rownum, "comment", "is required when the decision is remove (say why)")
        return None
    if decision != "fix" and corrected:
        problems.add(name, rownum, f"corrected_{next(iter(corrected))}",
                     f"corrections are only allowed with decision fix (this row says {decision})")
        return None
    changes = _row_changes(row, config, corrected, name, rownum, problems) if decision == "fix" else []
    if changes is None:
        return None
    return {"event": "decision", "mode": None, "round": packet["round"], "packet_id": packet["packet_id"],
            "group": packet["group"], "config": config, "file": name, "row": rownum, "item_id": item_id,
            "reviewer": reviewer, "decision": decision, "changes": changes, "comment": comment}


def _row_changes(row: Mapping[str, Any], config: str, corrected: Mapping[str, str], name: str, rownum: int,
                 problems: _Problems) -> list[dict[str, str]] | None:
    """[{field, before, after}] of a fix row, or None when a correction is unusable (reported)."""
    before_total = problems.total
    values, changes = {}, []
    for f, value in corrected.items():
        try:
            value = _normalize_correction(config, f, value)
        except ValueError as exc:
            problems.add(name, rownum, f"corrected_{f}", str(exc))
            continue
        for finding in deid.find_identifiers(value):
            problems.add(name, rownum, f"corrected_{f}", f"contains a possible identifier ({finding.kind}: "
                                                         f"{finding.text!r}); remove it")
        before = field_value(row, config, f)
        if value != before:
            values[f] = value
            changes.append({"field": f, "before": before, "after": value})
    if problems.total != before_total:
        return None
    if not changes:
        problems.add(name, rownum, "decision", "is fix but no corrected_* cell changes anything")
        return None
    issues = validate_row(apply_changes(row, config, values))
    if issues:
        problems.add(name, rownum, ", ".join(f"corrected_{c['field']}" for c in changes),
                     "the corrected item is invalid: " + "; ".join(issues))
        return None
    return changes


def import_packets(
    work: str | os.PathLike,
    files: Sequence[str | os.PathLike],
    *,
    mode: str = "clinician",
    corpus: str | os.PathLike | None = None,
    now: str | None = None,
    encoding: str | None = None,
    allow_missing: bool = False,
) -> ImportResult:
    """Validate filled packets and record their decisions in the audit log (all or nothing).

    `mode` records who decided: "clinician" (real reviewers; the CLI always uses it) or
    "simulated" (the demo's scripted reviewers); the release card states it.  `encoding`: the
    encoding of files that are not UTF-8 (else they are refused).  `allow_missing`: import a
    file that lacks rows of its packet (reported per file in ``missing``) instead of refusing it.
    Raises PacketError listing every problem (file, row, column) when anything is wrong.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r} (e.g. cp1252, gb18030, utf-16)") from None
    if not files:
        raise ValueError("no packet files given")
    ws = Workspace(work, corpus=corpus)
    registry = ws.packets()
    if not registry:
        raise ValueError(f"{ws.path}: no packets were exported yet (run `spinemed bench export`)")
    ws.candidate_rows()  # load (and check the corpus) once, not per row
    existing = ws.audit_entries()
    seen_hashes = {e["file_sha256"]: e for e in existing}
    seen_decisions = {(e["round"], e["item_id"], e["reviewer"]): e for e in existing}
    problems = _Problems()
    new_entries: list[dict[str, Any]] = []
    file_reports = []
    batch_hashes: dict[str, str] = {}
    stamp = now or _now()
    for file in files:
        path = Path(file)
        name = path.name
        if not path.is_file():
            problems.add(name, None, None, f"file not found ({path})")
            continue
        try:
            header, rows, read_as = read_packet_csv(path, encoding=encoding)
        except PacketError as exc:
            problems.extend(exc.problems)
            continue
        config = _packet_config(name, header, problems)
        if config is None:
            continue
        hint = (f" (the file is not UTF-8 and was read as {read_as}, as --encoding said; if that is not its "
                "encoding, save it as 'CSV UTF-8')") if read_as != "utf-8" else ""
        before = problems.total
        decided: list[dict[str, Any]] = []
        blank = 0
        row_keys: dict[tuple[str, str], int] = {}
        present: dict[str, set[str]] = {}  # packet id -> item ids with a row in this file
        for rownum, raw_cells in rows:
            if not any(c.strip() for c in raw_cells):
                continue  # spreadsheets add empty trailing rows
            if len(raw_cells) != len(header):
                problems.add(name, rownum, None, f"has {len(raw_cells)} cells, the header has {len(header)} "
                                                 "(a cell with an unquoted separator or line break?)")
                continue
            cells = {h: _unescape(v) for h, v in zip(header, raw_cells)}
            if cells["packet_id"].strip() in registry:
                present.setdefault(cells["packet_id"].strip(), set()).add(cells["item_id"].strip())
            entry = _row_decision(ws, registry, config, name, rownum, cells, problems, hint)
            if entry is None:
                blank += not cells["decision"].strip() and not cells["reviewer_id"].strip()
                continue
            key = (entry["item_id"], entry["reviewer"])
            if key in row_keys:
                problems.add(name, rownum, "item_id", f"reviewer {entry['reviewer']} decided this item already "
                                                      f"in row {row_keys[key]}")
                continue
            row_keys[key] = rownum
            decided.append({**entry, "at": stamp, "mode": mode})
        missing = _missing_rows(registry, present)
        if missing and not allow_missing:
            for packet_id, ids in missing.items():
                n = len(registry[packet_id]["items"])
                problems.add(name, None, None, f"{len(ids)} of the {n} rows of packet {packet_id} are missing "
                                               f"({_show_ids(ids)}): the file was cut short or rows were deleted. Send "
                                               "the whole packet (leave rows not reviewed yet blank), or import with "
                                               "--allow-missing-rows to record the rows it has and leave these pending")
        if problems.total != before:
            continue
        if not decided:
            problems.add(name, None, None, "no decisions in this file (is it the blank packet?)")
            continue
        digest = _decisions_digest(decided)
        earlier = seen_hashes.get(digest)
        if earlier is not None:
            problems.add(name, None, None, f"this packet was already imported (from {earlier['file']!r} at "
                                           f"{earlier['at']}); nothing new in it")
            continue
        if digest in batch_hashes:
            problems.add(name, None, None, f"same decisions as {batch_hashes[digest]!r} in this import")
            continue
        batch_hashes[digest] = name
        clashes = [(e, seen_decisions[(e["round"], e["item_id"], e["reviewer"])]) for e in decided
                   if (e["round"], e["item_id"], e["reviewer"]) in seen_decisions]
        for entry, prior in clashes:
            when = " (this import)" if prior.get("_batch") else f", imported {prior['at']}"
            where = f"{prior['file']!r} row {prior['row']}{when}"
            problems.add(name, entry["row"], "reviewer_id",
                         f"reviewer {entry['reviewer']} already decided item {entry['item_id']} in round "
                         f"{entry['round']} ({where}); to change a decision, re-review it in a new round (export --items)")
        if clashes:
            continue
        for entry in decided:
            entry["file_sha256"] = digest
            seen_decisions[(entry["round"], entry["item_id"], entry["reviewer"])] = {**entry, "_batch": True}
        new_entries.extend(decided)
        file_reports.append({"file": name, "encoding": read_as, "packets": sorted({e["packet_id"] for e in decided}),
                             "decided": len(decided), "blank": blank,
                             "decisions": dict(Counter(e["decision"] for e in decided)), "missing": missing})
    if problems.total:
        raise PacketError(problems.kept, problems.total)
    for seq, entry in enumerate(new_entries, len(existing) + 1):
        entry["seq"] = seq
    ws._append_audit(new_entries)
    return ImportResult(new_entries, file_reports, resolve(ws))


def _missing_rows(registry: Mapping[str, Mapping[str, Any]], present: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """packet id -> exported item ids without a row in the file, for every packet the file holds rows of."""
    missing = {}
    for packet_id, ids in sorted(present.items()):
        lost = [i for i in registry[packet_id]["items"] if i not in ids]
        if lost:
            missing[packet_id] = lost
    return missing


def _show_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS_SHOWN])
    return shown + (f" and {len(ids) - _MAX_IDS_SHOWN} more" if len(ids) > _MAX_IDS_SHOWN else "")


def _decisions_digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """Hash of what a filled packet decides, independent of file name, encoding and line endings."""
    canon = sorted(
        json.dumps([e["packet_id"], e["item_id"], e["reviewer"], e["decision"],
                    [[c["field"], c["after"]] for c in e["changes"]], e["comment"]], ensure_ascii=False)
        for e in entries)
    return hashlib.sha256("\n".join(canon).encode("utf-8")).hexdigest()

