"""The one OCR engine wrapper: which engine runs, its name and version, and text lines read from
a Pillow image.  Used by the burned-in-text check (`deid/images.py`) and by the PDF reader for
scanned pages (`corpus/sources/pdf.py`), so both pick the same engine the same way.

Engines, in order of preference, both offline:

* ``rapidocr`` -- ``rapidocr-onnxruntime`` (``pip install 'spinemed[ocr]'``): PaddleOCR's PP-OCR
  Chinese + English detection and recognition models (what the paper used) on ONNX Runtime; the
  models ship inside the wheel, nothing is downloaded.
* ``tesseract`` -- the ``tesseract`` binary (Debian ``tesseract-ocr tesseract-ocr-chi-sim``),
  run with ``eng+chi_sim`` when both are installed.

No engine installed: :func:`engine_name` is None and :func:`read_lines` raises
:class:`OcrUnavailableError`; callers report that, never treat it as "no text".

OCR is the slow part of reading a scanned book (seconds per page on a CPU), so a rebuild can reuse
earlier reads: with ``$SPINEMED_OCR_CACHE`` naming a folder, each read is stored there as JSON keyed
by the engine's name and version, the layout and the page's pixels (SHA-256), and read back instead
of running the engine again.  Off by default: OCR'd text of clinical scans may hold identifiers, so
it is written only where the user says (keep that folder with the build's private work files).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_write_json
from spinemed.text import is_han

__all__ = ["ENGINES", "NO_ENGINE", "OcrLine", "OcrUnavailableError", "engine_name", "pick_engine", "read_lines",
           "lines_text"]

ENGINES = ("rapidocr", "tesseract")
NO_ENGINE = ("no OCR engine is installed: pip install 'spinemed[ocr]' (rapidocr-onnxruntime) "
             "or apt-get install tesseract-ocr tesseract-ocr-chi-sim")
_TESSERACT_MIN_CONF = 60.0

_lock = threading.Lock()
_rapid: Any = None  # one RapidOCR instance per process (loading the models takes ~1 s)


class OcrUnavailableError(RuntimeError):
    """No OCR engine is installed: the OCR did not run (which is not the same as "no text")."""


@dataclass(frozen=True)
class OcrLine:
    """One text row as read: its text and its box in image pixels."""

    text: str
    top: float
    bottom: float
    left: float
    right: float


def _have_rapidocr() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def _tesseract_path() -> str | None:
    return shutil.which("tesseract")


def pick_engine(engine: str | None = None) -> str | None:
    """"rapidocr" or "tesseract" (the one asked for, else the first installed), or None.

    With no engine asked for, ``$SPINEMED_OCR_ENGINE`` picks one for the whole process
    (``rapidocr``, ``tesseract``, or ``none`` to run without OCR): engines read pages differently,
    so a build that must be reproduced elsewhere names its engine."""
    if engine is None and os.environ.get("SPINEMED_OCR_ENGINE"):
        engine = os.environ["SPINEMED_OCR_ENGINE"].strip().lower()
        if engine == "none":
            return None
        if engine not in ENGINES:
            raise ValueError(f"SPINEMED_OCR_ENGINE={engine!r}: expected one of {ENGINES} or none")
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"unknown OCR engine {engine!r}; expected one of {ENGINES}")
    if engine in (None, "rapidocr") and _have_rapidocr():
        return "rapidocr"
    if engine in (None, "tesseract") and _tesseract_path():
        return "tesseract"
    return None


def engine_name(engine: str | None = None) -> str | None:
    """The engine :func:`read_lines` will use as "name version" (what provenance records), or None."""
    picked = pick_engine(engine)
    if picked == "rapidocr":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')}"
        except PackageNotFoundError:
            return "rapidocr-onnxruntime"
    if picked == "tesseract":
        return _tesseract_version(_tesseract_path())
    return None


@functools.cache
def _tesseract_version(exe: str | None) -> str:
    """`tesseract --version`'s first line, run once per binary (every cached read asks for it)."""
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        return (proc.stdout or proc.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError, TypeError):
        return "tesseract"


@functools.cache
def _tesseract_langs(exe: str) -> tuple[str, ...]:
    """The languages `tesseract --list-langs` reports, run once per binary."""
    try:
        return tuple(subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split())
    except (OSError, subprocess.SubprocessError):
        return ()


