"""Blind held-out set 6 for the spinal-level extractor (parse_levels).

Written without reading the extractor, its tests or earlier gold sets.
Emphasis: operative notes / surgical history (constructs, fusion, revision),
numbering variants (cervical ribs, transitional vertebrae), radiology
"Impression" lists, clinic letters with examination findings; EN and ZH
about evenly.  Gold = levels a spine surgeon would tag as the site of a
current finding (lesion, stenosis, herniation, fracture, tumour, infection,
deformity, degeneration).  Not gold: dermatomes, myotomes/reflexes, construct
ranges, counting landmarks, negated/normal levels, cervical ribs.

Deterministic: ``python benchmarks/data/make_levels_heldout6.py`` writes
benchmarks/data/levels_heldout6.jsonl.
"""
import json
import os
import random

SEED = 20261206
rng = random.Random(SEED)

_ORDER = {}
_i = 0
for _reg, _n in (("C", 7), ("T", 12), ("L", 5), ("S", 5)):
    for _k in range(1, _n + 1):
        _ORDER[f"{_reg}{_k}"] = _i
        _i += 1


def _key(level):
    parts = level.split("-")
    return (_ORDER[parts[0]], _ORDER[parts[-1]], len(parts))


def canon(levels):
    return sorted(set(levels), key=_key)


