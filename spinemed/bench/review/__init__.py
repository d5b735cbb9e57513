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
= unchanged) and ``comment`` (required for remove).  Cells starting with = + - @ (also after
leading whitespace or line breaks, and full-width ＝ ＋ － ＠), tab, CR or LF, and cells a
spreadsheet would read as a number or date, are written with a leading apostrophe so
spreadsheets do not run or convert them; import removes it.

Import is all-or-nothing per call and strict: an unknown packet or item id, an unknown
decision, an edited read-only cell, a fix without a change, a correction on an accept/remove
row, a corrected item that fails the corpus validator, an identifier in corrected text, a
packet imported twice (same decisions, whatever the file name or line endings) or a second
decision by the same reviewer on the same item in the same round: each is reported by file,
spreadsheet row and column, and nothing from that call is recorded.  Rows left blank are
simply not decided yet.  A filled packet must be UTF-8 (with or without BOM): any other
encoding is refused, naming the encoding it looks like, unless the import is told the encoding
(``--encoding``); read-only cells must come back byte for byte (line breaks aside); a file that
lacks rows of its packet is refused with the count and ids missing, unless
``--allow-missing-rows`` (then they are reported and stay pending).

Resolution (per item, over the decisions of the latest round that has any; earlier rounds
stay in the log as superseded): any *remove* removes the item (a benchmark keeps only items
every reviewer would keep); otherwise any *fix* applies the union of the corrections, and two
different corrections of one field are a *conflict* that blocks the build until a later round
(``export --redo conflicts``) decides the item again; otherwise the item is accepted.

The package, by step: :mod:`.workspace` (the files above), :mod:`.packets` (columns, cells,
corrections, the CSV format), :mod:`.export` (packets out), :mod:`.importer` (filled packets
in, into the audit log), :mod:`.resolution` (the outcome per item).
"""

from .export import export_packets
from .importer import ImportResult, import_packets
from .packets import (
    CORRECTABLE,
    OPTION_LABELS,
    PacketError,
    _unescape,  # noqa: F401  (private, imported by tests)
    apply_changes,
    field_value,
    image_names,
    packet_cells,
    packet_columns,
    read_only_columns,
    read_packet_csv,
    write_packet_csv,
)
from .resolution import format_resolution, resolve, verification_mode
from .workspace import DECISIONS, EXPORTS_FORMAT, MODES, Workspace

__all__ = [
    "CORRECTABLE",
    "DECISIONS",
    "EXPORTS_FORMAT",
    "MODES",
    "OPTION_LABELS",
    "ImportResult",
    "PacketError",
    "Workspace",
    "apply_changes",
    "export_packets",
    "field_value",
    "format_resolution",
    "image_names",
    "import_packets",
    "packet_cells",
    "packet_columns",
    "read_only_columns",
    "read_packet_csv",
    "resolve",
    "verification_mode",
    "write_packet_csv",
]
