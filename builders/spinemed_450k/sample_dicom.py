"""A tiny synthetic DICOM study set in the layout of the RSNA 2024 Lumbar Spine Degenerative
Classification dataset, for the shipped sample sources (called by make_sample_sources.py).

Layout written under `<out>/rsna_lumbar/`:

    train.csv                          study_id + one severity column per condition x level
    train_label_coordinates.csv        study_id, series_id, instance_number, condition, level, x, y
    train_series_descriptions.csv      study_id, series_id, series_description
    train_images/<study>/<series>/<instance>.dcm

Two studies, 64x64 uncompressed 16-bit MR-like slices (schematic drawings, no real data).  Every
header carries planted identifiers (patient name, id, birth date, address, institution,
referring physician, operator, station, accession number, dates, UIDs, a private tag) that must
never reach the built dataset (tests/deid/test_deid_planted_dicom.py).  The slices also cover the
display paths: a header window, rescale slope/intercept, MONOCHROME1 without a window.
Planted defect: a coordinate row of study 10000002 names instance 7 of its axial series, which
does not exist.  Deterministic: same bytes on every run with the same pydicom and numpy.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

FOLDER = "rsna_lumbar"
CONDITIONS = ("spinal_canal_stenosis", "left_neural_foraminal_narrowing", "right_neural_foraminal_narrowing",
              "left_subarticular_stenosis", "right_subarticular_stenosis")
LEVELS = ("l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1")
SIZE = 64
# Disc rows (y) of L1-L2 .. L5-S1 in the sagittal drawing; the labelled points sit on them.
_DISC_Y = (10, 21, 32, 43, 54)

# Identifiers planted in every header of a study (all invented).
PLANTED = {
    "10000001": {
        "PatientName": "WHITFIELD^ROSALIND^MAE", "PatientID": "MRN-7734021", "PatientBirthDate": "19580214",
        "PatientAddress": "42 Larkspur Lane, Dunmore, PA 18512", "OtherPatientIDs": "SSN-212-55-0917",
        "InstitutionName": "St Brigid Spine Institute", "InstitutionAddress": "900 Harbor Road, Dunmore",
        "ReferringPhysicianName": "OKONKWO^CHIDIEBERE", "OperatorsName": "PRZYBYLSKI^HALINA",
        "StationName": "SBSI-MR3", "AccessionNumber": "ACC55120934", "StudyID": "STY-88213",
        "StudyDate": "20230611", "SeriesDate": "20230611", "AcquisitionDate": "20230611", "StudyTime": "081502",
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.7734021.1", "DeviceSerialNumber": "SN-MR3-004417",
    },
    "10000002": {
        "PatientName": "QUIGGLEY^BARNABY", "PatientID": "MRN-5519876", "PatientBirthDate": "19710930",
        "PatientAddress": "7 Thornbury Close, Ashgrove", "OtherPatientIDs": "NHS-943-476-5919",
        "InstitutionName": "Ashgrove Valley Hospital", "InstitutionAddress": "1 Infirmary Way, Ashgrove",
        "ReferringPhysicianName": "VANDERMEULEN^PIETERNELLA", "OperatorsName": "ABERNATHY^CLOVIS",
        "StationName": "AVH-MRI-EAST", "AccessionNumber": "ACC77031265", "StudyID": "STY-40577",
        "StudyDate": "20240302", "SeriesDate": "20240302", "AcquisitionDate": "20240302", "StudyTime": "143020",
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.5519876.1", "DeviceSerialNumber": "SN-AVH-92211",
    },
}
PRIVATE_CREATOR = "SPINEMED SAMPLE"
PRIVATE_VALUE = {"10000001": "ROSALIND WHITFIELD 1958", "10000002": "BARNABY QUIGGLEY 1971"}

# study -> {column: severity}; columns not named are "Normal/Mild".
GRADES = {
    "10000001": {"spinal_canal_stenosis_l4_l5": "Severe", "spinal_canal_stenosis_l3_l4": "Moderate",
                 "left_subarticular_stenosis_l4_l5": "Moderate"},
    "10000002": {"right_neural_foraminal_narrowing_l5_s1": "Severe", "left_neural_foraminal_narrowing_l5_s1": "Moderate",
                 "right_subarticular_stenosis_l5_s1": ""},  # "" = not graded (RSNA leaves such cells empty)
}
# study -> series_id -> (description, instances, display variant)
SERIES = {
    "10000001": {"1001": ("Sagittal T2/STIR", (1, 2, 3), "window"), "1002": ("Axial T2", (1, 2), "window")},
    "10000002": {"2001": ("Sagittal T1", (1, 2), "monochrome1"), "2002": ("Axial T2", (1, 2), "rescale")},
}
# (study, series, instance, condition, level, x, y)
COORDS = [
    ("10000001", "1001", 2, "Spinal Canal Stenosis", "L1/L2", 40, _DISC_Y[0]),
    ("10000001", "1001", 2, "Spinal Canal Stenosis", "L3/L4", 40, _DISC_Y[2]),
    ("10000001", "1001", 2, "Spinal Canal Stenosis", "L4/L5", 40, _DISC_Y[3]),
    ("10000001", "1001", 2, "Spinal Canal Stenosis", "L5/S1", 40, _DISC_Y[4]),
    ("10000001", "1002", 1, "Left Subarticular Stenosis", "L4/L5", 26, 38),
    ("10000002", "2001", 1, "Right Neural Foraminal Narrowing", "L5/S1", 30, _DISC_Y[4]),
    ("10000002", "2001", 2, "Left Neural Foraminal Narrowing", "L5/S1", 30, _DISC_Y[4]),
    ("10000002", "2001", 2, "Left Neural Foraminal Narrowing", "L4/L5", 30, _DISC_Y[3]),
    ("10000002", "2002", 2, "Right Subarticular Stenosis", "L4/L5", 38, 38),
    ("10000002", "2002", 7, "Right Subarticular Stenosis", "L5/S1", 38, 38),  # planted: instance 7 does not exist
]


def sagittal(narrow: dict[int, float], seed: int) -> np.ndarray:
    """A 64x64 sagittal lumbar drawing (signal 0..1000): vertebral bodies, discs, the CSF canal
    behind them, narrowed at the disc rows in `narrow` (index -> fraction of the canal lost)."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE), 60.0)
    img[:, 8:34] = 300.0  # soft tissue
    for i in range(6):  # bodies between the discs
        top, bottom = (_DISC_Y[i - 1] + 2 if i else 0), (_DISC_Y[i] - 2 if i < 5 else SIZE)
        img[top:bottom, 12:32] = 450.0
    for y in _DISC_Y:
        img[y - 1:y + 2, 12:33] = 700.0
    img[:, 36:44] = 900.0  # CSF
    for i, loss in narrow.items():
        y, cut = _DISC_Y[i], int(round(8 * loss))
        img[y - 2:y + 3, 36:36 + cut] = 300.0
    img[:, 44:50] = 380.0  # posterior elements
    return img + rng.normal(0, 12, img.shape)


