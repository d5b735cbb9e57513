"""Blind held-out set #3 for the spinal-level extractor (``levels_heldout3.jsonl``).

Written without reading the parser, the development gold set or the earlier held-out sets.
Two parts:

* ``blind-hand``: sentences composed one by one in real-world report styles (dictated
  radiology reports, impressions, operative notes, clinic letters, discharge summaries,
  Chinese 影像诊断/查体/手术记录), each labelled by hand;
* ``blind-template``: sentences composed by a seeded generator from phrase lists below,
  mixing positive findings with traps (dermatome, myotome, root, construct, count, negated).

Gold = the levels a current finding is about, canonical (``L4``, ``L4-L5``, ``L5-S1``), in spine
order.  Run ``python benchmarks/data/make_levels_heldout3.py`` to rewrite the JSONL.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("levels_heldout3.jsonl")
SEED = 20261206

REGIONS = {"C": 7, "T": 12, "L": 5, "S": 5}
ORDER = [f"{r}{i}" for r, n in REGIONS.items() for i in range(1, n + 1)]
IDX = {v: i for i, v in enumerate(ORDER)}
ZH_REGION = {"C": "颈", "T": "胸", "L": "腰", "S": "骶"}
ZH_NAME = {"C": "颈椎", "T": "胸椎", "L": "腰椎", "S": "骶椎"}
ORD_EN = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
          8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth"}
REGION_EN = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}


def key(level: str):
    parts = level.split("-")
    return (IDX[parts[0]], IDX[parts[-1]])


def canon(levels):
    return sorted(set(levels), key=key)


def nxt(v: str) -> str:
    return ORDER[IDX[v] + 1]


def seg(v: str) -> str:
    return f"{v}-{nxt(v)}"


# ---------------------------------------------------------------------------------------------
# hand-written sentences: (language, trap, text, gold)
# ---------------------------------------------------------------------------------------------
HAND = [
    # --- English: dictated radiology -------------------------------------------------------------
    ("en", "negated", "L4/5: broad-based disc bulge with superimposed small L paracentral protrusion, mild bilat NFN. L5/S1: no significant abnormality.", ["L4-L5"]),
    ("en", "count", "Impression: 1. Acute L1 compression fracture with ~30% height loss, no retropulsion. 2. Conus terminates at T12-L1, normal signal.", ["L1"]),
    ("en", "negated", "C5/6 and C6/7: disc osteophyte complexes effacing the ventral CSF, mod-severe L foraminal stenosis at C5/6. C3/4, C4/5: unremarkable.", ["C5-C6", "C6-C7"]),
    ("en", "plain", "There is a Modic type 1 change at L3-L4 with endplate irregularity and paravertebral soft tissue raising concern for early discitis.", ["L3-L4"]),
    ("en", "negated", "No spondylolisthesis. Mild facet hypertrophy at L4-5 and L5-S1 without stenosis.", ["L4-L5", "L5-S1"]),
    ("en", "plain", "Old healed wedge compression fracture of T12 with 20 deg focal kyphosis; remainder of the thoracolumbar spine unremarkable.", ["T12"]),
    ("en", "root", "Findings: L2 vertebral body haemangioma, incidental. L3/4: small left foraminal protrusion contacting the exiting L3 nerve root.", ["L2", "L3-L4"]),
    ("en", "negated", "Impression: Severe multifactorial canal stenosis at L3/4 and L4/5, moderate at L2/3. L1/2 and L5/S1 preserved.", ["L2-L3", "L3-L4", "L4-L5"]),
    ("en", "count", "Conus medullaris ends at the L1-L2 level. Cord is otherwise normal. T8-T9 disc protrusion indents the ventral cord.", ["T8-T9"]),
    ("en", "plain", "Discitis-osteomyelitis at T9-10 with small paraspinal phlegmon; no epidural abscess.", ["T9-T10"]),
    ("en", "negated", "C2 odontoid type II fracture, undisplaced; C1 ring intact.", ["C2"]),
    ("en", "plain", "Multilevel thoracic spondylosis, worst at T6/7 where a calcified disc herniation contacts the cord.", ["T6-T7"]),
    ("en", "plain", "Findings compatible with ankylosing spondylitis; transverse fracture through the C6-7 disc space and the posterior elements of C7 after a fall.", ["C6-C7", "C7"]),
    ("en", "negated", "Cervical spine XR: loss of disc height C5/6 and C6/7 with anterior osteophytes; C7/T1 not visualised.", ["C5-C6", "C6-C7"]),
    ("en", "plain", "Sacral insufficiency fracture involving the right S1 and S2 segments (Denis zone I).", ["S1", "S2"]),
    ("en", "plain", "Lytic lesion replacing the L3 vertebral body with posterior cortical breach, SINS 11; recommend CT-guided biopsy.", ["L3"]),
    ("en", "negated", "MRI: severe central stenosis L4-L5 due to disc bulge, facet arthropathy and epidural lipomatosis; L5-S1 unremarkable.", ["L4-L5"]),
    ("en", "plain", "There is a fracture of the fourth lumbar vertebra involving the superior endplate, with no posterior wall involvement.", ["L4"]),
    ("en", "plain", "A large sequestered disc fragment is seen at the fifth lumbar / first sacral level.", ["L5-S1"]),
    ("en", "negated", "T12 - L1: unremarkable. L1 - L2: mild disc bulge without stenosis.", ["L1-L2"]),
    ("en", "plain", "Chance fracture through L2 with posterior ligamentous complex disruption; no canal compromise.", ["L2"]),
    ("en", "plain", "Impression: 1. L4-5 grade 1 degenerative spondylolisthesis with severe canal stenosis. 2. Mild L3-4 disc bulge.", ["L3-L4", "L4-L5"]),
    # --- English: letters, op notes, discharge summaries, mixtures ----------------------------------
    ("en", "mixed", "Dear Dr Patel, thank you for seeing Mr Jones, 54, with six weeks of right leg pain in an L5 distribution; his MRI shows a right paracentral L4/5 extrusion compressing the traversing L5 root.", ["L4-L5"]),
    ("en", "myotome", "On examination: EHL and ankle dorsiflexion 4/5 on the left (L4, L5), absent left ankle jerk (S1), SLR positive at 40 degrees.", []),
    ("en", "construct", "Known post L3-S1 instrumented fusion; new adjacent segment disease at L2/3 with moderate canal stenosis.", ["L2-L3"]),
    ("en", "count", "Transitional anatomy with a partially sacralised L5 (Castellvi IIa on the left); the L4/5 disc is desiccated with a small central protrusion.", ["L4-L5"]),
    ("en", "construct", "Discharge summary: admitted with a T7 pathological fracture from metastatic breast carcinoma causing cord compression; underwent T5-T9 posterior stabilisation and decompression.", ["T7"]),
    ("en", "dermatome", "MRI whole spine: multilevel degenerative change most marked at C6-7 and L5-S1; no cord signal abnormality, and the clinical sensory level at T4 is not explained by imaging.", ["C6-C7", "L5-S1"]),
    ("en", "dermatome", "Reason for referral: saddle anaesthesia (S2-S5) and urinary retention; MRI confirms a massive central L4-5 disc sequestration with cauda equina compression.", ["L4-L5"]),
    ("en", "count", "Vertebral numbering: counting from C2 on the sagittal localiser, there are 12 rib-bearing thoracic vertebrae. Schmorl's nodes in the T11 and T12 endplates.", ["T11", "T12"]),
    ("en", "myotome", "Post-op day 2 following ACDF; deltoid (C5) power improved to 4+/5 and biceps jerk (C5) now present.", []),
    ("en", "root", "History of L5-S1 microdiscectomy in 2019; today there is recurrent disc herniation at L5-S1 with enhancing epidural scar, abutting the descending right S1 root.", ["L5-S1"]),
    ("en", "dermatome", "Sensory level at T6 to pinprick with brisk reflexes; MRI shows an intradural extramedullary lesion at T4 compressing the cord, likely meningioma.", ["T4"]),
    ("en", "root", "Left C6 radicular pain with thumb paraesthesia; imaging shows uncovertebral hypertrophy at C5/C6 causing severe left foraminal narrowing.", ["C5-C6"]),
    ("en", "construct", "Stable appearance of the L3-S1 pedicle screw and rod construct with solid posterolateral fusion; no hardware loosening.", []),
    ("en", "count", "Lumbarisation of S1 noted; numbering in this report assumes five lumbar vertebrae. Inferiorly migrated disc extrusion at L5-S1.", ["L5-S1"]),
    ("en", "myotome", "Clinic letter: hip flexion 4/5 (L2), knee extension 5/5 (L3/4), reduced quadriceps reflex (L4); CT shows a far lateral L3/4 herniation.", ["L3-L4"]),
    ("en", "construct", "Hx: T10-pelvis fixation for adult scoliosis 2021. Now: proximal junctional kyphosis with fracture of T9.", ["T9"]),
    ("en", "mixed", "Dermatomal numbness L4 on the right and weak tibialis anterior (L4), but imaging of L3/4 and L4/5 is normal; incidental T12 Schmorl node.", ["T12"]),
    ("en", "mixed", "Numbness over the lateral foot (S1) and an absent ankle jerk; the L5/S1 disc protrusion displaces the right S1 nerve root posteriorly.", ["L5-S1"]),
    ("en", "mixed", "Impression: 1. Moderate L3-4 canal stenosis. 2. S/p L4-S1 fusion, hardware intact. 3. Sensory loss in an L5 distribution clinically.", ["L3-L4"]),
    ("en", "count", "The fifth lumbar vertebra is partially sacralised; bilateral pars defects at L5 with grade 1 listhesis at L5/S1.", ["L5", "L5-S1"]),
    ("en", "construct", "Op note: through a posterior midline approach, pedicle screws were placed at T11, T12, L2 and L3 to stabilise the L1 burst fracture; L1 laminectomy performed.", ["L1"]),
    ("en", "negated", "No evidence of fracture at C1 or C2. Prevertebral soft tissue swelling with widening of the C3/4 disc space, suspicious for ligamentous injury.", ["C3-C4"]),
    # --- Chinese -----------------------------------------------------------------------------------
    ("zh", "plain", "MRI示：L4/5椎间盘向后突出，硬膜囊受压，L5/S1椎间盘膨出。", ["L4-L5", "L5-S1"]),
    ("zh", "mixed", "查体：左小腿外侧及足背L5皮节区针刺觉减退，左踇背伸肌力4级，跟腱反射对称。诊断：腰4/5椎间盘突出症。", ["L4-L5"]),
    ("zh", "negated", "影像诊断：1. 胸12椎体压缩性骨折（新鲜）；2. 余椎体未见明显骨折征象。", ["T12"]),
    ("zh", "construct", "手术记录：取后正中切口，暴露L3-S1椎板，于L3、L4、L5、S1置入椎弓根螺钉，行L4/5、L5/S1椎间融合。", []),
    ("zh", "count", "诊断：腰椎管狭窄症（L3/4、L4/5），L5椎体骶化。", ["L3-L4", "L4-L5"]),
    ("zh", "negated", "颈椎MRI：C5/6、C6/7椎间盘突出，相应水平硬膜囊受压，C4/5椎间盘未见明显突出。", ["C5-C6", "C6-C7"]),
    ("zh", "dermatome", "患者双下肢感觉平面位于T10水平，MRI示胸8椎体转移瘤伴脊髓受压。", ["T8"]),
    ("zh", "mixed", "MRI示：圆锥末端位于L1椎体下缘水平，信号未见异常；腰5/骶1椎间盘向左后方突出，压迫左侧S1神经根。", ["L5-S1"]),
    ("zh", "construct", "腰椎内固定术后（L4-S1），L3/4椎间盘突出伴椎管狭窄，考虑邻近节段退变。", ["L3-L4"]),
    ("zh", "plain", "第1腰椎爆裂骨折，骨块突入椎管约40%。", ["L1"]),
    ("zh", "plain", "胸11/12椎间隙变窄，相邻终板骨质破坏，周围软组织肿胀，考虑脊柱结核。", ["T11-T12"]),
    ("zh", "myotome", "查体：双侧膝反射(L4)减弱，跟腱反射(S1)消失，鞍区感觉减退。", []),
    ("zh", "count", "腰骶部移行椎，按12对肋骨计数；腰4/5椎间盘变性并中央型突出。", ["L4-L5"]),
    ("zh", "mixed", "颈5/6椎间盘突出压迫右侧C6神经根，右侧拇指麻木，C6皮节感觉减退。", ["C5-C6"]),
    ("zh", "plain", "诊断：1. 腰椎间盘突出症（腰5骶1）；2. 腰椎退行性变。", ["L5-S1"]),
    ("zh", "negated", "CT示：L2椎体前缘楔形变，考虑陈旧性压缩骨折；L3-L5椎体未见骨折。", ["L2"]),
    ("zh", "construct", "颈椎前路C5-C7椎间盘切除植骨融合内固定术后，内固定位置良好，C4/5椎间盘突出较前加重。", ["C4-C5"]),
    ("zh", "construct", "胸腰段：T12椎体及L1椎体压缩性骨折，T11-L2椎弓根螺钉内固定术后改变。", ["T12", "L1"]),
    ("zh", "negated", "腰3/4、腰4/5椎间盘膨出，腰2/3、腰5/骶1椎间盘未见异常。", ["L3-L4", "L4-L5"]),
    ("zh", "plain", "MRI示颈髓C3-C4水平受压变性，C3/4椎间盘突出，黄韧带肥厚。", ["C3-C4"]),
    ("zh", "plain", "腰4/5椎体I度滑脱伴椎管狭窄，双侧侧隐窝狭窄。", ["L4-L5"]),
    ("zh", "dermatome", "鞍区(S2-S5)感觉消失，大小便功能障碍，MRI示腰3/4巨大椎间盘脱出，马尾受压。", ["L3-L4"]),
    ("zh", "plain", "骨盆CT：右侧骶1、骶2椎体骨折线，累及骶孔。", ["S1", "S2"]),
    ("zh", "mixed", "门诊病历：颈肩痛2年，右上肢放射痛，C7皮节区麻木，肱三头肌肌力4级(C7)。颈椎MRI：颈6/7椎间盘右后突出。", ["C6-C7"]),
    ("zh", "plain", "L5双侧峡部裂，腰5/骶1椎体I度前滑脱。", ["L5", "L5-S1"]),
    ("zh", "negated", "胸9、胸10椎体骨质破坏，考虑转移瘤，胸11椎体未见异常。", ["T9", "T10"]),
    ("zh", "count", "L1椎体血管瘤；圆锥位于T12/L1水平。", ["L1"]),
    ("zh", "plain", "术后诊断：腰4/5椎间盘突出症，行腰4/5椎板开窗髓核摘除术。", ["L4-L5"]),
    ("zh", "negated", "颈椎曲度变直，C4/5、C5/6椎间盘向后突出，C3/4、C6/7未见明显异常。", ["C4-C5", "C5-C6"]),
    ("zh", "negated", "寰椎(C1)后弓骨折，枢椎齿状突未见骨折。", ["C1"]),
    ("zh", "mixed", "L3/4椎间盘左侧椎间孔型突出，压迫左侧L3神经根，左大腿前内侧（L3皮节）麻木。", ["L3-L4"]),
    ("zh", "construct", "出院记录：因第12胸椎骨折行T10-L2后路椎弓根螺钉内固定术，术后双下肢感觉运动正常。", ["T12"]),
    ("zh", "count", "腰椎MRI：S1腰化，共6个腰型椎体，本报告按5个腰椎计数；腰4/5椎间盘向后突出。", ["L4-L5"]),
    ("zh", "myotome", "查体：右侧三角肌(C5)肌力4级，肱二头肌反射(C5)减弱，霍夫曼征阴性。", []),
    ("zh", "plain", "影像诊断：颈6椎体骨折并颈6/7脱位，相应水平脊髓挫伤。", ["C6", "C6-C7"]),
]


# ---------------------------------------------------------------------------------------------
# generator phrase lists
# ---------------------------------------------------------------------------------------------
def en_seg(a: str, rng: random.Random) -> str:
    b = nxt(a)
    if a[0] == b[0]:
        forms = [f"{a}/{b[1:]}", f"{a}-{b[1:]}", f"{a}-{b}", f"{a}\u2013{b[1:]}", f"{a}/{b}",
                 f"{a} to {b}", f"{a}-{b[1:]} level", f"{a}-{b[1:]}"]
    else:
        forms = [f"{a}/{b}", f"{a}-{b}", f"{a}\u2013{b}", f"{a}/{b}"]
    return rng.choice(forms)


def en_vert(v: str, rng: random.Random) -> str:
    forms = [v, v, f"the {v} vertebral body", f"{v} vertebra"]
    if v[0] in "TL":
        forms.append(f"the {ORD_EN[int(v[1:])]} {REGION_EN[v[0]]} vertebra")
    return rng.choice(forms)


def zh_seg(a: str, rng: random.Random) -> str:
    b = nxt(a)
    ra, rb = ZH_REGION[a[0]], ZH_REGION[b[0]]
    if a[0] == b[0]:
        forms = [f"{ra}{a[1:]}/{b[1:]}", f"{a}/{b[1:]}", f"{ra}{a[1:]}-{b[1:]}", f"{a}-{b[1:]}",
                 f"{a}-{b}", f"{ra}{a[1:]}/{b[1:]}"]
    else:
        forms = [f"{ra}{a[1:]}/{rb}{b[1:]}", f"{a}/{b}", f"{ra}{a[1:]}{rb}{b[1:]}", f"{a}-{b}"]
    return rng.choice(forms)


def zh_vert(v: str, rng: random.Random) -> str:
    r, n = v[0], v[1:]
    return rng.choice([f"第{n}{ZH_NAME[r]}", f"{ZH_REGION[r]}{n}椎体", f"{v}椎体", f"{v}椎体"])


EN_SEG_POS = [
    "{s}: broad-based disc bulge, mild bilat NFN",
    "{s} left paracentral disc protrusion",
    "severe central canal stenosis at {s}",
    "disc extrusion at {s} with caudal migration",
    "{s} disc osteophyte complex with moderate foraminal narrowing",
    "annular fissure at {s}",
    "moderate facet arthropathy and ligamentum flavum thickening at {s}",
    "{s}: disc desiccation and loss of height, small central protrusion",
    "right foraminal disc herniation at {s}",
    "lateral recess stenosis at {s}",  # lumbar only (filtered below)
]
EN_SEG_ROOT = [  # positive disc phrase that also names a root
    "{s} disc extrusion compressing the traversing {root} root",
    "{s} right paracentral protrusion abutting the descending {root} nerve root",
    "foraminal herniation at {s} contacting the exiting {root} root",
]
EN_VERT_POS = [
    "acute compression fracture of {v}",
    "{v} burst fracture with 3 mm retropulsion",
    "lytic metastasis in {v}",
    "old wedge deformity of {v}",
    "marrow oedema and endplate fracture at {v}",
    "sclerotic metastatic deposit in {v}",
]
ZH_SEG_POS = [
    "{s}椎间盘突出",
    "{s}椎间盘向后突出，硬膜囊受压",
    "{s}椎管狭窄",
    "{s}椎间盘膨出",
    "{s}双侧椎间孔狭窄",
    "{s}椎间盘变性并向左后方突出",
]
ZH_SEG_ROOT = [
    "{s}椎间盘突出，压迫{side}{root}神经根",
    "{s}椎间盘脱出，{side}{root}神经根受压",
]
ZH_VERT_POS = [
    "{v}压缩性骨折",
    "{v}爆裂骨折",
    "{v}骨质破坏，考虑转移瘤",
    "{v}楔形变",
    "{v}新鲜骨折，骨髓水肿",
]

EN_DERM = {"L": ["reduced sensation in the {r} dermatome", "numbness in {art} {r} distribution",
                 "paraesthesia in the {r} dermatome", "S2-S5 saddle anaesthesia"],
           "C": ["reduced sensation in the {r} dermatome", "numbness in {art} {r} distribution",
                 "sensory level at {t}"],
           "T": ["sensory level at {t}", "band-like paraesthesia in the {r} dermatome"]}
EN_MYO = {"L": ["{m} power 4/5", "ankle jerk (S1) reduced", "knee jerk (L4) absent", "EHL (L5) 4/5",
                "hip flexion (L2) 4/5"],
          "C": ["{m} power 4/5", "biceps reflex (C5) diminished", "triceps (C7) 4+/5", "finger flexors (C8) 4/5"],
          "T": ["ankle jerks (S1) brisk", "knee jerks (L4) brisk bilaterally"]}
EN_CONS = ["pedicle screws from {a} to {b}", "s/p {a}-{b} posterior instrumented fusion",
           "{a}-{b} posterior instrumentation in situ", "fused {a}-{b}", "previous {a}-{b} fixation, hardware intact"]
EN_COUNT = {"L": ["six lumbar-type vertebrae", "lumbarised S1", "sacralised L5", "conus terminates at L1",
                  "conus at the T12-L1 level", "numbering assumes 12 rib-bearing vertebrae with T12 the lowest"],
            "C": ["counting from C2", "cervical ribs arising from C7"],
            "T": ["counting from C2", "conus terminates at L1", "conus at the T12-L1 level",
                  "numbering assumes 12 rib-bearing vertebrae with T12 the lowest"]}
EN_NEG = ["no disc herniation at {n}", "{n} and {n2} are unremarkable", "{n}: normal",
          "no significant stenosis at {n}", "{n} disc preserved"]

ZH_DERM = {"L": ["{r}皮节区感觉减退", "{r}皮节麻木", "鞍区(S2-S5)感觉减退"],
           "C": ["{r}皮节区感觉减退", "{r}皮节麻木", "感觉平面位于{t}"],
           "T": ["感觉平面位于{t}", "{r}皮节区束带样感觉异常"]}
ZH_MYO = {"L": ["跟腱反射(S1)减弱", "膝反射(L4)减弱", "踇背伸(L5)肌力4级", "{m}肌力4级"],
          "C": ["肱二头肌反射(C5)减弱", "{m}肌力4级", "肱三头肌(C7)肌力4级"],
          "T": ["双侧膝反射(L4)亢进", "跟腱反射(S1)亢进"]}
ZH_CONS = ["{a}-{b}椎弓根螺钉内固定术后", "{a}-{b}融合术后", "{a}-{b}内固定位置良好"]
ZH_COUNT = {"L": ["腰骶移行椎", "L5椎体骶化", "S1腰化", "圆锥末端位于L1水平", "按12对肋骨计数"],
            "C": ["自C2向下计数", "C7颈肋"],
            "T": ["按12对肋骨计数", "圆锥末端位于L1水平", "自C2向下计数"]}
ZH_NEG = ["{n}椎间盘未见异常", "{n}无狭窄", "{n}椎间盘未见明显突出", "{n}、{n2}未见异常"]

SEGS = {"C": [f"C{i}" for i in range(2, 8)], "T": [f"T{i}" for i in range(4, 13)],
        "L": [f"L{i}" for i in range(1, 6)]}
VERTS = {"C": ["C5", "C6", "C7"], "T": [f"T{i}" for i in range(5, 13)], "L": [f"L{i}" for i in range(1, 6)]}


def root_for(a: str, kind: str) -> str:
    """Nerve root a disc at segment a/next affects."""
    b = nxt(a)
    if a[0] == "C":
        return "C8" if a == "C7" else b  # cervical roots exit above their pedicle: C5-6 -> C6, C7-T1 -> C8
    return a if kind == "exiting" else b


def make_template(rng: random.Random, lang: str):
    region = rng.choice(["L", "L", "L", "C", "C", "T"])
    traps: set[str] = set()
    gold: list[str] = []
    clauses: list[str] = []
    used: set[str] = set()
    exam: set[int] = set()
    pos_tops = rng.sample(SEGS[region], k=rng.choice([1, 1, 2]))
    want_vert = rng.random() < 0.3
    use_root = rng.random() < 0.2 and region in "LC"
    for i, a in enumerate(pos_tops):
        s = en_seg(a, rng) if lang == "en" else zh_seg(a, rng)
        if use_root and i == 0:
            traps.add("root")
            if lang == "en":
                tpl = rng.choice(EN_SEG_ROOT if region == "L" else EN_SEG_ROOT[2:])
                kind = "exiting" if "exiting" in tpl else "traversing"
                clauses.append(tpl.format(s=s, root=root_for(a, kind)))
            else:
                tpl = rng.choice(ZH_SEG_ROOT)
                clauses.append(tpl.format(s=s, side=rng.choice(["左侧", "右侧", ""]), root=root_for(a, "traversing")))
        else:
            pool = EN_SEG_POS if region == "L" else [x for x in EN_SEG_POS if "lateral recess" not in x]
            clauses.append(rng.choice(pool if lang == "en" else ZH_SEG_POS).format(s=s))
        gold.append(seg(a))
        used.update({a, nxt(a)})
    if want_vert:
        cands = [v for v in VERTS[region] if v not in used]
        if cands:
            v = rng.choice(cands)
            clauses.append(rng.choice(EN_VERT_POS if lang == "en" else ZH_VERT_POS).format(
                v=en_vert(v, rng) if lang == "en" else zh_vert(v, rng)))
            gold.append(v)
            used.add(v)
    n_traps = rng.choice([0, 1, 1, 1, 2])
    kinds = rng.sample(["dermatome", "myotome", "construct", "count", "negated"], k=n_traps)
    for k in kinds:
        traps.add(k)
        if k == "dermatome":
            r = rng.choice({"L": ["L4", "L5", "S1", "L3"], "C": ["C5", "C6", "C7", "C8"], "T": ["T10", "T6"]}[region])
            t = rng.choice(["T4", "T6", "T8", "T10"])
            tpl = rng.choice((EN_DERM if lang == "en" else ZH_DERM)[region])
            clauses.append(tpl.format(r=r, t=t, art="an" if r[0] in "LS" else "a"))
            exam.add(len(clauses) - 1)
        elif k == "myotome":
            m = rng.choice({"L": ["L3", "L5"], "C": ["C5", "C6"], "T": ["L3"]}[region])
            clauses.append(rng.choice((EN_MYO if lang == "en" else ZH_MYO)[region]).format(m=m))
            exam.add(len(clauses) - 1)
        elif k == "construct":
            # a construct disjoint from the positive levels (adjacent-segment style)
            ranges = [("L4", "S1"), ("L3", "S1"), ("L5", "S1"), ("T10", "L2"), ("T11", "L3"),
                      ("C3", "C5"), ("C4", "C6"), ("C6", "T1"), ("C7", "T2"), ("T2", "T5"), ("L1", "L3")]
            ok = [r for r in ranges if r[0][0] in (region, "T", "L", "C")
                  and not any(IDX[r[0]] <= IDX[x] <= IDX[r[1]] for x in used)]
            near = [r for r in ok if abs(IDX[r[0]] - min(IDX[x] for x in used)) < 7]
            a, b = rng.choice(near or ok)
            clauses.append(rng.choice(EN_CONS if lang == "en" else ZH_CONS).format(a=a, b=b))
        elif k == "count":
            clauses.append(rng.choice((EN_COUNT if lang == "en" else ZH_COUNT)[region]))
        elif k == "negated":
            free = [x for x in SEGS[region] if x not in used and nxt(x) not in used]
            if len(free) < 2:
                free = [x for x in SEGS[region] if seg(x) not in gold]
            n1, n2 = rng.sample(free, 2)
            if IDX[n1] > IDX[n2]:
                n1, n2 = n2, n1
            f = (lambda x: en_seg(x, rng)) if lang == "en" else (lambda x: zh_seg(x, rng))
            clauses.append(rng.choice(EN_NEG if lang == "en" else ZH_NEG).format(n=f(n1), n2=f(n2)))
    # count traps must not clash with gold vertebrae
    text_clauses = clauses[:]
    pos = text_clauses[: len(gold)]
    ex = [c for i, c in enumerate(text_clauses) if i in exam]
    other = [c for i, c in enumerate(text_clauses) if i >= len(gold) and i not in exam]
    rng.shuffle(ex)
    rng.shuffle(other)
    rest = ex + other
    if lang == "en":
        shape = rng.choice(["findings", "impression", "exam_first", "plain"])
        if shape == "findings":
            body = ". ".join(c[0].upper() + c[1:] for c in pos + rest)
            text = f"Findings: {body}."
        elif shape == "impression":
            items = pos + rest
            text = "Impression: " + "  ".join(f"{i + 1}. {c[0].upper() + c[1:]}." for i, c in enumerate(items))
        elif shape == "exam_first" and ex:
            text = f"O/E: {'; '.join(ex)}. MRI: {'; '.join(pos + other)}."
            text = text[0].upper() + text[1:]
        else:
            text = "; ".join(pos + rest) + "."
            text = text[0].upper() + text[1:]
    else:
        shape = rng.choice(["mri", "diag", "exam_first", "plain"])
        if shape == "mri":
            text = "MRI示：" + "，".join(pos + rest) + "。"
        elif shape == "diag":
            text = "诊断：" + "；".join(f"{i + 1}. {c}" for i, c in enumerate(pos + rest)) + "。"
        elif shape == "exam_first" and ex:
            text = "查体：" + "，".join(ex) + "。影像：" + "，".join(pos + other) + "。"
        else:
            text = "，".join(pos + rest) + "。"
    trap = "plain" if not traps else (traps.pop() if len(traps) == 1 else "mixed")
    return text, canon(gold), trap


def main() -> None:
    rng = random.Random(SEED)
    rows = []
    for lang, trap, text, gold in HAND:
        rows.append({"language": lang, "trap": trap, "origin": "blind-hand", "text": text,
                     "levels": canon(gold)})
    n_template = 120
    seen = {r["text"] for r in rows}
    while sum(r["origin"] == "blind-template" for r in rows) < n_template:
        lang = "en" if rng.random() < 0.45 else "zh"
        text, gold, trap = make_template(rng, lang)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"language": lang, "trap": trap, "origin": "blind-template", "text": text,
                     "levels": gold})
    with OUT.open("w", encoding="utf-8") as fh:
        for i, r in enumerate(rows, 1):
            fh.write(json.dumps({"id": f"h3-{i:03d}", **r}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
