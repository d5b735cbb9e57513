"""End-to-end de-identification of DICOM headers: no header identifier reaches the built dataset.

A copy of the shipped RSNA-layout sample studies is re-headed with NEW identifiers drawn from
Faker (fixed seed): patient name / id / birth date / address / other ids, institution and its
address, referring, requesting and performing physicians, operators, station, device serial
number, accession number, study id, every date and time, all UIDs (file meta included), study
and series descriptions (the series description carries a surname: the reader must take the
CSV's description, never the header's), a nested Request Attributes Sequence, a private tag
and an overlay comment.  The folder is built with the offline backend and every file the
build writes -- parquet string cells (decoded), the published images (their bytes and their
metadata text), README.md, manifest.json and the work folder's logs and maps -- is searched
for every planted value (and each name's components).  The unit tests check the header
removal itself on pydicom datasets (spinemed/deid/dicom.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from faker import Faker
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.sources import iter_sources
from spinemed.deid import dicom as deid_dicom
from spinemed.deid.gate import scan_folder as gate_scan
from spinemed.deid.images import metadata_text, ocr_engine
from spinemed.schema import SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "builders" / "spinemed_450k" / "sources" / "rsna_lumbar"
SEED = 20241206

_CATALOG = """sources:
  - path: rsna_lumbar
    source_type: open_dataset
    layout: rsna-lumbar
    source_id: rsna-lumbar-test
    dataset_id: "RSNA lumbar layout test copy"
    subfield: lumbar_stenosis
    title: "Lumbar MRI studies (test copy)"
    language: en
    license: CC-BY-4.0
    redistributable: true
"""


def _pn(f: Faker) -> tuple[str, list[str]]:
    """A DICOM person name (FAMILY^GIVEN) and the strings that must not survive."""
    given, last = f.first_name(), f.last_name()
    return f"{last}^{given}", [f"{last}^{given}", f"{given} {last}", last, given]


def _plant(ds: Dataset, f: Faker, planted: set[str]) -> None:
    def put(keyword: str, value: str, *also: str) -> None:
        setattr(ds, keyword, value)
        planted.update(v for v in (value, *also) if len(v) >= 4)

    for kw in ("PatientName", "ReferringPhysicianName", "OperatorsName", "PerformingPhysicianName",
               "NameOfPhysiciansReadingStudy"):
        value, parts = _pn(f)
        put(kw, value, *parts)
    put("PatientID", f.bothify("MRN-########"))
    put("OtherPatientIDs", f.bothify("SSN-###-##-####"))
    put("PatientBirthDate", f.date_of_birth(minimum_age=30, maximum_age=90).strftime("%Y%m%d"))
    put("PatientAddress", f.street_address())
    put("InstitutionName", f"{f.last_name()} Memorial Hospital")
    put("InstitutionAddress", f.street_address())
    put("StationName", f.bothify("ST-????-##").upper())
    put("DeviceSerialNumber", f.bothify("SN-#######"))
    put("AccessionNumber", f.bothify("ACC########"))
    put("StudyID", f.bothify("STY######"))
    for kw in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        put(kw, f.date_between(start_date="-3y", end_date="today").strftime("%Y%m%d"))
    put("StudyTime", f.time(pattern="%H%M%S") + ".123")
    surname = f.last_name()
    put("SeriesDescription", f"Sagittal T2 {surname}", surname)
    put("StudyDescription", f"MRI LSPINE for {surname} {f.bothify('##-??')}")
    root = f"1.2.826.0.1.3680043.8.498.{f.random_number(digits=9, fix_len=True)}"
    put("StudyInstanceUID", root + ".1")
    put("SeriesInstanceUID", root + ".2")
    put("SOPInstanceUID", root + ".3")
    put("FrameOfReferenceUID", root + ".4")
    ds.file_meta.MediaStorageSOPInstanceUID = root + ".3"
    req = Dataset()
    value, parts = _pn(f)
    req.RequestingPhysician = value
    req.RequestedProcedureID = f.bothify("RP-#######")
    ds.RequestAttributesSequence = Sequence([req])
    planted.update([*parts, req.RequestedProcedureID])
    block = ds.private_block(0x0029, "SPINEMED TEST", create=True)
    private = f"{f.first_name()} {f.last_name()} {f.bothify('####')}"
    block.add_new(0x10, "LO", private)
    planted.add(private)
    comment = f"reader {f.last_name()}"
    ds.add_new(0x60004000, "LT", comment)
    planted.add(comment)


@pytest.fixture(scope="module")
def planted_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dicom_planted")
    src = tmp / "sources"
    shutil.copytree(SAMPLE, src / "rsna_lumbar")
    (src / "catalog.yaml").write_text(_CATALOG, encoding="utf-8")
    f = Faker("en_US")
    f.seed_instance(SEED)
    planted: set[str] = set()
    for path in sorted((src / "rsna_lumbar").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        _plant(ds, f, planted)
        ds.save_as(path, enforce_file_format=True)
    # a value that happens to be a common word or appears in the clean build proves nothing
    clean_out = tmp / "clean" / "ds"
    shutil.copytree(SAMPLE, tmp / "clean_src" / "rsna_lumbar")
    (tmp / "clean_src" / "catalog.yaml").write_text(_CATALOG, encoding="utf-8")
    run_build(BuildConfig(out=clean_out, sources=tmp / "clean_src"), progress=None)
    baseline = _written_text(clean_out).lower()
    planted = {v for v in planted if v.lower() not in baseline}
    out = tmp / "out" / "ds"
    summary = run_build(BuildConfig(out=out, sources=src), progress=None)
    return out, summary, planted, src


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _written_text(out: Path) -> str:
    """Everything the build wrote, as text: decoded parquet cells, image bytes and metadata, the
    card, the manifest and the work folder (raw), the parquet cells and the images' metadata text."""
    parts: list[str] = []
    for folder in (out, out.parent / (out.name + ".work")):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.suffix != ".parquet":
                parts.append(path.read_bytes().decode("latin-1"))
                continue
            for row in pq.read_table(path).to_pylist():  # cells decoded: the shard itself is compressed
                parts.extend(_strings(row))
                for img in row.get("images") or []:
                    if img and img.get("bytes"):
                        parts.extend(metadata_text(img["bytes"]))
    return "\n".join(parts)


