"""Blind held-out set 5 for the spinal-level extractor (parse_levels).

Written without reading the extractor, its rules or the earlier sets.
Mix: operative notes and surgical history (constructs, fusion, revision),
numbering variants (cervical ribs, transitional vertebrae), radiology
"Impression" lists, clinic letters with examination findings, spine
oncology, infection, trauma (AO), paediatric scoliosis, cervical myelopathy.
EN and ZH roughly even.

Gold = the levels a FINDING is about (canonical "L4", "L4-L5", "L5-S1").
Not gold: dermatomes, myotomes/reflexes, roots named beside a disc level,
constructs/fusion/fixation ranges, counting/landmark/numbering variants
(a cervical rib arising from C7 is a numbering variant), negated/normal levels.

Run: python benchmarks/data/make_levels_heldout5.py  (writes levels_heldout5.jsonl)
"""
import json
import os
import random

SEED = 20261206
ORDER = ["C%d" % i for i in range(1, 8)] + ["T%d" % i for i in range(1, 13)] + \
    ["L%d" % i for i in range(1, 6)] + ["S%d" % i for i in range(1, 6)]
CN = {"C": "颈", "T": "胸", "L": "腰", "S": "骶"}


def key(lv):
    parts = lv.split("-")
    return (ORDER.index(parts[0]), ORDER.index(parts[-1]) if len(parts) > 1 else -1)


def canon_seg(a, b):
    return "%s-%s" % (a, b)


def nxt(v):
    return ORDER[ORDER.index(v) + 1]


def seg_en(rng, a):
    b = nxt(a)
    same = a[0] == b[0]
    if same:
        opts = ["%s/%s" % (a, b[1:]), "%s-%s" % (a, b[1:]), "%s-%s" % (a, b),
                "%s\u2013%s" % (a, b[1:]), "%s/%s" % (a, b), "%s to %s" % (a, b)]
    else:
        opts = ["%s/%s" % (a, b), "%s-%s" % (a, b), "%s\u2013%s" % (a, b)]
    return rng.choice(opts), canon_seg(a, b)


def seg_zh(rng, a):
    b = nxt(a)
    r1, n1, r2, n2 = a[0], a[1:], b[0], b[1:]
    if r1 == r2:
        opts = ["%s%s/%s" % (CN[r1], n1, n2), "%s%s-%s" % (CN[r1], n1, n2),
                "%s/%s" % (a, n2), "%s-%s" % (a, b), "%s%s～%s" % (CN[r1], n1, n2)]
    else:
        opts = ["%s%s/%s%s" % (CN[r1], n1, CN[r2], n2), "%s/%s" % (a, b),
                "%s-%s" % (a, b)]
    return rng.choice(opts), canon_seg(a, b)


def vert_en(rng, v):
    ords = {"1": "first", "2": "second", "3": "third", "4": "fourth", "5": "fifth",
            "6": "sixth", "7": "seventh", "8": "eighth", "9": "ninth",
            "10": "tenth", "11": "eleventh", "12": "twelfth"}
    reg = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}
    opts = [v, v, "%s vertebral body" % v, "the %s %s vertebra" % (ords[v[1:]], reg[v[0]])]
    return rng.choice(opts)


def vert_zh(rng, v):
    r, n = v[0], v[1:]
    suf = {"C": "颈椎", "T": "胸椎", "L": "腰椎", "S": "骶椎"}[r]
    opts = ["第%s%s" % (n, suf), "%s%s椎体" % (CN[r], n), "%s椎体" % v, "%s%s" % (CN[r], n)]
    return rng.choice(opts)


LUMBAR_DISCS = ["L1", "L2", "L3", "L4", "L5"]   # upper vertebra of the disc (L5 -> L5-S1)
CERV_DISCS = ["C3", "C4", "C5", "C6"]
THOR_VERTS = ["T6", "T7", "T8", "T9", "T10", "T11", "T12"]
LUMB_VERTS = ["L1", "L2", "L3", "L4"]

