"""Vertebral-level parsing and normalisation (English + Chinese).

SpineBench scores level mentions ("level-aware" scoring) and the corpus pipeline tags every
item with the levels it is about, so both need one canonical spelling:

* a vertebra is ``C1``..``C7``, ``T1``..``T12``, ``L1``..``L5`` (``L6`` for a lumbarised /
  transitional sixth lumbar vertebra), ``S1``..``S5``;
* a segment (disc space, motion segment) is ``upper-lower`` with both letters: ``L4-L5``,
  ``L5-S1``, ``C7-T1``, ``T12-L1``.

Notation rules (``parse_levels`` / ``canonical_level``):

* ``L4/5``, ``L4-5``, ``L4–5``, ``L4~5``, ``L4-L5``, ``L4/L5``, ``L5S1``, ``C 5 - C 6``,
  ``腰4/5``, ``腰5骶1``, ``颈椎5-6`` name one segment.
* A dash/tilde/"to"/"至" between non-adjacent vertebrae is a range and names every segment in
  it: ``L3-5`` -> ``L3-L4, L4-L5``; ``L2-L4 fusion`` -> ``L2-L3, L3-L4``; ``T11-L2`` ->
  ``T11-T12, T12-L1, L1-L2``; ``L1/2-3/4`` -> ``L1-L2, L2-L3, L3-L4``.
* Curve measurements are the exception: a range after a curve cue (Cobb, curve, kyphosis,
  lordosis, scoliosis, end vertebra, 侧弯, 主弯/胸弯/腰弯, 后凸, 前凸, 端椎; only measurement filler
  such as "angle", "of 45°", "from", 角, 为 may come between) or right before one ("T5-T12
  curve") names its two end vertebrae, not every segment it spans: ``Cobb angle T5-T12`` ->
  ``T5, T12``; ``主弯Cobb角（T5-T12）`` -> ``T5, T12``.  A pair of adjacent vertebrae stays a
  segment (``Cobb angle L1-L2`` is a segmental angle, ``L1-L2``), and a surgical word right
  after the range wins (``curve: T4-L1 fusion`` names the fused segments).
* ``、`` (and ``,`` with no space) lists vertebrae: ``L2、3椎体`` -> ``L2, L3``; but a list of
  adjacent vertebrae followed by a disc word (椎间盘, 间盘, 椎间隙, 椎间孔, disc, foramen) names
  the discs between them: ``腰4、5椎间盘`` / ``第4、5腰椎间盘`` -> ``L4-L5``, ``L3、4、5椎间盘``
  -> ``L3-L4, L4-L5``.
* ``胸12椎体``, ``第4腰椎``, ``第十二胸椎``, ``第4、5腰椎`` name vertebrae; ``第4、5腰椎间`` the disc.
* Spelled-out ordinals before a region word and an anatomical noun: "the ninth thoracic
  vertebra" -> ``T9``, "between the fourth and fifth lumbar vertebrae" -> ``L4-L5``, "the fifth
  lumbar/first sacral disc" -> ``L5-S1``; "her first lumbar MRI" names nothing.
* Bare numbers inherit the region of the previous number.  A number outside its region
  (``L7``, ``C9``, ``T13``, ``C0``) is no vertebra and voids the segment or range it is part
  of (``L4-7`` names nothing).
* A region letter must stand alone: ``CT``, ``C-reactive``, ``HLA-B27``, ``T2WI``, ``T1W``,
  ``S1Q3T3``, ``FT4``, ``pT2``, ``T2DM`` never yield a level.  A letter separated from its
  number by a space (``C 5``) only counts inside an expression whose other end carries its
  own letter (``C 5 - C 6``), so "grade C 5 ..." is not C5.

Context rule for T1/T2 (they are also MRI sequences): an expression made only of T1/T2
(``T1``, ``T2``, ``T1/T2``) is a level by default, unless

1. the text right after it names MRI things (weighted, WI, hyper-/hypo-/iso-intense, signal,
   sequence, image, FLAIR, STIR, fat-sat, mapping, contrast, ``*``, 加权, 信号, 压脂, 像 ...), or
2. the text right before it does (on, sagittal, axial, coronal, weighted, enhanced, MRI,
   矢状位, 轴位, 压脂 ...),

where a sibling in a pair ("T1 and T2", "T1、T2") is skipped before looking.  Anatomical
words right after it (vertebra/vertebral/body/level/segment/pedicle/nerve/root/fracture,
椎, 节段, 神经根 ...) win over both, so "T2 vertebral body", "T2椎体" and "T2-T3" are levels,
while "T2 hyperintensity", "on T1 and T2" and "T1加权" are not.  Similar narrow rules drop
complement/esterase terms (``C3 complement``), thyroid hormones (``free T4``), tumour
staging (``T2 N0``), heart sounds (``S1 and S2 heart sounds``) and supplementary
figure/table labels (``Figure S1``).  Nerve-root and palsy mentions are levels
("S1 nerve root" -> S1, "C5 palsy" -> C5).

Finding rules (``parse_levels``; ``level_mentions`` is the notation layer above and names
every level whatever it is mentioned for).  A text names levels for many reasons; the labels a
row carries and the level-aware score want the levels a *finding* is about, so a level is
dropped when, next to it with only filler words between (in, at, of, the, from, to, posterior,
行, 于, 后路 ...), stands a cue that it is named for something else:

* a dermatome or sensory sign: "saddle anaesthesia S2-S5", "numbness in the L5 dermatome",
  "C6 distribution", "in an L1 pattern", "S1 territory", "a T4 band", "in the distribution of
  the L5 root", "sensory level at T10", hypalgesia, pinprick, 鞍区（S2-S5）感觉减退, L5皮节,
  S1支配区, L5分布区, T10节段性感觉减退, 针刺觉减退（L5）, T10平面以下.  A sensory sign reaches
  its level through place words only (in, over, at, the ...; "from" only right before the
  level): "numbness from an L4-L5 herniation" keeps L4-L5;
* a myotome, reflex or innervation: "ankle jerk (S1)", "C5 myotome", "innervated by the C7
  root", "L5 power 4/5", "MRC grade 4 at L4", "absent S1 reflex", "motor level C6",
  跟腱反射（S1）, C5肌节, L5肌力4级, S1反射消失, 运动平面位于C6, 由C7神经支配; a muscle or movement
  with its level: "EHL (L5) power 4/5", "triceps 4/5 (C7)", "S1 plantarflexion", "C5 deltoid
  weakness", 胫前肌（L4）, C6腕背伸肌力4级, 屈髋（L2）;
* surgical history: an operation after "after / status post / s/p / prior" ("after L4-L5
  laminectomy"), a decompression done with a fusion ("L2-L5 laminectomy and fusion"), a Chinese
  operation chain ending in 术后 (C4-5前路减压融合术后; not 术后复发);
* a fixation or fusion construct (the cue does not reach past "and"/"or": "prior L4-L5 fusion
  and L3-L4 stenosis" keeps L3-L4): "fixation from C4 to T2", "posterior fusion L3-S1",
  "pedicle screws at T11, T12, L2 and L3", "L4-L5 TLIF", "rods from T10 to L2", "cage at
  L4-L5", "hardware spanning L3-L5", "L4-L5 was previously fused", "C5-C6 arthroplasty",
  "postoperative changes at L4-L5", 内固定 T10-L2, L3-S1融合术后, 置入椎弓根螺钉, 钉棒, 椎间融合器,
  钛板, 人工椎间盘置换, L4/5术后改变 (decompression, discectomy and osteotomy are done at the
  diseased level and stay);
* a count, numbering or landmark: "transitional L6 vertebra", "T8 is a transitional vertebra",
  "sacralised L5", "hemisacralisation of L5", "lumbarisation of S1", "counting from C2",
  "the conus terminates at L1-L2", "conus tip at T12-L1", "the iliac crests project at L4-L5",
  "the last rib at T12", "iliolumbar ligaments arising from L5", "a rudimentary S1-S2 disc",
  "last rib-bearing vertebra T12", L5移行椎, 胸8为移行椎, 腰5椎体骶化, 骶1腰化, 圆锥位于L1/2,
  髂嵴连线平L4/5, 硬膜囊末端位于S2, 自C2向下计数;
* a negation or normal verdict in the same clause: "no stenosis at L3-L4", "L1-L2 and L2-L3 are
  normal", "L5-S1 shows no compression", "disc height is preserved at L2-L3", 未见L3/4椎间盘突出,
  L1/2、L2/3椎间盘未见异常, C3/4水平椎管无狭窄; also patent, capacious, sparing, well
  maintained, within normal limits, "L3-L4: no ...", 通畅, 尚可, 骨皮质连续, 不伴.  A clause ends
  at sentence punctuation and contrast words (but, whereas, 但, 而); a negation's reach also
  ends at a comma that does not
  stand between two levels (a full-width ， always) and at words that start a positive
  statement (shows, with, due to, 示, 伴).  "L5-S1 without compression" negates L5-S1 unless
  the lack is placed at another level ("... with no stenosis at L2-3").  "No change in the
  L4-L5 herniation" is not a negation.

Levels joined by list words ("L2-L3, L3-L4 and L4-L5 are normal", "T11、T12、L2、L3") share
the cue before the first or after the last of them; a full-width comma ends a Chinese clause,
not a list.  A nerve root ("the L5 root", "the traversing L5", "S1 radiculopathy", "L5
sciatica", L5神经根, L5走行根, L4出口根, L5根性痛) is the level of the finding only when its
sentence names no other kept level: "L4-L5 herniation compressing the L5 root" is about L4-L5,
"right S1 radiculopathy" about S1; since round 3 a root beside a kept lesion level anywhere in the
text drops ("Left C6 radicular pain; ... hypertrophy at C5/C6" is about C5-C6).

Round 3 (docs/levels.md): stabilisation and ranges to the pelvis / ilium / sacrum / occiput are
constructs ("T10-pelvis fixation", T10至骨盆内固定), so are 术后（L4-S1）, "post-operative status
(L4-S1)" and an operative note's exposure (暴露L3-S1椎板); removal / revision reach the construct
word (内固定取出术后); a hardware complication at a level is a finding ("L5 screw loosening",
"loosening of the S1 screws", L5椎弓根螺钉松动); a cervical rib (C7颈肋) and conus lines
("Conus: L1", 圆锥末端约平L1) are landmarks; "C1 ring intact", "C7/T1 not visualised", C7/T1未显示
are verdicts; "facet hypertrophy at L4-5 without stenosis" keeps L4-L5 ("without X" after a level
placed by at / in / of negates X only).

Round 4: a reflex or muscle with its verdict before a bracketed level is a myotome (跟腱反射消失（S1）,
"triceps brisk (C7)"); revision history ("with extension to L3", 延长固定至L3-S1, 取出原L4-L5内固定,
"underwent L2-L4 debridement and fixation", "previously C5-C7 ACDF", 既往行C5-C7前路减压融合术,
"revision of loose L4-L5 instrumentation"); fusion status ("fusion mass solid from L2 to L5"); an
intra-operative hardware event that was corrected ("the T12 screw breached medially and was
redirected") is no imaging finding, while a complication on imaging ("L5 screw loosening") stays;
"T8 and T9 maintain normal height" is a verdict; "spinal cord ends at L1-2", "the lowest mobile
disc is called L5/S1" and 颈肋，起自第7颈椎 are numbering.

Round 5: "T2 cord signal change" / "T2 cord hyperintensity" is the MRI sequence (a real "T2 vertebral
body fracture", "T1-T2 disc", 胸2椎体 stay); planned surgery ("planned T4-L1 fusion", "plan: L4-5
TLIF", 拟行T4-L1后路矫形融合, 计划行) and operative-note procedure lists ("Ponte osteotomies
T12-L1", "ACDF C5-6 (2015)", "Kyphoplasty T12 and L1 in 2021", "the upper instrumented vertebra
being T10", "C6/7 is well decompressed", 于颈4/5、颈5/6行ACDF, 腰3-5后外侧植骨融合) name no finding,
while a complication at a level stays (L4/5融合器下沉); "sensory level around T4" (感觉平面约在T4),
"T8 biopsy from 2022 negative", "L2 transverse process intact", L1/2至L5/S1各椎间盘未见突出 and
颈肋（起自C7） are no findings either.  ``benchmarks/bench_levels.py``
measures the rules on a labelled set (``benchmarks/data/levels_gold.jsonl``) and a held-out one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

__all__ = ["LEVELS", "VERTEBRAE", "canonical_level", "level_mentions", "level_prf", "level_sort_key", "parse_levels"]

_REGION_MAX = {"C": 7, "T": 12, "L": 6, "S": 5}
# Anatomical order; L6 is a transitional vertebra that only exists when named explicitly.
VERTEBRAE: tuple[str, ...] = tuple(f"{r}{n}" for r in "CTLS" for n in range(1, _REGION_MAX[r] + 1))
_INDEX = {v: i for i, v in enumerate(VERTEBRAE)}
# The usual column (no L6): ranges are expanded along it unless an endpoint is L6.
_STANDARD = tuple(v for v in VERTEBRAE if v != "L6")
_STANDARD_INDEX = {v: i for i, v in enumerate(_STANDARD)}


def _successors(v: str) -> tuple[str, ...]:
    if v == "L5":
        return ("L6", "S1")
    i = _INDEX[v]
    return (VERTEBRAE[i + 1],) if i + 1 < len(VERTEBRAE) else ()


_SUCCESSORS = {v: _successors(v) for v in VERTEBRAE}
_SEGMENTS = tuple(f"{a}-{b}" for a in VERTEBRAE for b in _SUCCESSORS[a])
LEVELS: frozenset[str] = frozenset(VERTEBRAE) | frozenset(_SEGMENTS)

# --- text normalisation ------------------------------------------------------------------
_TRANSLATE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
_TRANSLATE.update({0x3000: " ", 0x00A0: " ", 0x301C: "~"})
_TRANSLATE.update({cp: "-" for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63)})
_TRANSLATE.update({0xFF0C: ",", 0x3001: "、"})


def _normalise(text: str) -> str:
    return text.translate(_TRANSLATE)


_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _to_int(num: str) -> int:
    if num.isdigit():
        return int(num)
    if num.startswith("十"):
        return 10 + (_ZH_DIGITS[num[1]] if len(num) > 1 else 0)
    return _ZH_DIGITS[num]


_ZH_REGION = {"颈": "C", "胸": "T", "腰": "L", "骶": "S"}

# --- expression grammar --------------------------------------------------------------------
_NUM = r"(?:\d{1,2}(?!\d)|十[一二]?|[一二三四五六七八九])"
_REG_EN = r"(?:Th|[CTLS])"
_REG_ZH = r"(?:[颈胸腰骶]椎?)"
_HEAD = rf"(?<![A-Za-z0-9])(?:{_REG_EN} ?|{_REG_ZH}){_NUM}"
_CONT = (
    rf"(?: *(?:[-~/、]|至|到) *(?:{_REG_EN} ?|{_REG_ZH})?{_NUM}"  # L4-5, L4/L5, L2、3, 腰3至5
    rf"|,{_NUM}"  # C5,6 (no space: "C5, 6 patients" is not a list)
    rf"| +(?:to|through|thru) +{_REG_EN} ?{_NUM}"  # L2 to L4
    rf"|(?:{_REG_EN}|{_REG_ZH}){_NUM})"  # L5S1, 腰5骶1
)
_DI = rf"第 *{_NUM}(?: *(?:[-~/、,]|至|到|和|及) *(?:第 *)?{_NUM})* *(?P<di_region>[颈胸腰骶])椎"
# (?=(...))\1 makes the chain atomic on Python 3.10 (no (?>...)): a chain that ends glued to
# a letter/digit ("T2WI", "L4-5mm") is rejected as a whole instead of being shortened.
_END = r"(?![A-Za-z0-9])(?! *(?:个|次|天|周|月|年|岁|小时|例|名|mm|cm|%))"
_EXPR = re.compile(rf"(?=(?P<chain>{_HEAD}{_CONT}*))(?P=chain){_END}|(?P<di>{_DI})", re.IGNORECASE)
# Tokenises one matched chain: an optional separator, an optional region, a number.
_TOKEN = re.compile(
    rf"(?P<sep> *(?:[-~/、,]|至|到|和|及|to|through|thru) *)?(?:(?P<reg>{_REG_EN}|{_REG_ZH})(?P<sp> ?))?(?P<num>{_NUM})",
    re.IGNORECASE,
)
_DI_TOKEN = re.compile(rf"(?P<sep> *(?:[-~/、,]|至|到|和|及) *)?(?:第 *)?(?P<num>{_NUM})")

# --- context rules (see module docstring) ---------------------------------------------------
_SIBLING = re.compile(r" *(?:and|or|,|、|和|及|与|/) *(?:Th|[CTLS])\d{1,2}(?:wi|w)?(?![0-9])", re.IGNORECASE)
_SIBLING_BEFORE = re.compile(r"(?:Th|[CTLS])\d{1,2}(?:wi|w)? *(?:and|or|,|、|和|及|与|/) *$", re.IGNORECASE)
_ANATOMY_AFTER = re.compile(
    r" *-? *(?:vertebra|vertebral|body|bodies|level|segment|spinous|pedicle|lamina|facet|transverse"
    r"|nerve|root|radicul|dermatome|myotome|fracture|compression|burst|disc|disk|spinal\s+cord"
    r"|椎|节段|神经根|棘突|椎弓|骨折|水平)",
    re.IGNORECASE,
)
_MRI_AFTER = re.compile(
    r" *(?:(?:and|or|/|,|、|和|及) *(?:stir|flair|dwi|pd)\b"  # "T2 and STIR"
    r"| *(?:spinal\s+)?cord\s+(?:signal|hyper|hypo|intens|change|oedema|edema|abnormal)"  # "T2 cord signal change"
    r"| *[-/]? *(?:\*|(?:weighted|wi|w|hyper|hypo|iso|intens|signal|sequence|image|imaging|scan|flair|stir"
    r"|fs|fat|map|relax|shine|mismatch|bright|dark|high|low|post|pre|gd|gad|contrast|dm|diabetes)\b|c\+"
    r"|hyper|hypo|intens|relax|map|sequen|加权|信号|压脂|抑脂|像|序列|增强|高信号|低信号|等信号|混杂|呈|上呈))",
    re.IGNORECASE,
)
_MRI_BEFORE = re.compile(
    r"(?:\b(?:on|sagittal|axial|coronal|weighted|suppressed|saturated|sat|enhanced|contrast|stir|flair|mri|mr)"
    r"|矢状位|矢状面|轴位|横断位|冠状位|压脂|抑脂|增强) *[:,]? *$",
    re.IGNORECASE,
)
_STAGING_AFTER = re.compile(r" *N[0-3x]\b", re.IGNORECASE)  # TNM: "T2 N0 M0"
_COMPLEMENT_AFTER = re.compile(r" *-? *(?:complement|esterase|inhibitor|inh\b|q\b|补体|酯酶)", re.IGNORECASE)
_COMPLEMENT_BEFORE = re.compile(r"(?:\bcomplement|补体) *$", re.IGNORECASE)
_THYROID_AFTER = re.compile(r" *(?:hormone|toxicosis|thyroxine|甲状腺)", re.IGNORECASE)
_THYROID_BEFORE = re.compile(r"(?:\b(?:free|serum|total|reverse|thyroid|tsh *,?)|游离|血清) *$", re.IGNORECASE)
_HEART_AFTER = re.compile(r" *(?:heart|gallop|murmur|split|心音|奔马律)", re.IGNORECASE)
_HEART_BEFORE = re.compile(r"(?:heart\s+sounds?|心音) *:? *$", re.IGNORECASE)
_FIGURE_BEFORE = re.compile(
    r"\b(?:fig(?:ure)?s?\.?|tables?|tab\.|appendix|supplementary|video|file|data|eq\.?|equation) *$",
    re.IGNORECASE,
)
_LOOKBEHIND = 40
# A list of adjacent vertebrae followed by a disc word names the discs between them.
_DISC_AFTER = re.compile(
    r" *(?:椎?间盘|椎?间隙|椎间孔|(?<=椎)间(?![断歇期])|intervertebral|dis[ck](?:s|ectomy)?(?![A-Za-z])|foram(?:en|ina))", re.IGNORECASE
)
# Curve measurements name their end vertebrae (see module docstring): a cue, then only
# measurement filler up to the range ("Cobb angle of 45° from T5 to T12", "Cobb角（T5-T12）").
# ASCII word edges, not \b: Chinese characters are word characters ("主弯Cobb角").
_CURVE_CUE = (
    r"(?:(?<![A-Za-z])(?:cobb(?:'s)?|curv(?:e|es|ature)|kyphosis|kyphotic|lordosis|lordotic|scoliosis|scoliotic"
    r"|end\s+vertebra[el]?)|侧弯|侧凸|[主胸腰次]弯|后凸|前凸|端椎)"
)
_CURVE_FILLER = (
    r"(?:[\s(:=°º~≈]|\d|(?<=\d)\.(?=\d)"  # text is normalised: full-width "（：" are ASCII here
    r"|(?<![A-Za-z])(?:angles?|of|from|measured|measuring|between|at|the|a|was|is|were"
    r"|spanning|spans|extending|extends|thoracic|lumbar|thoracolumbar|cervical|right|left|main|major|minor"
    r"|primary|secondary|structural|compensatory|proximal|distal|degrees?|deg)(?![A-Za-z])"
    r"|角|为|度|从|自|测量|位于|累及|范围)*"
)
# Cheap first check, so ranges far from any curve word skip the costlier context patterns.
_CURVE_HINT = re.compile(r"cobb|curv|kyph|lordo|scolio|end\s+vertebra|弯|凸|端椎", re.IGNORECASE)
_CURVE_BEFORE = re.compile(rf"{_CURVE_CUE}{_CURVE_FILLER}$", re.IGNORECASE)
_CURVE_AFTER = re.compile(
    r" *[)\]]? *(?:cobb|curv|kyphos|kyphotic|lordos|lordotic|scolio|侧弯|侧凸|弯|后凸|前凸)", re.IGNORECASE
)
_SURGERY_AFTER = re.compile(
    r" *[)\]]? *(?:fusion|fixation|instrumentation|decompression|laminectomy|laminoplasty|osteotomy|pedicle\s+screw"
    r"|融合|固定|减压|截骨|椎板)",
    re.IGNORECASE,
)
# What canonical_level tolerates after the level: "L4 vertebra", "L4/5 disc", "T12椎体".
_TOKEN_TAIL = re.compile(
    r" *(?:vertebra|vertebrae|vertebral body|body|disc|disk|level|segment|椎体|椎?间盘|椎?间隙|节段|椎)?", re.IGNORECASE
)


def _after(text: str, end: int, pattern: re.Pattern[str]) -> bool:
    sibling = _SIBLING.match(text, end)
    if sibling and pattern.match(text, sibling.end()):
        return True
    return pattern.match(text, end) is not None


def _before(text: str, start: int, pattern: re.Pattern[str]) -> bool:
    window = text[max(0, start - _LOOKBEHIND) : start]
    if pattern.search(window):
        return True
    sibling = _SIBLING_BEFORE.search(window)
    return sibling is not None and pattern.search(window[: sibling.start()]) is not None


def _is_not_a_level(text: str, start: int, end: int, verts: list[str]) -> bool:
    """Context veto for expressions made only of vertebrae that double as other terms."""
    kinds = set(verts)
    if kinds <= {"T1", "T2", "T3", "T4"} and _STAGING_AFTER.match(text, end):
        return True
    if kinds <= {"T1", "T2"}:
        if _after(text, end, _ANATOMY_AFTER):
            return False
        return _after(text, end, _MRI_AFTER) or _before(text, start, _MRI_BEFORE)
    if kinds <= {"T3", "T4"}:
        return _after(text, end, _THYROID_AFTER) or _before(text, start, _THYROID_BEFORE)
    if kinds <= {"C1", "C3", "C4"}:
        return _after(text, end, _COMPLEMENT_AFTER) or _before(text, start, _COMPLEMENT_BEFORE)
    if kinds <= {"S1", "S2", "S3", "S4"}:
        return (
            _after(text, end, _HEART_AFTER)
            or _before(text, start, _HEART_BEFORE)
            or _before(text, start, _FIGURE_BEFORE)
        )
    return False


# --- expression evaluation -----------------------------------------------------------------
def _vertebra(region: str, number: int) -> str | None:
    return f"{region}{number}" if 1 <= number <= _REGION_MAX[region] else None


def _segments_between(upper: str, lower: str) -> list[str] | None:
    """Segments of the range upper..lower, or None when the range runs backwards/is empty."""
    column, index = (VERTEBRAE, _INDEX) if "L6" in (upper, lower) else (_STANDARD, _STANDARD_INDEX)
    i, j = index[upper], index[lower]
    if j <= i:
        return None
    return [f"{column[k]}-{column[k + 1]}" for k in range(i, j)]


def _is_curve_extent(text: str, start: int, end: int) -> bool:
    """Whether the range at text[start:end] is a curve measurement ("Cobb angle T5-T12")."""
    if not _CURVE_HINT.search(text, max(0, start - 60), end + 16) or _SURGERY_AFTER.match(text, end):
        return False
    if _CURVE_AFTER.match(text, end):
        return True
    return _CURVE_BEFORE.search(text, max(0, start - 60), start) is not None


def _disc_list(tokens: list[tuple[str, str | None]]) -> list[tuple[str, str | None]] | None:
    """``腰4、5`` before a disc word: adjacent listed vertebrae joined into segments, else None."""
    if len(tokens) < 2 or any(op != "," for op, _ in tokens[1:]):
        return None
    verts = [v for _, v in tokens]
    if any(v is None for v in verts) or any(b not in _SUCCESSORS[a] for a, b in zip(verts, verts[1:])):
        return None
    return [(op and "/", v) for op, v in tokens]


def _evaluate(tokens: list[tuple[str, str | None]], extent: bool = False) -> tuple[list[str], list[str]]:
    """Turn (operator, vertebra or None if invalid) tokens into (levels, vertebrae seen).

    Items are vertebrae ``(v, v)`` or segments ``(upper, lower)``.  ``/`` and juxtaposition
    bind a following adjacent vertebra into a segment; ``-`` links the neighbouring items
    into a range; anything else lists items.  With ``extent`` (a curve measurement), a range
    of non-adjacent vertebrae names its two end vertebrae instead of its segments.
    """
    items: list[tuple[str, str] | None] = []
    ranges: list[int] = []  # i: items[i] .. items[i + 1] is a range
    seen: list[str] = []
    for op, vert in tokens:
        if vert is not None:
            seen.append(vert)
        last = items[-1] if items else None
        if op in ("/", "") and items:
            if last is None or vert is None:
                items[-1] = None  # invalid vertebra poisons the slash group
                continue
            upper, lower = last
            if vert in _SUCCESSORS[lower]:
                if upper == lower:
                    items[-1] = (upper, vert)
                else:  # L3/4/5 -> L3-L4, L4-L5
                    items.append((lower, vert))
                continue
        if op == "-" and items:
            ranges.append(len(items) - 1)
        items.append((vert, vert) if vert is not None else None)

    levels: list[str] = []
    in_range: set[int] = set()
    for i in ranges:
        in_range.update((i, i + 1))
        first, last = items[i], items[i + 1]
        if first is None or last is None:
            continue
        if first[0] == first[1] and last[0] == last[1] and last[0] in _SUCCESSORS[first[0]]:
            levels.append(f"{first[0]}-{last[0]}")
            continue
        if extent and first[0] == first[1] and last[0] == last[1]:
            if _segments_between(first[0], last[0]):
                levels.extend((first[0], last[0]))
            continue
        segments = _segments_between(first[0], last[1])
        if segments:
            levels.extend(segments)
    for i, item in enumerate(items):
        if i in in_range or item is None:
            continue
        levels.append(item[0] if item[0] == item[1] else f"{item[0]}-{item[1]}")
    return levels, seen


_OPS = {"-": "-", "~": "-", "至": "-", "到": "-", "to": "-", "through": "-", "thru": "-", "/": "/"}


def _tokens(match: re.Match[str]) -> tuple[list[tuple[str, str | None]], bool]:
    """Tokens of one matched expression and whether it is a spaced lone letter ("C 5")."""
    tokens: list[tuple[str, str | None]] = []
    if match.group("di"):
        region = _ZH_REGION[match.group("di_region")]
        for m in _DI_TOKEN.finditer(match.group("di")):
            op = _OPS.get((m.group("sep") or "").strip(), ",") if m.group("sep") else ""
            tokens.append((op if tokens else "", _vertebra(region, _to_int(m.group("num")))))
        return tokens, False
    region = ""
    spaced_head = False
    lettered_tail = False
    for m in _TOKEN.finditer(match.group("chain")):
        reg = m.group("reg")
        if reg:
            region = _ZH_REGION.get(reg[0]) or reg[0].upper()
            if tokens:
                lettered_tail = True
            elif m.group("sp"):
                spaced_head = True
        sep = m.group("sep")
        op = _OPS.get(sep.strip().lower(), ",") if sep else ""
        tokens.append((op if tokens else "", _vertebra(region, _to_int(m.group("num")))))
    return tokens, spaced_head and not lettered_tail


def level_sort_key(level: str) -> tuple[int, int, int]:
    """Anatomical sort key: by upper vertebra, a vertebra before the segments starting at it.

    Accepts any notation ``canonical_level`` understands; raises ValueError otherwise.
    """
    canon = level if level in LEVELS else canonical_level(level)
    if canon is None:
        raise ValueError(f"not a vertebral level: {level!r}")
    upper, _, lower = canon.partition("-")
    return (_INDEX[upper], 1 if lower else 0, _INDEX[lower] if lower else 0)


# Spelled-out ordinals: "the ninth thoracic vertebra", "(the level) between the fourth and fifth
# lumbar vertebrae", "the fifth lumbar/first sacral disc", "the 12th thoracic vertebral body".
# The region word must be followed by an anatomical noun (vertebra, disc, level, nerve root ...),
# so "her first lumbar MRI" is no level.  The mention ends at the region word: the noun after it
# is seen by the cue rules ("... vertebra is transitional", "... nerve root").
_ORDINALS = {w: i for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split(), 1)}
_ORD = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|1st|2nd|3rd|(?:[4-9]|1[0-2])th)"
_ORD_REGION = {"cervical": "C", "thoracic": "T", "dorsal": "T", "lumbar": "L", "sacral": "S"}
_ORD_REG = r"(?:cervical|thoracic|dorsal|lumbar|sacral)"
_ORD_REGION_STEMS = ("ervical", "ERVICAL", "horacic", "HORACIC", "orsal", "ORSAL", "umbar", "UMBAR", "acral", "ACRAL")
_ORD_EXPR = re.compile(
    rf"(?<![A-Za-z])(?P<between>between\s+(?:the\s+)?)?(?P<o1>{_ORD})(?:\s+(?P<r1>{_ORD_REG}))?"
    rf"(?:\s*(?P<sep>and|&|/|-|to|through|or)\s*(?:the\s+)?(?P<o2>{_ORD}))?\s+(?P<r2>{_ORD_REG})"
    r"(?=\s*(?:vertebra|vertebrae|vertebral|bod(?:y|ies)|levels?|segments?|dis[ck]s?|intervertebral|interspaces?"
    r"|(?:spinal\s+)?nerves?|roots?|spinous|pedicles?|laminae?|facets?|transverse|foram(?:en|ina)|spaces?)(?![A-Za-z]))",
    re.IGNORECASE)


def _ordinal(word: str) -> int:
    word = word.lower()
    return _ORDINALS[word] if word in _ORDINALS else int(word[:-2])


def _ordinal_mentions(text: str) -> list[tuple[int, int, list[str]]]:
    out = []
    for m in _ORD_EXPR.finditer(text):
        r2 = _ORD_REGION[m.group("r2").lower()]
        if m.group("o2") is None:
            if m.group("r1"):
                continue
            v = _vertebra(r2, _ordinal(m.group("o1")))
            levels = [v] if v else []
        else:
            v1 = _vertebra(_ORD_REGION[m.group("r1").lower()] if m.group("r1") else r2, _ordinal(m.group("o1")))
            v2 = _vertebra(r2, _ordinal(m.group("o2")))
            if v1 is None or v2 is None:
                continue
            sep = m.group("sep").lower()
            disc = _DISC_AFTER.match(text, m.end()) is not None
            if (m.group("between") or disc or sep in ("/", "-")) and v2 in _SUCCESSORS[v1]:
                levels = [f"{v1}-{v2}"]
            elif sep in ("-", "to", "through") or m.group("between"):
                levels = _segments_between(v1, v2) or []
            else:
                levels = [v1, v2]
        if levels:
            out.append((m.start("o1"), m.end(), levels))
    return out


def level_mentions(text: str) -> list[tuple[int, int, list[str]]]:
    """Every level expression in ``text``: ``(start, end, levels)`` with offsets into the
    normalised text (same length as ``text``), whatever the level is mentioned for.

    This is the notation layer; ``parse_levels`` then keeps only the levels a finding is about.
    """
    if not text:
        return []
    text = _normalise(text)
    out = []
    for match in _EXPR.finditer(text):
        tokens, lone_spaced = _tokens(match)
        if lone_spaced:
            continue
        extent = False
        if len(tokens) > 1:  # lists and ranges only (the common single level skips both checks)
            ops = [op for op, _ in tokens]
            if "," in ops and _DISC_AFTER.match(text, match.end()):
                tokens = _disc_list(tokens) or tokens
            extent = "-" in ops and _is_curve_extent(text, match.start(), match.end())
        levels, verts = _evaluate(tokens, extent)
        if levels and not _is_not_a_level(text, match.start(), match.end(), verts):
            out.append((match.start(), match.end(), levels))
    if any(w in text for w in _ORD_REGION_STEMS):  # cheap check before the ordinal scan
        ordinals = _ordinal_mentions(text)
        if ordinals:
            out = sorted(out + ordinals)
    return out


def parse_levels(text: str) -> list[str]:
    """Canonical vertebral levels a finding in ``text`` is about, deduplicated, in anatomical order.

    >>> parse_levels("MRI: L4/5 disc herniation, L5S1 bulge, T2 hyperintensity at L4")
    ['L4', 'L4-L5', 'L5-S1']
    >>> parse_levels("Saddle anaesthesia S2-S5 from an L1 burst fracture; fixation from T11 to L3.")
    ['L1']

    See the module docstring for the accepted notations, the look-alike rules (T1/T2 as MRI
    sequences ...) and the finding rules (dermatomes, myotomes, constructs, counts, negations).
    """
    mentions = level_mentions(text)
    if not mentions:
        return []
    return sorted(set(_about_findings(_normalise(text), text, mentions)), key=level_sort_key)


# --- finding rules: which mentions a finding is about (see module docstring) -----------------
# Cues are matched next to a level expression, with only filler words between, so "numbness
# in the L5 dermatome" drops L5 while "numbness in both legs due to L4-L5 stenosis" keeps L4-L5.
# Neighbouring expressions joined by list words form one group ("L2-L3, L3-L4 and L4-L5 are
# normal"): a cue before the group's first or after its last expression applies to all of them.
_LIST_JOIN = re.compile(r" *(?:,|、|/|&|\band\b|\bor\b|和|及|与|或)? *(?:\band\b|\bor\b)? *$", re.IGNORECASE)
_LEVEL_WORD = (r"(?: *(?:levels?|segments?|dis[ck]s?|disc\s+spaces?|vertebrae|vertebral\s+bodies|vertebral\s+body"
               r"|vertebra|bodies|body|spinous\s+process(?:es)?|椎间盘|椎间隙|间隙|节段|椎体|水平|椎))?")
# Clause ends: sentence punctuation and contrast words; a negation never reaches past them.
_CLAUSE_END = re.compile(
    r"[;!?。；！？\n]|\.(?!\d)|\b(?:but|whereas|while|however|although|though|except)\b|但是?|然而|而(?!且)",
    re.IGNORECASE)
_SENTENCE_END = re.compile(r"[;!?。；！？\n]|\.(?!\d)")
# What ends a negation's reach inside a clause: words that start a positive statement, and a
# comma unless it stands between two levels (a list goes on: "no stenosis at L2-L3, L3-L4 or
# L4-L5", but not "L4-L5 without stenosis, L5-S1 with severe stenosis"; `_Scan`).
_LIST_NEXT = re.compile(r" *(?:(?:and|or) +)?")
_NEG_BREAK = re.compile(
    r"\b(?:shows?|showed|demonstrat\w*|reveal\w*|with|there\s+(?:is|are|was|were)"
    r"|due\s+to|caused\s+by|from(?!\s+(?:Th|[CTLS]) ?\d{1,2}\s*(?:to|through|thru|-)\s*(?:Th|[CTLS])? ?\d)"
    r"|secondary\s+to)\b|示|显示|提示|伴|合并",
    re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:no(?!\s+(?:interval\s+)?(?:change|progression|improvement|longer))|not|without|negative\s+for|free\s+of"
    r"|absence\s+of|absent|ruled\s+out|rule\s+out|unremarkable|spared|spares|sparing|patent|capacious|unaffected"
    r"|uninvolved|within\s+normal\s+limits|wnl"
    r"|(?<!loss of )(?<!loss of the )(?:normal|preserved|maintained|intact))\b"  # "loss of normal disc height"
    r"|未见|未发现|未累及|未受累|未示|未显示|不伴|无(?!力|菌|明显诱因)|没有|排除|否认|正常|通畅",
    re.IGNORECASE)
# Nouns a negated statement may name between the level and its verdict ("L4 vertebral body
# height is maintained", "C3/4水平椎管无狭窄").
_ASPECT_ONE = (r"(?:(?:(?:disc|vertebral(?:\s+body)?|bone\s+marrow|marrow|central|spinal|neural|exiting|nerve)\s+)?"
               r"(?:height|signal|alignment|intensity|morphology|contour|hydration|canal|foramina?|endplates?|cord"
               r"|thecal\s+sac|roots?|lateral\s+recess(?:es)?|facets?(?:\s+joints?)?|(?:anterior\s+|posterior\s+)?(?:ring|arch(?:es)?)"
               r"|posterior\s+elements?|cortex|cortices|transverse\s+process(?:es)?|pedicles?|laminae?)"
               r"|椎管|侧隐窝|椎间孔|信号|形态|高度|硬膜囊|脊髓|骨质|终板|骨髓信号|神经根|骨皮质|小关节|黄韧带|前弓|后弓|前后弓|椎弓|环|附件|横突|椎弓根|各椎间盘|各椎体|各间隙|各节段)")
# one aspect or a list of them: "signal and height", 信号及形态, 椎管、椎间孔
_ASPECT = rf"(?: *{_ASPECT_ONE}(?: *(?:及|和|与|、|/|,|and|or) *{_ASPECT_ONE})*)?"
_NEGATED_AFTER = re.compile(
    rf"{_LEVEL_WORD}{_ASPECT} *[)\]]? *[:：(\[]? *(?:(?:is|are|was|were|appears?|appeared|remains?|remained|looks?|seems?"
    rf"|shows?|showed|demonstrates?|demonstrated|has|have|had|maintains?|retains?|preserves?|keeps?)\s+)?"
    r"(?:(?:otherwise|entirely|completely|essentially|all|both|well|widely|largely|relatively)\s+)?"
    r"(?:normal|unremarkable|preserved|intact|spared|maintained|uninvolved|unaffected|within\s+normal\s+limits"
    r"|negative\b|clear\b|patent\b|capacious\b|wnl\b|free\s+(?:of|from)\b"
    r"|not\s+(?:involved|affected|narrowed|stenotic|compressed|herniated)"
    r"|(?:not|non-?)\s*(?:well\s+|fully\s+|adequately\s+|clearly\s+)?(?:visuali[sz]ed|seen|included|imaged|assessed|evaluated|shown|covered|visible)"
    r"|obscured|excluded|out\s+of\s+(?:the\s+)?(?:field|fov)"
    r"|no\b(?!\s+(?:interval\s+)?(?:change|progression|improvement|longer))"
    r"|(?:均|亦|也|尚)?(?:未见|未(?:能)?(?:显示|包括|扫及|评估)|显示不清|无(?!力)|正常|未受累|未累及|信号正常|形态正常|通畅|尚可|良好|完整|(?<=皮质)连续|(?:后缘)?连线(?:尚)?连续))",
    re.IGNORECASE)
# "L5-S1 without compression", "L5-S1 shows no ...": unless the lack is placed at another level
# of the same clause ("stenosis at L3-4 with no stenosis at L2-3": a locative before that level).
_LOCATIVE = re.compile(r"(?<![A-Za-z])(?:at|in|of|involving|from|to)(?:\s+the)?(?:\s+levels?(?:\s+of)?)? *$|[在于] *$",
                       re.IGNORECASE)
_LACKS_AFTER = re.compile(
    rf"{_LEVEL_WORD}{_ASPECT} *[:：]? *(?:without|(?:shows?|showed|demonstrates?|has|have|had|reveals?|with)\s+no)\b",
    re.IGNORECASE)
# no "and" / "or": a construct word does not reach past them ("prior L4-L5 fusion and L3-L4 stenosis";
# a list of levels after the cue is one group anyway: "screws at T11, T12 and L2")
_FILLER_EN = (r"in|over|at|of|the|a|an|along|below|above|from|to|between|left|right|bilateral|both|on|into|by"
              r"|was|were|is|are|performed|placed|inserted|extending|extended|extends|spanning|spans?|across"
              r"|posterior|anterior|lateral|percutaneous|using|levels?|segments?|pedicle|segmental|short|long"
              r"|open|minimally|invasive|instrumented|then|also|removal|removed|revision|revised|explantation|exchange")
_FILLER = rf"(?:[\s(:\[]|(?<![A-Za-z])(?:{_FILLER_EN})(?![A-Za-z])|行|于|经|自|从|在|位于|为|后路|前路|侧路|置入|椎弓根|取出|拆除|翻修|原|至|到)*"


# A sensory sign reaches its level through place words only: "numbness over the L5 dermatome",
# but not "numbness from an L4-L5 herniation" or "leg numbness and an L4-L5 herniation" ("from"
# only right before the level: "saddle anaesthesia from S2 to S5").
_SENSE_FILLER = (r"(?:[\s(:\[]|(?<![A-Za-z])(?:in|over|at|of|the|a|an|along|below|above|left|right|bilateral|both"
                 r"|on|into|level|levels|is|was|reduced|decreased|diminished|absent|altered|impaired|from(?=\s*$)"
                 r"|around|about|approximately|roughly|near)(?![A-Za-z])|约|大约|于|在|位于|为|减退|减弱|消失|异常|过敏|缺失)*")  # "from S2 to S5"


class _CueBefore:
    """A cue word, then only `filler` up to the level.  The cue is searched once per text
    (`ends`), then each level checks the filler from the cue ends within its reach: linear in
    the text, not an end-anchored search retried from every position before every level."""

    reach = 80

    def __init__(self, cue: str, filler: str, needs: str = "", word: str = ""):
        if re.search(r"\\[A-Z]", cue):
            raise ValueError(f"cue patterns are lowercased for speed; {cue!r} has an upper-case escape")
        self.cue = re.compile(cue, re.IGNORECASE)
        self.cue_lower = re.compile(cue.lower())  # 3-5x faster than IGNORECASE on lowercased text
        self.filler = re.compile(filler, re.IGNORECASE)
        self.needs = needs  # characters of which every cue match has one: a text without any skips the scan
        self.word = word  # lower-case text every cue match holds: a text without it skips the scan

    def ends(self, text: str) -> list[int]:
        if self.needs and not any(c in text for c in self.needs):
            return []
        low = text.lower()
        if self.word and self.word not in low:
            return []
        if len(low) == len(text):  # offsets still line up (they do unless a rare letter grew)
            return [m.end() for m in self.cue_lower.finditer(low)]
        return [m.end() for m in self.cue.finditer(text)]

    def before(self, text: str, start: int, ends: list[int]) -> bool:
        i = bisect_right(ends, start)
        while i > 0 and ends[i - 1] >= start - self.reach:
            i -= 1
            if self.filler.fullmatch(text, ends[i], start):
                return True
        return False


_DERMATOME_CUE = (
    r"(?:saddle\s+(?:an(?:a)?esthesia|area|region|numbness|hyp\w+|sensory\s+loss)|perianal|perineal"
    r"|sensory\s+(?:level|loss|deficit|change)|hyp(?:o|a|er)?(?:a)?esthesia|an(?:a)?esthesia|numbness|numb"
    r"|pa?raesthesias?|paresthesias?|tingling|dys(?:a)?esthesia|pin-?prick|light\s+touch|sensation"
    r"|(?:hyp(?:o|er)?)?algesia|analgesia|allodynia|vibration\s+sense|proprioception|two-point\s+discrimination"
    r"|(?:dermatom\w*|distribution|territory)\s+of|band-?like\s+(?:pain|sensation|numbness|tightness)|girdle\s+(?:pain|sensation)"
    r"|鞍区|会阴区|感觉平面|感觉减退|感觉减弱|感觉过敏|感觉缺失|感觉消失|感觉异常|感觉障碍|麻木|皮节|皮区"
    r"|痛觉|触觉|针刺觉|温度觉|痛温觉|浅感觉|深感觉|束带感|束带样|分布区|支配区)")
_DERMATOME_BEFORE = _CueBefore(_DERMATOME_CUE, _SENSE_FILLER)
# A sensory sign, the body area it covers, then its level in brackets: "decreased sensation over the
# lateral calf and dorsum of the foot (L5)", "numbness at the level of the umbilicus (T10)".  The
# words between name no cause or lesion ("numbness from a herniated disc (L4-L5)" keeps L4-L5).
_BRACKETED_DERMATOME_BEFORE = _CueBefore(
    _DERMATOME_CUE,
    r"(?:(?!from|due|because|secondary|caus|by\b|herniat|dis[ck]|stenos|compress|lesion|fractur|protru|extru|bulg"
    r"|tumou?r|mass|metasta|突出|狭窄|压迫|骨折|病变)[^.;,!?()\[\]0-9。；，])*[(\[]\s*", needs="([")
_DERMATOME_AFTER = re.compile(
    r" *[)\]]? *(?:(?:saddle|perianal|perineal)(?![A-Za-z])|鞍区|鞍部|会阴|肛周|(?:(?:nerve\s+)?root\s+|nerve\s+|radicular\s+|sensory\s+)?"
    r"(?:dermatom\w*|distribution|sensory|sensation|territory|pattern|band\b|stripe"
    r"|(?:神经根?|根性|节段性?)?(?:皮节|皮区|皮肤(?:感觉)?区?|分布|支配区|节段性感觉)"
    r"|区域?(?:感觉|麻木)|平面以下|以下平面|以下感觉|感觉|条带|带状))", re.IGNORECASE)
# Muscles and movements that test a myotome (key muscles and their neighbours): "EHL (L5) power 4/5",
# "S1 plantarflexion 4+/5", "triceps (C7) 4/5", "C5 deltoid weakness", 髂腰肌（L2）肌力4级, C6腕背伸肌力4级.
_MUSCLES_EN = (
    r"deltoids?|biceps|triceps|brachioradialis|supinators?|pronators?|rotator\s+cuff|infraspinatus|supraspinatus"
    r"|(?:shoulder|elbow|wrist|finger|thumb|hip|knee|ankle|(?:great\s+|big\s+)?toe|hallux)\s+"
    r"(?:flexion|flexors?|extension|extensors?|dorsiflexion|dorsiflexors?|plantar\s*flexion|abduction|abductors?"
    r"|adduction|adductors?|eversion|evertors?|inversion|invertors?)"
    r"|(?:hand\s+)?intrinsics|interossei|abductor\s+(?:digiti\s+minimi|pollicis\s+brevis)|first\s+dorsal\s+interosseous"
    r"|iliopsoas|psoas|quadriceps|quads|hamstrings?|tibialis\s+(?:anterior|posterior)|ehl|fhl|edl"
    r"|extensor\s+hallucis(?:\s+longus)?|flexor\s+hallucis(?:\s+longus)?|extensor\s+digitorum(?:\s+longus)?"
    r"|gastrocnemius|gastrocs?|soleus|gastrosoleus|glut(?:eus|eal)\s+(?:medius|maximus)|peroneals?|peroneus(?:\s+longus)?"
    r"|dorsiflexion|dorsiflexors?|plantar\s*flexion|plantarflexion|plantarflexors?|foot\s+eversion|foot\s+inversion")
_MOVES_ZH = (r"屈髋|伸髋|髋外展|髋内收|伸膝|屈膝|踝背伸|踝跖屈|足背伸|足跖屈|背伸|跖屈|伸趾|屈趾|伸拇|屈拇|拇趾背伸|足外翻|足内翻"
             r"|肩外展|屈肘|伸肘|伸腕|屈腕|腕背伸|腕掌屈|屈指|伸指|指外展|指内收|握力")
_MUSCLES_ZH = (r"三角肌|肱二头肌|肱三头肌|肱桡肌|冈上肌|冈下肌|伸腕肌|腕伸肌|屈腕肌|屈指肌|指屈肌|指深屈肌|伸指肌|骨间肌|小指展肌"
               r"|拇短展肌|手内在肌|髂腰肌|股四头肌|腘绳肌|股二头肌|胫前肌|胫骨前肌|拇长伸肌|趾长伸肌|拇长屈肌|腓肠肌"
               r"|小腿三头肌|比目鱼肌|臀中肌|臀大肌|腓骨长短肌|腓骨长肌|腓骨肌")
# deficits that name a root's motor or sacral function: "foot drop (L5)", "anal tone (S2-S4)", 足下垂（L5）
_DEFICITS_EN = (r"foot\s+drop|drop\s+foot|wrist\s+drop|finger\s+drop|anal\s+(?:tone|wink|reflex|sphincter)|sphincters?"
                r"|bladder(?:\s+(?:function|dysfunction|control))?|bowel(?:\s+(?:function|dysfunction|control))?"
                r"|bulbocavernosus|cremasteric|babinski|hoffmann'?s?")
_DEFICITS_ZH = r"足下垂|垂足|垂腕|腕下垂|括约肌|肛门|膀胱|排尿|排便|提睾|球海绵体"
# a muscle, movement or reflex, then its grade, then the level in brackets: "triceps 4/5 (C7)",
# 胫前肌（L4）; only scanned when the text has a bracket
_BRACKETED_MYOTOME_BEFORE = _CueBefore(
    rf"(?:reflex(?:es)?|jerks?|dorsiflexion|plantar\s*flexion|plantarflexion|extension|flexion|abduction|adduction"
    rf"|inversion|eversion|grip|strength|power|weakness|(?<![a-z])(?:{_MUSCLES_EN}|{_DEFICITS_EN})(?![a-z])"
    rf"|肌力|反射|肌|{_MOVES_ZH}|{_DEFICITS_ZH})(?:\s*(?:[0-5][+-]?(?:/5)?|grade|mrc|power|strength|weakness|weak|is|are|was|were|on|the"
    rf"|left|right|bilateral(?:ly)?|reduced|diminished|absent|brisk|hyperactive|hypoactive|increased|decreased|exaggerated|depressed|sluggish|trace|normal|present|positive|negative|upgoing|downgoing|\+{1,4}|[0-4]\+|肌力|[0-5][+-]?级|减弱|下降|减退|消失|亢进|活跃|未引出|引出|阳性|阴性|左侧|右侧|双侧)(?![a-z]))*"
    rf"\s*[(\[]", r"\s*(?:the\s+)?", needs="([")
# a construct extended to a level: "revision L4-S1 fusion with extension to L3", "extension of the fusion
# to L2" (a construct word earlier in the clause; "epidural extension to L3" stays a finding); only
# scanned when the text has "ext"
_EXTENSION_BEFORE = _CueBefore(
    r"(?<![a-z])(?:fusion|fixation|instrumentation|construct|stabili[sz]ation|arthrodesis|acdf|[ptaxol]lif)[^.;!?]{0,40}?"
    r"ext(?:ension|ended|ending)\s+(?:up\s+)?to(?![a-z])"
    r"|ext(?:ension|ended|ending)\s+of\s+(?:the\s+)?(?:fusion|construct|instrumentation|fixation)\s+(?:up\s+)?to(?![a-z])",
    _FILLER, word="ext")
_MYOTOME_BEFORE = _CueBefore(
    r"(?:(?:innervated|supplied|served)\s+(?:mainly\s+)?by|innervation\s+from"
    r"|(?<![a-z])(?<!bone )(?:power|strength|mrc(?:\s+grade)?|motor\s+level|motor\s+score|reflex(?:es)?|jerks?)"
    r"\s*(?:[0-5][+-]?(?:/5)?\s*)?(?:(?:in|at|of|for)\s+)?|运动平面(?:位于|为|在)?)", r"\s*(?:the\s+)?")
_MYOTOME_AFTER = re.compile(
    rf" *[)\]]? *[(\[]? *(?:(?:{_MUSCLES_EN})(?![A-Za-z])|{_MOVES_ZH}|{_MUSCLES_ZH}|myotom\w*|key\s+muscles?|motor\s+(?:level|power|strength|weakness|deficit)|(?:muscle\s+)?power"
    r"|(?:muscle\s+)?strength|weakness|reflex(?:es)?\b|jerks?\b|-?innervated|肌节|肌力|反射|关键肌|运动平面"
    r"|(?:神经)?支配(?!区))", re.IGNORECASE)
_ROOT_AFTER = re.compile(r" *(?:nerve\s+roots?|roots?|radicul\w*|nerves?|sciatica|神经根|神经|根性|走行根|出口根|行走根|根(?!管))",
                         re.IGNORECASE)
# "the traversing L5 (root)", "the exiting L4": a root named by its course, not by the word root
_ROOT_BEFORE = re.compile(r"(?<![A-Za-z])(?:traversing|exiting|descending|existing)(?:\s+(?:left|right|bilateral))? *$",
                          re.IGNORECASE)
# a congenital / spontaneous fusion (block vertebra, ankylosis) is the finding, not a construct
_CONSTRUCT_WORDS = (r"(?<!congenital )(?<!spontaneous )(?<!bony )(?<!auto)fusions?|(?<!congenitally )fused|fixation|instrumentation|instrumented|arthrodesis|constructs?|screws?|rods?"
                    r"|plates?|plating|hardware|cages?|(?:interbody|spinal)\s+(?:implants?|devices?)|spacers?|hooks?|wires?|wiring|cerclage|arthroplasty"
                    r"|stabili[sz]ation|stabili[sz]ed|disc\s+replacement|post-?(?:operative|surgical)\s+(?:changes?|status|state)|ACDF|PLIF|TLIF|ALIF|XLIF|OLIF|LLIF")
_CONSTRUCT_BEFORE = _CueBefore(
    rf"(?:(?<![A-Za-z])(?:{_CONSTRUCT_WORDS})(?![A-Za-z])(?:(?:\s+mass)?(?:\s+(?:is|was|appears|remains))?\s+(?:solid(?:ly)?|healed"
    r"|mature|consolidated|incorporated|complete|bridging)(?![a-z]))?|融合(?:牢固|良好|坚强|坚固)"
    r"|延长(?:固定|融合|内固定)?(?:至|到)|内固定|固定|融合|螺钉|钉棒|置钉|钢板|钛板|钛网|内植物|植入物"
    r"|人工椎间盘|术后改变|术后(?=\s*[(\[])|暴露|显露|(?<![a-z])(?:exposure\s+of|exposed|exposing))", _FILLER)
_CONSTRUCT_AFTER = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:(?:-|~|to|至|到) *(?:the\s+)?(?:pelvis|ilium|iliac\s+wings?|sacrum|sacropelvis|occiput"
    r"|骨盆|髂骨|骶骨|枕骨) *)?(?:(?:is|are|was|were|has\s+been|have\s+been|previously|prior|solidly|surgically"
    rf"|posterior|anterior|lateral|pedicle|segmental|instrumented|interbody|spinal"
    rf"|percutaneous|circumferential|short|long)\s+)*(?:(?<![A-Za-z])(?:{_CONSTRUCT_WORDS})(?![A-Za-z])"
    r"|(?:后外侧|前外侧|后路|前路|侧路|经皮?|置入|植入|椎弓根|椎间|节段|植骨)*(?:螺钉|钉棒|内固定|固定|融合|置钉|钢板|钛板|钛网"
    r"|内植物|植入物|人工椎间盘|置换|术后改变|术后表现))"
    r"(?! *(?:loosening|loosened|loose|lucency|lucencies|halo|breakage|broken|fracture|fractured|failure|pull-?out|backing"
    r"|migration|migrated|subsidence|malposition|misplaced|breach|cut-?out|器?(?:下沉|松动|移位|断裂)|假关节|松动|断裂|断钉|拔出|移位|下沉|周围透亮|透亮|切割|位置不良))",
    re.IGNORECASE)
# Surgical history: the levels of an earlier operation are named to date it, not as the finding.
# A decompression done together with a fusion ("L2-L5 laminectomy and posterolateral fusion") is
# a construct span; any operation after "after / following / status post / s/p / prior" ("after
# L4-L5 laminectomy, new L3-L4 stenosis"), and in Chinese an operation chain ending in 术后
# (C4-5前路减压融合术后, 颈4-7后路单开门椎管扩大成形术后, L4/5椎板切除减压术后) is history; a
# recurrence (术后复发) stays the finding.
_PROCEDURES_EN = (r"(?:micro-?)?(?:laminectomy|laminectomies|laminotomy|laminotomies|laminoplasty|hemilaminectomy"
                  r"|decompression|decompressive\s+surgery|discectomy|diskectomy|foraminotomy|facetectomy|corpectomy"
                  r"|osteotomy|vertebroplasty|kyphoplasty|debridement|surgery|operation|procedure|ACDF|PLIF|TLIF|ALIF|XLIF|OLIF|LLIF"
                  r"|(?<![A-Za-z])(?:{_CONSTRUCT_WORDS}))")
_PROC_ADJ = (r"(?:posterior|posterolateral|anterior|lateral|instrumented|interbody|pedicle|screw|segmental|open"
             r"|minimally\s+invasive|percutaneous|bilateral|left|right|revision|spinal|lumbar|cervical|thoracic)")
_HISTORY_BEFORE = _CueBefore(
    r"(?:(?<![a-z])(?:after|following|status\s+post|s/p|post-?op(?:erative(?:ly)?)?|previous|prior|history\s+of"
    r"|previously|underwent|undergone|previously\s+operated)(?![a-z])|既往(?:曾)?(?:行|接受)?|曾(?:行|接受|于))", _FILLER)
_PROCEDURE_AFTER = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:{_PROC_ADJ}\s+)*(?:{_PROCEDURES_EN})(?![A-Za-z])".replace("{_CONSTRUCT_WORDS}", _CONSTRUCT_WORDS),
    re.IGNORECASE)
_DECOMPRESSION_FUSION_AFTER = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:{_PROC_ADJ}\s+)*(?:{_PROCEDURES_EN})(?:\s*(?:and|with|&|plus|/|,|\+)\s*"
    rf"(?:{_PROC_ADJ}\s+)*(?:{_PROCEDURES_EN}))*\s*(?:and|with|&|plus|/|,|\+)\s*(?:{_PROC_ADJ}\s+)*"
    rf"(?<![A-Za-z])(?:{_CONSTRUCT_WORDS})(?![A-Za-z])".replace("{_CONSTRUCT_WORDS}", _CONSTRUCT_WORDS),
    re.IGNORECASE)
# a Chinese operation named after 既往 / 曾行 (history before): 既往行C5-C7前路减压融合术
_PROCEDURE_AFTER_ZH = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:前路|后路|侧路|经皮|微创|椎体|椎管|椎板|椎间盘?|全|半|次全|切除|摘除|髓核|减压|融合|植骨|内固定|固定"
    r"|置换|人工|开窗|截骨|矫形|翻修|清创|病灶清除|ACDF|PLIF|TLIF|ALIF|XLIF|OLIF|LLIF|及|和|、|\+| )*(?:术|手术)")
_HISTORY_AFTER_ZH = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:前路|后路|侧路|经皮|微创|显微|内镜下?|椎间孔镜|脊柱|颈椎|胸椎|腰椎|椎体|椎管|椎板|椎间盘?|椎间孔"
    r"|全|半|部分|次全|单开门|双开门|开门|扩大|成形|切除|摘除|髓核|减压|融合|植骨|内固定|固定|复位|置换|人工|开窗|切开"
    r"|截骨|矫形|翻修|手术|ACDF|PLIF|TLIF|ALIF|XLIF|OLIF|LLIF|PELD|PETD|UBE|及|和|、|\+| )*术后(?!复发|再)")
_COUNT_BEFORE = _CueBefore(
    r"(?:transitional|lumbari[sz]\w*|sacrali[sz]\w*|labell?ed(?:\s+as)?|numbered(?:\s+as)?|counted(?:\s+as)?"
    r"|count(?:ing)?\s+(?:down\s+|up\s+)?from|numbering\s+from|designated(?:\s+as)?|rib-?bearing"
    r"|numbering|enumerat\w*|referred\s+to\s+as|(?:last|lowest)\s+(?:rib-?bearing|lumbar-?type|well-?formed|mobile\s+(?:dis[ck]|segment|level|vertebra)(?:\s+is)?)"
    r"|first\s+non-?rib-?bearing|(?:last|lowest|twelfth|12th)\s+ribs?|rudimentary|vestigial"
    r"|cervical\s+ribs?(?:\s*[,(]?\s*(?:arising|arises|arise|originating|originates|originate))?|颈肋(?:\s*[,，(]?\s*(?:起自|起于|发自))?"
    r"|iliolumbar\s+ligaments?(?:\s+(?:arising|arises|arise|originating|originates|originate|attaching|attaches|attach))?"
    r"|cord\s+(?:terminates|ends|ending|terminating)|脊髓(?:末端)?(?:止于|终止于|终于)|called|termed|conus(?:\s+medullaris)?(?:\s+(?:terminates|terminating|termination|ends|ending|lies|lying|is\s+located|tip|level"
    r"|is|was))*|(?:thecal|dural)\s+sac\s+(?:terminates|ends)"
    r"|(?:iliac\s+crests?|intercristal|tuffier'?s?)(?:\s+line)?(?:\s+(?:projects?|lies|lie|is|are|level\s+with|opposite"
    r"|crosses|passes\s+through|through))*"
    r"|移行椎?|骶化|腰化|计数|编号|圆锥(?:末端|尖端)?(?:约|大约)?(?:位于|止于|终止于|平|在|达)?|硬膜囊末端(?:位于|止于|平)?"
    r"|髂嵴(?:最高点)?(?:连线)?(?:平|位于|通过|经过|对应|约平)?|第12肋|末肋|最低肋|髂腰韧带(?:起自|起于|附着于)?)",
    r"(?:[\s(:]|(?<![A-Za-z])(?:the|a|an|vertebrae?|vertebral\s+body|as|is|was|at|of|to|from|level|normally|normal"
    r"|approximately|about|around|near|in|position)(?![A-Za-z])|为|于|位于|约|大约|相当于|水平)*")
_COUNT_AFTER = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:(?:is|was|as|being|appears|considered|is\s+considered)\s+(?:a\s+|partially\s+)?)?"
    r"(?:为|是|呈|属)?(?:transitional|(?:hemi|partial\s+)?lumbari[sz]\w*|(?:hemi|partial\s+)?sacrali[sz]\w*|rib-?bearing"
    r"|(?:(?:lies|is|projects)\s+)?(?:at\s+)?(?:the\s+)?(?:level\s+of\s+)?(?:the\s+)?(?:iliac\s+crests?|intercristal)"
    r"|(?:bilateral\s+|left\s+|right\s+)?cervical\s+ribs?|(?:双侧|左侧|右侧)?颈肋"
    r"|transverse\s+process(?:es)?\s+(?:(?:is|are)\s+)?(?:elongated|prominent|enlarged)|横突(?:肥大|过长)"
    r"|移行|骶化|腰化|半骶化|(?:向[上下])?(?:计数|编号)|(?:水平)?(?:平|对应)?髂嵴)", re.IGNORECASE)


# --- round 5 ---------------------------------------------------------------------------------
# planned surgery names the levels to be operated on, not a finding: "planned T4-L1 fusion",
# "plan: L4-5 TLIF", 拟行T4-L1后路矫形融合, 计划行颈4-胸2后路固定
_PLANNED_BEFORE = _CueBefore(
    r"(?:(?<![a-z])(?:planned|plan\s*:|plan\s+(?:for|is)|scheduled\s+for|proposed|booked\s+for|to\s+undergo|awaiting)(?![a-z])"
    r"|拟(?:行|于|施行|在)|计划行?|准备行|择期行?)", _FILLER, needs="pPsSbBtTaA拟计准择")
# an operation named right before its levels in an operative note or history ("Ponte osteotomies
# T12-L1 and L1-2", "Kyphoplasty T12 and L1 in 2021", "ACDF C5-6", "the upper instrumented vertebra
# being T10", 显露颈4至颈7)
_PROCEDURE_BEFORE = _CueBefore(
    r"(?<![a-z])(?:(?:ponte|smith-?petersen|pedicle\s+subtraction|vertebral\s+column\s+resection)?\s*osteotom(?:y|ies)"
    r"|acdf|accf|corpectom(?:y|ies)|discectom(?:y|ies)|diskectom(?:y|ies)"
    r"|laminectom(?:y|ies)|laminotom(?:y|ies)|laminoplast(?:y|ies)|foraminotom(?:y|ies)|facetectom(?:y|ies)|[ptaxol]lif"
    r"|(?:upper(?:most)?|lower(?:most)?|lowest|proximal|distal)\s+instrumented\s+(?:vertebra|level|segment)(?:\s+being)?"
    r"|uiv|liv)(?![a-z])", _FILLER)
# a level dated by its year is a history item ("ACDF C5-6 (2015), C6-7 (2018)", "Kyphoplasty T12 and L1
# in 2021"; a kyphoplasty without a date is the current operation at the fractured level and stays)
_DATED_AFTER = re.compile(rf"{_LEVEL_WORD} *(?:[(\[] *(?:19|20)\d\d *[)\]]|in +(?:19|20)\d\d(?!\d)|[(\[]? *(?:19|20)\d\d *年)",
                          re.IGNORECASE)
# an old biopsy at a level that came back negative ("T8 biopsy from 2022 negative", T8活检阴性)
_NEGATIVE_BIOPSY_AFTER = re.compile(
    rf"{_LEVEL_WORD} *(?:(?:ct-?guided|needle|core|bone)\s+)*(?:biops(?:y|ies)|活检|穿刺活检)"
    r"(?:(?!positive|confirm|show|reveal|metasta|malig|tumou?r|lymphoma|myeloma|infect|阳性|转移|恶性|肿瘤|感染)[^.;!?。；！？]){0,40}?"
    r"(?:negative|benign|non-?diagnostic|阴性|未见(?:肿瘤|恶性)|良性)", re.IGNORECASE)
# a level already decompressed: "C6/7 is well decompressed after his earlier ACDF", 颈6/7减压充分
_DECOMPRESSED_AFTER = re.compile(
    rf"{_LEVEL_WORD} *(?:(?:is|was|are|were|has\s+been|appears?|remains?)\s+)?(?:(?:well|adequately|widely|fully|already)\s+)?"
    r"(?:decompressed|减压(?:充分|彻底|满意|良好))", re.IGNORECASE)
# levels of an operation in an operative note: 于颈4/5、颈5/6行前路椎间盘切除植骨融合
_OPERATED_AFTER_ZH = re.compile(
    rf"{_LEVEL_WORD} *[)\]]? *(?:分别)?行 *(?:前路|后路|侧路|经皮|微创|显微|内镜下?|椎体|椎间盘?|椎管|椎板|全|半|次全)*"
    r"(?:切除|摘除|减压|融合|固定|置换|成形|开窗|截骨|矫形|植骨|手术|术|ACDF|ACCF|PLIF|TLIF|ALIF|XLIF|OLIF|LLIF|PELD|UBE)")


def _groups(text: str, raw: str, mentions: list[tuple[int, int, list[str]]]) -> list[list[int]]:
    """Indices of mentions joined by list words only ("L2-L3, L3-L4 and L4-L5"); a full-width
    comma (in ``raw``, the text before normalisation) ends a Chinese clause, not a list."""
    groups: list[list[int]] = []
    for i, (start, _end, _levels) in enumerate(mentions):
        prev_end = mentions[i - 1][1] if i else 0
        if groups and _LIST_JOIN.fullmatch(text, prev_end, start) and "，" not in raw[prev_end:start]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class _Scan:
    """Where the cues of one text are, found once per text (not once per level): the ends of
    each before-cue, clause ends, negations and what ends a negation's reach."""

    def __init__(self, text: str, raw: str, mentions: list[tuple[int, int, list[str]]]):
        self.cue_ends = [cue.ends(text) for cue in _CUES_BEFORE]
        self.history_ends = _HISTORY_BEFORE.ends(text)
        low = text.lower()
        self.after_extra = tuple(p for p, hint in ((_DECOMPRESSION_FUSION_AFTER, _PROCEDURE_HINT.search(text) is not None),
                                                   (_HISTORY_AFTER_ZH, "术后" in text),
                                                   (_DATED_AFTER, _YEAR_HINT.search(text) is not None),
                                                   (_NEGATIVE_BIOPSY_AFTER, "biops" in low or "活检" in text),
                                                   (_DECOMPRESSED_AFTER, "decompressed" in low or "减压" in text),
                                                   (_OPERATED_AFTER_ZH, "行" in text)) if hint)
        self.corrected = _CORRECTED_HINT.search(text) is not None
        self.clause_ends = [m.end() for m in _CLAUSE_END.finditer(text)]
        self.neg_ends = [m.end() for m in _NEGATION.finditer(text)]
        level_ends = {end for _start, end, _levels in mentions}
        level_starts = {start for start, _end, _levels in mentions}
        # a comma between two levels continues a list; any other comma, and a full-width one
        # (seen in `raw`, before normalisation: it ends a Chinese clause), ends a negation's reach
        commas = {i for i, c in enumerate(text) if c == "," and (
            raw[i] == "，" or len(text[:i].rstrip()) not in level_ends
            or _LIST_NEXT.match(text, i + 1).end() not in level_starts)}
        self.breaks = sorted({m.start() for m in _NEG_BREAK.finditer(text)} | commas)

    def negated_before(self, start: int) -> bool:
        """A negation in the level's clause (at most 120 characters back) that nothing between
        it and the level cancels."""
        i = bisect_right(self.clause_ends, start)
        clause_start = max(start - 120, self.clause_ends[i - 1] if i else 0)
        j = bisect_right(self.neg_ends, start)
        if not j or self.neg_ends[j - 1] <= clause_start:
            return False
        k = bisect_right(self.breaks, start - 1)
        return not (k and self.breaks[k - 1] >= self.neg_ends[j - 1])


