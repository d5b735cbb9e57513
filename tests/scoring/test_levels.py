"""Vertebral-level parsing (EN + ZH), canonicalisation, anatomical order and set P/R/F1."""

from __future__ import annotations

import pytest

from spinemed.levels import LEVELS, VERTEBRAE, canonical_level, level_mentions, level_prf, level_sort_key, parse_levels

CASES = [
    # one segment, every notation
    ("L4/5", ["L4-L5"]),
    ("L4-5", ["L4-L5"]),
    ("L4–5", ["L4-L5"]),
    ("L4—5", ["L4-L5"]),
    ("L4~5", ["L4-L5"]),
    ("L4～5", ["L4-L5"]),
    ("L4-L5", ["L4-L5"]),
    ("L4/L5", ["L4-L5"]),
    ("l4-5", ["L4-L5"]),
    ("Ｌ４／５", ["L4-L5"]),
    ("C 5 - C 6", ["C5-C6"]),
    ("L5S1", ["L5-S1"]),
    ("L5/S1", ["L5-S1"]),
    ("T12-L1", ["T12-L1"]),
    ("T12/L1", ["T12-L1"]),
    ("C7-T1", ["C7-T1"]),
    ("S1/2", ["S1-S2"]),
    ("(L4-L5)", ["L4-L5"]),
    ("腰4/5", ["L4-L5"]),
    ("腰4-5", ["L4-L5"]),
    ("腰5骶1", ["L5-S1"]),
    ("腰五骶一", ["L5-S1"]),
    ("颈5/6", ["C5-C6"]),
    ("颈椎5-6", ["C5-C6"]),
    ("腰椎间盘突出症（L4/5）", ["L4-L5"]),
    ("第4-5腰椎间盘", ["L4-L5"]),
    # vertebrae
    ("L1 burst fracture", ["L1"]),
    ("Th12", ["T12"]),
    ("胸12椎体", ["T12"]),
    ("颈5", ["C5"]),
    ("第4腰椎", ["L4"]),
    ("第12胸椎", ["T12"]),
    ("第十二胸椎压缩性骨折", ["T12"]),
    ("第五腰椎骶化", ["L5"]),
    ("L2、3椎体", ["L2", "L3"]),
    ("腰4、5椎体", ["L4", "L5"]),
    ("第4、5腰椎", ["L4", "L5"]),
    ("C5,6 radiculopathy", ["C5", "C6"]),
    # adjacent listed vertebrae before a disc word name the disc between them
    ("腰4、5椎间盘", ["L4-L5"]),
    ("腰4、5椎间盘突出", ["L4-L5"]),
    ("第4、5腰椎间盘", ["L4-L5"]),
    ("L3、4、5椎间盘", ["L3-L4", "L4-L5"]),
    ("腰4、5椎间孔狭窄", ["L4-L5"]),
    ("L4,5 disc herniation", ["L4-L5"]),
    ("L3、5椎间盘", ["L3", "L5"]),  # not adjacent: no disc between them, left as named
    ("L4, L5 and S1 nerve roots", ["L4", "L5", "S1"]),
    ("L4 5", ["L4"]),
    # ranges name their segments
    ("L1/2-3/4", ["L1-L2", "L2-L3", "L3-L4"]),
    ("L3-5", ["L3-L4", "L4-L5"]),
    ("L2-L4 fusion", ["L2-L3", "L3-L4"]),
    ("L2 to L4", ["L2-L3", "L3-L4"]),
    ("腰3至腰5", ["L3-L4", "L4-L5"]),
    ("C3-7 laminoplasty", ["C3-C4", "C4-C5", "C5-C6", "C6-C7"]),
    ("T11-L2 posterior fixation", ["T11-T12", "T12-L1", "L1-L2"]),
    ("L4-S1", ["L4-L5", "L5-S1"]),
    ("L3/4/5", ["L3-L4", "L4-L5"]),
    ("L4-5/L5-S1", ["L4-L5", "L5-S1"]),
    ("L4-5,L5-S1", ["L4-L5", "L5-S1"]),
    ("C5–C6 和 C6–C7", ["C5-C6", "C6-C7"]),
    # curve measurements name their end vertebrae, not every segment
    ("Cobb angle T5-T12", ["T5", "T12"]),
    ("Cobb angle of 45° from T5 to T12", ["T5", "T12"]),
    ("主弯Cobb角（T5-T12）45°", ["T5", "T12"]),
    ("胸弯T5-T12", ["T5", "T12"]),
    ("T11-L2 kyphosis", ["T11", "L2"]),
    ("lumbar lordosis (L1-S1) of 45°", ["L1", "S1"]),
    ("Cobb angle L1-L2", ["L1-L2"]),  # adjacent: a segmental angle
    ("Cobb angle T5-T12, L3-5 stenosis", ["T5", "T12", "L3-L4", "L4-L5"]),
    ("thoracic curve T9-L1 fusion", ["T9-T10", "T10-T11", "T11-T12", "T12-L1"]),
    ("The curve was corrected by fusion from T10 to L1", ["T10-T11", "T11-T12", "T12-L1"]),
    ("脊柱侧弯行T10-L1融合", ["T10-T11", "T11-T12", "T12-L1"]),
    ("loss of lordosis with L3-5 stenosis", ["L3-L4", "L4-L5"]),
    # transitional L6 only when named
    ("L5-L6", ["L5-L6"]),
    ("L6-S1", ["L6-S1"]),
    ("L4-L6", ["L4-L5", "L5-L6"]),
    # MRI sequences vs thoracic levels (context rule)
    ("T2 hyperintensity", []),
    ("T1WI", []),
    ("T2WI", []),
    ("T2-weighted", []),
    ("T1-weighted images", []),
    ("T1加权", []),
    ("T1、T2加权像", []),
    ("STIR", []),
    ("T2*", []),
    ("T1 post-contrast", []),
    ("T2 signal change", []),
    ("on T1 and T2 images", []),
    ("axial T2", []),
    ("压脂T2", []),
    ("T2 and STIR hyperintense", []),
    ("T1/T2 hyperintense", []),
    ("MRI T2WI示L4/5椎间盘突出", ["L4-L5"]),
    ("T2WI上L3椎体呈高信号", ["L3"]),
    ("Sagittal T2 shows cord signal change at C5", ["C5"]),
    ("T2 vertebral body", ["T2"]),
    ("T2椎体", ["T2"]),
    ("T2-T3", ["T2-T3"]),
    ("T1/2 disc", ["T1-T2"]),
    ("T1 and T2 vertebral bodies", ["T1", "T2"]),
    ("fracture at T2", ["T2"]),
    ("T2 level", ["T2"]),
    # other look-alikes
    ("HLA-B27 positive", []),
    ("S1 nerve root", ["S1"]),
    ("C5 palsy", ["C5"]),
    ("S1Q3T3 pattern on ECG", []),
    ("C-reactive protein and CT", []),
    ("C3 complement", []),
    ("free T4 and TSH", []),
    ("T2 N0 M0", []),
    ("T2DM", []),
    ("S1 and S2 heart sounds", []),
    ("see Figure S1", []),
    ("grade C 5 patients", []),
    ("2023/4/5", []),
    ("L4/5 on 2023/4/5", ["L4-L5"]),
    ("腰2个月", []),
    # invalid levels are ignored (and invalidate the expression they are in)
    ("L7", []),
    ("C9", []),
    ("T13", []),
    ("C0", []),
    ("L45", []),
    ("L4-7", []),
    # full sentences, sorted and deduplicated
    (
        "MRI: L4/5 disc herniation compressing the L5 root, L5S1 bulge, T2 hyperintensity at L4.",
        ["L4", "L4-L5", "L5", "L5-S1"],
    ),
    ("腰4/5椎间盘突出，腰5骶1椎间盘膨出，L4-5 再次确认。", ["L4-L5", "L5-S1"]),
    ("Spondylolisthesis of L5 on S1 with L5 pars defect", ["L5", "S1"]),
    ("", []),
    ("No level mentioned in this sentence about osteoporosis.", []),
]