# ---------------------------------------------------------------------------
# Hand-written sentences (origin "blind-hand"), each composed individually.
# (language, trap, text, gold)
# ---------------------------------------------------------------------------
HAND = [
    ("en", "plain", "L4/5: broad-based disc bulge with superimposed small central protrusion, mild bilat NFN, moderate canal stenosis.", ["L4-L5"]),
    ("en", "negated", "L1/2, L2/3: unremarkable. L3/4: minor bulge, no stenosis.", ["L3-L4"]),
    ("en", "mixed", "Impression: 1. Large right paracentral extrusion at L5/S1 compressing the descending S1 root. 2. Transitional lumbosacral anatomy, last lumbar-type vertebra designated L5.", ["L5-S1"]),
    ("en", "construct", "Status post L4-S1 posterior instrumented fusion; hardware intact, no peri-screw lucency.", []),
    ("en", "mixed", "Status post L4-S1 posterior instrumented fusion with new adjacent segment degeneration and severe stenosis at L3-4.", ["L3-L4"]),
    ("en", "count", "Note: there are six non-rib-bearing lumbar-type vertebrae; the lowest is labelled L6 for this report only and counting was performed from C2.", []),
    ("en", "count", "Bilateral cervical ribs arise from C7, the left larger than the right.", []),
    ("en", "mixed", "Small left cervical rib arising from C7; separately there is a C6/7 left foraminal disc-osteophyte complex with C7 root impingement.", ["C6-C7"]),
    ("en", "plain", "Acute wedge compression fracture of T12 with approximately 30% anterior height loss and no retropulsion.", ["T12"]),
    ("en", "mixed", "Burst fracture of L1 with 6 mm retropulsion; the conus terminates at T12/L1 and shows no signal change.", ["L1"]),
    ("en", "plain", "T2WI and STIR hyperintensity within the T8 and T9 vertebral bodies with loss of the intervening disc height and a small left paravertebral collection, consistent with discitis-osteomyelitis at T8-9.", ["T8", "T9", "T8-T9"]),
    ("en", "plain", "There is a T1 hypointense, STIR hyperintense lesion replacing the L3 vertebral body marrow with a pathological collapse, in keeping with metastasis given the known breast primary.", ["L3"]),
    ("en", "dermatome", "She reports burning pain in an L5 distribution and numbness over the dorsum of the foot.", []),
    ("en", "mixed", "Examination: reduced sensation in the right S1 dermatome, absent right ankle jerk, EHL 5/5. MRI shows a right L5/S1 disc extrusion.", ["L5-S1"]),
    ("en", "myotome", "Power: C5 5/5, C6 4/5 right, C7 5/5, C8 5/5, T1 5/5; biceps and supinator reflexes reduced on the right.", []),
    ("en", "mixed", "Operation: L4/5 microdiscectomy (right). Findings: large sequestrated fragment lying beneath the traversing L5 root.", ["L4-L5"]),
    ("en", "construct", "Procedure: T10 to pelvis posterior instrumentation with S2-alar-iliac screws and T10-L2 Ponte osteotomies.", []),
    ("en", "mixed", "Revision surgery: removal of broken rods and extension of the construct to T10, for pseudarthrosis at L4-5.", ["L4-L5"]),
    ("en", "mixed", "Discharge summary: admitted with cauda equina syndrome secondary to a massive central L4/5 disc prolapse; underwent emergency L4/5 decompression. Saddle anaesthesia S2-S5 improving on discharge.", ["L4-L5"]),
    ("en", "mixed", "Dear Dr Patel, I saw Mr Jones in clinic today. His MRI shows multilevel cervical spondylosis, worst at C5/6 where there is cord compression with T2 signal change. He has a sensory level at T4 which I suspect is non-organic.", ["C5-C6"]),
    ("en", "negated", "No evidence of cord compression or foraminal stenosis at C3-4, C4-5 or C7-T1.", []),
    ("en", "mixed", "C4-5 and C7-T1 are normal; C5-6 and C6-7 show disc-osteophyte complexes with moderate canal narrowing.", ["C5-C6", "C6-C7"]),
    ("en", "plain", "Grade 1 isthmic spondylolisthesis of L5 on S1 with bilateral pars defects of L5.", ["L5", "L5-S1"]),
    ("en", "plain", "Degenerative anterolisthesis L4 on L5 (grade 1) with facet effusions and severe central stenosis at this level.", ["L4-L5"]),
    ("en", "count", "Lumbarised S1 with a rudimentary S1/2 disc; numbering as per the whole-spine localiser.", []),
    ("en", "mixed", "Lumbarisation of S1 is noted. There is a small central protrusion at the L5/S1 level without neural compromise.", ["L5-S1"]),
    ("en", "plain", "Right-sided synovial cyst arising from the L4-5 facet joint, effacing the right lateral recess.", ["L4-L5"]),
    ("en", "plain", "Segmental ossification of the posterior longitudinal ligament behind the C4 and C5 bodies, with canal narrowing most marked at C4.", ["C4", "C5"]),
    ("en", "plain", "Impression: Intradural extramedullary lesion at T6-T7, most likely meningioma, displacing the cord to the right.", ["T6-T7"]),
    ("en", "mixed", "Paediatric: 12-year-old with thoracic scoliosis, apex T8, Cobb 42 degrees; no syrinx, conus at L1-2.", ["T8"]),
    ("en", "plain", "Schmorl's nodes at the inferior endplates of T11 and T12, chronic.", ["T11", "T12"]),
    ("en", "mixed", "Previous C5-C6 ACDF with solid fusion; now moderate disc degeneration and foraminal stenosis at C6-C7 below the plate.", ["C6-C7"]),
    ("en", "mixed", "Op note: posterior stabilisation T11-L3 with pedicle screws at T11, T12, L2 and L3 for an unstable L1 Chance fracture.", ["L1"]),
    ("en", "plain", "Epidural abscess posterior to the L3 and L4 vertebral bodies, with enhancing phlegmon at the L3/4 disc.", ["L3", "L4", "L3-L4"]),
    ("en", "root", "The left L5/S1 foraminal disc protrusion compresses the exiting L5 nerve root.", ["L5-S1"]),
    ("en", "dermatome", "Clinically she has saddle anaesthesia from S3 to S5 and a patulous anus; urgent imaging requested.", []),
    ("en", "mixed", "Impression: 1. Chronic osteoporotic fractures of T7 and T9. 2. No acute fracture. 3. Pedicle screws at L3 and L4 in satisfactory position.", ["T7", "T9"]),
    ("en", "plain", "Severe facet arthropathy at L3-4 and L4-5, with ligamentum flavum hypertrophy causing trefoil canal at L4-5.", ["L3-L4", "L4-L5"]),
    ("en", "negated", "The fourth and fifth lumbar discs are preserved; no herniation identified.", []),
    ("en", "plain", "Chordoma centred on S2 with a large presacral soft tissue mass.", ["S2"]),
    ("zh", "plain", "MRI示：腰4/5椎间盘向后突出，硬膜囊受压，双侧侧隐窝狭窄。", ["L4-L5"]),
    ("zh", "mixed", "MRI示：L5/S1椎间盘向左后突出，压迫左侧S1神经根；L3/4、L4/5椎间盘未见明显异常。", ["L5-S1"]),
    ("zh", "mixed", "影像诊断：1. 胸12椎体压缩性骨折（新鲜）；2. 腰1椎体陈旧性压缩骨折。", ["T12", "L1"]),
    ("zh", "construct", "腰4-骶1椎弓根螺钉内固定术后，内固定位置良好，未见松动。", []),
    ("zh", "mixed", "腰4-骶1椎弓根螺钉内固定术后，腰3/4椎间盘突出伴椎管狭窄（邻椎病）。", ["L3-L4"]),
    ("zh", "dermatome", "查体：左小腿外侧及足背（L5皮节）感觉减退，右侧感觉正常。", []),
    ("zh", "mixed", "查体：右侧S1皮节痛觉减退，右跟腱反射消失。MRI示：腰5/骶1椎间盘右后突出。", ["L5-S1"]),
    ("zh", "myotome", "查体：双侧肱二头肌反射（C5）减弱，右侧伸腕肌力（C6）4级。", []),
    ("zh", "count", "腰骶移行椎，骶1腰化，本报告以最下一个腰椎为腰5计数。", []),
    ("zh", "mixed", "腰骶移行椎（腰5骶化）；腰4/5椎间盘膨出，椎管轻度狭窄。", ["L4-L5"]),
    ("zh", "count", "左侧颈肋，起自第7颈椎横突。", []),
    ("zh", "mixed", "双侧颈肋起自C7；颈6/7椎间盘突出，压迫硬膜囊。", ["C6-C7"]),
    ("zh", "plain", "颈5/6、颈6/7椎间盘突出，相应节段脊髓受压，颈5/6水平脊髓内见T2WI高信号。", ["C5-C6", "C6-C7"]),
    ("zh", "plain", "胸8、胸9椎体及其间椎间盘T1WI低信号、T2WI及STIR高信号，椎旁软组织肿胀，考虑胸8/9椎间隙感染（结核可能）。", ["T8", "T9", "T8-T9"]),
    ("zh", "plain", "第3腰椎椎体骨质破坏伴病理性压缩骨折，考虑转移瘤。", ["L3"]),
    ("zh", "negated", "颈3/4、颈4/5椎间盘未见突出，椎管无狭窄。", []),
    ("zh", "mixed", "手术记录：患者俯卧位，行腰4/5椎板开窗髓核摘除术，术中见腰4/5椎间盘向右后突出，压迫L5神经根。", ["L4-L5"]),
    ("zh", "construct", "手术名称：后路胸10-髂骨椎弓根螺钉内固定植骨融合术。", []),
    ("zh", "mixed", "翻修手术：取出原腰3-5内固定，延长固定至胸10，术前诊断为腰2/3节段不稳伴椎管狭窄。", ["L2-L3"]),
    ("zh", "mixed", "出院诊断：1. 腰4椎体滑脱（I度）；2. 腰4/5椎管狭窄症。术后鞍区（S2-S5）麻木较前好转。", ["L4", "L4-L5"]),
    ("zh", "plain", "胸11/12椎间隙变窄，相邻终板骨髓水肿（Modic I型）。", ["T11-T12"]),
    ("zh", "mixed", "诊断：脊髓型颈椎病（颈4/5、颈5/6）；查体：感觉平面位于T6水平以下，霍夫曼征阳性。", ["C4-C5", "C5-C6"]),
    ("zh", "plain", "腰5双侧椎弓峡部裂，腰5椎体I度前滑脱。", ["L5"]),
    ("zh", "mixed", "儿童，胸腰段脊柱侧弯，顶椎位于胸12，圆锥末端位于腰1水平。", ["T12"]),
    ("zh", "plain", "颈2齿状突骨折（II型），寰枢关节稳定性欠佳。", ["C2"]),
    ("zh", "mixed", "既往颈5/6前路椎间盘切除融合术后，现颈4/5椎间盘突出伴脊髓受压。", ["C4-C5"]),
]

