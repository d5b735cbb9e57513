"""spinemed.ocr's read cache ($SPINEMED_OCR_CACHE): a page read once is not read again by the same
engine version, a different page or engine version is, damaged entries are re-read, and no folder
means no cache."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw

from spinemed import ocr


def _page(text: str) -> Image.Image:
    img = Image.new("RGB", (200, 60), "white")
    ImageDraw.Draw(img).text((10, 20), text, fill="black")
    return img


def _fake_engine(monkeypatch, version: str = "fake 1.0"):
    calls = []

    def lines(img, layout):
        calls.append(layout)
        return [ocr.OcrLine(text=f"read {len(calls)}", top=1.0, bottom=2.0, left=3.0, right=4.0)]

    monkeypatch.setattr(ocr, "pick_engine", lambda engine=None: "tesseract")
    monkeypatch.setattr(ocr, "engine_name", lambda engine=None: version)
    monkeypatch.setattr(ocr, "_tesseract_lines", lines)
    return calls


def test_a_page_is_read_once_per_engine_version(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINEMED_OCR_CACHE", str(tmp_path / "cache"))
    calls = _fake_engine(monkeypatch)
    first = ocr.read_lines(_page("L4-L5"), layout="page")
    again = ocr.read_lines(_page("L4-L5"), layout="page")
    assert first == again == [ocr.OcrLine("read 1", 1.0, 2.0, 3.0, 4.0)] and calls == ["page"]
    ocr.read_lines(_page("L4-L5"), layout="sparse")  # another layout is another read
    ocr.read_lines(_page("C5-C6"), layout="page")  # another page too
    assert len(calls) == 3
    _fake_engine(monkeypatch, version="fake 2.0")  # a new engine version reads again
    assert ocr.read_lines(_page("L4-L5"), layout="page")[0].text == "read 1"  # its own first read
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 4


def test_a_damaged_entry_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINEMED_OCR_CACHE", str(tmp_path))
    calls = _fake_engine(monkeypatch)
    ocr.read_lines(_page("x"))
    (entry,) = tmp_path.rglob("*.json")
    entry.write_text("{not json", encoding="utf-8")
    assert ocr.read_lines(_page("x"))[0].text == "read 2" and len(calls) == 2
    assert json.loads(entry.read_text(encoding="utf-8"))[0]["text"] == "read 2"


def test_no_folder_no_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SPINEMED_OCR_CACHE", raising=False)
    calls = _fake_engine(monkeypatch)
    ocr.read_lines(_page("x"))
    ocr.read_lines(_page("x"))
    assert len(calls) == 2


def test_the_environment_names_the_engine(monkeypatch):
    monkeypatch.setattr(ocr, "_have_rapidocr", lambda: True)
    monkeypatch.setattr(ocr, "_tesseract_path", lambda: "/usr/bin/tesseract")
    monkeypatch.delenv("SPINEMED_OCR_ENGINE", raising=False)
    assert ocr.pick_engine() == "rapidocr"
    monkeypatch.setenv("SPINEMED_OCR_ENGINE", "tesseract")
    assert ocr.pick_engine() == "tesseract" and ocr.pick_engine("rapidocr") == "rapidocr"  # an explicit choice wins
    monkeypatch.setenv("SPINEMED_OCR_ENGINE", "none")
    assert ocr.pick_engine() is None
    monkeypatch.setenv("SPINEMED_OCR_ENGINE", "paddle")
    with pytest.raises(ValueError, match="SPINEMED_OCR_ENGINE"):
        ocr.pick_engine()


def test_tesseract_version_and_languages_are_asked_once_per_binary(monkeypatch):
    import subprocess
    import types

    calls = []

    def run(cmd, **kw):
        calls.append(cmd[1])
        return types.SimpleNamespace(stdout="tesseract 5.9.9\n" if cmd[1] == "--version" else "eng\nchi_sim\n",
                                     stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(ocr, "_tesseract_path", lambda: "/opt/fake/tesseract")
    monkeypatch.setattr(ocr, "pick_engine", lambda engine=None: "tesseract")
    ocr._tesseract_version.cache_clear()
    ocr._tesseract_langs.cache_clear()
    try:
        assert ocr.engine_name() == ocr.engine_name() == "tesseract 5.9.9"
        assert ocr._tesseract_langs("/opt/fake/tesseract") == ocr._tesseract_langs("/opt/fake/tesseract") == ("eng", "chi_sim")
        assert calls == ["--version", "--list-langs"]
    finally:
        ocr._tesseract_version.cache_clear()
        ocr._tesseract_langs.cache_clear()
