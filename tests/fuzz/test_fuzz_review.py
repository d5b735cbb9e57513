"""Fuzz: importing filled review packets (spinemed/bench/review/importer.py: import_packets).

A real workspace is exported once from the sample corpus; each example copies it, writes a
packet that is a mutation of an exported one (edited cells, dropped or repeated rows, other
encodings and delimiters, cut bytes) or plain bytes, and imports it.  Property: the import
either records its decisions or raises PacketError (a ValueError listing file, row and column)
and then records nothing; no other exception escapes.
"""

from __future__ import annotations

import csv
import functools
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import build_sample_corpus  # tests/conftest.py: the session's sample build
from hypothesis import event, example, given
from hypothesis import strategies as st

from spinemed.bench.review import PacketError, Workspace, export_packets, import_packets
from spinemed.bench.sample import sample_candidates

_PACKETS = ("g1-mcq.csv", "g1-report.csv")


@functools.lru_cache(maxsize=1)
def _exported() -> Path:
    root = Path(tempfile.mkdtemp(prefix="spinemed-fuzz-review-"))
    work = root / "work"
    Workspace(work).write_sample(sample_candidates(build_sample_corpus(), seed=0))
    export_packets(work)
    return work


@functools.lru_cache(maxsize=4)
def _packet(name: str) -> list[list[str]]:
    with open(_exported() / "packets" / "round-1" / name, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


_CELLS = ["accept", "Accepted", "fix", "修改", "remove", "删除", "maybe", "R01", "R02", "bad reviewer!", "B", "AC", "Z",
          "=HYPERLINK(\"x\")", " =1+1", "\n=1", "＝1", "+1", "@SUM(A1)", "'=1", "L4-L5", "", " ", "\u200b", "\x00"]
cell_values = st.one_of(st.sampled_from(_CELLS), st.text(max_size=20))


@st.composite
def packet_files(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(_PACKETS))
    rows = [list(r) for r in _packet(name)]
    header = rows[0]
    # Most examples decide rows (else they only test the "blank packet" refusal).
    if draw(st.booleans()):
        for r in rows[1:]:
            r[header.index("reviewer_id")] = "R01"
            r[header.index("decision")] = "accept"
    for _ in range(draw(st.integers(0, 6))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
        if rows[r]:
            rows[r][c] = draw(cell_values)
    structure = draw(st.sampled_from(["none", "drop", "repeat", "ragged", "swap_header"]))
    if structure == "drop" and len(rows) > 1:
        del rows[draw(st.integers(1, len(rows) - 1))]
    elif structure == "repeat" and len(rows) > 1:
        rows.append(list(rows[draw(st.integers(1, len(rows) - 1))]))
    elif structure == "ragged":
        rows[draw(st.integers(0, len(rows) - 1))].append(draw(cell_values))
    elif structure == "swap_header":
        i, j = draw(st.integers(0, len(header) - 1)), draw(st.integers(0, len(header) - 1))
        header[i], header[j] = header[j], header[i]
    buf = io.StringIO()
    csv.writer(buf, delimiter=draw(st.sampled_from([",", ";", "\t"])),
               lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"]))).writerows(rows)
    encoding = draw(st.sampled_from(["utf-8-sig", "utf-8", "gb18030", "utf-16", "cp1252"]))
    data = buf.getvalue().encode(encoding, errors="replace")
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return name, data


@pytest.fixture(scope="module", autouse=True)
def _export_once():
    _exported()  # the sample build and export happen outside the examples' deadline


@given(packet=st.one_of(packet_files(), st.tuples(st.sampled_from(_PACKETS), st.binary(max_size=300))))
@example(packet=("g1-mcq.csv", b""))
@example(packet=("g1-mcq.csv", b"\xff\xfe\x00"))
def test_import_records_all_or_refuses_with_packet_error(packet):
    name, data = packet
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(_exported(), work)
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            result = import_packets(work, [path], mode="simulated", now="2026-01-01T00:00:00Z")
        except PacketError as exc:
            event("refused")
            assert exc.problems and all(isinstance(p, str) for p in exc.problems)
            assert Workspace(work).audit_entries() == []  # nothing recorded
            return
        event("imported")
        entries = Workspace(work).audit_entries()
        assert entries and len(entries) == len(result.entries)


def test_the_fuzzed_packet_can_be_imported():
    # An exported packet with every row accepted imports: the fuzz starts from a valid file.
    rows = [list(r) for r in _packet("g1-mcq.csv")]
    for r in rows[1:]:
        r[rows[0].index("reviewer_id")], r[rows[0].index("decision")] = "R01", "accept"
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(_exported(), work)
        (Path(tmp) / "g1-mcq.csv").write_text(buf.getvalue(), encoding="utf-8-sig")
        result = import_packets(work, [Path(tmp) / "g1-mcq.csv"], mode="simulated")
    assert len(result.entries) == len(rows) - 1