DISC_FIND_EN = [
    "broad-based disc bulge, mild bilat NFN",
    "left paracentral extrusion abutting the traversing root",
    "severe central canal stenosis with redundant roots",
    "right foraminal protrusion, moderate foraminal narrowing",
    "facet arthropathy and ligamentum flavum hypertrophy, moderate canal stenosis",
    "grade 1 degenerative anterolisthesis",
    "sequestered fragment migrating caudally",
    "annular fissure with high-intensity zone",
]
DISC_FIND_ZH = ["椎间盘向后突出，硬膜囊受压", "椎间盘膨出伴双侧侧隐窝狭窄", "椎管重度狭窄",
                "椎间盘左后方突出，左侧神经根受压", "椎间盘脱出并向下游离", "黄韧带肥厚，椎管狭窄"]
CERV_FIND_EN = ["disc osteophyte complex with cord flattening and T2 cord signal change",
                "posterior disc protrusion indenting the cord", "severe canal stenosis with myelomalacia",
                "OPLL-related canal narrowing"]
CERV_FIND_ZH = ["椎间盘突出，脊髓受压变形", "椎管狭窄，脊髓内T2高信号", "后纵韧带骨化，椎管狭窄"]
VERT_FIND_EN = ["AO A3 burst fracture with 30% canal compromise", "AO A1 wedge compression fracture",
                "osteolytic metastasis with posterior cortex breach", "acute osteoporotic compression fracture",
                "pathological fracture from myeloma deposit", "haemangioma with aggressive features",
                "AO B2 flexion-distraction injury"]
VERT_FIND_ZH = ["压缩性骨折", "爆裂骨折（AO A3型）", "溶骨性转移瘤", "骨质破坏，考虑转移",
                "新鲜骨质疏松性压缩骨折", "血管瘤"]
NORMAL_EN = ["no disc herniation at {x}", "{x} is unremarkable", "no significant stenosis at {x}",
             "{x}: normal disc height and signal", "no listhesis at {x}"]
NORMAL_ZH = ["{x}未见明显异常", "{x}椎间盘未见突出", "{x}未见狭窄", "{x}椎体信号未见异常"]


def positive_en(rng):
    kind = rng.random()
    if kind < 0.45:
        a = rng.choice(LUMBAR_DISCS)
        s, c = seg_en(rng, a)
        shape = rng.choice(["{s}: {f}.", "At {s} there is {f}.", "Impression: 1. {s} {f}.",
                            "MRI L-spine: {s} {f}; remaining levels preserved."])
        return shape.format(s=s, f=rng.choice(DISC_FIND_EN)), [c]
    if kind < 0.65:
        a = rng.choice(CERV_DISCS)
        s, c = seg_en(rng, a)
        shape = rng.choice(["{s}: {f}.", "Cervical MRI shows {f} at {s}.",
                            "Impression: myelopathy secondary to {f} at {s}."])
        return shape.format(s=s, f=rng.choice(CERV_FIND_EN)), [c]
    v = rng.choice(THOR_VERTS + LUMB_VERTS)
    shape = rng.choice(["{v}: {f}.", "CT shows {f} of {v}.", "Impression: {f} at {v}."])
    return shape.format(v=vert_en(rng, v), f=rng.choice(VERT_FIND_EN)), [v]


def positive_zh(rng):
    kind = rng.random()
    if kind < 0.45:
        a = rng.choice(LUMBAR_DISCS)
        s, c = seg_zh(rng, a)
        shape = rng.choice(["MRI示：{s}{f}。", "影像诊断：{s}{f}。", "{s}{f}。"])
        return shape.format(s=s, f=rng.choice(DISC_FIND_ZH)), [c]
    if kind < 0.65:
        a = rng.choice(CERV_DISCS)
        s, c = seg_zh(rng, a)
        shape = rng.choice(["颈椎MRI示：{s}{f}。", "诊断：脊髓型颈椎病（{s}{f}）。"])
        return shape.format(s=s, f=rng.choice(CERV_FIND_ZH)), [c]
    v = rng.choice(THOR_VERTS + LUMB_VERTS)
    shape = rng.choice(["CT示：{v}{f}。", "诊断：{v}{f}。", "影像诊断：{v}{f}。"])
    return shape.format(v=vert_zh(rng, v), f=rng.choice(VERT_FIND_ZH)), [v]


