"""End-to-end de-identification for PDF sources: identifiers planted in a PDF's metadata, in its
text layer (a patient vignette and a figure caption) and on a scanned page read by OCR never
reach the built dataset.

The PDF metadata (/Info: title, author, subject, keywords, creator, producer) is never read by
the reader; text-layer and OCR'd text go through the build's de-identification step like any
other text.  Textbooks are de-identified in 'literature' mode (docs/deid.md), so the planted
values are clinical-style identifiers: names behind a patient cue, MRNs, dates of birth, phone
numbers, e-mail and street addresses.  The published folder (every string cell of every
parquet shard, every image's bytes, README.md, manifest.json) is searched for each value as a
case-insensitive substring -- stricter than a word match, so an OCR'd name glued to its
neighbour ("Patient:EvangelineThistlewood") still counts as a leak.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from spinemed import ocr
from spinemed.corpus.pipeline import BuildConfig, run_build

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sample_pdfs", ROOT / "builders" / "spinemed_450k" / "sample_pdfs.py")
sample_pdfs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample_pdfs)

METADATA = {"Title": "Case file of Cordelia Ravenscroft", "Author": "Percival Oakenshield",
            "Subject": "MRN 55500123 admission 2023-03-14", "Keywords": "Ravenscroft; 55500123",
            "Creator": "Scanner at Wolverhampton Spinal Unit", "Producer": "Oakenshield PDF 1.0"}
TEXT_VALUES = ["Rosalind Featherstonehaugh", "Featherstonehaugh", "14 Quince Orchard Lane", "48213377",
               "03/07/1958", "(555) 201-8834", "r.featherstone@example.org", "Bartholomew Quennell", "Quennell"]
SCAN_VALUES = ["Evangeline Thistlewood", "Thistlewood", "77314029", "(555) 390-4471"]
META_VALUES = ["Cordelia Ravenscroft", "Ravenscroft", "Oakenshield", "55500123", "Wolverhampton"]


def _radiograph() -> Image.Image:
    rng = np.random.default_rng(7)
    arr = rng.normal(30, 8, (384, 256))
    arr[40:340, 100:160] += 150 + rng.normal(0, 20, (300, 60))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def _scan() -> Image.Image:
    img = Image.new("L", (1240, 700), 248)
    d = ImageDraw.Draw(img)
    lines = ["Case 20-2", "Patient: Evangeline Thistlewood, MRN 77314029.",
             "Phone (555) 390-4471.",
             "The epidural abscess was drained through a posterior approach",
             "and the patient recovered full power within six weeks."]
    for i, text in enumerate(lines):
        d.text((80, 60 + 110 * i), text, fill=20, font=sample_pdfs._cjk_font(40))
    return img


def _planted_pdf() -> bytes:
    w = sample_pdfs.PdfWriter()
    f = sample_pdfs.Flow(w)
    f.heading("Chapter 20 Cauda Equina Syndrome", 18)
    f.heading("20.1 A case", 13)
    f.para("A patient, Rosalind Featherstonehaugh, of 14 Quince Orchard Lane, presented with saddle anaesthesia "
           "and urinary retention. MRN 48213377, date of birth 03/07/1958, phone (555) 201-8834, e-mail "
           "r.featherstone@example.org. MRI showed a massive L4-L5 disc extrusion compressing the cauda equina "
           "(Figure 20-1), and she underwent emergency decompression within 24 hours.")
    f.figure(_radiograph(), "Figure 20-1 Sagittal T2-weighted MRI of Patient: Bartholomew Quennell showing a "
                            "massive L4-L5 disc extrusion.")
    f.para("Cauda equina syndrome is a surgical emergency: delayed decompression beyond 48 hours is associated "
           "with worse bladder recovery.")
    f.finish()
    im = w.image(_scan())
    h = sample_pdfs.PAGE_W * 700 / 1240
    w.page(b"q %d 0 0 %.1f 0 %.1f cm /Im1 Do Q" % (sample_pdfs.PAGE_W, h, sample_pdfs.PAGE_H - h), {"Im1": im})
    return w.to_bytes(METADATA)


def _published_text(out: Path) -> tuple[str, list[bytes], list[dict]]:
    """Every string cell of every shard (JSON-dumped), every image's bytes, and the provenance structs."""
    texts, images, provenance = [], [], []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("bytes"), bytes):
                images.append(v["bytes"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            texts.append(v)

    for shard in sorted(out.glob("data/*/*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            provenance.append(row["provenance"])
            walk(row)
    for name in ("README.md", "manifest.json"):
        texts.append((out / name).read_text(encoding="utf-8"))
    return "\n".join(texts), images, provenance


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted_pdf")
    src = tmp / "sources"
    (src / "books").mkdir(parents=True)
    (src / "books" / "ces_chapter.pdf").write_bytes(_planted_pdf())
    (src / "catalog.yaml").write_text(
        "sources:\n  - {path: books/ces_chapter.pdf, source_type: textbook, source_id: 'ISBN 978-0-00-000999-1', "
        "title: Planted PDF chapter, language: en, license: proprietary-sample, redistributable: false}\n",
        encoding="utf-8")
    out = tmp / "ds"
    summary = run_build(BuildConfig(out=out, sources=src), progress=None)
    return out, summary


def test_planted_values_are_in_the_source(built):
    """The plant is real: the reader sees the text-layer values, the file holds the metadata."""
    from spinemed.corpus.sources.pdf import read_pdf

    out, _ = built
    src = out.parent / "sources"
    text = " ".join(r.text for r in read_pdf(src / "books" / "ces_chapter.pdf",
                                             {"source_type": "textbook", "source_id": "x", "title": "t", "language": "en",
                                              "license": "l", "redistributable": False, "root": str(src)})
                    if hasattr(r, "text"))
    for value in TEXT_VALUES:
        assert value in text
    raw = (src / "books" / "ces_chapter.pdf").read_bytes()
    assert b"Ravenscroft" in raw and b"Oakenshield" in raw


@pytest.mark.parametrize("value", TEXT_VALUES + SCAN_VALUES + META_VALUES)
def test_no_planted_value_is_published(built, value):
    out, _ = built
    text, images, _ = _published_text(out)
    assert value.lower() not in text.lower(), f"{value!r} reached the published rows"
    assert not any(value.encode() in b for b in images), f"{value!r} is in a published image's bytes"


def test_the_pdf_was_built_into_rows_including_the_scanned_page(built):
    out, summary = built
    _, _, provenance = _published_text(out)
    assert summary["accounting"]["balanced"] and summary["accounting"]["items_published"] > 0
    pages = {p["locator"].split(" / ")[0] for p in provenance}
    assert "p.1" in pages
    if ocr.engine_name() is None:
        assert any("page 2: no text layer and no OCR engine" in r for r in summary["accounting"]["source_defect_reasons"])
    else:  # the OCR'd page was published, with the engine on its provenance
        assert {p["ocr"] for p in provenance if p["locator"].startswith("p.2")} == {ocr.engine_name()}
