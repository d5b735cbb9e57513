"""Review packets: their columns, the cells of one item, corrections, and the CSV files.

Packets are CSV files in UTF-8 with a byte-order mark (Excel then opens Chinese text
correctly; LibreOffice and Numbers do too), one per reviewer group and config.  Each row is
one item: read-only columns (ids, metadata, the item's content, its images as paths relative
to the packet) and the reviewer's columns ``reviewer_id``, ``decision``, ``corrected_<field>``
and ``comment``.  Cells a spreadsheet would turn into a formula, a number or a date are written
with a leading apostrophe; import removes it.  A filled packet must come back as UTF-8 (with or
without BOM); any other encoding is refused, naming the encoding it looks like, unless the
importer is told the encoding.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from spinemed.corpus.generate import render_messages, row_levels
from spinemed.schema import REPORT_PARTS, SUBFIELDS, bench_kind, subfield_group

OPTION_LABELS = "ABCDE"
_ID_COLUMNS = ["packet_id", "item_id", "kind", "language", "subfield", "source", "images"]
_CONTENT = {
    "mcq": ["question", *(f"option_{x}" for x in OPTION_LABELS), "answer", "explanation"],
    "report": ["case", *REPORT_PARTS],
}
CORRECTABLE = {config: [*fields, "subfield"] for config, fields in _CONTENT.items()}
# A spreadsheet runs a cell starting with one of these signs as a formula, also in their
# full-width forms (＝ ＋ － ＠, typed with a CJK input method; NFKC maps them and the small
# forms to the ASCII signs) and after leading whitespace or line breaks (some spreadsheets trim
# before parsing): every value starting with whitespace is guarded, which also keeps it untrimmed.
_FORMULA_SIGNS = "=+-@"
_MINUS_SIGN = "\u2212"
_NUMBER_LIKE = re.compile(r"^\s*[\d.,/:%-][\d.,/:%\s-]*$")  # numbers, fractions, dates, times, percentages


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


def _starts_formula(value: str) -> bool:
    """Would a spreadsheet run this cell as a formula (see _FORMULA_SIGNS)?"""
    first = value[:1]
    if not first:
        return False
    return first.isspace() or first == _MINUS_SIGN or unicodedata.normalize("NFKC", first)[:1] in _FORMULA_SIGNS


def _needs_guard(value: str) -> bool:
    """Would a spreadsheet turn this cell into a formula, a number or a date ("3/4", "1-2")?

    A value starting with an apostrophe is guarded too, so "'-5 mm' is..." does not lose its
    own apostrophe on import: `_unescape(_escape(v)) == v` for every string."""
    return value.startswith("'") or _starts_formula(value) or bool(_NUMBER_LIKE.match(value))


def _escape(value: str) -> str:
    return "'" + value if _needs_guard(value) else value


def _unescape(value: str) -> str:
    """Drop the apostrophe `_escape` added (the reviewer's spreadsheet may have kept it)."""
    return value[1:] if value.startswith("'") and _needs_guard(value[1:]) else value


def _norm(value: str) -> str:
    """A reviewer's cell as recorded: spreadsheet line endings and edge whitespace ignored."""
    return _lines(value).strip()


def _lines(value: str) -> str:
    """Line breaks inside a cell as LF (spreadsheets may save them as CRLF or CR)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def read_only_difference(expected: str, got: str) -> str | None:
    """None when a read-only cell came back byte for byte (UTF-8; only line breaks may differ),
    else where it differs, with code points, so invisible changes (NBSP, NFD accents) show."""
    a, b = _lines(expected), _lines(got)
    if a == b:
        return None
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))

    def show(text: str) -> str:
        part = text[at:at + 3]
        return repr(part) + " (" + " ".join(f"U+{ord(c):04X}" for c in part) + ")" if part else "the end"

    return f"character {at + 1} is {show(a)} in the packet but {show(b)} in this file"


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
    """A copy of `row` with corrected fields applied, `levels` (`level_source`), `subfield_group` and `messages`
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
    out["levels"], out["level_source"] = row_levels(out)
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



def write_packet_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """CSV as Excel writes "CSV UTF-8": BOM, comma, CRLF, quoted where needed; formula-safe."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, dialect="excel")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_escape(str(row.get(c, ""))) for c in columns])


def detect_encoding(raw: bytes) -> str | None:
    """The encoding `raw` most likely is (charset-normalizer), or None when nothing fits."""
    best = from_bytes(raw[:1 << 20]).best()
    return best.encoding if best is not None else None


def decode_packet(raw: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding) of a filled packet's bytes.

    UTF-8, with or without BOM, is read as such.  Anything else is refused, naming the encoding
    it looks like, unless `encoding` says what it is: the bytes of a Western-locale "CSV"
    (cp1252) often decode as GB18030 too, so guessing would import mojibake.
    """
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        not_utf8 = exc
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise PacketError([f"{name} line {line}: byte 0x{raw[exc.start]:02x} is not {encoding} either "
                               "(the file is neither UTF-8 nor the --encoding given)"]) from None
    line = raw.count(b"\n", 0, not_utf8.start) + 1
    detected = detect_encoding(raw)
    looks = f"it looks like {detected}" if detected else "its encoding could not be recognised"
    raise PacketError([f"{name} line {line}: not UTF-8 (byte 0x{raw[not_utf8.start]:02x}); {looks}. Save it as "
                       "'CSV UTF-8 (Comma delimited)' and import that file, or, if you know the file's encoding, "
                       f"pass --encoding {detected or 'NAME'} (a Western-locale spreadsheet saves cp1252, a "
                       "Chinese-locale one gb18030); nothing was guessed"])


def read_packet_csv(path: str | os.PathLike, *, encoding: str | None = None
                    ) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """(header, [(spreadsheet row number, cells)], encoding) of a filled packet.

    UTF-8 (with or without BOM) is expected; a file in another encoding is refused unless
    `encoding` names it (see `decode_packet`).  Comma, semicolon and tab delimiters are
    accepted (Excel uses ; in some locales).
    """
    path = Path(path)
    text, encoding = decode_packet(path.read_bytes(), path.name, encoding)
    if text.count('"') % 2:  # the csv module silently closes a quote left open at the end
        line = text.count("\n", 0, text.rfind('"')) + 1
        raise PacketError([f"{path.name} line {line}: a quote is never closed: the file was cut short inside a "
                           "quoted cell (or a quote was typed outside one); send the whole file"])
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

