"""The sample PDF sources: a text-layer chapter in English and one in Chinese (headings,
paragraphs, a figure with its caption, a table, a non-diagnostic picture for the image-relevance
step) and a scanned page pair (EN + ZH) as an image-only PDF, for the OCR path.

Written by a small PDF writer of its own (no network, no extra dependency, same bytes on every
run): Latin text in the standard Helvetica font, Chinese text in the Adobe-GB1 font STSong-Light
(UniGB-UCS2-H encoding; a PDF reader maps it to Unicode without an embedded font), images as
Flate-compressed pixels.  The scanned pages are drawn with Pillow in a CJK font found under
/usr/share/fonts (fonts-noto-cjk), which only matters when regenerating.  `PdfWriter` is also
what the tests use to make bad PDFs (encrypted, broken page, planted metadata).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 64


def _pdf_str(text: str) -> bytes:
    if text.isascii():
        return b"(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1") + b")"
    return b"<" + text.encode("utf-16-be").hex().upper().encode() + b">"


class PdfWriter:
    """A minimal PDF 1.4 writer: pages of text runs and images, an /Info dictionary, and
    (for tests) a standard-security /Encrypt entry that needs a password nobody has."""

    def __init__(self) -> None:
        self.objects: list[bytes | None] = []
        self.pages: list[int] = []
        self.pages_id = self._reserve()
        self.fonts = {
            "F1": self.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"),
            "F2": self.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"),
            "F3": self.add(
                b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts ["
                b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
                b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /DW 1000 /W [1 95 500] "
                b"/FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
                b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 "
                b"/StemV 93 >> >> ] >>"),
        }

    def _reserve(self) -> int:
        self.objects.append(None)
        return len(self.objects)

    def add(self, body: bytes, obj_id: int | None = None) -> int:
        if obj_id is None:
            self.objects.append(body)
            return len(self.objects)
        self.objects[obj_id - 1] = body
        return obj_id

    def stream(self, head: bytes, data: bytes) -> int:
        return self.add(head[:-2] + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")

    def image(self, img: Image.Image, jpeg: bool = False) -> int:
        """An image XObject: Flate-compressed pixels, or (`jpeg`, for the big scans) a JPEG."""
        img = img.convert("RGB") if img.mode not in ("L", "RGB") else img
        cs = b"/DeviceGray" if img.mode == "L" else b"/DeviceRGB"
        if jpeg:
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=75)
            data, filt = buf.getvalue(), b"/DCTDecode"
        else:
            data, filt = zlib.compress(img.tobytes(), 9), b"/FlateDecode"
        return self.stream(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                           b"/BitsPerComponent 8 /Filter %s >>" % (img.width, img.height, cs, filt), data)

    def page(self, content: bytes, images: dict[str, int] | None = None, raw_page: bytes | None = None) -> int:
        """A page with a content stream; `raw_page` replaces the page dictionary (broken pages in tests)."""
        if raw_page is not None:
            pid = self.add(raw_page)
        else:
            cid = self.stream(b"<< >>", content)
            fonts = b" ".join(b"/%s %d 0 R" % (k.encode(), v) for k, v in self.fonts.items())
            xobj = b" ".join(b"/%s %d 0 R" % (k.encode(), v) for k, v in (images or {}).items())
            pid = self.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                           b"/Resources << /Font << %s >> /XObject << %s >> >> >>"
                           % (self.pages_id, PAGE_W, PAGE_H, cid, fonts, xobj))
        self.pages.append(pid)
        return pid

    def to_bytes(self, info: dict[str, str] | None = None, encrypted: bool = False) -> bytes:
        kids = b" ".join(b"%d 0 R" % p for p in self.pages)
        self.add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages)), self.pages_id)
        catalog = self.add(b"<< /Type /Catalog /Pages %d 0 R >>" % self.pages_id)
        info_id = self.add(b"<< " + b" ".join(b"/%s %s" % (k.encode(), _pdf_str(v)) for k, v in (info or {}).items())
                           + b" >>") if info else None
        enc_id = None
        if encrypted:  # RC4-40 standard handler whose user password is not empty: nobody can open it
            enc_id = self.add(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>"
                              % (b"AB" * 32, b"CD" * 32))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(self.objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        trailer = b"/Size %d /Root %d 0 R" % (len(self.objects) + 1, catalog)
        if info_id:
            trailer += b" /Info %d 0 R" % info_id
        if enc_id:
            trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (enc_id, b"00" * 16, b"00" * 16)
        out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


# --------------------------------------------------------------------------------------
# Flowing a chapter onto pages
# --------------------------------------------------------------------------------------


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _wrap(text: str, size: float, width: float) -> list[str]:
    if _is_cjk(text):  # one em per Han character, half an em per ASCII character
        lines, cur, w = [], "", 0.0
        for ch in text:
            cw = size * (0.5 if ch.isascii() else 1.0)
            if w + cw > width and cur:
                lines.append(cur)
                cur, w = "", 0.0
            cur += ch
            w += cw
        return lines + ([cur] if cur else [])
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width / (size * 0.5):
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    return lines + ([cur] if cur else [])


class Flow:
    """Lays blocks out top to bottom, starting a new page when one is full."""

    def __init__(self, pdf: PdfWriter) -> None:
        self.pdf = pdf
        self.content: list[bytes] = []
        self.images: dict[str, int] = {}
        self.y = PAGE_H - MARGIN
        self.n = 0

    def _text(self, x: float, y: float, size: float, text: str, bold: bool = False) -> None:
        font = "F3" if not text.isascii() else ("F2" if bold else "F1")
        self.content.append(b"BT /%s %.1f Tf %.1f %.1f Td %s Tj ET" % (font.encode(), size, x, y, _pdf_str(text)))

    def _room(self, h: float) -> None:
        if self.y - h < MARGIN + 20:
            self.break_page()

    def break_page(self) -> None:
        self.n += 1
        self._text(PAGE_W / 2 - 6, MARGIN - 30, 9, str(self.n))  # printed folio: the reader drops it
        self.pdf.page(b"\n".join(self.content), self.images)
        self.content, self.images, self.y = [], {}, PAGE_H - MARGIN

    def heading(self, text: str, size: float) -> None:
        self._room(size * 3)
        self.y -= size * 1.6
        self._text(MARGIN, self.y, size, text, bold=True)
        self.y -= size * 0.8

    def para(self, text: str, size: float = 10.5) -> None:
        lines = _wrap(text, size, PAGE_W - 2 * MARGIN)
        for ln in lines:
            self._room(size * 1.5)
            self.y -= size * 1.45
            self._text(MARGIN, self.y, size, ln)
        self.y -= size * 0.9

    def table(self, rows: list[list[str]], size: float = 9.5) -> None:
        col_w = (PAGE_W - 2 * MARGIN) / len(rows[0])
        self._room(size * 1.6 * len(rows) + 10)
        for r, row in enumerate(rows):
            self.y -= size * 1.6
            for c, cell in enumerate(row):
                self._text(MARGIN + c * col_w, self.y, size, cell, bold=r == 0)
        self.y -= size

    def figure(self, img: Image.Image, caption: str, height: float = 220) -> None:
        w = height * img.width / img.height
        self._room(height + 40)
        self.y -= height + 6
        name = f"Im{len(self.images) + 1}"
        self.images[name] = self.pdf.image(img)
        self.content.append(b"q %.1f 0 0 %.1f %.1f %.1f cm /%s Do Q" % (w, height, MARGIN, self.y, name.encode()))
        self.y -= 8
        self.para(caption, 9.5)

    def finish(self) -> None:
        if self.content:
            self.break_page()


# --------------------------------------------------------------------------------------
# The sample chapters
# --------------------------------------------------------------------------------------

EN_INFO = {"Title": "Sample Textbook of Spinal Surgery, Chapter 11", "Producer": "SpineMed sample_pdfs.py"}
ZH_INFO = {"Title": "Spine surgery sample chapter 7 (zh)", "Producer": "SpineMed sample_pdfs.py"}


def wound_photo() -> Image.Image:
    """A colour 'postoperative photograph' (skin tones and a red incision line): not diagnostic."""
    rng = np.random.default_rng(11)
    base = np.empty((180, 240, 3), np.float32)
    base[:] = (214, 160, 128)
    base += rng.normal(0, 6, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    d.line([(120, 20), (120, 160)], fill=(150, 30, 40), width=5)
    for y in range(30, 160, 16):
        d.line([(110, y), (130, y + 4)], fill=(40, 40, 60), width=2)
    return img


def bar_chart() -> Image.Image:
    """A chart rendered as an image (white background, bars and axes): not diagnostic."""
    img = Image.new("RGB", (260, 180), "white")
    d = ImageDraw.Draw(img)
    d.line([(30, 160), (250, 160)], fill="black", width=2)
    d.line([(30, 10), (30, 160)], fill="black", width=2)
    for i, h in enumerate((60, 110, 90, 40)):
        d.rectangle([45 + i * 50, 160 - h, 75 + i * 50, 159], fill=(40, 90, 200))
    return img


def en_chapter(spine: Callable[..., Image.Image]) -> bytes:
    pdf = PdfWriter()
    f = Flow(pdf)
    f.heading("Chapter 11 Lumbar Spinal Stenosis", 18)
    f.heading("11.1 Definition and Natural History", 13)
    f.para("Lumbar spinal stenosis is a narrowing of the central canal, the lateral recesses or the neural "
           "foramina that compresses the cauda equina or the exiting nerve roots. Degenerative stenosis results "
           "from disc bulging, facet joint hypertrophy and thickening of the ligamentum flavum, and it is most "
           "common at L4-L5 in patients older than 60 years.")
    f.para("Most patients follow a benign course: about one third improve, half remain stable and "
           "a minority deteriorate over several years. Rapid neurological decline is rare and should prompt a "
           "search for another diagnosis such as a synovial cyst or an epidural tumour.")
    f.heading("11.2 Clinical Presentation", 13)
    f.para("The hallmark is neurogenic claudication: buttock and leg pain, heaviness or numbness provoked by "
           "standing and walking and relieved by sitting or flexing forward. Unlike vascular claudication, "
           "pedal pulses are normal and symptoms do not ease on standing still (Figure 11-1).")
    f.figure(spine("t2", ["L1", "L2", "L3", "L4", "L5", "S1"], herniation=3),
             "Figure 11-1 Sagittal T2-weighted MRI of the lumbar spine showing central canal stenosis at L4-L5 "
             "with loss of the cerebrospinal fluid signal around the cauda equina.")
    f.para("Table 11-1 Neurogenic versus vascular claudication")
    f.table([["Feature", "Neurogenic", "Vascular"],
             ["Relief", "Sitting, flexion", "Standing still"],
             ["Pedal pulses", "Normal", "Reduced or absent"],
             ["Uphill walking", "Better tolerated", "Worse"],
             ["Cycling", "Tolerated", "Provokes pain"]])
    f.break_page()
    f.heading("11.3 Imaging and Treatment", 13)
    f.para("MRI is the imaging study of choice and shows the level and the cause of compression; a dural sac "
           "cross-sectional area below 75 square millimetres indicates severe central stenosis. CT myelography is "
           "reserved for patients who cannot undergo MRI. As Figure 11-1 shows, the compression is often worst "
           "at the level of the disc space and the facet joints.")
    f.para("Non-operative care with physiotherapy, analgesics and epidural steroid injection is tried first. "
           "Decompressive laminectomy is indicated for persistent disabling claudication; fusion is added when "
           "there is degenerative spondylolisthesis with dynamic instability.")
    f.figure(wound_photo(), "Figure 11-2 Postoperative photograph of the healed midline incision after "
                            "decompressive laminectomy.", height=150)
    f.finish()
    return pdf.to_bytes(EN_INFO)


def zh_chapter(spine: Callable[..., Image.Image]) -> bytes:
    pdf = PdfWriter()
    f = Flow(pdf)
    f.heading("第七章 胸椎黄韧带骨化症", 18)
    f.heading("第一节 概述", 13)
    f.para("胸椎黄韧带骨化症是导致胸椎管狭窄和胸脊髓压迫的主要原因，多见于东亚人群，好发于下胸段T9～T12。"
           "骨化的黄韧带自椎管后方压迫脊髓，常与颈椎后纵韧带骨化并存。")
    f.para("起病隐匿，早期表现为双下肢麻木、无力和行走不稳，逐渐出现胸腹部束带感和大小便功能障碍。"
           "查体可见下肢肌张力增高、腱反射亢进和病理征阳性，如图7-1所示。")
    f.figure(spine("ct", ["T8", "T9", "T10", "T11", "T12", "L1"]),
             "图7-1 胸椎矢状位CT显示T10-T11节段黄韧带骨化，椎管明显狭窄。")
    f.para("表7-1 胸椎黄韧带骨化的分型")
    f.table([["分型", "CT表现", "手术难度"],
             ["外侧型", "骨化局限于关节突", "较低"],
             ["扩展型", "向中线延伸", "中等"],
             ["融合型", "两侧骨化相连", "较高"]])
    f.break_page()
    f.heading("第二节 治疗", 13)
    f.para("症状性胸椎黄韧带骨化一经确诊，应尽早行后路椎板切除减压术。术中需整块切除骨化的椎板和黄韧带，"
           "避免对脊髓的挤压。合并硬膜骨化时易发生脑脊液漏。")
    f.figure(bar_chart(), "图7-2 不同分型患者术后神经功能改善率的柱状图。", height=140)
    f.finish()
    return pdf.to_bytes(ZH_INFO)


def _cjk_font(size: int) -> ImageFont.FreeTypeFont:
    for path in sorted(Path("/usr/share/fonts").rglob("*CJK*")) + sorted(Path("/usr/share/fonts").rglob("*wqy*")):
        try:
            return ImageFont.truetype(str(path), size, index=2 if path.suffix == ".ttc" else 0)  # SC face
        except OSError:
            continue
    raise RuntimeError("no CJK font under /usr/share/fonts (apt-get install fonts-noto-cjk) to draw the scans")


_SCAN_EN = [
    ("Chapter 13 Spinal Epidural Abscess", 34),
    ("", 0),
    ("Spinal epidural abscess is a rare but serious", 24),
    ("infection. Risk factors include diabetes, injection", 24),
    ("drug use and recent spinal procedures. The classic", 24),
    ("triad of back pain, fever and neurological deficit", 24),
    ("is present in a minority of patients.", 24),
    ("", 0),
    ("Gadolinium enhanced MRI of the whole spine is the", 24),
    ("investigation of choice. Urgent surgical drainage", 24),
    ("is indicated for patients with a neurological deficit.", 24),
]
_SCAN_ZH = [
    ("第十三章 硬膜外脓肿", 34),
    ("", 0),
    ("脊柱硬膜外脓肿少见但病情凶险，危险因素包括糖尿病、", 26),
    ("静脉药物滥用和近期脊柱手术。典型表现为背痛、发热", 26),
    ("和神经功能障碍三联征，但仅见于少数患者。", 26),
    ("", 0),
    ("全脊柱增强磁共振是首选检查。出现神经功能障碍", 26),
    ("时应急诊手术引流。", 26),
]


def scanned_page(lines: list[tuple[str, int]], seed: int) -> Image.Image:
    """A page image as a flatbed scanner gives it: 150 dpi greyscale, slightly blurred and noisy."""
    img = Image.new("L", (1240, 1754), 246)
    d = ImageDraw.Draw(img)
    y = 140
    for text, size in lines:
        if text:
            d.text((120, y), text, fill=25, font=_cjk_font(size))
        y += int((size or 24) * 1.9)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    noise = np.random.default_rng(seed).normal(0, 3, (img.height, img.width))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8), "L")


def scanned_pdf() -> bytes:
    """Image-only PDF: each page is one full-page picture, no text layer."""
    pdf = PdfWriter()
    for i, lines in enumerate((_SCAN_EN, _SCAN_ZH)):
        im = pdf.image(scanned_page(lines, seed=13 + i), jpeg=True)
        pdf.page(b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (PAGE_W, PAGE_H), {"Im1": im})
    return pdf.to_bytes({"Producer": "SpineMed sample_pdfs.py (scanner stand-in)"})


def write_sample_pdfs(out: Path, spine: Callable[..., Image.Image]) -> list[Path]:
    """Write the sample PDFs under `out` (the sources folder); returns their paths."""
    files = {
        out / "pdf" / "en_ch11_lumbar_spinal_stenosis.pdf": en_chapter(spine),
        out / "pdf" / "zh_ch07_thoracic_olf.pdf": zh_chapter(spine),
        out / "pdf" / "scan_ch13_epidural_abscess.pdf": scanned_pdf(),
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(files)