def test_study_rows_are_built(planted_build):
    out, summary, planted, _ = planted_build
    assert len(planted) >= 150  # 9 slices x ~25 values, minus repeats
    assert summary["rows"]["mcq"] >= 2 and summary["rows"]["open_qa"] >= 2
    rows = pq.read_table(next((out / "data" / "mcq").rglob("*.parquet"))).to_pylist()
    assert all(r["images"] and r["modality"] == "image" for r in rows)
    assert summary["accounting"]["balanced"] and summary["accounting"]["source_defects"] == 1  # the missing instance


def test_no_planted_header_identifier_survives(planted_build):
    out, _, planted, _ = planted_build
    leaks = _leaks(planted, _written_text(out))
    assert not leaks, f"header identifiers in the build: {leaks[:10]}"


def _leaks(planted: set[str], text: str) -> list[str]:
    lowered = text.lower()
    return sorted(v for v in planted
                  if v.lower() in lowered and re.search(r"(?<![0-9A-Za-z])" + re.escape(v) + r"(?![0-9A-Za-z])", text, re.I))


def test_records_as_read_carry_no_header_value(planted_build):
    """Stricter than the build: the records the reader yields, before the text scrubber (the
    second line), hold no header value in any field, caption, description or image metadata;
    with the offline backend captions never reach a row, but they do reach a real model."""
    _, _, planted, src = planted_build
    records = [r for r in iter_sources(src) if isinstance(r, SourceRecord)]
    assert len(records) == 2
    text = json.dumps([r.to_json() for r in records], ensure_ascii=False)
    text += "\n".join(t for r in records for img in r.images for t in metadata_text(img.data))
    assert not _leaks(planted, text), _leaks(planted, text)[:10]