# ---------------------------------------------------------------------------
# Template material
# ---------------------------------------------------------------------------
# Segments: gold, list of EN notations, list of ZH notations
SEGS = [
    ("C3-C4", ["C3/4", "C3-4", "C3-C4"], ["颈3/4", "C3/4", "颈3-4"]),
    ("C4-C5", ["C4/5", "C4-5", "C4-C5", "C4–5"], ["颈4/5", "C4/5", "颈4-5"]),
    ("C5-C6", ["C5/6", "C5-6", "C5-C6", "C5 to C6"], ["颈5/6", "C5/6", "颈5-6"]),
    ("C6-C7", ["C6/7", "C6-7", "C6-C7"], ["颈6/7", "C6/7", "颈6-7"]),
    ("C7-T1", ["C7/T1", "C7-T1"], ["颈7/胸1", "C7/T1"]),
    ("T6-T7", ["T6/7", "T6-7", "T6-T7"], ["胸6/7", "T6/7"]),
    ("T11-T12", ["T11/12", "T11-12", "T11-T12"], ["胸11/12", "T11/12", "胸11-12"]),
    ("T12-L1", ["T12/L1", "T12-L1"], ["胸12/腰1", "T12/L1"]),
    ("L1-L2", ["L1/2", "L1-2", "L1-L2"], ["腰1/2", "L1/2", "腰1-2"]),
    ("L2-L3", ["L2/3", "L2-3", "L2-L3"], ["腰2/3", "L2/3", "腰2-3"]),
    ("L3-L4", ["L3/4", "L3-4", "L3-L4", "L3–4"], ["腰3/4", "L3/4", "腰3-4"]),
    ("L4-L5", ["L4/5", "L4-5", "L4-L5", "L4–5", "L4 to L5"], ["腰4/5", "L4/5", "腰4-5"]),
    ("L5-S1", ["L5/S1", "L5-S1", "L5–S1"], ["腰5/骶1", "L5/S1", "腰5-骶1"]),
]
VERTS = [
    ("C2", ["C2"], ["颈2", "第2颈椎"]),
    ("C6", ["C6"], ["颈6", "第6颈椎"]),
    ("T4", ["T4"], ["胸4", "第4胸椎"]),
    ("T7", ["T7"], ["胸7", "第7胸椎"]),
    ("T10", ["T10"], ["胸10", "第10胸椎"]),
    ("T12", ["T12", "the twelfth thoracic vertebra"], ["胸12", "第12胸椎"]),
    ("L1", ["L1", "the first lumbar vertebra"], ["腰1", "第1腰椎"]),
    ("L2", ["L2"], ["腰2", "第2腰椎"]),
    ("L3", ["L3"], ["腰3", "第3腰椎"]),
    ("L4", ["L4"], ["腰4", "第4腰椎"]),
    ("L5", ["L5", "the fifth lumbar vertebra"], ["腰5", "第5腰椎"]),
    ("S1", ["S1"], ["骶1"]),
]