def axial(narrow_left: float, narrow_right: float, seed: int) -> np.ndarray:
    """A 64x64 axial drawing at a disc: the disc, the thecal sac and the lateral recesses."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = np.full((SIZE, SIZE), 60.0)
    img[((xx - 32) / 26) ** 2 + ((yy - 26) / 16) ** 2 <= 1] = 650.0  # disc
    img[((xx - 32) / 9) ** 2 + ((yy - 42) / 6) ** 2 <= 1] = 900.0  # thecal sac
    for cx, loss in ((25, narrow_left), (39, narrow_right)):
        img[((xx - cx) / 3) ** 2 + ((yy - 38) / 3) ** 2 <= 1] = 900.0 - 600.0 * loss
    return img + rng.normal(0, 12, img.shape)


def _pixels(study: str, series: str, instance: int) -> np.ndarray:
    seed = int(study) % 1000 * 100 + int(series) % 100 * 10 + instance
    if study == "10000001":
        return sagittal({2: 0.5, 3: 0.85}, seed) if series == "1001" else axial(0.6, 0.1, seed)
    return sagittal({}, seed) if series == "2001" else axial(0.1, 0.15, seed)


def write_dicom(path: Path, study: str, series: str, desc: str, instance: int, variant: str) -> None:
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    ident = PLANTED[study]
    sop_uid = f"{ident['StudyInstanceUID']}.{series}.{instance}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    meta.ImplementationVersionName = "SPINEMED_SAMPLE"
    meta.SourceApplicationEntityTitle = ident["StationName"][:16]
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "MR"
    ds.SeriesDescription = desc
    ds.SeriesInstanceUID = f"{ident['StudyInstanceUID']}.{series}"
    ds.FrameOfReferenceUID = f"{ident['StudyInstanceUID']}.{series}.0"
    ds.SeriesNumber = int(series) % 100
    ds.InstanceNumber = instance
    for key, value in ident.items():
        setattr(ds, key, value)
    ds.BurnedInAnnotation = "NO"
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", PRIVATE_VALUE[study])
    raw = _pixels(study, series, instance)
    if variant == "rescale":  # stored = (value + 100) / 2: the reader must apply slope/intercept
        ds.RescaleSlope, ds.RescaleIntercept = "2", "-100"
        raw = (raw + 100.0) / 2.0
    if variant == "monochrome1":  # inverted grey scale and no window in the header
        ds.PhotometricInterpretation = "MONOCHROME1"
        raw = 1000.0 - raw
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
    if variant == "window":
        ds.WindowCenter, ds.WindowWidth = "500", "1000"
    arr = np.clip(np.round(raw), 0, 4095).astype(np.uint16)
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = ["0.9", "0.9"]
    ds.PixelData = arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_rsna_sample(out: Path) -> int:
    """Write the sample study set under `out/rsna_lumbar`; returns the number of .dcm files."""
    root = out / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    columns = [f"{c}_{lv}" for c in CONDITIONS for lv in LEVELS]
    with open(root / "train.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["study_id", *columns])
        for study, grades in GRADES.items():
            w.writerow([study, *(grades.get(c, "Normal/Mild") for c in columns)])
    with open(root / "train_series_descriptions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["study_id", "series_id", "series_description"])
        for study, series in SERIES.items():
            for sid, (desc, _, _) in series.items():
                w.writerow([study, sid, desc])
    with open(root / "train_label_coordinates.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["study_id", "series_id", "instance_number", "condition", "level", "x", "y"])
        for row in COORDS:
            w.writerow([*row[:5], f"{row[5]:.1f}", f"{row[6]:.1f}"])
    n = 0
    for study, series in SERIES.items():
        for sid, (desc, instances, variant) in series.items():
            for inst in instances:
                write_dicom(root / "train_images" / study / sid / f"{inst}.dcm", study, sid, desc, inst, variant)
                n += 1
    return n
