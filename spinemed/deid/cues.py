"""The cue rules of the de-identification (see the package docstring and docs/deid.md).

Originally the whole detector; the recall-first layers (recall.py, zh.py) now sit beside it
and scrubber.py resolves all candidates.  What follows describes these rules.


Two uses share one detector:

* the corpus pipeline scrubs every raw source (``deidentify`` for free text,
  ``deidentify_fields`` for structured inpatient records) before any LLM sees it;
* publishing re-runs ``find_identifiers`` over every generated string and refuses to
  upload while anything is found.

Because the second use blocks a release, false positives on ordinary clinical text are
defects: vertebral levels (L4/5, 腰4/5), scores (VAS 7/10, JOA 12/17), lab values, doses,
figure labels, eponyms and author citations ("Smith et al., 2019") must survive. Hence the
rules are deliberately *cue-driven*: a capitalised word is a person name only next to a
title, role, kinship word or label ("Dr.", "Patient:", "his daughter", "患者", "之子", "先生")
or before what a note says of a patient ("… is a 67-year-old", "… underwent", "…, his
wife"), where a list of common given names confirms the weaker cues; a number is an MRN only
after an MRN label; free-standing formats are limited to those that are unambiguous on their
own (emails, URLs, IPs, phone formats, full dates, 18-digit resident ID numbers, SSNs,
Chinese licence plates).

Every rule is a regular expression compiled once at import. ``deidentify`` replaces each
finding with a bracketed placeholder of its kind (``[NAME]``, ``[DATE]`` …, ages over 89
become ``[AGE>89]``); placeholders are never reported, so scrubbing is idempotent.

Bump ``DEID_VERSION`` whenever a rule changes: it is recorded in every published row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..text import CJK_EXT_A, CJK_UNIFIED

__all__ = [
    "AGE_BUCKET",
    "DEFAULT_ALLOWED_URL_HOSTS",
    "DEID_VERSION",
    "KINDS",
    "PLACEHOLDERS",
    "Finding",
]

DEID_VERSION = "2.0.0"

KINDS = (
    "NAME", "DATE", "MRN", "ID", "PHONE", "FAX", "EMAIL", "ADDRESS",
    "HOSPITAL", "URL", "IP", "ACCOUNT", "AGE",
)
# Safe Harbor keeps ages up to 89; older ages are aggregated into one "90 or older" bucket.
PLACEHOLDERS = {kind: f"[{kind}]" for kind in KINDS} | {"AGE": "[AGE>89]"}
AGE_BUCKET = "90+"  # replacement for a numeric age over 89 in structured fields

# Rule priorities when two findings overlap: a labelled value ("MRN: …") beats a format
# guessed from its shape, which beats a weak cue; ties go to the longer span.
_P_KNOWN, _P_LABEL, _P_FORMAT, _P_CUE = 4, 3, 2, 1


@dataclass(frozen=True)
class Finding:
    """One identifier found in a text: its kind (one of KINDS), the text and its span."""

    kind: str
    text: str
    start: int
    end: int


# ======================================================================================
# Shared vocabulary
# ======================================================================================

_CJK = CJK_UNIFIED + CJK_EXT_A


def _cjk_class_without(excluded: str) -> str:
    """A character class of the CJK ranges minus `excluded`: one set test per character,
    where a negative lookahead before each character would cost two."""
    ranges = []
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)):
        cut = sorted(ord(c) for c in set(excluded) if lo <= ord(c) <= hi)
        start = lo
        for c in [*cut, hi + 1]:
            if start <= c - 1:
                ranges.append(chr(start) if start == c - 1 else f"{chr(start)}-{chr(c - 1)}")
            start = c + 1
    return "[" + "".join(ranges) + "]"


_PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(KINDS) + r"|AGE>89)\]")

# English capitalised words that are not person names; a cue followed by one of these is a
# heading, a sentence or a specialty, not a name ("Patient: Male", "Attending: Spine Team").
_EN_STOPWORDS = frozenset("""
a an the this that these those there here it its i my me we our us you your he she his her him they their them
and or but nor so if then than as at by for from in into of on onto to with without within via per about after
before since until during while when where which who whom whose what why how yes no not none nil unknown na n/a
ok okay well hello hi dear thanks thank please sorry sure good fine great also just only very much more most
is are was were be been being am do does did done have has had can could should would will shall may might must
based according regarding given overall currently recently usually sometimes today yesterday tomorrow now
male female man woman boy girl child adult elderly patient patients pt case cases history mr mrs ms dr prof
department dept division unit ward team service clinic hospital center centre institute university college school
medical medicine surgery surgical surgeon physician doctor nurse nursing resident fellow consultant attending
orthopedic orthopedics orthopaedic orthopaedics spine spinal neurosurgery neurosurgical neurology neurological
radiology radiological pathology anesthesia anaesthesia anesthesiology rehabilitation physiotherapy internal
emergency general family primary care intensive icu outpatient inpatient pain trauma oncology
chief complaint diagnosis impression plan assessment findings finding exam examination imaging report summary
note notes signed signature reviewed reported verified dictated approved pending same above below none
left right bilateral anterior posterior lateral medial upper lower cervical thoracic lumbar sacral
sign signs test tests syndrome disease disorder type grade stage class score scale index level levels
selection criteria outcome outcomes measure measures reported results result method methods discussion
january february march april june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
introduction background objective objectives purpose conclusion conclusions study subject subjects participant
participants presentation vignette proband index clinical typical classic
""".split())

# Common English given names, used only to *confirm* a capitalised run that a weaker clinical
# context proposes ("John Smith underwent …", "wife Karen", "Sarah, his daughter"); a word
# here is never a name on its own. Names that are everyday words, months, places or parts of
# eponyms (Will, May, Grace, Mark, Ray, Gene, Chance, Virginia, Addison, Ludwig …) are left
# out on purpose.
_EN_FIRST_NAMES = frozenset("""
aaron abigail adam adrian adriana agnes ahmed aidan aisha alan albert alejandro alexander alexandra alexis alfred
alice alicia alison alistair allison amanda amelia amit amy ana andrea andrew andy angela angelina angus anita ann
anna anne annette anthony antonio arjun arthur ashley astrid audrey ava barbara barry beatrice ben benjamin bernard
betty beverly billy bobby brandon brenda brendan brian bridget brittany bruce bryan caleb callum carl carlos
carmen carol carolyn catherine cathy charles charlie charlotte cheryl chloe christina christine christopher cindy
claire clara clarence claudia colin colleen connor craig cynthia daniel danielle danny darren david deborah debra
denise dennis derek diana diane diego dmitri dolores donald donna doris dorothy douglas duncan dylan earl eddie
edgar edith edna edward edwin eileen elaine eleanor elena elijah elizabeth ella ellen emily emma eric erica erik
ernest ethan ethel eugene evelyn fatima fernando fiona frances francesca francis francisco fred frederick gabriel
gabriela gareth gary geoffrey george gerald gina giovanni giuseppe gladys gloria gordon graham greg gregory greta
hannah harold harriet harry hassan heather heidi helen henry herbert hiroshi howard hugh ian ibrahim igor ingrid
irene isaac isabel isabella isabelle ivan jacob jacqueline jake james jamie jane janet janice jasmine jason javier
jean jeffrey jennifer jenny jeremy jerry jessica jill jim jimmy joan joanne joe joel john johnny jon jonathan jorge
jose joseph joshua joyce juan judith judy julia julian julie justin karen kate katherine kathleen kathryn kathy
katie keiko keith kelly kenneth kevin kimberly kyle lars laura lauren lawrence leah leonard leslie liam linda lisa
lloyd logan lois lorraine louis louise lucas lucia lucy luis luke lynn madison malcolm manuel marco margaret maria
mariana marie marilyn marion marjorie martha martin marvin mary matthew maureen megan melanie melissa melvin
michael michelle miguel mildred mohammed monica muhammad nancy natalie natasha nathan neil nicholas nicole nigel
noah norma norman olga oliver olivia omar oscar owen pamela patricia patrick paul paula pedro peggy peter philip
phyllis pierre priya rachel rafael rahul raj ralph randy raymond rebecca regina rhys ricardo richard rita robert
roberta roger ronald rosa russell ruth ryan sally samantha samuel sandra sanjay sara sarah scott sean sergei
sharon sheila shirley simon siobhan sofia sophia sophie stanley stefan stephanie stephen steven stuart susan
svetlana sylvia tanya tatiana teresa terry theresa thomas timothy tina todd tom tony tracy trevor tyler valerie
vanessa veronica victor vikram vincent walter wayne wendy william willie yusuf yvonne zachary zoe
""".split())

_EN_TITLES = r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor)"
_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# One capitalised name token: Smith, O'Brien, McDonald, Jean-Luc, Séquard.
_EN_TOKEN = (
    rf"(?:Mc|Mac|O['’]|D['’])?[{_UPPER}][{_LOWER}]+(?:[-'’][{_UPPER}{_LOWER}][{_LOWER}]+)?"
)
_EN_INITIAL = rf"[{_UPPER}]\."
# Names never run across lines ("Name: Maria Garcia\nAge: 67").
_EN_NAME_SEQ = rf"(?:{_EN_INITIAL}[ \t]*)?{_EN_TOKEN}(?:[ \t]+(?:{_EN_INITIAL}|{_EN_TOKEN})){{0,3}}"
_EN_TOKEN_RE = re.compile(_EN_TOKEN + "|" + _EN_INITIAL)

# Common Chinese surnames. Rare surnames that are everyday words in clinical text (阳 in
# 阳性, 房 in 房颤, 曲 in 曲度, 解 in 解除 …) are left out on purpose: a rare patient name
# missed by the generic rule is still caught through the record's own name field.
_ZH_COMPOUND_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木 "
    "独孤 南宫 西门 呼延 澹台 公冶 太史 申屠 百里 第五 万俟 闻人 赫连 拓跋"
).split()
_ZH_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
    "武戴莫孔向汤常温康施文牛樊葛邢安齐乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿关兰焦俞左柳甘祝宁尚舒阮柯纪梅"
    "童凌毕单季裴霍涂成苗谷盛翁冉骆蓝游辛靳管柴鲍喻祁蒲滕饶牟艾尤卓缪麦褚娄戚岑宫卜晏卫柏瞿桂佟臧"
    "闵苟邬卞姬仇栾隋刁寇桑郎甄丛仲虞敖邝鞠冀郁胥栗鄢谌奚粟冼蔺楼闻厉伊仝郜阚朴禹祖漆卿狄晁芮阙浦"
    "邸雍辜裘亓邰赫杭逯茹嵇湛宾戎茅於昝衡"
)
# Surnames that double as common words; they need a given name after them ("于医生" after
# "用于" / "对于" is not a person).
_ZH_SURNAMES_AMBIGUOUS = set("于向高常全应单成安文方石白金任关管左曾余时平康严温江龙段雷史付田马章")
_ZH_SURNAME_SAFE = "".join(c for c in _ZH_SURNAMES if c not in _ZH_SURNAMES_AMBIGUOUS)
_ZH_SURNAME = "(?:" + "|".join(_ZH_COMPOUND_SURNAMES) + f"|[{_ZH_SURNAMES}])"
_ZH_SURNAME_ONLY = "(?:" + "|".join(_ZH_COMPOUND_SURNAMES) + f"|[{_ZH_SURNAME_SAFE}])"
# Characters that end a Chinese name: function words and clinical morphemes that follow a
# name in running text but are (almost) never part of a given name.
_ZH_NOT_GIVEN = (
    "的了是在于因和与及或并而且但被把将对从向为以已曾又再仍也都就才还均各每该此其这那者之所等无有不未没非否"
    "需须应要会能行做作给予诉述见示查入出去进至到回返住院诊治疗术后前内外上下左右侧部肢体痛症病史日年周时分次"
    "岁男女性例名个件项号床科室区处我您他她它们主副长"
)
_ZH_GIVEN = _cjk_class_without(_ZH_NOT_GIVEN)
_ZH_NAME = rf"(?:{_ZH_SURNAME}(?:某某?|{_ZH_GIVEN}{{1,2}}))"
# Words that start with a surname character and are common in clinical Chinese.
_ZH_NOT_NAMES = frozenset("""
关系 高血压 高血 高热 高龄 高度 高位 高危 高强 高能 高烧 高密 高信 曾经 曾有 左侧 左手 左足 左腿 左肩 左膝 左髋
左臂 右侧 向左 向右 方可 方能 方案 方式 方向 方面 方便 常规 常见 常有 全身 全麻 全部 全程 应用 应当 应该 单侧
单纯 单个 成功 成人 成年 安静 安全 安眠 文献 康复 严重 严格 马尾 白细 白天 石膏 金属 任何 周身 周围 陈旧 黄疸
黄韧 黄色 程度 段落 许多 苏醒 范围 夏季 付出 黎明 顾虑 毛发 莫名 温度 施行 施术 易于 庞大 颜面 关节 焦虑 包括
尚可 尚未 尚有 尚无 符合 舒适 童年 凌晨 季节 涂抹 曲度 游离 管理 管道 管腔 尤其 窦性 宫颈 费用 卫生 巩固 隆起
诸多 亢进 毕竟 余下 江湖 龙骨 雷击 田间 万一 齐全 梁柱 华丽 宁静 谷氨 甘油 甘露 纪录 梅毒 霍乱 苗头 盛行
曾建 曾服 曾接 曾多 曾反 曾使 曾用 曾口 曾尝 曾试 曾患 曾发 曾感 曾觉 曾伴 曾查 曾拍 曾做
""".split())

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_MONTHS_NOT_MAY = _MONTHS.replace("|May|", "|")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUM = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"

_US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
).split()
_US_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho"
    "|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota"
    "|Mississippi|Missouri|Montana|Nebraska|Nevada|New[ \t]+Hampshire|New[ \t]+Jersey|New[ \t]+Mexico"
    "|New[ \t]+York|North[ \t]+Carolina|North[ \t]+Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode[ \t]+Island"
    "|South[ \t]+Carolina|South[ \t]+Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West[ \t]+Virginia"
    "|Wisconsin|Wyoming|Puerto[ \t]+Rico"
)
_EN_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter"
    r"|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Trl|Crescent|Close)"
)
_ZH_PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 "
    "贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()
# Characters that cannot be part of a Chinese place or institution name: they belong to the
# verb or preposition before it ("转至", "就诊于", "患者来自").
_ZH_NOT_PLACE = "在于至到来去赴入出转住址就诊由经从往返送回及与或的是为我本该某其他曾已再又均请并因患者即后前行、"
_ZH_PLACE = _cjk_class_without(_ZH_NOT_PLACE)

# Generic descriptions of a hospital that name no institution ("当地医院", "县人民医院").
_ZH_GENERIC_HOSPITAL_LEAD = re.compile(
    r"^(?:上级|当地|基层|综合|专科|三级甲等|三级|二级|一级|三甲|二甲|附近|私立|公立|教学|县级|市级|省级|区级|外地|本地"
    r"|其他|其它|多家|各级|各|定点|指定|大型|正规|普通|一般|专业|知名|外院|某|家|所|一家|两家|首诊|就近|同一)+"
)
_ZH_GENERIC_HOSPITAL_REST = re.compile(
    r"^[省市县区镇乡]?(?:第[一二三四五六七八九十]+)?(?:人民|中医|中西医结合|妇幼保健|妇幼|儿童|肿瘤|精神病|传染病|口腔"
    r"|眼科|骨科|骨伤科|康复|社区|乡镇|中心|职工|工人|军队|部队|医科大学附属|大学附属|附属)?$"
)
_EN_HOSPITAL_GENERIC = frozenset("""
the a an our this that their his her its local outside community regional general university teaching private
public county city state district tertiary referral memorial children's childrens women's womens veterans
orthopedic orthopaedic spine spinal rehabilitation cancer trauma specialty specialist academic main central
another other same nearby previous prior first second third
fracture liaison scoliosis back neck pain bone joint foot ankle hand knee hip shoulder sports injury osteoporosis
metabolic follow-up review preoperative pre-operative preadmission assessment rehab day walk-in urgent memory
diabetes dialysis renal wound cast plaster surgical medical mental psychiatric dental eye maternity
""".split())


# ======================================================================================
# Rules
# ======================================================================================
#
# Speed matters (the 457k-item corpus goes through here twice), and Python's `re` is slow on
# case-insensitive alternations (~10x), on patterns that open with an assertion or an
# optional group (no first-character scan) and on alternations mixing Latin and CJK. So:
# labels are found by two prefix tries run over the lower-cased text; each other pattern
# opens with a literal or a character class and checks the character before it in Python;
# patterns anchored on a suffix ("…医院", "…Hospital", "…先生") only run in windows around
# that suffix; rules that cannot match (no "@", no "岁", no Chinese at all) are skipped.

# A candidate: (start, end, kind, priority).
_Cand = tuple[int, int, str, int]
_Check = Callable[[re.Match, str], "tuple[int, int] | None"]


def _c(pattern: str, flags: int = 0) -> re.Pattern:
    # ASCII: \w, \d and \b must not treat CJK as word characters, or "电话13800138000" and
    # "住院号2023001234患者" would have no boundary around the number.
    return re.compile(pattern, flags | re.ASCII)


def _free_before(chars: Iterable[str]) -> Callable[[re.Match, str], bool]:
    """True when the match is not glued to a preceding character from `chars`."""
    chars = frozenset(chars)

    def ok(m: re.Match, text: str) -> bool:
        i = m.start()
        return i == 0 or text[i - 1] not in chars

    return ok


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NUM_GLUE = _WORD_CHARS | frozenset(".-/")  # "v1.2023-03-14", "L4-5/…" are not dates
_free_of_word = _free_before(_WORD_CHARS)
_free_of_number = _free_before(_NUM_GLUE)


@dataclass(frozen=True)
class _Rule:
    """A compiled pattern; group "v" (or the whole match) is the identifier.

    before: the match must not follow one of these characters (checked in Python so the
    pattern can open with a literal). check: may veto or narrow a match, returning the final
    (start, end) or None. trigger/window: run only around trigger hits, `window` characters
    before and after each. needs / cjk: cheap tests that skip a pass that cannot match.
    """

    name: str
    kind: str
    regex: re.Pattern
    priority: int
    before: Callable[[re.Match, str], bool] | None = None
    check: _Check | None = None
    trigger: re.Pattern | None = None
    window: tuple[int, int] = (0, 0)
    cjk: bool = False  # only meaningful in text with Chinese characters
    needs: tuple[str, ...] = ()  # skip the pass unless the text holds one of these strings

    def scan(self, text: str) -> Iterator[_Cand]:
        if self.needs and not any(s in text for s in self.needs):
            return
        has_v = "v" in self.regex.groupindex
        for lo, hi in _windows(self.trigger, text, self.window) if self.trigger else ((0, len(text)),):
            for m in self.regex.finditer(text, lo, hi):
                if self.before is not None and not self.before(m, text):
                    continue
                if self.check is not None:
                    span = self.check(m, text)
                    if span is None:
                        continue
                    start, end = span
                else:
                    start, end = m.span("v") if has_v and m.start("v") >= 0 else m.span()
                if start < end:
                    yield start, end, self.kind, self.priority


def _merge_windows(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping [lo, hi) ranges merged."""
    merged: list[list[int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _windows(trigger: re.Pattern, text: str, window: tuple[int, int]) -> list[tuple[int, int]]:
    """Merged [lo, hi) ranges around each trigger hit."""
    spans: list[list[int]] = []
    before, after = window
    for m in trigger.finditer(text):
        lo, hi = max(0, m.start() - before), min(len(text), m.end() + after)
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    return [(lo, hi) for lo, hi in spans]


# ---- English names ---------------------------------------------------------------------

_ET_AL = _c(r",?\s+et\.?\s+al\b")


def _en_name_span(m: re.Match, text: str, min_tokens: int = 1) -> tuple[int, int] | None:
    """Narrow a matched name to its name tokens, dropping what follows a non-name word.

    Rejects the match when its first token is a common word, when fewer than
    ``min_tokens`` name words remain, and when it is an author citation ("Smith et al.").
    """
    start, end = m.span("v")
    tokens = list(_EN_TOKEN_RE.finditer(text, start, end))
    for i, tok in enumerate(tokens):
        if tok.group().lower() in _EN_STOPWORDS or text.startswith(":", tok.end()):
            tokens = tokens[:i]  # a common word or the next field's label ends the name
            break
    while tokens and tokens[-1].group().endswith("."):
        tokens.pop()  # a trailing initial is more likely a sentence end ("… Smith J.")
    if sum(not t.group().endswith(".") for t in tokens) < min_tokens:
        return None
    end = tokens[-1].end()
    if _ET_AL.match(text, end):
        return None
    return tokens[0].start(), end


# What may follow a name that only a label vouches for: the end of the field, not a sentence
# going on ("Doctor: Ankylosing Spondylitis is …" is a sentence, not a name).
_EN_NAME_FIELD_END = _c(
    r"[ \t]*(?:$|[\r\n,;.()\[\]|/]|\t|[ ]{2}|(?:[A-Z][A-Za-z]*[ ]?){1,3}[:#]|(?:MRN|DOB|ID|MD|M\.D\.)\b)"
)
# … or, after a role word in running text, a verb that typically follows a person.
_EN_NAME_SENTENCE_END = _c(
    r"\s+(?:was|is|has|had|presented|presents|underwent|reports|reported|complained|complains|denies|denied"
    r"|came|returned|arrived|who|and|agreed|consented|refused|stated|said|brought|accompanied|accompanies|visited"
    r"|called|requested|signed|lives|provided|confirmed|will|would)\b"
)


def _en_role_name_span(m: re.Match, text: str) -> tuple[int, int] | None:
    span = _en_name_span(m, text, min_tokens=2)
    if span is None or span[1] != m.end("v"):
        return None
    if _EN_NAME_FIELD_END.match(text, span[1]) or _EN_NAME_SENTENCE_END.match(text, span[1]):
        return span
    return None


_EN_NAME_RULES = [
    _Rule(
        "en-title", "NAME",
        _c(rf"{_EN_TITLES}\.?[ \t]+(?P<v>{_EN_NAME_SEQ})"),
        _P_CUE, _free_before(_WORD_CHARS | {"."}), _en_name_span, needs=("Mr", "Ms", "Mx", "Dr", "Prof", "Miss"),
    ),
    _Rule(
        # Signature with a degree: "Emily Carter, MD".
        "en-credential", "NAME",
        _c(
            rf"(?P<v>(?:{_EN_INITIAL}[ \t]*)?{_EN_TOKEN}(?:[ \t]+(?:{_EN_INITIAL}|{_EN_TOKEN})){{1,3}}),?[ \t]+"
            r"(?:MD|M\.D\.|DO|D\.O\.|RN|PhD|Ph\.D\.|NP|PA-C|MBBS|MBChB|FRCS|FRCSC|FACS|DNP|CRNA)\b"
        ),
        _P_CUE, None, lambda m, t: _en_name_span(m, t, 2),
        trigger=_c(r"\b(?:MD|M\.D\.|DO|D\.O\.|RN|PhD|Ph\.D\.|NP|PA-C|MBBS|MBChB|FRCS|FRCSC|FACS|DNP|CRNA)\b"),
        window=(80, 2),
    ),
]


# Names without a title or label, anchored on what follows them in a clinical note. Each
# anchor says how much confirmation the capitalised run before it needs:
#   age    "John Smith is a 67-year-old …": two name words, or one listed given name;
#   weak   "Sarah, a 67-year-old …", "Karen, his wife, …", "Sarah (daughter)": a listed given name;
#   verb   "John Smith underwent …", "John A. Smith (MRN …)": a listed given name and a surname.
# The given-name list only confirms; historical figures and authors in textbooks ("John
# Charnley was a …", "Smith et al.") meet none of the anchors.
_EN_AGE_EXPR = r"\d{1,3}(?!\d)[ \t]*-?[ \t]*(?:(?:years?|yrs?|y)[ \t-]*old|y/o|yo\b|y\.o\.)"
_EN_KIN = (
    r"(?:wife|husband|daughter|son|mother|father|brother|sister|spouse|partner|fianc[ée]e?|granddaughter|grandson"
    r"|grandmother|grandfather|niece|nephew|stepdaughter|stepson|daughter-in-law|son-in-law|caregiver|carer)"
)
_EN_KIN_ADJ = r"(?:(?:eldest|oldest|youngest|older|younger|elder|only|adult|late|adoptive|step|ex-)[ \t]*)?"
_EN_POSSESSIVE = r"(?:his|her|their|the[ \t]+patient['’]s|patient['’]s|pt['’]s)"
# Verbs said of a patient in a note; verbs that also tell of authors and pioneers in textbooks
# ("reported", "developed", "described", "received") are left out.
_EN_CLINICAL_VERBS = (
    r"presented|presents|underwent|undergoes|reports|complains|complained|denies|denied|tolerated|consented"
    r"|refused|declined|sustained|ambulates"
    r"|(?:is|was)[ \t]+(?:admitted|seen|referred|transferred|discharged|brought|evaluated|examined|diagnosed"
    r"|scheduled|readmitted)|(?:has|had)[ \t]+a[ \t]+(?:history|past[ \t]+(?:medical[ \t]+)?history)"
)
# The anchor alone; the name is then read backwards from where it starts. (The lookahead
# lets `re` skip to the few characters an anchor opens with.)
_EN_CONTEXT_ANCHOR_RE = _c(
    r"(?=[ \t,(])(?:"
    rf"(?P<age>,?[ \t]+(?:is|was)[ \t]+an?[ \t]+{_EN_AGE_EXPR})"
    rf"|(?P<weak>,[ \t]+(?:an?[ \t]+)?{_EN_AGE_EXPR}|,[ \t]+(?:aged?[ \t]+)?\d{{1,3}}(?!\d)[ \t]*(?:,|[MF]\b)"
    rf"|,[ \t]+{_EN_POSSESSIVE}[ \t]+{_EN_KIN_ADJ}{_EN_KIN}\b|[ \t]*\({_EN_KIN}\))"
    rf"|(?P<verb>[ \t]+(?:{_EN_CLINICAL_VERBS})\b|[ \t]*\((?:MRN|DOB|D\.O\.B\.)\b)"
    r")"
)
# Where an anchor may be: its distinctive word, found by a prefix trie over the lower-cased
# text (a flat alternation of these words costs ~2x more), or ", 67," / ", 71M" (a separate
# pass: mixed into the trie it would double the cost of both).
_EN_CONTEXT_COMMA_AGE = _c(r",[ \t]+(?:aged?[ \t]+)?\d{1,3}(?!\d)[ \t]*(?:,|m\b|f\b)")
_EN_CONTEXT_TRIGGER_WORDS = (
    "year yr y/o yo y.o. presented presents underwent undergoes reports complain denies denied tolerated "
    "consented refused declined sustained ambulates admitted seen referred transferred discharged brought "
    "evaluated examined diagnosed scheduled readmitted history (mrn (dob (d.o.b wife husband daughter son "
    "mother father brother sister spouse partner fianc grand niece nephew step caregiver carer"
).split()


def _en_name_before(text: str, end: int) -> list[re.Match]:
    """The capitalised name words (and initials) that end right at `end`, up to four words,
    stopping at a common word ("On admission John Smith" -> John Smith), a field label
    ("Vignette: Mary") or anything else between two words."""
    tokens = list(_EN_TOKEN_RE.finditer(text, max(0, end - 60), end))
    run: list[re.Match] = []
    pos = end
    for tok in reversed(tokens):
        gap = text[tok.end() : pos]
        if (gap.strip(" \t") if run else gap) or tok.group().lower() in _EN_STOPWORDS:
            break
        if run and not gap and not tok.group().endswith("."):
            break  # glued words are not two name words
        run.append(tok)
        pos = tok.start()
        if sum(not t.group().endswith(".") for t in run) == 4:
            break
    while run and (run[-1].group().endswith(".") or (run[-1].start() > 0 and text[run[-1].start() - 1].isalnum())):
        run.pop()  # a leading initial, or a token cut out of a longer word ("iPhone")
    return run[::-1]


def _en_context_names(text: str, low: str) -> Iterator[_Cand]:
    """Person names found through the anchors above."""
    # An anchor starts at most ~40 characters before its trigger word ("has a past medical
    # history") and ends a few characters after it ("year" + "-old").
    n = len(low)
    windows = [
        (max(0, m.start() - 40), min(n, m.end() + 12))
        for m in _EN_CONTEXT_TRIGGER.finditer(low)
        if m.start() == 0 or not low[m.start() - 1].isalpha()  # "son", not "reason"
    ]
    if "," in text:
        windows += [(m.start(), m.end()) for m in _EN_CONTEXT_COMMA_AGE.finditer(low)]
    for lo, hi in _merge_windows(windows):
        for m in _EN_CONTEXT_ANCHOR_RE.finditer(text, lo, hi):
            if m.start() == 0 or not (text[m.start() - 1].isalpha() or text[m.start() - 1] == "."):
                continue
            tokens = _en_name_before(text, m.start())
            words = [t.group() for t in tokens if not t.group().endswith(".")]
            if not words:
                continue
            listed = words[0].lower() in _EN_FIRST_NAMES
            if m.group("age") is not None:
                ok = len(words) >= 2 or listed
            elif m.group("weak") is not None:
                ok = listed
            else:
                ok = listed and len(words) >= 2
            if ok:
                yield tokens[0].start(), m.start(), "NAME", _P_CUE


_EN_KIN_RUN = _c(rf"[ \t]*[,(]?[ \t]*(?P<v>{_EN_TOKEN}(?:[ \t]+(?:{_EN_INITIAL}[ \t]+)?{_EN_TOKEN}){{0,2}})")
_EN_POSSESSIVE_BEFORE = _c(rf"{_EN_POSSESSIVE}[ \t]+{_EN_KIN_ADJ}$")


def _en_kin_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """A relative's name after the kinship word. Full names as for any role word ("daughter
    Emily Lindqvist is …"); a single word when a possessive vouches for the kinship ("his
    daughter Sarah") or the word is a listed given name ("wife Karen")."""
    m = _EN_KIN_RUN.match(text, end)
    if m is None:
        return None
    label_start = end
    while label_start > 0 and (low[label_start - 1].isalpha() or low[label_start - 1] == "-"):
        label_start -= 1
    vouched = _EN_POSSESSIVE_BEFORE.search(low, max(0, label_start - 40), label_start) is not None
    if " " in m.group("v") or "\t" in m.group("v"):
        span = _en_role_name_span(m, text)
        if span is None and vouched:  # "his daughter Sarah Jones brought him in"
            span = _en_name_span(m, text, 2)
        return span
    start, stop = m.span("v")
    word = m.group("v")
    if word.lower() in _EN_STOPWORDS or text.startswith(":", stop):
        return None
    return (start, stop) if vouched or word.lower() in _EN_FIRST_NAMES else None


# ---- Chinese names ---------------------------------------------------------------------


_ZH_ROLE_WORDS = _c("家属|患者|病人|医生|医师|护士|主任|家人|亲属")


def _zh_name_check(m: re.Match, text: str) -> tuple[int, int] | None:
    name = m.group("v")
    if name[:2] in _ZH_NOT_NAMES or name[:3] in _ZH_NOT_NAMES or _ZH_ROLE_WORDS.search(name):
        return None  # 高血压, 康复 …; "向家属交代" is a preposition and a role, not a person
    return m.span("v")


_ZH_TITLES_AFTER = "先生|女士|小姐|医生|医师|大夫|主任|副主任|教授|副教授|护士长|护士|老师|院长"
_ZH_NAME_RULES = [
    _Rule(
        # Title after the name: 张伟先生 / 李女士 / 王主任. The character before must not make
        # the surname part of a word (责任护士, 相关医生, 主管医生).
        "zh-after", "NAME",
        _c(
            rf"(?P<v>{_ZH_SURNAME}(?:某某?|{_ZH_GIVEN}{{1,2}})|{_ZH_SURNAME_ONLY})(?={_ZH_TITLES_AFTER})"
        ),
        _P_CUE, _free_before("相有主责值各该其每位男女级班管科床诊院治室区线修培习实专全庭地他此本某两几名批"),
        _zh_name_check,
        trigger=_c(_ZH_TITLES_AFTER), window=(5, 0), cjk=True,
    ),
]


# ---- Dates -----------------------------------------------------------------------------


def _numeric_date_check(m: re.Match, text: str) -> tuple[int, int] | None:
    if m.group("a") is not None:  # d/m/yyyy or m/d/yyyy
        a, b = int(m.group("a")), int(m.group("b"))
        ok = 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12
    elif m.group("a2") is not None:  # m/d/yy, unless it is a score series ("mJOA 12/17/18")
        ok = 1 <= int(m.group("a2")) <= 12 and 1 <= int(m.group("b2")) <= 31
        ok = ok and not _SCORE_CUE.search(text[max(0, m.start() - 24) : m.start()].lower())
    else:
        ok = True
    return m.span() if ok else None


def _zh_md_check(m: re.Match, text: str) -> tuple[int, int] | None:
    return m.span() if 1 <= int(m.group("mo")) <= 12 and 1 <= int(m.group("d")) <= 31 else None


_NA = r"(?![A-Za-z0-9_]|[-/.]\d)"  # not glued to a following word or number
_SCORE_CUE = _c(r"(?:joa|vas|odi|ndi|nrs|sf-36|eq-5d|score|scale|grade|评分)[^.;\n]{0,12}$")
_MONTH_TRIGGER = _c(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)")
_DATE_RULES = [
    _Rule(
        "date-numeric", "DATE",
        _c(
            rf"{_YEAR}(?P<s>[-/.]){_MONTH_NUM}(?P=s){_DAY}{_NA}"  # 2023-03-14, 2023.03.14
            rf"|{_YEAR}[-/](?:0[1-9]|1[0-2]){_NA}"  # 2023-03
            rf"|(?P<a>\d{{1,2}})(?P<s2>[-/.])(?P<b>\d{{1,2}})(?P=s2){_YEAR}{_NA}"  # 03/14/2023, 14.03.2023
            rf"|(?P<a2>\d{{1,2}})/(?P<b2>\d{{1,2}})/\d{{2}}{_NA}"  # 3/14/23
            rf"|{_MONTH_NUM}/{_YEAR}{_NA}"  # 03/2023
        ),
        _P_FORMAT, _free_of_number, _numeric_date_check,
        trigger=_c(r"\d[-/.]\d{1,2}[-/.]\d|\d{4}[-/]\d|\d/\d{4}"), window=(4, 12),
    ),
    _Rule(
        "date-en", "DATE",
        _c(
            rf"(?:{_MONTHS}\.?\s+{_DAY}(?:st|nd|rd|th)?,?\s+{_YEAR}"
            rf"|{_MONTHS_NOT_MAY}\.?\s+{_DAY}(?:st|nd|rd|th)?"
            rf"|{_MONTHS}\.?,?\s+{_YEAR})\b(?![-/][A-Za-z0-9])"
        ),
        _P_FORMAT, _free_of_word, trigger=_MONTH_TRIGGER, window=(0, 24),
    ),
    _Rule(
        "date-en-dmy", "DATE",
        _c(rf"{_DAY}(?:st|nd|rd|th)?(?:\s+of)?[\s-]+{_MONTHS}\.?(?:,?[\s-]+{_YEAR})?\b(?![-/][A-Za-z0-9])"),
        _P_FORMAT, _free_of_number, trigger=_MONTH_TRIGGER, window=(10, 20),
    ),
    _Rule(
        "date-zh", "DATE",
        _c(
            rf"(?:{_YEAR}|[〇零一二三四五六七八九]{{4}})\s*年\s*(?:{_MONTH_NUM}|[一二三四五六七八九十]{{1,3}})\s*月"
            rf"(?:\s*(?:{_DAY}|[一二三四五六七八九十]{{1,3}})\s*[日号])?"
        ),
        _P_FORMAT, _free_before("0123456789"), cjk=True, needs=("年",),
    ),
    _Rule(
        "date-zh-md", "DATE", _c(r"(?P<mo>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"),
        _P_FORMAT, _free_before("0123456789.年"), _zh_md_check, cjk=True, needs=("月",),
    ),
    _Rule(
        "date-zh-md-cn", "DATE",
        _c(r"(?:十[一二]?|[一二三四五六七八九])月(?:[一二]?十[一二三四五六七八九]?|三十一?|[一二三四五六七八九])[日号]"),
        _P_FORMAT, _free_before("〇零一二三四五六七八九十年"), cjk=True, needs=("月",),
    ),
]


# ---- Ages over 89 ----------------------------------------------------------------------

_AGE90 = r"(?:9\d|1[0-4]\d)"
_AGE_RULES = [
    _Rule(
        "age-en", "AGE",
        _c(rf"{_AGE90}(?:\s*-?\s*(?:years?|yrs?|y)[\s-]*old|\s*(?:y/o|yo|y\.o\.)|\s+years?\s+of\s+age)(?![A-Za-z0-9_])"),
        _P_FORMAT, _free_of_number, needs=("old", "yo", "y/o", "y.o", "of age"),
    ),
    _Rule(
        "age-en-words", "AGE",
        _c(r"[Nn]inety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?[- ]years?[- ]old\b"),
        _P_FORMAT, _free_of_word, needs=("inety",),
    ),
    _Rule("age-zh", "AGE", _c(rf"{_AGE90}\s*周?岁"), _P_FORMAT, _free_before("0123456789."), cjk=True, needs=("岁",)),
    _Rule(
        "age-zh-cn", "AGE", _c(r"(?:九十[一二三四五六七八九]?|一?百零?[一二三四五六七八九十]*)周?岁"),
        _P_FORMAT, _free_before("一二三四五六七八九十百"), cjk=True, needs=("岁",),
    ),
]


# ---- Free-standing number formats: phones, IDs, cards -----------------------------------

_ZH_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_UNIT_AFTER = _c(
    r"[ \t]*(?:%|°|×|/|x\b|mm|cm|ml|dl|l\b|mg|kg|g\b|µ|μ|mcg|ug|iu\b|u\b|units?\b|cells|min|sec|s\b|h\b|hrs?\b"
    r"|hours?|days?|weeks?|months?|years?|patients|cases|subjects|mmhg|bpm)"
)
_PHONE_CUE = _c(r"(?i:call|phone|tel|cell|mobile|contact|reach|number|no\.|text|pager)|电话|手机")


def _spaced_phone_check(m: re.Match, text: str) -> tuple[int, int] | None:
    """A space-separated NANP number is a phone only when it stands alone."""
    start, end = m.span()
    before, after = text[max(0, start - 12) : start], text[end : end + 12]
    if before[-1:] in ("|", "\t") or after[:1] in ("|", "\t") or _UNIT_AFTER.match(after.lower()):
        return None  # a column of a table or a series of measurements
    if re.search(r"\d[ \t,;/]*$", before) or re.match(r"[ \t,;/]*\d", after):
        return None
    # Other numbers close by make it one of a series ("120 130 1400 and 250 300 1500")
    # unless a phone word says otherwise ("call 555 867 5309 or 555 234 5678").
    if any(c.isdigit() for c in before + after) and not _PHONE_CUE.search(text, max(0, start - 40), start):
        return None
    return m.span()


_FORMAT_RULES = [
    _Rule(
        "phone-intl", "PHONE",
        _c(r"\+\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]?\d{2,4}){2,4}(?![A-Za-z0-9_]|[-.]\d)"),
        _P_FORMAT, _free_of_word, needs=("+",),
    ),
    _Rule(
        # (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567, and space-separated
        # groups ("555 867 5309") only in the NANP shape (area code and exchange open with 2-9)
        # and standing alone: "120 130 1400" or "350 400 1200 mL" are table columns.
        "phone-nanp", "PHONE",
        _c(r"[(\d](?:(?<=\()\d{3}\)[ ]?\d{3}[ .\-]\d{4}|(?<=1)[.\-]?\d{3}(?P<s1>[.\-])\d{3}(?P=s1)\d{4}"
           r"|\d{2}(?P<s2>[.\-])\d{3}(?P=s2)\d{4}|(?<=[2-9])\d{2}(?P<sp>[ ])[2-9]\d{2}[ ]\d{4})"
           r"(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?(?![A-Za-z0-9_]|[-.]\d)"),
        _P_FORMAT, _free_before(_NUM_GLUE | {"+"}),
        lambda m, t: _spaced_phone_check(m, t) if m.group("sp") else m.span(),
    ),
    _Rule(
        "phone-cn-mobile", "PHONE", _c(r"1[3-9]\d(?P<s>[ \-]?)\d{4}(?P=s)\d{4}(?![A-Za-z0-9_]|[-.]\d)"),
        _P_FORMAT, _free_before(_NUM_GLUE | {"+"}),
    ),
    _Rule(
        "phone-cn-landline", "PHONE", _c(r"[(0](?:(?<=\()0\d{2,3}\)\s?|\d{2,3}[\s\-])\d{7,8}(?![A-Za-z0-9_]|[-.]\d)"),
        _P_FORMAT, _free_before(_NUM_GLUE | {"+"}),
    ),
    _Rule(
        # 18-digit PRC resident identity number: region, birth date, sequence, check digit.
        "zh-resident-id", "ID",
        _c(r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![A-Za-z0-9_])"),
        _P_FORMAT, _free_of_word,
    ),
    _Rule(
        "ssn", "ID", _c(r"\d{3}-\d{2}-\d{4}(?![A-Za-z0-9_\-])"),
        _P_FORMAT, _free_before(_WORD_CHARS | {"-"}), needs=("-",),
    ),
    _Rule(
        # Chinese licence plate: province abbreviation, issuing-office letter, five or six
        # characters (京A12345, 粤B·D12345). Three digits at least, so words are not plates.
        "zh-plate", "ID",
        _c(rf"[{_ZH_PLATE_PROVINCES}][A-HJ-NP-Z][·•]?[A-HJ-NP-Z0-9]{{5,6}}(?![A-Za-z0-9_])"),
        _P_FORMAT, None, lambda m, t: m.span() if sum(c.isdigit() for c in m.group()) >= 3 else None, cjk=True,
    ),
    _Rule(
        "card-grouped", "ACCOUNT", _c(r"\d{4}(?P<s>[ \-])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?![A-Za-z0-9_\-])"),
        _P_FORMAT, _free_before(_WORD_CHARS | {"-"}),
    ),
]


# ---- Email, URL, IP -------------------------------------------------------------------

_EMAIL_RULE = _Rule(
    "email", "EMAIL",
    _c(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
    _P_FORMAT, _free_before(_WORD_CHARS | set(".+-")), needs=("@",),
)
_IP_CUE = _c(r"(?:\bip\b|\bipv[46]\b|address|host|server|地址|主机)[^\n]{0,12}$")


def _ipv4_check(m: re.Match, text: str) -> tuple[int, int] | None:
    # Dotted quads are also section numbers ("3.2.1.4"): ask for a three-digit octet or an
    # IP cue just before.
    if any(len(o) == 3 for o in m.group().split(".")):
        return m.span()
    return m.span() if _IP_CUE.search(text[max(0, m.start() - 24) : m.start()].lower()) else None


_IP_RULES = [
    _Rule(
        "ipv4", "IP", _c(r"\d{1,3}(?:\.\d{1,3}){3}(?![A-Za-z0-9_]|\.\d)"),
        _P_FORMAT, _free_before(_WORD_CHARS | {"."}),
        lambda m, t: _ipv4_check(m, t) if all(int(o) <= 255 for o in m.group().split(".")) else None,
        needs=(".",),
    ),
    _Rule(
        "ipv6", "IP",
        _c(r"[0-9A-Fa-f]{1,4}:(?:[0-9A-Fa-f]{1,4}:){6}[0-9A-Fa-f]{1,4}(?![A-Za-z0-9_:])"
           r"|[0-9A-Fa-f]{1,4}:(?:[0-9A-Fa-f]{1,4}:){0,5}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![A-Za-z0-9_:])"),
        _P_FORMAT, _free_before(_WORD_CHARS | {":"}),
        # "ab::" alone is not an address; ask for two hex groups at least.
        lambda m, t: m.span() if len(re.findall(r"[0-9A-Fa-f]+", m.group())) >= 2 else None,
        trigger=_c(r"::|:[0-9A-Fa-f]{1,4}:"), window=(40, 40), needs=(":",),
    ),
]
_URL_RE = _c(r"(?:https?|ftp)://[^\s<>\"'，。；、（）()\[\]{}]+|www\.[^\s<>\"'，。；、（）()\[\]{}]+")

# Public reference hosts whose links identify a publication or licence, never a patient.
DEFAULT_ALLOWED_URL_HOSTS = (
    "doi.org", "dx.doi.org", "europepmc.org", "ncbi.nlm.nih.gov", "pubmed.ncbi.nlm.nih.gov",
    "creativecommons.org", "spdx.org", "clinicaltrials.gov", "who.int", "openreview.net", "arxiv.org",
    "huggingface.co", "hf.co",
)


# ---- Addresses -------------------------------------------------------------------------

_STATES = "|".join(_US_STATES)
_STATES_OR_NAMES = f"{_STATES}|{_US_STATE_NAMES}"


def _street_check(m: re.Match, text: str) -> tuple[int, int] | None:
    # "In 12 Patients Dr. Smith found …" is a title after a count, not "12 Patients Dr".
    words = _EN_TOKEN_RE.findall(m.group())
    if any(w.lower() in _EN_STOPWORDS for w in words[:-1]):
        return None
    return m.start(), m.start() + len(m.group().rstrip(".,"))
_EN_ADDRESS_RULES = [
    _Rule(
        "en-street", "ADDRESS",
        _c(
            rf"\d{{1,6}}[A-Za-z]?[ \t]+(?:[NSEW]\.?[ \t]+)?(?:(?:{_EN_TOKEN}|\d+(?:st|nd|rd|th))\.?[ \t]+){{1,3}}"
            rf"{_EN_STREET_SUFFIX}\b\.?"
            r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|#)\.?[ \t]*#?[\w\-]+)?"
            rf"(?:,[ \t]*{_EN_TOKEN}(?:[ \t]+{_EN_TOKEN}){{0,2}})?"
            rf"(?:,?[ \t]*(?:{_STATES})\b)?(?:[ \t]+\d{{5}}(?:-\d{{4}})?)?"
        ),
        _P_FORMAT, _free_of_number, _street_check,
        trigger=_c(rf"\b{_EN_STREET_SUFFIX}\b"), window=(70, 80),
    ),
    _Rule(
        "en-city-state-zip", "ADDRESS",
        _c(
            rf"{_EN_TOKEN}(?:[ \t]+{_EN_TOKEN}){{0,2}},[ \t]*(?:{_STATES_OR_NAMES})[ \t]+\d{{5}}(?:-\d{{4}})?"
            r"(?![A-Za-z0-9_\-])"
        ),
        _P_FORMAT, _free_of_word,
        trigger=_c(rf",[ \t]*(?:{_STATES_OR_NAMES})[ \t]+\d{{5}}"), window=(60, 12),
    ),
    _Rule(
        "po-box", "ADDRESS", _c(r"[Pp]\.?\s?[Oo]\.?\s+[Bb]ox\s+\d+\b"),
        _P_FORMAT, _free_of_word, needs=("Box", "box", "BOX"),
    ),
]

# Chinese address components; a run of adjacent components is an address when it holds a
# province or city or a numbered street, and at least two components (so 术区, 入路, 镇痛
# alone never qualify). It runs only around administrative units and house numbers, which
# every qualifying run holds.
_ZH_ADDR_SUFFIX = _c(r"[省市州盟区县旗镇乡村园寓厦苑号]")
_ZH_ADDR_COMPONENT = _c(
    "(?:"
    rf"(?P<prov>(?:{'|'.join(_ZH_PROVINCES)})(?:省|市|自治区|壮族自治区|回族自治区|维吾尔自治区)?)"
    rf"|(?P<city>{_ZH_PLACE}{{2,4}}?(?:市|自治州|地区|盟))"
    rf"|(?P<dist>{_ZH_PLACE}{{2,4}}?(?:区|县|旗))"
    rf"|(?P<town>{_ZH_PLACE}{{2,4}}?(?:镇|乡|街道))"
    rf"|(?P<vill>{_ZH_PLACE}{{2,6}}?(?:村|社区|小区|花园|公寓|大厦|新村|苑))"
    rf"|(?P<road>(?:{_ZH_PLACE}|\d){{1,8}}?(?:大道|大街|路|街|巷|弄|胡同))"
    r")"
    r"(?P<num>\d+(?:[-—]\d+)?[号弄](?:\s*\d+(?:号楼|栋|幢|座|单元|楼|层|室|号|户))*)?"
)


def _zh_addresses(text: str, low: str) -> Iterator[_Cand]:
    for lo, hi in _windows(_ZH_ADDR_SUFFIX, text, (14, 18)):
        chain: list[re.Match] = []
        for m in [*_ZH_ADDR_COMPONENT.finditer(text, lo, hi), None]:
            if chain and (m is None or text[chain[-1].end() : m.start()].strip(" ")):
                kinds = {k for c in chain for k, v in c.groupdict().items() if v}
                strong = bool(kinds & {"prov", "city", "num"})
                if strong and (len(chain) >= 2 or "num" in kinds):
                    yield chain[0].start(), chain[-1].end(), "ADDRESS", _P_FORMAT
                chain = []
            if m is not None:
                chain.append(m)


# ---- Hospitals -------------------------------------------------------------------------

_EN_HOSPITAL_SUFFIX = (
    r"(?:Hospitals?|Medical\s+Cent(?:er|re)|Health\s+(?:System|Cent(?:er|re)|Care|Partners|Network|Trust)|Healthcare"
    r"|Infirmary|Clinics?|Medical\s+College|Medical\s+Group|Cancer\s+Cent(?:er|re)|Rehabilitation\s+Cent(?:er|re)"
    r"|Polyclinic|Institute|Spine\s+Cent(?:er|re)|Surgery\s+Cent(?:er|re)|Surgical\s+Cent(?:er|re)|Imaging\s+Cent(?:er|re)"
    r"|Rehabilitation\s+Campus|Campus|Family\s+Practice|Associates|Partners|Medical\s+Associates|Medical\s+Group"
    r"|Orthopaedic\s+Group|Orthopedic\s+Group|Spine\s+Group|Hospice|Sanatorium|Medical\s+Practice|Health\s+Services"
    r"|Physical\s+Therapy\s+Cent(?:er|re)|Imaging\s+Services|Surgery\s+Centre|NHS\s+(?:Foundation\s+)?Trust|Foundation\s+Trust"
    r"|Medical\s+Centre|Health\s+Centre|Care\s+Centre|Care\s+Center|Nursing\s+Home|Care\s+Home|Rehab)\b"
)
_EN_HOSPITAL_RE = _c(
    rf"(?P<pre>(?:(?:St\.|Saint|{_EN_TOKEN}(?:['’]s)?|[A-Z]{{2,5}})(?:[ \t]+|[ \t]*&[ \t]*)){{0,5}}?)"
    rf"(?P<suf>{_EN_HOSPITAL_SUFFIX})"
    rf"(?P<of>[ \t]+(?:of|for)[ \t]+(?:the[ \t]+)?{_EN_TOKEN}(?:[ \t]+(?:of[ \t]+)?{_EN_TOKEN}){{0,3}})?"
)
_EN_HOSPITAL_TRIGGER = _c(_EN_HOSPITAL_SUFFIX)
_EN_HOSPITAL_NOT_NAME = _EN_HOSPITAL_GENERIC | _EN_STOPWORDS


def _en_hospitals(text: str, low: str) -> Iterator[_Cand]:
    for lo, hi in _windows(_EN_HOSPITAL_TRIGGER, text, (90, 80)):
        for m in _EN_HOSPITAL_RE.finditer(text, lo, hi):
            words = list(re.finditer(r"[^\s&]+", m.group("pre")))
            # Leading sentence words are not part of the name ("The", "Our") …
            while words and words[0].group().lower() in _EN_STOPWORDS and words[0].group().lower() != "general":
                words.pop(0)
            # … and a generic description ("General Hospital", "Fracture Liaison Clinic") names nothing.
            named = any(w.group().lower().rstrip(".") not in _EN_HOSPITAL_NOT_NAME for w in words)
            if not (named or m.group("of")):
                continue
            start = m.start("pre") + words[0].start() if words and named else m.start("suf")
            yield start, m.end(), "HOSPITAL", _P_FORMAT


_ZH_HOSPITAL_SUFFIX = r"医院|医学中心|医疗中心|卫生院|卫生服务中心|卫生所|保健院|疗养院|诊所"
_ZH_HOSPITAL_RE = _c(rf"(?P<pre>(?:{_ZH_PLACE}|\d|[A-Z]){{2,20}}?)(?P<suf>{_ZH_HOSPITAL_SUFFIX})(?!感染|获得|内感染)")
_ZH_HOSPITAL_TRIGGER = _c(_ZH_HOSPITAL_SUFFIX)


def _zh_hospitals(text: str, low: str) -> Iterator[_Cand]:
    for lo, hi in _windows(_ZH_HOSPITAL_TRIGGER, text, (22, 8)):
        for m in _ZH_HOSPITAL_RE.finditer(text, lo, hi):
            pre = m.group("pre")
            lead = _ZH_GENERIC_HOSPITAL_LEAD.match(pre)
            rest = pre[lead.end() :] if lead else pre
            if len(rest) < 2 or _ZH_GENERIC_HOSPITAL_REST.match(rest):
                continue
            yield m.start() + (len(pre) - len(rest)), m.end(), "HOSPITAL", _P_FORMAT


# ---- Labelled values -------------------------------------------------------------------
#
# One alternation of every label ("MRN", "patient name", "住院号", "患者" …) runs over the
# lower-cased text; each hit is handed to the parsers of its label, which read the value
# right after it.

_Parser = Callable[[str, str, int], "tuple[int, int] | None"]  # (text, low, label end) -> value span


def _number_parser(need: str) -> _Parser:
    """The number after an MRN/ID/account label; `need`: "" (strong label), "colon" (a
    number word or a colon must follow) or "number" (a number word must follow)."""

    def parse(text: str, low: str, end: int) -> tuple[int, int] | None:
        m = _NUMBER_VALUE.match(low, end)
        if m is None:
            return None
        if (need == "number" and not m.group("nw")) or (need == "colon" and not (m.group("nw") or m.group("sep"))):
            return None
        if _LEVEL_SHAPE.fullmatch(m.group("v")) or _YEAR_SHAPE.fullmatch(m.group("v")):
            return None  # "Specimen: T12" names a vertebra, "Policy: 2019" a year, not a record
        return m.span("v")

    return parse


_NUMBER_VALUE = _c(
    r"[ \t]*(?P<nw>(?:number|num\.?|no\.?|nr\.?|#|id)\.?)?[ \t]*(?P<sep>[:：#]|is\b|为|是)?[ \t]*(?:[:：#][ \t]*)?"
    r"(?P<v>(?=[a-z0-9\-/]*\d)[a-z0-9][a-z0-9\-/]{2,30}[a-z0-9])(?![a-z0-9])"
)
_LEVEL_SHAPE = _c(r"[ctls]\d{1,2}(?:[-/][ctls]?\d{1,2})*")
_YEAR_SHAPE = _c(r"(?:19|20)\d\d")
_PHONE_VALUE = _c(r"[ \t]*(?:(?:no\.?|number|#)[ \t]*)?[:：]?[ \t]*(?P<v>\+?\(?\d[\d \t().\-]{5,22}\d)(?!\d)")


def _phone_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    m = _PHONE_VALUE.match(low, end)
    if m is None:
        return None
    digits = sum(ch.isdigit() for ch in m.group("v"))
    return m.span("v") if 7 <= digits <= 15 else None


_ZIP_VALUE = _c(
    r"[ \t]*(?:[-/]?[ \t]*(?:code|\+[ \t]*4)\b)?[ \t]*(?:[:：#=]|is\b|was\b|of\b|number\b|no\.?)?[ \t]*(?:[:：][ \t]*)?"
    r"(?P<v>\d{5}(?:-\d{4})?|\d{6}|[a-z]\d[a-z] ?\d[a-z]\d)(?![a-z0-9])"
)
_COLON = _c(r"[ \t]*[:：][ \t]*(?=\S)")
_LABEL_VALUE_END = _c(
    r"[\n;；|。]|\s{3,}|[,，]?\s+(?=[A-Z][A-Za-z]*(?:\s+[A-Za-z]+)?\s*[:：])"
    r"|(?:(?<=\d)|(?<=[a-z]{4}))\.(?=\s|$)|\s+(?=[" + _CJK + r"]{2,6}\s*[:：])|[，,](?=\s*[" + _CJK + r"]{2,6}\s*[:：])"
)


def _free_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """A labelled free-text value (an address): up to the end of its line, clause or the next label."""
    m = _COLON.match(text, end)
    if m is None:
        return None
    start = m.end()
    limit = min(len(text), start + 160)
    cut = _LABEL_VALUE_END.search(text, start, limit)
    value = text[start : cut.start() if cut else limit].rstrip(" \t.,，:")
    if len(value) < 2 or _PLACEHOLDER_RE.fullmatch(value):
        return None
    return start, start + len(value)


_EN_NAME_AFTER_COLON = _c(
    rf"[ \t]*\.?[ \t]*[:：][ \t]*(?P<title>{_EN_TITLES}\.?[ \t]+)?"
    rf"(?P<v>{_EN_TOKEN}(?P<inv>,[ \t]*{_EN_TOKEN}(?:[ \t]+{_EN_INITIAL})?)|{_EN_NAME_SEQ})"
)
_EN_NAME_AFTER_BY = _c(rf"[ \t]*[:：]?[ \t]*(?P<title>{_EN_TITLES}\.?[ \t]+)?(?P<v>{_EN_NAME_SEQ})")


def _en_name_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """"Attending: Dr. Emily Carter", "Patient: Smith, John". A title or the inverted form
    vouches for one word; otherwise two name words must end the field."""
    m = _EN_NAME_AFTER_COLON.match(text, end)
    if m is None:
        return None
    vouched = bool(m.group("title") or m.group("inv"))
    span = _en_name_span(m, text, 1 if vouched else 2)
    if span is None or vouched or _EN_NAME_FIELD_END.match(text, span[1]):
        return span
    return None


_EN_NAME_AFTER_ROLE = _c(
    rf"[ \t]*[,(]?[ \t]*(?P<v>{_EN_TOKEN}[ \t]+(?:{_EN_INITIAL}[ \t]+)?{_EN_TOKEN}(?:[ \t]+{_EN_TOKEN})?)"
)


def _en_role_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """A role word in running text, then a full name: "the patient John Smith was …",
    "Wife (Karen Whitaker, phone …)", "daughter Emily Lindqvist is next of kin"."""
    m = _EN_NAME_AFTER_ROLE.match(text, end)
    return _en_role_name_span(m, text) if m else None


def _en_pt_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """"Pt John A. Smith was …"; upper-case "PT" is physical therapy ("PT Daily Progress")."""
    label = text[end - 3 : end] if text[end - 1] == "." else text[end - 2 : end]
    return None if label.startswith("PT") else _en_role_parser(text, low, end)


def _en_by_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """"Signed by Emily Carter", "dictated by Dr. Carter"."""
    m = _EN_NAME_AFTER_BY.match(text, end)
    if m is None:
        return None
    return _en_name_span(m, text, 1 if m.group("title") else 2)


_ZH_LABEL_NEXT = r"性别|年龄|民族|职业|婚姻|住院|病案|门诊|科室|床号|籍贯|出生|身份|电话|地址|住址|联系|入院|主诉|男|女"
_ZH_LABEL_NAME = _c(
    rf"[ \t\u3000]*[:：][ \t\u3000]*(?P<v>[{_CJK}]{{1,4}}?(?:·[{_CJK}]{{1,8}})?)(?=[^{_CJK}·]|$|{_ZH_LABEL_NEXT})"
)


def _zh_label_name_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """姓名：张伟 — any name-length value, the surname list is not needed."""
    m = _ZH_LABEL_NAME.match(text, end)
    return m.span("v") if m and len(m.group("v")) >= 2 else None


# What may follow a name found through a role word: punctuation or a word that typically
# follows a person in a record ("患者张伟，男" / "张伟因腰痛" / "王建国查房").
_ZH_NAME_END = (
    r"(?=[\s\u3000，,。、；;：:（(）)\[\]【】“”\"'/|!！?？]|$|男|女|先生|女士|小姐|同志|因|于|自|诉|主诉|入院|等|查房|会诊|"
    r"主刀|指出|认为|表示|签|之|的|与|和|及|在|为|今|昨|现|已|经|来|记录|书写|执行|陪同|告知|交代|同意|诊治|处理|接诊|随访|"
    r"带|陪|送|称|代诉|要求|拒绝|签署|照顾|探视|联系|电话|手机)"
)
_ZH_CUE_NAME = _c(rf"[ \t\u3000:：]*(?P<v>{_ZH_NAME}){_ZH_NAME_END}")


# Two-character words after a name whose second character alone also ends a name: the greedy
# given name would take their first character ("李娜代诉" is 李娜 + 代诉, not 李娜代 + 诉).
_ZH_SPLIT_END_WORDS = frozenset("代诉 认为 现在 已经 带来 送来 已于 现于 今于".split())


def _zh_cue_name_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    """患者张伟， / 主任医师王建国查房 — a listed surname, then a name boundary."""
    m = _ZH_CUE_NAME.match(text, end)
    if m is None or (text[end - 1] == "子" and text.startswith("宫", m.start("v"))):
        return None  # "其子宫…" is the uterus (子宫), not the son (其子) 宫…
    span = _zh_name_check(m, text)
    if span and span[1] - span[0] >= 3 and text[span[1] - 1 : span[1] + 1] in _ZH_SPLIT_END_WORDS:
        span = (span[0], span[1] - 1)
    return span


# A bare ZIP code where a residence is described ("lives in Rochester 55905", "resides in the
# 55905 area"); the town before it goes too, a geographic unit below a state.
_RESIDENCE_ZIP = _c(
    rf"[ \t]+(?:the[ \t]+)?(?P<v>(?:{_EN_TOKEN}[ \t]+){{0,3}}\d{{5}}(?:-\d{{4}})?)(?![A-Za-z0-9_\-]|[.,]\d)"
)
# Medicare Beneficiary Identifier: 11 characters in a fixed digit/letter pattern (letters
# exclude S L O I B Z), often written 4-3-4: 1EG4-TE5-MK73.
_MBI_VALUE = _c(
    r"[ \t]*(?:(?:number|no\.?|id|#)[ \t]*)?[:：#]?[ \t]*"
    r"(?P<v>[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?"
    r"[AC-HJKMNP-RT-Y]{2}\d{2})(?![A-Za-z0-9_\-])"
)
# Licence plates: letters and digits mixed ("ABC-1234", "7ABC123", UK "AB12 CDE"); a spinal
# level ("plate C5-C6") or an implant size ("plate 4-hole") is no plate.
_PLATE_VALUE = _c(
    r"[ \t]*(?:(?:number|no\.?|#)[ \t]*)?[:：#]?[ \t]*"
    r"(?P<v>[A-Z0-9]{1,4}[- ]?[A-Z0-9]{2,5}|[A-Z]{2}\d{2}[ ][A-Z]{3})(?![A-Za-z0-9_\-])"
)


def _plate_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    m = _PLATE_VALUE.match(text, end)
    if m is None:
        return None
    v = m.group("v")
    letters, digits = sum(c.isalpha() for c in v), sum(c.isdigit() for c in v)
    if letters < 2 or digits < 2 or (digits < 3 and not re.fullmatch(r"[A-Z]{2}\d{2} [A-Z]{3}", v)):
        return None
    if _LEVEL_SHAPE.fullmatch(v.lower()):
        return None
    return m.span("v")


_ZH_PLATE_VALUE = _c(
    rf"[ \t\u3000]*(?:号码|号)?[ \t\u3000]*[:：为是]?[ \t\u3000]*"
    rf"(?P<v>[{_ZH_PLATE_PROVINCES}]?[A-Za-z][·•]?[A-Za-z0-9]{{5,6}})(?![A-Za-z0-9_])"
)
# A messaging account: a WeChat id (a letter, then 5-19 letters, digits, _ or -) or a QQ
# number. A separator or a digit must vouch for it ("QQ plot" is a chart).
_HANDLE_VALUE = _c(
    r"[ \t\u3000]*(?:号码|号|id|ID)?[ \t\u3000]*(?P<sep>[:：]|是|为|is\b)?[ \t\u3000]*"
    r"(?P<v>[A-Za-z][A-Za-z0-9_\-]{5,19}|\d{5,12})(?![A-Za-z0-9_\-])"
)


def _handle_parser(text: str, low: str, end: int) -> tuple[int, int] | None:
    m = _HANDLE_VALUE.match(text, end)
    if m is None or not (m.group("sep") or any(c.isdigit() for c in m.group("v"))):
        return None
    return m.span("v")


# "age 92." ends a sentence; only a decimal ("aged 92.5 days") or a unit makes it no age.
_EN_AGE_VALUE = _c(
    rf"[ \t]*(?:of[ \t]+)?[:：]?[ \t]*(?P<v>{_AGE90})"
    r"(?![A-Za-z0-9_]|\.\d|\s*(?:%|mm|cm|kg|mg|°|days?\b|weeks?\b|months?\b|hours?\b|min))"  # "aged 90 days"
)
_ZH_AGE_VALUE = _c(rf"[ \t]*[:：]?[ \t]*(?P<v>{_AGE90}(?:\s*周?岁)?)(?![\d.])")


def _span_parser(regex: re.Pattern, on_low: bool = False) -> _Parser:
    def parse(text: str, low: str, end: int) -> tuple[int, int] | None:
        m = regex.match(low if on_low else text, end)
        return m.span("v") if m else None

    return parse


@dataclass(frozen=True)
class _Label:
    kind: str
    parse: _Parser
    priority: int = _P_LABEL
    line_start: bool = False  # the label must open a line or field ("Name:", not "Drug name:")
    # What the first non-blank character after the label may be; a cheap test that spares
    # most parser calls ("患者" is in nearly every sentence, a name after it is rare).
    first: frozenset[str] | None = None


def _labels(kind: str, phrases: str, parse: _Parser, **kw: Any) -> dict[str, _Label]:
    return {p.strip(): _Label(kind, parse, **kw) for p in phrases.split("|") if p.strip()}


_STRONG, _COLON_NUM, _NUMBERED = _number_parser(""), _number_parser("colon"), _number_parser("number")
_DIGITS = frozenset("0123456789")
_COLONS = frozenset(":：")
_UPPER_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "".join(chr(c) for c in range(0xC0, 0xDF) if chr(c).isupper())
)
_FIRST_COLON = _COLONS | {"."}
_FIRST_PHONE = _DIGITS | _COLONS | set("+(nN#")
_FIRST_NUMBER_OR_COLON = _DIGITS | _COLONS
_FIRST_ZH_NAME = frozenset(_ZH_SURNAMES) | {c[0] for c in _ZH_COMPOUND_SURNAMES} | _COLONS
_LABEL_GROUPS: list[dict[str, _Label]] = [
    # MRN and other record numbers.
    _labels(
        "MRN",
        "mrn|mr#|mr #|mr no|住院号|住院病历号|住院编号|病案号|病历号|门诊号|急诊号|就诊号|登记号|门诊病历号"
        "|id号|患者id",
        _STRONG,
    ),
    _labels("MRN", "medical record|med rec|med. rec.|chart", _COLON_NUM),
    _labels(
        "MRN", "hospital|record|inpatient|outpatient|admission|case|patient|registration|encounter|visit", _NUMBERED
    ),
    # Identity, licence, specimen and device numbers.
    _labels(
        "ID",
        "ssn|vin|身份证号码|身份证号|身份证|公民身份号码|证件号码|证件号|护照号码|护照号|驾驶证号|军官证号|社会保障号码|社会保障号"
        "|影像号|检查号|放射号|病理号|标本号|设备序列号|序列号|s/n|udi|床号|床位号|执业证书编号|执业证号|资格证书编号"
        "|医师资格证号|工号|条码号|条形码|标本条码|检验号|样本号|申请单号|流水号|登记号|npi|dea|dea number|npi number"
        "|accession number|accession no|accession #|specimen number|specimen no|specimen #|serial number|serial no"
        "|driver's licence number|driver's license number|licence number|license number|passport number|passport no",
        _STRONG,
    ),
    _labels("ID", "车牌号码|车牌号|车牌|车号", _span_parser(_ZH_PLATE_VALUE)),
    _labels(
        "ID",
        "plate|licence plate|license plate|number plate|registration plate|plate number|vehicle registration"
        "|car registration",
        _plate_parser, first=_UPPER_CHARS | _DIGITS | _COLONS | {"n", "#"},
    ),
    _labels(
        "ID",
        "social security|national id|personal id|resident id|patient id|hospital id|id|id card|identity card|passport"
        "|driver's license|drivers license|driver license|driver's licence|sn|lot",
        _COLON_NUM,
    ),
    _labels("ID", "identity|license|licence|certificate|serial|device|accession|specimen", _NUMBERED),
    # Accounts and health-plan numbers.
    _labels(
        "ACCOUNT",
        "医保卡号|医保号|医保账号|医疗保险号|社保卡号|社保号|保险单号|保单号|账号|帐号|银行卡号|就诊卡号|诊疗卡号"
        "|卡号|保险号|保险卡号|参保号|医疗证号|合作医疗证号|新农合号|农合号|group number|group no|group no."
        "|group id|plan number|plan id|subscriber id|subscriber number",
        _STRONG,
    ),
    _labels(
        "ACCOUNT", "medicare|medicare number|medicare id|mbi|medicare beneficiary identifier|beneficiary identifier",
        _span_parser(_MBI_VALUE),
    ),
    _labels(
        "ACCOUNT", "微信号|微信号码|微信|微信id|wechat|wechat id|weixin|qq号|qq号码|qq",
        _handle_parser, first=_WORD_CHARS | _COLONS | {"号", "是", "为"},
    ),
    _labels(
        "ACCOUNT",
        "account|acct|acct.|insurance|insurance policy|insurance member|insurance card|policy|member|medicare|medicaid"
        "|health plan|health plan beneficiary|beneficiary|billing|credit card|subscriber",
        _COLON_NUM,
    ),
    # Phones and faxes.
    _labels(
        "PHONE",
        "tel|tel.|telephone|phone|phone number|mobile|mobile phone|cell|cellphone|cell phone|contact number"
        "|contact phone"
        "|home phone|work phone|联系电话|电话号码|电话|手机号码|手机号|手机|联系方式|座机|宅电",
        _phone_parser, first=_FIRST_PHONE,
    ),
    _labels("FAX", "fax|facsimile|传真|传真号码", _phone_parser, first=_FIRST_PHONE),
    # Places.
    _labels(
        "ADDRESS", "zip|zip code|zipcode|postal code|postcode|post code|邮编|邮政编码",
        _span_parser(_ZIP_VALUE, on_low=True),
    ),
    _labels(
        "ADDRESS",
        "lives in|lives at|lives near|living in|living at|resides in|resides at|residing in|resident of"
        "|moved to|relocated to|home in",
        _span_parser(_RESIDENCE_ZIP), priority=_P_FORMAT,
    ),
    _labels(
        "ADDRESS",
        "address|home address|mailing address|permanent address|current address|street address|residential address"
        "|postal address|addr|addr.|家庭住址|现住址|现住|户籍地址|户籍地|户口所在地|通讯地址|联系地址|单位地址"
        "|住址|地址|籍贯|出生地|居住地",
        _free_parser, first=_COLONS,
    ),
    # Employers are Safe Harbor identifiers too; their names are scrubbed as names.
    _labels("NAME", "employer|workplace|工作单位", _free_parser, first=_COLONS),
    # People.
    _labels(
        "NAME",
        "patient name|patient's name|patient full name|patient|pt|pt.|attending|attending physician|attending surgeon"
        "|attending doctor|physician|surgeon|doctor|nurse|resident|consultant|referring physician|referring doctor"
        "|primary care physician|pcp|radiologist|pathologist|anaesthetist|anesthesiologist|emergency contact"
        "|next of kin|contact person|spouse|guardian|informant|husband|wife|son|daughter|mother|father|relative"
        "|signature|signed|surgeon of record",
        _en_name_parser, first=_FIRST_COLON,
    ),
    _labels(
        "NAME", "name|full name|first name|last name|family name|given name", _en_name_parser,
        line_start=True, first=_FIRST_COLON,
    ),
    _labels(
        "NAME",
        "patient|surgeon|physician|nurse|doctor|resident|guardian|friend|neighbour|neighbor",
        _en_role_parser, priority=_P_CUE, first=_UPPER_CHARS | {",", "("},
    ),
    _labels("NAME", "pt|pt.", _en_pt_parser, priority=_P_CUE, first=_UPPER_CHARS),
    _labels(
        "NAME",
        "husband|wife|son|daughter|mother|father|brother|sister|spouse|partner|fiance|fiancé|fiancee|fiancée"
        "|granddaughter|grandson|grandmother|grandfather|niece|nephew|stepdaughter|stepson|daughter-in-law"
        "|son-in-law|caregiver|carer",
        _en_kin_parser, priority=_P_CUE, first=_UPPER_CHARS | {",", "("},
    ),
    _labels(
        "NAME",
        "signed by|electronically signed by|co-signed by|cosigned by|dictated by|transcribed by|attested by|seen by"
        "|examined by|operated by|referred by|reviewed by|verified by|approved by",
        _en_by_parser, priority=_P_CUE, first=_UPPER_CHARS | _COLONS,
    ),
    _labels(
        "NAME", "姓名|患者姓名|病人姓名|签名|签字|医师签名|医生签名|护士签名|记录者签名",
        _zh_label_name_parser, first=_COLONS,
    ),
    _labels(
        "NAME",
        "患者|病人|患儿|病员|伤者|产妇|孕妇|家属|患者家属|配偶|之妻|之夫|其妻|其夫|其子|其女|其母|其父|联系人|紧急联系人|监护人"
        "|医师|医生|大夫|主任|主任医师|副主任医师|主治医师|住院医师|经治医师|上级医师|主刀|主刀医师|术者|助手|一助|二助|教授"
        "|护士|护士长|责任护士|记录者|记录人|审核者|审核人|审核|报告人|报告医师"
        "|儿子|女儿|丈夫|妻子|爱人|老伴|父亲|母亲|儿媳|女婿|孙子|孙女|哥哥|姐姐|弟弟|妹妹"
        "|之子|之女|之母|之父|长子|次子|长女|次女|大儿子|小儿子|大女儿|小女儿|养子|养女|继子|继女|外孙|外孙女"
        "|侄子|侄女|外甥|外甥女|儿媳妇|岳父|岳母|公公|婆婆|姐夫|妹夫|嫂子|弟媳|陪护|陪护人|护工|朋友|同事|邻居",
        _zh_cue_name_parser, priority=_P_CUE, first=_FIRST_ZH_NAME,
    ),
    # Ages.
    _labels("AGE", "age|aged", _span_parser(_EN_AGE_VALUE), first=_FIRST_NUMBER_OR_COLON | {"o"}),
    _labels("AGE", "年龄", _span_parser(_ZH_AGE_VALUE), first=_FIRST_NUMBER_OR_COLON),
]
_LABELS: dict[str, list[_Label]] = {}
for _group in _LABEL_GROUPS:
    for _phrase, _label in _group.items():
        _LABELS.setdefault(_phrase, []).append(_label)


def _trie_regex(phrases: Iterable[str]) -> str:
    """One alternation of `phrases` factored by common prefix ("pt|pt.|patient" ->
    "p(?:t(?:\\.)?|atient)"): `re` tries alternatives one by one, so a flat list of ~300
    labels costs ~300 comparisons per character; the trie costs a few. Longer phrases win
    (optional tails are greedy); a space matches any run of whitespace."""
    trie: dict = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [(r"\s+" if ch == " " else re.escape(ch)) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        if len(alts) == 1 and "" not in node:
            return alts[0]
        return "(?:" + "|".join(alts) + ")" + ("?" if "" in node else "")

    return emit(trie)


_EN_CONTEXT_TRIGGER = re.compile(_trie_regex(_EN_CONTEXT_TRIGGER_WORDS))  # see _en_context_names

# Latin and Chinese labels apart: one trie mixing both scans ~3x slower than the two together,
# and the Chinese one is skipped for text without Chinese characters.
_LABEL_RE_LATIN = re.compile(_trie_regex(p for p in _LABELS if p[0].isascii()))
_LABEL_RE_CJK = re.compile(_trie_regex(p for p in _LABELS if not p[0].isascii()))
_SPACES = re.compile(r"\s+")
_LINE_START_CHARS = frozenset("\n\r;|,.\t")


def _opens_field(text: str, i: int) -> bool:
    """True when only spaces separate position i from the start of a line or field."""
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    return i == 0 or text[i - 1] in _LINE_START_CHARS


def _labelled_values(text: str, low: str, cjk: bool) -> Iterator[_Cand]:
    n = len(low)
    for regex in (_LABEL_RE_LATIN, _LABEL_RE_CJK) if cjk else (_LABEL_RE_LATIN,):
        for m in regex.finditer(low):
            start, end = m.span()
            phrase = m.group()
            if phrase not in _LABELS:  # a multi-word label written with other whitespace
                phrase = _SPACES.sub(" ", phrase)
            # Whole words only for Latin labels ("age" is not in "stage", "id" not in "idea").
            if phrase[0].isascii() and start > 0 and low[start - 1] in _WORD_CHARS:
                continue
            if phrase[-1].isascii() and phrase[-1].isalnum() and end < n and low[end] in _WORD_CHARS:
                continue
            nxt = end
            while nxt < n and text[nxt] in " \t\u3000":
                nxt += 1
            first = text[nxt] if nxt < n else ""
            for label in _LABELS[phrase]:
                if label.first is not None and first not in label.first:
                    continue
                if label.line_start and not _opens_field(text, start):
                    continue
                span = label.parse(text, low, end)
                if span is not None:
                    yield span[0], span[1], label.kind, label.priority


_RULES: tuple[_Rule, ...] = (
    *_EN_NAME_RULES, *_ZH_NAME_RULES, *_DATE_RULES, *_AGE_RULES, *_FORMAT_RULES, _EMAIL_RULE, *_IP_RULES,
    *_EN_ADDRESS_RULES,
)
_CJK_SCANNERS: tuple[Callable[[str, str], Iterable[_Cand]], ...] = (_zh_addresses, _zh_hospitals)
_HAS_CJK = re.compile(f"[{_CJK}]")


# ======================================================================================
# Structured records: identifier keys and the values they reveal
# ======================================================================================

_KEY_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SEP = re.compile(r"[\s\-./]+")

# Structured-record keys whose values are identifiers, by kind. English keys are matched
# after normalising ("Patient Name", "patientName" -> "patient_name"); Chinese keys match
# when they contain one of the fragments.
_EN_KEYS: dict[str, set[str]] = {
    "NAME": {
        "name", "patient_name", "full_name", "first_name", "last_name", "given_name", "family_name", "surname",
        "middle_name", "maiden_name", "attending", "attending_physician", "attending_surgeon",
        "physician", "doctor", "surgeon", "nurse", "resident", "consultant", "referring_physician",
        "referring_doctor", "primary_care_physician", "pcp", "signed_by", "signature", "dictated_by",
        "reviewed_by", "emergency_contact", "emergency_contact_name", "next_of_kin", "contact_person",
        "contact_name", "guardian", "spouse", "relative", "informant", "father", "mother", "employer",
        "radiologist", "pathologist", "anesthesiologist",
    },
    "MRN": {
        "mrn", "medical_record_number", "medical_record_no", "medical_record", "record_number", "mr_number",
        "hospital_number", "chart_number", "admission_number", "inpatient_number", "outpatient_number",
        "patient_number",
    },
    "ID": {
        "id_number", "id_no", "id_card", "id_card_number", "ssn", "social_security_number", "national_id",
        "identity_number", "identity_card", "citizen_id", "passport", "passport_number", "driver_license",
        "drivers_license", "license_number", "patient_id", "hospital_id", "accession_number", "device_serial",
        "serial_number", "license_plate", "vin",
    },
    "PHONE": {
        "phone", "telephone", "tel", "mobile", "cell", "cellphone", "phone_number", "contact_phone", "home_phone",
        "work_phone", "mobile_phone", "contact_number", "emergency_contact_phone",
    },
    "FAX": {"fax", "fax_number"},
    "EMAIL": {"email", "e_mail", "email_address", "mail"},
    "ADDRESS": {
        "address", "home_address", "street", "street_address", "mailing_address", "city", "zip", "zipcode",
        "zip_code", "postal_code", "postcode", "residence", "birthplace", "place_of_birth", "county",
        "hometown", "native_place",
    },
    "HOSPITAL": {"hospital", "hospital_name", "institution", "facility", "medical_center", "clinic_name"},
    "DATE": {
        "dob", "birth_date", "date_of_birth", "birthday", "birthdate", "admission_date", "discharge_date",
        "date_of_admission", "date_of_discharge", "admitted", "discharged", "surgery_date", "operation_date",
        "date_of_surgery", "visit_date", "death_date", "date_of_death", "exam_date", "report_date", "date",
    },
    "ACCOUNT": {
        "account", "account_number", "insurance", "insurance_number", "insurance_id", "policy_number", "member_id",
        "medicare_number", "medicaid_number", "health_plan_id", "billing_number",
    },
    "URL": {"url", "website", "homepage"},
    "IP": {"ip", "ip_address"},
}
_EN_KEY_KIND = {key: kind for kind, keys in _EN_KEYS.items() for key in keys}
# Chinese keys: a key holding one of these anywhere ("患者姓名", "家庭住址", "联系电话") …
_ZH_KEY_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("身份证", "ID"), ("证件号", "ID"), ("护照", "ID"),
    ("医保", "ACCOUNT"), ("社保", "ACCOUNT"), ("账号", "ACCOUNT"), ("帐号", "ACCOUNT"), ("卡号", "ACCOUNT"),
    ("住院号", "MRN"), ("病案号", "MRN"), ("门诊号", "MRN"), ("病历号", "MRN"), ("ID号", "MRN"), ("就诊号", "MRN"),
    ("传真", "FAX"), ("电话", "PHONE"), ("手机", "PHONE"), ("联系方式", "PHONE"),
    ("邮箱", "EMAIL"), ("电子邮件", "EMAIL"), ("邮编", "ADDRESS"), ("地址", "ADDRESS"), ("住址", "ADDRESS"),
    ("籍贯", "ADDRESS"), ("出生地", "ADDRESS"), ("工作单位", "NAME"), ("姓名", "NAME"),
    ("生日", "DATE"), ("出生年月", "DATE"), ("入院时间", "DATE"), ("出院时间", "DATE"),
)
# … or ending with one of these ("主治医师", "就诊医院", "入院日期"; "医生点评" is a commentary).
_ZH_KEY_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("医院", "HOSPITAL"), ("就诊机构", "HOSPITAL"), ("日期", "DATE"),
    ("医师", "NAME"), ("医生", "NAME"), ("大夫", "NAME"), ("主任", "NAME"), ("护士", "NAME"), ("签名", "NAME"),
    ("联系人", "NAME"), ("家属", "NAME"), ("监护人", "NAME"), ("配偶", "NAME"), ("主刀", "NAME"), ("术者", "NAME"),
)
_AGE_KEYS = {"age", "patient_age", "age_years", "年龄", "患者年龄"}


@functools.lru_cache(maxsize=4096)
def _key_kind(key: str) -> str | None:
    """The identifier kind of a structured field key, or None for ordinary fields."""
    norm = _KEY_SEP.sub("_", _KEY_CAMEL.sub("_", key.strip())).lower().strip("_")
    if norm in _AGE_KEYS:
        return "AGE"
    kind = _EN_KEY_KIND.get(norm)
    if kind:
        return kind
    if norm.endswith("_name") and norm[: -len("_name")] in _EN_KEYS["NAME"]:
        return "NAME"  # "physician_name", "emergency_contact_name"
    if norm.endswith(("_phone", "_telephone", "_mobile")):
        return "PHONE"
    if norm.endswith("_address") and not norm.endswith(("ip_address",)):
        return "ADDRESS"
    if norm.endswith(("_date", "_dob")) or norm.startswith("date_of_"):
        return "DATE"
    key = key.strip()
    for fragment, kind in _ZH_KEY_FRAGMENTS:
        if fragment in key:
            return kind
    for suffix, kind in _ZH_KEY_SUFFIXES:
        if key.endswith(suffix):
            return kind
    return None


def _scrub_age(value: Any, path: str, scrubber: Any) -> Any:  # scrubber: a scrubber.Deidentifier
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return AGE_BUCKET if value > 89 else value
    if isinstance(value, str):
        m = re.match(r"\s*(\d{1,3})(?!\d)", value)
        if m and int(m.group(1)) > 89:
            return AGE_BUCKET
        return scrubber.scrub(value)
    raise TypeError(f"deidentify_fields: unsupported age value of type {type(value).__name__} at {path}")


def _collect_known(value: Any, kind: str | None, known: dict[str, list[str]], path: str) -> None:
    """Gather the values found under identifier keys, by kind (step 2 of scrub_fields)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_kind = _key_kind(key) if isinstance(key, str) else None
            _collect_known(item, key_kind or kind, known, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _collect_known(item, kind, known, f"{path}[{i}]")
    elif kind not in (None, "AGE") and isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        if text and text.lower() not in _NULL_VALUES and not _PLACEHOLDER_RE.fullmatch(text):
            known.setdefault(kind, []).append(text)


# Values that say a field is empty; they identify nobody and are kept as they are.
_NULL_VALUES = frozenset(
    {"", "-", "--", "/", "n/a", "na", "none", "null", "unknown", "nil", "无", "不详", "未知", "暂无"}
)
_NAME_SPLIT = re.compile(r"[\s,，;；/、()（）:：]+")


def _known_patterns(kind: str, value: str) -> tuple[set[str], set[str]]:
    """Regex alternatives that find `value` (and, for names, its words) in free text.

    Returns (patterns for the lower-cased text, case-sensitive patterns for the text): a
    full value matches in any case; a single name word only capitalised ("Will", not "will").
    """
    value = value.strip()
    folded: set[str] = set()
    exact: set[str] = set()
    digits = re.sub(r"\D", "", value)
    is_cjk = bool(re.search(f"[{_CJK}]", value))
    if kind != "NAME" and len(digits) >= 5 and re.fullmatch(r"[\d\s().+\-/]+", value):
        # Phone/ID numbers: the digits whatever separators the text uses; a phone stored with
        # its country code is also written without it.
        if kind == "DATE" and len(digits) < 6:
            return folded, exact  # a bare year is not an identifier
        variants = {digits}
        if kind in ("PHONE", "FAX") and len(digits) > 11:
            variants |= {digits[-11:], digits[-10:]}
        for d in variants:
            folded.add(r"(?<!\d)" + r"[\s().\-/]*".join(d) + r"(?!\d)")
        return folded, exact
    if kind == "DATE" and len(digits) < 6 and not re.search(r"[A-Za-z]", value) and not is_cjk:
        return folded, exact
    if (is_cjk and len(value) >= 2) or len(value) >= 4 or (kind == "NAME" and len(value) >= 3):
        folded.add(_literal(value.lower()))
    if kind == "ADDRESS" and not is_cjk:
        # Notes repeat parts of the address: the street, the town ("dialysis patient from Bramford").
        for part in value.split(","):
            part = part.strip()
            if len(part) >= 4 and not _US_STATE_ZIP.fullmatch(part):
                folded.add(_literal(part.lower()))
    if kind == "HOSPITAL" and not is_cjk:
        # … and the short form of a hospital's name ("Riverside General").
        short = _EN_HOSPITAL_TAIL.sub("", value).strip()
        if short != value and (" " in short or len(short) >= 6) and short.lower() not in _EN_HOSPITAL_GENERIC:
            folded.add(_literal(short.lower()))
    if kind == "NAME":
        for part in _NAME_SPLIT.split(value):
            part = part.strip(".")
            if re.fullmatch(f"[{_CJK}·]{{2,8}}", part):
                if re.match(_ZH_SURNAME, part) or "·" in part or len(value) == len(part):
                    folded.add(_literal(part))
            elif re.fullmatch(_EN_TOKEN, part) and len(part) >= 3 and part.lower() not in _EN_STOPWORDS:
                exact.add(r"(?<![A-Za-z0-9_])" + re.escape(part) + r"(?![A-Za-z0-9_])")
    return folded, exact


_US_STATE_ZIP = re.compile(rf"(?:{_STATES})?\s*\d{{5}}(?:-\d{{4}})?|{_STATES}")
_EN_HOSPITAL_TAIL = re.compile(
    r"\s+(?:Hospitals?|Medical\s+Cent(?:er|re)|Health\s+(?:System|Cent(?:er|re)|Care)|Healthcare|Clinic|Infirmary)$"
)


def _literal(value: str) -> str:
    """A whitespace-tolerant literal, bounded like a word where it starts or ends in Latin text.

    A Chinese value must not follow a digit: the attending "周明" is not in "术后1周明显好转"."""
    pattern = r"\s+".join(re.escape(part) for part in value.split())
    if re.match(r"\w", value, re.ASCII):
        pattern = r"(?<![A-Za-z0-9_])" + pattern
    elif re.match(f"[{_CJK}]", value):
        pattern = r"(?<![0-9])" + pattern
    if re.search(r"\w$", value, re.ASCII):
        pattern += r"(?![A-Za-z0-9_])"
    return pattern


def _candidate_order(c: _Cand) -> tuple:
    start, end, kind, priority = c
    return (-priority, start - end, _KIND_TIE_RANK.get(kind, 9), start)


# Same rule strength and span: the more specific label wins ("Insurance ID: …" is an
# account number, "Fax: …" a fax).
_KIND_TIE_RANK = {"ACCOUNT": 0, "FAX": 0, "MRN": 1, "ID": 2}

