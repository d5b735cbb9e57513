"""Image de-identification: metadata stripping, the gate's metadata report, the optional OCR check."""

import io
import struct
import zlib

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets import Features, Value
from datasets import Image as HFImage
from PIL import Image, ImageCms, ImageDraw, ImageFont, PngImagePlugin

from spinemed import ocr as spinemed_ocr
from spinemed.deid import images as deid_images
from spinemed.deid.images import (
    OcrUnavailableError,
    burned_in_identifiers,
    metadata_report,
    metadata_text,
    ocr_engine,
    ocr_text,
    strip_metadata,
)

XMP = ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:source="Riverside General Hospital">'
       '<dc:creator>Dr. Alice Whitcombe</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _pixels(seed=0, size=(48, 40), mode="L"):
    rng = np.random.default_rng(seed)
    if mode == "L":
        return Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8), "L")
    return Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8), "RGB")


def _exif(**extra):
    exif = Image.Exif()
    exif[0x013B] = "John Smith"  # Artist
    exif[0x010E] = "MRN 20230314 lumbar MRI"  # ImageDescription
    for tag, value in extra.items():
        exif[int(tag.lstrip("t"))] = value
    return exif


def _decoded(data: bytes) -> np.ndarray:
    """What datasets.Image gives a user (it applies the EXIF orientation)."""
    return np.asarray(HFImage().decode_example({"bytes": data, "path": None}))


def _assert_same_pixels(original: bytes, stripped: bytes):
    a, b = _decoded(original), _decoded(stripped)
    assert a.shape == b.shape
    assert np.array_equal(a.astype(np.int64), b.astype(np.int64))


def _png_chunk_types(data: bytes) -> list[bytes]:
    pos, out = 8, []
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(ctype)
        pos += 12 + length
    return out


def _insert_jpeg_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    seg = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + seg + data[2:]


# ---------------------------------------------------------------------------------- images


@pytest.fixture(scope="module")
def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "John Smith")
    info.add_text("Title", "Scan of Bob Kowalski", zip=True)  # zTXt
    info.add_itxt("Comment", "Patient 张伟, MRN 20230314", lang="zh", tkey="注释", zip=True)  # iTXt
    info.add_itxt("XML:com.adobe.xmp", XMP)
    info.add(b"tIME", struct.pack(">HBBBBB", 2023, 3, 14, 9, 12, 0))
    buf = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    _pixels(mode="RGB").save(buf, "PNG", pnginfo=info, exif=_exif().tobytes(), icc_profile=icc)  # eXIf + iCCP
    data = buf.getvalue()
    # a private chunk and bytes after IEND too
    priv = b"prVt" + b"Jane Doe"
    iend = data.rindex(b"IEND") - 4
    chunk = struct.pack(">I", 8) + priv + struct.pack(">I", zlib.crc32(priv) & 0xFFFFFFFF)
    return data[:iend] + chunk + data[iend:] + b"trailing Jane Doe"


@pytest.fixture(scope="module")
def jpeg_with_metadata() -> bytes:
    buf = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    _pixels(mode="RGB").save(buf, "JPEG", quality=90, exif=_exif().tobytes(), comment="Patient: Jane Doe",
                             xmp=XMP.encode("utf-8"), icc_profile=icc)
    data = buf.getvalue()
    iptc = b"\x1c\x02\x50" + struct.pack(">H", 10) + b"John Smith"  # IPTC By-line
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    data = _insert_jpeg_segment(data, 0xED, b"Photoshop 3.0\x00" + irb)  # APP13
    data = _insert_jpeg_segment(data, 0xEB, b"VENDOR\x00Station 4 / Dr Pham")  # an unknown APP11
    return data + b"\x00trailing Jane Doe"


@pytest.fixture(scope="module")
def tiff_with_tags() -> bytes:
    buf = io.BytesIO()
    _pixels(mode="RGB").save(buf, "TIFF", tiffinfo={315: "John Smith", 270: "Patient Jane Doe, DOB 1961-04-02",
                                                    305: "PACS export 2.1", 306: "2023:03:14 09:12:00"})
    return buf.getvalue()