_CUES_BEFORE = (_DERMATOME_BEFORE, _BRACKETED_DERMATOME_BEFORE, _BRACKETED_MYOTOME_BEFORE, _MYOTOME_BEFORE, _CONSTRUCT_BEFORE,
                _EXTENSION_BEFORE, _COUNT_BEFORE, _PLANNED_BEFORE, _PROCEDURE_BEFORE)
_CUES_AFTER = (_DERMATOME_AFTER, _MYOTOME_AFTER, _COUNT_AFTER, _NEGATED_AFTER)
# a complication of the hardware named before its level is a finding at that level ("loosening of the L5
# screws", "lucency around the S1 screws", "断裂的L4螺钉"): the construct word after the level does not drop it
_COMPLICATION_BEFORE = re.compile(
    r"(?:loosening|loosened|loose|lucency|lucencies|halo|breakage|broken|fracture|fractured|failure|pull-?out|backing\s+out"
    r"|migration|migrated|subsidence|malpositioned|misplaced|breach)(?:\s+(?:of|around|at|in|the|left|right|bilateral|both))*\s*$"
    r"|(?:松动|断裂|拔出|移位|下沉|位置不良)的?\s*$", re.IGNORECASE)
# an intra-operative hardware event that was corrected is no imaging finding at that level ("the T12 pedicle
# screw breached medially and was redirected", L1螺钉穿破内侧壁，予以调整); a complication seen on imaging
# ("L5 screw loosening") still is
_CORRECTED_AFTER = re.compile(
    rf"{_LEVEL_WORD} *(?:(?:left|right|bilateral|pedicle|lateral\s+mass|iliac|sacral)\s+)*(?:screws?|rods?|hooks?|cages?|椎弓根)?"
    r"(?:螺钉|钉道|置钉)?[^.;!?。；！？]{0,60}?(?:(?:was|were|is|are|has\s+been|have\s+been)\s+(?:then\s+|subsequently\s+|immediately\s+)?"
    r"(?:redirected|repositioned|re-?inserted|re-?sited|re-?placed|revised|corrected|exchanged|withdrawn)|予以?(?:调整|重置|更换|拔除)|重新置入|调整方向后)",
    re.IGNORECASE)
