"""DICOM imaging studies in the RSNA 2024 Lumbar Spine Degenerative Classification layout -> volume records.

Layout (catalog `layout: rsna-lumbar`, or found by its three CSVs):

    train.csv                       study_id + one column per condition x level
                                    (`spinal_canal_stenosis_l4_l5`: Normal/Mild, Moderate, Severe; empty = not graded)
    train_label_coordinates.csv     study_id, series_id, instance_number, condition, level, x, y
    train_series_descriptions.csv   study_id, series_id, series_description ("Sagittal T2/STIR", "Axial T2")
    train_images/<study>/<series>/<instance>.dcm

One `volume` record per study, so a study's slices travel together: every row generated from it
shares the record's `provenance.record_id`, which SpineBench decontamination treats as one group
(a study never has slices on both sides of the bench/train line).  Its images are the labelled
slices, windowed for display with the labelled points marked; its fields hold the gradings from
train.csv, the levels they name (`label_levels`, canonical "L4-L5"; always from the labels,
never guessed from pixels or text), the most affected level and a findings report.

The header is never published: every dataset is passed through `spinemed.deid.dicom` (PS3.15
Basic Profile, by removal) as soon as it is read, and only the pixel attributes (rescale,
window, photometric interpretation) are consulted.  Captions come from the CSVs.  A slice whose
header says Burned In Annotation = YES is not used (its pixels carry text); the build's
`--ocr-check` scans the rest like any other image.

Every input item is accounted for: each labelled slice ends as an image of its study's record or
as a `SourceIssue` naming the file and the reason (missing instance, not DICOM, no pixel data,
compressed without a decoder, burned-in annotation); each study ends as a record or an issue;
malformed CSV rows are issues with their line number.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from spinemed.deid import dicom as deid_dicom
from spinemed.levels import canonical_level, level_sort_key
from spinemed.schema import ImageRef, SourceIssue, SourceRecord

from ..step import in_shard
from .catalog import CatalogEntry, _as_entry, _rel
from .common import _inside, _record

LAYOUT = "rsna-lumbar"
STUDY_CSV = "train.csv"
COORDS_CSV = "train_label_coordinates.csv"
SERIES_CSV = "train_series_descriptions.csv"
IMAGES_DIR = "train_images"
SEVERITIES = ("Normal/Mild", "Moderate", "Severe")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_ID_RE = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() also takes "²" and other scripts' digits
_COLUMN_RE = re.compile(r"^(?P<condition>[a-z_]+?)_(?P<level>[lts]\d{1,2}_[lts]\d{1,2})$")
# Display size: the longer side scaled into this range (small synthetic slices are enlarged,
# full-size 512-768 px scans are reduced).
_MIN_SIDE, _MAX_SIDE = 256, 512
DEFAULT_MAX_SLICES = 12  # images per study record (catalog key `max_slices`)


def is_rsna_layout(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (STUDY_CSV, COORDS_CSV, SERIES_CSV))


@dataclass
class _Label:
    condition: str  # "spinal canal stenosis"
    level: str  # "L4-L5"
    x: float
    y: float
    line: int


@dataclass
class _Study:
    study_id: str
    gradings: list[dict[str, str]] = field(default_factory=list)
    slices: dict[tuple[str, str], list[_Label]] = field(default_factory=lambda: defaultdict(list))


def _condition_name(text: str) -> str:
    return re.sub(r"[_\s]+", " ", text.strip()).lower()


def _read_csv(path: Path, entry: CatalogEntry, required: tuple[str, ...]
              ) -> tuple[list[str], list[tuple[int, dict]], list[SourceIssue]]:
    """(header, [(line, row)], issues); a row with more cells than the header is reported and skipped."""
    rel = _rel(path, entry.root)
    try:
        text = path.read_text(encoding="utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [str(c) for c in reader.fieldnames or []]
        missing = [c for c in required if c not in header]
        if missing:
            return header, [], [SourceIssue(rel, f"missing column(s): {', '.join(missing)}")]
        rows, issues = [], []
        for row in reader:
            if None in row:  # DictReader puts the extra cells under the key None
                issues.append(SourceIssue(rel, f"line {reader.line_num}: more cells than columns; row skipped"))
            else:
                rows.append((reader.line_num, row))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [], [SourceIssue(rel, f"cannot read as CSV ({type(exc).__name__}: {exc})")]
    return header, rows, issues


def read_rsna_lumbar(folder: str | Path, entry: CatalogEntry | dict[str, Any], rank: int = 0,
                     world_size: int = 1, file_order: Any = None) -> Iterator[SourceRecord | SourceIssue]:
    """One `volume` record per study of an RSNA 2024 lumbar-spine layout folder (see the module docstring).

    `rank`/`world_size` read one shard: a study belongs to `shard_of("<entry path>/train_images/<study>")`
    (its slices are the expensive part, so a real dataset fans out over many shards); the CSVs'
    own defects are reported by the shard of the entry's path.  Every shard parses the CSVs.
    `file_order` (the driver's FileOrder), when given, numbers each study as a source file of its
    own, in this shard or not, so a sharded build merges studies back in the unsharded order."""
    folder = Path(folder)
    entry = _as_entry(entry, folder)
    owner = in_shard(entry.path, rank, world_size)
    if not is_rsna_layout(folder):
        if owner:
            yield SourceIssue(_rel(folder, entry.root), f"not an RSNA lumbar layout (needs {STUDY_CSV}, {COORDS_CSV}, {SERIES_CSV})")
        return
    studies, label_issues = _load_labels(folder, entry)
    descriptions, series_issues = _load_series(folder, entry)
    max_slices = entry.extra.get("max_slices") or DEFAULT_MAX_SLICES
    if not isinstance(max_slices, int) or isinstance(max_slices, bool) or max_slices < 1:
        if owner:
            yield SourceIssue(entry.path, f"catalog max_slices {max_slices!r} is not a positive whole number; "
                                          f"{DEFAULT_MAX_SLICES} used")
        max_slices = DEFAULT_MAX_SLICES
    if owner:
        yield from label_issues
        yield from series_issues
    mark = entry.extra.get("mark_points", True) is not False
    for study in studies.values():
        where = f"{entry.path}/{IMAGES_DIR}/{study.study_id}"
        if file_order is not None:
            file_order.add(where)
        if in_shard(where, rank, world_size):
            yield from _study_record(study, folder, entry, descriptions, max_slices, mark)


def _load_labels(folder: Path, entry: CatalogEntry) -> tuple[dict[str, _Study], list[SourceIssue]]:
    header, rows, issues = _read_csv(folder / STUDY_CSV, entry, ("study_id",))
    rel = _rel(folder / STUDY_CSV, entry.root)
    studies: dict[str, _Study] = {}
    columns: dict[str, tuple[str, str]] = {}
    if rows:
        for col in header:
            if col == "study_id":
                continue
            m = _COLUMN_RE.match(col)
            level = canonical_level(m.group("level").replace("_", "-")) if m else None
            if level is None:
                issues.append(SourceIssue(rel, f"column {col!r} is not <condition>_<level>; ignored"))
                continue
            columns[col] = (_condition_name(m.group("condition")), level)
    for line, row in rows:
        sid = str(row.get("study_id") or "").strip()
        if not _ID_RE.fullmatch(sid):
            issues.append(SourceIssue(rel, f"line {line}: study_id {sid!r} is not a number; row skipped"))
            continue
        if sid in studies:
            issues.append(SourceIssue(rel, f"line {line}: study {sid} listed twice; first row kept"))
            continue
        study = studies[sid] = _Study(sid)
        for col, (condition, level) in columns.items():
            value = str(row.get(col) or "").strip()
            if not value:
                continue  # not graded
            if value not in _SEVERITY_RANK:
                issues.append(SourceIssue(rel, f"line {line}: {col} = {value!r} is not one of {', '.join(SEVERITIES)}; "
                                               "that grading skipped"))
                continue
            study.gradings.append({"condition": condition, "level": level, "severity": value})
    _, coord_rows, more = _read_csv(folder / COORDS_CSV, entry,
                                 ("study_id", "series_id", "instance_number", "condition", "level", "x", "y"))
    issues += more
    crel = _rel(folder / COORDS_CSV, entry.root)
    for line, row in coord_rows:
        sid, series, inst = (str(row.get(k) or "").strip() for k in ("study_id", "series_id", "instance_number"))
        level = canonical_level(str(row.get("level") or ""))
        try:
            x, y = float(row["x"]), float(row["y"])
            ok = np.isfinite([x, y]).all()
        except (TypeError, ValueError):
            ok = False
        problem = ("study_id, series_id and instance_number must be numbers"
                   if not all(_ID_RE.fullmatch(v) for v in (sid, series, inst))
                   else f"level {row.get('level')!r} is not one level" if level is None
                   else "x and y must be finite numbers" if not ok
                   else f"study {sid} is not in {STUDY_CSV}" if sid not in studies else "")
        if problem:
            issues.append(SourceIssue(crel, f"line {line}: {problem}; label skipped"))
            continue
        studies[sid].slices[(series, str(int(inst)))].append(
            _Label(_condition_name(str(row.get("condition") or "")), level, x, y, line))
    return studies, issues


def _load_series(folder: Path, entry: CatalogEntry) -> tuple[dict[tuple[str, str], str], list[SourceIssue]]:
    _, rows, issues = _read_csv(folder / SERIES_CSV, entry, ("study_id", "series_id", "series_description"))
    return {(str(r["study_id"]).strip(), str(r["series_id"]).strip()): str(r["series_description"] or "").strip()
            for _, r in rows}, issues


# --------------------------------------------------------------------------------------
# One slice: read, de-identify the header, window, mark, encode
# --------------------------------------------------------------------------------------


class SliceError(ValueError):
    """A slice that cannot be used; the message is the reason reported with its file."""


def read_slice(path: Path) -> np.ndarray:
    """Display-ready 8-bit pixels of one DICOM file, its header de-identified first.

    Raises SliceError naming the reason: not DICOM, no pixel data, a compressed transfer syntax
    without a decoder, burned-in annotation, an undecodable pixel payload."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():  # pydicom warns per odd value; a build of 100k slices would drown in them
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise SliceError("not a DICOM file (no DICM preamble and no readable header)") from None
    except Exception as exc:  # truncated headers raise several types
        raise SliceError(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from None
    deid_dicom.deidentify_dataset(ds)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise SliceError("no pixel data (a DICOM object without an image)")
    if deid_dicom.burned_in_annotation(ds):
        raise SliceError("header marks burned-in annotation (text in the pixels); slice not used")
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:  # pydicom raises RuntimeError / NotImplementedError / ValueError
        if tsyntax is not None and tsyntax.is_compressed and not _decoder_available(tsyntax):
            raise SliceError(f"compressed transfer syntax {tsyntax.name} ({tsyntax}) and no decoder installed "
                             "(e.g. pip install pylibjpeg pylibjpeg-openjpeg pylibjpeg-libjpeg)") from None
        raise SliceError(f"pixel data cannot be decoded ({type(exc).__name__}: {exc})") from None
    return window(ds, arr)


def _decoder_available(tsyntax) -> bool:
    from pydicom.pixels import get_decoder

    try:
        return bool(get_decoder(tsyntax).is_available)
    except Exception:
        return False


def window(ds: Any, arr: np.ndarray) -> np.ndarray:
    """8-bit display pixels: the modality LUT (RescaleSlope/Intercept), then the header's first
    WindowCenter/WindowWidth or, without one, a 1st-99.5th percentile window; MONOCHROME1
    (white = low values) inverted.  Multi-frame data shows its middle frame; colour data is
    converted to grey."""
    from pydicom.pixels import apply_rescale

    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if frames > 1:
        arr = arr[frames // 2]
    if samples > 1:
        arr = arr[..., :3].astype(np.float32).mean(axis=-1)
    values = apply_rescale(arr, ds).astype(np.float32) if samples == 1 else arr.astype(np.float32)
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        finite = values[np.isfinite(values)]
        lo, hi = (np.percentile(finite, [1.0, 99.5]) if finite.size else (0.0, 1.0))
        if hi <= lo:  # a flat image shows black, not mid-grey
            hi = lo + 1.0
        center, width = (lo + hi) / 2.0, float(hi - lo)
    lo = center - width / 2.0
    out = np.clip((values - lo) / width, 0.0, 1.0)
    if str(getattr(ds, "PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
        out = 1.0 - out
    return np.nan_to_num(out * 255.0).astype(np.uint8)


def _first(value: Any) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def slice_png(pixels: np.ndarray, points: list[tuple[float, float]] = ()) -> bytes:
    """PNG bytes (no metadata) of a windowed slice resized for display, each labelled point
    marked with a white ring in a black one (grey scale: a colour ring would make the PNG three
    channels and encoding several times slower)."""
    h, w = pixels.shape
    side = max(h, w)
    scale = _MIN_SIDE / side if side < _MIN_SIDE else _MAX_SIDE / side if side > _MAX_SIDE else 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(pixels, mode="L")
    if size != (w, h):
        img = img.resize(size, Image.BILINEAR)
    points = [(x, y) for x, y in points if 0 <= x <= w and 0 <= y <= h]  # a point off the slice is not drawn
    if points:
        draw = ImageDraw.Draw(img)
        r, width = max(4, round(min(size) / 40)), max(1, round(min(size) / 160))
        for x, y in points:
            cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
            draw.ellipse((cx - r - width, cy - r - width, cx + r + width, cy + r + width), outline=0, width=3 * width)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=width)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)  # optimize=True costs twice the time for ~3% smaller files
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# One study -> one record
# --------------------------------------------------------------------------------------


def _study_record(study: _Study, folder: Path, entry: CatalogEntry, descriptions: dict[tuple[str, str], str],
                  max_slices: int, mark: bool) -> Iterator[SourceRecord | SourceIssue]:
    crel = _rel(folder / COORDS_CSV, entry.root)
    if not study.gradings and not study.slices:
        yield SourceIssue(_rel(folder / STUDY_CSV, entry.root), f"study {study.study_id}: no gradings and no labelled slices")
        return
    images: list[ImageRef] = []
    shown: list[dict[str, Any]] = []
    grade = {(g["condition"], g["level"]): g["severity"] for g in study.gradings}
    keys = sorted(study.slices, key=lambda k: (int(k[0]), int(k[1])))
    for series, inst in keys:
        labels = study.slices[(series, inst)]
        path = folder / IMAGES_DIR / study.study_id / series / f"{inst}.dcm"
        rel = _rel(path, entry.root)
        if not path.is_file():
            lines = ", ".join(str(lb.line) for lb in labels)
            yield SourceIssue(crel, f"line(s) {lines}: instance {IMAGES_DIR}/{study.study_id}/{series}/{inst}.dcm is missing")
            continue
        if not _inside(path, entry.root):
            yield SourceIssue(rel, "resolves outside the sources folder (a symlink); not read")
            continue
        if len(images) >= max_slices:
            yield SourceIssue(rel, f"study {study.study_id}: more than {max_slices} labelled slices (catalog max_slices); slice not used")
            continue
        points = [(lb.x, lb.y) for lb in labels] if mark else []
        try:
            png = slice_png(read_slice(path), points)
        except SliceError as exc:
            yield SourceIssue(rel, str(exc))
            continue
        except (RecursionError, MemoryError):
            raise  # the driver reports these for the whole source
        except Exception as exc:  # pixel layouts pydicom decodes but that are no displayable slice
            yield SourceIssue(rel, f"pixels cannot be rendered ({type(exc).__name__}: {exc})")
            continue
        desc = descriptions.get((study.study_id, series), "") or "series not described"
        found = [f"{lb.condition} at {lb.level}" + (f" ({grade[(lb.condition, lb.level)]})"
                                                    if (lb.condition, lb.level) in grade else "") for lb in labels]
        images.append(ImageRef(
            data=png,
            label=f"{desc} slice {len(images) + 1}",
            caption=f"Lumbar MRI slice ({desc})" + ("; marked: " if mark else "; labelled: ") + "; ".join(found) + ".",
            description=f"Lumbar spine MRI ({desc}) with labelled {'; '.join(found)}.",
        ))
        shown.append({"series_description": desc, "levels": sorted({lb.level for lb in labels}, key=level_sort_key),
                      "conditions": sorted({lb.condition for lb in labels})})
    if not images:
        yield SourceIssue(_rel(folder / IMAGES_DIR / study.study_id, entry.root),
                          f"study {study.study_id}: no usable labelled slice; no record")
        return
    fields = study_fields(study.study_id, study.gradings)
    fields["slices"] = shown
    fields["series"] = sorted({s["series_description"] for s in shown})
    yield _record(entry, folder / IMAGES_DIR / study.study_id, kind="volume", text=fields["report"],
                  locator=f"{study.study_id} / {len(images)} labelled slices", source_id=entry.dataset_id or entry.source_id,
                  language="en", id_parts=(fields["report"], study.study_id), images=images, fields=fields)


def study_fields(study_id: str, gradings: list[dict[str, str]]) -> dict[str, Any]:
    """What the labels of one study say: the gradings by level, the levels with a finding
    (`label_levels`: Moderate or Severe, cranial to caudal), the most affected level(s) and a
    findings report.  Levels come from the CSV columns only."""
    by_level: dict[str, list[dict[str, str]]] = defaultdict(list)
    for g in gradings:
        by_level[g["level"]].append(g)
    levels = sorted(by_level, key=level_sort_key)
    score = {lv: sum(_SEVERITY_RANK[g["severity"]] for g in by_level[lv]) for lv in levels}
    worst = {lv: max(_SEVERITY_RANK[g["severity"]] for g in by_level[lv]) for lv in levels}
    label_levels = [lv for lv in levels if worst[lv] > 0]
    top = max(((worst[lv], score[lv]) for lv in label_levels), default=None)
    most = [lv for lv in label_levels if (worst[lv], score[lv]) == top]
    findings = []
    for lv in levels:
        abnormal = sorted((g for g in by_level[lv] if _SEVERITY_RANK[g["severity"]] > 0),
                          key=lambda g: (-_SEVERITY_RANK[g["severity"]], g["condition"]))
        if abnormal:
            findings.append(f"{lv}: " + "; ".join(f"{g['severity'].lower()} {g['condition']}" for g in abnormal) + ".")
        else:
            findings.append(f"{lv}: no more than mild narrowing of the canal, foramina or subarticular zones.")
    impression = (f"Most affected level: {' and '.join(most)}." if most
                  else "No level graded above normal/mild.")
    report = ("MRI lumbar spine, graded for spinal canal, neural foraminal and subarticular stenosis at each "
              "disc level. Findings: " + " ".join(findings) + " Impression: " + impression)
    return {"subject": study_id, "modality": "MRI", "layout": LAYOUT, "gradings": gradings,
            "graded_levels": levels, "label_levels": label_levels, "most_affected": most,
            "findings": findings, "report": report}
