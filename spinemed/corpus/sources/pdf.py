"""Textbooks and guidelines as PDF: each page -> the markdown the OCR'd-chapter reader takes.

A PDF page is turned into the same markdown-with-figures a PaddleOCR-style chapter holds
(`<!-- page N -->` markers, `#` headings, paragraphs, `|` tables, `![](...)` images) and handed to
`markdown.markdown_records`, so passages, tables and PCM figure anchoring work exactly as for
markdown sources, with N the PDF page number (1-based) in every locator.

* **Text layer** (pypdfium2, Apache-2.0/BSD-3: PDFium's own text and image extraction, wheels for
  every platform, no system library): characters with their boxes and font sizes are grouped
  into lines (top to bottom, one column); a line set in a larger font than the document's body
  text (and not ending a sentence) is a heading (`#` from 1.5x, else `##`); a larger vertical gap, a figure or table label
  at a line start, or an image starts a new block; runs of two or more lines cut into the same
  number (>= 2) of cells by wide horizontal gaps are a table, written as a markdown table.
  Tables come from text positions rather than pdfplumber: pdfplumber 0.11.11 requires
  Pillow >= 13 while gradio 6.31 (the Space) requires Pillow < 13, and positions are enough for
  the ruled and unruled grid tables of textbooks.  A bare number at the foot of a page (the
  printed folio) is dropped.
* **Images**: each embedded image object is saved as PNG (in the record, not on disk) and placed
  at its position on the page; PCM anchors it to the caption above or below it.  An image
  covering most of the page is the page's scan (a "searchable" PDF: scan + OCR text layer), not
  a figure, and is skipped.
* **OCR**: a page with no text layer (a scanned book, an image-only PDF) is rendered at 300 dpi
  and read by the one OCR engine (`spinemed.ocr`: RapidOCR, else Tesseract); its lines become
  paragraphs and headings (by line height) -- tables and figures are not recovered from scans.
  Each record of an OCR'd page carries the engine and version (`SourceRecord.ocr`, published in
  `provenance.ocr`).  No engine installed: the page is a defect ("page N: no text layer and no
  OCR engine installed"), never an empty chapter.
* **Bad input**: an encrypted PDF (password needed), a corrupt file, a page that cannot be
  loaded or rendered, an OCR failure: each a `SourceIssue` naming the file (and page); the
  other pages go on.
* **Metadata** (/Info title, author, producer, XMP) is never read: nothing of it reaches a row.
  Text-layer and OCR'd text go through the build's de-identification step like any other text.

Pages fan out over `workers` processes (one PDFium document per process: PDFium is not
thread-safe); results are put back in page order, so the output does not depend on `workers`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from statistics import median
from typing import Any

from spinemed import ocr
from spinemed.schema import SourceIssue, SourceRecord
from spinemed.text import is_han

from ..pcm import FIGURE_LABEL_RE
from .catalog import CatalogEntry, _as_entry, _rel
from .common import DEFAULT_MAX_PARAGRAPH_CHARS
from .markdown import markdown_records

__all__ = ["read_pdf", "pdf_markdown", "OCR_DPI"]

OCR_DPI = 300  # the highest render resolution for OCR; scans are rarely sharper than this
_MAX_OCR_SIDE = 3600  # pixels: a poster-sized page is rendered smaller rather than exhaust memory
_PAGE_IMAGE_SHARE = 0.8  # an image covering this much of a page is the page's scan, not a figure
_MIN_FIGURE_PX = 24  # smaller image objects are rules, bullets or texture tiles, not figures
_LABEL_START = re.compile(rf"^\s*(?:{FIGURE_LABEL_RE.pattern}|(?:Table|表)\s*\d)", re.IGNORECASE)
_SENTENCE_END = tuple(".!?;。！？；")  # a line ending a sentence is no heading, whatever its size
_FOLIO = re.compile(r"^\s*(?:[-–—]\s*)?\d{1,4}(?:\s*[-–—])?\s*$")


@dataclass
class Line:
    """One text line on a page: top/bottom in points from the page top, font size, cells (a line
    without wide gaps has one cell)."""

    top: float
    bottom: float
    size: float
    cells: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.cells)


@dataclass
class PageData:
    """What one worker read from one page."""

    page: int  # 1-based
    height: float = 0.0
    lines: list[Line] = field(default_factory=list)
    images: list[tuple[float, str, bytes]] = field(default_factory=list)  # (top, name, PNG bytes)
    ocr: str = ""  # engine + version when the page was OCR'd
    issue: str = ""  # why the page could not be read ("" = read)


# --------------------------------------------------------------------------------------
# One page (runs in a worker process)
# --------------------------------------------------------------------------------------


def _text_lines(page, height: float) -> list[Line]:
    import pypdfium2.raw as pdfium_c

    tp = page.get_textpage()
    try:
        chars, space = [], False
        for i in range(tp.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(tp.raw, i)
            if code in (0, 0xFFFE, 0xFFFF) or chr(code).isspace():
                space = space or code == 0x20  # PDFium's spaces (set or inferred); line breaks are re-made
                continue
            # loose box: the glyph's advance and the font's ascent/descent, so one line's
            # characters share top and bottom whatever their shapes
            left, bottom, right, top = tp.get_charbox(i, loose=True)
            size = pdfium_c.FPDFText_GetFontSize(tp.raw, i) or (top - bottom) or 10.0
            chars.append((height - top, height - bottom, left, right, size, chr(code), space))
            space = False
    finally:
        tp.close()
    chars.sort(key=lambda c: (c[1], c[2]))
    rows: list[list[tuple]] = []
    for c in chars:  # a character whose baseline lies within half its size of a row's joins that row
        if rows and abs(rows[-1][0][1] - c[1]) <= 0.5 * c[4]:
            rows[-1].append(c)
        else:
            rows.append([c])
    lines = []
    for row in rows:
        row.sort(key=lambda c: c[2])
        size = median(c[4] for c in row)
        cells, cur, prev = [], "", None
        for c in row:
            if prev is not None:
                gap = c[2] - prev[3]
                if gap > 1.5 * size:  # a column gap: no running text is set this loosely
                    cells.append(cur)
                    cur = ""
                elif c[6] or (gap > 0.25 * size and not (is_han(prev[5]) and is_han(c[5]))):
                    cur += " "
            cur += c[5]
            prev = c
        cells.append(cur)
        lines.append(Line(min(c[0] for c in row), max(c[1] for c in row), size, cells))
    return lines


def _figures(page, height: float, n: int) -> list[tuple[float, str, bytes]]:
    import pypdfium2.raw as pdfium_c

    width = page.get_size()[0]
    out = []
    for k, obj in enumerate(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2), 1):
        try:
            left, bottom, right, top = obj.get_bounds()
            if (right - left) * (top - bottom) > _PAGE_IMAGE_SHARE * width * height:
                continue  # the page's own scan under an OCR'd text layer (a "searchable" PDF), not a figure
            img = obj.get_bitmap(render=False).to_pil()
        except Exception:  # an undecodable image stream: the page's text is still read
            continue
        if min(img.size) < _MIN_FIGURE_PX:
            continue
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGB")
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append((height - top, f"pdf-p{n}-img{k}", buf.getvalue()))
    return out


def _scan_scale(page) -> float:
    """Render scale for OCR: the scan's own pixel density (upsampling adds no detail, only OCR
    time), between 150 and OCR_DPI dpi; OCR_DPI for a page drawn without images."""
    import pypdfium2.raw as pdfium_c

    density = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        try:
            left, _bottom, right, _top = obj.get_bounds()
            density = max(density, obj.get_px_size()[0] / max(right - left, 1.0))
        except Exception:
            continue
    return min(max(density, 150 / 72), OCR_DPI / 72) if density else OCR_DPI / 72


def _ocr_lines(page, engine: str | None) -> list[Line]:
    w, h = page.get_size()
    scale = min(_scan_scale(page), _MAX_OCR_SIDE / max(w, h, 1))
    img = page.render(scale=scale, grayscale=True).to_pil()
    lines = []
    for ln in ocr.read_lines(img, engine, layout="page"):
        top, bottom = ln.top / scale, ln.bottom / scale
        lines.append(Line(top, bottom, (bottom - top) / 1.2, [ln.text]))  # box ~1.2 x the font size
    return lines


def _read_page(pdf, index: int, engine: str | None) -> PageData:
    n = index + 1
    data = PageData(n)
    try:
        page = pdf[index]
    except Exception as exc:
        data.issue = f"page {n}: cannot be loaded ({_why(exc)}); the other pages are read"
        return data
    try:
        _w, data.height = page.get_size()
        data.lines = _text_lines(page, data.height)
        if data.lines:
            data.images = _figures(page, data.height, n)
            return data
        picked = ocr.pick_engine(engine)
        if picked is None:
            data.issue = f"page {n}: no text layer and no OCR engine installed ({ocr.NO_ENGINE})"
            return data
        data.ocr = ocr.engine_name(picked) or picked
        data.lines = _ocr_lines(page, picked)
        if not data.lines:
            data.issue = f"page {n}: no text layer, and OCR ({data.ocr}) found no text (blank page?)"
        return data
    except Exception as exc:  # PDFium or the OCR engine failed on this page only
        data.lines, data.images = [], []
        data.issue = f"page {n}: cannot be rendered or read ({_why(exc)}); the other pages are read"
        return data
    finally:
        page.close()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:300]


def _open(path: str):
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(path)


def _read_pages(path: str, indices: list[int], engine: str | None) -> list[PageData]:
    """Worker entry point: the given pages of one PDF (each process opens its own document)."""
    pdf = _open(path)
    try:
        return [_read_page(pdf, i, engine) for i in indices]
    finally:
        pdf.close()


# --------------------------------------------------------------------------------------
# Pages -> markdown
# --------------------------------------------------------------------------------------


def _body_size(pages: list[PageData]) -> float:
    sizes = [ln.size for p in pages if not p.ocr for ln in p.lines for _ in ln.text]
    return median(sizes) if sizes else 10.0


def _table(lines: list[Line]) -> str:
    width = len(lines[0].cells)
    rows = ["| " + " | ".join(c.strip().replace("|", "\\|") for c in ln.cells) + " |" for ln in lines]
    return "\n".join([rows[0], "| " + " | ".join(["---"] * width) + " |", *rows[1:]])


def page_markdown(p: PageData, body: float) -> str:
    """One page as markdown blocks, in reading order (top to bottom, one column)."""
    body = body if not p.ocr else (median(ln.size for ln in p.lines) if p.lines else body)
    items: list[tuple[float, int, Any]] = [(ln.top, 1, ln) for ln in p.lines]
    items += [(top, 0, (name, data)) for top, name, data in p.images]
    items.sort(key=lambda t: (t[0], t[1]))
    blocks: list[str] = [f"<!-- page {p.page} -->"]
    para: list[str] = []
    table: list[Line] = []
    prev: Line | None = None
    # a paragraph break is a gap clearly wider than the page's usual line gap
    gaps = [b.top - a.bottom for a, b in zip(p.lines, p.lines[1:]) if len(a.cells) == len(b.cells) == 1]
    positive = sorted(g for g in gaps if g > 0)
    usual = positive[len(positive) // 4] if positive else 0.0  # lower quartile: lines within a paragraph
    # OCR line boxes vary in height with the letters they hold; text-layer sizes are exact
    size_step = 0.25 * body if p.ocr else 0.5

    def flush() -> None:
        nonlocal table
        if para:
            blocks.append("\n".join(para))
            para.clear()
        if len(table) >= 2:
            blocks.append(_table(table))
        elif table:
            blocks.append(table[0].text)
        table = []

    for idx, (_top, is_line, obj) in enumerate(items):
        if not is_line:
            flush()
            blocks.append(f"![]({obj[0]})")
            prev = None
            continue
        ln: Line = obj
        if (p.height and ln.top > p.height * 0.9 and _FOLIO.match(ln.text)
                and all(not o[1] or o[2].top <= ln.top for o in items[idx + 1:])):
            continue  # the printed page number at the foot
        if len(ln.cells) >= 2:
            if table and len(table[-1].cells) != len(ln.cells):
                flush()
            if not table:
                flush()
            table.append(ln)
            prev = ln
            continue
        if table:
            flush()
        if ln.size >= 1.15 * body and not ln.text.rstrip().endswith(_SENTENCE_END):
            flush()
            blocks.append(("# " if ln.size >= 1.5 * body else "## ") + ln.text)
            prev = None
            continue
        gap = ln.top - prev.bottom if prev is not None else 0.0
        if prev is None or gap > max(0.5 * ln.size, 1.6 * usual) or _LABEL_START.match(ln.text) or abs(ln.size - prev.size) > size_step:
            flush()
        para.append(ln.text)
        prev = ln
    flush()
    return "\n\n".join(blocks)


def pdf_markdown(pages: list[PageData]) -> str:
    body = _body_size(pages)
    return "\n\n".join(page_markdown(p, body) for p in pages if not p.issue) + "\n"


# --------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------


def extract_pages(path: Path, n_pages: int, *, workers: int = 1, engine: str | None = None) -> list[PageData]:
    """Every page of the PDF, in page order; with `workers` > 1 the pages fan out over that many
    processes in contiguous chunks (spawned, so no OCR engine or event loop state is forked)."""
    indices = list(range(n_pages))
    if workers <= 1 or n_pages <= 1:
        return _read_pages(str(path), indices, engine)
    n = min(workers, n_pages)
    chunk = -(-n_pages // (n * 2))  # two chunks per worker evens out pages of unequal cost
    chunks = [indices[i:i + chunk] for i in range(0, n_pages, chunk)]
    pages: list[PageData] = []
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
        parts = pool.map(_read_pages, [str(path)] * len(chunks), chunks, [engine] * len(chunks))
        try:
            for part in parts:
                pages.extend(part)
        except BrokenProcessPool as exc:  # a worker crashed (PDFium segfault) or was killed (out of memory)
            raise WorkerDiedError(len(pages) + 1) from exc
    return pages


class WorkerDiedError(RuntimeError):
    """A worker process reading this PDF's pages died; `page` (1-based) is the first page not read."""

    def __init__(self, page: int):
        super().__init__(f"worker process died while reading page {page}")
        self.page = page