def test_png_every_metadata_kind_is_reported_then_removed(png_with_metadata):
    report = metadata_report(png_with_metadata)
    for name in ("PNG tEXt:Author", "PNG zTXt:Title", "PNG iTXt:Comment", "PNG iTXt:XML:com.adobe.xmp",
                 "XMP", "EXIF", "PNG eXIf", "PNG tIME", "ICC profile", "PNG prVt", "PNG data after IEND"):
        assert name in report, (name, report)
    texts = " | ".join(metadata_text(png_with_metadata))
    for value in ("Author: John Smith", "Bob Kowalski", "张伟", "Dr. Alice Whitcombe", "Riverside General Hospital"):
        assert value in texts, (value, texts)

    clean = strip_metadata(png_with_metadata)
    assert metadata_report(clean) == []
    assert metadata_text(clean) == []
    for needle in (b"John Smith", b"Jane Doe", b"Whitcombe", b"Kowalski", b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"):
        assert needle not in clean
    _assert_same_pixels(png_with_metadata, clean)
    # lossless: the compressed pixel data is carried over byte for byte
    assert set(_png_chunk_types(clean)) <= {b"IHDR", b"IDAT", b"IEND"}
    idat = lambda d: [d[i:] for i in [d.index(b"IDAT")]][0][:64]  # noqa: E731
    assert idat(clean) == idat(png_with_metadata)
    assert strip_metadata(clean) == clean  # idempotent


def test_png_keeps_palette_transparency_and_pixel_size():
    img = Image.new("P", (20, 10), 3)
    img.putpalette([i % 256 for i in range(768)])
    img.putpixel((1, 1), 7)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "John Smith")
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=7, dpi=(300, 300), pnginfo=info)
    clean = strip_metadata(buf.getvalue())
    assert metadata_report(clean) == []
    assert sorted(_png_chunk_types(clean)) == sorted([b"IHDR", b"PLTE", b"tRNS", b"pHYs", b"IDAT", b"IEND"])
    out = Image.open(io.BytesIO(clean))
    assert out.info["transparency"] == 7 and round(out.info["dpi"][0]) == 300
    _assert_same_pixels(buf.getvalue(), clean)
    assert np.array_equal(np.asarray(out.convert("RGBA")), np.asarray(Image.open(buf).convert("RGBA")))


def test_jpeg_every_metadata_kind_is_reported_then_removed_without_reencoding(jpeg_with_metadata):
    report = metadata_report(jpeg_with_metadata)
    for name in ("EXIF", "XMP", "ICC profile", "IPTC", "JPEG COM", "JPEG APP11 VENDOR", "JPEG data after EOI"):
        assert name in report, (name, report)
    texts = " | ".join(metadata_text(jpeg_with_metadata))
    for value in ("Artist: John Smith", "MRN 20230314", "Patient: Jane Doe", "Dr. Alice Whitcombe", "By-line: John Smith"):
        assert value in texts, (value, texts)

    clean = strip_metadata(jpeg_with_metadata)
    assert clean.startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") and clean.endswith(b"\xff\xd9")
    assert metadata_report(clean) == []
    assert metadata_text(clean) == []
    for needle in (b"John Smith", b"Jane Doe", b"Whitcombe", b"Exif\x00", b"ICC_PROFILE", b"Photoshop", b"Dr Pham"):
        assert needle not in clean
    _assert_same_pixels(jpeg_with_metadata, clean)
    # segment-level: the entropy-coded scan is copied, not re-encoded
    sos = lambda d: d[d.index(b"\xff\xda"):]  # noqa: E731
    assert sos(clean) == sos(jpeg_with_metadata)[: len(sos(clean))]
    assert strip_metadata(clean) == clean


@pytest.mark.parametrize("kind", ["progressive-restart", "cmyk-adobe", "grey-jfif-thumbnail"])
def test_jpeg_variants_decode_identically(kind):
    buf = io.BytesIO()
    if kind == "progressive-restart":
        _pixels(1, (160, 120), "RGB").save(buf, "JPEG", progressive=True, restart_marker_blocks=2,
                                           exif=_exif().tobytes(), comment="Jane Doe")
    elif kind == "cmyk-adobe":
        _pixels(2, (64, 48), "RGB").convert("CMYK").save(buf, "JPEG", comment="Jane Doe")
    else:
        _pixels(3, (64, 48)).save(buf, "JPEG", comment="Jane Doe")
    data = buf.getvalue()
    if kind == "grey-jfif-thumbnail":  # a JFIF APP0 that carries a 2x1 RGB thumbnail
        start = data.index(b"JFIF\x00") - 4
        length = struct.unpack(">H", data[start + 2:start + 4])[0]
        app0 = data[start + 4:start + 2 + length][:12] + b"\x02\x01" + b"\x10\x20\x30" * 2
        data = data[:start] + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + data[start + 2 + length:]
        assert "JPEG JFIF thumbnail" in metadata_report(data)
    clean = strip_metadata(data)
    assert metadata_report(clean) == []
    _assert_same_pixels(data, clean)
    if kind == "cmyk-adobe":
        assert Image.open(io.BytesIO(clean)).mode == "CMYK"
        assert b"Adobe" in clean  # needed for the CMYK inversion


