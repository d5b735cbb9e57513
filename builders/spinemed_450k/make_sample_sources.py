"""Regenerate the binary files of the shipped sample sources (images and the VerSe-layout volumes).

The text sources (markdown chapters, JATS XML, question banks, inpatient JSON) are hand-written
and committed as they are; this script only writes what cannot be hand-written, deterministically
(same bytes on every run with the same Pillow / nibabel / numpy):

* schematic figures (sagittal/axial MRI-, CT- and radiograph-like drawings) as PNG with a
  `Description` text chunk, or JPEG with a comment: a one-line English description of what the
  image shows, which the offline LLM backend uses as its stand-in for vision;
* two synthetic VerSe subjects (CT, vertebra mask, centroid JSON), one with a wedge-compressed L1;
* the PDF sources (`sample_pdfs.py`): a text-layer chapter in English and one in Chinese, each
  with a figure, its caption and a table, and a two-page scan (EN, ZH) as an image-only PDF;
* a tiny synthetic DICOM study set in the RSNA 2024 lumbar layout with planted header identifiers
  (`sample_dicom.py`);
* the planted defects that are files: a `.png` that is not an image.  (The caption/image
  mismatch is `ch7_fig3.png`, an AP knee radiograph under a lumbar-MRI caption; the missing image
  `ch7_fig4.png` is deliberately not written.)

Usage:  python builders/spinemed_450k/make_sample_sources.py [--out builders/spinemed_450k/sources]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "sources"
W, H = 256, 384


# --------------------------------------------------------------------------------------
# Drawing helpers (grayscale schematic images)
# --------------------------------------------------------------------------------------

# Intensities per modality: background, soft tissue, bone, disc, CSF/canal, cord, fluid/pus.
_PALETTE = {
    "t2": dict(bg=8, soft=70, bone=110, marrow=120, disc=200, csf=235, cord=120, fluid=245, ossified=20),
    "t1": dict(bg=8, soft=95, bone=150, marrow=165, disc=90, csf=40, cord=110, fluid=45, ossified=20),
    "ct": dict(bg=0, soft=80, bone=235, marrow=175, disc=95, csf=70, cord=80, fluid=85, ossified=245),
    "xray": dict(bg=20, soft=60, bone=215, marrow=190, disc=60, csf=60, cord=60, fluid=60, ossified=225),
}


def _canvas(mod: str, size=(W, H)) -> tuple[Image.Image, ImageDraw.ImageDraw, dict]:
    pal = _PALETTE[mod]
    img = Image.new("L", size, pal["bg"])
    return img, ImageDraw.Draw(img), pal


def sagittal_spine(
    mod: str,
    labels: list[str],
    *,
    herniation: int | None = None,
    slip: int | None = None,
    wedge: int | None = None,
    destroyed_disc: int | None = None,
    abscess: bool = False,
    opll: tuple[int, int] | None = None,
    cord_signal: int | None = None,
    lesion: int | None = None,
    fracture_line: int | None = None,
    sacrum: bool = False,
) -> Image.Image:
    """A schematic sagittal spine: vertebral bodies (anterior left), discs, canal, cord/cauda.

    Indices refer to `labels` (disc i lies below vertebra i)."""
    img, d, p = _canvas(mod)
    d.ellipse((20, -40, 236, H + 40), fill=p["soft"])  # body contour
    n = len(labels) + (1 if sacrum else 0)
    top, pitch = 26, (H - 52) / n
    body_h, disc_h = pitch * 0.72, pitch * 0.28
    x0, depth = 70, 80
    canal_x0, canal_x1 = x0 + depth + 4, x0 + depth + 34
    d.rectangle((canal_x0, 0, canal_x1, H), fill=p["csf"])
    if mod != "xray":
        d.rectangle((canal_x0 + 9, 0, canal_x1 - 9, H * (0.55 if labels[0].startswith("L") else 1.0)), fill=p["cord"])
    for i in range(n):
        y = top + i * pitch
        shift = 14 if slip is not None and i >= slip and i < len(labels) else 0
        if sacrum and i == n - 1:
            d.polygon([(x0 + 10, y), (x0 + depth + 10, y), (x0 + depth + 40, H), (x0 + 40, H)], fill=p["bone"])
            continue
        ant_top = y + (body_h * 0.45 if wedge == i else 0)
        d.polygon(
            [
                (x0 + shift, ant_top),
                (x0 + depth + shift, y),
                (x0 + depth + shift, y + body_h),
                (x0 + shift, y + body_h),
            ],
            fill=p["bone"],
            outline=255 if mod in ("ct", "xray") else p["soft"],
        )
        d.rectangle((x0 + 6 + shift, ant_top + 5, x0 + depth - 6 + shift, y + body_h - 5), fill=p["marrow"])
        if lesion == i:
            d.ellipse(
                (x0 + 20, y + 6, x0 + depth - 4, y + body_h - 4), fill=p["ossified"] if mod == "t1" else p["fluid"]
            )
            d.ellipse(
                (canal_x0 - 6, y + 4, canal_x0 + 16, y + body_h - 2), fill=p["ossified"] if mod == "t1" else p["fluid"]
            )
        if fracture_line == i:
            d.line((x0 + shift, y + body_h * 0.55, x0 + depth + 30, y + body_h * 0.35), fill=p["bg"], width=3)
        # posterior elements: lamina and spinous process behind the canal
        d.polygon(
            [
                (canal_x1 + 2, y + 4),
                (canal_x1 + 28, y + 2),
                (canal_x1 + 62, y + body_h * 0.7),
                (canal_x1 + 30, y + body_h),
                (canal_x1 + 2, y + body_h - 4),
            ],
            fill=p["bone"],
        )
        if i < len(labels) - 1 or sacrum:
            dy = y + body_h
            disc_fill = p["soft"] if destroyed_disc == i else p["disc"]
            d.rectangle((x0 + 4 + shift, dy + 2, x0 + depth - 2 + shift, dy + disc_h - 2), fill=disc_fill)
            if herniation == i:
                d.ellipse((x0 + depth - 8, dy - 6, x0 + depth + 26, dy + disc_h + 14), fill=p["disc"])
            if destroyed_disc == i and abscess:
                d.ellipse((x0 - 34, y + body_h * 0.2, x0 + 6, y + pitch * 1.8), fill=p["fluid"])
                d.ellipse((x0 + depth - 6, dy - 10, x0 + depth + 20, dy + disc_h + 10), fill=p["fluid"])
    if opll is not None:
        y0, y1 = top + opll[0] * pitch, top + (opll[1] + 1) * pitch - disc_h
        d.rectangle((canal_x0, y0, canal_x0 + 12, y1), fill=p["ossified"])
    if cord_signal is not None:
        cy = top + cord_signal * pitch + body_h
        d.ellipse((canal_x0 + 11, cy - 10, canal_x1 - 11, cy + 22), fill=p["fluid"])
    for i, lab in enumerate(labels):
        d.text((6, top + i * pitch + body_h / 2 - 5), lab, fill=255)
    return img


def axial_disc(mod: str, side: str = "left") -> Image.Image:
    """Axial MRI at a lumbar disc: disc, canal/thecal sac, facets, paracentral extrusion."""
    img, d, p = _canvas(mod, (W, W))
    d.ellipse((10, 20, 246, 250), fill=p["soft"])
    d.ellipse((68, 40, 188, 120), fill=p["disc"])
    d.ellipse((100, 122, 156, 168), fill=p["csf"])
    for x in (70, 186):
        d.ellipse((x - 22, 160, x + 22, 200), fill=p["bone"])
    ex = 108 if side == "right" else 148  # image left = patient right (radiological convention)
    d.ellipse((ex - 18, 104, ex + 18, 146), fill=p["disc"])
    d.text((6, 6), "R", fill=255)
    d.text((W - 14, 6), "L", fill=255)
    return img


def pa_scoliosis(cobb_deg: float) -> Image.Image:
    """Standing PA whole-spine radiograph with a right thoracic curve and Cobb lines."""
    img, d, p = _canvas("xray")
    d.ellipse((30, -30, 226, H + 30), fill=p["soft"])
    n, top, pitch = 17, 14, (H - 28) / 17
    amp = 34 * cobb_deg / 40
    ends = {}
    for i in range(n):
        y = top + i * pitch
        cx = 128 + amp * math.sin(math.pi * min(max((i - 3) / 8, 0), 1))  # apex to the patient's right (image left)
        cx = 256 - cx
        tilt = (amp / 8) * math.cos(math.pi * min(max((i - 3) / 8, 0), 1)) if 3 <= i <= 11 else 0
        d.polygon(
            [
                (cx - 18, y - tilt),
                (cx + 18, y + tilt),
                (cx + 18, y + pitch * 0.7 + tilt),
                (cx - 18, y + pitch * 0.7 - tilt),
            ],
            fill=p["bone"],
        )
        ends[i] = (cx, y, tilt)
    for i in (3, 11):  # end vertebrae T5 and T12 (index 0 = T2)
        cx, y, tilt = ends[i]
        yy = y if i == 3 else y + pitch * 0.7
        d.line((cx - 60, yy - tilt * 3.3, cx + 60, yy + tilt * 3.3), fill=255, width=2)
    d.text((8, 8), "R", fill=255)
    d.text((10, H - 20), f"Cobb {cobb_deg:.0f}", fill=255)
    return img


def ap_pelvis(right_oa: bool = True) -> Image.Image:
    img, d, p = _canvas("xray", (W + 64, W))
    d.ellipse((20, 20, 300, 250), fill=p["soft"])
    d.polygon([(60, 40), (260, 40), (230, 130), (90, 130)], outline=p["bone"], width=10)
    for cx, narrow in ((95, right_oa), (225, False)):  # image left = patient right
        d.ellipse((cx - 30, 110, cx + 30, 170), outline=p["bone"], width=6)
        gap = 1 if narrow else 5
        d.ellipse((cx - 26 + gap, 114 + gap, cx + 26 - gap, 166 - gap), fill=p["bone"])
        d.rectangle((cx - 10, 160, cx + 10, 250), fill=p["bone"])
        if narrow:
            d.polygon([(cx - 34, 118), (cx - 44, 126), (cx - 32, 130)], fill=255)  # osteophyte
    d.text((6, 6), "R", fill=255)
    return img


def ap_knee() -> Image.Image:
    img, d, p = _canvas("xray", (W, H))
    d.rectangle((40, 0, 216, H), fill=p["soft"])
    d.rectangle((88, 0, 168, 150), fill=p["bone"])  # femur
    d.ellipse((70, 120, 186, 190), fill=p["bone"])
    d.rectangle((78, 200, 182, 230), fill=p["bone"])  # tibial plateau (medial gap narrowed)
    d.rectangle((96, 230, 164, H), fill=p["bone"])
    d.rectangle((176, 215, 196, H), fill=p["marrow"])  # fibula
    d.text((6, 6), "R", fill=255)
    return img


def ap_lumbar_bamboo() -> Image.Image:
    """AP lumbar radiograph of advanced ankylosing spondylitis: syndesmophytes, fused SI joints."""
    img, d, p = _canvas("xray")
    d.ellipse((20, -30, 236, H + 30), fill=p["soft"])
    for i in range(5):
        y = 20 + i * 56
        d.rectangle((98, y, 158, y + 40), fill=p["bone"])
        d.rectangle((94, y - 16, 100, y + 42), fill=p["ossified"])  # marginal syndesmophytes bridging
        d.rectangle((156, y - 16, 162, y + 42), fill=p["ossified"])
    d.line((128, 10, 128, 300), fill=255, width=3)  # ossified supraspinous ligament ("dagger sign")
    d.polygon([(70, 300), (186, 300), (206, 384), (50, 384)], fill=p["bone"])  # sacrum + ilia, SI joints fused
    return img


def lateral_cervical_opll() -> Image.Image:
    return sagittal_spine("ct", ["C2", "C3", "C4", "C5", "C6", "C7"], opll=(1, 4))


def save_png(img: Image.Image, path: Path, description: str) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", description)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", pnginfo=info, optimize=True)


def save_jpeg(img: Image.Image, path: Path, description: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("L").save(path, format="JPEG", quality=80, comment=description.encode("utf-8"))


LUMBAR = ["L1", "L2", "L3", "L4", "L5"]
CERVICAL = ["C2", "C3", "C4", "C5", "C6", "C7"]


def figures() -> list[tuple[str, callable, str]]:
    """(relative path, drawing thunk, description) for every generated figure."""
    return [
        # English textbook chapters
        (
            "textbooks/images/ch3_fig1.png",
            lambda: sagittal_spine("t2", LUMBAR, herniation=3, sacrum=True),
            "Sagittal T2-weighted MRI of the lumbar spine: posterior L4/5 disc extrusion indenting the thecal sac; other discs normal.",
        ),
        (
            "textbooks/images/ch3_fig2.png",
            lambda: axial_disc("t2", "left"),
            "Axial T2-weighted MRI at L4/5: left paracentral disc extrusion compressing the traversing left L5 nerve root.",
        ),
        (
            "textbooks/images/ch5_fig1.png",
            lambda: sagittal_spine("t2", CERVICAL, herniation=3, cord_signal=3),
            "Sagittal T2-weighted MRI of the cervical spine: C5-6 disc-osteophyte complex compressing the cord with intramedullary high signal.",
        ),
        (
            "textbooks/images/ch5_fig2.png",
            lateral_cervical_opll,
            "Sagittal CT reconstruction of the cervical spine: continuous ossification of the posterior longitudinal ligament from C3 to C6 narrowing the canal.",
        ),
        (
            "textbooks/images/ch7_fig1.png",
            lambda: sagittal_spine("xray", LUMBAR, slip=4, sacrum=True),
            "Lateral standing radiograph of the lumbosacral spine: L5 slipped forward on S1 by about 35% (Meyerding grade II) with a pars defect.",
        ),
        (
            "textbooks/images/ch7_fig2.png",
            lambda: pa_scoliosis(42),
            "Standing posteroanterior whole-spine radiograph: right thoracic scoliosis, Cobb angle about 42 degrees from T5 to T12.",
        ),
        # planted mismatch: caption in the chapter says lumbar sagittal MRI
        (
            "textbooks/images/ch7_fig3.png",
            ap_knee,
            "Anteroposterior radiograph of the right knee: medial joint-space narrowing and marginal osteophytes.",
        ),
        (
            "textbooks/images/ch12_fig1.png",
            lambda: ap_pelvis(True),
            "Anteroposterior pelvis radiograph: right hip osteoarthritis with joint-space loss, subchondral sclerosis and osteophytes.",
        ),
        # Chinese textbook chapters
        (
            "textbooks/images/zh_ch4_fig1.png",
            lambda: sagittal_spine("t2", ["T11", "T12", "L1", "L2", "L3"], destroyed_disc=2, abscess=True),
            "Sagittal T2-weighted MRI of the thoracolumbar spine: destruction of the L1/2 disc and adjacent endplates with a prevertebral and epidural abscess, typical of spinal tuberculosis.",
        ),
        (
            "textbooks/images/zh_ch4_fig2.png",
            lambda: axial_disc("ct", "left"),
            "Axial CT of the lumbar spine: lytic destruction of the vertebral body with bone fragments (sequestra) and a calcified psoas abscess.",
        ),
        (
            "textbooks/images/zh_ch6_fig1.png",
            lambda: sagittal_spine("xray", ["T10", "T11", "T12", "L1", "L2"], wedge=2),
            "Lateral radiograph of the thoracolumbar spine: anterior wedge compression of T12 with loss of about 45% of anterior height; posterior wall intact.",
        ),
        (
            "textbooks/images/zh_ch8_fig1.png",
            ap_lumbar_bamboo,
            "Anteroposterior lumbar radiograph in ankylosing spondylitis: bridging marginal syndesmophytes (bamboo spine) and fused sacroiliac joints.",
        ),
        (
            "textbooks/images/zh_ch10_fig1.png",
            lambda: sagittal_spine("t1", ["T4", "T5", "T6", "T7", "T8"], lesion=2),
            "Sagittal T1-weighted MRI of the thoracic spine: low-signal metastatic lesion replacing the T6 body with epidural extension compressing the cord.",
        ),
        # Question bank
        (
            "question_bank/images/qb_en_01.png",
            lambda: sagittal_spine("t2", LUMBAR, herniation=4, sacrum=True),
            "Sagittal T2-weighted MRI of the lumbar spine: L5/S1 disc extrusion.",
        ),
        (
            "question_bank/images/qb_en_02.png",
            lambda: sagittal_spine("xray", LUMBAR, slip=3, sacrum=True),
            "Lateral radiograph of the lumbar spine: degenerative anterolisthesis of L4 on L5, about 20% (Meyerding grade I).",
        ),
        (
            "question_bank/images/qb_zh_01.png",
            lateral_cervical_opll,
            "Sagittal CT of the cervical spine: continuous-type ossification of the posterior longitudinal ligament C3-C6.",
        ),
        (
            "question_bank/images/qb_zh_02.png",
            lambda: pa_scoliosis(28),
            "Standing posteroanterior radiograph: right thoracic scoliosis, Cobb angle about 28 degrees.",
        ),
        # Case reports (JPEG, description in the JPEG comment)
        (
            "case_reports/images/PMC0000101_f1.jpg",
            lambda: sagittal_spine("t2", LUMBAR, herniation=3, sacrum=True),
            "Sagittal T2-weighted MRI of the lumbar spine: massive L4/5 disc extrusion occupying most of the canal and compressing the cauda equina.",
        ),
        (
            "case_reports/images/PMC0000102_f1.jpg",
            lambda: sagittal_spine("t2", ["T9", "T10", "T11", "T12", "L1"], destroyed_disc=2, abscess=True),
            "Sagittal T2-weighted MRI of the thoracolumbar spine: destruction of the T11/12 disc and endplates with subligamentous and epidural abscess.",
        ),
        (
            "case_reports/images/PMC0000102_f2.jpg",
            lambda: axial_disc("ct", "right"),
            "Axial CT at T11: fragmented lytic destruction of the vertebral body with paravertebral abscess.",
        ),
        (
            "case_reports/images/PMC0000103_f1.jpg",
            lateral_cervical_opll,
            "Sagittal CT of the cervical spine: continuous-type ossification of the posterior longitudinal ligament from C3 to C6.",
        ),
        (
            "case_reports/images/PMC0000104_f1.jpg",
            lambda: sagittal_spine("ct", CERVICAL, fracture_line=4),
            "Sagittal CT of the cervical spine in ankylosing spondylitis: transverse fracture through the ankylosed C6 vertebral body extending into the posterior elements.",
        ),
        (
            "case_reports/images/PMC0000105_f1.jpg",
            lambda: sagittal_spine("t1", ["T6", "T7", "T8", "T9", "T10"], lesion=2),
            "Sagittal T1-weighted MRI of the thoracic spine: T8 metastasis replacing the body with epidural extension compressing the spinal cord.",
        ),
    ]


# --------------------------------------------------------------------------------------
# VerSe-layout synthetic CT volumes
# --------------------------------------------------------------------------------------

VERSE_IDS = {"T10": 17, "T11": 18, "T12": 19, "L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24}
SHAPE = (64, 96, 48)  # PIR voxels: posterior, inferior, right
ZOOMS = (1.5, 2.0, 1.5)  # mm


def synth_volume(levels: list[str], wedge: dict[str, float], seed: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """CT (HU) and vertebra mask in PIR voxel order, plus VerSe centroids.

    `wedge` maps a level to the fraction of anterior height lost (wedge compression)."""
    n_p, n_i, n_r = SHAPE
    p, i, r = np.meshgrid(np.arange(n_p), np.arange(n_i), np.arange(n_r), indexing="ij")
    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    body_contour = ((p - 30) / 31.0) ** 2 + ((r - 23.5) / 23.5) ** 2 <= 1.0
    ct[body_contour] = 40.0
    msk = np.zeros(SHAPE, dtype=np.uint8)
    pitch = n_i / (len(levels) + 0.3)
    p_ant, depth = 6, 22  # body from p=6 to p=28 (33 mm)
    canal = (29, 38)
    rc = 23.5
    ctd: list[dict] = [{"direction": ["P", "I", "R"]}]
    ax_body = ((p - (p_ant + depth / 2)) / (depth / 2)) ** 2 + ((r - rc) / 14.0) ** 2 <= 1.0
    for k, lev in enumerate(levels):
        lab = VERSE_IDS[lev]
        top = 0.15 * pitch + k * pitch
        h = 0.74 * pitch
        bottom = top + h
        loss = wedge.get(lev, 0.0)
        # top endplate lowered anteriorly for a wedge: height(p) grows linearly towards posterior
        frac_post = np.clip((p - p_ant) / depth, 0.0, 1.0)
        top_p = top + loss * h * (1.0 - frac_post)
        body = ax_body & (i >= top_p) & (i < bottom)
        disc = ax_body & (i >= bottom) & (i < bottom + 0.26 * pitch) & (k < len(levels) - 1)
        ct[disc] = 90.0
        shell = body & ~(((p - (p_ant + depth / 2)) / (depth / 2 - 1.2)) ** 2 + ((r - rc) / 12.8) ** 2 <= 1.0)
        ct[body] = 330.0 if loss else 230.0  # impacted cancellous bone is denser
        ct[shell | (body & ((i < top_p + 1) | (i >= bottom - 1)))] = 750.0
        msk[body] = lab
        # posterior arch: pedicles lateral to the canal, lamina and spinous process behind it
        arch_i = (i >= top + 0.15 * h) & (i < top + 0.75 * h)
        pedicles = arch_i & (p >= p_ant + depth) & (p < canal[1]) & (np.abs(r - rc) >= 6) & (np.abs(r - rc) <= 10)
        lamina = arch_i & (p >= canal[1]) & (p < canal[1] + 4) & (np.abs(r - rc) <= 10)
        spinous = (i >= top + 0.25 * h) & (i < top + 0.85 * h) & (p >= canal[1]) & (p < 60) & (np.abs(r - rc) <= 2.5)
        post = (pedicles | lamina | spinous) & body_contour
        ct[post] = 600.0
        msk[post] = lab
        cp = p_ant + depth / 2
        ci = (top + loss * h * 0.5 + bottom) / 2
        ctd.append({"label": lab, "X": round(float(cp), 1), "Y": round(float(ci), 1), "Z": round(float(rc), 1)})
    canal_m = (p >= canal[0]) & (p < canal[1]) & (np.abs(r - rc) < 6) & body_contour
    ct[canal_m] = 15.0
    rng = np.random.default_rng(seed)
    ct += rng.normal(0.0, 12.0, SHAPE).astype(np.float32)
    return np.round(ct).astype(np.int16), msk, ctd


def write_verse(out: Path) -> None:
    import nibabel as nib
    import nibabel.orientations as nio

    # PIR voxel axes in RAS+ world: +i0 = posterior (-y), +i1 = inferior (-z), +i2 = right (+x).
    aff = np.array([[0, 0, ZOOMS[2], 0], [-ZOOMS[0], 0, 0, 0], [0, -ZOOMS[1], 0, 0], [0, 0, 0, 1]], dtype=float)
    subjects = {
        # lumbar, normal heights; stored in PIR like VerSe's reoriented files
        "sub-verse501": (["L1", "L2", "L3", "L4", "L5"], {}, 501, None),
        # thoracolumbar with a wedge-compressed L1; stored RAS so readers must reorient
        "sub-verse502": (["T10", "T11", "T12", "L1", "L2", "L3"], {"L1": 0.45}, 502, ("R", "A", "S")),
    }
    for sub, (levels, wedge, seed, store_as) in subjects.items():
        ct, msk, ctd = synth_volume(levels, wedge, seed)
        ct_img = nib.Nifti1Image(ct, aff)
        msk_img = nib.Nifti1Image(msk, aff)
        if store_as is not None:
            ornt = nio.ornt_transform(nio.axcodes2ornt(("P", "I", "R")), nio.axcodes2ornt(store_as))
            ct_img, msk_img = ct_img.as_reoriented(ornt), msk_img.as_reoriented(ornt)
        for img in (ct_img, msk_img):
            img.header.set_xyzt_units("mm")
            img.set_qform(img.affine, code=1)
            img.set_sform(img.affine, code=1)
        raw = out / "verse" / "rawdata" / sub
        der = out / "verse" / "derivatives" / sub
        raw.mkdir(parents=True, exist_ok=True)
        der.mkdir(parents=True, exist_ok=True)
        _save_nifti_gz(ct_img, raw / f"{sub}_ct.nii.gz")
        _save_nifti_gz(msk_img, der / f"{sub}_seg-vert_msk.nii.gz")
        (der / f"{sub}_seg-subreg_ctd.json").write_text(json.dumps(ctd, indent=1) + "\n", encoding="utf-8")


def _save_nifti_gz(img, path: Path) -> None:
    """gzip without a timestamp/filename in the header, so reruns give identical bytes."""
    import gzip

    raw = img.to_bytes()
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    out: Path = args.out
    for rel, draw, description in figures():
        path = out / rel
        (save_jpeg if path.suffix == ".jpg" else save_png)(draw(), path, description)
    # planted defect: a .png that is not an image (an HTML error page saved by a scraper)
    bad = out / "textbooks" / "images" / "ch12_fig2.png"
    bad.write_bytes(b"<html><head><title>404 Not Found</title></head><body>image unavailable</body></html>\n")
    write_verse(out)
    # the PDF sources (text-layer chapters EN + ZH, an image-only scan): builders/spinemed_450k/sample_pdfs.py
    spec = importlib.util.spec_from_file_location("sample_pdfs", HERE / "sample_pdfs.py")
    sample_pdfs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample_pdfs)
    pdfs = sample_pdfs.write_sample_pdfs(out, sagittal_spine)
    print(f"wrote {len(figures()) + 1} images, 2 VerSe subjects and {len(pdfs)} PDFs under {out}")
    # DICOM studies in the RSNA lumbar layout (sample_dicom.py, next to this script)
    sys.path.insert(0, str(HERE))
    from sample_dicom import write_rsna_sample

    print(f"wrote {write_rsna_sample(out)} DICOM slices and 3 CSVs in the RSNA lumbar layout under {out}")


if __name__ == "__main__":
    main()