EN_SEG_FIND = [
    "{x}: broad-based disc bulge, mild bilat NFN",
    "{x}: small central protrusion abutting the thecal sac",
    "{x} - severe canal stenosis with redundant nerve roots above",
    "right paracentral extrusion at {x} with caudal migration",
    "moderate L>R foraminal narrowing at {x}",
    "disc desiccation and loss of height at {x}",
    "Modic type 1 endplate change at {x}",
    "left foraminal disc-osteophyte complex at {x}",
    "facet effusions and grade 1 anterolisthesis at {x}",
    "annular fissure at {x}",
]
EN_SEG_ROOT = [
    "{x} left subarticular protrusion contacting the traversing {r} root",
    "{x}: right foraminal herniation compressing the exiting {e} nerve root",
]
EN_VERT_FIND = [
    "acute compression fracture of {x}",
    "STIR-bright marrow oedema in {x} consistent with a recent fracture",
    "lytic lesion in the {x} vertebral body, suspicious for metastasis",
    "haemangioma in {x}, typical",
    "old healed wedge deformity of {x}",
    "pathological collapse of {x} with posterior cortical bulging",
]
EN_DERM = [
    "numbness in the {d} distribution",
    "reduced pinprick in the {d} dermatome",
    "dysaesthesia along the {d} dermatome",
]
EN_MYO = [
    "ankle jerk (S1) absent",
    "C5 power 4/5",
    "EHL (L5) 4/5 on the left",
    "knee jerk (L4) reduced",
    "triceps (C7) reflex brisk",
]
EN_CONSTRUCT = [
    "pedicle screws from {a} to {b}",
    "previous {a}-{b} posterior instrumented fusion",
    "fused {a}-{b}",
    "{a}-{b} posterior instrumentation in situ",
    "rods and screws spanning {a} to {b}",
]
EN_COUNT = [
    "six lumbar-type vertebrae are present",
    "lumbarised S1",
    "partial sacralisation of L5",
    "the conus terminates at L1",
    "levels counted from C2 on the sagittal localiser",
    "a small right cervical rib arises from C7",
]
EN_NEG = [
    "no disc herniation at {x}",
    "{x} is unremarkable",
    "no stenosis at {x}",
    "{x} normal",
]
ZH_SEG_FIND = [
    "{x}椎间盘向后突出，硬膜囊受压",
    "{x}椎间盘膨出",
    "{x}椎管狭窄",
    "{x}椎间盘变性，T2WI信号减低",
    "{x}右侧椎间孔狭窄",
    "{x}椎间盘脱出并向下游离",
    "{x}黄韧带肥厚",
]
ZH_SEG_ROOT = [
    "{x}椎间盘左后突出，压迫{r}神经根",
]
ZH_VERT_FIND = [
    "{x}椎体压缩性骨折",
    "{x}椎体骨质破坏，考虑转移瘤",
    "{x}椎体血管瘤",
    "{x}椎体陈旧性楔形变",
    "{x}椎体T1WI低信号、STIR高信号，考虑新鲜骨折",
]
ZH_DERM = [
    "{d}皮节感觉减退",
    "{d}皮节区麻木",
]
ZH_MYO = [
    "跟腱反射（S1）减弱",
    "伸踇肌力（L5）4级",
    "膝反射（L4）减弱",
    "C5肌力4级",
]
ZH_CONSTRUCT = [
    "{a}-{b}椎弓根螺钉内固定术后",
    "{a}至{b}融合术后",
    "{a}-{b}内固定在位",
]
ZH_COUNT = [
    "腰骶移行椎",
    "骶1腰化",
    "腰5骶化",
    "脊髓圆锥末端位于腰1水平",
    "右侧颈肋起自第7颈椎",
]
ZH_NEG = [
    "{x}椎间盘未见异常",
    "{x}椎管无狭窄",
    "{x}未见明显突出",
]
DERMS = [("L5", "L4"), ("S1", "S1"), ("C6", "C6"), ("L4", "L4"), ("C7", "C7")]
# construct ends (EN, ZH)
CONS = [("L4", "S1", "腰4", "骶1"), ("T10", "L2", "胸10", "腰2"),
        ("C4", "T2", "颈4", "胸2"), ("L3", "L5", "腰3", "腰5"),
        ("T4", "L1", "胸4", "腰1")]
