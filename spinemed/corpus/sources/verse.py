"""Open 3D datasets in the VerSe layout (NIfTI + centroids) -> volume records."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spinemed.levels import LEVELS
from spinemed.schema import ImageRef, SourceIssue, SourceRecord

from .catalog import CatalogEntry, _as_entry, _rel
from .common import _inside, _record

VERSE_LABELS = {
    **{i: f"C{i}" for i in range(1, 8)},
    **{i + 7: f"T{i}" for i in range(1, 13)},
    **{i + 19: f"L{i}" for i in range(1, 7)},
    26: "S1",  # sacrum
    28: "T13",
}
_BONE_WINDOW = (400.0, 1800.0)  # level, width (HU)
_SOFT_WINDOW = (40.0, 400.0)


def _genant(loss: float) -> int:
    """Genant semi-quantitative grade from the fractional height loss."""
    return 0 if loss < 0.20 else 1 if loss < 0.25 else 2 if loss <= 0.40 else 3


def _window_png(slab: np.ndarray, level: float, width: float, size: tuple[int, int]) -> bytes:
    """The slab in a CT window as PNG bytes, without metadata (the description, which names
    the subject, travels in `ImageRef.description`, where de-identification sees it)."""
    lo = level - width / 2
    arr = np.clip((slab.astype(np.float32) - lo) / width * 255.0, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, mode="L").resize(size, Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def read_verse(folder: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """One `volume` record per subject of a VerSe-layout dataset.

    Layout: rawdata/sub-X/sub-X_ct.nii.gz, derivatives/sub-X/sub-X_seg-vert_msk.nii.gz and
    sub-X_seg-subreg_ctd.json (VerSe centroids: a {"direction": [...]} entry, then
    {"label", "X", "Y", "Z"} in voxel coordinates of the image reoriented to that direction).
    Images: the mid-sagittal slice through the median centroid in a bone and a soft-tissue CT
    window (PNG bytes).  fields: vertebrae visible in the slice (cranial to caudal), centroids,
    anterior/middle/posterior body heights in mm and Genant grades, so a wedge compression
    can be described, and `label_levels`: the graded (compressed) vertebrae, the levels the
    rows are about (`level_source` "label").
    """
    import nibabel as nib
    import nibabel.orientations as nio

    folder = Path(folder)
    entry = _as_entry(entry, folder)
    dataset_id = entry.dataset_id or entry.source_id
    raw_dir = folder / "rawdata"
    if not raw_dir.is_dir():
        yield SourceIssue(_rel(folder, entry.root), "no rawdata/ folder (not a VerSe layout)")
        return
    subjects = sorted(p.name for p in raw_dir.iterdir() if p.is_dir() and p.name.startswith("sub-"))
    if not subjects:
        yield SourceIssue(_rel(raw_dir, entry.root), "no sub-* subject folders")
    for sub in subjects:
        ct_path = raw_dir / sub / f"{sub}_ct.nii.gz"
        der = folder / "derivatives" / sub
        msk_path = der / f"{sub}_seg-vert_msk.nii.gz"
        ctd_path = next((p for p in (der / f"{sub}_seg-subreg_ctd.json", der / f"{sub}_seg-vb_ctd.json") if p.is_file()),
                        der / f"{sub}_seg-subreg_ctd.json")
        missing = [p for p in (ct_path, msk_path, ctd_path) if not p.is_file()]
        if missing:
            yield SourceIssue(_rel(missing[0], entry.root), "required file missing")
            continue
        outside = [p for p in (ct_path, msk_path, ctd_path) if not _inside(p, entry.root)]
        if outside:  # a symlink out of the sources folder
            where = f"{_rel(outside[0].parent, entry.root)}/{outside[0].name}"
            yield SourceIssue(where, "resolves outside the sources folder (a symlink); not read")
            continue
        try:
            ct_img, msk_img = nib.load(str(ct_path)), nib.load(str(msk_path))
            ctd = json.loads(ctd_path.read_text(encoding="utf-8"))
            direction = tuple(ctd[0]["direction"])
            points = {int(d["label"]): (float(d["X"]), float(d["Y"]), float(d["Z"])) for d in ctd[1:]}
            if not np.isfinite(list(points.values())).all():  # JSON allows NaN/Infinity; a slice index cannot be one
                raise ValueError("centroid coordinates must be finite numbers")
            target = nio.axcodes2ornt(direction)
            ct = nio.apply_orientation(np.asanyarray(ct_img.dataobj),
                                       nio.ornt_transform(nio.io_orientation(ct_img.affine), target))
            msk = nio.apply_orientation(np.asanyarray(msk_img.dataobj),
                                        nio.ornt_transform(nio.io_orientation(msk_img.affine), target))
        except Exception as exc:  # nibabel / json raise several types for corrupt inputs
            yield SourceIssue(_rel(der, entry.root), f"cannot read volume or centroids ({type(exc).__name__}: {exc})")
            continue
        zooms = _reoriented_zooms(ct_img, target)
        if ct.shape != msk.shape:
            yield SourceIssue(_rel(msk_path, entry.root), f"mask shape {msk.shape} != CT shape {ct.shape}")
            continue
        if direction != ("P", "I", "R"):
            yield SourceIssue(_rel(ctd_path, entry.root), f"centroid direction {direction} is not P,I,R")
            continue
        yield _verse_record(sub, ct, msk.astype(np.int16), points, zooms, dataset_id, ct_path, entry)


def _reoriented_zooms(img: Any, target: np.ndarray) -> tuple[float, float, float]:
    import nibabel.orientations as nio

    ornt = nio.ornt_transform(nio.io_orientation(img.affine), target)
    src = img.header.get_zooms()[:3]
    out = [0.0, 0.0, 0.0]
    for src_axis, (dst_axis, _flip) in enumerate(ornt):
        out[int(dst_axis)] = float(src[src_axis])
    return tuple(out)  # type: ignore[return-value]


def _verse_record(sub: str, ct: np.ndarray, msk: np.ndarray, points: dict[int, tuple[float, float, float]],
                  zooms: tuple[float, float, float], dataset_id: str, ct_path: Path, entry: CatalogEntry) -> SourceRecord:
    # PIR: axis 0 runs anterior->posterior, axis 1 superior->inferior, axis 2 left->right.
    x = int(round(float(np.median([p[2] for p in points.values()])))) if points else ct.shape[2] // 2
    x = min(max(x, 0), ct.shape[2] - 1)
    slab_ct = ct[:, :, x].T  # rows: superior->inferior, columns: anterior->posterior
    slab_msk = msk[:, :, x].T
    visible = sorted(int(v) for v in np.unique(slab_msk) if v > 0)
    names = [VERSE_LABELS.get(v, f"label{v}") for v in visible]
    dp, di = zooms[0], zooms[1]
    heights, findings, graded = {}, [], []
    for v, name in zip(visible, names, strict=True):
        h = _body_heights(slab_msk == v, points.get(v), di)
        if h is None:
            continue
        heights[name] = h
        loss = 1.0 - min(h["anterior_mm"], h["middle_mm"]) / h["posterior_mm"] if h["posterior_mm"] else 0.0
        h["height_loss"] = round(max(loss, 0.0), 2)
        h["genant_grade"] = _genant(loss)
        if h["genant_grade"]:
            graded.append(name)
            shape = "wedge" if h["anterior_mm"] <= h["middle_mm"] else "biconcave"
            findings.append(
                f"{name} {shape} compression deformity: anterior height {h['anterior_mm']:.1f} mm vs posterior "
                f"{h['posterior_mm']:.1f} mm ({loss:.0%} loss, Genant grade {h['genant_grade']})"
            )
    span = f"{names[0]}–{names[-1]}" if names else "no labelled vertebrae"
    description = (
        f"Mid-sagittal CT reconstruction of {sub} showing {span} ({len(names)} labelled vertebrae). "
        + (" ".join(f + "." for f in findings) + " " if findings else "")
        + ("Remaining vertebral body heights preserved." if findings
           else "Vertebral body heights preserved; no compression deformity.")
    )
    h_px = 384
    w_px = max(1, int(round(h_px * (slab_ct.shape[1] * dp) / (slab_ct.shape[0] * di))))
    images = [
        ImageRef(
            data=_window_png(slab_ct, level, width, (w_px, h_px)),
            label=f"{sub} sagittal x={x} ({name} window)",
            caption=f"Mid-sagittal CT, {name} window (W{width:.0f}/L{level:.0f}), anterior to the left.",
            description=description,
        )
        for name, (level, width) in (("bone", _BONE_WINDOW), ("soft-tissue", _SOFT_WINDOW))
    ]
    centroids = {VERSE_LABELS.get(k, f"label{k}"): [round(c, 1) for c in p] for k, p in sorted(points.items())}
    return _record(
        entry, ct_path, kind="volume", text=description, locator=f"{sub} / sagittal x={x}",
        source_id=dataset_id, language="en", id_parts=(description,), images=images,
        fields={"subject": sub, "vertebrae": names, "centroids": centroids, "heights": heights,
                "findings": findings, "orientation": "PIR", "shape": list(ct.shape),
                "zooms_mm": [round(z, 3) for z in zooms], "slice_index": x,
                # the levels the labelled findings are about (a T13 has no canonical level);
                # present even when empty: the labels, not the text, decide the row's levels
                "label_levels": [n for n in graded if n in LEVELS]},
    )


def _body_heights(mask2d: np.ndarray, centroid: tuple[float, float, float] | None, row_mm: float) -> dict[str, float] | None:
    """Anterior / middle / posterior vertebral body heights (mm) in a sagittal mask slice.

    The body is the run of label pixels along the centroid's row that starts at the anterior
    edge (posterior elements lie behind the canal, separated by a gap).
    """
    if not mask2d.any():
        return None
    if centroid is not None:
        row = int(round(centroid[1]))
    else:
        row = int(np.argwhere(mask2d)[:, 0].mean())
    row = min(max(row, 0), mask2d.shape[0] - 1)
    cols = np.flatnonzero(mask2d[row])
    if cols.size == 0:
        return None
    a0 = a1 = int(cols[0])
    while a1 + 1 < mask2d.shape[1] and mask2d[row, a1 + 1]:
        a1 += 1
    depth = a1 - a0
    if depth < 2:
        return None

    def col_height(c: int) -> float:
        return float(mask2d[:, c].sum()) * row_mm

    return {
        "anterior_mm": round(col_height(a0 + max(1, round(0.1 * depth))), 1),
        "middle_mm": round(col_height(a0 + depth // 2), 1),
        "posterior_mm": round(col_height(a1 - max(1, round(0.1 * depth))), 1),
    }
