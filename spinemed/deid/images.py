"""Images: metadata stripping, a metadata report for the publish gate, and an optional OCR check.

Every image that enters a published row goes through :func:`strip_metadata` (called once, in
``spinemed.hub``'s row conformance, so the corpus and SpineBench both get it).  What it does:

* **PNG** -- lossless, chunk level: the pixel data (``IDAT``) is copied byte for byte.  Kept:
  the critical chunks (``IHDR PLTE IDAT IEND``) and the ancillary chunks that change how the
  pixels decode or display and carry no text: ``tRNS`` (transparency), ``gAMA cHRM sRGB cICP
  sBIT`` (colour interpretation, numbers only) and ``pHYs`` (pixel size: numbers only, and
  measurements on radiographs need it).  Dropped: every other chunk -- ``tEXt zTXt iTXt`` (text,
  XMP), ``eXIf``, ``tIME``, ``iCCP`` (an ICC profile carries free-text description/copyright
  tags), ``bKGD hIST sPLT oFFs pCAL sCAL sTER``, private chunks, and anything after ``IEND``.
* **JPEG** -- lossless, segment level, no re-encoding: the quantisation/Huffman tables, frame
  and scan headers and the entropy-coded data are copied byte for byte.  Kept: JFIF ``APP0``
  (rewritten without its thumbnail) and Adobe ``APP14`` only when the frame has 3+ components
  (its transform flag decides YCbCr vs RGB and CMYK inversion).  Dropped: ``COM``, every other
  ``APPn`` (EXIF, XMP, ICC, IPTC/Photoshop, MPF, JFXX thumbnails, vendor data) and anything
  after ``EOI`` (e.g. the extra pictures of an MPO file).
* **Everything else** (TIFF, BMP, WebP, GIF, JPEG 2000, APNG, ...) -- decoded by Pillow and
  re-encoded as PNG with nothing but the pixels (and ``tRNS`` transparency).  Multi-frame
  files keep their first frame, which is what ``datasets.Image`` decodes.  Modes PNG cannot
  hold are converted: CMYK/YCbCr/LAB/HSV to RGB (the only lossy case); float (``F``) pixels and
  32-bit integers outside 0..65535 are refused with ``ValueError``.
* **EXIF orientation** -- ``datasets.Image`` rotates a picture by its EXIF orientation when it
  decodes it.  Dropping that tag alone would turn the published picture, so an image whose
  orientation is not 1 is rotated (``ImageOps.exif_transpose``) and re-encoded as PNG.

Invariant (tested): the decoded pixels of the stripped image equal what ``datasets.Image``
decodes from the original.  Undecodable input raises ``ValueError`` naming the problem.

:func:`metadata_report` names the metadata blocks an image carries (empty when clean) and
:func:`metadata_text` returns their textual values; both are for the publish gate and use a
code path of their own (Pillow's ``info``/``getexif()``/TIFF tags, a separate raw chunk and
segment walk, and a scan for the signatures of EXIF/XMP/ICC/IPTC blocks anywhere in the file).

OCR (optional): burned-in text is a real identifier vector in radiographs (names, MRNs and
dates printed in a corner).  :func:`ocr_text` reads the text with an engine whose model runs
offline: ``rapidocr_onnxruntime`` (``pip install 'spinemed[ocr]'``; PaddleOCR PP-OCRv4 Chinese +
English models ship inside the wheel) or else the ``tesseract`` binary (Debian
``tesseract-ocr tesseract-ocr-chi-sim``).  :func:`burned_in_identifiers` runs
``spinemed.deid.find_identifiers`` over that text.  With no engine installed the check has
**not run**: ``ocr_text`` returns None and ``burned_in_identifiers`` raises
:class:`OcrUnavailableError`; it is never reported as passed.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from .. import ocr as _ocr
from .scrubber import find_identifiers

__all__ = [
    "OcrUnavailableError",
    "burned_in_identifiers",
    "metadata_report",
    "metadata_text",
    "ocr_engine",
    "ocr_text",
    "strip_metadata",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORIENTATION = 0x0112

# PNG chunks that survive stripping: critical ones and the ancillary ones that affect how pixels
# decode or display and hold only numbers.
PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"sBIT", b"pHYs"})


# ======================================================================================
# Decoding helpers
# ======================================================================================


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, memoryview):
        return data.tobytes()
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise TypeError(f"image data must be bytes, got {type(data).__name__}")


def _open(data: bytes):
    """Pillow image for `data`, or ValueError saying why it is not one."""
    import PIL.Image

    if not data:
        raise ValueError("not an image: empty bytes")
    try:
        img = PIL.Image.open(io.BytesIO(data))
    except PIL.UnidentifiedImageError:
        raise ValueError(f"not an image: Pillow cannot identify the format (first bytes {data[:8]!r})") from None
    except Exception as exc:  # truncated headers, bad sizes, ...
        raise ValueError(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    return img


def _orientation(img) -> int:
    try:
        value = img.getexif().get(_ORIENTATION)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# ======================================================================================
# strip_metadata
# ======================================================================================


def strip_metadata(data: bytes) -> bytes:
    """`data` without metadata (see the module docstring for what is kept and why).

    PNG and JPEG are stripped losslessly at chunk / segment level; other formats, APNG and
    pictures with an EXIF orientation other than 1 are re-encoded as metadata-free PNG.
    Raises ValueError for bytes that are not a decodable image."""
    data = _as_bytes(data)
    img = _open(data)
    try:
        if data.startswith(PNG_SIGNATURE):
            chunks = _png_chunks(data)  # validates structure and CRCs
            types = {c for c, _ in chunks}
            if b"acTL" not in types and not (b"eXIf" in types and _orientation(img) != 1):
                return _png_rebuild(chunks)
        elif data.startswith(b"\xff\xd8"):
            segments = _jpeg_segments(data)  # validates structure
            has_exif = any(m == 0xE1 and p.startswith(b"Exif\x00") for m, p, _ in segments)
            if not (has_exif and _orientation(img) != 1):
                return _jpeg_rebuild(segments)
        return _reencode_png(img)
    finally:
        img.close()


# ---------------------------------------------------------------------- PNG


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(type, payload)] up to and including IEND; ValueError on a malformed or truncated file."""
    chunks, pos, n = [], len(PNG_SIGNATURE), len(data)
    while True:
        if pos + 8 > n:
            raise ValueError("not a decodable image: PNG is truncated (no IEND chunk)")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > n:
            raise ValueError(f"not a decodable image: PNG chunk {ctype!r} is truncated")
        payload = data[pos + 8:end]
        (crc,) = struct.unpack(">I", data[end:end + 4])
        if zlib.crc32(ctype + payload) & 0xFFFFFFFF != crc:
            raise ValueError(f"not a decodable image: PNG chunk {ctype!r} has a bad CRC")
        if not chunks and ctype != b"IHDR":
            raise ValueError("not a decodable image: PNG does not start with IHDR")
        chunks.append((ctype, payload))
        pos = end + 4
        if ctype == b"IEND":
            break
    if not any(c == b"IDAT" for c, _ in chunks):
        raise ValueError("not a decodable image: PNG has no IDAT chunk")
    return chunks


