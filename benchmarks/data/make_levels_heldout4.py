"""Blind held-out set 4 for the spinal-level extractor.

Written without looking at spinemed/levels.py or any earlier level set.
Gold = the spinal levels a finding is about (lesion, stenosis, herniation,
fracture, tumour, infection, deformity, degeneration), canonical form
("L4", "L4-L5", "L5-S1", "T12-L1"), sorted in spine order.  Not gold:
dermatomes / sensory levels, myotomes and reflexes, compressed nerve roots
named next to a disc level, fixation / fusion constructs (past or planned),
numbering variants and landmarks (cervical ribs, transitional vertebrae,
conus level, counting), negated or normal levels.

Two origins:
  blind-hand      sentences composed one by one (report, op-note, clinic
                  letter, discharge and Chinese 影像/查体/手术记录 styles)
  blind-template  composed by the seeded generator below from phrase lists

Run:  python benchmarks/data/make_levels_heldout4.py
Writes benchmarks/data/levels_heldout4.jsonl next to this file.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261206
OUT = Path(__file__).with_name("levels_heldout4.jsonl")

ORDER = (
    [f"C{i}" for i in range(1, 8)]
    + [f"T{i}" for i in range(1, 13)]
    + [f"L{i}" for i in range(1, 6)]
    + [f"S{i}" for i in range(1, 6)]
)
IDX = {v: i for i, v in enumerate(ORDER)}


def spine_key(level: str):
    parts = level.split("-")
    if len(parts) == 1:
        return (IDX[parts[0]], 0, 0)
    return (IDX[parts[0]], 1, IDX[parts[1]])


def canon(levels):
    return sorted(set(levels), key=spine_key)


# --------------------------------------------------------------------------
# Hand-written sentences: (language, trap, text, gold levels)
# --------------------------------------------------------------------------
HAND = [
    # ---- English: radiology reports / impressions ----
    ("en", "negated",
     "L4/5: broad-based disc bulge with superimposed L central protrusion, mild bilat NFN. L5/S1: no significant canal or foraminal stenosis.",
     ["L4-L5"]),
    ("en", "plain",
     "Impression: 1. Acute superior endplate fracture of L1 with approx 30% anterior height loss. 2. Mild chronic wedging of T12. 3. No retropulsion.",
     ["T12", "L1"]),
    ("en", "negated",
     "Impression: 1. Multilevel cervical spondylosis, worst at C6-7 where there is severe bilateral foraminal stenosis. 2. C3-4 and C4-5 are unremarkable.",
     ["C6-C7"]),
    ("en", "count",
     "Bilateral cervical ribs arising from C7. C5-6 left posterolateral disc protrusion with moderate left foraminal narrowing.",
     ["C5-C6"]),
    ("en", "count",
     "Lumbosacral transitional vertebra (partially sacralised L5, Castellvi IIa). L4/5 disc extrusion with caudal migration of a free fragment.",
     ["L4-L5"]),
    ("en", "count",
     "Counting from C2, the conus terminates at T12-L1; there is a 9 mm typical haemangioma in the L3 vertebral body.",
     ["L3"]),
    ("en", "count",
     "Spinal cord ends at the L1-2 level. No significant abnormality of the lumbar spine.",
     []),
    ("en", "negated",
     "Modic type 1 endplate change at L5-S1 with a posterior annular fissure; L1-L2 through L3-L4 unremarkable.",
     ["L5-S1"]),
    ("en", "negated",
     "Spondylodiscitis at L2-L3 with bilateral psoas collections; the L1-L2 disc is preserved.",
     ["L2-L3"]),
    ("en", "negated",
     "Pathological fracture of the fifth thoracic vertebra in keeping with myeloma deposit; T8 and T9 maintain normal height.",
     ["T5"]),
    ("en", "plain",
     "Intradural extramedullary lesion at the T11-12 level, likely schwannoma, displacing the cord to the left.",
     ["T11-T12"]),
    ("en", "plain",
     "Findings: Grade I degenerative anterolisthesis at L4-5 with severe canal stenosis, trefoil configuration of the thecal sac.",
     ["L4-L5"]),
    ("en", "plain",
     "Sacral insufficiency fractures involving S1 and S2 bilaterally, H-pattern on bone scan.",
     ["S1", "S2"]),
    ("en", "plain",
     "Hoffmann's positive bilaterally. CT: C3/4 and C4/5 segmental OPLL with canal AP diameter 7 mm.",
     ["C3-C4", "C4-C5"]),
    ("en", "count",
     "Six lumbar-type vertebrae; for consistency with the prior study the lowest mobile disc is called L5/S1. Acute L2 compression fracture with marrow oedema.",
     ["L2"]),
    # ---- English: operative notes / surgical history ----
    ("en", "construct",
     "Procedure: revision L4-S1 posterior instrumented fusion with extension to L3. Findings: severe adjacent segment stenosis at L3-4.",
     ["L3-L4"]),
    ("en", "construct",
     "Previous C5-C7 ACDF. Now C4/5 disc osteophyte complex indenting the cord with T2 hyperintensity at the same level.",
     ["C4-C5"]),
    ("en", "construct",
     "Discharge diagnosis: T12 burst fracture (AO A3) treated with percutaneous pedicle screw fixation T11-L1.",
     ["T12"]),
    ("en", "root",
     "Operative findings: large L5/S1 left subarticular sequestrated fragment compressing the traversing S1 root, removed piecemeal.",
     ["L5-S1"]),
    ("en", "construct",
     "Post-op films: satisfactory position of pedicle screws L3 to L5 and interbody cage at L4/5, no lucency around the screws.",
     []),
    ("en", "construct",
     "Chance fracture through L2 with disruption of the posterior ligamentous complex; planned T12-L4 posterior stabilisation.",
     ["L2"]),
    ("en", "construct",
     "Plan: L5-S1 ALIF. Imaging reviewed: grade 2 isthmic spondylolisthesis at L5-S1 with bilateral L5 pars defects.",
     ["L5", "L5-S1"]),
    ("en", "construct",
     "Previous T10-pelvis fixation for adult deformity; now proximal junctional kyphosis with a T9 compression fracture.",
     ["T9"]),
    ("en", "construct",
     "No fracture. Alignment maintained. Posterior fusion mass solid from L2 to L5.",
     []),
    ("en", "mixed",
     "Hx: right L4/5 microdiscectomy 2019. Now recurrent right L4/5 disc herniation with L5 dermatomal numbness over the dorsum of the foot.",
     ["L4-L5"]),
    ("en", "construct",
     "Operation note: C4-T2 posterior instrumentation with lateral mass screws C4-C6 and pedicle screws T1-T2 for C6 metastasis with cord compression.",
     ["C6"]),
    ("en", "construct",
     "Removal of L3-L5 pedicle screws for symptomatic prominent hardware; fusion solid at L3-L4 and L4-L5.",
     []),
    ("en", "construct",
     "T8-L2 posterior fixation and T11 corpectomy for T11 osteomyelitis with epidural abscess.",
     ["T11"]),
    # ---- English: clinic letters / exam ----
    ("en", "myotome",
     "On examination she has weakness of ankle dorsiflexion (L4) and EHL (L5) graded 4/5, and her knee jerk is reduced. Her MRI demonstrates a large sequestrated L4/5 disc.",
     ["L4-L5"]),
    ("en", "plain",
     "Dear Dr Patel, thank you for referring this 62-year-old gentleman with neurogenic claudication. His MRI shows severe L3/4 and moderate L4/5 stenosis secondary to facet hypertrophy.",
     ["L3-L4", "L4-L5"]),
    ("en", "dermatome",
     "Saddle anaesthesia S2-S5 with painless urinary retention; MRI shows a massive central L4-5 disc extrusion compressing the cauda equina.",
     ["L4-L5"]),
    ("en", "dermatome",
     "Sensory level to pinprick at T6. MRI: T4 vertebral body metastasis with epidural extension and cord compression.",
     ["T4"]),
    ("en", "root",
     "Far lateral L4-5 disc herniation compressing the exiting L4 nerve root in the foramen.",
     ["L4-L5"]),
    ("en", "dermatome",
     "Numbness in the L5 distribution of the left foot and an absent ankle reflex (S1). No disc herniation at any lumbar level on MRI.",
     []),
    ("en", "myotome",
     "Biceps jerk diminished (C5), triceps brisk (C7), C5 power 4/5 bilaterally; MRI shows cord compression at C5-6.",
     ["C5-C6"]),
    ("en", "mixed",
     "Clinically a C7 radiculopathy with weak triceps (C7) and middle finger numbness; MRI shows a C6/7 foraminal protrusion compressing the exiting C7 root.",
     ["C6-C7"]),
    ("en", "plain",
     "Os odontoideum with C1-C2 instability on flexion-extension views.",
     ["C1-C2"]),
    ("en", "mixed",
     "Seen in clinic today. Power 5/5 throughout, reflexes symmetrical, sensation intact in L2-S1 dermatomes. MRI shows an L2/3 far lateral disc protrusion only.",
     ["L2-L3"]),
    # ---- Chinese: 影像 / 查体 / 诊断 / 手术记录 ----
    ("zh", "plain",
     "MRI示：腰4/5椎间盘向左后方突出，左侧隐窝狭窄；腰5/骶1椎间盘膨出。",
     ["L4-L5", "L5-S1"]),
    ("zh", "mixed",
     "查体：左小腿外侧及足背皮肤感觉减退（L5皮节），左拇背伸肌力4级。MRI示L4/5椎间盘突出。",
     ["L4-L5"]),
    ("zh", "plain",
     "诊断：1. 腰5/骶1椎间盘突出症；2. 腰3/4椎间盘膨出。",
     ["L3-L4", "L5-S1"]),
    ("zh", "mixed",
     "手术记录：显露L4、L5双侧椎板，置入L4、L5椎弓根螺钉，见L4/5椎间盘向右后方突出压迫L5神经根，予以摘除。",
     ["L4-L5"]),
    ("zh", "construct",
     "胸12椎体压缩性骨折，行胸11-腰1经皮椎弓根螺钉内固定术。",
     ["T12"]),
    ("zh", "negated",
     "影像诊断：颈5/6、颈6/7椎间盘突出，相应水平脊髓受压；颈3/4未见明显异常。",
     ["C5-C6", "C6-C7"]),
    ("zh", "count",
     "腰骶移行椎（腰5骶化），L4/5椎间盘脱出并向下游离。",
     ["L4-L5"]),
    ("zh", "count",
     "双侧颈肋，起自第7颈椎；颈4/5椎间盘突出。",
     ["C4-C5"]),
    ("zh", "dermatome",
     "查体：鞍区（S2-S5）感觉减退，肛门括约肌松弛。MRI示腰4/5椎间盘巨大中央型突出。",
     ["L4-L5"]),
    ("zh", "count",
     "脊髓圆锥末端位于L1椎体下缘水平，马尾神经未见增粗。",
     []),
    ("zh", "dermatome",
     "剑突平面以下痛觉减退（T6感觉平面），MRI示胸4椎体转移瘤伴硬膜外侵犯。",
     ["T4"]),
    ("zh", "plain",
     "L2椎体结核，L1/2、L2/3椎间隙变窄，椎旁脓肿形成。",
     ["L1-L2", "L2", "L2-L3"]),
    ("zh", "negated",
     "腰4-5、腰5骶1椎间盘变性（T2WI信号减低），腰3-4椎间盘未见异常。",
     ["L4-L5", "L5-S1"]),
    ("zh", "construct",
     "既往行C5-C7前路减压融合术，现颈4/5相邻节段退变，椎间盘突出伴脊髓受压。",
     ["C4-C5"]),
    ("zh", "construct",
     "术后复查：L3-L5椎弓根螺钉位置良好，L4/5融合器无移位，未见松动。",
     []),
    ("zh", "myotome",
     "膝反射减弱（L4），跟腱反射消失（S1）。诊断：腰5/骶1椎间盘突出症。",
     ["L5-S1"]),
    ("zh", "plain",
     "L5双侧峡部裂伴L5椎体I度前滑脱。",
     ["L5"]),
    ("zh", "plain",
     "胸11/12椎间盘钙化并突出，压迫硬膜囊。",
     ["T11-T12"]),
    ("zh", "root",
     "右侧L5神经根受压，系L4/5椎间盘向右后方脱出所致。",
     ["L4-L5"]),
    ("zh", "root",
     "L5/S1椎间孔型椎间盘突出，压迫左侧出口L5神经根。",
     ["L5-S1"]),
    ("zh", "count",
     "全脊柱片自C2向下计数，共6个腰椎样椎体；L4/5椎间盘轻度膨出。",
     ["L4-L5"]),
    ("zh", "plain",
     "诊断：1. 腰椎管狭窄症（L3/4、L4/5）；2. 腰4椎体I度退变性滑脱。",
     ["L3-L4", "L4", "L4-L5"]),
    ("zh", "construct",
     "出院诊断：腰1椎体爆裂骨折（A3型），T12-L2后路椎弓根螺钉内固定术后。",
     ["L1"]),
    ("zh", "construct",
     "翻修术：取出原L4-L5内固定，延长固定至L3-S1，术中见L3/4椎管严重狭窄。",
     ["L3-L4"]),
    ("zh", "negated",
     "颈6椎体血管瘤，颈7椎体未见异常信号。",
     ["C6"]),
    ("zh", "mixed",
     "查体：三角肌肌力4级（C5），肱二头肌反射减弱；MRI示颈4/5椎间盘突出，C5神经根受压。",
     ["C4-C5"]),
    ("zh", "plain",
     "第12胸椎及第1腰椎椎体楔形变，考虑陈旧性压缩骨折。",
     ["T12", "L1"]),
    ("zh", "count",
     "骶1椎体腰化（腰骶移行），另见L5/S1椎间盘突出，压迫硬膜囊。",
     ["L5-S1"]),
    ("zh", "negated",
     "腰3/4、腰4/5椎间盘未见明确突出，椎管未见狭窄。",
     []),
    ("zh", "plain",
     "寰枢椎（C1-C2）不稳，C2齿状突II型骨折。",
     ["C1-C2", "C2"]),
    ("zh", "plain",
     "胸腰段后凸畸形，顶点位于T12-L1椎间隙。",
     ["T12-L1"]),
    ("zh", "construct",
     "颈5/6 ACDF术后，颈6/7节段见新发椎间盘突出。",
     ["C6-C7"]),
    ("zh", "construct",
     "手术经过：行L4-S1椎弓根螺钉内固定、L4/5及L5/S1椎间融合术。",
     []),
    ("zh", "mixed",
     "诊断：1. 腰椎间盘突出症（L4/5）；2. 腰骶移行椎；3. 右下肢L5神经根病。查体：右足背皮节感觉减退。",
     ["L4-L5"]),
    # ---- added: numbering variants, revision / fixation history ----
    ("en", "count",
     "Impression: 1. Bilateral cervical ribs arising from C7, no thoracic outlet narrowing. 2. No significant cervical spondylosis.",
     []),
    ("en", "construct",
     "Discharge summary: admitted with L3 pyogenic spondylitis; underwent L2-L4 debridement and posterior fixation. L4-L5 disc preserved on MRI.",
     ["L3"]),
    ("en", "construct",
     "Intraop: the right T12 pedicle screw breached medially and was redirected; the L1 burst fracture was reduced by ligamentotaxis.",
     ["L1"]),
    ("zh", "count",
     "颈7横突肥大伴颈肋形成；颈6/7椎间盘突出，C7神经根受压。",
     ["C6-C7"]),
    ("zh", "construct",
     "二次翻修：原T10-L3内固定术后，L3/4相邻节段椎管狭窄伴L4椎体I度滑脱。",
     ["L3-L4", "L4"]),
]


# --------------------------------------------------------------------------
# Generator phrase lists
# --------------------------------------------------------------------------
ZH_REGION = {"C": "颈", "T": "胸", "L": "腰", "S": "骶"}
ORDINAL_EN = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth",
              6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth", 10: "tenth",
              11: "eleventh", 12: "twelfth"}
REGION_EN = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}

SEGMENTS = {
    "C": ["C3-C4", "C4-C5", "C5-C6", "C6-C7", "C7-T1"],
    "T": ["T6-T7", "T7-T8", "T8-T9", "T10-T11", "T11-T12", "T12-L1"],
    "L": ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"],
}
VERTS = {
    "C": ["C3", "C4", "C5", "C6", "C7"],
    "T": ["T5", "T7", "T8", "T9", "T10", "T11", "T12"],
    "L": ["L1", "L2", "L3", "L4", "L5"],
}


def split(v):
    return v[0], int(v[1:])


def seg_en(rng, seg):
    a, b = seg.split("-")
    (ra, _na), (rb, nb) = split(a), split(b)
    same = ra == rb
    forms = [f"{a}-{b}", f"{a}/{b}"]
    if same:
        forms += [f"{a}/{nb}", f"{a}-{nb}", f"{a}–{nb}"]
    return rng.choice(forms)


def seg_zh(rng, seg):
    a, b = seg.split("-")
    (ra, na), (rb, nb) = split(a), split(b)
    same = ra == rb
    forms = [f"{a}/{b}", f"{a}-{b}"]
    if same:
        forms += [f"{a}/{nb}", f"{ZH_REGION[ra]}{na}/{nb}", f"{ZH_REGION[ra]}{na}-{nb}",
                  f"{ZH_REGION[ra]}{na}/{nb}"]
    else:
        forms += [f"{ZH_REGION[ra]}{na}/{ZH_REGION[rb]}{nb}", f"{ZH_REGION[ra]}{na}{ZH_REGION[rb]}{nb}"]
    return rng.choice(forms)


def vert_en(rng, v):
    r, n = split(v)
    return rng.choice([v, f"the {v} vertebral body", f"the {ORDINAL_EN[n]} {REGION_EN[r]} vertebra", f"{v} body"])


def vert_zh(rng, v):
    r, n = split(v)
    return rng.choice([f"第{n}{ZH_REGION[r]}椎", f"{ZH_REGION[r]}{n}椎体", f"{v}椎体"])


SEG_FIND_EN = {
    "C": ["posterior disc osteophyte complex effacing the ventral CSF", "left paracentral disc protrusion with mild cord flattening",
          "uncovertebral hypertrophy with severe bilateral foraminal stenosis", "broad disc bulge, mod canal stenosis"],
    "T": ["small right paracentral disc protrusion", "calcified disc herniation indenting the cord",
          "disc extrusion with mild cord compression"],
    "L": ["broad-based disc bulge, mild bilat NFN", "right paracentral disc extrusion", "severe central canal stenosis",
          "facet arthropathy and ligamentum flavum thickening with moderate canal stenosis",
          "left foraminal disc protrusion", "disc desiccation and loss of height with Modic 2 change"],
}
VERT_FIND_EN = ["acute compression fracture with marrow oedema", "lytic metastasis", "typical haemangioma",
                "osteoporotic wedge fracture, 25% height loss", "burst fracture with 4 mm retropulsion"]

SEG_FIND_ZH = {
    "C": ["椎间盘突出，硬膜囊受压", "椎间盘向后突出，脊髓受压变扁", "钩椎关节增生，双侧椎间孔狭窄"],
    "T": ["椎间盘突出", "椎间盘钙化突出，脊髓受压"],
    "L": ["椎间盘膨出", "椎间盘向左后方突出", "椎间盘脱出，椎管狭窄", "椎管中央型狭窄", "椎间盘变性，T2WI信号减低",
          "椎间盘向右侧椎间孔突出"],
}
VERT_FIND_ZH = ["压缩性骨折", "转移瘤", "血管瘤", "爆裂骨折", "骨质破坏，考虑转移"]

NEG_EN = ["no significant stenosis at {s}", "{s} unremarkable", "no disc herniation at {s}", "{s}: no canal or foraminal stenosis",
          "normal disc at {s}"]
NEG_ZH = ["{s}椎间盘未见异常", "{s}未见明显狭窄", "{s}椎间盘未见突出", "{s}节段未见异常信号"]

# dermatome phrases keyed by a root; {r} filled with the root level
DERM_EN = ["numbness in an {r} distribution", "reduced pinprick sensation in the {r} dermatome",
           "paraesthesia in the {r} dermatome", "altered sensation over the {r} dermatome"]
DERM_ZH = ["{r}皮节感觉减退", "{r}神经支配区皮肤麻木", "{r}皮节区针刺觉减弱"]
MYO_EN = {"L4": "quadriceps 4/5 (L4)", "L5": "EHL power 4/5 (L5)", "S1": "ankle jerk absent (S1)",
          "C5": "deltoid power 4/5 (C5)", "C6": "biceps jerk reduced (C6)", "C7": "triceps weakness (C7)",
          "L3": "knee jerk reduced (L3)", "C8": "finger flexors 4/5 (C8)"}
MYO_ZH = {"L4": "膝反射减弱（L4）", "L5": "拇背伸肌力4级（L5）", "S1": "跟腱反射消失（S1）",
          "C5": "三角肌肌力4级（C5）", "C6": "肱二头肌反射减弱（C6）", "C7": "肱三头肌肌力4级（C7）",
          "L3": "股四头肌肌力4级（L3）", "C8": "指屈肌力4级（C8）"}

COUNT_EN = ["Cervical rib arising from C7 on the right.", "Six lumbar-type vertebrae are present.",
            "Lumbarised S1 with a rudimentary S1-S2 disc.", "Conus terminates at L1.",
            "Numbering is performed counting from C2 on the localiser.", "Partially sacralised L5 (transitional anatomy).",
            "Conus medullaris ends at the L1-L2 level."]
COUNT_ZH = ["右侧颈肋，起自第7颈椎。", "腰椎6节，考虑移行椎。", "S1腰化，腰骶移行椎。", "脊髓圆锥末端位于L1水平。",
            "自C2向下计数定位。", "L5骶化（腰骶移行）。", "圆锥末端平L1-L2椎间隙。"]


def cap(text):
    """Upper-case the first letter only (str.capitalize would lower-case level names)."""
    return text[:1].upper() + text[1:]


def lower_root(seg):
    """Traversing root for a disc: lower vertebra of the segment."""
    return seg.split("-")[1]


def upper_root(seg):
    """Exiting root at the foramen: upper vertebra (cervical: lower number + 1)."""
    a, b = seg.split("-")
    if a[0] == "C":
        return b if b[0] == "C" else "C8"
    return a


def construct_range(rng, seg, region):
    """A construct range that does not contain `seg` (adjacent level or elsewhere)."""
    a, b = seg.split("-")
    ia, ib = IDX[a], IDX[b]
    k = rng.choice([1, 2])
    above_ok = ia - k >= IDX["C2"] and ORDER[ia - k][0] in (a[0], "T")
    below_ok = ib + k <= IDX["S1"] and b != "T1" and (ORDER[ib + k][0] == b[0] or ORDER[ib + k] in ("S1", "L1", "T1"))
    if below_ok and (not above_ok or rng.random() < 0.5):
        return ORDER[ib], ORDER[ib + k]
    if not above_ok:
        k = 1
    return ORDER[ia - k], ORDER[ia]


CONS_EN = ["s/p {a}-{b} posterior instrumented fusion", "previous {a} to {b} pedicle screw fixation",
           "status post fused {a}-{b}", "{a}-{b} PLIF 2018", "prior {a}-{b} ACDF", "pedicle screws from {a} to {b} in situ",
           "revision of loose {a}-{b} instrumentation 2021", "{a}-{b} posterior instrumentation"]


def cons_en(rng, a, b):
    cervical = a[0] == "C" and b[0] == "C"
    opts = [c for c in CONS_EN if cervical or "ACDF" not in c]
    return rng.choice(opts).format(a=a, b=b)
CONS_ZH = ["{a}-{b}椎弓根螺钉内固定术后", "既往行{a}-{b}融合术", "{a}-{b}后路减压植骨融合内固定术后", "{a}至{b}内固定术后翻修", "既往{a}-{b}椎间融合器植入"]


def gen_en(rng, trap):
    region = rng.choice(["C", "T", "L", "L", "L"])
    seg = rng.choice(SEGMENTS[region])
    sf = rng.choice(SEG_FIND_EN[region])
    S = seg_en(rng, seg)
    if trap == "plain":
        if rng.random() < 0.5:
            seg2 = rng.choice([s for s in SEGMENTS[region] if s != seg])
            sf2 = rng.choice(SEG_FIND_EN[region])
            return (f"Impression: 1. {S} {sf}. 2. {seg_en(rng, seg2)} {sf2}.", [seg, seg2])
        v = rng.choice(VERTS[region])
        return (rng.choice([f"Findings: {S}: {sf}. {v}: {rng.choice(VERT_FIND_EN)}.",
                            f"Impression: {rng.choice(VERT_FIND_EN)} of {vert_en(rng, v)}; also {S} {sf}."]), [v, seg])
    if trap == "dermatome":
        r = lower_root(seg) if region == "L" else upper_root(seg)
        if region == "T":
            d = f"sensory level at T{rng.choice([4, 6, 8, 10])}"
        elif region == "L" and rng.random() < 0.3:
            d = "S2-S5 saddle anaesthesia"
        else:
            d = rng.choice(DERM_EN).format(r=r)
        return (rng.choice([f"{S} {sf}; {d}.", f"Clinically {d}. MRI: {S} {sf}.", f"{cap(d)}, correlating with {S} {sf}."]), [seg])
    if trap == "myotome":
        if region == "T":
            region, seg = "L", rng.choice(SEGMENTS["L"])
            sf, S = rng.choice(SEG_FIND_EN["L"]), None
            S = seg_en(rng, seg)
        keys = [k for k in MYO_EN if k[0] == region or (region == "L" and k == "S1")]
        m = ", ".join(MYO_EN[k] for k in rng.sample(keys, 2))
        return (rng.choice([f"Exam: {m}. MRI shows {S} {sf}.", f"{S} {sf}; on examination {m}."]), [seg])
    if trap == "root":
        if region == "T":
            region, seg = "L", rng.choice(SEGMENTS["L"])
            S = seg_en(rng, seg)
        if rng.random() < 0.5:
            r = lower_root(seg) if region == "L" else upper_root(seg)
            return (f"{S} {rng.choice(['right', 'left'])} paracentral disc extrusion compressing the traversing {r} nerve root.", [seg])
        r = upper_root(seg)
        return (f"{rng.choice(['Left', 'Right'])} foraminal protrusion at {S} impinging on the exiting {r} root.", [seg])
    if trap == "construct":
        a, b = construct_range(rng, seg, region)
        c = cons_en(rng, a, b)
        return (rng.choice([f"{cap(c)}. New adjacent segment {sf} at {S}.", f"History: {c}. Now {S} {sf}."]), [seg])
    if trap == "count":
        cp = rng.choice([c for c in COUNT_EN if (region != "C") == ("C7" not in c)] or COUNT_EN)
        return (f"{cp} {S}: {sf}.", [seg])
    if trap == "negated":
        others = [s for s in SEGMENTS[region] if s != seg]
        n1, n2 = rng.sample(others, 2)
        neg = rng.choice(NEG_EN)
        return (rng.choice([f"{S}: {sf}. {neg.format(s=seg_en(rng, n1))[0].upper()}{neg.format(s=seg_en(rng, n1))[1:]}.",
                            f"{S} {sf}; {seg_en(rng, n1)} and {seg_en(rng, n2)} are unremarkable."]), [seg])
    # mixed: construct + dermatome/myotome + negated + finding
    if region == "T":
        region, seg = "L", rng.choice(SEGMENTS["L"])
        sf, S = rng.choice(SEG_FIND_EN["L"]), None
        S = seg_en(rng, seg)
    a, b = construct_range(rng, seg, region)
    lo, hi = IDX[a], IDX[b]
    others = [s for s in SEGMENTS[region] if s != seg and not (lo <= IDX[s.split("-")[0]] < hi)]
    neg = rng.choice(others)
    keys = [k for k in MYO_EN if k[0] == region or (region == "L" and k == "S1")]
    return (f"{cap(cons_en(rng, a, b))}; {MYO_EN[rng.choice(keys)]}; "
            f"{rng.choice(DERM_EN).format(r=lower_root(seg))}. MRI: {S} {sf}, no stenosis at {seg_en(rng, neg)}.", [seg])


def gen_zh(rng, trap):
    region = rng.choice(["C", "T", "L", "L", "L"])
    seg = rng.choice(SEGMENTS[region])
    sf = rng.choice(SEG_FIND_ZH[region])
    S = seg_zh(rng, seg)
    if trap == "plain":
        if rng.random() < 0.5:
            seg2 = rng.choice([s for s in SEGMENTS[region] if s != seg])
            return (f"诊断：1. {S}{sf}；2. {seg_zh(rng, seg2)}{rng.choice(SEG_FIND_ZH[region])}。", [seg, seg2])
        v = rng.choice(VERTS[region])
        return (f"MRI示：{vert_zh(rng, v)}{rng.choice(VERT_FIND_ZH)}，{S}{sf}。", [v, seg])
    if trap == "dermatome":
        r = lower_root(seg) if region == "L" else upper_root(seg)
        if region == "T":
            d = f"T{rng.choice([4, 6, 8, 10])}感觉平面以下痛觉减退"
        elif region == "L" and rng.random() < 0.3:
            d = "鞍区（S2-S5）感觉减退"
        else:
            d = rng.choice(DERM_ZH).format(r=r)
        return (rng.choice([f"查体：{d}。MRI示：{S}{sf}。", f"{S}{sf}，查体{d}。"]), [seg])
    if trap == "myotome":
        if region == "T":
            region, seg = "L", rng.choice(SEGMENTS["L"])
            sf, S = rng.choice(SEG_FIND_ZH["L"]), seg_zh(rng, seg)
        keys = [k for k in MYO_ZH if k[0] == region or (region == "L" and k == "S1")]
        m = "，".join(MYO_ZH[k] for k in rng.sample(keys, 2))
        return (rng.choice([f"查体：{m}。MRI示{S}{sf}。", f"{S}{sf}；查体：{m}。"]), [seg])
    if trap == "root":
        if region == "T":
            region, seg = "L", rng.choice(SEGMENTS["L"])
            S = seg_zh(rng, seg)
        if rng.random() < 0.5:
            r = lower_root(seg) if region == "L" else upper_root(seg)
            return (f"{S}椎间盘{rng.choice(['右', '左'])}后方突出，压迫{r}神经根。", [seg])
        r = upper_root(seg)
        return (f"{S}椎间孔型突出，{rng.choice(['左', '右'])}侧出口{r}神经根受压。", [seg])
    if trap == "construct":
        a, b = construct_range(rng, seg, region)
        c = rng.choice(CONS_ZH).format(a=a, b=b)
        return (rng.choice([f"{c}，现{S}{sf}。", f"既往史：{c}。MRI示：相邻节段{S}{sf}。"]), [seg])
    if trap == "count":
        cp = rng.choice([c for c in COUNT_ZH if (region != "C") == ("颈" not in c)] or COUNT_ZH)
        return (f"{cp}{S}{sf}。", [seg])
    if trap == "negated":
        others = [s for s in SEGMENTS[region] if s != seg]
        n1, n2 = rng.sample(others, 2)
        return (rng.choice([f"{S}{sf}，{rng.choice(NEG_ZH).format(s=seg_zh(rng, n1))}。",
                            f"{S}{sf}；{seg_zh(rng, n1)}、{seg_zh(rng, n2)}未见异常。"]), [seg])
    if region == "T":
        region, seg = "L", rng.choice(SEGMENTS["L"])
        sf, S = rng.choice(SEG_FIND_ZH["L"]), seg_zh(rng, seg)
    a, b = construct_range(rng, seg, region)
    lo, hi = IDX[a], IDX[b]
    others = [s for s in SEGMENTS[region] if s != seg and not (lo <= IDX[s.split("-")[0]] < hi)]
    neg = rng.choice(others)
    keys = [k for k in MYO_ZH if k[0] == region or (region == "L" and k == "S1")]
    return (f"{rng.choice(CONS_ZH).format(a=a, b=b)}；查体：{MYO_ZH[rng.choice(keys)]}，"
            f"{rng.choice(DERM_ZH).format(r=lower_root(seg))}。MRI示{S}{sf}，{seg_zh(rng, neg)}未见狭窄。", [seg])


TRAPS = ["plain", "dermatome", "myotome", "root", "construct", "count", "negated", "mixed"]
N_TEMPLATE = 110


def main():
    rng = random.Random(SEED)
    rows = []
    seen = set()
    for lang, trap, text, gold in HAND:
        rows.append({"language": lang, "trap": trap, "origin": "blind-hand", "text": text, "levels": canon(gold)})
        seen.add(text)
    i = 0
    # construct-heavy mix as requested (surgical history emphasised)
    weights = {"plain": 2, "dermatome": 2, "myotome": 2, "root": 2, "construct": 4, "count": 3, "negated": 2, "mixed": 2}
    pool = [t for t in TRAPS for _ in range(weights[t])]
    while i < N_TEMPLATE:
        lang = "en" if i % 2 == 0 else "zh"
        trap = pool[i % len(pool)] if rng.random() < 0.5 else rng.choice(pool)
        text, gold = (gen_en if lang == "en" else gen_zh)(rng, trap)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"language": lang, "trap": trap, "origin": "blind-template", "text": text, "levels": canon(gold)})
        i += 1
    with OUT.open("w", encoding="utf-8") as fh:
        for n, r in enumerate(rows, 1):
            rec = {"id": f"h4-{n:03d}", **r}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
