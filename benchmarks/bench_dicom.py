"""DICOM slices per second through the RSNA-layout reader (spinemed/corpus/sources/dicom.py).

Writes a synthetic study set in the RSNA 2024 lumbar layout to a temporary folder: ``--studies``
studies, each with a sagittal and an axial series of ``--slices`` labelled uncompressed 16-bit
``--size`` x ``--size`` MR slices (RSNA's are mostly 512 x 512, some 384 or 640+) whose headers carry
identifiers, one coordinate label per slice.  Then it times ``read_rsna_lumbar`` over the whole
folder: per slice, pydicom read + PS3.15 Basic Profile header removal + windowing + the labelled
point marked + PNG encode, plus the CSV parsing and record building.  Prints slices/s (one process;
the driver reads an open_dataset folder in one process) and the time per stage on a sample of
slices.

    .venv/bin/python benchmarks/bench_dicom.py --studies 20 --slices 5 --size 512
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from spinemed.corpus.sources.dicom import read_rsna_lumbar, slice_png, window
from spinemed.deid import dicom as deid_dicom
from spinemed.schema import SourceIssue, SourceRecord

CONDITIONS = ("spinal_canal_stenosis", "left_neural_foraminal_narrowing", "right_neural_foraminal_narrowing",
              "left_subarticular_stenosis", "right_subarticular_stenosis")
LEVELS = ("l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1")
SEVERITIES = ("Normal/Mild", "Moderate", "Severe")


def _slice(rng: np.random.Generator, size: int, study: int, series: int, inst: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{study}.{series}.{inst}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = f"DOE^PAT{study}", f"MRN{study:08d}", "19600101"
    ds.InstitutionName, ds.ReferringPhysicianName, ds.AccessionNumber = "Bench Hospital", "REF^DOC", f"A{study:09d}"
    ds.StudyDate = ds.SeriesDate = "20240101"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{study}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{study}.{series}"
    ds.Modality, ds.InstanceNumber = "MR", inst
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if inst % 2:
        ds.WindowCenter, ds.WindowWidth = "600", "1200"  # the others take the percentile window
    yy, xx = np.mgrid[0:size, 0:size]
    img = 300 + 500 * np.exp(-(((xx - size / 2) / (size / 6)) ** 2 + ((yy - size / 2) / (size / 3)) ** 2))
    ds.PixelData = np.clip(img + rng.normal(0, 40, img.shape), 0, 4095).astype(np.uint16).tobytes()
    return ds


def write_layout(root: Path, studies: int, slices: int, size: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    columns = [f"{c}_{lv}" for c in CONDITIONS for lv in LEVELS]
    n = 0
    with open(root / "train.csv", "w", newline="") as g, open(root / "train_label_coordinates.csv", "w", newline="") as c, \
            open(root / "train_series_descriptions.csv", "w", newline="") as s:
        gw, cw, sw = csv.writer(g), csv.writer(c), csv.writer(s)
        gw.writerow(["study_id", *columns])
        cw.writerow(["study_id", "series_id", "instance_number", "condition", "level", "x", "y"])
        sw.writerow(["study_id", "series_id", "series_description"])
        for st in range(1, studies + 1):
            sid = 1000000 + st
            gw.writerow([sid, *(SEVERITIES[int(rng.integers(0, 3))] for _ in columns)])
            for se, desc in ((1, "Sagittal T2/STIR"), (2, "Axial T2")):
                series = sid * 10 + se
                sw.writerow([sid, series, desc])
                for inst in range(1, slices + 1):
                    level = LEVELS[(inst - 1) % len(LEVELS)].upper().replace("_", "/")
                    cw.writerow([sid, series, inst, "Spinal Canal Stenosis", level, size / 2, size * (0.2 + 0.12 * ((inst - 1) % 5))])
                    path = root / "train_images" / str(sid) / str(series) / f"{inst}.dcm"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _slice(rng, size, sid, series, inst).save_as(path, enforce_file_format=True)
                    n += 1
    return n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=20)
    ap.add_argument("--slices", type=int, default=5, help="labelled slices per series (2 series per study)")
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rsna"
        root.mkdir()
        n = write_layout(root, args.studies, args.slices, args.size)
        entry = {"source_type": "open_dataset", "source_id": "bench", "title": "bench", "language": "en",
                 "license": "CC-BY-4.0", "redistributable": True, "root": tmp, "max_slices": 2 * args.slices}
        list(read_rsna_lumbar(root, entry))  # warm-up: imports, page cache
        t0 = time.perf_counter()
        out = list(read_rsna_lumbar(root, entry))
        elapsed = time.perf_counter() - t0
        records = [r for r in out if isinstance(r, SourceRecord)]
        issues = [r for r in out if isinstance(r, SourceIssue)]
        images = sum(len(r.images) for r in records)
        assert images == n and not issues, (images, n, issues[:3])
        stages: dict[str, list[float]] = {"read": [], "deid": [], "window": [], "mark+png": []}
        for path in sorted(root.rglob("*.dcm"))[:50]:
            t = time.perf_counter()
            ds = pydicom.dcmread(path)
            t1 = time.perf_counter()
            deid_dicom.deidentify_dataset(ds)
            t2 = time.perf_counter()
            px = window(ds, ds.pixel_array)
            t3 = time.perf_counter()
            slice_png(px, [(args.size / 2, args.size / 2)])
            t4 = time.perf_counter()
            stages["read"].append((t1 - t) * 1000)
            stages["deid"].append((t2 - t1) * 1000)
            stages["window"].append((t3 - t2) * 1000)
            stages["mark+png"].append((t4 - t3) * 1000)
    print(f"{n} slices ({args.size}x{args.size}, 16-bit) in {args.studies} studies -> {len(records)} records, "
          f"{images} images in {elapsed:.2f} s: {n / elapsed:.1f} slices/s (one process)")
    print("per slice, median ms: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
