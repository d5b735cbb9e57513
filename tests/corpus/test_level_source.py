"""Where a row's levels come from (`level_source`: label | text | none): a source's labels
(`fields["label_levels"]`) win over its text, bad labels quarantine the record, and the sample
build's VerSe rows carry their graded vertebrae."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spinemed.corpus.generate import Generate, Generator, load_criteria, plan_jobs, record_levels, row_levels
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.prompts import load_prompts
from spinemed.corpus.step import Doc
from spinemed.deid.provenance import stamp_record
from spinemed.llm.client import LLMClient
from spinemed.schema import SourceRecord

BUILDER = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k"
TEXT = "MRI: L4/5 disc extrusion; saddle anaesthesia S2-S5; no stenosis at L3/4."


def _rec(fields=None, text=TEXT):
    return SourceRecord(record_id="rec-1", source_type="open_dataset", source_id="demo", kind="passage",
                        language="en", text=text, title="", locator="", license="CC-BY-4.0", redistributable=True,
                        source_file="x", fields=fields or {})


@pytest.mark.parametrize(("fields", "text", "expected"), [
    ({"label_levels": ["L5/S1", "l4-5"]}, TEXT, (["L4-L5", "L5-S1"], "label")),  # labels win, canonicalised
    ({"label_levels": []}, TEXT, ([], "label")),  # the labels say: no level
    ({}, TEXT, (["L4-L5"], "text")),  # the finding's level only (no dermatome, no negated level)
    ({}, "Osteoporosis treatment overview.", ([], "none")),
])
def test_record_levels(fields, text, expected):
    assert record_levels(_rec(fields, text)) == expected


@pytest.mark.parametrize("labels", [["L4-L5", "L9"], "L4-L5", [4]])
def test_bad_labels_name_the_value(labels):
    with pytest.raises(ValueError, match="label_levels"):
        record_levels(_rec({"label_levels": labels}))


def test_row_levels_keep_labels_and_parse_the_rest():
    assert row_levels({"level_source": "label", "levels": ["T12"], "task": "open_qa", "question": "L1?", "answer": ""}) \
        == (["T12"], "label")
    assert row_levels({"level_source": "text", "levels": ["T12"], "task": "open_qa",
                       "question": "Where is the L1 fracture?", "answer": "At L1."}) == (["L1"], "text")


def test_generate_quarantines_a_record_with_bad_labels_and_keeps_the_rest():
    gen = Generator(LLMClient(RulesBackend()), load_prompts(BUILDER / "prompts"), load_criteria(BUILDER / "criteria" / "v1.yaml"))
    step = Generate(gen, languages="source")
    bad, good = _rec({"label_levels": ["L4-L5", "T13"]}), _rec({"label_levels": ["L1"]})
    good.record_id = "rec-2"
    for rec in (bad, good):
        stamp_record(rec)
    docs = [Doc(bad, subfield="lumbar_disc_herniation"), Doc(good, subfield="lumbar_disc_herniation")]
    kept = asyncio.run(step.process(docs))
    assert [d.record.record_id for d in kept] == ["rec-2"]
    assert step.quarantine.entries[0][:3] == ("record", "rec-1", "plan")
    assert "'T13', which is not one vertebral level" in step.quarantine.entries[0][3]
    rows = [o.row for o in kept[0].outcomes if o.row is not None]
    assert rows and all(r["levels"] == ["L1"] and r["level_source"] == "label" for r in rows)


def test_plan_jobs_carry_the_level_source():
    jobs = plan_jobs(_rec(), "lumbar_disc_herniation", ["L1"], [], ["en"], level_source="label")
    assert jobs and all(j.level_source == "label" for j in jobs)


def test_sample_build_rows_say_where_their_levels_came_from(sample_corpus):
    seen: dict[str, set[str]] = {}
    labelled: dict[str, set[tuple[str, ...]]] = {}  # open dataset -> the level lists its rows carry
    for path in sorted((sample_corpus / "data").glob("*/*.parquet")):
        for row in pq.read_table(path, columns=["levels", "level_source", "provenance"]).to_pylist():
            seen.setdefault(row["provenance"]["source_type"], set()).add(row["level_source"])
            assert row["level_source"] in ("label", "text", "none")
            assert (row["level_source"] == "none") == (not row["levels"]) or row["level_source"] == "label"
            if row["provenance"]["source_type"] == "open_dataset":  # the datasets' labels, never the text
                assert row["level_source"] == "label"
                labelled.setdefault(row["provenance"]["source_id"], set()).add(tuple(row["levels"]))
    verse = {k: v for k, v in labelled.items() if "verse" in k.lower()}
    rsna = {k: v for k, v in labelled.items() if "rsna" in k.lower()}
    assert set(labelled) == set(verse) | set(rsna) and verse and rsna, labelled
    # VerSe: sub-verse with an L1 wedge fracture, and one without a graded vertebra
    assert set().union(*verse.values()) == {(), ("L1",)}
    # RSNA: the levels graded Moderate or Severe in train.csv (study 1: L3-L4 and L4-L5; study 2: L5-S1)
    assert set().union(*rsna.values()) == {("L3-L4", "L4-L5"), ("L5-S1",)}
    assert seen["open_dataset"] == {"label"} and "text" in seen["textbook"] and "none" in seen["textbook"]