def _png_rebuild(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [PNG_SIGNATURE]
    for ctype, payload in chunks:
        if ctype in PNG_KEEP:
            out.append(struct.pack(">I", len(payload)) + ctype + payload
                       + struct.pack(">I", zlib.crc32(ctype + payload) & 0xFFFFFFFF))
    return b"".join(out)


# ---------------------------------------------------------------------- JPEG

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """[(marker, payload, entropy-coded data after it)] between SOI and EOI (exclusive)."""
    segs: list[tuple[int, bytes, bytes]] = []
    pos, n = 2, len(data)
    while True:
        if pos >= n:
            raise ValueError("not a decodable image: JPEG is truncated (no EOI marker)")
        if data[pos] != 0xFF:
            raise ValueError(f"not a decodable image: JPEG has no marker at offset {pos}")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise ValueError("not a decodable image: JPEG is truncated (no EOI marker)")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            break
        if marker in _STANDALONE:
            segs.append((marker, b"", b""))
            continue
        if marker == 0xD8:
            raise ValueError("not a decodable image: JPEG has a second SOI before EOI")
        if pos + 2 > n:
            raise ValueError("not a decodable image: JPEG segment header is truncated")
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        if length < 2 or pos + length > n:
            raise ValueError(f"not a decodable image: JPEG segment 0x{marker:02X} is truncated")
        payload = data[pos + 2:pos + length]
        pos += length
        entropy = b""
        if marker == 0xDA:  # scan: entropy-coded data runs to the next marker that is not RSTn
            i = pos
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise ValueError("not a decodable image: JPEG scan data is truncated (no EOI marker)")
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    break
            entropy, pos = data[pos:j], j
        segs.append((marker, payload, entropy))
    if not any(m in _SOF_MARKERS for m, _, _ in segs) or not any(m == 0xDA for m, _, _ in segs):
        raise ValueError("not a decodable image: JPEG has no frame or scan header")
    return segs


def _jpeg_rebuild(segs: list[tuple[int, bytes, bytes]]) -> bytes:
    components = next((p[5] for m, p, _ in segs if m in _SOF_MARKERS and len(p) > 5), 1)
    out = [b"\xff\xd8"]
    jfif_done = adobe_done = False
    for marker, payload, entropy in segs:
        if marker == 0xFE:
            continue  # COM
        if 0xE0 <= marker <= 0xEF:
            if marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 12 and not jfif_done:
                payload = payload[:12] + b"\x00\x00"  # version, units, density; no thumbnail
                jfif_done = True
            elif (marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12
                  and components >= 3 and not adobe_done):
                payload = payload[:12]  # version, flags, colour transform
                adobe_done = True
            else:
                continue
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
        else:
            out.append(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload + entropy)
    out.append(b"\xff\xd9")
    return b"".join(out)


# ---------------------------------------------------------------------- re-encode

_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"}
_TO_RGB = {"CMYK", "YCbCr", "LAB", "HSV", "RGBX"}
_ALPHA_MODES = {"RGBa": "RGBA", "La": "LA", "PA": "RGBA"}


def _reencode_png(img) -> bytes:
    import numpy as np
    import PIL.Image
    import PIL.ImageOps

    try:
        img.seek(0)
        img.load()
        if _orientation(img) != 1:
            img = PIL.ImageOps.exif_transpose(img)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    transparency = img.info.get("transparency")
    mode = img.mode
    if mode in _TO_RGB:
        img, transparency = img.convert("RGB"), None
    elif mode in _ALPHA_MODES:
        img, transparency = img.convert(_ALPHA_MODES[mode]), None
    elif mode == "I;16L":
        img = img.convert("I")
    if img.mode not in _PNG_MODES:
        if img.mode in ("I", "I;16S", "I;32", "I;32B", "I;16N"):
            arr = np.asarray(img.convert("I") if img.mode != "I" else img)
            if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
                raise ValueError(f"cannot strip metadata losslessly: {img.mode} pixels outside 0..65535 do not fit a PNG")
            img = PIL.Image.fromarray(arr.astype(np.uint16))  # mode I;16
        else:
            raise ValueError(f"cannot strip metadata losslessly: pixel mode {img.mode!r} has no PNG equivalent")
    clean = img.copy()
    clean.info = {}
    kwargs: dict[str, Any] = {}
    if transparency is not None and clean.mode in ("1", "L", "P", "RGB", "I;16", "I;16B"):
        kwargs["transparency"] = transparency
    buf = io.BytesIO()
    clean.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


# ======================================================================================
# metadata_report / metadata_text (the gate's view; a separate code path from stripping)
# ======================================================================================

# Signatures of metadata blocks, searched anywhere in the file (long enough not to occur by
# chance in compressed pixel data).
_SIGNATURES = (
    (b"Exif\x00\x00", "EXIF"),
    (b"<x:xmpmeta", "XMP"),
    (b"http://ns.adobe.com/xap/1.0/", "XMP"),
    (b"ICC_PROFILE\x00", "ICC profile"),
    (b"Photoshop 3.0\x00", "IPTC"),
)
_REPORT_HARMLESS_PNG = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"sBIT", b"pHYs"}
_HARMLESS_INFO = {
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "aspect", "adobe", "adobe_transform",
    "progressive", "progression", "gamma", "srgb", "chromaticity", "transparency", "interlace",
    "compression", "loop", "duration", "background", "version", "resolution", "resolution_unit",
    "disposal", "bits", "sizes", "palette", "cicp", "default_image", "blend", "tile", "quality",
    "subsampling", "mp", "mpoffset", "mpinfo", "icc_profile", "exif", "xmp", "comment", "photoshop",
    "extension", "XML:com.adobe.xmp", "lossless", "huffman_ac", "huffman_dc", "quantization",
    "transparency_index", "ycbcr_subsampling", "unit", "fill_order",
}
# TIFF tags that describe the pixels (anything else is reported as metadata).
_TIFF_STRUCTURAL = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317, 320, 322, 323,
    324, 325, 338, 339, 340, 341, 347, 530, 531, 532, 274, 290, 291, 318, 319, 321, 512, 513, 514,
}
_IPTC_NAMES = {5: "ObjectName", 25: "Keywords", 40: "SpecialInstructions", 55: "DateCreated", 80: "By-line",
               85: "By-lineTitle", 90: "City", 95: "Province-State", 101: "Country", 105: "Headline",
               110: "Credit", 115: "Source", 116: "CopyrightNotice", 120: "Caption-Abstract", 122: "Writer-Editor"}