def trap_en(rng, trap):
    """Return (clause, ) of a trap sentence piece with no gold level."""
    if trap == "dermatome":
        r = rng.choice(["L5", "S1", "L4", "C6", "C7"])
        return rng.choice(["reduced pinprick in the %s dermatome" % r,
                           "numbness in an %s distribution" % r if r[0] in "LS" else "paraesthesia in a %s distribution" % r,
                           "sensory level at T%d" % rng.choice([4, 6, 8, 10]),
                           "S2-S5 saddle anaesthesia"])
    if trap == "myotome":
        return rng.choice(["ankle jerk (S1) absent on the left", "C5 power 4/5 on the right",
                           "EHL (L5) 4/5", "knee jerk (L3/4) reduced", "biceps (C5/6) reflex brisk",
                           "L2 hip flexion 4/5"])
    if trap == "construct":
        return rng.choice(["s/p pedicle screws from T10 to L2", "previous L4-S1 instrumented fusion",
                           "C4-T2 posterior instrumentation in situ", "status post ACDF C5/6 and C6/7 in 2019",
                           "intact L3-L5 posterolateral fusion mass", "T4 to L1 posterior spinal fusion planned"])
    if trap == "count":
        return rng.choice(["six lumbar-type vertebrae are present", "lumbarised S1 noted",
                           "conus terminates at L1", "levels counted from C2",
                           "cervical rib arising from C7 on the right", "transitional L5 with pseudarthrosis to the sacral ala",
                           "twelve rib-bearing vertebrae"])
    if trap == "root":
        return rng.choice(["compressing the traversing L5 root", "contacting the exiting L4 nerve root",
                           "abutting the descending S1 root"])
    raise ValueError(trap)


def trap_zh(rng, trap):
    if trap == "dermatome":
        return rng.choice(["左侧L5皮节针刺觉减退", "右小腿外侧（L5皮节）麻木", "感觉平面位于T%d" % rng.choice([6, 8, 10]),
                           "鞍区（S2-S5）感觉减退", "C6皮节感觉减退"])
    if trap == "myotome":
        return rng.choice(["左侧跟腱反射（S1）消失", "右侧三角肌（C5）肌力4级", "拇长伸肌（L5）肌力4级",
                           "膝反射（L3/4）减弱"])
    if trap == "construct":
        return rng.choice(["L4-S1椎弓根螺钉内固定术后", "T10-L2后路内固定在位", "颈5/6前路融合术后",
                           "腰3-5后外侧植骨融合", "拟行T4-L1后路矫形融合"])
    if trap == "count":
        return rng.choice(["腰骶移行椎（L5骶化）", "S1腰化", "圆锥末端位于L1水平", "右侧颈肋起自C7",
                           "自C2向下计数", "6个腰椎"])
    if trap == "root":
        return rng.choice(["压迫走行的L5神经根", "压迫右侧S1神经根", "累及出口L4神经根"])
    raise ValueError(trap)


def up(x):
    return x[0].upper() + x[1:]


def root_en(rng, a):
    b = nxt(a)
    return rng.choice(["compressing the traversing %s root" % b, "contacting the exiting %s nerve root" % a,
                       "abutting the descending %s root" % b])


def root_zh(rng, a):
    b = nxt(a)
    return rng.choice(["压迫走行的%s神经根" % b, "压迫右侧%s神经根" % b, "累及出口%s神经根" % a])