_CORRECTED_HINT = re.compile(r"redirect|reposition|re-?insert|re-?site|re-?place|revised|corrected|exchanged|withdrawn|予|重新置入|调整",
                             re.IGNORECASE)
_REVISED_COMPLICATION = re.compile(r"(?:revision|revised|removal|removed|exchange|replacement)\s+of\s+(?:the\s+)?(?:\S+\s+){0,2}\S+\s*$"
                                   r"|(?:翻修|取出|更换)\S{0,4}$", re.IGNORECASE)
_YEAR_HINT = re.compile(r"(?:19|20)\d\d")
# texts that can hold a decompression-and-fusion span or a Chinese 术后 history (cheap gates)
_PROCEDURE_HINT = re.compile(r"fus|fix|instrument|arthrodes|construct|screw|rod|plat|cage|lif\b|acdf", re.IGNORECASE)


def _excluded(text: str, start: int, end: int, scan: _Scan, next_start: int | None) -> bool:
    """Whether the group at text[start:end] is not what a finding is about (the cue kinds above);
    `next_start` is where the next level expression starts (None: there is none)."""
    if (any(cue.before(text, start, ends) for cue, ends in zip(_CUES_BEFORE, scan.cue_ends))
            or any(after.match(text, end) for after in _CUES_AFTER) or scan.negated_before(start)
            or (_CONSTRUCT_AFTER.match(text, end) and (not _COMPLICATION_BEFORE.search(text, max(0, start - 40), start)
                                                        or _REVISED_COMPLICATION.search(text, max(0, start - 40), start)))
            or any(after.match(text, end) for after in scan.after_extra)
            or (_HISTORY_BEFORE.before(text, start, scan.history_ends)
                and (_PROCEDURE_AFTER.match(text, end) or _PROCEDURE_AFTER_ZH.match(text, end)))
            or (scan.corrected and _CORRECTED_AFTER.match(text, end))):
        return True
    lacks = _LACKS_AFTER.match(text, end)
    if not lacks or _LOCATIVE.search(text, max(0, start - 30), start):
        return False
    i = bisect_right(scan.clause_ends, lacks.end())
    clause_end = scan.clause_ends[i] if i < len(scan.clause_ends) else len(text)
    placed_elsewhere = (next_start is not None and next_start < clause_end
                        and _LOCATIVE.search(text, max(lacks.end(), next_start - 30), next_start) is not None)
    return not placed_elsewhere