def metadata_report(data: bytes) -> list[str]:
    """Names of the metadata blocks in `data`, e.g. ["EXIF", "PNG tEXt:Author", "JPEG COM"].

    Empty when the image is clean (what :func:`strip_metadata` returns always is).  Raises
    ValueError for bytes that are not an image."""
    data = _as_bytes(data)
    img = _open(data)
    found: list[str] = []

    def add(name: str) -> None:
        if name not in found:
            found.append(name)

    try:
        # 1. raw container walk
        for name in _raw_block_names(data):
            add(name)
        # 2. Pillow's view
        fmt = (img.format or "image").upper()
        info = dict(img.info)
        try:
            exif = img.getexif()
        except Exception:
            exif = None
        tags = getattr(img, "tag_v2", None)
        if tags is not None:  # TIFF: getexif() is the tag directory itself; EXIF is its sub-IFD
            if 0x8769 in tags or 0x8825 in tags:
                add("EXIF")
        elif info.get("exif") or (exif is not None and len(exif)):
            add("EXIF")
        if info.get("xmp") or "XML:com.adobe.xmp" in info:
            add("XMP")
        if info.get("icc_profile"):
            add("ICC profile")
        if info.get("photoshop"):
            add("IPTC")
        if info.get("comment"):
            add("JPEG COM" if fmt in ("JPEG", "MPO") else f"{fmt} comment")
        if info.get("extension") and fmt == "GIF":
            add("GIF application extension")
        text = getattr(img, "text", None) if fmt == "PNG" else None
        for key in (text or {}):
            if not any(n.startswith("PNG ") and n.endswith(":" + key) for n in found):
                add(f"PNG text:{key}")
        for key, value in info.items():
            if key not in _HARMLESS_INFO and (text is None or key not in text) and isinstance(value, (str, bytes)):
                add(f"{fmt} info:{key}")
        if tags is not None:
            from PIL.TiffTags import TAGS_V2

            for tag in tags:
                if tag not in _TIFF_STRUCTURAL:
                    add(f"TIFF tag:{TAGS_V2[tag].name if tag in TAGS_V2 else tag}")
        # 3. block signatures anywhere in the bytes
        for sig, name in _SIGNATURES:
            if sig in data and not any(n == name or n.endswith(" " + name) for n in found):
                add(f"{name} (signature)")
    finally:
        img.close()
    return found


