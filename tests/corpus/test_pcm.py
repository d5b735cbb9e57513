"""Picture-context matching: label parsing, citations, anchoring, and the shipped sample chapters."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinemed.corpus import pcm

SOURCES = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k" / "sources"


@pytest.mark.parametrize(
    "text, key",
    [
        ("Figure 3-2", ("3", "2")),
        ("Figure 3.2", ("3", "2")),
        ("Fig. 3.2", ("3", "2")),
        ("Fig 3-2", ("3", "2")),
        ("FIG. 3–2", ("3", "2")),
        ("图3-2", ("3", "2")),
        ("图 3.2", ("3", "2")),
        ("图3–2", ("3", "2")),
        ("Figure 12", ("12",)),
        ("图12", ("12",)),
        ("**Fig. 5.1:** Sagittal T2-weighted MRI", ("5", "1")),
        ("Figure 03-02A shows", ("3", "2")),
        ("附图4-1 CT轴位", ("4", "1")),
    ],
)
def test_parse_figure_label(text, key):
    label = pcm.parse_figure_label(text)
    assert label is not None and label.key == key
    assert label.canonical == "-".join(key)


@pytest.mark.parametrize("text", ["no figure here", "Table 3-1 Meyerding grading", "CT图像显示", "figured out at L4-5"])
def test_parse_figure_label_none(text):
    assert pcm.parse_figure_label(text) is None


@pytest.mark.parametrize(
    "text, keys",
    [
        ("as shown in Figure 3-2.", [("3", "2")]),
        ("the extrusion (Fig. 3.2) compresses", [("3", "2")]),
        ("(Figs. 3.1 and 3.2)", [("3", "1"), ("3", "2")]),
        ("Figures 3-1–3-3 show the sequence", [("3", "1"), ("3", "2"), ("3", "3")]),
        ("see Figures 7-2 to 7-4", [("7", "2"), ("7", "3"), ("7", "4")]),
        ("(Figs. 5.1, 5.2 and 5.4)", [("5", "1"), ("5", "2"), ("5", "4")]),
        ("Figure 3-2 and Figure 3-5", [("3", "2"), ("3", "5")]),
        ("at L4-5 (Figure 12). Then", [("12",)]),
        ("见图3-2。", [("3", "2")]),
        ("如图3-2所示", [("3", "2")]),
        ("（图4-1、4-2）", [("4", "1"), ("4", "2")]),
        ("图3-1至图3-3", [("3", "1"), ("3", "2"), ("3", "3")]),
        ("右下肢（图4-1～4-3）", [("4", "1"), ("4", "2"), ("4", "3")]),
        ("见图6-1和图6-3", [("6", "1"), ("6", "3")]),
        ("L4/5 disc, no figure cited; Table 3-1", []),
    ],
)
def test_find_figure_citations(text, keys):
    assert pcm.find_figure_citations(text) == keys


def test_block_kinds_and_caption_vs_citing_paragraph():
    assert pcm.block_kind("Figure 3-2 Axial T2-weighted MRI at L4/5") == "caption"
    assert pcm.block_kind("图3-2 腰椎MRI矢状位") == "caption"
    assert pcm.block_kind("图3-2腰椎MRI矢状位T2加权像") == "caption"
    # A paragraph opening with a citation is not a caption.
    assert pcm.block_kind("Figure 3-2 shows a left paracentral extrusion.") == "paragraph"
    assert pcm.block_kind("图3-2显示腰4/5椎间盘突出。") == "paragraph"
    assert pcm.block_kind("![](images/a.png)") == "image"
    assert pcm.block_kind("<!-- page 57 -->") == "page"
    assert pcm.block_kind("## 3.2 Imaging") == "heading"
    assert pcm.block_kind("| a | b |\n| --- | --- |\n| 1 | 2 |") == "table"


SYNTHETIC = """\
# Chapter 3 Test

The herniation is central (Figure 3-1) and the root is compressed (Figs. 3-1 and 3-2).

![](images/a.png)

Figure 3-1 Sagittal T2-weighted MRI of the lumbar spine

Unrelated paragraph about L5/S1.

<!-- page 58 -->
Fig. 3.2: Axial MRI at L4/5