ROOTS = {"L4-L5": ("L5", "L4"), "L5-S1": ("S1", "L5"), "L3-L4": ("L4", "L3"),
         "C5-C6": ("C6", "C6"), "C6-C7": ("C7", "C7")}

EN_PREFIX = ["", "MRI: ", "Findings: ", "Impression: ", "CT: ", "Clinic letter - ",
             "Discharge summary: ", "Op note: "]
ZH_PREFIX = ["", "MRI示：", "CT示：", "影像诊断：", "诊断：", "出院诊断：", "手术记录："]
ZH_EXAM_PREFIX = "查体："


def pick_seg(region=None):
    pool = [s for s in SEGS if region is None or s[0][0] in region]
    return rng.choice(pool)


def en_positive(used):
    if rng.random() < 0.65:
        s = pick_seg()
        while s[0] in used:
            s = pick_seg()
        if s[0] in ROOTS and rng.random() < 0.3:
            t = rng.choice(EN_SEG_ROOT)
            r, e = ROOTS[s[0]]
            return t.format(x=rng.choice(s[1]), r=r, e=e), [s[0]], True
        return rng.choice(EN_SEG_FIND).format(x=rng.choice(s[1])), [s[0]], False
    v = rng.choice(VERTS)
    while v[0] in used:
        v = rng.choice(VERTS)
    return rng.choice(EN_VERT_FIND).format(x=rng.choice(v[1])), [v[0]], False