def every_mention(text: str) -> list[str]:
    """The notation layer: every level named, whatever for (parse_levels then keeps the levels
    a finding is about: tests/scoring/test_level_findings.py)."""
    return sorted({lv for _s, _e, levels in level_mentions(text) for lv in levels}, key=level_sort_key)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_level_mentions(text: str, expected: list[str]) -> None:
    assert every_mention(text) == expected
    assert set(parse_levels(text)) <= set(expected)  # the finding rules only ever drop levels


def test_table_size() -> None:
    assert len(CASES) >= 60


def test_order_vertebra_before_its_segments() -> None:
    text = "L5-S1, S1, L4, C7-T1, L4-L5, T12, C2, L5, T12-L1, L5-L6, L6"
    assert parse_levels(text) == ["C2", "C7-T1", "T12", "T12-L1", "L4", "L4-L5", "L5", "L5-L6", "L5-S1", "L6", "S1"]


def test_every_output_is_canonical() -> None:
    for text, _ in CASES:
        for level in every_mention(text):
            assert level in LEVELS
            assert canonical_level(level) == level


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("L4-L5", "L4-L5"),
        ("l4/5", "L4-L5"),
        ("L4–5", "L4-L5"),
        ("腰5骶1", "L5-S1"),
        ("第12胸椎", "T12"),
        ("Th12", "T12"),
        ("t2", "T2"),  # a token on its own is a level: no MRI context rule
        (" L4 vertebra ", "L4"),
        ("L4/5 disc", "L4-L5"),
        ("T12椎体", "T12"),
        ("腰4、5椎间盘", "L4-L5"),
        ("第4、5腰椎间盘", "L4-L5"),
        ("L3-5", None),  # two segments
        ("L2、3", None),  # two vertebrae
        ("L7", None),
        ("T2WI", None),
        ("L4 fusion surgery", None),
        ("", None),
        ("S1Q3T3", None),
    ],
)
def test_canonical_level(token: str, expected: str | None) -> None:
    assert canonical_level(token) == expected