def test_series_description_comes_from_the_csv(planted_build):
    out, _, _, _ = planted_build
    rows = [r for p in sorted((out / "data").rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    text = json.dumps([r.get("messages") for r in rows] + [r.get("question") for r in rows], ensure_ascii=False)
    assert "lumbar mri" in text.lower()


def test_publish_gate_passes_the_build(planted_build):
    out, _, _, _ = planted_build
    report = gate_scan(out)
    assert not report.findings, report.findings[:5]


# ---------------------------------------------------------------- the header removal itself


def _dataset() -> Dataset:
    ds = pydicom.dcmread(SAMPLE / "train_images" / "10000001" / "1001" / "2.dcm")
    seq_item = Dataset()
    seq_item.RequestingPhysician = "HOLLOWAY^PRUDENCE"
    seq_item.CodeValue = "KEEP-ME"  # not a listed attribute
    ds.RequestAttributesSequence = Sequence([seq_item])
    kept = Dataset()
    kept.PatientName = "NESTED^NAME"  # a listed attribute inside a sequence the profile does not list
    ds.ReferencedPerformedProcedureStepSequence = Sequence([kept])
    ds.add_new(0x50000010, "US", 1)  # curve group
    ds.add_new(0x60023000, "OW", b"\x00\x01" * 8)  # overlay data in an odd overlay group
    return ds


def test_profile_list_covers_the_identifying_attributes():
    entries = deid_dicom.basic_profile()
    assert len(entries) > 600
    names = {e.name for e in entries}
    for name in ("Patient's Name", "Patient ID", "Patient's Birth Date", "Institution Name", "Referring Physician's Name",
                 "Accession Number", "Study Date", "Study Instance UID", "SOP Instance UID", "Series Description",
                 "Patient's Address", "Other Patient IDs", "Operators' Name", "Station Name", "Device Serial Number"):
        assert name in names, name
    assert {e.action for e in entries} <= {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


def test_deidentify_dataset_removes_listed_private_and_nested():
    ds = _dataset()
    assert deid_dicom.listed_tags_present(ds)
    removed = deid_dicom.deidentify_dataset(ds)
    assert {"PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName",
            "AccessionNumber", "StudyDate", "StudyInstanceUID", "SOPInstanceUID", "SeriesDescription"} <= set(removed)
    assert deid_dicom.listed_tags_present(ds) == []
    assert "MediaStorageSOPInstanceUID" not in ds.file_meta and "SourceApplicationEntityTitle" not in ds.file_meta
    assert "RequestAttributesSequence" not in ds  # a listed sequence goes whole
    assert 0x50000010 not in ds and 0x60023000 not in ds
    assert "ReferencedPerformedProcedureStepSequence" not in ds
    assert ds.PatientIdentityRemoved == "YES" and len(ds.DeidentificationMethod) <= 64
    # what the pixels need stays
    assert ds.Rows == 64 and ds.PhotometricInterpretation == "MONOCHROME2" and ds.WindowCenter == 500
    assert ds.pixel_array.shape == (64, 64)
    text = str(ds) + str(ds.file_meta)
    for value in ("WHITFIELD", "ROSALIND", "MRN-7734021", "19580214", "Brigid", "OKONKWO", "ACC55120934", "7734021",
                  "NESTED", "HOLLOWAY", "SBSI"):
        assert value not in text, value


def test_nested_listed_attribute_in_an_unlisted_sequence_is_removed():
    ds = Dataset()
    item = Dataset()
    item.PatientName = "NESTED^NAME"
    item.CodeValue = "T-D1100"
    ds.AnatomicRegionSequence = Sequence([item])  # not a listed sequence: walked, not dropped
    deid_dicom.deidentify_dataset(ds)
    (kept,) = ds.AnatomicRegionSequence
    assert "PatientName" not in kept and kept.CodeValue == "T-D1100"


def test_burned_in_annotation_flag():
    ds = Dataset()
    assert not deid_dicom.burned_in_annotation(ds)
    ds.BurnedInAnnotation = "YES"
    assert deid_dicom.burned_in_annotation(ds)


@pytest.mark.skipif(ocr_engine() is None, reason="no OCR engine installed (pip install 'spinemed[ocr]' or "
                                                 "apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
def test_burned_in_text_in_the_pixels_is_caught_by_the_ocr_check(tmp_path):
    """Header removal cannot reach text burned into the pixels: with --ocr-check the study whose
    slice carries a name and a record number is quarantined, the other study is published."""
    src = tmp_path / "sources"
    shutil.copytree(SAMPLE, src / "rsna_lumbar")
    (src / "catalog.yaml").write_text(_CATALOG, encoding="utf-8")
    path = src / "rsna_lumbar" / "train_images" / "10000001" / "1001" / "2.dcm"
    ds = pydicom.dcmread(path)
    canvas = Image.new("I;16", (512, 512), 0)
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=32)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        pytest.skip("this Pillow cannot scale its default font")
    draw.text((16, 300), "MRN 20230314 John Smith", fill=1000, font=font)  # white in the header's window
    arr = np.asarray(canvas, dtype=np.uint16)
    ds.Rows, ds.Columns = arr.shape
    ds.PixelData = arr.tobytes()
    ds.save_as(path, enforce_file_format=True)
    summary = run_build(BuildConfig(out=tmp_path / "out" / "ds", sources=src, ocr_check=True), progress=None)
    a = summary["accounting"]
    assert a["record_quarantine_reasons"] == {"deid: burned-in identifier text": 1}
    assert a["records_published"] == 1 and a["balanced"]
