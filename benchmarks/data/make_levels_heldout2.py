"""Second, blind held-out set for the spinal-level extractor (``levels_heldout2.jsonl``).

Written without reading the parser, its rules, its tests or the earlier gold / held-out sets.
Sentences are composed from phrase lists written here from radiology / spine-surgery report
language (English and Chinese), plus 30 individually hand-written sentences (origin
``blind-hand``).  Gold ``levels`` are the levels a FINDING is about (lesion, stenosis,
herniation, fracture, tumour, infection, deformity, degeneration), canonical ("L4", "L4-L5",
"L5-S1", "T12-L1"), sorted in spine order.  Never gold: dermatomes / sensory levels,
myotomes / reflexes, compressed nerve roots named beside a disc level, fixation / fusion /
instrumentation levels, counting / landmark levels, negated or normal levels.

    python benchmarks/data/make_levels_heldout2.py      # writes levels_heldout2.jsonl (deterministic)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261206
OUT = Path(__file__).resolve().parent / "levels_heldout2.jsonl"

VERTS = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + [f"S{i}" for i in range(1, 6)]
IDX = {v: i for i, v in enumerate(VERTS)}
ZH_REG = {"C": "颈", "T": "胸", "L": "腰", "S": "骶"}
EN_REG = {"C": "cervical", "T": "thoracic", "L": "lumbar"}
ORD = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"]


def nxt(v: str) -> str:
    return VERTS[IDX[v] + 1]


def prv(v: str) -> str:
    return VERTS[IDX[v] - 1]


def canon(u: str, l: str | None = None) -> str:
    return u if l is None else f"{u}-{l}"


def sort_levels(levels) -> list[str]:
    def key(lv: str):
        parts = lv.split("-")
        return (IDX[parts[0]], len(parts))
    return sorted(set(levels), key=key)


# --- segment pools -----------------------------------------------------------------------
LUMBAR_SEGS = [("L1", "L2"), ("L2", "L3"), ("L3", "L4"), ("L4", "L5"), ("L5", "S1")]
LUMBAR_W = [1, 2, 3, 6, 5]
CERV_SEGS = [("C2", "C3"), ("C3", "C4"), ("C4", "C5"), ("C5", "C6"), ("C6", "C7"), ("C7", "T1")]
CERV_W = [1, 2, 3, 5, 4, 1]
THOR_SEGS = [(f"T{i}", f"T{i+1}") for i in range(1, 12)] + [("T12", "L1")]


def pick_seg(rng, region="any", exclude=()):
    while True:
        r = region if region != "any" else rng.choices(["L", "C", "T"], [6, 3, 1])[0]
        if r == "L":
            s = rng.choices(LUMBAR_SEGS, LUMBAR_W)[0]
        elif r == "C":
            s = rng.choices(CERV_SEGS, CERV_W)[0]
        else:
            s = rng.choice(THOR_SEGS)
        if canon(*s) not in exclude:
            return s


def pick_vert(rng, region="any", exclude=()):
    pools = {"L": ["L1", "L2", "L3", "L4", "L5"], "T": [f"T{i}" for i in range(4, 13)], "C": ["C2", "C3", "C4", "C5", "C6", "C7"]}
    while True:
        r = region if region != "any" else rng.choices(["L", "T", "C"], [4, 5, 1])[0]
        v = rng.choice(pools[r])
        if v not in exclude:
            return v


# --- notations -----------------------------------------------------------------------------
def seg_en(rng, u, l, allow_to=False):
    same = u[0] == l[0]
    opts = [f"{u}-{l}", f"{u}/{l}"]
    if same:
        opts += [f"{u}-{l[1:]}", f"{u}/{l[1:]}", f"{u}\u2013{l[1:]}", f"{u}-{l[1:]}"]
    else:
        opts += [f"{u}\u2013{l}"]
    if allow_to:
        opts.append(f"{u} to {l}")
    return rng.choice(opts)


def range_en(rng, a, b):
    """A fixation / fusion construct from a to b (a segment when adjacent)."""
    if nxt(a) == b:
        return seg_en(rng, a, b)
    opts = [f"{a}-{b}", f"{a} to {b}"] + ([f"{a}-{b[1:]}"] if a[0] == b[0] else [])
    return rng.choice(opts)


def range_zh(rng, a, b):
    if nxt(a) == b:
        return seg_zh(rng, a, b)
    ra, rb = ZH_REG[a[0]], ZH_REG[b[0]]
    opts = [f"{a}-{b}", f"{ra}{a[1:]}至{rb}{b[1:]}", f"{ra}{a[1:]}-{rb}{b[1:]}" if a[0] != b[0] else f"{ra}{a[1:]}-{b[1:]}"]
    return rng.choice(opts)


def vert_en(rng, v, allow_ordinal=True):
    opts = [v, v, f"the {v} vertebral body", f"the {v} vertebra"]
    if allow_ordinal and v[0] in EN_REG:
        opts.append(f"the {ORD[int(v[1:])]} {EN_REG[v[0]]} vertebra")
    return rng.choice(opts)


def seg_zh(rng, u, l):
    ru, rl, nu, nl = ZH_REG[u[0]], ZH_REG[l[0]], u[1:], l[1:]
    if u[0] == l[0]:
        opts = [f"{ru}{nu}/{nl}", f"{ru}{nu}/{nl}", f"{ru}{nu}-{nl}", f"{u}/{nl}", f"{u}-{nl}", f"{u}-{l}", f"{u}\u2013{nl}"]
    else:
        opts = [f"{ru}{nu}/{rl}{nl}", f"{ru}{nu}-{rl}{nl}", f"{u}/{l}", f"{u}-{l}"]
    return rng.choice(opts)


def vert_zh(rng, v):
    r, n = ZH_REG[v[0]], v[1:]
    return rng.choice([f"第{n}{r}椎", f"第{n}{r}椎", f"{r}{n}椎体", f"{v}椎体", f"{v}椎体"])


# --- finding phrases -------------------------------------------------------------------------
EN_SEG_FIND = {
    "L": ["disc herniation", "broad-based disc protrusion", "left paracentral disc extrusion", "diffuse disc bulge",
          "severe central canal stenosis", "moderate bilateral foraminal narrowing", "facet arthropathy with effusion",
          "disc desiccation and loss of disc height", "grade 1 degenerative anterolisthesis", "Modic type 1 endplate change",
          "a posterior annular fissure", "ligamentum flavum hypertrophy with lateral recess stenosis", "retrolisthesis"],
    "C": ["disc osteophyte complex indenting the cord", "disc herniation", "severe left foraminal stenosis",
          "uncovertebral hypertrophy", "spinal canal stenosis with cord signal change", "central disc protrusion"],
    "T": ["a small central disc protrusion", "disc herniation with cord flattening", "discitis", "disc space narrowing with endplate erosion"],
}
EN_VERT_FIND = ["an acute compression fracture", "a burst fracture", "an osteoporotic wedge fracture", "a typical haemangioma",
                "a lytic metastasis", "marrow oedema consistent with an acute fracture", "a sclerotic metastatic deposit",
                "pathological collapse"]

ZH_SEG_FIND = {
    "L": ["椎间盘突出", "椎间盘膨出", "椎间盘向左后方脱出", "椎管重度狭窄", "双侧椎间孔狭窄", "椎间盘变性",
          "黄韧带肥厚伴侧隐窝狭窄", "终板Modic I型改变", "椎间盘突出（中央型）", "退行性滑脱Ⅰ度"],
    "C": ["椎间盘突出", "椎间盘突出伴脊髓受压", "椎管狭窄", "左侧椎间孔狭窄", "椎间盘膨出", "后纵韧带骨化"],
    "T": ["椎间盘突出", "椎间隙感染", "椎间盘突出伴脊髓受压"],
}
ZH_VERT_FIND = ["压缩性骨折", "新鲜压缩骨折", "爆裂骨折", "血管瘤", "转移瘤", "骨质破坏", "陈旧性压缩骨折", "病理性骨折"]


def en_find(rng, u):
    return rng.choice(EN_SEG_FIND[u[0] if u[0] in EN_SEG_FIND else "L"])


def zh_find(rng, u):
    return rng.choice(ZH_SEG_FIND[u[0] if u[0] in ZH_SEG_FIND else "L"])


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


def traversing(u, l):
    return l  # L4-L5 -> L5 root, L5-S1 -> S1 root, C5-C6 -> C6 root (cervical: exiting)


# --- generators per trap ---------------------------------------------------------------------
def en_pos_clause(rng, s, allow_to=True, embed=False):
    u, l = s
    f = en_find(rng, u)
    st = seg_en(rng, u, l, allow_to=allow_to)
    shape = rng.choice([2, 4, 5]) if embed else rng.randrange(6)
    if shape == 0:
        return f"{st}: {f}"
    if shape == 1:
        return f"there is {f} at {st}" if not f.startswith(("a ", "an ")) else f"there is {f} at {st}"
    if shape == 2:
        return f"{f} at the {st} level"
    if shape == 3:
        return f"at {st}, {f}"
    if shape == 4 and u[0] == l[0] and u[0] in EN_REG:
        return f"{f} at the level between the {ORD[int(u[1:])]} and {ORD[int(l[1:])]} {EN_REG[u[0]]} vertebrae"
    return f"{f} at {st}"


def g_plain(rng, lang):
    k = rng.choices([1, 2, 3], [4, 3, 2])[0]
    if rng.random() < 0.3:
        v = pick_vert(rng)
        if lang == "en":
            f = rng.choice(EN_VERT_FIND)
            return rng.choice([f"{cap(f)} of {vert_en(rng, v)}.", f"Impression: {f} of {vert_en(rng, v)}.",
                               f"CT shows {f} involving {vert_en(rng, v)}."]), [v]
        f = rng.choice(ZH_VERT_FIND)
        return rng.choice([f"{vert_zh(rng, v)}{f}。", f"CT示：{vert_zh(rng, v)}{f}，椎体后缘未见突入椎管。", f"诊断：{vert_zh(rng, v)}{f}。"]), [v]
    region = rng.choices(["L", "C", "T"], [6, 3, 1])[0]
    segs = []
    while len(segs) < k:
        s = pick_seg(rng, region, exclude={canon(*x) for x in segs})
        segs.append(s)
    segs.sort(key=lambda s: IDX[s[0]])
    gold = [canon(*s) for s in segs]
    if lang == "en":
        if k == 1:
            c = en_pos_clause(rng, segs[0], embed=True)
            return rng.choice([f"{cap(c)}.", f"Impression: {c}.", f"MRI lumbar spine demonstrates {c}." if region == "L" else f"MRI demonstrates {c}."]), gold
        f = en_find(rng, segs[0][0])
        names = [seg_en(rng, *s) for s in segs]
        lst = names[0] if k == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        items = " ".join(f"{i}. {cap(en_find(rng, s[0]))} at {n}." for i, (s, n) in enumerate(zip(segs, names), 1))
        return rng.choice([f"{cap(f)} at {lst}.", f"Multilevel degenerative change with {f} at {lst}.", f"Impression: {items}"]), gold
    names = [seg_zh(rng, *s) for s in segs]
    f = zh_find(rng, segs[0][0])
    if k == 1:
        return rng.choice([f"{names[0]}{f}。", f"MRI示：{names[0]}{f}，硬膜囊受压。", f"诊断：{names[0]}{f}。", f"{names[0]}椎间盘水平可见{f}。" if not f.startswith("椎间盘") else f"{names[0]}{f}，相应水平硬膜囊受压。"]), gold
    return rng.choice([f"{'、'.join(names)}{f}。", f"MRI示：{'、'.join(names)}{f}，以{names[-1]}为著。",
                       "诊断：" + "；".join(f"{i}.{n}{zh_find(rng, s[0])}" for i, (s, n) in enumerate(zip(segs, names), 1)) + "。"]), gold


def dermatome_exam(rng, r, lang):
    if lang == "en":
        art = "an" if r[0] in "LS" else "a"
        return rng.choice([f"numbness in {art} {r} distribution",
                           f"reduced pinprick sensation in the {r} dermatome", f"paraesthesia following the {r} dermatome",
                           f"dysaesthesia in {art} {r} dermatomal pattern", f"altered light-touch sensation over the {r} dermatome"])
    return rng.choice([f"{r}皮节区感觉减退", f"{r}皮节分布区麻木", f"沿{r}皮节放射痛", f"{r}皮节针刺觉减退"])


def g_dermatome(rng, lang):
    mode = rng.randrange(5)
    if mode == 4:  # sensory level + thoracic lesion
        lvl = rng.randint(6, 12)
        j = rng.randint(3, lvl - 2)
        if rng.random() < 0.5:
            s = (f"T{j}", f"T{j+1}")
            gold = [canon(*s)]
            if lang == "en":
                return rng.choice([f"Sensory level at T{lvl} to pinprick; MRI shows an epidural abscess at {seg_en(rng, *s)} with cord compression.",
                                   f"Examination reveals a sensory level at T{lvl}. MRI: {seg_en(rng, *s)} disc herniation with cord flattening."]), gold
            return rng.choice([f"感觉平面位于T{lvl}水平，MRI示{seg_zh(rng, *s)}硬膜外脓肿，脊髓受压。", f"查体：胸{lvl}感觉平面；{seg_zh(rng, *s)}椎间盘突出伴脊髓受压。"]), gold
        v = f"T{j}"
        if lang == "en":
            return f"Sensory level at T{lvl}; {vert_en(rng, v)} shows pathological collapse from a metastasis with epidural extension.", [v]
        return f"双下肢感觉平面位于T{lvl}，{vert_zh(rng, v)}转移瘤伴病理性骨折，硬膜外受累。", [v]
    if mode == 3:  # saddle
        s = pick_seg(rng, "L")
        if lang == "en":
            return rng.choice([f"Saddle anaesthesia (S2-S5) and urinary retention due to a massive central disc extrusion at {seg_en(rng, *s)}.",
                               f"Cauda equina syndrome with S2\u2013S4 saddle numbness; large sequestered disc at {seg_en(rng, *s)}."]), [canon(*s)]
        return rng.choice([f"鞍区（S2-S5）感觉减退伴尿潴留，{seg_zh(rng, *s)}巨大椎间盘脱出。", f"马尾综合征，S2-S4鞍区麻木，MRI示{seg_zh(rng, *s)}椎间盘向后脱出。"]), [canon(*s)]
    region = rng.choice(["L", "L", "C"])
    s = pick_seg(rng, region)
    r = rng.choice([s[1], s[1], rng.choice(["L4", "L5", "S1"]) if region == "L" else rng.choice(["C5", "C6", "C7", "C8"])])
    if mode == 2:  # dermatome only
        if lang == "en":
            return cap(rng.choice([f"{dermatome_exam(rng, r, 'en')} without motor deficit.", f"Patient reports {dermatome_exam(rng, r, 'en')}; straight leg raise negative."])), []
        return rng.choice([f"主诉{dermatome_exam(rng, r, 'zh')}，肌力正常。", f"查体：{dermatome_exam(rng, r, 'zh')}，直腿抬高试验阴性。"]), []
    if lang == "en":
        c = en_pos_clause(rng, s, allow_to=False, embed=True)
        return rng.choice([f"{cap(dermatome_exam(rng, r, 'en'))}; MRI shows {c}.", f"{cap(c)}, correlating with {dermatome_exam(rng, r, 'en')}.",
                           f"Clinically {dermatome_exam(rng, r, 'en')}. Imaging: {c}."]), [canon(*s)]
    return rng.choice([f"{dermatome_exam(rng, r, 'zh')}，MRI示{seg_zh(rng, *s)}{zh_find(rng, s[0])}。",
                       f"{seg_zh(rng, *s)}{zh_find(rng, s[0])}，与{dermatome_exam(rng, r, 'zh')}相符。"]), [canon(*s)]


EN_MYO = {"L": ["ankle jerk (S1) absent", "EHL (L5) power 4/5", "knee jerk (L4) reduced", "L5 power 4/5", "hip flexion (L2) 4/5",
                "S1 plantarflexion 4+/5", "ankle dorsiflexion (L4) 4/5", "knee reflex (L3-L4) diminished"],
          "C": ["C5 power 4/5", "biceps reflex (C5) diminished", "triceps (C7) 4/5", "brachioradialis reflex (C6) absent",
                "finger flexors (C8) 4/5", "wrist extension (C6) 4-/5", "triceps jerk (C7) reduced"]}
ZH_MYO = {"L": ["拇背伸肌力（L5）4级", "踝反射（S1）减弱", "膝反射（L4）消失", "L5肌力4级", "S1跖屈肌力4级", "髂腰肌（L2）肌力4级"],
          "C": ["C5肌力4级", "肱二头肌反射（C5）减弱", "肱三头肌（C7）肌力4级", "C6腕背伸肌力4级", "桡骨膜反射（C6）消失"]}


def g_myotome(rng, lang):
    region = rng.choice(["L", "L", "C"])
    exams = rng.sample((EN_MYO if lang == "en" else ZH_MYO)[region], 2)
    if rng.random() < 0.15:
        if lang == "en":
            return f"On examination {exams[0]} and {exams[1]}; no sensory deficit.", []
        return f"查体：{exams[0]}，{exams[1]}，感觉未见异常。", []
    s = pick_seg(rng, region)
    if lang == "en":
        c = en_pos_clause(rng, s, allow_to=False, embed=True)
        return rng.choice([f"{cap(exams[0])} and {exams[1]}; MRI shows {c}.", f"On examination {exams[0]}, {exams[1]}. Imaging: {c}.",
                           f"{cap(c)}; clinically {exams[0]}."]), [canon(*s)]
    return rng.choice([f"查体：{exams[0]}，{exams[1]}；MRI示{seg_zh(rng, *s)}{zh_find(rng, s[0])}。",
                       f"{seg_zh(rng, *s)}{zh_find(rng, s[0])}，查体{exams[0]}。"]), [canon(*s)]


def g_root(rng, lang):
    region = rng.choice(["L", "L", "L", "C"])
    s = pick_seg(rng, region)
    u, l = s
    if region == "L":
        kind = rng.choice(["trav", "trav", "exit"])
        r = l if kind == "trav" else u
    else:
        kind, r = "exit", l
    side = rng.choice(["left", "right"])
    if lang == "en":
        st = seg_en(rng, u, l)
        if kind == "trav":
            t = rng.choice([f"{cap(side)} paracentral disc extrusion at {st} compressing the traversing {r} root.",
                            f"At {st} there is a disc protrusion contacting the {side} {r} nerve root in the lateral recess.",
                            f"{st}: subarticular herniation with mass effect on the descending {side} {r} root."])
        else:
            t = rng.choice([f"{cap(side)} foraminal disc protrusion at {st} impinging the exiting {r} nerve root.",
                            f"Severe {side} foraminal stenosis at {st} with compression of the exiting {r} root.",
                            f"{st}: uncovertebral spurring narrows the {side} foramen and abuts the {r} root." if region == "C" else f"{st}: far-lateral herniation displacing the {side} exiting {r} root."])
        return t, [canon(u, l)]
    sz = seg_zh(rng, u, l)
    side_zh = "左侧" if side == "left" else "右侧"
    if kind == "trav":
        t = rng.choice([f"{sz}椎间盘向{side_zh[0]}后方突出，压迫{side_zh}{r}神经根。", f"{sz}椎间盘脱出，{side_zh}{r}神经根受压。",
                        f"MRI示：{sz}椎间盘突出，{side_zh}侧隐窝狭窄，{r}神经根受压移位。"])
    else:
        t = rng.choice([f"{sz}{side_zh}椎间孔狭窄，{r}神经根受压。", f"{sz}椎间孔型椎间盘突出，压迫{side_zh}出口{r}神经根。"])
    return t, [canon(u, l)]


def g_construct(rng, lang):
    mode = rng.randrange(6)
    if mode == 0:  # fusion + adjacent segment finding
        top = rng.choice(["L3", "L4", "L4", "L5"])
        bot = rng.choice([v for v in ["L4", "L5", "S1"] if IDX[v] > IDX[top]])
        adj = (prv(top), top)
        if lang == "en":
            cons = range_en(rng, top, bot)
            return rng.choice([f"Status post {cons} posterior fusion; new {en_find(rng, 'L')} at the adjacent {seg_en(rng, *adj)} level.",
                               f"Fused {cons} with solid bony bridging. Adjacent segment degeneration with {en_find(rng, 'L')} at {seg_en(rng, *adj)}."]), [canon(*adj)]
        cons = range_zh(rng, top, bot)
        return rng.choice([f"{cons}融合术后，邻近节段{seg_zh(rng, *adj)}{zh_find(rng, 'L')}。",
                           f"{cons}椎弓根螺钉内固定术后改变，{seg_zh(rng, *adj)}{zh_find(rng, 'L')}。"]), [canon(*adj)]
    if mode == 1:  # screws range + fracture above
        a = rng.choice(["T10", "T11", "T9", "T8"])
        b = rng.choice(["L1", "L2", "L3"])
        v = prv(a)
        if lang == "en":
            return rng.choice([f"Pedicle screws from {a} to {b} are intact; acute compression fracture of {vert_en(rng, v)} just above the construct.",
                               f"{a}-{b} posterior instrumentation in satisfactory position. New proximal junctional fracture of {vert_en(rng, v)}."]), [v]
        return rng.choice([f"{a}-{b}椎弓根螺钉内固定术后，{vert_zh(rng, v)}新鲜压缩性骨折。", f"{a}至{b}内固定在位，近端交界区{vert_zh(rng, v)}骨折。"]), [v]
    if mode == 2:  # construct only
        if lang == "en":
            return rng.choice(["C4-T2 posterior instrumentation without hardware complication.", "Interbody cage at L4-5 is well seated with no subsidence.",
                               "Fused L3-S1; hardware intact, no lucency around the screws.", "Pedicle screws from T10 to L2, rods intact.",
                               "Prior C5-6 ACDF with solid arthrodesis."]), []
        return rng.choice(["C4-T2后路内固定术后，内固定位置良好。", "腰4/5椎间融合器位置良好，未见下沉。", "L3-S1融合术后改变，螺钉周围未见透亮带。",
                           "T10-L2椎弓根螺钉内固定术后，未见松动断裂。", "颈5/6前路融合术后，骨性融合良好。"]), []
    if mode == 3:  # ACDF + adjacent above and below
        c = rng.choice([("C5", "C6"), ("C4", "C5"), ("C6", "C7")])
        above, below = (prv(c[0]), c[0]), (c[1], nxt(c[1]))
        gold = [canon(*above), canon(*below)] if rng.random() < 0.5 else [canon(*above)]
        if lang == "en":
            extra = f" and {seg_en(rng, *below)}" if len(gold) == 2 else ""
            return f"Prior {seg_en(rng, *c)} ACDF; adjacent segment disease with canal stenosis at {seg_en(rng, *above)}{extra}.", gold
        extra = f"、{seg_zh(rng, *below)}" if len(gold) == 2 else ""
        return f"{seg_zh(rng, *c)}前路减压融合术后，相邻节段{seg_zh(rng, *above)}{extra}椎间盘突出伴椎管狭窄。", gold
    if mode == 4:  # fixation + finding elsewhere not adjacent
        s = pick_seg(rng, "C")
        if lang == "en":
            return f"Lumbar fusion L4-S1 in situ. Cervical MRI: {en_pos_clause(rng, s, allow_to=False, embed=True)}.", [canon(*s)]
        return f"既往L4-S1内固定融合术后；颈椎MRI示{seg_zh(rng, *s)}{zh_find(rng, 'C')}。", [canon(*s)]
    # kyphoplasty/vertebroplasty cement at one level, new fracture at another
    v2 = pick_vert(rng, "L", exclude={"L1"})
    if lang == "en":
        return f"Pedicle screw fixation T11-L1 with cement augmentation; new osteoporotic fracture of {vert_en(rng, v2)}.", [v2]
    return f"胸11-腰1椎弓根螺钉骨水泥强化内固定术后，{vert_zh(rng, v2)}新发骨质疏松性压缩骨折。", [v2]


def g_count(rng, lang):
    mode = rng.randrange(7)
    s = pick_seg(rng, "L", exclude={"L5-S1"}) if mode != 3 else pick_seg(rng, "C")
    if lang == "en":
        c = en_pos_clause(rng, s, allow_to=False)
        t = [f"Six lumbar-type vertebrae are present; {c}.",
             f"Lumbarised S1 with a rudimentary S1-S2 disc. {cap(c)}.",
             f"Sacralised L5 (transitional vertebra); {c}.",
             f"Levels are counted from C2 on the sagittal localiser; {c}.",
             f"The conus terminates at L1. {cap(c)}.",
             "The conus medullaris ends at the L1-L2 level, normal in position.",
             "Numbering assumes 12 rib-bearing vertebrae, the last rib at T12, and iliolumbar ligaments arising from L5."][mode]
    else:
        sz, f = seg_zh(rng, *s), zh_find(rng, s[0])
        t = [f"腰骶移行椎（L5骶化），{sz}{f}。",
             f"S1腰化，{sz}{f}。",
             f"可见6个腰椎样椎体（移行椎），{sz}{f}。",
             f"自C2向下计数，{sz}{f}。",
             f"脊髓圆锥末端位于L1水平，{sz}{f}。",
             "脊髓圆锥终止于腰1/2水平，位置正常。",
             "腰骶移行椎，第12胸椎为最后一个带肋椎体。"][mode]
    return t, ([] if mode >= 5 else [canon(*s)])


def g_negated(rng, lang):
    mode = rng.randrange(6)
    region = rng.choice(["L", "L", "C"])
    a = pick_seg(rng, region)
    b = pick_seg(rng, region, exclude={canon(*a)})
    if lang == "en":
        sa, sb = seg_en(rng, *a), seg_en(rng, *b)
        if mode == 0:
            return f"No disc herniation at {sa}. {cap(en_pos_clause(rng, b, allow_to=False))}.", [canon(*b)]
        if mode == 1:
            c = pick_seg(rng, region, exclude={canon(*a), canon(*b)})
            return f"{sa} and {sb} are unremarkable; {en_pos_clause(rng, c, allow_to=False)}.", [canon(*c)]
        if mode == 2:
            return rng.choice([f"No significant canal or foraminal stenosis at {sa}.", f"{sa}: normal disc height and signal, no stenosis."]), []
        if mode == 3:
            v = pick_vert(rng, "T")
            return rng.choice([f"No fracture of {vert_en(rng, v)}.", f"{cap(vert_en(rng, v, allow_ordinal=False))} is normal in height and signal; no fracture."]), []
        if mode == 4:
            return f"{cap(en_find(rng, b[0]))} at {sb}, without stenosis at {sa}.", [canon(*b)]
        return f"{sa}: normal. {sb}: {en_find(rng, b[0])}.", [canon(*b)]
    sa, sb = seg_zh(rng, *a), seg_zh(rng, *b)
    if mode == 0:
        return f"{sa}椎间盘未见突出，{sb}{zh_find(rng, b[0])}。", [canon(*b)]
    if mode == 1:
        c = pick_seg(rng, region, exclude={canon(*a), canon(*b)})
        return f"{sa}、{sb}未见异常，{seg_zh(rng, *c)}{zh_find(rng, c[0])}。", [canon(*c)]
    if mode == 2:
        return rng.choice([f"{sa}无狭窄。", f"{sa}椎间盘未见明显突出，椎管无狭窄。"]), []
    if mode == 3:
        v = pick_vert(rng, "T")
        return rng.choice([f"{vert_zh(rng, v)}未见骨折。", f"{vert_zh(rng, v)}形态及信号未见异常。"]), []
    if mode == 4:
        return f"{sb}{zh_find(rng, b[0])}，{sa}未见明显狭窄。", [canon(*b)]
    return f"{sb}{zh_find(rng, b[0])}；余椎间盘未见异常，{sa}无突出。", [canon(*b)]


def g_mixed(rng, lang):
    mode = rng.randrange(5)
    if mode == 0:  # dermatome + root + negated + positive
        a = pick_seg(rng, "L", exclude={"L4-L5"})
        b = ("L4", "L5")
        if lang == "en":
            return (f"Numbness in an L5 distribution and EHL weakness; MRI shows an {seg_en(rng, *b)} paracentral extrusion compressing the traversing L5 root, "
                    f"with no herniation at {seg_en(rng, *a)}."), ["L4-L5"]
        return f"左足背L5皮节感觉减退，MRI示{seg_zh(rng, *b)}椎间盘脱出压迫L5神经根，{seg_zh(rng, *a)}未见突出。", ["L4-L5"]
    if mode == 1:  # construct + negated + positive
        a = ("L3", "L4")
        b = ("L2", "L3")
        if lang == "en":
            return f"Fused L4-S1 with intact screws; {seg_en(rng, *b)} is unremarkable, but {seg_en(rng, *a)} shows {en_find(rng, 'L')}.", ["L3-L4"]
        return f"L4-S1融合术后，{seg_zh(rng, *b)}未见异常，{seg_zh(rng, *a)}{zh_find(rng, 'L')}。", ["L3-L4"]
    if mode == 2:  # count + myotome + positive (two levels)
        s1 = pick_seg(rng, "L", exclude={"L5-S1", "L1-L2"})
        s2 = (s1[1], nxt(s1[1]))
        gold = [canon(*s1), canon(*s2)]
        if lang == "en":
            return f"Transitional lumbosacral vertebra; ankle jerk (S1) reduced; {en_find(rng, 'L')} at {seg_en(rng, *s1)} and {seg_en(rng, *s2)}.", gold
        return f"腰骶移行椎；踝反射（S1）减弱；{seg_zh(rng, *s1)}、{seg_zh(rng, *s2)}{zh_find(rng, 'L')}。", gold
    if mode == 3:  # cervical: myotome + dermatome + positive + negated
        s = pick_seg(rng, "C", exclude={"C7-T1", "C2-C3"})
        n = pick_seg(rng, "C", exclude={canon(*s)})
        if lang == "en":
            return (f"C6 dermatomal numbness and biceps reflex (C5) reduced. {seg_en(rng, *s)}: {en_find(rng, 'C')}. "
                    f"{seg_en(rng, *n)}: no significant stenosis."), [canon(*s)]
        return f"C6皮节区麻木，肱二头肌反射（C5）减弱；{seg_zh(rng, *s)}{zh_find(rng, 'C')}，{seg_zh(rng, *n)}无狭窄。", [canon(*s)]
    # sensory level + construct + vertebral fracture + negated vertebra
    v = pick_vert(rng, "T", exclude={"T12", "T11", "T10"})
    w = pick_vert(rng, "L", exclude={"L1"})
    if lang == "en":
        return f"Sensory level at T10; pedicle screws T11-L1; {rng.choice(EN_VERT_FIND[:3] + EN_VERT_FIND[4:])} of {vert_en(rng, v)}; no fracture of {vert_en(rng, w)}.", [v]
    return f"感觉平面T10；T11-L1椎弓根螺钉内固定术后；{vert_zh(rng, v)}{rng.choice(ZH_VERT_FIND[:3] + ZH_VERT_FIND[4:])}；{vert_zh(rng, w)}未见骨折。", [v]


GENERATORS = {"plain": (g_plain, 30), "dermatome": (g_dermatome, 22), "myotome": (g_myotome, 18), "root": (g_root, 20),
              "construct": (g_construct, 24), "count": (g_count, 18), "negated": (g_negated, 22), "mixed": (g_mixed, 20)}


# --- 30 hand-written sentences (not from the templates) -------------------------------------
HAND = [
    ("en", "mixed", "L4-5: large left subarticular extrusion migrating caudally, compressing the traversing left L5 root; L3-4 and L5-S1 are preserved.", ["L4-L5"]),
    ("en", "plain", "Impression: acute T12 burst fracture with 4 mm retropulsion, and chronic mild wedging of L2.", ["T12", "L2"]),
    ("en", "dermatome", "She describes burning pain along the lateral calf and dorsum of the foot (L5 dermatome); the MRI is normal apart from a small L3/4 annular fissure.", ["L3-L4"]),
    ("en", "construct", "Post-operative CT after L2-L5 laminectomy and posterolateral fusion: hardware intact; new adjacent-level disc extrusion at L1-2.", ["L1-L2"]),
    ("en", "count", "For counting purposes, the lowest well-formed disc is designated L5-S1 and the last rib-bearing vertebra T12; on this basis there is a pars defect at L5 with grade 2 spondylolisthesis at L5/S1.", ["L5", "L5-S1"]),
    ("en", "myotome", "Hip flexion (L2) and knee extension (L3) are 4/5 on the right; MRI shows a far-lateral L3-4 disc herniation.", ["L3-L4"]),
    ("en", "negated", "The thoracic spine is normal in alignment; no fracture or marrow lesion is seen from T1 through T12.", []),
    ("en", "mixed", "C5 deltoid weakness, reduced C6 sensation and absent biceps jerk; MRI: C4/5 disc osteophyte complex with cord signal change, C5/6 normal.", ["C4-C5"]),
    ("en", "plain", "Pyogenic spondylodiscitis at T9-T10 with a small paravertebral collection and epidural phlegmon.", ["T9-T10"]),
    ("en", "root", "Right foraminal protrusion at C6-7 compresses the exiting right C7 root; triceps power is reduced.", ["C6-C7"]),
    ("en", "negated", "No recurrent disc herniation at the operated L4-5 level.", []),
    ("en", "plain", "Multiple myeloma with lytic lesions in the T6, T9 and L3 vertebral bodies; no cord compression.", ["T6", "T9", "L3"]),
    ("en", "count", "Twelve rib-bearing and five lumbar-type vertebrae are assumed; the conus tip lies at L1-2. Severe L3-4 canal stenosis from facet and ligamentum flavum hypertrophy.", ["L3-L4"]),
    ("en", "construct", "Plan: L4-L5 TLIF for the symptomatic grade 2 isthmic spondylolisthesis at L4-L5.", ["L4-L5"]),
    ("en", "mixed", "Saddle anaesthesia; previous L5-S1 microdiscectomy; now a massive recurrent extrusion at L5-S1 and a new sequestered fragment at L4-L5.", ["L4-L5", "L5-S1"]),
    ("en", "dermatome", "Band-like T6 dermatomal pain from shingles; thoracic MRI unremarkable.", []),
    ("zh", "plain", "腰椎MRI：腰3/4、腰4/5椎间盘向后突出，以腰4/5为著，相应水平硬膜囊及双侧神经根受压。", ["L3-L4", "L4-L5"]),
    ("zh", "mixed", "患者右足外侧S1皮节麻木，跟腱反射消失；L5/S1椎间盘向右后方脱出，压迫右侧S1神经根，L4/5椎间盘轻度膨出。", ["L4-L5", "L5-S1"]),
    ("zh", "construct", "腰4-骶1椎弓根螺钉内固定术后2年，L3/4节段退变加重，椎管狭窄，考虑邻椎病。", ["L3-L4"]),
    ("zh", "plain", "第1腰椎椎体楔形变，前缘高度丢失约40%，T1WI呈低信号，考虑新鲜骨质疏松性压缩骨折。", ["L1"]),
    ("zh", "count", "本例存在腰骶移行椎，按自颈2向下计数，第5腰椎双侧峡部裂伴腰5/骶1Ⅰ度滑脱。", ["L5", "L5-S1"]),
    ("zh", "negated", "颈椎生理曲度变直，各椎间盘未见明显突出，椎管未见狭窄，脊髓信号未见异常。", []),
    ("zh", "mixed", "查体：C7肌力4级，肱三头肌反射减弱，中指麻木；MRI示颈6/7椎间盘向左后方突出，颈5/6椎间盘未见突出。", ["C6-C7"]),
    ("zh", "plain", "胸11/12椎间隙变窄，相邻终板骨质破坏，周围软组织肿胀，考虑结核性脊柱炎。", ["T11-T12"]),
    ("zh", "dermatome", "脐平面以下针刺觉减退（感觉平面T10），胸髓MRI未见明显异常。", []),
    ("zh", "construct", "颈4-7后路单开门椎管扩大成形术后，钛板位置良好，颈3/4未见狭窄。", []),
    ("zh", "myotome", "左侧胫前肌（L4）及拇长伸肌（L5）肌力3级，MRI示腰4/5椎间盘巨大脱出，硬膜囊明显受压。", ["L4-L5"]),
    ("zh", "root", "颈5/6右侧椎间孔狭窄，右侧C6神经根受压，颈4/5、颈6/7椎间盘轻度膨出。", ["C4-C5", "C5-C6", "C6-C7"]),
    ("zh", "plain", "胸腰段后凸畸形，T12、L1椎体陈旧性压缩骨折，后凸Cobb角约28°。", ["T12", "L1"]),
    ("zh", "negated", "腰1/2、腰2/3椎间盘信号及形态未见异常，腰4/5椎间盘突出（左后型）。", ["L4-L5"]),
]


def main() -> None:
    rng = random.Random(SEED)
    rows, seen = [], set()
    for trap, (gen, n) in GENERATORS.items():
        made = 0
        tries = 0
        while made < n:
            tries += 1
            assert tries < 5000, trap
            lang = "en" if rng.random() < 0.55 else "zh"
            text, gold = gen(rng, lang)
            if text in seen:
                continue
            seen.add(text)
            rows.append({"language": lang, "trap": trap, "origin": "blind-template", "text": text, "levels": sort_levels(gold)})
            made += 1
    for lang, trap, text, gold in HAND:
        assert text not in seen
        seen.add(text)
        rows.append({"language": lang, "trap": trap, "origin": "blind-hand", "text": text, "levels": sort_levels(gold)})
    with OUT.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows, 1):
            fh.write(json.dumps({"id": f"h2-{i:03d}", **row}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