def _raw_block_names(data: bytes) -> Iterator[str]:
    if data.startswith(PNG_SIGNATURE):
        yield from _png_block_names(data)
    elif data.startswith(b"\xff\xd8"):
        yield from _jpeg_block_names(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        pos = 12
        while pos + 8 <= len(data):
            ctype, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            if ctype in (b"EXIF", b"XMP ", b"ICCP"):
                yield {b"EXIF": "EXIF", b"XMP ": "XMP", b"ICCP": "ICC profile"}[ctype]
            pos += 8 + size + (size & 1)


def _png_block_names(data: bytes) -> Iterator[str]:
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype in _REPORT_HARMLESS_PNG:
            if ctype == b"IEND":
                if pos < n:
                    yield "PNG data after IEND"
                return
            continue
        name = ctype.decode("latin-1")
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            key = payload.split(b"\x00", 1)[0].decode("latin-1", "replace")
            yield f"PNG {name}:{key}"
            if key == "XML:com.adobe.xmp":
                yield "XMP"
        elif ctype == b"eXIf":
            yield "EXIF"
            yield "PNG eXIf"
        elif ctype == b"iCCP":
            yield "ICC profile"
        else:
            yield f"PNG {name}"


def _jpeg_block_names(data: bytes) -> Iterator[str]:
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            if data[pos + 2:].strip(b"\x00"):
                yield "JPEG data after EOI"
            return
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        payload = data[pos + 4:pos + 2 + length]
        pos += 2 + length
        if marker == 0xDA:  # skip entropy-coded data
            while True:
                j = data.find(b"\xff", pos)
                if j < 0 or j + 1 >= n:
                    return
                if data[j + 1] == 0x00 or 0xD0 <= data[j + 1] <= 0xD7 or data[j + 1] == 0xFF:
                    pos = j + 1 if data[j + 1] == 0xFF else j + 2
                    continue
                pos = j
                break
            continue
        if marker == 0xFE:
            yield "JPEG COM"
        elif 0xE0 <= marker <= 0xEF:
            app = marker - 0xE0
            if app == 0 and payload.startswith(b"JFIF\x00"):
                if len(payload) >= 14 and (payload[12] or payload[13]):
                    yield "JPEG JFIF thumbnail"
            elif app == 0 and payload.startswith(b"JFXX\x00"):
                yield "JPEG JFXX thumbnail"
            elif app == 1 and payload.startswith(b"Exif\x00"):
                yield "EXIF"
            elif app == 1 and (payload.startswith(b"http://ns.adobe.com/xap/1.0/") or b"xmp" in payload[:40].lower()):
                yield "XMP"
            elif app == 2 and payload.startswith(b"ICC_PROFILE\x00"):
                yield "ICC profile"
            elif app == 13:
                yield "IPTC"
            elif app == 14 and payload.startswith(b"Adobe") and len(payload) <= 12:
                continue  # colour-transform flag only
            else:
                tag = payload[:16].split(b"\x00", 1)[0].decode("latin-1", "replace")
                tag = "".join(ch for ch in tag if ch.isprintable())
                yield f"JPEG APP{app}" + (f" {tag}" if tag else "")


def metadata_text(data: bytes) -> list[str]:
    """The textual values inside the metadata blocks of `data` ("Key: value" where a block has
    keys), for the publish gate to scan for identifiers.  Empty for a clean image."""
    data = _as_bytes(data)
    img = _open(data)
    out: list[str] = []

    def add(value: Any, key: str | None = None) -> None:
        text = _to_text(value)
        if text is None or not text.strip():
            return
        text = text.strip()
        item = f"{key}: {text}" if key else text
        if item not in out:
            out.append(item)

    try:
        fmt = (img.format or "").upper()
        info = dict(img.info)
        if data.startswith(PNG_SIGNATURE):
            for key, value in _png_text_chunks(data):
                if key == "XML:com.adobe.xmp":
                    for t in _xmp_values(value):
                        add(t)
                else:
                    add(value, key)
        try:
            exif = img.getexif()
        except Exception:
            exif = None
        if exif is not None and len(exif):
            _exif_text(exif, add)
        xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if xmp and not data.startswith(PNG_SIGNATURE):
            for t in _xmp_values(xmp):
                add(t)
        if info.get("comment"):
            add(info["comment"])
        if data.startswith(b"\xff\xd8"):
            for com in _jpeg_comments(data):
                add(com)
        if info.get("icc_profile"):
            for t in _icc_text(info["icc_profile"]):
                add(t)
        if info.get("photoshop") or fmt in ("JPEG", "TIFF"):
            try:
                from PIL import IptcImagePlugin

                iptc = IptcImagePlugin.getiptcinfo(img) or {}
            except Exception:
                iptc = {}
            for (record, dataset), value in iptc.items():
                for v in value if isinstance(value, list) else [value]:
                    add(v, f"IPTC {_IPTC_NAMES.get(dataset, f'{record}:{dataset}')}")
        tags = getattr(img, "tag_v2", None)
        if tags is not None:
            from PIL.TiffTags import TAGS_V2

            for tag, value in tags.items():
                if tag not in _TIFF_STRUCTURAL and tag not in (0x8769, 0x8825, 700, 33723, 34377, 34675):
                    name = TAGS_V2[tag].name if tag in TAGS_V2 else str(tag)
                    if isinstance(value, (str, bytes)) or (isinstance(value, tuple) and value and isinstance(value[0], str)):
                        add(value, name)
        ext = info.get("extension")
        if fmt == "GIF" and isinstance(ext, tuple) and ext and isinstance(ext[0], bytes):
            add(ext[0], "GIF application extension")
        for key, value in info.items():
            if key not in _HARMLESS_INFO and not (data.startswith(PNG_SIGNATURE)) and isinstance(value, (str, bytes)):
                add(value, key)
    finally:
        img.close()
    return out


def _to_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.replace("\x00", " ")
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        for prefix, codec in ((b"ASCII\x00\x00\x00", "ascii"), (b"UNICODE\x00", "utf-16"),
                              (b"JIS\x00\x00\x00\x00\x00", "shift_jis"), (b"\x00" * 8, "utf-8")):
            if raw.startswith(prefix):  # EXIF UserComment charset header
                raw = raw[8:]
                return raw.decode(codec, "replace").replace("\x00", " ")
        try:
            return raw.decode("utf-8").replace("\x00", " ")
        except UnicodeDecodeError:
            return raw.decode("latin-1").replace("\x00", " ")
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return None


def _exif_text(exif, add: Callable) -> None:
    from PIL.ExifTags import GPSTAGS, TAGS

    def walk(mapping, names):
        for tag, value in mapping.items():
            name = names.get(tag, str(tag))
            if 0x9C9B <= tag <= 0x9C9F:  # XPTitle / XPComment / XPAuthor / XPKeywords / XPSubject: UTF-16LE
                raw = bytes(value) if isinstance(value, (bytes, tuple, list)) else b""
                add(raw.decode("utf-16-le", "replace").rstrip("\x00"), name)
            elif isinstance(value, (str, bytes)):
                add(value, name)
            elif names is GPSTAGS and value is not None and not isinstance(value, dict):
                add(str(value), name)  # coordinates are location identifiers too

    walk(exif, TAGS)
    for ifd, names in ((0x8769, TAGS), (0x8825, GPSTAGS), (0xA005, TAGS)):
        try:
            sub = exif.get_ifd(ifd)
        except Exception:
            sub = {}
        if sub:
            walk(sub, names)


def _png_text_chunks(data: bytes) -> Iterator[tuple[str, str]]:
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        try:
            if ctype == b"tEXt":
                key, _, value = payload.partition(b"\x00")
                yield key.decode("latin-1"), value.decode("latin-1")
            elif ctype == b"zTXt":
                key, _, rest = payload.partition(b"\x00")
                yield key.decode("latin-1"), zlib.decompress(rest[1:]).decode("latin-1")
            elif ctype == b"iTXt":
                key, _, rest = payload.partition(b"\x00")
                compressed, rest = rest[0], rest[2:]  # flag, method byte skipped
                lang, _, rest = rest.partition(b"\x00")
                tkey, _, value = rest.partition(b"\x00")
                if compressed:
                    value = zlib.decompress(value)
                label = key.decode("latin-1")
                yield label, value.decode("utf-8", "replace")
                if tkey:
                    yield label, tkey.decode("utf-8", "replace")
            elif ctype == b"IEND":
                return
        except (zlib.error, IndexError):
            yield ctype.decode("latin-1"), payload.decode("latin-1")


def _jpeg_comments(data: bytes) -> Iterator[bytes]:
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xDA, 0xD9):
            return
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker == 0xFE:
            yield data[pos + 4:pos + 2 + length]
        pos += 2 + length