def test_exif_orientation_is_applied_before_the_tag_goes():
    buf = io.BytesIO()
    _pixels(4, (64, 40), "RGB").save(buf, "JPEG", quality=95, exif=_exif(t274=6).tobytes())
    clean = strip_metadata(buf.getvalue())
    assert metadata_report(clean) == []
    assert clean.startswith(b"\x89PNG")  # rotated pixels can only be written by re-encoding (losslessly, as PNG)
    assert _decoded(clean).shape[:2] == (64, 40)  # turned, as datasets shows the original
    _assert_same_pixels(buf.getvalue(), clean)


def test_tiff_is_reencoded_without_its_tags(tiff_with_tags):
    report = metadata_report(tiff_with_tags)
    assert {"TIFF tag:Artist", "TIFF tag:ImageDescription", "TIFF tag:Software", "TIFF tag:DateTime"} <= set(report)
    assert "Artist: John Smith" in metadata_text(tiff_with_tags)
    clean = strip_metadata(tiff_with_tags)
    assert clean.startswith(b"\x89PNG") and metadata_report(clean) == []
    assert b"John Smith" not in clean and b"Jane Doe" not in clean
    _assert_same_pixels(tiff_with_tags, clean)


def test_16bit_tiff_keeps_its_depth():
    arr = np.random.default_rng(5).integers(0, 65536, (30, 20), dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "TIFF", tiffinfo={315: "John Smith"})
    clean = strip_metadata(buf.getvalue())
    assert metadata_report(clean) == []
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(clean))).astype(np.int64), arr.astype(np.int64))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP"])
def test_other_formats_are_reencoded_as_clean_png(fmt):
    buf = io.BytesIO()
    img = _pixels(6, (40, 30), "RGB")
    if fmt == "GIF":
        img = img.convert("P")
        img.save(buf, "GIF", comment=b"Patient: Jane Doe", transparency=0)
    elif fmt == "WEBP":
        img.save(buf, "WEBP", lossless=True, exif=_exif().tobytes(), xmp=XMP.encode("utf-8"))
    else:
        img.save(buf, "BMP")
    data = buf.getvalue()
    if fmt != "BMP":
        assert metadata_report(data), fmt
        assert any("Jane Doe" in t or "John Smith" in t for t in metadata_text(data))
    clean = strip_metadata(data)
    assert clean.startswith(b"\x89PNG") and metadata_report(clean) == []
    assert b"Jane Doe" not in clean and b"John Smith" not in clean
    _assert_same_pixels(data, clean)