def _about_findings(text: str, raw: str, mentions: list[tuple[int, int, list[str]]]) -> list[str]:
    """The levels of the mentions no rule excludes.  A nerve root ("the L5 root", "S1
    radiculopathy") is the lesion's level only when its sentence names no other kept level:
    "L4-L5 herniation compressing the L5 root" is about L4-L5."""
    kept: list[tuple[int, list[str], bool]] = []  # (sentence number, levels, is a root mention)
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    scan = _Scan(text, raw, mentions)
    for group in _groups(text, raw, mentions):
        first, last = mentions[group[0]], mentions[group[-1]]
        next_start = mentions[group[-1] + 1][0] if group[-1] + 1 < len(mentions) else None
        if _excluded(text, first[0], last[1], scan, next_start):
            continue
        for i in group:
            start, end, levels = mentions[i]
            is_root = (_ROOT_AFTER.match(text, end) is not None
                       or _ROOT_BEFORE.search(text, max(0, start - 30), start) is not None
                       or (i != group[-1] and _ROOT_AFTER.match(text, last[1]) is not None))
            kept.append((bisect_right(sentence_ends, start), levels, is_root))
    if any(not is_root for _sent, _levels, is_root in kept):  # a lesion level anywhere in the text
        kept = [k for k in kept if not k[2]]
    return [lv for _sent, levels, _is_root in kept for lv in levels]