def make_templates(rng, n_en, n_zh):
    out = []
    traps = ["dermatome", "myotome", "construct", "count"]
    for lang, n in (("en", n_en), ("zh", n_zh)):
        for i in range(n):
            cat = ["plain", "trap", "negated", "root", "mixed"][i % 5]
            if lang == "en":
                pos, lv = positive_en(rng)
                if cat == "plain":
                    out.append((lang, "plain", pos, lv))
                elif cat == "trap":
                    t = traps[(i // 5) % 4]
                    clause = trap_en(rng, t)
                    out.append((lang, t, rng.choice(["%s. %s" % (up(clause), pos),
                                                     "%s; %s." % (pos.rstrip("."), clause)]), lv))
                elif cat == "negated":
                    a = rng.choice(LUMBAR_DISCS)
                    s, c = seg_en(rng, a)
                    neg = rng.choice(NORMAL_EN).format(x=s)
                    if rng.random() < 0.5:
                        out.append((lang, "negated", neg[0].upper() + neg[1:] + ".", []))
                    else:
                        b = rng.choice([x for x in LUMBAR_DISCS if x != a])
                        s2, c2 = seg_en(rng, b)
                        out.append((lang, "negated", "%s: %s. %s." % (s2, rng.choice(DISC_FIND_EN),
                                                                     neg[0].upper() + neg[1:]), [c2]))
                elif cat == "root":
                    a = rng.choice(["L3", "L4", "L5"])
                    s, c = seg_en(rng, a)
                    out.append((lang, "root", "%s %s, %s." % (s, rng.choice(["left paracentral protrusion",
                                                                            "subarticular disc extrusion",
                                                                            "foraminal protrusion"]),
                                                           root_en(rng, a)), [c]))
                else:
                    t = traps[(i // 5) % 4]
                    t2 = traps[(i // 5 + 1) % 4]
                    out.append((lang, "mixed", "%s %s; %s." % (pos, up(trap_en(rng, t)),
                                                                trap_en(rng, t2)), lv))
            else:
                pos, lv = positive_zh(rng)
                if cat == "plain":
                    out.append((lang, "plain", pos, lv))
                elif cat == "trap":
                    t = traps[(i // 5) % 4]
                    clause = trap_zh(rng, t)
                    lab = "查体" if t in ("dermatome", "myotome") else "附见"
                    out.append((lang, t, rng.choice(["%s，%s。" % (pos.rstrip("。"), clause),
                                                     "%s：%s。%s" % (lab, clause, pos)]), lv))
                elif cat == "negated":
                    a = rng.choice(LUMBAR_DISCS)
                    s, c = seg_zh(rng, a)
                    neg = rng.choice(NORMAL_ZH).format(x=s)
                    if rng.random() < 0.5:
                        out.append((lang, "negated", "MRI示：" + neg + "。", []))
                    else:
                        b = rng.choice([x for x in LUMBAR_DISCS if x != a])
                        s2, c2 = seg_zh(rng, b)
                        out.append((lang, "negated", "MRI示：%s%s，%s。" % (s2, rng.choice(DISC_FIND_ZH), neg), [c2]))
                elif cat == "root":
                    a = rng.choice(["L3", "L4", "L5"])
                    s, c = seg_zh(rng, a)
                    out.append((lang, "root", "%s椎间盘突出，%s。" % (s, root_zh(rng, a)), [c]))
                else:
                    t = traps[(i // 5) % 4]
                    t2 = traps[(i // 5 + 1) % 4]
                    lab = "查体" if t in ("dermatome", "myotome") else "附见"
                    lab2 = "查体" if t2 in ("dermatome", "myotome") else "附见"
                    out.append((lang, "mixed", "%s%s：%s；%s：%s。" % (pos, lab, trap_zh(rng, t), lab2,
                                                                     trap_zh(rng, t2)), lv))
    return out


HAND = [
    # --- operative notes / surgical history ---
    ("en", "construct", "Operation: revision of L4-S1 pedicle screw construct, removal of loose right S1 screw.", []),
    ("en", "mixed", "Indication: adjacent segment disease at L3/4 above a solid L4-S1 fusion, with severe canal stenosis.", ["L3-L4"]),
    ("en", "construct", "Procedure: T10 to pelvis posterior instrumentation with S2AI screws, Ponte osteotomies T12-L1 and L1-2.", []),
    ("en", "mixed", "Op note: L5/S1 discectomy performed; large sequestered fragment removed from behind the S1 root.", ["L5-S1"]),
    ("en", "construct", "PMH: ACDF C5-6 (2015), C6-7 (2018); presents with new neck pain, radiographs show hardware intact.", []),
    ("en", "mixed", "Pseudarthrosis at L4-5 following prior TLIF, with screw lucency and cage subsidence.", ["L4-L5"]),
    ("en", "construct", "Plan: posterior spinal fusion T3 to L2 with pedicle screws, neuromonitoring.", []),
    ("en", "mixed", "Proximal junctional kyphosis with fracture of T9, the upper instrumented vertebra being T10.", ["T9"]),
    ("en", "construct", "Kyphoplasty T12 and L1 in 2021; cement in situ without leakage.", []),
    ("en", "mixed", "Hardware: C3-C6 lateral mass screws. New finding: C6/7 disc protrusion with cord contact below the construct.", ["C6-C7"]),
    ("zh", "construct", "手术记录：行L4-S1后路椎弓根螺钉内固定+L4/5、L5/S1椎间融合术。", []),
    ("zh", "mixed", "既往腰4-骶1融合术后，现MRI示：腰3/4椎间盘突出，椎管重度狭窄（邻近节段退变）。", ["L3-L4"]),
    ("zh", "construct", "术后复查：T11-L3内固定位置良好，未见松动断裂。", []),
    ("zh", "mixed", "翻修手术：取出原L4、L5螺钉，L4/5融合器下沉，局部假关节形成。", ["L4-L5"]),
    ("zh", "construct", "拟行颈4-胸2后路侧块/椎弓根螺钉固定术。", []),
    # --- numbering variants ---
    ("en", "count", "Bilateral cervical ribs arising from C7. No cervical disc herniation.", []),
    ("en", "mixed", "Right cervical rib arising from C7; C5/6 disc osteophyte complex with moderate left foraminal stenosis.", ["C5-C6"]),
    ("en", "mixed", "Lumbosacral transitional vertebra (sacralised L5, Castellvi IIa); the last mobile disc, L4/5, shows a broad protrusion.", ["L4-L5"]),
    ("en", "count", "Six non-rib-bearing lumbar-type vertebrae; for this report the lowest is called L6 (lumbarised S1).", []),
    ("en", "count", "Numbering: 11 rib-bearing thoracic vertebrae, hypoplastic twelfth ribs; levels counted from C2 on the whole-spine localiser.", []),
    ("en", "mixed", "Conus terminates at L1-L2. L2-3 and L3-4 unremarkable. L4-5: moderate canal stenosis.", ["L4-L5"]),
    ("zh", "count", "右侧颈肋起自C7横突，臂丛未见明显受压。", []),
    ("zh", "mixed", "腰骶移行椎（L5骶化），腰4/5椎间盘突出，硬膜囊受压。", ["L4-L5"]),
    ("zh", "count", "S1腰化，共6个腰椎，按自C2向下计数命名节段。", []),
    ("zh", "mixed", "圆锥末端位于L1下缘水平；胸12椎体楔形变，考虑陈旧性压缩骨折。", ["T12"]),
    # --- impression lists ---
    ("en", "mixed", "Impression: 1. L4/5 moderate central canal stenosis. 2. L5/S1 left paracentral extrusion contacting the traversing S1 root. 3. No stenosis at L1-2 through L3-4.", ["L4-L5", "L5-S1"]),
    ("en", "mixed", "IMPRESSION: 1. Acute AO A1 fracture of L1. 2. T12 and L2 preserved in height. 3. No sacral insufficiency fracture.", ["L1"]),
    ("en", "mixed", "Impression: 1. T7 and T9 lytic metastases with epidural extension at T7 (ESCC grade 2). 2. Prior T4-T10 fixation noted.", ["T7", "T9"]),
    ("en", "plain", "Impression: C4-5 and C5-6 multilevel spondylotic myelopathy, most severe at C5-6 with T2 cord signal.", ["C4-C5", "C5-C6"]),
    ("zh", "mixed", "影像诊断：1. 腰4/5椎间盘突出（中央型）；2. 腰5/骶1椎间盘膨出；3. 腰3/4未见明显异常。", ["L4-L5", "L5-S1"]),
    ("zh", "plain", "诊断意见：1. 胸11、胸12椎体压缩骨折（新鲜）；2. 骨质疏松。", ["T11", "T12"]),
    ("zh", "mixed", "影像诊断：1. 颈5/6、颈6/7椎间盘突出，脊髓受压；2. 颈4/5未见狭窄。", ["C5-C6", "C6-C7"]),
    # --- clinic letters with exam ---
    ("en", "mixed", "Dear Dr Patel, thank you for referring this 58-year-old with cervical myelopathy: gait ataxia, positive Hoffmann's, C5 power 4/5 bilaterally and a sensory level around T4; MRI confirms severe C3/4 stenosis with myelomalacia.", ["C3-C4"]),
    ("en", "mixed", "On examination she has reduced sensation in the left L5 dermatome and EHL weakness; her MRI shows a left L4-5 subarticular extrusion.", ["L4-L5"]),
    ("en", "dermatome", "Examination: absent left ankle jerk, numbness over the lateral foot in an S1 distribution, SLR 40 degrees.", []),
    ("en", "mixed", "I reviewed him in clinic with his scans: there is a far-lateral L3/L4 protrusion compressing the exiting L3 root, which fits with his anterior thigh pain and reduced knee reflex (L3/4).", ["L3-L4"]),
    ("en", "mixed", "Letter: grip and release 12 in 10 s, inverted supinator jerk; the C5/C6 disc herniation with cord compression is the culprit, C6/7 is well decompressed after his earlier ACDF.", ["C5-C6"]),
    ("zh", "mixed", "查体：右侧L5皮节针刺觉减退，拇背伸肌力4级。MRI示：腰4/5椎间盘右后方突出。", ["L4-L5"]),
    ("zh", "mixed", "门诊记录：Hoffmann征阳性，双手握力减退，感觉平面约在T4；颈椎MRI示颈3/4椎管狭窄伴脊髓变性。", ["C3-C4"]),
    ("zh", "myotome", "查体：左侧跟腱反射（S1）消失，膝反射（L4）正常，双下肢肌力5级。", []),
    # --- oncology ---
    ("en", "plain", "Whole spine MRI: metastatic deposits in C7, T5 and L3; pathological collapse of T5 with SINS score 11.", ["C7", "T5", "L3"]),
    ("en", "mixed", "Myeloma: diffuse marrow infiltration; focal plasmacytoma of L2 with soft tissue extension; T8 biopsy from 2022 negative.", ["L2"]),
    ("en", "mixed", "Post-radiotherapy (SBRT T10): stable T10 lesion, new lytic metastasis of the first lumbar vertebra.", ["T10", "L1"]),
    ("zh", "plain", "MRI示：胸6、胸8椎体及附件骨质破坏，考虑转移瘤，胸6水平硬膜外软组织肿块压迫脊髓。", ["T6", "T8"]),
    ("zh", "mixed", "肺癌骨转移：第3腰椎溶骨性破坏；拟行L2-L4后路内固定+L3肿瘤切除。", ["L3"]),
    # --- infection ---
    ("en", "plain", "L2-3 spondylodiscitis with paravertebral and epidural abscess and endplate erosion.", ["L2-L3"]),
    ("en", "mixed", "Tuberculous spondylitis of T8-T9 with kyphosis and a large paraspinal cold abscess; the T6 and T11 levels are spared.", ["T8-T9"]),
    ("en", "mixed", "Discharge summary: C5/6 discitis-osteomyelitis with prevertebral collection, treated with 6 weeks IV antibiotics; no neurological deficit, C5 and C6 power 5/5.", ["C5-C6"]),
    ("zh", "plain", "MRI示：腰4/5椎间隙感染，相邻终板破坏，硬膜外脓肿形成。", ["L4-L5"]),
    ("zh", "mixed", "诊断：胸11-12脊柱结核伴椎旁脓肿；查体：感觉平面T10，双下肢肌力3级。", ["T11-T12"]),
    # --- trauma (AO) ---
    ("en", "mixed", "Trauma CT: AO type B2 injury at T12-L1 with fracture of the T12 body and facet distraction; L2 transverse process intact.", ["T12-L1", "T12"]),
    ("en", "mixed", "C2 type II odontoid fracture (Anderson-D'Alonzo) with 4 mm posterior displacement; C1 ring intact.", ["C2"]),
    ("en", "mixed", "TLICS 7: L1 burst fracture (AO A4) with PLC injury; plan T11-L3 percutaneous fixation.", ["L1"]),
    ("zh", "mixed", "CT示：腰1椎体爆裂骨折（AO A4型），骨块突入椎管约40%；拟行胸12-腰2后路短节段固定。", ["L1"]),
    ("zh", "plain", "外伤后颈6/7双侧小关节交锁伴前脱位（AO C型）。", ["C6-C7"]),
    # --- paediatric scoliosis ---
    ("en", "mixed", "Adolescent idiopathic scoliosis, Lenke 1A: right thoracic curve of 52 degrees with the apex at T8; planned fusion T4-L1.", ["T8"]),
    ("en", "plain", "Congenital scoliosis due to a fully segmented hemivertebra at T10.", ["T10"]),
    ("zh", "mixed", "青少年特发性脊柱侧凸，顶椎位于胸9，Cobb角48°；拟行胸4-腰1后路矫形融合内固定术。", ["T9"]),
    ("zh", "plain", "先天性脊柱侧凸：腰2半椎体畸形。", ["L2"]),
    # --- extra myelopathy / mixed ---
    ("zh", "count", "颈椎正位片：双侧颈肋起自第7颈椎，颈椎各椎间隙未见狭窄。", []),
    ("zh", "mixed", "左侧颈肋（起自C7），颈6/7椎间盘左侧突出，左侧椎间孔狭窄。", ["C6-C7"]),
    ("zh", "mixed", "出院诊断：1. 腰5/骶1椎间盘突出症（L5/S1右侧型）；2. 腰4/5椎间盘膨出；3. 腰椎骶化（L5）。", ["L4-L5", "L5-S1"]),
    ("zh", "construct", "手术经过：显露颈4至颈7，于颈4/5、颈5/6、颈6/7行前路椎间盘切除植骨融合（ACDF），钛板固定。", []),
    ("zh", "mixed", "术中见：L4/5间隙左侧巨大髓核脱出，压迫L5神经根，予摘除。", ["L4-L5"]),
    ("zh", "mixed", "查体：双侧Hoffmann征阳性，左侧C6皮节感觉减退，肱二头肌反射（C5/6）亢进。颈椎MRI：颈5/6脊髓受压伴T2高信号。", ["C5-C6"]),
    ("zh", "negated", "腰椎MRI：L1/2至L5/S1各椎间盘未见突出，椎管未见狭窄。", []),
    ("en", "plain", "Clinic letter: her scoliosis (apex T9) remains stable at 38 degrees; the new back pain is explained by a grade 1 isthmic spondylolisthesis at L5/S1.", ["T9", "L5-S1"]),
    ("en", "count", "Note: 13 rib-bearing vertebrae; the vertebra labelled T13 is counted from C2 on the sagittal localiser.", []),
    ("en", "negated", "C-spine MRI: no significant disc protrusion or canal stenosis from C2-3 to C7-T1; cord normal in signal.", []),
]


def main():
    rng = random.Random(SEED)
    tmpl = make_templates(rng, 58, 52)
    rows = []
    for lang, trap, text, lv in tmpl:
        rows.append((lang, trap, "blind-template", text, lv))
    for lang, trap, text, lv in HAND:
        rows.append((lang, trap, "blind-hand", text, lv))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "levels_heldout5.jsonl")
    with open(out, "w", encoding="utf-8") as fh:
        for i, (lang, trap, origin, text, lv) in enumerate(rows, 1):
            fh.write(json.dumps({"id": "h5-%03d" % i, "language": lang, "trap": trap, "origin": origin,
                                 "text": text, "levels": sorted(set(lv), key=key)}, ensure_ascii=False) + "\n")
    print("wrote %d rows to %s" % (len(rows), out))


if __name__ == "__main__":
    main()