def test_sort_key() -> None:
    assert sorted(["S1", "L5-S1", "L5", "C1"], key=level_sort_key) == ["C1", "L5", "L5-S1", "S1"]
    assert level_sort_key("L4/5") == level_sort_key("L4-L5")
    assert [v for v in sorted(VERTEBRAE, key=level_sort_key)] == list(VERTEBRAE)
    with pytest.raises(ValueError, match="L7"):
        level_sort_key("L7")


def test_level_prf_partial_overlap() -> None:
    assert level_prf(["L4-L5", "L5"], ["L4/5", "L5-S1", "腰5骶1"]) == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "tp": 1,
        "fp": 1,
        "fn": 1,
    }
    scores = level_prf(["L4-L5", "L5-S1", "L3-L4"], ["L4-L5", "L5-S1"])
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("predicted", "reference", "expected"),
    [
        ([], [], (1.0, 1.0, 1.0, 0, 0, 0)),
        (["L4"], [], (0.0, 0.0, 0.0, 0, 1, 0)),
        ([], ["L4"], (0.0, 0.0, 0.0, 0, 0, 1)),
        (["C5"], ["L4"], (0.0, 0.0, 0.0, 0, 1, 1)),
        (["L4", "L4"], ["L4"], (1.0, 1.0, 1.0, 1, 0, 0)),
    ],
)
def test_level_prf_edge_cases(predicted: list[str], reference: list[str], expected: tuple) -> None:
    scores = level_prf(predicted, reference)
    assert tuple(scores[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")) == expected


def test_level_prf_rejects_bad_items() -> None:
    with pytest.raises(ValueError, match="'L7'"):
        level_prf(["L7"], ["L4"])
    with pytest.raises(ValueError, match="reference"):
        level_prf(["L4"], ["L4", "T2WI"])
    with pytest.raises(TypeError, match="predicted"):
        level_prf("L4", ["L4"])  # type: ignore[arg-type]