_XML_TEXT = re.compile(r">([^<]+)<")
_XML_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _xmp_values(xmp: Any) -> list[str]:
    text = _to_text(xmp) or ""
    values = [m.strip() for m in _XML_TEXT.findall(text)]
    for name, a, b in _XML_ATTR.findall(text):
        if not name.startswith("xmlns"):
            values.append((a or b).strip())
    return [v for v in values if v and not v.startswith(("http://", "https://", "uuid:", "xmp.")) and v not in ("W5M0MpCehiHzreSzNTczkc9d",)]


def _icc_text(icc: bytes) -> list[str]:
    try:
        from PIL import ImageCms

        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
        vals = [prof.profile_description, prof.copyright, prof.manufacturer, prof.model, prof.target]
        vals = [v for v in vals if isinstance(v, str) and v.strip()]
        if vals:
            return vals
    except Exception:
        pass
    return [m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{6,}", icc)]


# ======================================================================================
# OCR (optional)
# ======================================================================================


# The engine wrapper lives in spinemed.ocr (the PDF reader's scanned pages use the same one).
OcrUnavailableError = _ocr.OcrUnavailableError
_NO_ENGINE = _ocr.NO_ENGINE


def ocr_engine(engine: str | None = None) -> str | None:
    """The OCR engine that :func:`ocr_text` will use, as "name version", or None if none is
    installed.  Preference: rapidocr-onnxruntime, then the tesseract binary."""
    return _ocr.engine_name(engine)


def _ocr_image(data: bytes):
    """8-bit RGB Pillow image of `data` as a viewer would show it (16-bit greys windowed)."""
    import numpy as np
    import PIL.Image
    import PIL.ImageOps

    img = _open(_as_bytes(data))
    try:
        img.seek(0)
        img.load()
    except Exception as exc:
        raise ValueError(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    if _orientation(img) != 1:
        img = PIL.ImageOps.exif_transpose(img)
    if img.mode.startswith("I") or img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = PIL.Image.fromarray(arr.astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "P"):
        img = img.convert("RGBA")
        bg = PIL.Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = PIL.Image.alpha_composite(bg, img)
    return img.convert("RGB")


def ocr_text(data: bytes, engine: str | None = None) -> str | None:
    """Text burned into the image, one line per text row; None when no OCR engine is installed
    (the check did not run).  `engine` forces "rapidocr" or "tesseract"."""
    if _ocr.pick_engine(engine) is None:
        return None
    return _ocr.lines_text(_ocr.read_lines(_ocr_image(data), engine, layout="sparse"))


def burned_in_identifiers(data: bytes, find: Callable[[str], list] | None = None, engine: str | None = None) -> list:
    """Identifier findings in the text burned into the image (OCR + ``find_identifiers``).

    An empty list means the OCR check ran and found nothing.  Raises :class:`OcrUnavailableError`
    when no OCR engine is installed: the check did not run."""
    text = ocr_text(data, engine=engine)
    if text is None:
        raise OcrUnavailableError(_NO_ENGINE)
    if find is None:
        find = find_identifiers
    return list(find(text)) if text.strip() else []
