"""De-identification of one source record: the mode its source type calls for, the structured
allowlist, the record's own identifiers scrubbed wherever its text repeats them.

Modes by source type (documented in docs/deid.md):

| source type | mode | why |
| --- | --- | --- |
| inpatient, case_report, question_bank, open_dataset | clinical | patient-bearing: recall first |
| textbook, guideline | literature | published text: authors, citations and historical names are public |

Unknown source types get the clinical mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .scrubber import Deidentifier
from .structured import allowlist, bucket_age

MODE_BY_SOURCE_TYPE = {
    "textbook": "literature",
    "guideline": "literature",
    "question_bank": "clinical",
    "case_report": "clinical",
    "inpatient": "clinical",
    "open_dataset": "clinical",
}
_PLACEHOLDER_ONLY = re.compile(r"^\s*(\[[A-Z>0-9]+\]\s*)+$")
_DETECTORS = {mode: Deidentifier(mode=mode) for mode in ("clinical", "literature")}


def mode_for(source_type: str) -> str:
    return MODE_BY_SOURCE_TYPE.get(source_type, "clinical")


@dataclass
class RecordReport:
    mode: str
    dropped_keys: list[str] = field(default_factory=list)  # structured keys dropped as unknown (paths only)


def deidentify_record(rec: Any) -> RecordReport:
    """Scrub every text and structured field of a `spinemed.schema.SourceRecord` in place.

    The narrative, title, captions, image descriptions and citing context are scrubbed
    together with the structured fields, so identifier values found under identifier keys
    (the patient's name, an MRN) are removed wherever the notes repeat them. Structured
    `case` records pass the key allowlist first; fields left holding only a placeholder are
    dropped, since they carry no clinical content."""
    mode = mode_for(rec.source_type)
    report = RecordReport(mode)
    fields: dict[str, Any] = dict(rec.fields)
    known: dict[str, list[str]] = {}
    # Raw clinical exports (inpatient case records) pass the key allowlist; the fields of other
    # records are made by the kit's own adapters (JATS sections, MCQ parts, VerSe measurements).
    if rec.kind == "case" and rec.source_type in ("inpatient", "open_dataset"):
        res = allowlist(fields, "case")
        fields, known = res.fields, res.identifiers
        report.dropped_keys = res.dropped
    detector = _DETECTORS[mode].with_known(known) if known else _DETECTORS[mode]
    bundle = {
        **fields,
        "__text__": rec.text,
        "__title__": rec.title,
        "__context__": list(rec.context),
        "__captions__": [img.caption for img in rec.images],
        "__descriptions__": [img.description for img in rec.images],
    }
    clean = detector.scrub_fields(bundle)
    rec.text = clean.pop("__text__")
    rec.title = clean.pop("__title__")
    rec.context = clean.pop("__context__")
    for img, cap, desc in zip(rec.images, clean.pop("__captions__"), clean.pop("__descriptions__")):
        img.caption, img.description = cap, desc
    for key in ("age", "年龄", "patient_age"):
        if key in clean:
            clean[key] = bucket_age(clean[key])
    rec.fields = {k: v for k, v in clean.items() if not (isinstance(v, str) and _PLACEHOLDER_ONLY.match(v))}
    # The locator ("item EN-003-…", "page 12") is published: an item id may carry a name.
    if rec.locator:
        rec.locator = _DETECTORS["clinical"].scrub(rec.locator)
    return report
