"""The DICOM reader (RSNA 2024 lumbar layout, spinemed/corpus/sources/dicom.py): records from
labelled slices, display windowing, and each bad input a defect by file and reason while the
rest of the source continues and every input item is accounted for."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, MRImageStorage, generate_uid

from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.sources import iter_sources
from spinemed.corpus.sources.dicom import read_rsna_lumbar, study_fields, window
from spinemed.schema import SourceIssue, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "builders" / "spinemed_450k" / "sources" / "rsna_lumbar"
ENTRY = {"source_type": "open_dataset", "source_id": "rsna-test", "title": "t", "language": "en",
         "license": "CC-BY-4.0", "redistributable": True}
COLUMNS = [f"{c}_{lv}" for c in ("spinal_canal_stenosis", "left_neural_foraminal_narrowing")
           for lv in ("l3_l4", "l4_l5", "l5_s1")]


def _ds(pixels: np.ndarray | None = None, *, tsyntax=ExplicitVRLittleEndian, **attrs) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["x", str(attrs)])
    meta.TransferSyntaxUID = tsyntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "PLANTED^PERSON"
    ds.Modality = "MR"
    if pixels is not None:
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def _ramp() -> np.ndarray:
    return np.tile(np.arange(32, dtype=np.uint16) * 30, (32, 1))


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _layout(root: Path, studies: dict[str, dict[str, str]], coords: list[tuple], series: list[tuple]) -> Path:
    folder = root / "rsna"
    folder.mkdir(parents=True)
    with open(folder / "train.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study_id", *COLUMNS])
        for sid, grades in studies.items():
            w.writerow([sid, *(grades.get(c, "Normal/Mild") for c in COLUMNS)])
    with open(folder / "train_label_coordinates.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study_id", "series_id", "instance_number", "condition", "level", "x", "y"])
        w.writerows(coords)
    with open(folder / "train_series_descriptions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["study_id", "series_id", "series_description"])
        w.writerows(series)
    return folder


@pytest.fixture()
def bad_layout(tmp_path):
    """Study 1: two good slices and one of each bad kind; study 2: only bad slices; study 3:
    graded but no labelled slice; plus malformed CSV rows."""
    folder = _layout(
        tmp_path,
        {"1": {"spinal_canal_stenosis_l4_l5": "Severe", "left_neural_foraminal_narrowing_l5_s1": "Moderate"},
         "2": {"spinal_canal_stenosis_l3_l4": "Moderate"},
         "3": {},
         "x9": {}},  # not a number
        [
            ("1", "10", "1", "Spinal Canal Stenosis", "L4/L5", "16", "16"),  # line 2: good
            ("1", "11", "1", "Left Neural Foraminal Narrowing", "L5/S1", "10", "20"),  # line 3: good
            ("1", "10", "2", "Spinal Canal Stenosis", "L3/L4", "16", "10"),  # line 4: no pixel data
            ("1", "10", "3", "Spinal Canal Stenosis", "L5/S1", "16", "22"),  # line 5: JPEG-LS, no decoder installed
            ("1", "10", "4", "Spinal Canal Stenosis", "L3/L4", "16", "10"),  # line 6: not DICOM
            ("1", "10", "5", "Spinal Canal Stenosis", "L3/L4", "16", "10"),  # line 7: missing instance
            ("1", "10", "6", "Spinal Canal Stenosis", "L3/L4", "16", "10"),  # line 8: burned-in annotation
            ("2", "20", "1", "Spinal Canal Stenosis", "L3/L4", "16", "10"),  # line 9: missing instance
            ("1", "10", "1", "Spinal Canal Stenosis", "L9/L10", "16", "10"),  # line 10: not a level
            ("1", "10", "1", "Spinal Canal Stenosis", "L4/L5", "nan", "10"),  # line 11: x not finite
            ("7", "70", "1", "Spinal Canal Stenosis", "L4/L5", "1", "1"),  # line 12: study not in train.csv
            ("1", "10", "7", "Spinal Canal Stenosis", "L4/L5", "16", "16"),  # line 13: corrupt JPEG 2000 codestream
        ],
        [("1", "10", "Sagittal T2/STIR"), ("1", "11", "Sagittal T1"), ("2", "20", "Sagittal T2/STIR")],
    )
    img = folder / "train_images"
    _save(_ds(_ramp(), WindowCenter="465", WindowWidth="930"), img / "1" / "10" / "1.dcm")
    _save(_ds(_ramp(), RescaleSlope="2", RescaleIntercept="-5"), img / "1" / "11" / "1.dcm")
    _save(_ds(None), img / "1" / "10" / "2.dcm")
    from pydicom.encaps import encapsulate

    for name, tsyntax in (("3.dcm", JPEGLSLossless), ("7.dcm", JPEG2000Lossless)):
        enc = _ds(None, tsyntax=tsyntax)
        enc.Rows = enc.Columns = 32
        enc.SamplesPerPixel, enc.PhotometricInterpretation = 1, "MONOCHROME2"
        enc.BitsAllocated, enc.BitsStored, enc.HighBit, enc.PixelRepresentation = 16, 16, 15, 0
        enc.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(64)])  # a codestream header and nothing else
        enc["PixelData"].VR = "OB"
        _save(enc, img / "1" / "10" / name)
    (img / "1" / "10" / "4.dcm").write_text("<html>not found</html>\n")
    _save(_ds(_ramp(), BurnedInAnnotation="YES"), img / "1" / "10" / "6.dcm")
    return folder


def _read(folder: Path):
    out = list(read_rsna_lumbar(folder, {**ENTRY, "root": str(folder.parent)}))
    return [r for r in out if isinstance(r, SourceRecord)], [r for r in out if isinstance(r, SourceIssue)]


def test_each_bad_input_is_a_defect_by_file_and_reason(bad_layout):
    records, issues = _read(bad_layout)
    reasons = {(i.source_file, i.reason) for i in issues}
    assert ("rsna/train_images/1/10/2.dcm", "no pixel data (a DICOM object without an image)") in reasons
    # JPEG-LS needs pylibjpeg-libjpeg, pyjpegls or GDCM, none of which the kit installs
    # (JPEG 2000 decodes through Pillow's OpenJPEG here, so it is the corrupt-stream case)
    (jls,) = [r for f, r in reasons if f == "rsna/train_images/1/10/3.dcm"]
    assert "compressed transfer syntax JPEG-LS Lossless" in jls and "1.2.840.10008.1.2.4.80" in jls and "no decoder" in jls
    (j2k,) = [r for f, r in reasons if f == "rsna/train_images/1/10/7.dcm"]
    assert j2k.startswith("pixel data cannot be decoded")
    (html,) = [r for f, r in reasons if f == "rsna/train_images/1/10/4.dcm"]
    assert html.startswith("not a DICOM file")
    (burned,) = [r for f, r in reasons if f == "rsna/train_images/1/10/6.dcm"]
    assert "burned-in annotation" in burned
    coords = sorted(r for f, r in reasons if f == "rsna/train_label_coordinates.csv")
    assert "line(s) 7: instance train_images/1/10/5.dcm is missing" in coords
    assert "line(s) 9: instance train_images/2/20/1.dcm is missing" in coords
    assert any(r.startswith("line 10: level 'L9/L10' is not one level") for r in coords)
    assert any(r.startswith("line 11: x and y must be finite") for r in coords)
    assert any(r.startswith("line 12: study 7 is not in train.csv") for r in coords)
    assert ("rsna/train.csv", "line 5: study_id 'x9' is not a number; row skipped") in reasons
    assert ("rsna/train_images/2", "study 2: no usable labelled slice; no record") in reasons
    assert ("rsna/train_images/3", "study 3: no usable labelled slice; no record") in reasons
    # the rest continues: study 1 is a record with its two good slices
    (rec,) = records
    assert rec.fields["subject"] == "1" and len(rec.images) == 2


def test_every_input_item_is_accounted_for(bad_layout):
    """Each coordinate row ends in an image of a record or in a defect; each study in a record or a defect."""
    records, issues = _read(bad_layout)
    line_of_file = {f"rsna/train_images/1/10/{n}.dcm": line for n, line in ((2, 4), (3, 5), (4, 6), (6, 8), (7, 13))}
    reported = set()
    for i in issues:
        if i.source_file in line_of_file:
            reported.add(line_of_file[i.source_file])
        elif i.source_file.endswith("coordinates.csv"):
            m = re.match(r"line(?:\(s\))? ([\d, ]+):", i.reason)
            reported |= {int(t) for t in m.group(1).split(",")}
    (rec,) = records
    used = {2, 3}  # the two good slices, one image each
    assert len(rec.images) == len(used) and used.isdisjoint(reported)
    assert used | reported == set(range(2, 14))
    no_record = {i.reason.split(":")[0] for i in issues if i.reason.endswith("no record")}
    assert {rec.fields["subject"]} | {s.split()[1] for s in no_record} == {"1", "2", "3"}
    # the labels say where the finding is: levels come from train.csv, not from the slices read
    assert rec.fields["label_levels"] == ["L4-L5", "L5-S1"] and rec.fields["most_affected"] == ["L4-L5"]


def test_build_goes_on_and_its_summary_balances(bad_layout):
    root = bad_layout.parent
    (root / "catalog.yaml").write_text(
        "sources:\n  - {path: rsna, source_type: open_dataset, source_id: rsna-test, title: t, language: en, "
        "license: CC-BY-4.0, redistributable: true, subfield: lumbar_stenosis}\n", encoding="utf-8")
    out = root.parent / f"{root.name}-out" / "ds"  # outside the sources root
    summary = run_build(BuildConfig(out=out, sources=root), progress=None)
    a = summary["accounting"]
    assert a["balanced"] and a["source_records"] == 1 and a["records_published"] == 1
    assert a["source_defects"] == len(_read(bad_layout)[1])
    assert summary["rows"]["mcq"] == 1


def test_windowing_rescale_monochrome1_and_percentile():
    raw = _ramp()
    header = _ds(raw, WindowCenter="465", WindowWidth="930")
    out = window(header, raw)
    assert out[0, 0] == 0 and out[0, -1] == 255 and np.all(np.diff(out[0].astype(int)) >= 0)
    # the modality LUT first: stored 0..930 -> 2 x stored - 930 = -930..930, then the window 0 +- 465
    rescaled = _ds(raw, RescaleSlope="2", RescaleIntercept="-930", WindowCenter="0", WindowWidth="930")
    expected = np.clip((raw.astype(float) * 2 - 930 + 465) / 930, 0, 1) * 255
    assert np.abs(window(rescaled, raw).astype(float) - expected).max() <= 1
    assert not np.array_equal(window(rescaled, raw), window(_ds(raw, WindowCenter="0", WindowWidth="930"), raw))
    inverted = _ds(raw)
    inverted.PhotometricInterpretation = "MONOCHROME1"
    out = window(inverted, raw)  # no window in the header: a percentile window, then inverted
    assert out[0, 0] == 255 and out[0, -1] == 0
    flat = window(_ds(np.zeros((8, 8))), np.zeros((8, 8), np.uint16))
    assert flat.dtype == np.uint8 and flat.shape == (8, 8) and flat.max() == 0


def test_sample_studies_as_records():
    records = [r for r in iter_sources(SAMPLE.parent) if isinstance(r, SourceRecord) and r.fields.get("layout") == "rsna-lumbar"]
    by_study = {r.fields["subject"]: r for r in records}
    assert set(by_study) == {"10000001", "10000002"}
    one, two = by_study["10000001"], by_study["10000002"]
    assert one.kind == "volume" and one.fields["label_levels"] == ["L3-L4", "L4-L5"] and one.fields["most_affected"] == ["L4-L5"]
    assert two.fields["label_levels"] == ["L5-S1"] and len(two.images) == 3
    assert "L4-L5: severe spinal canal stenosis; moderate left subarticular stenosis." in one.text
    # right_subarticular_stenosis_l5_s1 is empty in train.csv: not graded, not invented
    assert not any(g["condition"] == "right subarticular stenosis" and g["level"] == "L5-S1" for g in two.fields["gradings"])
    for r in records:
        for img in r.images:
            im = Image.open(io.BytesIO(img.data))
            assert im.format == "PNG" and not im.info and max(im.size) == 256
            assert "marked:" in img.caption and img.description
        assert r.source_id == "RSNA 2024 lumbar spine layout sample (synthetic, SpineMed)"


def test_marked_point_is_drawn(tmp_path):
    folder = _layout(tmp_path, {"1": {"spinal_canal_stenosis_l4_l5": "Severe"}},
                     [("1", "10", "1", "Spinal Canal Stenosis", "L4/L5", "16", "16")], [("1", "10", "Axial T2")])
    _save(_ds(np.zeros((32, 32))), folder / "train_images" / "1" / "10" / "1.dcm")
    (rec,) = _read(folder)[0]
    marked = np.asarray(Image.open(io.BytesIO(rec.images[0].data)))
    assert marked.shape == (256, 256) and marked.max() == 255  # a white ring on the black slice
    ys, xs = np.nonzero(marked == 255)
    assert abs(xs.mean() - 16.5 * 8) < 2 and abs(ys.mean() - 16.5 * 8) < 2  # centred on the labelled point (x8 display)
    (rec,) = [r for r in read_rsna_lumbar(folder, {**ENTRY, "root": str(tmp_path), "mark_points": False})
              if isinstance(r, SourceRecord)]
    plain = np.asarray(Image.open(io.BytesIO(rec.images[0].data)))
    assert plain.ndim == 2 and plain.max() == 0 and "labelled:" in rec.images[0].caption


def test_max_slices_caps_images_and_reports_the_rest(tmp_path):
    folder = _layout(tmp_path, {"1": {}}, [("1", "10", str(i), "Spinal Canal Stenosis", "L4/L5", "1", "1") for i in (1, 2, 3)],
                     [("1", "10", "Axial T2")])
    for i in (1, 2, 3):
        _save(_ds(_ramp()), folder / "train_images" / "1" / "10" / f"{i}.dcm")
    records, issues = (lambda out: ([r for r in out if isinstance(r, SourceRecord)], [r for r in out if isinstance(r, SourceIssue)]))(
        list(read_rsna_lumbar(folder, {**ENTRY, "root": str(tmp_path), "max_slices": 2})))
    assert len(records[0].images) == 2
    assert [i.source_file for i in issues] == ["rsna/train_images/1/10/3.dcm"] and "max_slices" in issues[0].reason
    out = list(read_rsna_lumbar(folder, {**ENTRY, "root": str(tmp_path), "max_slices": "many"}))
    assert "catalog max_slices 'many' is not a positive whole number" in out[0].reason
    assert len(next(r for r in out if isinstance(r, SourceRecord)).images) == 3


def test_driver_finds_the_layout_and_refuses_an_unknown_one(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(SAMPLE, root / "studies")
    entry = ("  - {path: studies, source_type: open_dataset, source_id: s, title: t, language: en, "
             "license: CC-BY-4.0, redistributable: true%s}\n")
    (root / "catalog.yaml").write_text("sources:\n" + entry % "", encoding="utf-8")
    assert sum(isinstance(r, SourceRecord) for r in iter_sources(root)) == 2  # found by its CSVs
    (root / "catalog.yaml").write_text("sources:\n" + entry % ", layout: dicom-dir", encoding="utf-8")
    (issue,) = list(iter_sources(root))
    assert issue.source_file == "studies" and "unknown layout 'dicom-dir'" in issue.reason
    # a stray .dcm outside any entry is an uncatalogued source, not silently skipped
    (root / "catalog.yaml").write_text("sources:\n" + entry % "", encoding="utf-8")
    shutil.copy(SAMPLE / "train_images" / "10000001" / "1001" / "1.dcm", root / "stray.dcm")
    assert any(i.source_file == "stray.dcm" and "not listed in catalog.yaml" in i.reason
               for i in iter_sources(root) if isinstance(i, SourceIssue))


def test_study_fields_from_labels_only():
    f = study_fields("5", [{"condition": "spinal canal stenosis", "level": "L4-L5", "severity": "Moderate"},
                           {"condition": "left neural foraminal narrowing", "level": "L3-L4", "severity": "Moderate"},
                           {"condition": "spinal canal stenosis", "level": "L2-L3", "severity": "Normal/Mild"}])
    assert f["graded_levels"] == ["L2-L3", "L3-L4", "L4-L5"] and f["label_levels"] == ["L3-L4", "L4-L5"]
    assert f["most_affected"] == ["L3-L4", "L4-L5"]  # a tie stays a tie
    assert "Impression: Most affected level: L3-L4 and L4-L5." in f["report"]
    none = study_fields("6", [{"condition": "spinal canal stenosis", "level": "L4-L5", "severity": "Normal/Mild"}])
    assert none["label_levels"] == [] and none["most_affected"] == [] and "No level graded above normal/mild" in none["report"]


def test_shards_read_each_study_and_report_each_defect_once(bad_layout):
    """Studies fan out over shards (the slices are the expensive part); CSV defects come from one shard."""
    whole = list(read_rsna_lumbar(bad_layout, {**ENTRY, "root": str(bad_layout.parent)}))
    key = lambda x: (type(x).__name__, x.record_id if isinstance(x, SourceRecord) else (x.source_file, x.reason))  # noqa: E731
    for world in (2, 3):
        parts = [list(read_rsna_lumbar(bad_layout, {**ENTRY, "root": str(bad_layout.parent)}, rank=r, world_size=world))
                 for r in range(world)]
        assert sorted(key(x) for p in parts for x in p) == sorted(key(x) for x in whole)
    # through the driver too: the shipped sample's two studies over two shards
    got = [[r.fields["subject"] for r in iter_sources(SAMPLE.parent, rank, 2)
            if isinstance(r, SourceRecord) and r.fields.get("layout") == "rsna-lumbar"] for rank in (0, 1)]
    assert sorted(got[0] + got[1]) == ["10000001", "10000002"]
