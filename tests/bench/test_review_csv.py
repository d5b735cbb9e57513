"""Review CSVs from the wild: encodings, byte-exact read-only cells, truncated packets, formula guards.

Each test reproduces a reported case (issue 13, part 6) on packets exported from the sample
corpus and re-saved the way a reviewer's spreadsheet would save them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spinemed import cli
from spinemed.bench.review import PacketError, Workspace, export_packets, import_packets, read_packet_csv, write_packet_csv
from spinemed.bench.review.packets import _escape, _unescape
from spinemed.bench.sample import sample_candidates

# cp1252 bytes of these accents are GB18030 lead bytes: followed by a letter they decode as one
# CJK character each ("Réponse" -> "R閜onse"), so a Western-locale "CSV" passes as GB18030.
CP1252_COMMENT = "Réponse élégante, fémur intéressant"


@pytest.fixture(scope="module")
def corpus(sample_corpus) -> Path:
    return sample_corpus  # read only here


@pytest.fixture
def work(corpus, tmp_path) -> Path:
    work = tmp_path / "work"
    Workspace(work).write_sample(sample_candidates(corpus, seed=0))
    export_packets(work, groups=1)
    return work


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]], *, encoding: str = "utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([[r.get(h, "") for h in header] for r in rows])
    return path


def mcq_packet(work: Path) -> tuple[list[str], list[dict[str, str]]]:
    header, rows = read_csv(work / "packets" / "round-1" / "g1-mcq.csv")
    for r in rows:
        r.update(reviewer_id="R01", decision="accept")
    return header, rows


# --------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------


def english_packet(work: Path) -> Path:
    """A round-2 packet of English MCQs only (their read-only cells are ASCII, so a cp1252 file
    of it hides its wrong decoding from the read-only check)."""
    header, rows = read_csv(work / "packets" / "round-1" / "g1-mcq.csv")
    ids = [r["item_id"] for r in rows if r["language"] == "en"
           and all(r[c].isascii() for c in header[:header.index("reviewer_id")])][:4]
    assert len(ids) == 4
    record = export_packets(work, groups=["adj"], items=ids)
    return work / record["packets"][0]["file"]


def test_cp1252_file_that_decodes_as_gb18030_is_refused_naming_its_encoding(work, tmp_path):
    header, rows = read_csv(english_packet(work))
    for r in rows:
        r.update(reviewer_id="R01", decision="accept", comment=CP1252_COMMENT)
    path = write_csv(tmp_path / "western.csv", header, rows, encoding="cp1252")  # Excel "CSV" in en-US / fr-FR
    raw = path.read_bytes()
    assert "閜" in raw.decode("gb18030")  # the reported case: the bytes pass as GB18030 (mojibake)
    with pytest.raises(PacketError) as info:
        import_packets(work, [path])
    message = str(info.value)
    assert "western.csv line 2: not UTF-8 (byte 0xe9)" in message and "nothing was imported" in message
    assert "it looks like cp125" in message and "--encoding cp125" in message  # charset-normalizer: cp1250/cp1252
    assert Workspace(work).audit_entries() == []
    # told the encoding, the import records the reviewer's words as written
    result = import_packets(work, [path], encoding="cp1252")
    assert result.files[0]["encoding"] == "cp1252"
    assert {e["comment"] for e in Workspace(work).audit_entries()} == {CP1252_COMMENT}


def test_utf8_with_and_without_bom_is_read_as_utf8_even_with_encoding_given(work, tmp_path):
    header, rows = read_csv(english_packet(work))
    for r in rows:
        r.update(reviewer_id="R01", decision="accept", comment=CP1252_COMMENT)
    path = write_csv(tmp_path / "plain.csv", header, rows, encoding="utf-8")
    result = import_packets(work, [path], encoding="gb18030")  # --encoding is for files that are not UTF-8
    assert result.files[0]["encoding"] == "utf-8"
    assert {e["comment"] for e in Workspace(work).audit_entries()} == {CP1252_COMMENT}


def test_other_encodings_are_refused_unless_named(work, tmp_path):
    header, rows = mcq_packet(work)
    assert any(r["language"] == "zh" for r in rows)
    with open(tmp_path / "gbk.csv", "w", encoding="gb18030", newline="") as fh:  # Excel "CSV" in zh-CN: GBK, ";"
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(header)
        writer.writerows([[{"decision": "接受"}.get(h, r[h]) for h in header] for r in rows])
    with pytest.raises(PacketError, match=r"gbk.csv line \d+: not UTF-8 .*it looks like gb18030.*--encoding gb18030"):
        import_packets(work, [tmp_path / "gbk.csv"])
    # a wrong --encoding shows in the read-only cells (they hold Chinese text)
    with pytest.raises(PacketError, match="read as cp1252, as --encoding said"):
        import_packets(work, [tmp_path / "gbk.csv"], encoding="cp1252")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        import_packets(work, [tmp_path / "gbk.csv"], encoding="klingon")
    assert Workspace(work).audit_entries() == []
    result = import_packets(work, [tmp_path / "gbk.csv"], encoding="gb18030")
    assert result.files[0]["decided"] == len(rows) and result.resolution["counts"]["accepted"] == len(rows)


def test_utf16_from_excel_unicode_text_is_refused_then_read_when_named(work, tmp_path):
    header, rows = mcq_packet(work)
    path = tmp_path / "unicode.txt"  # Excel "Unicode Text": UTF-16 with BOM, tab separated
    with open(path, "w", encoding="utf-16", newline="") as fh:
        csv.writer(fh, delimiter="\t", lineterminator="\r\n").writerows([header, *[[r[h] for h in header] for r in rows]])
    with pytest.raises(PacketError, match="not UTF-8 .*it looks like utf_16"):
        import_packets(work, [path])
    assert import_packets(work, [path], encoding="utf-16").files[0]["decided"] == len(rows)


# --------------------------------------------------------------------------------------
# Read-only cells: byte for byte
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,edit,shown", [
    ("trailing ideographic space", lambda v: v + "\u3000", "U+3000"),  # str.strip() used to hide these
    ("leading no-break space", lambda v: "\u00a0" + v, "U+00A0"),
    ("trailing ascii space", lambda v: v + " ", "U+0020"),
    ("one CJK character", lambda v: v[:3] + ("椎" if v[3] != "椎" else "腰") + v[4:], "U+"),
    ("full-width comma to ascii", lambda v: v.replace("，", ",", 1), "U+002C"),
    ("NFD accents", lambda v: v[:2] + "e\u0301" + v[2:], "U+0065"),
])
def test_changed_read_only_non_ascii_cell_is_refused_naming_row_and_column(work, tmp_path, name, edit, shown):
    header, rows = mcq_packet(work)
    n, row = next((n, r) for n, r in enumerate(rows, 2) if r["language"] == "zh" and "，" in r["question"])
    row["question"] = edit(row["question"])
    assert row["question"] != read_csv(work / "packets" / "round-1" / "g1-mcq.csv")[1][n - 2]["question"]
    with pytest.raises(PacketError) as info:
        import_packets(work, [write_csv(tmp_path / "filled.csv", header, rows)])
    message = str(info.value)
    assert f"filled.csv row {n}, column 'question': read-only cell was edited (character " in message, message
    assert shown in message and "corrected_question" in message
    assert Workspace(work).audit_entries() == []


def test_read_only_cells_may_come_back_with_crlf_line_breaks(work, tmp_path):
    header, rows = mcq_packet(work)
    multiline = [r for r in rows if any("\n" in r[c] for c in header)]
    assert multiline
    for r in multiline:
        r.update({c: r[c].replace("\n", "\r\n") for c in header})
    assert import_packets(work, [write_csv(tmp_path / "crlf.csv", header, rows)]).files[0]["decided"] == len(rows)


# --------------------------------------------------------------------------------------
# Missing rows
# --------------------------------------------------------------------------------------


def test_packet_truncated_at_a_row_boundary_is_refused_with_count_and_ids(work, tmp_path):
    header, rows = mcq_packet(work)
    full = write_csv(tmp_path / "full.csv", header, rows).read_bytes()
    # cut the file after the 10th record, where a stalled transfer or a crashed save stops
    keep = 10
    head = write_csv(tmp_path / "head.csv", header, rows[:keep]).read_bytes()
    assert full.startswith(head) and len(head) < len(full)
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(full[:len(head)])
    assert len(read_packet_csv(truncated)[1]) == keep
    missing = [r["item_id"] for r in rows[keep:]]
    with pytest.raises(PacketError) as info:
        import_packets(work, [truncated])
    message = str(info.value)
    assert f"truncated.csv: {len(missing)} of the {len(rows)} rows of packet r1-g1-mcq are missing" in message
    assert ", ".join(missing[:10]) in message and f"and {len(missing) - 10} more" in message
    assert "--allow-missing-rows" in message and Workspace(work).audit_entries() == []
    # asked to, the import records the rows the file has and reports the rest, which stay pending
    result = import_packets(work, [truncated], allow_missing=True)
    assert result.files[0]["decided"] == keep and result.files[0]["missing"] == {"r1-g1-mcq": missing}
    assert set(missing) <= set(result.resolution["pending"])


def test_deleted_rows_are_refused_but_blank_rows_are_not(work, tmp_path):
    header, rows = mcq_packet(work)
    gone = rows.pop(3)
    with pytest.raises(PacketError, match=f"1 of the {len(rows) + 1} rows of packet r1-g1-mcq are missing \\({gone['item_id']}\\)"):
        import_packets(work, [write_csv(tmp_path / "deleted.csv", header, rows)])
    rows.insert(3, {**gone, "reviewer_id": "", "decision": ""})  # not reviewed yet: left blank, as the README says
    result = import_packets(work, [write_csv(tmp_path / "blank.csv", header, rows)])
    assert result.files[0]["missing"] == {} and result.files[0]["blank"] == 1


def test_cli_refuses_missing_rows_and_names_them_with_allow_missing_rows(work, tmp_path, capsys):
    header, rows = mcq_packet(work)
    path = write_csv(tmp_path / "short.csv", header, rows[:-2])
    assert cli.main(["bench", "import", "--work", str(work), str(path)]) == 2
    err = capsys.readouterr().err
    assert "short.csv: 2 of the" in err and rows[-1]["item_id"] in err and "nothing was imported" in err
    assert cli.main(["bench", "import", "--work", str(work), str(path), "--allow-missing-rows", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "WARNING: short.csv: 2 row(s) of packet r1-g1-mcq missing" in err and rows[-1]["item_id"] in err
    assert json.loads(out)["files"][0]["missing"] == {"r1-g1-mcq": [r["item_id"] for r in rows[-2:]]}


def test_cli_import_encoding_flag(work, tmp_path, capsys):
    header, rows = read_csv(english_packet(work))
    for r in rows:
        r.update(reviewer_id="R01", decision="accept", comment=CP1252_COMMENT)
    path = write_csv(tmp_path / "western.csv", header, rows, encoding="cp1252")
    assert cli.main(["bench", "import", "--work", str(work), str(path)]) == 2
    assert "--encoding cp125" in capsys.readouterr().err
    assert cli.main(["bench", "import", "--work", str(work), str(path), "--encoding", "cp1252"]) == 0
    assert "imported western.csv (read as cp1252): 4 decisions" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# Formula guards
# --------------------------------------------------------------------------------------

FORMULA_VALUES = [
    "=1+1", "+1", "-1 mm", "@SUM(A1)", "\t=1", "\r=1", "\n=1",  # ASCII signs, tab, CR, LF
    " =HYPERLINK(\"http://x\")", "  +1", "\n=1+1", "\r\n-2", "\u3000=1", "\u00a0@x",  # after leading whitespace
    "＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝1", "﹦1", "﹢1", "﹣1", "﹫x", "\u22121",  # full-width, small forms, minus sign
]


@pytest.mark.parametrize("value", FORMULA_VALUES, ids=[ascii(v) for v in FORMULA_VALUES])
def test_formula_prefixes_are_guarded_on_export_and_restored_on_import(tmp_path, value):
    path = tmp_path / "p.csv"
    write_packet_csv(path, ["v"], [{"v": value}])
    header, rows, _ = read_packet_csv(path)
    assert rows[0][1][0].startswith("'" + value[:1])  # the spreadsheet sees text, not a formula
    assert _unescape(rows[0][1][0]) == value


@pytest.mark.parametrize("value", ["plain", "L4/5", "腰4/5", "a=b", " text", "", "'", "'quoted' word", "'=already",
                                   "''", "'-5 mm' is", "'3/4", "3/4", *FORMULA_VALUES])
def test_escape_round_trips_every_value_exactly(value):
    assert _unescape(_escape(value)) == value
    assert not _escape(value).startswith(("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n", " "))


def test_guarded_full_width_formula_in_a_reviewer_cell_is_unguarded_on_import(work, tmp_path):
    header, rows = mcq_packet(work)
    rows[0].update(decision="remove", comment="'＝HYPERLINK(\"x\") was in the stem")  # as a guarded export writes it
    rows[1].update(comment="' =1 ok")
    import_packets(work, [write_csv(tmp_path / "filled.csv", header, rows)])
    comments = {e["row"]: e["comment"] for e in Workspace(work).audit_entries()}
    assert comments[2] == "＝HYPERLINK(\"x\") was in the stem" and comments[3] == "=1 ok"


def test_file_cut_inside_a_quoted_cell_is_refused(work, tmp_path):
    header, rows = mcq_packet(work)
    rows[-1].update(decision="remove", comment="Two problems, both in the stem:\nthe level is wrong")
    full = write_csv(tmp_path / "full.csv", header, rows).read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(full[:full.rindex(b"the level")])  # the csv module would read "Two problems, ...:\n"
    with pytest.raises(PacketError, match=r"cut.csv line \d+: a quote is never closed: the file was cut short"):
        import_packets(work, [cut])
    assert Workspace(work).audit_entries() == []