@pytest.mark.parametrize("bad, why", [
    (b"", "empty"),
    (b"Patient: Jane Doe, not a picture", "cannot identify"),
    ("png-truncated", "truncated"),
    ("png-bad-crc", "bad CRC"),
    ("jpeg-truncated", "truncated"),
])
def test_undecodable_bytes_raise_value_error_naming_the_problem(bad, why):
    png, jpg = io.BytesIO(), io.BytesIO()
    _pixels(7).save(png, "PNG")
    _pixels(7).save(jpg, "JPEG")
    if bad == "png-truncated":
        bad = png.getvalue()[:-30]
    elif bad == "png-bad-crc":
        data = bytearray(png.getvalue())
        data[data.index(b"IDAT") + 10] ^= 0xFF
        bad = bytes(data)
    elif bad == "jpeg-truncated":
        bad = jpg.getvalue()[: len(jpg.getvalue()) * 2 // 3]
    with pytest.raises(ValueError, match=why):
        strip_metadata(bad)
    if why in ("empty", "cannot identify"):
        with pytest.raises(ValueError):
            metadata_report(bad)


def test_clean_images_report_nothing():
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        _pixels(8).save(buf, fmt)
        assert metadata_report(buf.getvalue()) == []
        assert metadata_report(strip_metadata(buf.getvalue())) == []


# ---------------------------------------------------------------------------------- publishing


def test_the_hub_writer_publishes_stripped_images(tmp_path, png_with_metadata, tiff_with_tags):
    from spinemed.hub import DatasetFolderWriter

    src = tmp_path / "scan.tif"
    src.write_bytes(tiff_with_tags)
    features = Features({"id": Value("string"), "image": HFImage()})
    with DatasetFolderWriter(tmp_path / "out", {"default": features}, split="train") as writer:
        writer.add("default", {"id": "a", "image": {"bytes": png_with_metadata, "path": "/home/u/John_scan.png"}})
        writer.add("default", {"id": "b", "image": str(src)})
    table = pq.read_table(next((tmp_path / "out").rglob("*.parquet")))
    cells = table.column("image").to_pylist()
    assert [metadata_report(c["bytes"]) for c in cells] == [[], []]
    assert cells[1]["path"] == "scan.png"  # re-encoded, so the name says PNG


@pytest.fixture(scope="module")
def built(sample_corpus):
    return sample_corpus  # read only here


def test_demo_build_publishes_no_image_metadata(built):
    from spinemed.corpus.pipeline import DEFAULT_BUILDER

    sources = DEFAULT_BUILDER.parent / "sources"
    dirty = [p for p in sources.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")
             and _safe_report(p.read_bytes())]
    assert dirty, "the sample sources should carry image metadata (PNG Description, JPEG COM) for this test to mean anything"
    n = 0
    for shard in sorted(built.rglob("*.parquet")):
        table = pq.read_table(shard)
        for name in table.column_names:
            for cell in table.column(name).to_pylist():
                for image in _images_in(cell):
                    n += 1
                    assert metadata_report(image["bytes"]) == [], (shard.name, name, image["path"])
    assert n > 0, "the demo build published no image"


def _safe_report(data):
    try:
        return metadata_report(data)
    except ValueError:
        return []


def _images_in(cell):
    if isinstance(cell, dict):
        if set(cell) == {"bytes", "path"} and isinstance(cell["bytes"], bytes):
            yield cell
        else:
            for v in cell.values():
                yield from _images_in(v)
    elif isinstance(cell, list):
        for v in cell:
            yield from _images_in(v)


# ---------------------------------------------------------------------------------- OCR


def _burned_in(text="MRN 20230314 John Smith", size=32) -> bytes:
    img = Image.new("L", (size * 16, size * 5), 0)  # white overlay text on black, as on a radiograph
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        pytest.skip("this Pillow cannot scale its default font")
    draw.text((size // 2, size * 2), text, fill=255, font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


_ENGINES = [pytest.param(e, marks=pytest.mark.skipif(ocr_engine(e) is None, reason=f"OCR engine {e} not installed "
                                                    "(pip install 'spinemed[ocr]' / apt-get install tesseract-ocr)"))
            for e in ("rapidocr", "tesseract")]


@pytest.mark.parametrize("engine", _ENGINES)
def test_ocr_finds_burned_in_identifiers(engine):
    data = _burned_in()
    text = ocr_text(data, engine=engine)
    assert "20230314" in text and "Smith" in text, text
    kinds = {f.kind for f in burned_in_identifiers(data, engine=engine)}
    assert kinds, f"{ocr_engine(engine)} read {text!r} but no identifier was found"
    blank = io.BytesIO()
    Image.new("L", (200, 300), 0).save(blank, "PNG")
    assert burned_in_identifiers(blank.getvalue(), engine=engine) == []


@pytest.mark.skipif(ocr_engine() is None, reason="no OCR engine installed (pip install 'spinemed[ocr]' or "
                                                 "apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
def test_ocr_engine_names_itself():
    assert ocr_engine().split()[0] in ("rapidocr-onnxruntime", "tesseract")


def test_without_an_engine_the_check_is_not_run_never_passed(monkeypatch):
    monkeypatch.setattr(spinemed_ocr, "_have_rapidocr", lambda: False)
    monkeypatch.setattr(spinemed_ocr, "_tesseract_path", lambda: None)
    assert ocr_engine() is None
    assert ocr_text(_burned_in()) is None
    with pytest.raises(OcrUnavailableError, match="no OCR engine"):
        burned_in_identifiers(_burned_in())


def test_build_refuses_ocr_check_without_an_engine(monkeypatch, tmp_path):
    from spinemed.corpus.pipeline import BuildConfig, CorpusBuilder

    monkeypatch.setattr(spinemed_ocr, "_have_rapidocr", lambda: False)
    monkeypatch.setattr(spinemed_ocr, "_tesseract_path", lambda: None)
    with pytest.raises(ValueError, match="--ocr-check cannot run: no OCR engine"):
        CorpusBuilder(BuildConfig(out=tmp_path / "x", ocr_check=True), progress=None)


def test_build_ocr_check_quarantines_images_with_identifier_text(monkeypatch, tmp_path):
    """The wiring, with the OCR result faked: one picture 'shows' an MRN."""
    import json

    from spinemed.corpus.pipeline import BuildConfig, run_build
    from spinemed.deid import Finding

    seen = []

    def fake(data, find=None, engine=None):
        seen.append(data)
        return [Finding("MRN", "20230314", 4, 12)] if len(seen) == 1 else []

    monkeypatch.setattr(deid_images, "ocr_engine", lambda engine=None: "fake-ocr 1.0")
    monkeypatch.setattr(deid_images, "burned_in_identifiers", fake)
    out = tmp_path / "ds"
    summary = run_build(BuildConfig(out=out, ocr_check=True), progress=None)
    assert len(seen) > 1
    assert summary["accounting"]["record_quarantine_reasons"].get("deid: burned-in identifier text") == 1
    lines = [json.loads(x) for x in (tmp_path / "ds.work" / "quarantine.jsonl").read_text("utf-8").splitlines()]
    assert [x["reason"] for x in lines if x["stage"] == "deid"] == ["burned-in identifier text"]
    assert json.loads((out / "manifest.json").read_text("utf-8"))["versions"]["ocr_check"] == "fake-ocr 1.0"
