"""The PDF reader (spinemed/corpus/sources/pdf.py): text layer, tables, figures anchored to their
captions, OCR of pages without a text layer, bad input, and pages fanned out over processes."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from spinemed import ocr
from spinemed.corpus.sources import iter_sources
from spinemed.corpus.sources.pdf import read_pdf
from spinemed.schema import SourceIssue, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "builders" / "spinemed_450k" / "sources"
_spec = importlib.util.spec_from_file_location("sample_pdfs", ROOT / "builders" / "spinemed_450k" / "sample_pdfs.py")
sample_pdfs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sample_pdfs)

ENTRY = {"source_type": "textbook", "source_id": "ISBN test", "title": "Catalog title", "language": "auto",
         "license": "proprietary-sample", "redistributable": False}
ENGINES = [pytest.param(e, marks=pytest.mark.skipif(ocr.engine_name(e) is None, reason=f"OCR engine {e} not installed"))
           for e in ocr.ENGINES]


def _read(path: Path, root: Path | None = None, **kw) -> tuple[list[SourceRecord], list[SourceIssue]]:
    out = list(read_pdf(path, {**ENTRY, "root": str(root or path.parent)}, **kw))
    return [r for r in out if isinstance(r, SourceRecord)], [r for r in out if isinstance(r, SourceIssue)]


def _no_engine(monkeypatch) -> None:
    monkeypatch.setattr(ocr, "_have_rapidocr", lambda: False)
    monkeypatch.setattr(ocr, "_tesseract_path", lambda: None)


def _scan(lines: list[tuple[str, int]]) -> Image.Image:
    """A small scanned page (only the text block, to keep OCR quick)."""
    img = Image.new("L", (900, 80 + 60 * len(lines)), 250)
    d = ImageDraw.Draw(img)
    for i, (text, size) in enumerate(lines):
        d.text((40, 40 + 60 * i), text, fill=20, font=sample_pdfs._cjk_font(size))
    return img


def _pdf(pages: list, info: dict | None = None, encrypted: bool = False) -> bytes:
    """pages: str (a text-layer paragraph), Image (a scanned page), bytes (a raw page dictionary)."""
    w = sample_pdfs.PdfWriter()
    for page in pages:
        if isinstance(page, str):
            f = sample_pdfs.Flow(w)
            f.para(page)
            f.finish()
        elif isinstance(page, Image.Image):
            im = w.image(page)
            h = sample_pdfs.PAGE_W * page.height / page.width
            w.page(b"q %d 0 0 %.1f 0 %.1f cm /Im1 Do Q" % (sample_pdfs.PAGE_W, h, sample_pdfs.PAGE_H - h), {"Im1": im})
        else:
            w.page(b"", raw_page=page)
    return w.to_bytes(info, encrypted=encrypted)


# ---------------------------------------------------------------- text layer


def test_english_chapter_passages_table_and_figures():
    recs, issues = _read(SOURCES / "pdf" / "en_ch11_lumbar_spinal_stenosis.pdf", SOURCES)
    assert issues == []
    passages = [r for r in recs if r.kind == "passage"]
    figures = {r.locator: r for r in recs if r.kind == "figure"}
    assert {r.title for r in recs} == {"Chapter 11 Lumbar Spinal Stenosis"}  # the first heading, not /Info
    assert passages[0].locator == "p.1 / 11.1 Definition and Natural History"
    assert passages[0].text.startswith("Lumbar spinal stenosis is a narrowing of the central canal, the lateral")
    assert any(r.locator == "p.3 / 11.3 Imaging and Treatment" for r in passages)
    table = next(r for r in passages if r.fields["is_table"])
    assert table.text.splitlines()[:3] == ["Table 11-1 Neurogenic versus vascular claudication",
                                           "| Feature | Neurogenic | Vascular |", "| --- | --- | --- |"]
    assert "| Pedal pulses | Normal | Reduced or absent |" in table.text
    assert set(figures) == {"p.1 / Figure 11-1", "p.3 / Figure 11-2"}
    fig = figures["p.1 / Figure 11-1"]
    assert fig.text.startswith("Figure 11-1 Sagittal T2-weighted MRI") and fig.fields["label_key"] == "11-1"
    assert len(fig.context) == 2 and all("Figure 11-1" in c for c in fig.context)  # both citing paragraphs
    with Image.open(io.BytesIO(fig.images[0].data)) as im:
        assert im.format == "PNG" and im.size == (256, 384)
    assert all(r.ocr == "" and r.source_file == "pdf/en_ch11_lumbar_spinal_stenosis.pdf" for r in recs)


def test_chinese_chapter_figure_labels_and_table():
    recs, issues = _read(SOURCES / "pdf" / "zh_ch07_thoracic_olf.pdf", SOURCES)
    assert issues == []
    assert {r.language for r in recs} == {"zh"}
    figs = {r.fields["label_key"]: r for r in recs if r.kind == "figure"}
    assert set(figs) == {"7-1", "7-2"} and figs["7-1"].locator == "p.1 / 图7-1"
    assert figs["7-1"].context == ["起病隐匿，早期表现为双下肢麻木、无力和行走不稳，逐渐出现胸腹部束带感和大小便功能障碍。"
                                   "查体可见下肢肌张力增高、腱反射亢进和病理征阳性，如图7-1所示。"]
    table = next(r for r in recs if r.kind == "passage" and r.fields["is_table"])
    assert "| 外侧型 | 骨化局限于关节突 | 较低 |" in table.text
    assert any(r.locator == "p.2 / 第二节 治疗" for r in recs)


def test_metadata_never_reaches_records(tmp_path):
    path = tmp_path / "meta.pdf"
    path.write_bytes(_pdf(["Degenerative spondylolisthesis is most common at L4-L5 in women older than fifty."],
                          info={"Title": "Zebulon Quistgaard", "Author": "Ottoline Vandersloot", "Producer": "Quux"}))
    recs, issues = _read(path)
    assert recs and not issues
    blob = repr([vars(r) for r in recs])
    assert "Quistgaard" not in blob and "Vandersloot" not in blob and "Quux" not in blob


def test_workers_give_the_same_records():
    path = SOURCES / "pdf" / "en_ch11_lumbar_spinal_stenosis.pdf"
    one, _ = _read(path, SOURCES, workers=1)
    two, _ = _read(path, SOURCES, workers=2)
    assert [vars(r) for r in one] == [vars(r) for r in two]


def test_searchable_scan_is_read_from_its_text_layer_and_the_scan_is_no_figure(tmp_path):
    """A scanned page with an OCR text layer on top: the text is read, the page image is not a figure."""
    w = sample_pdfs.PdfWriter()
    im = w.image(_scan([("scan", 30)]))
    text = (b"BT /F1 10.5 Tf 64 700 Td (Lumbar canal stenosis narrows the central canal and the lateral recesses "
            b"at L4-L5.) Tj ET")
    w.page(b"q %d 0 0 %d 0 0 cm /Im1 Do Q\n" % (sample_pdfs.PAGE_W, sample_pdfs.PAGE_H) + text, {"Im1": im})
    path = tmp_path / "searchable.pdf"
    path.write_bytes(w.to_bytes())
    recs, issues = _read(path)
    assert issues == [] and [r.kind for r in recs] == ["passage"] and recs[0].text.startswith("Lumbar canal stenosis")


# ---------------------------------------------------------------- OCR


@pytest.mark.parametrize("engine", ENGINES)
def test_scanned_pages_are_read_by_ocr_en_and_zh(tmp_path, engine):
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf([_scan([("Spinal epidural abscess needs urgent MRI.", 30)]),
                           _scan([("硬膜外脓肿需要急诊手术引流。", 32)])]))
    recs, issues = _read(path, ocr_engine=engine)
    assert not issues
    assert {r.ocr for r in recs} == {ocr.engine_name(engine)}
    text = " ".join(r.text for r in recs)
    assert "epidural abscess" in text.lower() and "urgent" in text
    assert "脓肿" in text and "引流" in text
    assert recs[0].fields["page"] == 1 and recs[0].locator.startswith("p.1")


def test_page_without_text_layer_and_no_engine_is_a_defect_the_rest_is_read(tmp_path, monkeypatch):
    _no_engine(monkeypatch)
    path = tmp_path / "mixed.pdf"
    path.write_bytes(_pdf(["Cervical myelopathy presents with clumsy hands and a broad-based unsteady gait.",
                           _scan([("scanned text", 30)])]))
    recs, issues = _read(path)
    assert [i.reason.split(" (")[0] for i in issues] == ["page 2: no text layer and no OCR engine installed"]
    assert "pip install 'spinemed[ocr]'" in issues[0].reason and issues[0].source_file == "mixed.pdf"
    assert len(recs) == 1 and recs[0].fields["page"] == 1


def test_image_only_pdf_without_engine_yields_only_defects(tmp_path, monkeypatch):
    _no_engine(monkeypatch)
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf([_scan([("one", 30)]), _scan([("two", 30)])]))
    recs, issues = _read(path)
    assert recs == [] and [i.reason[:7] for i in issues] == ["page 1:", "page 2:"]


# ---------------------------------------------------------------- bad input


def test_encrypted_pdf_is_a_defect(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(_pdf(["Text nobody may read without the password, long enough to be a passage."], encrypted=True))
    recs, issues = _read(path)
    assert recs == [] and [i.reason for i in issues] == ["encrypted PDF: a password is needed to open it; not read"]


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", b"<html>404</html>"])
def test_corrupt_pdf_is_a_defect(tmp_path, data):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    recs, issues = _read(path)
    assert recs == [] and len(issues) == 1
    assert issues[0].reason.startswith("not a readable PDF (corrupt or truncated") and issues[0].source_file == "broken.pdf"


def test_page_that_cannot_be_loaded_is_a_defect_other_pages_read(tmp_path):
    path = tmp_path / "p2.pdf"
    path.write_bytes(_pdf(["First page: lumbar disc herniation compresses the traversing root in the lateral recess.",
                           b"(not a page dictionary)",
                           "Third page: foraminal herniation compresses the exiting root at the same level."]))
    recs, issues = _read(path)
    assert [i.reason.split(" (")[0] for i in issues] == ["page 2: cannot be loaded"]
    assert sorted(r.fields["page"] for r in recs) == [1, 3]


def test_page_that_fails_to_render_is_a_defect_other_pages_read(tmp_path, monkeypatch):
    import pypdfium2

    def fail(self, *a, **kw):
        raise pypdfium2.PdfiumError("Failed to render page (simulated).")

    monkeypatch.setattr(pypdfium2.PdfPage, "render", fail)
    path = tmp_path / "render.pdf"
    path.write_bytes(_pdf(["Text-layer page: ankylosing spondylitis fractures are unstable three-column injuries.",
                           _scan([("scan", 30)])]))
    recs, issues = _read(path, ocr_engine=None)
    if ocr.engine_name() is None:
        pytest.skip("no OCR engine: the page is reported as unreadable before rendering")
    assert [i.reason.split(" (")[0] for i in issues] == ["page 2: cannot be rendered or read"]
    assert "simulated" in issues[0].reason and [r.fields["page"] for r in recs] == [1]


def test_driver_reads_catalogued_pdfs_and_reports_uncatalogued_ones(tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.pdf").write_bytes(_pdf(["Scheuermann kyphosis is defined by wedging of three adjacent "
                                                     "vertebrae by five degrees or more."]))
    (tmp_path / "books" / "stray.pdf").write_bytes(_pdf(["not catalogued"]))
    (tmp_path / "catalog.yaml").write_text(
        "sources:\n  - {path: books/a.pdf, source_type: textbook, source_id: x, title: t, language: en, "
        "license: l, redistributable: false}\n", encoding="utf-8")
    out = list(iter_sources(tmp_path))
    assert [r.source_file for r in out if isinstance(r, SourceRecord)] == ["books/a.pdf"]
    assert [(i.source_file, i.reason) for i in out if isinstance(i, SourceIssue)] == [
        ("books/stray.pdf", "not listed in catalog.yaml; not read")]


def _die(path: str, indices: list[int], engine: str | None):
    """A page reader whose worker process dies (as on a PDFium segfault or an OOM kill)."""
    import os

    os._exit(1)


def test_a_worker_process_that_dies_is_a_defect_not_a_crash(tmp_path, monkeypatch):
    from spinemed.corpus.sources import pdf as pdf_mod

    monkeypatch.setattr(pdf_mod, "_read_pages", _die)  # pickled by name: the spawned worker runs _die
    path = SOURCES / "pdf" / "en_ch11_lumbar_spinal_stenosis.pdf"
    recs, issues = _read(path, SOURCES, workers=2)
    assert recs == [] and len(issues) == 1
    assert "worker process died while reading page 1" in issues[0].reason and "not read" in issues[0].reason