def zh_positive(used):
    if rng.random() < 0.65:
        s = pick_seg()
        while s[0] in used:
            s = pick_seg()
        if s[0] in ROOTS and rng.random() < 0.3:
            r, _ = ROOTS[s[0]]
            return rng.choice(ZH_SEG_ROOT).format(x=rng.choice(s[2]), r=r), [s[0]], True
        return rng.choice(ZH_SEG_FIND).format(x=rng.choice(s[2])), [s[0]], False
    v = rng.choice(VERTS)
    while v[0] in used:
        v = rng.choice(VERTS)
    return rng.choice(ZH_VERT_FIND).format(x=rng.choice(v[2])), [v[0]], False


def en_trap(kind, used):
    if kind == "dermatome":
        d = rng.choice(DERMS)[0]
        return rng.choice(EN_DERM).format(d=d)
    if kind == "myotome":
        return rng.choice(EN_MYO)
    if kind == "construct":
        a, b, _, _ = rng.choice(CONS)
        return rng.choice(EN_CONSTRUCT).format(a=a, b=b)
    if kind == "count":
        return rng.choice(EN_COUNT)
    if kind == "negated":
        s = pick_seg()
        while s[0] in used:
            s = pick_seg()
        return rng.choice(EN_NEG).format(x=rng.choice(s[1]))
    raise ValueError(kind)


def zh_trap(kind, used):
    if kind == "dermatome":
        d = rng.choice(DERMS)[0]
        return rng.choice(ZH_DERM).format(d=d)
    if kind == "myotome":
        return rng.choice(ZH_MYO)
    if kind == "construct":
        _, _, a, b = rng.choice(CONS)
        return rng.choice(ZH_CONSTRUCT).format(a=a, b=b)
    if kind == "count":
        return rng.choice(ZH_COUNT)
    if kind == "negated":
        s = pick_seg()
        while s[0] in used:
            s = pick_seg()
        return rng.choice(ZH_NEG).format(x=rng.choice(s[2]))
    raise ValueError(kind)


TRAPS = ["dermatome", "myotome", "construct", "count", "negated"]


