"""Clinician verification round-trip: review packets out, filled packets in, audit log, resolution.

A review *workspace* (``WORK``) holds the whole state, so the round-trip can run over weeks::

    WORK/sample.json                 candidates drawn by `spinemed bench sample`
    WORK/review/exports.json         every packet exported: round, group, config, item ids
    WORK/review/audit.jsonl          every decision ever imported (append-only: the source of truth)
    WORK/packets/round-N/            what reviewers receive: {group}-{config}.csv, images/, README.txt

Packets are CSV files in UTF-8 with a byte-order mark (Excel then opens Chinese text
correctly; LibreOffice and Numbers do too), one per reviewer group and config.  Each row is
one item: read-only columns (ids, metadata, the item's content, its images as paths relative
to the packet) and the reviewer's columns ``reviewer_id``, ``decision`` (accept / fix /
remove; 接受 / 修改 / 删除 also work), ``corrected_<field>`` (the new value of a field, blank
= unchanged) and ``comment`` (required for remove).  Cells starting with = + - @ are written
with a leading apostrophe so spreadsheets do not run them as formulas; import removes it.

Import is all-or-nothing per call and strict: an unknown packet or item id, an unknown
decision, an edited read-only cell, a fix without a change, a correction on an accept/remove
row, a corrected item that fails the corpus validator, an identifier in corrected text, a
packet imported twice (same decisions, whatever the file name or line endings) or a second
decision by the same reviewer on the same item in the same round: each is reported by file,
spreadsheet row and column, and nothing from that call is recorded.  Rows left blank are
simply not decided yet.

Resolution (per item, over the decisions of the latest round that has any; earlier rounds
stay in the log as superseded): any *remove* removes the item (a benchmark keeps only items
every reviewer would keep); otherwise any *fix* applies the union of the corrections, and two
different corrections of one field are a *conflict* that blocks the build until a later round
(``export --redo conflicts``) decides the item again; otherwise the item is accepted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinemed import deid
from spinemed.corpus.generate import render_messages
from spinemed.corpus.validate import row_text, validate_row
from spinemed.levels import parse_levels
from spinemed.schema import REPORT_PARTS, SUBFIELDS, bench_kind, subfield_group

from .agreement import decision_agreement
from .folders import folder_manifest, read_folder_rows

DECISIONS = ("accept", "fix", "remove")
_DECISION_ALIASES = {"accept": "accept", "accepted": "accept", "接受": "accept",
                     "fix": "fix", "fixed": "fix", "修改": "fix",
                     "remove": "remove", "removed": "remove", "删除": "remove"}
MODES = ("clinician", "simulated")
EXPORTS_FORMAT = "spinebench-exports/1"
OPTION_LABELS = "ABCDE"
_ID_COLUMNS = ["packet_id", "item_id", "kind", "language", "subfield", "source", "images"]
_CONTENT = {
    "mcq": ["question", *(f"option_{x}" for x in OPTION_LABELS), "answer", "explanation"],
    "report": ["case", *REPORT_PARTS],
}
CORRECTABLE = {config: [*fields, "subfield"] for config, fields in _CONTENT.items()}
_REVIEWER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^\s*[\d.,/:%-][\d.,/:%\s-]*$")  # numbers, fractions, dates, times, percentages
_MAX_PROBLEMS = 50


def packet_columns(config: str) -> list[str]:
    """The columns of a `config` packet, in order."""
    return [*_ID_COLUMNS, *_CONTENT[config], "reviewer_id", "decision",
            *(f"corrected_{f}" for f in CORRECTABLE[config]), "comment"]


def read_only_columns(config: str) -> list[str]:
    return [*_ID_COLUMNS, *_CONTENT[config]]


class PacketError(ValueError):
    """A filled packet was refused; `problems` lists every problem as 'file row N, column C: ...'."""

    def __init__(self, problems: Sequence[str], total: int | None = None):
        self.problems = list(problems)
        total = len(self.problems) if total is None else total
        more = f"\n  ... and {total - len(self.problems)} more" if total > len(self.problems) else ""
        super().__init__(f"{total} problem(s) in the filled packet(s); nothing was imported:\n  "
                         + "\n  ".join(self.problems) + more)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------
# Workspace
# --------------------------------------------------------------------------------------


class Workspace:
    """The review state of one SpineBench build (see the module docstring for the layout)."""

    def __init__(self, path: str | os.PathLike, *, corpus: str | os.PathLike | None = None):
        self.path = Path(path)
        self._corpus_override = Path(corpus) if corpus else None
        self._rows: dict[str, dict[str, Any]] = {}

    # -- files ----------------------------------------------------------------------

    @property
    def sample_file(self) -> Path:
        return self.path / "sample.json"

    @property
    def exports_file(self) -> Path:
        return self.path / "review" / "exports.json"

    @property
    def audit_file(self) -> Path:
        return self.path / "review" / "audit.jsonl"

    @property
    def packets_dir(self) -> Path:
        return self.path / "packets"

    def write_sample(self, sample: Mapping[str, Any]) -> Path:
        if self.exports_file.is_file():
            raise ValueError(f"{self.path}: packets were already exported from its sample; "
                             "use a new --work folder for a new sample (the audit log refers to these items)")
        _write_json_atomic(self.sample_file, sample)
        return self.sample_file

    def sample(self) -> dict[str, Any]:
        if not self.sample_file.is_file():
            raise FileNotFoundError(f"{self.sample_file} not found: run `spinemed bench sample --work {self.path}` first")
        return json.loads(self.sample_file.read_text(encoding="utf-8"))

    def exports(self) -> dict[str, Any]:
        if not self.exports_file.is_file():
            return {"format": EXPORTS_FORMAT, "rounds": []}
        return json.loads(self.exports_file.read_text(encoding="utf-8"))

    def packets(self) -> dict[str, dict[str, Any]]:
        return {p["packet_id"]: p for r in self.exports()["rounds"] for p in r["packets"]}

    def audit_entries(self) -> list[dict[str, Any]]:
        if not self.audit_file.is_file():
            return []
        entries = []
        for lineno, line in enumerate(self.audit_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.audit_file}:{lineno}: corrupt audit entry ({exc}); "
                                 "restore it from backup") from None
        return entries

    def _append_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Append entries atomically: the new log is written beside the old one and swapped in,
        so a crash leaves either all of this import's decisions or none."""
        old = self.audit_file.read_text(encoding="utf-8") if self.audit_file.is_file() else ""
        new = old + "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
        tmp = self.audit_file.with_name(f".{self.audit_file.name}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.audit_file)

    # -- candidates -----------------------------------------------------------------

    @property
    def corpus_dir(self) -> Path:
        if self._corpus_override:
            return self._corpus_override
        sample = self.sample()
        path = sample.get("corpus_path") or sample["corpus"].get("path")  # "path": workspaces before 1.0.1
        if not path:
            raise ValueError(f"{self.sample_file} does not say where the corpus is; pass --corpus")
        return Path(path)

    def candidate_ids(self) -> dict[str, str]:
        """item id -> config, in sample order."""
        return {i: config for config, ids in self.sample()["candidates"].items() for i in ids}

    def candidate_rows(self, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Full corpus rows (images as bytes) of candidates; the corpus must be the one sampled."""
        wanted = list(self.candidate_ids() if ids is None else ids)
        missing = [i for i in wanted if i not in self._rows]
        if missing:
            sample = self.sample()
            manifest = folder_manifest(self.corpus_dir)
            if manifest["content_hash"] != sample["corpus"]["content_hash"]:
                raise ValueError(
                    f"corpus {str(self.corpus_dir)!r} has content {manifest['content_hash'][:16]}, but the candidates were "
                    f"sampled from content {sample['corpus']['content_hash'][:16]}; point --corpus at that build")
            config_of = self.candidate_ids()
            for config in sorted({config_of[i] for i in missing if i in config_of}):
                for row in read_folder_rows(self.corpus_dir, config, manifest=manifest,
                                            ids=[i for i in missing if config_of.get(i) == config]):
                    self._rows[row["id"]] = row
            lost = [i for i in missing if i not in self._rows]
            if lost:
                raise ValueError(f"candidate(s) {lost[:5]} are not in the corpus {str(self.corpus_dir)!r}")
        return {i: self._rows[i] for i in wanted}


# --------------------------------------------------------------------------------------
# Packet cells
# --------------------------------------------------------------------------------------


def _needs_guard(value: str) -> bool:
    """Would a spreadsheet turn this cell into a formula, a number or a date ("3/4", "1-2")?"""
    return value.startswith(_FORMULA_START) or bool(_NUMBER_LIKE.match(value))


def _escape(value: str) -> str:
    return "'" + value if _needs_guard(value) else value


def _unescape(value: str) -> str:
    """Drop the apostrophe `_escape` added (the reviewer's spreadsheet may have kept it)."""
    return value[1:] if value.startswith("'") and _needs_guard(value[1:]) else value


def _norm(value: str) -> str:
    """Cell text as compared on import: spreadsheet line endings and edge whitespace ignored."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def image_names(row: Mapping[str, Any]) -> list[str]:
    """File names an item's images get next to the packet (format from the bytes)."""
    from PIL import Image

    names = []
    for i, img in enumerate(row.get("images") or []):
        try:
            with Image.open(io.BytesIO(img["bytes"])) as im:
                ext = (im.format or "png").lower().replace("jpeg", "jpg")
        except Exception:  # published rows decode (validated); keep a name anyway
            ext = "bin"
        names.append(f"images/{row['id']}-{i}.{ext}")
    return names


def packet_cells(row: Mapping[str, Any], config: str, packet_id: str) -> dict[str, str]:
    """The read-only cells of one item (unescaped); what import compares the filled file against."""
    prov = row.get("provenance") or {}
    cells = {
        "packet_id": packet_id,
        "item_id": row["id"],
        "kind": bench_kind(row),
        "language": row["language"],
        "subfield": row["subfield"],
        "source": " | ".join(prov.get(k, "") for k in ("source_type", "source_id", "locator") if prov.get(k)),
        "images": " ; ".join(image_names(row)),
    }
    if config == "mcq":
        options = {o["label"]: o["text"] for o in row["options"]}
        cells["question"] = row["question"]
        for x in OPTION_LABELS:
            cells[f"option_{x}"] = options.get(x, "")
        cells["answer"] = row["answer"]
        cells["explanation"] = row["explanation"]
    else:
        cells["case"] = row["case"]
        for part in REPORT_PARTS:
            cells[part] = row["report"][part]
    return cells


def field_value(row: Mapping[str, Any], config: str, name: str) -> str:
    """Current value of a correctable field of a row."""
    if name.startswith("option_"):
        return next((o["text"] for o in row["options"] if o["label"] == name[-1]), "")
    if config == "report" and name in REPORT_PARTS:
        return row["report"][name]
    return str(row[name])


def apply_changes(row: Mapping[str, Any], config: str, changes: Mapping[str, str]) -> dict[str, Any]:
    """A copy of `row` with corrected fields applied, `levels`, `subfield_group` and `messages`
    re-derived the way the corpus build derives them."""
    out = json.loads(json.dumps({k: v for k, v in row.items() if k != "images"}, ensure_ascii=False))
    out["images"] = row.get("images") or []
    for name, value in changes.items():
        if name == "subfield":
            out["subfield"] = value
            out["subfield_group"] = subfield_group(value)
        elif name.startswith("option_"):
            options = {o["label"]: o["text"] for o in out["options"]}
            options[name[-1]] = value
            out["options"] = [{"label": k, "text": v} for k, v in sorted(options.items())]
        elif config == "report" and name in REPORT_PARTS:
            out["report"][name] = value
        else:
            out[name] = value
    out["levels"] = parse_levels(row_text(out))
    out["messages"] = render_messages(out)
    return out


def _normalize_correction(config: str, name: str, value: str) -> str:
    if name == "answer":
        return "".join(sorted(set(value.upper().replace(",", "").replace(" ", "").replace("，", ""))))
    if name == "subfield":
        for slug, (en, zh) in SUBFIELDS.items():
            if value in (slug, en, zh) or value.casefold() == en.casefold():
                return slug
        raise ValueError(f"unknown sub-field {value!r}; use a slug such as {next(iter(SUBFIELDS))!r} "
                         "(the dataset card lists all 21)")
    return value


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------

_README = """\
SpineBench review packets, round {round}
========================================

Files: one CSV per reviewer group and task type ({files}).
Open a CSV in Excel, LibreOffice or Numbers (UTF-8; Excel: double-click, or Data > From Text/CSV).
Images are in images/; the `images` column gives their paths relative to this folder.

For every row:
  reviewer_id   your reviewer code (e.g. R07; letters, digits, . _ -; no names)
  decision      accept  | fix  | remove      (接受 / 修改 / 删除 also work)
  corrected_*   only with decision = fix: the corrected value of that field; leave blank = unchanged
                (corrected_answer: the letter(s), e.g. B or AC; corrected_subfield: a slug from the card)
  comment       why; required for remove
Do not edit the other columns (they are checked on import), do not add columns.
Leave a row blank if you have not reviewed it yet. Save as "CSV UTF-8" and send the file back.

SpineBench 审核表（第 {round} 轮）
每行一题。请填写：reviewer_id（审核人编号，如 R07，勿填姓名）、decision（接受 / 修改 / 删除，
或 accept / fix / remove）、corrected_*（仅在“修改”时填写该字段修改后的内容，留空表示不变）、
comment（说明理由；“删除”时必填）。其他列请勿改动，也不要增加列。未审核的行请留空。
保存时请选择“CSV UTF-8（逗号分隔）”。
"""


def _assign_groups(ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]], groups: Sequence[str],
                   overlap: float, seed: int) -> dict[str, list[str]]:
    """Deal items round-robin over groups in (kind, sub-field, language) order so every group
    gets a similar mix; the `overlap` share of items (seeded choice) also goes to the next group."""
    def h(item_id: str) -> str:
        return hashlib.sha256(f"spinebench-assign:{seed}:{item_id}".encode()).hexdigest()

    order = sorted(ids, key=lambda i: (bench_kind(rows[i]), rows[i]["subfield"], rows[i]["language"], h(i)))
    assigned: dict[str, list[str]] = {g: [] for g in groups}
    home = {}
    for n, item_id in enumerate(order):
        home[item_id] = n % len(groups)
        assigned[groups[home[item_id]]].append(item_id)
    if len(groups) > 1 and overlap > 0:
        n_overlap = max(1, int(round(overlap * len(ids))))
        for item_id in sorted(ids, key=h)[:n_overlap]:
            assigned[groups[(home[item_id] + 1) % len(groups)]].append(item_id)
    return assigned


def export_packets(
    work: str | os.PathLike,
    *,
    groups: Sequence[str] | int = 3,
    overlap: float = 0.2,
    seed: int = 0,
    redo: str | None = None,
    items: Sequence[str] | None = None,
    corpus: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the next round of review packets; returns the round record (also in exports.json).

    Round 1 covers every candidate.  Later rounds re-review a selection: ``redo`` =
    "conflicts" (conflicting corrections), "disagreements" (reviewers decided differently),
    "pending" (no decision yet) or ``items`` = explicit ids.  ``groups``: a number of groups
    (named g1, g2, ...) or their names; ``overlap``: share of items also given to a second
    group, so agreement can be measured (needs 2+ groups; with one group, have several
    reviewers fill the same packet).
    """
    ws = Workspace(work, corpus=corpus)
    if isinstance(groups, int):
        if groups < 1:
            raise ValueError(f"groups must be >= 1, got {groups}")
        groups = [f"g{i + 1}" for i in range(groups)]
    groups = list(groups)
    bad = [g for g in groups if not _REVIEWER_RE.match(g)]
    if bad or len(set(groups)) != len(groups):
        raise ValueError(f"group names must be unique codes of letters, digits, . _ - (got {groups})")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
    config_of = ws.candidate_ids()
    exports = ws.exports()
    round_no = len(exports["rounds"]) + 1
    if round_no == 1:
        if redo or items:
            raise ValueError("the first round reviews every candidate; --redo / --items are for later rounds")
        selected = list(config_of)
    else:
        if not redo and not items:
            raise ValueError("round 1 was already exported; to re-review items pass "
                             "redo=conflicts|disagreements|pending or items")
        if items:
            unknown = [i for i in items if i not in config_of]
            if unknown:
                raise ValueError(f"unknown item id(s) {unknown[:5]}: not candidates of {ws.path}")
            selected = list(dict.fromkeys(items))
        else:
            res = resolve(ws)
            if redo == "conflicts":
                selected = [c["item_id"] for c in res["conflicts"]]
            elif redo == "disagreements":
                selected = [i for i, it in res["items"].items() if len(set(it["decisions"].values())) > 1]
            elif redo == "pending":
                selected = list(res["pending"])
            else:
                raise ValueError(f"redo must be conflicts, disagreements or pending, not {redo!r}")
            selected = list(dict.fromkeys(selected))
        if not selected:
            raise ValueError(f"nothing to re-review: no item matches redo={redo!r}")
    rows = ws.candidate_rows(selected)
    assignment = _assign_groups(selected, rows, groups, overlap, seed)
    out_dir = ws.packets_dir / f"round-{round_no}"
    if out_dir.exists():
        shutil.rmtree(out_dir)  # left by an export that died before registering the round
    (out_dir / "images").mkdir(parents=True)
    packets = []
    for group in groups:
        for config in ("mcq", "report"):
            ids = [i for i in assignment[group] if config_of[i] == config]
            if not ids:
                continue
            packet_id = f"r{round_no}-{group}-{config}"
            path = out_dir / f"{group}-{config}.csv"
            table = []
            for item_id in ids:
                row = rows[item_id]
                for name, img in zip(image_names(row), row.get("images") or []):
                    (out_dir / name).write_bytes(img["bytes"])
                cells = packet_cells(row, config, packet_id)
                table.append({c: cells.get(c, "") for c in packet_columns(config)})
            write_packet_csv(path, packet_columns(config), table)
            packets.append({"packet_id": packet_id, "round": round_no, "group": group, "config": config,
                            "file": path.relative_to(ws.path).as_posix(),
                            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "items": ids})
    files = ", ".join(Path(p["file"]).name for p in packets)
    (out_dir / "README.txt").write_text(_README.format(round=round_no, files=files), encoding="utf-8")
    record = {"round": round_no, "created_at": _now(), "groups": groups, "overlap": overlap, "seed": seed,
              "redo": redo or ("items" if items else None), "items": len(selected),
              "folder": out_dir.relative_to(ws.path).as_posix(), "packets": packets}
    exports["rounds"].append(record)
    _write_json_atomic(ws.exports_file, exports)
    return record


def write_packet_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """CSV as Excel writes "CSV UTF-8": BOM, comma, CRLF, quoted where needed; formula-safe."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, dialect="excel")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_escape(str(row.get(c, ""))) for c in columns])


def read_packet_csv(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """(header, [(spreadsheet row number, cells)], encoding) of a filled packet.

    UTF-8 (with or without BOM) is expected; a file re-saved by a Chinese-locale Excel as
    plain "CSV" is GB18030 and is read as such (the read-only cells then prove the decoding).
    Comma, semicolon and tab delimiters are accepted (Excel uses ; in some locales).
    """
    path = Path(path)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PacketError([f"{path.name}: not a UTF-8 text file; save it as 'CSV UTF-8 (Comma delimited)'"])
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        records.extend(reader)
    except csv.Error as exc:
        raise PacketError([f"{path.name} near line {reader.line_num}: not readable as CSV ({exc})"]) from None
    if not records:
        raise PacketError([f"{path.name}: empty file"])
    # spreadsheet row numbers count records (a cell may hold line breaks): header = row 1
    return [h.strip() for h in records[0]], [(n, cells) for n, cells in enumerate(records[1:], 2)], encoding


# --------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    entries: list[dict[str, Any]]
    files: list[dict[str, Any]]  # per file: name, packet ids, decided, blank, decisions
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
    edited = [c for c in read_only_columns(config) if _norm(cells[c]) != _norm(original[c])]
    for c in edited:
        advice = f"; put the correction in 'corrected_{c}'" if c in CORRECTABLE[config] else ""
        problems.add(name, rownum, c, f"read-only cell was edited{advice}{hint}")
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
) -> ImportResult:
    """Validate filled packets and record their decisions in the audit log (all or nothing).

    `mode` records who decided: "clinician" (real reviewers; the CLI always uses it) or
    "simulated" (the demo's scripted reviewers); the release card states it.
    Raises PacketError listing every problem (file, row, column) when anything is wrong.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
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
            header, rows, encoding = read_packet_csv(path)
        except PacketError as exc:
            problems.extend(exc.problems)
            continue
        config = _packet_config(name, header, problems)
        if config is None:
            continue
        hint = " (the file is not UTF-8 and was read as GB18030; save it as 'CSV UTF-8')" if encoding != "utf-8-sig" else ""
        before = problems.total
        decided: list[dict[str, Any]] = []
        blank = 0
        row_keys: dict[tuple[str, str], int] = {}
        for rownum, raw_cells in rows:
            if not any(c.strip() for c in raw_cells):
                continue  # spreadsheets add empty trailing rows
            if len(raw_cells) != len(header):
                problems.add(name, rownum, None, f"has {len(raw_cells)} cells, the header has {len(header)} "
                                                 "(a cell with an unquoted separator or line break?)")
                continue
            cells = {h: _unescape(v) for h, v in zip(header, raw_cells)}
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
        file_reports.append({"file": name, "packets": sorted({e["packet_id"] for e in decided}), "decided": len(decided),
                             "blank": blank, "decisions": dict(Counter(e["decision"] for e in decided))})
    if problems.total:
        raise PacketError(problems.kept, problems.total)
    for seq, entry in enumerate(new_entries, len(existing) + 1):
        entry["seq"] = seq
    ws._append_audit(new_entries)
    return ImportResult(new_entries, file_reports, resolve(ws))


def _decisions_digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """Hash of what a filled packet decides, independent of file name, encoding and line endings."""
    canon = sorted(
        json.dumps([e["packet_id"], e["item_id"], e["reviewer"], e["decision"],
                    [[c["field"], c["after"]] for c in e["changes"]], e["comment"]], ensure_ascii=False)
        for e in entries)
    return hashlib.sha256("\n".join(canon).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------


def resolve(work: str | os.PathLike | Workspace) -> dict[str, Any]:
    """The outcome of every candidate from the audit log (see the module docstring's rules).

    Returns {"items": {id: {config, status, round, decisions {reviewer: decision}, reviewers,
    groups, changes {field: {before, after, reviewers}}, comments, superseded}}, "counts",
    "pending", "conflicts", "agreement", "decisions", "modes", "rounds"}.
    """
    ws = work if isinstance(work, Workspace) else Workspace(work)
    config_of = ws.candidate_ids()
    entries = ws.audit_entries()
    by_item: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_item.setdefault(e["item_id"], []).append(e)
    items: dict[str, dict[str, Any]] = {}
    conflicts = []
    for item_id, config in config_of.items():
        es = by_item.get(item_id, [])
        if not es:
            items[item_id] = {"config": config, "status": "pending", "round": None, "decisions": {}, "reviewers": [],
                              "groups": [], "changes": {}, "comments": [], "superseded": 0, "modes": []}
            continue
        latest = max(e["round"] for e in es)
        counted = [e for e in es if e["round"] == latest]
        decisions = {e["reviewer"]: e["decision"] for e in counted}
        changes: dict[str, dict[str, Any]] = {}
        conflict = []
        for e in counted:
            if e["decision"] != "fix":
                continue
            for c in e["changes"]:
                cur = changes.get(c["field"])
                if cur is None:
                    changes[c["field"]] = {"before": c["before"], "after": c["after"], "reviewers": [e["reviewer"]]}
                elif cur["after"] == c["after"]:
                    cur["reviewers"].append(e["reviewer"])
                else:
                    values = {r: cur["after"] for r in cur["reviewers"]}
                    conflict.append({"field": c["field"], "values": {**values, e["reviewer"]: c["after"]}})
        if "remove" in decisions.values():
            status = "removed"
        elif conflict:
            status = "conflict"
            for c in conflict:
                conflicts.append({"item_id": item_id, "round": latest, **c})
        elif "fix" in decisions.values():
            status = "fixed"
        else:
            status = "accepted"
        items[item_id] = {"config": config, "status": status, "round": latest, "decisions": decisions,
                          "reviewers": sorted(decisions), "groups": sorted({e["group"] for e in counted}),
                          "changes": changes if status == "fixed" else {},
                          "comments": [f"{e['reviewer']}: {e['comment']}" for e in counted if e["comment"]],
                          "superseded": len(es) - len(counted), "modes": sorted({e["mode"] for e in counted})}
    units: dict[tuple[str, int], dict[str, str]] = {}
    fixes: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
    for e in entries:
        units.setdefault((e["item_id"], e["round"]), {})[e["reviewer"]] = e["decision"]
        if e["decision"] == "fix":  # two fixes agree only with the same corrected values
            fixes.setdefault((e["item_id"], e["round"]), {})[e["reviewer"]] = {
                c["field"]: c["after"] for c in e["changes"]}
    modes = Counter(e["mode"] for e in entries)
    return {
        "items": items,
        "counts": dict(Counter(it["status"] for it in items.values())),
        "pending": [i for i, it in items.items() if it["status"] == "pending"],
        "conflicts": conflicts,
        "agreement": decision_agreement(units, DECISIONS, fixes),
        "decisions": {"total": len(entries), "by_decision": dict(Counter(e["decision"] for e in entries)),
                      "superseded": sum(it["superseded"] for it in items.values()),
                      "fields_fixed": dict(Counter(c["field"] for e in entries for c in e["changes"])),
                      "reviewers": len({e["reviewer"] for e in entries}),
                      "groups": sorted({e["group"] for e in entries})},
        "modes": dict(modes),
        "rounds": len(ws.exports()["rounds"]),
    }


def verification_mode(resolution: Mapping[str, Any]) -> str:
    """"clinician", "simulated" or "mixed", from the modes of the decisions that count."""
    modes = {m for it in resolution["items"].values() for m in it["modes"]}
    if not modes:
        return "none"
    return next(iter(modes)) if len(modes) == 1 else "mixed"


def format_resolution(res: Mapping[str, Any]) -> str:
    c = res["counts"]
    d = res["decisions"]
    a = res["agreement"]
    total = sum(c.values())
    lines = [f"review: {total} candidates = accepted {c.get('accepted', 0)} + fixed {c.get('fixed', 0)} + removed "
             f"{c.get('removed', 0)} + conflict {c.get('conflict', 0)} + pending {c.get('pending', 0)}",
             f"decisions: {d['total']} by {d['reviewers']} reviewer(s) in group(s) {', '.join(d['groups']) or '-'} "
             f"over {res['rounds']} round(s): " + ", ".join(f"{k} {v}" for k, v in sorted(d["by_decision"].items()))
             + (f"; {d['superseded']} superseded by later rounds" if d["superseded"] else "")
             + (f"  [mode: {', '.join(f'{k} {v}' for k, v in sorted(res['modes'].items()))}]" if res["modes"] else "")]
    if d["fields_fixed"]:
        lines.append("fields fixed: " + ", ".join(f"{k} {v}" for k, v in sorted(d["fields_fixed"].items())))
    if a["items"]:
        kappa = "undefined" if a["fleiss_kappa"] is None else f"{a['fleiss_kappa']:.3f}"
        cohen = "undefined" if a["mean_cohen_kappa"] is None else f"{a['mean_cohen_kappa']:.3f}"
        lines.append(f"agreement on {a['items']} item(s) seen by 2+ reviewers: {a['percent_agreement']:.1f}% "
                     f"(all agree on {100 * a['all_agree']:.0f}%), Fleiss' kappa {kappa}, mean Cohen's kappa {cohen}"
                     + (f"  ({'; '.join(a['notes'])})" if a["notes"] else ""))
    else:
        lines.append("agreement: no item was decided by two or more reviewers yet")
    for conflict in res["conflicts"][:10]:
        values = "; ".join(f"{r}: {v[:60]!r}" for r, v in conflict["values"].items())
        lines.append(f"CONFLICT {conflict['item_id']} {conflict['field']}: {values}")
    if res["conflicts"]:
        lines.append("resolve conflicts with `spinemed bench export --work WORK --redo conflicts --group ADJ` and import it")
    return "\n".join(lines)
