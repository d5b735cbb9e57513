"""The finding rules of `spinemed.levels.parse_levels`: a level named for a dermatome, a
myotome, a nerve root beside the lesion, a fixation/fusion construct, a vertebral count or
landmark, or in a negated/normal statement is not a level the finding is about.  The gold set
(benchmarks/data/levels_gold.jsonl) holds the targets the README reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinemed.levels import canonical_level, level_mentions, parse_levels

GOLD = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "levels_gold.jsonl"
TRAPS = ("plain", "dermatome", "myotome", "root", "construct", "count", "negated")

# (text, levels named, levels the finding is about): the mentions are asserted too, so each case
# shows a rule dropping a level the notation layer did find.
CASES = [
    # dermatomes
    ("Saddle anaesthesia S2-S5 with a large L4-L5 sequestered disc.", ["S2-S3", "S3-S4", "S4-S5", "L4-L5"], ["L4-L5"]),
    ("Numbness in the L5 dermatome from an L4-L5 herniation.", ["L5", "L4-L5"], ["L4-L5"]),
    ("Reduced sensation over the C6 distribution.", ["C6"], []),
    ("Sensory level at T10 due to a T6 metastasis.", ["T10", "T6"], ["T6"]),
    ("鞍区（S2-S5）感觉减退，L3/4巨大椎间盘脱出。", ["S2-S3", "S3-S4", "S4-S5", "L3-L4"], ["L3-L4"]),
    ("L5皮节感觉减退，L4/5椎间盘突出。", ["L5", "L4-L5"], ["L4-L5"]),
    ("T10平面以下感觉减退，T6椎体转移瘤压迫脊髓。", ["T10", "T6"], ["T6"]),
    # myotomes and reflexes
    ("Weakness of ankle dorsiflexion (L4) and big toe extension (L5).", ["L4", "L5"], []),
    ("Biceps reflex (C5) reduced, consistent with C4-C5 disease.", ["C5", "C4-C5"], ["C4-C5"]),
    ("Weakness in the L5 myotome with foot drop.", ["L5"], []),
    ("跟腱反射（S1）消失。", ["S1"], []),
    ("C5肌节肌力下降，C4/5椎间盘突出。", ["C5", "C4-C5"], ["C4-C5"]),
    # nerve roots: the lesion's level when the sentence names no other
    ("L5-S1 disc extrusion compressing the S1 nerve root.", ["L5-S1", "S1"], ["L5-S1"]),
    ("Right S1 radiculopathy.", ["S1"], ["S1"]),
    ("L4/5椎间盘突出压迫L5神经根。", ["L4-L5", "L5"], ["L4-L5"]),
    ("右侧S1神经根病。", ["S1"], ["S1"]),
    # fixation and fusion constructs
    ("A C6 fracture was treated with posterior fixation from C4 to T2.",
     ["C6", "C4-C5", "C5-C6", "C6-C7", "C7-T1", "T1-T2"], ["C6"]),
    ("Posterior fusion L3-S1 for degenerative spondylolisthesis at L4-L5.", ["L3-L4", "L4-L5", "L5-S1"], ["L4-L5"]),
    ("Adjacent segment disease at L3-L4 above an L4-S1 fusion.", ["L3-L4", "L4-L5", "L5-S1"], ["L3-L4"]),
    ("行T10-L2后路椎弓根螺钉内固定术，L1椎体爆裂骨折复位满意。",
     ["T10-T11", "T11-T12", "T12-L1", "L1-L2", "L1"], ["L1"]),
    ("L3-S1融合术后，L2/3邻近节段退变。", ["L3-L4", "L4-L5", "L5-S1", "L2-L3"], ["L2-L3"]),
    ("于T11、T12、L2、L3置入椎弓根螺钉，L1椎体骨折。", ["T11", "T12", "L2", "L3", "L1"], ["L1"]),
    # counts, transitional vertebrae, landmarks
    ("A transitional L6 vertebra is present; the L5-L6 disc is herniated.", ["L6", "L5-L6"], ["L5-L6"]),
    ("Counting from C2, the fracture is at C5.", ["C2", "C5"], ["C5"]),
    ("The conus medullaris terminates at L1-L2.", ["L1-L2"], []),
    ("L6移行椎，L5/6椎间盘突出。", ["L6", "L5-L6"], ["L5-L6"]),
    ("圆锥位于L1/2，T12椎体骨折。", ["L1-L2", "T12"], ["T12"]),
    # negated and normal levels
    ("No stenosis at L3-L4; severe stenosis at L4-L5.", ["L3-L4", "L4-L5"], ["L4-L5"]),
    ("L1-L2 and L2-L3 are normal.", ["L1-L2", "L2-L3"], []),
    ("Without cord compression at C6-C7, but a large herniation at C5-C6.", ["C6-C7", "C5-C6"], ["C5-C6"]),
    ("No change in the L4-L5 herniation compared with the prior study.", ["L4-L5"], ["L4-L5"]),
    # a negation's reach: a list of levels goes on, another statement does not
    ("No stenosis at L2-L3, L3-L4, and L4-L5.", ["L2-L3", "L3-L4", "L4-L5"], []),
    ("no stenosis at L3-L4, severe stenosis at L4-L5", ["L3-L4", "L4-L5"], ["L4-L5"]),
    ("L4-L5 without stenosis, L5-S1 with severe stenosis.", ["L4-L5", "L5-S1"], ["L5-S1"]),
    ("Severe stenosis at L3-4 and L4-5 with no significant stenosis at L2-3 or L5-S1.",
     ["L2-L3", "L3-L4", "L4-L5", "L5-S1"], ["L3-L4", "L4-L5"]),
    ("未见L3/4椎间盘突出，L4/5椎间盘突出。", ["L3-L4", "L4-L5"], ["L4-L5"]),
    ("L1/2、L2/3椎间盘未见异常。", ["L1-L2", "L2-L3"], []),
    ("C3/4水平椎管无狭窄。", ["C3-C4"], []),
    # plain findings stay: a congenital fusion is the finding, "loss of normal ..." is no negation,
    # and a generic "area" is no dermatome
    ("Congenital fusion of C2-C3 (Klippel-Feil).", ["C2-C3"], ["C2-C3"]),
    ("Loss of normal disc height at L4-L5.", ["L4-L5"], ["L4-L5"]),
    ("Severe stenosis in the L4-L5 area.", ["L4-L5"], ["L4-L5"]),
    ("Multilevel stenosis from L2 to L5.", ["L2-L3", "L3-L4", "L4-L5"], ["L2-L3", "L3-L4", "L4-L5"]),
    ("L4/5 decompression relieved the claudication.", ["L4-L5"], ["L4-L5"]),
    ("腰5骶1椎间盘突出，椎间隙变窄。", ["L5-S1"], ["L5-S1"]),
]


@pytest.mark.parametrize(("text", "named", "about"), CASES)
def test_finding_rules(text: str, named: list[str], about: list[str]) -> None:
    assert {lv for _s, _e, levels in level_mentions(text) for lv in levels} == set(named)
    assert set(parse_levels(text)) == set(about)


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_gold_set_is_well_formed() -> None:
    rows = _load(GOLD)
    assert len(rows) >= 200
    assert {r["language"] for r in rows} == {"en", "zh"}
    for lang in ("en", "zh"):
        assert {r["trap"] for r in rows if r["language"] == lang} == set(TRAPS), lang
    for r in rows:
        assert all(canonical_level(lv) == lv for lv in r["levels"]), r["id"]


def test_gold_set_precision_and_recall() -> None:
    """Micro precision >= 95% at recall >= 90% over the gold set's levels (README figure)."""
    tp = fp = fn = 0
    for r in _load(GOLD):
        got, gold = set(parse_levels(r["text"])), set(r["levels"])
        tp, fp, fn = tp + len(got & gold), fp + len(got - gold), fn + len(gold - got)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95 and recall >= 0.90, (precision, recall)