def read_lines(img, engine: str | None = None, *, layout: str = "sparse") -> list[OcrLine]:
    """Text rows of an RGB Pillow image, top to bottom, words of a row left to right.

    `layout` "sparse" looks for scattered text (labels burned into the corners of a radiograph);
    "page" reads a page of running text (a scanned book page).  Raises OcrUnavailableError when
    no engine is installed."""
    picked = pick_engine(engine)
    if picked is None:
        raise OcrUnavailableError(NO_ENGINE)
    img = img.convert("RGB")
    cached = _cache_file(img, picked, layout)
    if cached is not None and cached.is_file():
        try:
            return [OcrLine(**row) for row in json.loads(cached.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):
            pass  # a damaged entry is read again and rewritten
    lines = _rapidocr_lines(img, layout) if picked == "rapidocr" else _tesseract_lines(img, layout)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(cached, [ln.__dict__ for ln in lines])
        except OSError:
            pass  # the cache only saves time; a read-only folder must not fail the build
    return lines


def _cache_file(img, picked: str, layout: str):
    """Where :func:`read_lines` keeps this read under ``$SPINEMED_OCR_CACHE``, or None (no cache)."""
    folder = os.environ.get("SPINEMED_OCR_CACHE")
    if not folder:
        return None
    h = hashlib.sha256(f"{engine_name(picked)}\0{layout}\0{img.size}\0".encode())
    h.update(img.tobytes())
    key = h.hexdigest()
    return Path(folder) / key[:2] / f"{key}.json"


def lines_text(lines: list[OcrLine]) -> str:
    return "\n".join(ln.text for ln in lines)


def _rapidocr_lines(img, layout: str) -> list[OcrLine]:
    import numpy as np

    global _rapid
    with _lock:
        if _rapid is None:
            from rapidocr_onnxruntime import RapidOCR

            _rapid = RapidOCR()
        engine = _rapid
    bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
    # a scanned page's lines are upright: the angle classifier (half the time) only runs on sparse
    # text, where labels may be set upside down or sideways
    result, _elapse = engine(bgr, use_cls=layout != "page")
    boxes = []
    for box, text, _score in result or []:
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        boxes.append((min(ys), max(ys), min(xs), max(xs), str(text)))
    boxes.sort()
    rows: list[list[tuple]] = []
    for b in boxes:  # boxes whose vertical centre falls in a row's span share the row
        centre = (b[0] + b[1]) / 2
        if rows and rows[-1][0][0] <= centre <= rows[-1][0][1]:
            rows[-1].append(b)
        else:
            rows.append([b])
    out = []
    for row in rows:
        row.sort(key=lambda b: b[2])
        out.append(OcrLine(" ".join(_respace(b[4]) for b in row), min(b[0] for b in row), max(b[1] for b in row),
                           row[0][2], max(b[3] for b in row)))
    return out


_RUN_ON = re.compile(r"\S{9,}")
_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")


def _respace(text: str) -> str:
    """PP-OCR's recogniser often drops narrow spaces ("MRN20230314JohnSmith"): split long run-on
    tokens at lower->upper case and Latin letter<->digit changes.  Short tokens (L4, T12, C5-C6,
    HLA-B27) are left alone."""
    return _RUN_ON.sub(lambda m: _SPLIT.sub(" ", m.group(0)), text)


def _tesseract_lines(img, layout: str) -> list[OcrLine]:
    exe = _tesseract_path()
    if exe is None:
        raise OcrUnavailableError(NO_ENGINE)
    langs = _tesseract_langs(exe)
    lang = "+".join(x for x in ("eng", "chi_sim") if x in langs) or "eng"
    scale = 1
    if layout == "sparse" and min(img.size) < 600:  # small overlay text reads better a little larger
        scale = min(4, max(2, 600 // max(1, min(img.size))))
        img = img.resize((img.width * scale, img.height * scale))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    # psm 11: sparse text (overlay labels in corners); psm 3: a page of running text.  tsv gives
    # per-word confidence, so the noise read in textured regions (short nonsense words) is dropped.
    psm = "11" if layout == "sparse" else "3"
    proc = subprocess.run([exe, "stdin", "stdout", "-l", lang, "--psm", psm, "tsv"], input=buf.getvalue(),
                          capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract failed ({proc.returncode}): {proc.stderr.decode('utf-8', 'replace')[-300:]}")
    rows: dict[tuple, list[tuple]] = {}
    for row in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) != 12 or not cols[11].strip():
            continue
        try:
            conf, left, top, width, height = float(cols[10]), *(int(c) for c in cols[6:10])
        except ValueError:
            continue
        if conf >= _TESSERACT_MIN_CONF:
            rows.setdefault((int(cols[2]), int(cols[3]), int(cols[4])), []).append(
                (left, top, left + width, top + height, cols[11].strip()))
    out = []
    for _, words in sorted(rows.items()):
        words.sort()
        text = ""
        for w in words:  # chi_sim reads each Han character as a word: no space between them
            if text and not (is_han(text[-1]) and is_han(w[4][0])):
                text += " "
            text += w[4]
        out.append(OcrLine(text, min(w[1] for w in words) / scale, max(w[3] for w in words) / scale,
                           words[0][0] / scale, max(w[2] for w in words) / scale))
    out.sort(key=lambda ln: (ln.top, ln.left))
    return out
