"""Fuzz: the DICOM reader (spinemed/corpus/sources/dicom.py) on generated CSVs and slices.

Property: `read_rsna_lumbar` yields only SourceRecords and SourceIssues (a defect is reported,
never raised) whatever the three CSVs hold and whatever bytes or pixel layout a `.dcm` holds.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from spinemed.corpus.sources import CATALOG_FILE, read_rsna_lumbar
from spinemed.schema import SourceIssue, SourceRecord

_GOOD_STUDY = b"study_id,spinal_canal_stenosis_l4_l5\n1,Severe\n"
_GOOD_COORDS = b"study_id,series_id,instance_number,condition,level,x,y\n1,2,3,Spinal Canal Stenosis,L4/L5,4,4\n"
_GOOD_SERIES = b"study_id,series_id,series_description\n1,2,Sagittal T2/STIR\n"
_CELLS = st.sampled_from(["1", "2", "3", "", "x", "L4/L5", "l4_l5", "Severe", "Moderate", "nan", "-1", "1e309", '"a,b"',
                          "\u00e9", "\x00", "\u00b2", "\u0661", "1e300", "Spinal Canal Stenosis", "spinal_canal_stenosis_l4_l5", "study_id"])


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")


def _dicom(rows: int, cols: int, bits: int, samples: int, frames: int, photometric: str, window: str | None) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.PatientName = "FUZZ^PERSON"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, samples
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, 0
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window, window
    n = rows * cols * samples * frames * bits // 8
    ds.PixelData = bytes(range(256)) * (n // 256) + bytes(n % 256)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _read(study: bytes, coords: bytes, series: bytes, dcm: bytes) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / CATALOG_FILE).write_text("sources: []\n", encoding="utf-8")
        folder = root / "rsna"
        (folder / "train_images" / "1" / "2").mkdir(parents=True)
        (folder / "train.csv").write_bytes(study)
        (folder / "train_label_coordinates.csv").write_bytes(coords)
        (folder / "train_series_descriptions.csv").write_bytes(series)
        (folder / "train_images" / "1" / "2" / "3.dcm").write_bytes(dcm)
        entry = {"path": "rsna", "source_type": "open_dataset", "source_id": "fuzz", "title": "Fuzz", "language": "en",
                 "license": "CC-BY-4.0", "redistributable": True, "root": str(root)}
        out = list(read_rsna_lumbar(folder, entry))
    assert all(isinstance(x, (SourceRecord, SourceIssue)) and (isinstance(x, SourceRecord) or x.reason) for x in out), out
    return out


@given(st.lists(st.lists(_CELLS, min_size=0, max_size=8), max_size=5),
       st.lists(st.lists(_CELLS, min_size=0, max_size=9), max_size=5),
       st.lists(st.lists(_CELLS, min_size=0, max_size=4), max_size=4))
def test_csvs_never_raise(study, coords, series):
    _read(_csv([["study_id", "spinal_canal_stenosis_l4_l5"], *study]),
          _csv([["study_id", "series_id", "instance_number", "condition", "level", "x", "y"], *coords]),
          _csv([["study_id", "series_id", "series_description"], *series]), _dicom(4, 4, 16, 1, 1, "MONOCHROME2", None))


@given(st.integers(0, 9), st.integers(0, 9), st.sampled_from([8, 16]), st.sampled_from([1, 3]), st.integers(1, 3),
       st.sampled_from(["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL"]),
       st.sampled_from([None, "0", "-5", "40", "nan", "1e400"]))
def test_pixel_layouts_never_raise(rows, cols, bits, samples, frames, photometric, window):
    _read(_GOOD_STUDY, _GOOD_COORDS, _GOOD_SERIES, _dicom(rows, cols, bits, samples, frames, photometric, window))


@given(st.binary(max_size=600), st.integers(0, 400))
def test_dicom_bytes_never_raise(noise, cut):
    good = _dicom(4, 4, 16, 1, 1, "MONOCHROME2", "40")
    _read(_GOOD_STUDY, _GOOD_COORDS, _GOOD_SERIES, good[:cut] + noise if cut < len(good) else noise)


def test_fuzz_fixture_reaches_the_record():
    # the generators write a readable study: without this the fuzz above would test only the error path
    out = _read(_GOOD_STUDY, _GOOD_COORDS, _GOOD_SERIES, _dicom(8, 8, 16, 1, 1, "MONOCHROME2", None))
    assert [type(x) for x in out] == [SourceRecord]
    assert pydicom.__version__ and np.asarray(out[0].fields["label_levels"]).tolist() == ["L4-L5"]
