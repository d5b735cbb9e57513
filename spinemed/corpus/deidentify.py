"""Stage 2 of the build: de-identification, before any LLM call.

Each record, in input order: provenance ids (file names, case ids and imaging subjects become
opaque ids, `spinemed.deid.provenance`), the text and structured fields scrubbed
(`spinemed.deid.records`), the de-identification stamp that every request built from the record
is checked against, then its images loaded under opaque names, and (with --ocr-check) a record
whose images carry burned-in identifier text is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .. import deid
from ..deid import images as deid_images
from ..deid.provenance import ProvenanceIds, deidentify_provenance, opaque_id, stamp_record
from ..schema import SourceRecord
from .step import PipelineStep, Window


def deidentify_record(rec: SourceRecord, on_dropped: Callable[[str], None] | None = None) -> SourceRecord:
    """Scrub every free-text and structured field of a record (`spinemed.deid.records`):
    the source type picks the mode (clinical / literature), structured case records pass the
    key allowlist, and each dropped unknown key is reported through `on_dropped` (path only)."""
    report = deid.deidentify_record(rec)
    if on_dropped is not None:
        for path in report.dropped_keys:
            on_dropped(path)
    return rec


def load_images(rec: SourceRecord, sources_root: Path, ids: ProvenanceIds | None = None) -> list[dict]:
    """Encoded bytes of a record's images ({"bytes", "path"} as datasets.Image stores them).

    The stored file name is opaque (the record id for images an adapter made, the file's
    opaque id for image files): a source file name may carry a patient's name."""
    out = []
    for i, img in enumerate(rec.images):
        if img.data is not None:
            # prefixed: a hex record id that opens with a run of digits reads as an MRN to the publish gate
            out.append({"bytes": img.data, "path": f"img-{rec.record_id}-{i}.png"})
        elif img.path:
            path = sources_root / img.path
            name = ids.opaque(img.path, "src") if ids is not None else opaque_id(img.path, "src")
            out.append({"bytes": path.read_bytes(), "path": name + Path(img.path).suffix.lower()})
    return out


def burned_in_kinds(images: list[dict]) -> set[str]:
    """Identifier kinds found by OCR in the text burned into a record's images."""
    return {f.kind for img in images for f in deid_images.burned_in_identifiers(img["bytes"])}


class Deidentify(PipelineStep):
    """Stats: `records` (per source type), `deid_dropped_keys` (structured keys outside the
    allowlist, by path, never by value)."""

    name = "deid"

    def __init__(self, ids: ProvenanceIds, sources_root: Path, ocr_engine: str | None = None):
        super().__init__()
        self.ids = ids
        self.sources_root = sources_root
        self.ocr_engine = ocr_engine  # the optional burned-in-text check; never on silently

    def _count_dropped_key(self, path: str) -> None:
        self.stats["deid_dropped_keys"][re.sub(r"\[\d+\]", "[]", path)] += 1

    async def process(self, window: Window) -> Window:
        kept = []
        for doc in window:
            rec = doc.record
            self.stats["records"][rec.source_type] += 1
            deidentify_provenance(rec, self.ids)
            deidentify_record(rec, self._count_dropped_key)
            stamp_record(rec)  # verified wherever a request is built from the record
            try:
                doc.images = load_images(rec, self.sources_root, self.ids)
            except OSError as exc:
                self.drop(doc, f"image unreadable: {exc}", stage="sources")
                continue
            if self.ocr_engine and doc.images and burned_in_kinds(doc.images):
                self.drop(doc, "burned-in identifier text")
                continue
            kept.append(doc)
        return kept


__all__ = ["Deidentify", "deidentify_record", "load_images", "burned_in_kinds"]