def make_template(lang):
    """Return (trap, text, gold)."""
    shape = rng.choice(["plain", "plain2", "trap", "trap_pos", "trap_pos2", "two_traps"])
    used = set()
    pos_parts, gold, root_used = [], [], False
    n_pos = {"plain": 1, "plain2": 2, "trap": 0, "trap_pos": 1, "trap_pos2": 2, "two_traps": 1}[shape]
    for _ in range(n_pos):
        text, g, r = (en_positive if lang == "en" else zh_positive)(used)
        used.update(g)
        pos_parts.append(text)
        gold += g
        root_used = root_used or r
    n_trap = {"plain": 0, "plain2": 0, "trap": 1, "trap_pos": 1, "trap_pos2": 1, "two_traps": 2}[shape]
    kinds = rng.sample(TRAPS, n_trap)
    trap_parts = [(en_trap if lang == "en" else zh_trap)(k, used) for k in kinds]
    if n_trap == 0:
        trap = "root" if root_used else "plain"
    elif len(kinds) == 1 and not pos_parts:
        trap = kinds[0]
    elif len(kinds) == 1 and pos_parts:
        trap = kinds[0] if rng.random() < 0.0 else "mixed"
    else:
        trap = "mixed"
    if lang == "en":
        prefix = rng.choice(EN_PREFIX)
        if any(k in ("dermatome", "myotome") for k in kinds):
            prefix = rng.choice(["Exam: ", "Clinic letter - ", ""])
            exam = [p for p, k in zip(trap_parts, kinds) if k in ("dermatome", "myotome")]
            other = [p for p, k in zip(trap_parts, kinds) if k not in ("dermatome", "myotome")]
            body = ", ".join(exam)
            rest = "; ".join(pos_parts + other)
            text = prefix + body[0].upper() + body[1:] + "." + (" MRI: " + rest + "." if rest else "")
        else:
            parts = pos_parts + trap_parts
            rng.shuffle(parts)
            if prefix == "Impression: " and len(parts) > 1:
                body = " ".join(f"{i + 1}. {p[0].upper() + p[1:]}." for i, p in enumerate(parts))
                text = prefix + body
            else:
                body = "; ".join(parts)
                text = prefix + body[0].upper() + body[1:] + "."
    else:
        if any(k in ("dermatome", "myotome") for k in kinds):
            exam = [p for p, k in zip(trap_parts, kinds) if k in ("dermatome", "myotome")]
            other = [p for p, k in zip(trap_parts, kinds) if k not in ("dermatome", "myotome")]
            text = ZH_EXAM_PREFIX + "，".join(exam) + "。"
            rest = pos_parts + other
            if rest:
                text += "MRI示：" + "，".join(rest) + "。"
        else:
            prefix = rng.choice(ZH_PREFIX)
            parts = pos_parts + trap_parts
            rng.shuffle(parts)
            if prefix in ("影像诊断：", "诊断：", "出院诊断：") and len(parts) > 1:
                text = prefix + "；".join(f"{i + 1}. {p}" for i, p in enumerate(parts)) + "。"
            else:
                text = prefix + "，".join(parts) + "。"
    return trap, text, canon(gold)


def build():
    rows = []
    for lang, trap, text, gold in HAND:
        rows.append({"language": lang, "trap": trap, "origin": "blind-hand",
                     "text": text, "levels": canon(gold)})
    seen = {r["text"] for r in rows}
    n_tpl = 120
    langs = ["en"] * 62 + ["zh"] * 58
    rng.shuffle(langs)
    for lang in langs[:n_tpl]:
        while True:
            trap, text, gold = make_template(lang)
            if text not in seen:
                break
        seen.add(text)
        rows.append({"language": lang, "trap": trap, "origin": "blind-template",
                     "text": text, "levels": gold})
    out = []
    for i, r in enumerate(rows, 1):
        out.append({"id": f"h6-{i:03d}", "language": r["language"], "trap": r["trap"],
                    "origin": r["origin"], "text": r["text"], "levels": r["levels"]})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "levels_heldout6.jsonl")
    rows = build()
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