@lru_cache(maxsize=4096)
def canonical_level(token: str) -> str | None:
    """The canonical spelling of one level token, or None if it is not exactly one level.

    ``"l4/5"`` -> ``"L4-L5"``, ``"腰5骶1"`` -> ``"L5-S1"``, ``"第12胸椎"`` -> ``"T12"``,
    ``"Th12"`` -> ``"T12"``, ``"腰4、5椎间盘"`` -> ``"L4-L5"``; ``"L3-5"`` (two segments), ``"L7"``,
    ``"T2WI"`` -> None.  The token is taken as a level on its own, so the T1/T2 context rule
    does not apply.
    """
    if not isinstance(token, str):
        return None
    text = _normalise(token).strip()
    if text in LEVELS:
        return text
    match = _EXPR.match(text)
    if match is None or not _TOKEN_TAIL.fullmatch(text, match.end()):
        return None
    tokens, _ = _tokens(match)
    if len(tokens) > 1 and _DISC_AFTER.match(text, match.end()):  # "腰4、5椎间盘"
        tokens = _disc_list(tokens) or tokens
    levels, _ = _evaluate(tokens)
    if len(levels) != 1:
        return None
    return levels[0]


def level_prf(predicted: list[str], reference: list[str]) -> dict[str, float | int]:
    """Set precision/recall/F1 of predicted levels against reference levels.

    Both lists are canonicalised (any notation ``canonical_level`` accepts) and deduplicated;
    an item that is not a level raises ValueError naming it.  Empty cases: both empty ->
    precision = recall = f1 = 1.0 (nothing to find, nothing claimed); exactly one side
    empty -> all three 0.0 (a reference without levels cannot reward a model for naming
    some, and a model that names none gets no credit for vacuous precision).
    """
    pred = _canonical_set(predicted, "predicted")
    ref = _canonical_set(reference, "reference")
    tp, fp, fn = len(pred & ref), len(pred - ref), len(ref - pred)
    if not pred and not ref:
        precision = recall = f1 = 1.0
    elif not pred or not ref:
        precision = recall = f1 = 0.0
    else:
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _canonical_set(levels: list[str], name: str) -> set[str]:
    if isinstance(levels, str):
        raise TypeError(f"{name} must be a list of levels, not a string: {levels!r}")
    out: set[str] = set()
    for item in levels:
        canon = canonical_level(item) if isinstance(item, str) else None
        if canon is None:
            raise ValueError(f"{name} contains {item!r}, which is not one vertebral level")
        out.add(canon)
    return out