<!-- page 59 -->
![](images/b.png)
A later paragraph cites Figures 3-1–3-3 together.

![Figure 3-3 Lateral radiograph after fusion](images/c.png)

![](images/d.png)

Figure 3-9 A caption whose image was lost in OCR

见图3-2。
"""


def test_anchor_figures_synthetic():
    blocks = pcm.split_blocks(SYNTHETIC)
    anchors = pcm.anchor_figures(blocks)
    by_path = {a.image_path: a for a in anchors if a.image_path}
    assert [a.image_path for a in anchors if a.image_path] == ["images/a.png", "images/b.png", "images/c.png", "images/d.png"]

    a = by_path["images/a.png"]  # caption below
    assert a.problem == "" and a.label.key == ("3", "1")
    assert a.caption == "Figure 3-1 Sagittal T2-weighted MRI of the lumbar spine"
    assert len(a.citing) == 2 and "central (Figure 3-1)" in a.citing[0] and "Figures 3-1–3-3" in a.citing[1]

    b = by_path["images/b.png"]  # caption above, across a page marker
    assert b.label.key == ("3", "2") and b.caption.startswith("Fig. 3.2:")
    assert len(b.citing) == 3 and b.citing[-1] == "见图3-2。"
    assert pcm.page_of_block(blocks, b.image_index) == 59

    c = by_path["images/c.png"]  # alt text only
    assert c.problem == "" and c.label.key == ("3", "3") and c.caption == c.alt
    assert c.citing == ["A later paragraph cites Figures 3-1–3-3 together."]

    # d.png: the "Figure 3-9" caption right below it belongs to it under the book's convention;
    # no image without caption left, and no orphan caption.
    d = by_path["images/d.png"]
    assert d.label.key == ("3", "9") and d.citing == []


def test_anchor_figures_reports_orphans():
    blocks = pcm.split_blocks(
        "Text (Figure 2-1).\n\n![](x.png)\n\nMore text.\n\nFigure 2-2 A caption with no image.\n\nEnd."
    )
    anchors = pcm.anchor_figures(blocks)
    problems = sorted((a.problem, a.image_path or a.caption) for a in anchors)
    assert problems == [
        ("caption without image", "Figure 2-2 A caption with no image."),
        ("image without caption", "x.png"),
    ]


def test_region_modality_conflict():
    assert pcm.region_modality_conflict(
        "Figure 7-3 Sagittal T2-weighted MRI of the lumbar spine", "Anteroposterior radiograph of the right knee"
    ) == "body region: caption says spine, image shows knee; modality: caption says mri, image shows xray"
    assert pcm.region_modality_conflict("图4-1 腰椎MRI矢状位", "Sagittal T2-weighted MRI of the lumbar spine") == ""
    assert pcm.region_modality_conflict("图6-1 胸腰段侧位X线片", "Axial CT of the thoracolumbar spine").startswith("modality")
    # vague captions are left to the LLM check
    assert pcm.region_modality_conflict("Figure 2 Postoperative view", "AP knee radiograph") == ""
    assert pcm.region_modality_conflict("Figure 1 Lumbar MRI", "") == ""


# The shipped sample chapters: every figure anchored, except the planted defects.
PLANTED_FIGURE_DEFECTS = {"images/ch7_fig3.png", "images/ch7_fig4.png", "images/ch12_fig2.png"}


def test_shipped_chapters_every_figure_anchored():
    n = 0
    for md in sorted([*SOURCES.glob("textbooks/*.md"), *SOURCES.glob("guidelines/*.md")]):
        blocks = pcm.split_blocks(md.read_text(encoding="utf-8"))
        for a in pcm.anchor_figures(blocks):
            assert a.problem == "", (md.name, a)
            assert a.label is not None, (md.name, a.image_path)
            if a.image_path in PLANTED_FIGURE_DEFECTS:
                continue
            assert (md.parent / a.image_path).is_file(), a.image_path
            assert a.citing, f"{md.name}: {a.label.text} is cited by no paragraph"
            assert all(a.label.key in pcm.find_figure_citations(c) for c in a.citing)
            n += 1
    assert n == 12  # 7 English + 5 Chinese textbook figures