def read_pdf(path: str | Path, entry: CatalogEntry | dict[str, Any], *, max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS,
             workers: int = 1, ocr_engine: str | None = None) -> Iterator[SourceRecord | SourceIssue]:
    """Passages and figures of one PDF chapter, book or guideline (see the module docstring);
    `ocr_engine` forces "rapidocr" or "tesseract" for pages without a text layer."""
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    try:
        pdf = _open(str(path))
    except ImportError:
        yield SourceIssue(rel, "pypdfium2 is not installed (pip install pypdfium2); PDF not read")
        return
    except Exception as exc:
        msg = str(exc)
        if "password" in msg.lower():
            yield SourceIssue(rel, "encrypted PDF: a password is needed to open it; not read")
        else:
            yield SourceIssue(rel, f"not a readable PDF (corrupt or truncated: {_why(exc)}); not read")
        return
    try:
        n_pages = len(pdf)
    finally:
        pdf.close()
    if n_pages == 0:
        yield SourceIssue(rel, "PDF has no pages")
        return
    try:
        pages = extract_pages(path, n_pages, workers=workers, engine=ocr_engine)
    except WorkerDiedError as exc:
        yield SourceIssue(rel, f"worker process died while reading page {exc.page} or a later one of {n_pages} "
                               "(a PDFium crash or out of memory); PDF not read")
        return
    for p in pages:
        if p.issue:
            yield SourceIssue(rel, p.issue)
    if all(p.issue for p in pages):
        return
    engine_by_page = {p.page: p.ocr for p in pages if p.ocr}
    images = {name: data for p in pages for _top, name, data in p.images}
    for rec in markdown_records(pdf_markdown(pages), path, entry, max_chars=max_chars, images=images):
        if isinstance(rec, SourceRecord):
            rec.ocr = engine_by_page.get(rec.fields.get("page"), "")
        yield rec
