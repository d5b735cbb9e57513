"""Synthetic EN/ZH clinical documents with every identifier and every clinical term span known.

A measurement harness for de-identification that knows nothing about how the detector works.
Documents are written in real clinical formats (discharge summaries, radiology and operative
reports, referral and clinic letters, nursing notes, case-report "case presentation" paragraphs,
MCQ stems built from cases, 入院记录, 出院小结, 病程记录, 手术记录, 会诊记录, 影像报告 ...). The
templates are written here; the planted values come from Faker (en_US, en_GB, en_IE, en_AU and
zh_CN; names, streets, cities, companies, e-mails, plates, 身份证号) and from formatters in this
file (phones, labelled numbers, dates in many surface forms, ages over 89 in digits and words).

Every planted identifier is a ``Span`` (doc index, start, end, category, language, text, detail);
so is every clinical term that a good scrubber must keep (vertebral levels, diagnoses, eponyms and
named classifications, drugs, devices, scores, lab values; EN and ZH), some of them in capitalised
positions. Template text and planted values are kept disjoint and every span is checked exactly
(``verify``), so a miss is a miss of the detector, not of the generator.

    from deid_synth import generate, score
    docs = generate(1200, seed=7)
    report = score(docs, spinemed.deid.find_identifiers)

Deterministic by seed for a given Faker version (Faker's data files change between releases).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from faker import Faker

__all__ = [
    "CATEGORIES",
    "FORMATS",
    "SAFE_HARBOR",
    "TERM_KINDS",
    "Doc",
    "Span",
    "generate",
    "score",
    "verify",
]

CATEGORIES = ("NAME", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "ADDRESS", "LOCATION", "HOSPITAL",
              "ID", "MRN", "ACCOUNT", "URL", "IP")
# Which item of the HIPAA Safe Harbor list (45 CFR 164.514(b)(2)(i)) each category stands for.
# A named facility locates the patient more precisely than a state, so HOSPITAL counts with (B).
SAFE_HARBOR = {
    "NAME": "(A) names",
    "ADDRESS": "(B) street address, ZIP code",
    "LOCATION": "(B) city, town, county",
    "HOSPITAL": "(B) named facility (geographic unit smaller than a state)",
    "DATE": "(C) dates other than year",
    "AGE": "(C) ages over 89",
    "PHONE": "(D) telephone numbers",
    "FAX": "(E) fax numbers",
    "EMAIL": "(F) e-mail addresses",
    "ID": "(G, K, L, M, R) SSN / national id, licences, vehicle and device ids, other unique numbers",
    "MRN": "(H) medical record numbers",
    "ACCOUNT": "(I, J) health plan beneficiary and account numbers",
    "URL": "(N) URLs",
    "IP": "(O) IP addresses",
}
TERM_KINDS = ("LEVEL", "DIAGNOSIS", "EPONYM", "DRUG", "DEVICE", "SCORE", "LAB")


@dataclass(frozen=True)
class Span:
    doc: int
    start: int
    end: int
    category: str  # one of CATEGORIES for identifiers, one of TERM_KINDS for terms
    language: str  # "en" | "zh"
    text: str
    detail: str = ""  # surface form, e.g. "name:last_first", "id:npi", "date:iso_t"


@dataclass
class Doc:
    index: int
    text: str
    language: str
    format: str
    identifiers: list[Span] = field(default_factory=list)
    terms: list[Span] = field(default_factory=list)


# ======================================================================================
# Word lists written for this harness (Faker supplies the bulk of the identities)
# ======================================================================================

_EXTRA_FIRST = {
    "F": ["Siobhán", "Aoife", "Ngozi", "Priya", "Zoë", "Renée", "Niamh", "Saoirse", "Anaïs", "Thandiwe",
          "Dagny", "Leilani", "Aroha", "Henrietta", "Oluwaseun", "Ingrid", "Małgorzata", "Yusra"],
    "M": ["Imre", "Oisín", "Zoltán", "Chidi", "Wiremu", "Björn", "Søren", "José", "Tadhg", "Eoghan",
          "Kwame", "Mihai", "Rangi", "Lachlan", "Cormac", "Dáithí", "Tomasz", "Anand"],
}
_PARTICLE_SURNAMES = ["van der Berg", "van der Merwe", "van den Broek", "van Houten", "de la Cruz", "de Vries",
                      "von Essen", "di Stefano", "da Silva", "du Toit", "le Roux", "De Luca", "Van Dyke",
                      "ter Horst", "de Klerk", "dos Santos", "van Rensburg", "de Wit", "La Fontaine",
                      "von Bülow", "Della Valle", "van Leeuwen"]
_APOSTROPHE_SURNAMES = ["O'Shaughnessy", "O'Sullivan", "O'Donnell", "O'Keeffe", "O'Mahony", "O'Driscoll",
                        "O'Riordan", "O'Callaghan", "O'Loughlin", "O'Dwyer", "D'Arcy", "D'Souza", "D'Angelo",
                        "O'Hare", "N'Diaye"]
_GAELIC_SURNAMES = ["Ní Bhriain", "Ní Dhomhnaill", "Ó Súilleabháin", "Ó Ceallaigh", "Mac Giolla Phádraig",
                    "Nic Dhonnchadha", "Ó Briain", "Ní Mhurchú", "Mac Cárthaigh", "Ó Néill", "Mac an tSaoi",
                    "Ní Chonaill"]
_MAC_ROOTS = ["Allister", "Leod", "Intyre", "Kenzie", "Gillivray", "Kinnon", "Phail", "Nulty", "Cafferty"]
_NICKNAMES = {"Margaret": "Peggy", "Elizabeth": "Betty", "William": "Bill", "Robert": "Bob", "Richard": "Dick",
              "James": "Jim", "Katherine": "Kit", "Patricia": "Trish", "Edward": "Ted", "Henrietta": "Etta",
              "Alexander": "Sandy", "Christopher": "Kit", "Dorothy": "Dot", "Charles": "Chuck",
              "Theodore": "Teddy", "Josephine": "Jo", "Francis": "Frankie", "Susan": "Suzie",
              "Michael": "Mick", "Deborah": "Debs", "Rebecca": "Becky", "Anthony": "Tony"}
_GENERIC_NICKS = ["Pip", "Bunny", "Skip", "Dolly", "Buzz", "Kiki", "Sonny", "Birdie", "Mack", "Tootsie",
                  "Bubba", "Ziggy", "Lulu", "Rocco"]
_REAL_TOWNS = {
    "en_US": ["Springfield", "Bakersfield", "Tulsa", "Boise", "Dayton", "Scranton", "Flagstaff", "Eugene",
              "Lubbock", "Fresno", "Duluth", "Macon", "Pueblo", "Provo", "Ogden", "Topeka", "Albuquerque",
              "Chattanooga", "Kalamazoo", "Poughkeepsie"],
    "en_GB": ["Basingstoke", "Kettering", "Harrogate", "Stockport", "Wrexham", "Truro", "Carlisle", "Dundee",
              "Swindon", "Kendal", "Ipswich", "Reading", "Bath", "Aberystwyth", "Loughborough", "Scunthorpe"],
    "en_IE": ["Tralee", "Athlone", "Ennis", "Mullingar", "Dundalk", "Kilkenny", "Letterkenny", "Clonmel",
              "Navan", "Gorey", "Castlebar", "Ballina", "Tullamore", "Bantry", "Dún Laoghaire", "Portlaoise"],
    "en_AU": ["Parramatta", "Ballarat", "Toowoomba", "Wollongong", "Geelong", "Bendigo", "Dubbo", "Cairns",
              "Mildura", "Bunbury", "Wagga Wagga", "Rockhampton", "Kalgoorlie", "Launceston", "Coffs Harbour"],
}
_SAINTS = ["Brigid", "Vincent", "James", "Luke", "Columcille", "Mary", "Thomas", "Bartholomew", "Anne",
           "George", "Finbarr", "Helier", "Cuthbert", "Aidan"]
_EN_FACILITY = [
    "{city} Spine Institute", "{company} Medical Group", "{city} Rehabilitation Campus", "{last} Family Practice",
    "{last} & {last2} Associates", "{last}, {last2} and Partners", "St {saint}'s Hospital",
    "{city} General Hospital", "{city} Orthopaedic Centre", "Royal {city} Infirmary",
    "{city} Regional Medical Center", "{last} Memorial Hospital", "{city} Surgical Centre",
    "{last} Imaging", "{city} Pain and Spine Clinic", "{city} University Hospital", "Mercy {city} Health",
    "{city} Community Health Centre", "{last} Spine Associates", "{company} Physiotherapy",
    "{city} Bone and Joint Specialists", "{saint} House Nursing Home", "{city} Ambulatory Surgery Center",
]
_ZH_RARE_SURNAMES = ["柴", "禤", "亓", "缪", "郗", "佘", "蒯", "逄", "仝", "檀", "闵", "靳", "眭", "笪", "冼",
                     "敖", "覃", "滕", "訾", "逯", "昝", "晏", "阚", "厍"]
_ZH_COMPOUND_SURNAMES = ["欧阳", "司徒", "端木", "慕容", "令狐", "上官", "诸葛", "皇甫", "夏侯", "公孙",
                         "东方", "尉迟", "长孙", "宇文", "轩辕", "司马", "澹台", "万俟"]
_ZH_MINORITY_FIRST = ["热依拉", "买买提", "阿依古丽", "古丽娜尔", "艾尔肯", "迪丽娜尔", "帕提古丽", "努尔兰",
                      "阿迪力", "吐尔洪", "米热古丽", "艾克拜尔", "再努尔", "伊力哈木"]
_ZH_MINORITY_SECOND = ["阿不都", "艾力", "吐尔逊", "买买提", "阿卜杜拉", "依明", "卡德尔", "托合提", "热合曼",
                       "玉素甫", "阿吉"]
_ZH_NICKS = ["豆豆", "妞妞", "虎子", "小宝", "阿毛", "丫丫", "冬冬", "乐乐", "宝儿", "铁蛋", "毛毛", "囡囡"]
_ZH_CLINIC_BRANDS = ["仁和", "康桥", "博爱", "瑞康", "安济", "普济", "惠民", "德仁", "益康", "慈航"]
_ZH_FACILITY = [
    "{city}市第一人民医院", "{city}市中医院", "{city}医科大学附属第二医院", "{city}市骨科医院",
    "{brand}骨科中心", "{city}市脊柱骨科中心", "{city}市康复医院{district}分院", "{surname}氏骨伤诊所",
    "{brand}诊所", "{district}区社区卫生服务中心", "{city}市{district}区人民医院", "{brand}康复医院",
    "{city}中西医结合医院", "{prefix}骨科门诊部", "{city}市妇幼保健院", "{brand}脊柱外科诊所",
    "{city}市第三人民医院骨科中心",
]
_ZH_CN_DIGITS = "〇一二三四五六七八九"
_HEAVENLY = "甲乙丙丁戊己庚辛壬癸"
_EARTHLY = "子丑寅卯辰巳午未申酉戌亥"
_LUNAR_MONTHS = ["正月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "冬月", "腊月"]
_LUNAR_DAYS = ["初一", "初二", "初三", "初四", "初五", "初六", "初七", "初八", "初九", "初十", "十一", "十二",
               "十三", "十四", "十五", "十六", "十七", "十八", "十九", "二十", "廿一", "廿二", "廿三", "廿四",
               "廿五", "廿六", "廿七", "廿八", "廿九", "三十"]
_WEEKDAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_WEEKDAYS_ZH = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# ---- clinical terms that must survive (EN) ------------------------------------------
_LEVEL_PAIRS = [("C", 2, 7), ("T", 1, 12), ("L", 1, 5)]
_EN_DX = ["lumbar spinal stenosis", "degenerative spondylolisthesis", "cervical spondylotic myelopathy",
          "ankylosing spondylitis", "osteoporotic vertebral compression fracture", "lumbar disc herniation",
          "adolescent idiopathic scoliosis", "cauda equina syndrome", "pyogenic spondylodiscitis",
          "diffuse idiopathic skeletal hyperostosis", "ossification of the posterior longitudinal ligament",
          "failed back surgery syndrome", "lumbar radiculopathy", "foraminal stenosis",
          "spinal tuberculosis", "degenerative scoliosis", "multiple myeloma", "isthmic spondylolysis"]
_EN_SIGN_SHORT = ["Babinski", "Hoffmann", "Spurling", "Lhermitte", "Romberg", "Lasègue", "Waddell", "Beevor",
                  "Trendelenburg", "Tinel", "Phalen", "Patrick"]
_EN_SIGNS = ["Hoffmann sign", "Babinski sign", "Spurling test", "Lhermitte sign", "Romberg sign", "Lasègue sign",
             "Hoffmann's sign", "Babinski response", "Spurling's manoeuvre", "Waddell signs"]
_EN_IMG = ["Schmorl node", "Schmorl's nodes", "Modic type 1 changes", "Modic type II endplate changes",
           "Pfirrmann grade IV disc degeneration", "Tarlov cyst", "Meyerding grade II slip",
           "Bertolotti anomaly", "Kümmell disease"]
_EN_EPODX = ["Chance fracture", "Scheuermann kyphosis", "Scheuermann's disease", "Brown-Séquard syndrome",
             "Kümmell disease", "Jefferson fracture", "Bertolotti syndrome", "Pott disease", "Andersson lesion"]
_EN_CLASS = ["Frankel grade C", "ASIA impairment scale B", "AIS grade D", "Denis type B burst fracture",
             "Meyerding grade I", "Risser grade 3", "Pfirrmann grade III", "Denis three-column model",
             "TLICS score of 5", "Lenke 1A curve"]
_EN_APPROACH = ["Wiltse approach", "Roy-Camille technique", "Smith-Robinson approach", "Ponte osteotomy",
                "Smith-Petersen osteotomy", "Magerl technique", "Wiltse paraspinal approach"]
_EN_DRUGS = ["gabapentin", "pregabalin", "Lyrica", "Celebrex", "celecoxib", "Forteo", "teriparatide",
             "zoledronic acid", "alendronate", "denosumab", "Prolia", "tramadol", "oxycodone",
             "methylprednisolone", "dexamethasone", "cefazolin", "vancomycin", "tranexamic acid", "enoxaparin",
             "duloxetine", "Cymbalta", "meloxicam", "ibuprofen", "paracetamol", "acetaminophen", "baclofen",
             "tizanidine", "Neurontin", "Evenity", "romosozumab", "calcitonin", "methocarbamol", "Fosamax",
             "Aclasta", "Targin", "Panadol Osteo"]
_EN_DEVICES = ["pedicle screws", "titanium mesh cage", "PEEK interbody cage", "polyaxial pedicle screw system",
               "spinal cord stimulator", "intrathecal baclofen pump", "kyphoplasty balloon", "PMMA cement",
               "anterior cervical plate", "cervical disc arthroplasty", "Mobi-C disc", "Prestige LP disc",
               "O-arm navigation", "Gardner-Wells tongs", "CD Horizon Solera rods", "cortical bone trajectory screws",
               "Harrington rod", "Coflex interlaminar device", "Kirschner wire"]
_EN_BRACES = ["Aspen collar", "TLSO brace", "Boston brace", "Miami J collar", "Philadelphia collar",
              "Jewett hyperextension brace", "halo vest", "lumbar corset", "soft collar"]
_EN_TABLES = ["Jackson table", "Wilson frame", "Relton-Hall frame", "Mayfield clamp", "Andrews frame"]
_EN_OSTEO_DRUGS = ["Forteo", "teriparatide", "zoledronic acid", "alendronate", "denosumab", "Prolia", "Evenity",
                   "romosozumab", "Fosamax", "Aclasta", "risedronate", "Actonel"]
_EN_PERIOP_DRUGS = ["cefazolin", "vancomycin", "tranexamic acid", "Ancef", "dexamethasone", "methylprednisolone",
                    "clindamycin", "gentamicin"]
_EN_LABS = ["HLA-B27 positive", "HLA-B27 negative", "CRP 48 mg/L", "ESR 62 mm/h", "WBC 11.2 x10^9/L",
            "25-OH vitamin D 18 ng/mL", "procalcitonin 0.4 ng/mL", "T-score -2.9", "ALP 212 U/L",
            "serum calcium 2.61 mmol/L", "PTH 9.8 pmol/L", "HbA1c 7.9%", "CRP 112", "ferritin 410"]

# ---- clinical terms that must survive (ZH) ------------------------------------------
_ZH_LEVEL_NAMES = {"C": "颈", "T": "胸", "L": "腰"}
_ZH_DX = ["腰椎间盘突出症", "腰椎管狭窄症", "脊髓型颈椎病", "强直性脊柱炎", "骨质疏松性椎体压缩骨折", "马尾综合征",
          "后纵韧带骨化症", "退变性腰椎滑脱症", "青少年特发性脊柱侧凸", "脊柱结核", "化脓性脊柱炎", "神经根型颈椎病",
          "腰椎峡部裂", "黄韧带骨化症", "多发性骨髓瘤", "胸椎管狭窄症"]
_ZH_SIGNS = ["巴宾斯基征", "霍夫曼征", "直腿抬高试验", "加强试验", "Spurling试验", "Lhermitte征", "Hoffmann征",
             "Babinski征", "闭目难立征", "股神经牵拉试验", "踝阵挛", "髌阵挛"]
_ZH_IMG = ["Modic改变", "Modic I型改变", "许莫氏结节", "Schmorl结节", "Tarlov囊肿", "终板炎",
           "椎间盘真空征", "Pfirrmann IV级退变", "黄韧带肥厚"]
_ZH_EPODX = ["Chance骨折", "休门氏病", "Scheuermann病", "Kümmell病", "布朗-塞卡综合征", "Jefferson骨折",
             "Bertolotti综合征", "Hangman骨折"]
_ZH_CLASS = ["Frankel分级C级", "ASIA分级B级", "Meyerding II度", "Pfirrmann IV级", "Risser 3级",
             "AO分型A3型", "Lenke 1A型", "Denis分型B型"]
_ZH_DRUGS = ["阿仑膦酸钠", "唑来膦酸", "特立帕肽", "塞来昔布", "普瑞巴林", "加巴喷丁", "甲钴胺", "依托考昔",
             "氨酚曲马多", "鲑鱼降钙素", "甘露醇", "甲泼尼龙", "头孢呋辛", "氨甲环酸", "低分子肝素", "洛索洛芬钠",
             "乙哌立松", "骨化三醇", "碳酸钙D3", "Lyrica", "西乐葆"]
_ZH_DEVICES = ["椎弓根螺钉", "椎间融合器", "钛网", "骨水泥", "钛板", "人工椎间盘", "脊髓电刺激器", "椎体成形球囊",
               "Cage", "O型臂导航", "皮质骨轨迹螺钉", "Coflex棘突间固定器"]
_ZH_BRACES = ["颈托", "胸腰骶支具", "腰围", "费城颈托", "Boston支具", "头颈胸支具", "硬质腰围"]
_ZH_LABS = ["HLA-B27阳性", "HLA-B27阴性", "C反应蛋白 48 mg/L", "血沉 62 mm/h", "降钙素原 0.4 ng/mL",
            "白细胞 11.2×10⁹/L", "25-羟维生素D 18 ng/mL", "T值 -2.9", "碱性磷酸酶 212 U/L", "CRP 36 mg/L"]


# ======================================================================================
# Segments and the per-document context
# ======================================================================================

# A segment is (kind, text, category, detail) with kind "lit" (template text), "id" or "term".
def _I(text: str, cat: str, detail: str = "") -> tuple:
    return ("id", text, cat, detail)


def _T(text: str, kind: str, detail: str = "") -> tuple:
    return ("term", text, kind, detail)


def _P(text: str) -> tuple:
    return ("lit", text, None, None)


_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(cap|upper|lower))?\}")


def _once(fn):
    """Slot filler evaluated once per document (the patient's name, the hospital ...)."""

    def wrapper(self):
        key = fn.__name__
        if key not in self.cache:
            self.cache[key] = fn(self)
        return self.cache[key]

    wrapper.__name__ = fn.__name__
    return wrapper


def _digits(rng: random.Random, n: int, first_nonzero: bool = False) -> str:
    s = "".join(rng.choice("0123456789") for _ in range(n))
    if first_nonzero and s[0] == "0":
        s = rng.choice("123456789") + s[1:]
    return s


def _letters(rng: random.Random, n: int, alphabet: str = "ABCDEFGHJKLMNPRSTUVWXYZ") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _en_number_words(n: int) -> str:
    tens = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
    if n >= 100:
        rest = n - 100
        return "one hundred" if rest == 0 else f"one hundred and {_en_number_words(rest)}"
    if n < 10:
        return _ONES[n]
    if n < 20:
        return ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                "eighteen", "nineteen"][n - 10]
    t, o = divmod(n, 10)
    return tens[t] + (f"-{_ONES[o]}" if o else "")


def _zh_number_words(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n >= 100:
        rest = n - 100
        if rest == 0:
            return "一百"
        return "一百零" + digits[rest] if rest < 10 else "一百" + _zh_number_words(rest)
    t, o = divmod(n, 10)
    return (digits[t] if t > 1 else "") + "十" + (digits[o] if o else "")


def _zh_cn_year(y: int) -> str:
    return "".join(_ZH_CN_DIGITS[int(c)] for c in str(y))


def _zh_cn_small(n: int) -> str:  # 1..31 written as 一 .. 三十一
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    t, o = divmod(n, 10)
    return (digits[t] if t > 1 else "") + "十" + (digits[o] if o else "")


_FAKERS: dict[str, Faker] = {}


def _faker(locale: str) -> Faker:
    if locale not in _FAKERS:
        _FAKERS[locale] = Faker(locale)
    return _FAKERS[locale]


class _Ctx:
    """One document being written: its language, random sources, persona and segments."""

    def __init__(self, lang: str, locale: str, rng: random.Random):
        self.lang = lang
        self.locale = locale
        self.rng = rng
        self.fk = _faker(locale)
        self.fk.seed_instance(rng.getrandbits(48))
        self.cache: dict = {}
        self.segs: list[tuple] = []
        self.g = rng.choice("FM")  # the patient's sex
        old = rng.random() < 0.16
        self.age_n = rng.randint(90, 104) if old else rng.randint(14, 89)
        self.us = locale == "en_US"
        # the document's own "now": every date in it falls within ~18 months before it
        self.anchor = datetime(2013, 1, 1) + timedelta(days=rng.randrange(13 * 365))

    # ---- assembling ------------------------------------------------------------------
    def add(self, template: str) -> None:
        pos = 0
        for m in _SLOT.finditer(template):
            if m.start() > pos:
                self.segs.append(_P(template[pos:m.start()]))
            segs = self.fill(m.group(1))
            mod = m.group(2)
            if mod == "cap":
                k, t, c, d = segs[0]
                segs = [(k, t[:1].upper() + t[1:], c, d)] + segs[1:]
            elif mod == "upper":
                segs = [(k, t.upper(), c, d) for k, t, c, d in segs]
            elif mod == "lower":
                segs = [(k, t.lower(), c, d) for k, t, c, d in segs]
            self.segs.extend(segs)
            pos = m.end()
        if pos < len(template):
            self.segs.append(_P(template[pos:]))

    def line(self, template: str) -> None:
        self.add(template + "\n")

    def fill(self, name: str) -> list[tuple]:
        fn = getattr(self, "s_" + name, None)
        cap = False
        if fn is None and name[:1].isupper():  # {Drug} = {drug:cap}
            fn, cap = getattr(self, "s_" + name[0].lower() + name[1:], None), True
        if fn is None:
            raise KeyError(f"unknown template slot {{{name}}}")
        out = fn()
        if isinstance(out, str):
            out = [_P(out)]
        elif isinstance(out, tuple):
            out = [out]
        out = list(out)
        if cap:
            k, t, c, d = out[0]
            out[0] = (k, t[:1].upper() + t[1:], c, d)
        return out

    def pick(self, options: list[str]) -> None:
        self.add(self.rng.choice(options))

    def some(self, options: list[str], k: tuple[int, int], sep: str = " ") -> None:
        """Add k (a range) distinct templates from options, in random order, joined by sep."""
        n = min(len(options), self.rng.randint(*k))
        for j, t in enumerate(self.rng.sample(options, n)):
            self.add((sep if j else "") + t)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # ---- plain fillers (template text, not identifiers) ------------------------------
    def s_he(self): return "she" if self.g == "F" else "he"
    def s_He(self): return "She" if self.g == "F" else "He"
    def s_his(self): return "her" if self.g == "F" else "his"
    def s_His(self): return "Her" if self.g == "F" else "His"
    def s_him(self): return "her" if self.g == "F" else "him"
    def s_man(self): return "woman" if self.g == "F" else "man"
    def s_sex(self): return "female" if self.g == "F" else "male"
    def s_zsex(self): return "女" if self.g == "F" else "男"
    def s_side(self): return self.rng.choice(["left", "right", "bilateral"])
    def s_zside(self): return self.rng.choice(["左", "右", "双"])
    def s_n(self): return str(self.rng.randint(2, 9))
    def s_nn(self): return str(self.rng.randint(10, 60))

    @_once
    def s_mr(self):
        t = {"F": ["Mrs", "Ms", "Miss"], "M": ["Mr"]}[self.g]
        t = self.rng.choice(t)
        return t + "." if self.us and t != "Miss" else t

    @_once
    def s_job(self):
        return self.rng.choice(["retired teacher", "farmer", "bus driver", "warehouse worker", "nurse",
                                "accountant", "builder", "retired miner", "student", "chef", "carpenter",
                                "care assistant", "software developer", "publican", "postal worker"])

    @_once
    def s_zjob(self):
        return self.rng.choice(["退休", "农民", "教师", "工人", "个体", "学生", "司机", "会计", "无业", "厨师"])

    @_once
    def s_relation(self):
        return self.rng.choice(["daughter", "son", "husband" if self.g == "F" else "wife", "niece", "neighbour"
                                if not self.us else "neighbor", "brother", "sister"])

    @_once
    def s_zrelation(self):
        return self.rng.choice(["女儿", "儿子", "丈夫" if self.g == "F" else "妻子", "侄子", "外孙女", "兄弟"])

    def s_ward(self):
        return self.rng.choice(["Ward 7B", "Spinal Unit", "Orthopaedic Ward", "Surgical HDU", "Ward 4",
                                "Short Stay Unit", "Neurosurgery Ward"])

    # ---- English persons ---------------------------------------------------------------
    def _surname(self) -> tuple[str, str]:
        r, fk, rng = self.rng.random(), self.fk, self.rng
        if r < 0.52:
            return fk.last_name(), "plain"
        if r < 0.64:
            a, b = fk.last_name(), fk.last_name()
            while b == a:
                b = fk.last_name()
            return f"{a}-{b}", "hyphenated"
        if r < 0.75:
            return rng.choice(_PARTICLE_SURNAMES), "particle"
        if r < 0.85:
            return rng.choice(_APOSTROPHE_SURNAMES), "apostrophe"
        if r < 0.93:
            return rng.choice(_GAELIC_SURNAMES), "gaelic"
        return rng.choice(["Mc", "Mac"]) + rng.choice(_MAC_ROOTS), "mac"

    def _person(self, g: str | None = None) -> dict:
        g = g or self.rng.choice("FM")
        if self.rng.random() < 0.15:
            first = self.rng.choice(_EXTRA_FIRST[g])
        else:
            first = self.fk.first_name_female() if g == "F" else self.fk.first_name_male()
        last, form = self._surname()
        return {"first": first, "last": last, "g": g, "form": form}

    @_once
    def _pt(self):
        p = self._person(self.g)
        if p["first"] in _NICKNAMES:
            p["nick"] = _NICKNAMES[p["first"]]
        elif len(p["first"]) > 5 and self.rng.random() < 0.5:
            p["nick"] = p["first"][:3] if p["first"][:3].isalpha() else self.rng.choice(_GENERIC_NICKS)
        else:
            p["nick"] = self.rng.choice(_GENERIC_NICKS)
        return p

    def _name(self, p: dict, form: str, tag: str) -> list[tuple]:
        f, la = p["first"], p["last"]
        d = f"name:{tag}:{form}:{p['form']}"
        if form == "full":
            return [_I(f"{f} {la}", "NAME", d)]
        if form == "first":
            return [_I(f, "NAME", d)]
        if form == "last":
            return [_I(la, "NAME", d)]
        if form == "lf":
            return [_I(f"{la}, {f}", "NAME", d)]
        if form == "LF":
            return [_I(f"{la.upper()}, {f.upper()}", "NAME", d)]
        if form == "UP":
            return [_I(f"{f.upper()} {la.upper()}", "NAME", d)]
        if form == "init":
            style = self.rng.randrange(3)
            ini = [w[0] for w in la.replace("-", " ").split() if w[0].isupper()] or [la[0].upper()]
            if style == 0:
                return [_I(f"{f[0]}.{'.'.join(ini)}.", "NAME", d)]
            if style == 1:
                return [_I(f"{f[0]}{''.join(ini)}", "NAME", d)]
            return [_I(f"{f[0]}. {la}", "NAME", d)]
        raise ValueError(form)

    def s_pt(self): return self._name(self._pt(), "full", "pt")
    def s_pt_first(self): return self._name(self._pt(), "first", "pt")
    def s_pt_last(self): return self._name(self._pt(), "last", "pt")
    def s_pt_lf(self): return self._name(self._pt(), "lf", "pt")
    def s_pt_LF(self): return self._name(self._pt(), "LF", "pt")
    def s_pt_UP(self): return self._name(self._pt(), "UP", "pt")

    @_once
    def s_pt_init(self): return self._name(self._pt(), "init", "pt")

    def s_pt_nick(self): return [_I(self._pt()["nick"], "NAME", "name:pt:nick")]

    def s_pt_fullnick(self):
        p = self._pt()
        return [_I(p["first"], "NAME", "name:pt:first"), _P(' "'), _I(p["nick"], "NAME", "name:pt:nick"),
                _P('" '), _I(p["last"], "NAME", f"name:pt:last:{p['form']}")]

    @_once
    def _rel(self): return self._person()

    def s_rel(self): return self._name(self._rel(), "full", "rel")
    def s_rel_first(self): return self._name(self._rel(), "first", "rel")

    @_once
    def _dr(self): return self._person()

    @_once
    def _dr2(self): return self._person()

    @_once
    def _gp(self): return self._person()

    @_once
    def _rad(self): return self._person()

    @_once
    def _nurse(self): return self._person()

    def s_dr(self): return self._name(self._dr(), "full", "dr")
    def s_dr_last(self): return self._name(self._dr(), "last", "dr")
    def s_dr_lf(self): return self._name(self._dr(), "lf", "dr")
    def s_dr_UP(self): return self._name(self._dr(), "UP", "dr")
    def s_dr_init(self): return self._name(self._dr(), "init", "dr")
    def s_dr2(self): return self._name(self._dr2(), "full", "dr")
    def s_dr2_last(self): return self._name(self._dr2(), "last", "dr")
    def s_gp(self): return self._name(self._gp(), "full", "gp")
    def s_gp_last(self): return self._name(self._gp(), "last", "gp")
    def s_rad(self): return self._name(self._rad(), "full", "dr")
    def s_rad_lf(self): return self._name(self._rad(), "lf", "dr")
    def s_nurse(self): return self._name(self._nurse(), "full", "nurse")
    def s_nurse_first(self): return self._name(self._nurse(), "first", "nurse")
    def s_nurse_init(self): return self._name(self._nurse(), "init", "nurse")

    def s_drt(self):
        """"Dr Last" with the title as template text and the name as the identifier."""
        t = "Dr." if self.us else "Dr"
        return [_P(t + " ")] + self._name(self._dr(), self.rng.choice(["last", "full"]), "dr")

    # ---- English places --------------------------------------------------------------
    def _city(self) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(_REAL_TOWNS[self.locale])
        return self.fk.city()

    @_once
    def s_city(self): return [_I(self._city(), "LOCATION", "loc:city")]

    def s_town(self): return [_I(self._city(), "LOCATION", "loc:town")]

    def _facility(self) -> str:
        tpl = self.rng.choice(_EN_FACILITY)
        last2 = self.fk.last_name()
        company = self._company()
        return tpl.format(city=self._city(), company=company, last=self.fk.last_name(), last2=last2,
                          saint=self.rng.choice(_SAINTS))

    @_once
    def s_hosp(self): return [_I(self._facility(), "HOSPITAL", "fac")]

    @_once
    def s_hosp2(self): return [_I(self._facility(), "HOSPITAL", "fac")]

    @_once
    def s_clinic(self):
        tpl = self.rng.choice(["{last} Family Practice", "{last} & {last2} Associates", "{company} Medical Group",
                               "{city} Spine Institute", "{city} Rehabilitation Campus", "{last} Spine Associates",
                               "{city} Physiotherapy Associates", "{last} Medical Centre"])
        company = self._company()
        return [_I(tpl.format(last=self.fk.last_name(), last2=self.fk.last_name(), company=company,
                              city=self._city()), "HOSPITAL", "fac:clinic")]

    def _company(self) -> str:
        c = self.fk.company().split(",")[0].split(" and ")[0]
        return re.sub(r"\s+(Group|Inc|LLC|Ltd|PLC|plc|and Sons|& Sons|Pty Ltd)$", "", c)

    @_once
    def s_hospUP(self):
        return [(k, t.upper(), c, d) for k, t, c, d in self.s_hosp()]

    def _street(self) -> str:
        fk, rng = self.fk, self.rng
        street = f"{fk.building_number()} {fk.street_name()}"
        if self.locale in ("en_US", "en_AU") and rng.random() < 0.25:
            street += rng.choice([", Apt ", ", Unit ", " #"]) + str(rng.randint(1, 40)) + rng.choice(["", "B"])
        if self.locale in ("en_GB", "en_IE") and rng.random() < 0.2:
            street = rng.choice(["Flat ", "Apt "]) + str(rng.randint(1, 30)) + ", " + street
        return street

    def _postcode(self) -> tuple[str, str]:
        fk, rng = self.fk, self.rng
        if self.locale == "en_US":
            return (fk.zipcode_plus4(), "addr:zip4") if rng.random() < 0.4 else (fk.zipcode(), "addr:zip")
        if self.locale == "en_GB":
            return rng.choice(["SW1A 2AA", fk.postcode(), fk.postcode(), "M14 5RB", "EH3 9YY", "B15 2TT"]), \
                "addr:uk_postcode"
        if self.locale == "en_IE":
            return rng.choice(["V92", "D08", "T12", "H91", "A96"]) + " " + _letters(rng, 1) + _digits(rng, 1) + \
                _letters(rng, 1) + _digits(rng, 1), "addr:eircode"
        return fk.postcode(), "addr:au_postcode"

    @_once
    def s_addr(self): return self._address()

    def s_addr2(self): return self._address()

    def _address(self) -> list[tuple]:
        rng = self.rng
        if rng.random() < 0.15:
            first = _I(rng.choice(["PO Box ", "P.O. Box ", "PO BOX ", "Locked Bag "]) + str(rng.randint(2, 9999)),
                       "ADDRESS", "addr:pobox")
        else:
            first = _I(self._street(), "ADDRESS", "addr:street")
        pc, pcd = self._postcode()
        town = _I(self._city(), "LOCATION", "loc:town")
        if self.locale == "en_US":
            return [first, _P(", "), town, _P(", " + self.fk.state_abbr() + " "), _I(pc, "ADDRESS", pcd)]
        if self.locale == "en_AU":
            return [first, _P(", "), town, _P(" " + self.fk.state_abbr() + " "), _I(pc, "ADDRESS", pcd)]
        if self.locale == "en_IE":
            return [first, _P(", "), town, _P(", Co. "), _I(self.fk.county(), "LOCATION", "loc:county"), _P(", "),
                    _I(pc, "ADDRESS", pcd)]
        return [first, _P(", "), town, _P(", "), _I(pc, "ADDRESS", pcd)]

    # ---- English numbers and contacts -------------------------------------------------
    def _phone(self) -> str:
        rng, loc = self.rng, self.locale
        d = lambda n: _digits(rng, n)  # noqa: E731
        if loc == "en_US":
            a, b, c = _digits(rng, 3, True), _digits(rng, 3, True), d(4)
            return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}",
                               f"1-{a}-{b}-{c}", f"{a}{b}{c}", self.fk.phone_number()])
        if loc == "en_GB":
            return rng.choice([f"020 {d(4)} {d(4)}", f"+44 (0)20 {d(4)} {d(4)}", f"07{d(3)} {d(6)}",
                               f"+44 7{d(3)} {d(6)}", f"01{d(3)} {d(6)}", f"0{d(3)}-{d(3)}-{d(4)}",
                               self.fk.phone_number()])
        if loc == "en_IE":
            return rng.choice([f"+353 8{rng.choice('3567')} {d(3)} {d(4)}", f"(01) {d(3)} {d(4)}",
                               f"08{rng.choice('3567')}-{d(3)}-{d(4)}", f"021 {d(3)} {d(4)}",
                               f"+353 (0)66 {d(3)} {d(4)}", f"0{d(2)} {d(7)}"])
        return rng.choice([f"(02) {d(4)} {d(4)}", f"+61 2 {d(4)} {d(4)}", f"04{d(2)} {d(3)} {d(3)}",
                           f"+61 4{d(2)} {d(3)} {d(3)}", f"(08) {d(4)}-{d(4)}", f"1300 {d(3)} {d(3)}"])

    @_once
    def s_phone(self): return [_I(self._phone(), "PHONE", "phone")]

    def s_phone2(self): return [_I(self._phone(), "PHONE", "phone")]

    def s_fax(self): return [_I(self._phone(), "FAX", "fax")]

    def _email_of(self, p: dict | None) -> str:
        fk, rng = self.fk, self.rng
        if p is None or rng.random() < 0.35:
            return rng.choice([fk.free_email(), fk.email(), fk.company_email()])
        user = unicodedata.normalize("NFKD", f"{p['first']}.{p['last']}").encode("ascii", "ignore").decode()
        user = re.sub(r"[^a-z.]", "", user.lower()) or fk.user_name()
        if rng.random() < 0.4:
            user = user.split(".")[0][:1] + "." + user.split(".")[-1]
        return f"{user}{rng.choice(['', str(rng.randint(1, 99))])}@{fk.free_email_domain()}"

    @_once
    def s_email(self): return [_I(self._email_of(self._pt()), "EMAIL", "email")]

    def s_dr_email(self): return [_I(self._email_of(self._dr()), "EMAIL", "email")]
    def s_gp_email(self): return [_I(self._email_of(self._gp()), "EMAIL", "email")]

    def s_url(self):
        fk, rng = self.fk, self.rng
        dom = fk.domain_name()
        return [_I(rng.choice([fk.url(), fk.uri(), f"https://mychart.{dom}/patient/{_digits(rng, 7)}",
                               f"www.{dom}", f"http://pacs.{dom}/viewer?study={_digits(rng, 9)}",
                               f"https://{dom}/~{fk.user_name()}/rehab-plan.pdf",
                               f"https://portal.{dom}/appointments"]), "URL", "url")]

    def s_ip(self):
        fk, rng = self.fk, self.rng
        return [_I(rng.choice([fk.ipv4_private(), fk.ipv4_private(), fk.ipv4(), fk.ipv6()]), "IP", "ip")]

    @_once
    def s_mrn(self):
        rng = self.rng
        return [_I(rng.choice([_digits(rng, 8), f"{_digits(rng, 2)}-{_digits(rng, 2)}-{_digits(rng, 3)}",
                               f"{_letters(rng, 1)}{_digits(rng, 7)}", f"PX-{_digits(rng, 7)}",
                               _digits(rng, 6, True), f"MRN{_digits(rng, 9)}", f"{_digits(rng, 4)}-{_digits(rng, 3)}"]),
                   "MRN", "mrn")]

    def s_nhs(self):
        d = self.rng
        return [_I(f"{_digits(d, 3, True)} {_digits(d, 3)} {_digits(d, 4)}", "ID", "id:nhs")]

    def s_npi(self): return [_I(_digits(self.rng, 10, True), "ID", "id:npi")]
    def s_dea(self): return [_I(_letters(self.rng, 2) + _digits(self.rng, 7), "ID", "id:dea")]

    def s_lic(self):
        rng = self.rng
        return [_I(rng.choice([f"MD-{_digits(rng, 7)}", f"A{_digits(rng, 5)}", _digits(rng, 7, True),
                               f"MED000{_digits(rng, 7)}", f"G{_digits(rng, 6)}"]), "ID", "id:licence")]

    def s_dl(self):
        rng = self.rng
        return [_I(rng.choice([f"{_letters(rng, 1)}{_digits(rng, 3)}-{_digits(rng, 4)}-{_digits(rng, 4)}",
                               f"{_letters(rng, 5)}{_digits(rng, 6)}{_letters(rng, 2)}{_digits(rng, 1)}{_letters(rng, 2)}",
                               _digits(rng, 9, True), f"{_digits(rng, 6)}-{_digits(rng, 3)}"]), "ID", "id:driver")]

    def s_passport(self):
        rng = self.rng
        return [_I(rng.choice([_digits(rng, 9, True), f"{_letters(rng, 2)}{_digits(rng, 7)}",
                               f"{_letters(rng, 1)}{_digits(rng, 8)}"]), "ID", "id:passport")]

    def s_member(self):
        rng = self.rng
        return [_I(rng.choice([f"{_letters(rng, 3)}{_digits(rng, 9)}", f"W{_digits(rng, 9)}",
                               f"BCB-{_digits(rng, 4)}-{_digits(rng, 4)}", f"{_digits(rng, 4)} {_digits(rng, 5)} {_digits(rng, 1)}",
                               f"U{_digits(rng, 8)}-01"]), "ACCOUNT", "acct:member")]

    def s_mbi(self):
        rng = self.rng
        L = "ACDEFGHJKMNPQRTUVWXY"
        an = L + "0123456789"
        m = (rng.choice("123456789") + rng.choice(L) + rng.choice(an) + rng.choice("0123456789") + rng.choice(L)
             + rng.choice(an) + rng.choice("0123456789") + rng.choice(L) + rng.choice(L) + _digits(rng, 2))
        if rng.random() < 0.5:
            m = f"{m[:4]}-{m[4:7]}-{m[7:]}"
        return [_I(m, "ACCOUNT", "acct:mbi")]

    def s_acct(self):
        rng = self.rng
        if rng.random() < 0.2:  # "FIN" (financial identification number) is a label, not part of the number
            return [_P("FIN "), _I(_digits(rng, 8), "ACCOUNT", "acct:account")]
        return [_I(rng.choice([_digits(rng, 10, True), f"{_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 2)}",
                               f"V{_digits(rng, 8)}", f"E-{_digits(rng, 2)}-{_digits(rng, 6)}"]),
                   "ACCOUNT", "acct:account")]

    def s_accession(self):
        rng = self.rng
        return [_I(rng.choice([f"RAD{_digits(rng, 2)}-{_digits(rng, 6)}", f"{_digits(rng, 2)}CT{_digits(rng, 7)}",
                               f"ACC{_digits(rng, 9)}", f"MR-{_digits(rng, 4)}-{_digits(rng, 5)}", _digits(rng, 11, True)]),
                   "ID", "id:accession")]

    def s_specimen(self):
        rng = self.rng
        return [_I(rng.choice([f"S{_digits(rng, 2)}-{_digits(rng, 5)}", f"SP-{_digits(rng, 4)}-{_digits(rng, 6)}",
                               f"{_letters(rng, 2)}{_digits(rng, 8)}", f"H{_digits(rng, 2)}/{_digits(rng, 4)}"]),
                   "ID", "id:specimen")]

    def s_serial(self):
        rng = self.rng
        an = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        return [_I(rng.choice(["".join(rng.choice(an) for _ in range(4)) + "-" + "".join(rng.choice(an) for _ in range(4))
                               + "-" + _digits(rng, 4),
                               f"{_letters(rng, 3)}{_digits(rng, 6)}{_letters(rng, 1)}",
                               f"(01){_digits(rng, 14)}(21){_letters(rng, 2)}{_digits(rng, 6)}",
                               _digits(rng, 10, True)]), "ID", "id:device_serial")]

    def s_lot(self):  # a production identifier of a device (Safe Harbor M)
        rng = self.rng
        return [_I(rng.choice([f"{_digits(rng, 2)}{_letters(rng, 1)}{_digits(rng, 3)}", f"LOT{_digits(rng, 6)}"]),
                   "ID", "id:device_lot")]

    def s_ssn(self):
        rng = self.rng
        if self.locale == "en_GB":
            v = f"{_letters(rng, 2, 'ABCEGHJKLMNPRSTWXYZ')} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} " \
                f"{rng.choice('ABCD')}"
        elif self.locale == "en_IE":
            v = f"{_digits(rng, 7)}{_letters(rng, 1, 'ABCDEFGHJKLMNPTVWX')}{rng.choice(['', 'A', 'H'])}"
        elif self.locale == "en_AU":
            v = f"{_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 3)}"
        else:
            v = rng.choice([f"{_digits(rng, 3, True)}-{_digits(rng, 2)}-{_digits(rng, 4)}", _digits(rng, 9, True)])
        return [_I(v, "ID", "id:ssn")]

    def s_ssn_label(self):
        label = {"en_US": ["SSN: ", "Social Security No. ", "SS#: "], "en_GB": ["National Insurance no. ", "NI number: "],
                 "en_IE": ["PPSN ", "PPS No.: "], "en_AU": ["TFN: ", "Tax file number "]}[self.locale]
        return [_P(self.rng.choice(label))] + self.s_ssn()

    def s_plate(self):
        return [_I(self.fk.license_plate(), "ID", "id:plate")]

    def s_bed(self):
        rng = self.rng
        return [_I(rng.choice([str(rng.randint(1, 40)), f"{rng.randint(1, 40)}{rng.choice('ABCD')}"]), "ID", "id:bed")]

    # ---- dates and ages ----------------------------------------------------------------
    def _rand_date(self) -> datetime:
        return self.anchor + timedelta(days=self.rng.randint(-540, 60), minutes=self.rng.randrange(7 * 60, 22 * 60))

    def _fresh(self, key: str, options: list[str]) -> str:
        """A choice from options not yet used in this document (while any are left)."""
        used = self.cache.setdefault("used:" + key, set())
        left = [o for o in options if o not in used] or options
        v = self.rng.choice(left)
        used.add(v)
        return v

    def _en_date(self, d: datetime, style: str | None = None) -> tuple[str, str]:
        rng = self.rng
        styles = ["num", "iso", "iso_t", "iso_space", "dmy_words", "mdy_words", "ord_of", "weekday",
                  "mon_yy", "month_year", "dmy_abbr", "compact", "dots", "short_num", "ord_month", "day_month"]
        style = style or rng.choice(styles)
        mon, mab = _MONTHS[d.month - 1], _MONTHS[d.month - 1][:3]
        us = self.us
        if style == "num":
            s = f"{d.month:02d}/{d.day:02d}/{d.year}" if us else f"{d.day:02d}/{d.month:02d}/{d.year}"
        elif style == "iso":
            s = d.strftime("%Y-%m-%d")
        elif style == "iso_t":
            s = d.strftime("%Y-%m-%dT%H:%M") + (d.strftime(":%S") if rng.random() < 0.3 else "")
        elif style == "iso_space":
            s = d.strftime("%Y-%m-%d %H:%M")
        elif style == "dmy_words":
            s = f"{d.day} {rng.choice([mon, mab])} {d.year}"
        elif style == "mdy_words":
            s = f"{rng.choice([mon, mab + '.', mab])} {rng.choice([str(d.day), _ordinal(d.day)])}, {d.year}"
        elif style == "ord_of":
            s = f"{_ordinal(d.day)} of {mon}" + (f" {d.year}" if rng.random() < 0.4 else "")
        elif style == "weekday":
            wd = _WEEKDAYS_EN[d.weekday()]
            s = rng.choice([f"{wd}, {d.day} {mon} {d.year}", f"{wd[:3]} {d.day:02d}/{d.month:02d}/{d.year}",
                            f"{wd} {mon} {d.day}, {d.year}", f"{wd} {d.month}/{d.day}"])
        elif style == "mon_yy":
            s = rng.choice([f"{mab} '{d.year % 100:02d}", f"{mon} '{d.year % 100:02d}"])
        elif style == "month_year":
            s = rng.choice([f"{mon} {d.year}", f"{mab} {d.year}", f"{d.month:02d}/{d.year}"])
        elif style == "dmy_abbr":
            s = rng.choice([f"{d.day:02d}-{mab}-{d.year}", f"{d.day:02d}{mab.upper()}{d.year}",
                            f"{d.day:02d}-{mab.upper()}-{d.year % 100:02d}"])
        elif style == "compact":
            s = d.strftime("%Y%m%d")
        elif style == "dots":
            s = f"{d.day}.{d.month}.{d.year}"
        elif style == "short_num":
            s = f"{d.month}/{d.day}/{d.year % 100:02d}" if us else f"{d.day}/{d.month}/{d.year % 100:02d}"
        elif style == "ord_month":
            s = f"{mon} {_ordinal(d.day)}" if us else f"{_ordinal(d.day)} {mon}"
        else:  # day_month
            s = f"{mab} {d.day}" if us else f"{d.day} {mab}"
        return s, "date:" + style

    def s_date(self):
        s, d = self._en_date(self._rand_date())
        return [_I(s, "DATE", d)]

    def s_date_iso_t(self):
        s, d = self._en_date(self._rand_date(), "iso_t")
        return [_I(s, "DATE", d)]

    def s_date_ord(self):
        s, d = self._en_date(self._rand_date(), "ord_of")
        return [_P("the "), _I(s, "DATE", d)]

    def s_date_wd(self):
        s, d = self._en_date(self._rand_date(), "weekday")
        return [_I(s, "DATE", d)]

    def s_date_mon_yy(self):
        s, d = self._en_date(self._rand_date(), "mon_yy")
        return [_I(s, "DATE", d)]

    @_once
    def s_dob(self):
        d = datetime(self.anchor.year - self.age_n, self.rng.randint(1, 12), self.rng.randint(1, 28))
        s, det = self._en_date(d, self.rng.choice(["num", "iso", "dmy_words", "mdy_words", "dmy_abbr", "dots"]))
        return [_I(s, "DATE", "dob:" + det)]

    def s_age(self):
        """The patient's age: a plain number under 90, an AGE identifier (digits or words) from 90 on."""
        n = self.age_n
        if n < 90:
            return str(n)
        if self.rng.random() < 0.4:
            return [_I(_en_number_words(n), "AGE", "age:words")]
        return [_I(str(n), "AGE", "age:digits")]

    # ---- terms -------------------------------------------------------------------------
    def _level(self) -> str:
        rng = self.rng
        region, lo, hi = rng.choice(_LEVEL_PAIRS + [("L", 1, 5)])
        if region == "L" and rng.random() < 0.3:
            return rng.choice(["L5/S1", "L5-S1", "L5–S1", "S1"])
        if region == "T" and rng.random() < 0.3:
            return rng.choice(["T12-L1", "T12/L1", "T11-T12", "T12"])
        a = rng.randint(lo, hi - 1)
        b = a + 1
        return rng.choice([f"{region}{a}/{b}", f"{region}{a}-{region}{b}", f"{region}{a}-{b}", f"{region}{a}–{b}",
                           f"{region}{a}", f"{region}{a}/{region}{b}",
                           f"{region}{a}-{region}{min(b + 1, hi)}"])

    def s_level(self): return [_T(self._level(), "LEVEL")]
    def s_dx(self): return [_T(self._fresh("dx", _EN_DX), "DIAGNOSIS")]
    def s_sign(self): return [_T(self._fresh("sign", _EN_SIGNS), "EPONYM", "sign")]
    def s_esign(self): return [_T(self._fresh("esign", _EN_SIGN_SHORT), "EPONYM", "sign:bare")]
    def s_img(self): return [_T(self._fresh("img", _EN_IMG), "EPONYM", "imaging")]
    def s_epodx(self): return [_T(self._fresh("epodx", _EN_EPODX), "EPONYM", "diagnosis")]
    def s_klass(self): return [_T(self._fresh("klass", _EN_CLASS), "EPONYM", "classification")]
    def s_approach(self): return [_T(self._fresh("approach", _EN_APPROACH), "EPONYM", "approach")]
    def s_drug(self): return [_T(self._fresh("drug", _EN_DRUGS), "DRUG")]
    def s_osteo(self): return [_T(self._fresh("drug", _EN_OSTEO_DRUGS), "DRUG", "osteoporosis")]
    def s_abx(self): return [_T(self._fresh("drug", _EN_PERIOP_DRUGS), "DRUG", "perioperative")]
    def s_dev(self): return [_T(self._fresh("dev", _EN_DEVICES), "DEVICE")]
    def s_brace(self): return [_T(self._fresh("brace", _EN_BRACES), "DEVICE", "brace")]
    def s_table(self): return [_T(self._fresh("table", _EN_TABLES), "DEVICE", "positioning")]
    def s_lab(self): return [_T(self._fresh("lab", _EN_LABS), "LAB")]

    def s_score(self):
        rng = self.rng
        return [_T(rng.choice([f"VAS {rng.randint(3, 9)}/10", f"JOA {rng.randint(6, 16)}/17",
                               f"ODI {rng.randint(12, 78)}%", f"mJOA {rng.randint(8, 17)}", f"NDI {rng.randint(10, 70)}%",
                               f"Nurick grade {rng.randint(1, 5)}", f"NRS {rng.randint(2, 10)}/10",
                               f"Oswestry Disability Index {rng.randint(12, 78)}%", f"SRS-22r {rng.uniform(2, 4.5):.1f}",
                               f"EQ-5D {rng.uniform(0.2, 0.9):.2f}"]), "SCORE")]

    def s_cobb(self):
        return [_T(self.rng.choice(["Cobb angle", "Cobb angle", "Cobb"]), "EPONYM", "imaging"),
                _P(f" {self.rng.randint(12, 85)}°")]

    # ---- Chinese persons ---------------------------------------------------------------
    def _zh_person(self, g: str | None = None, plain: bool = False) -> dict:
        fk, rng = self.fk, self.rng
        g = g or rng.choice("FM")
        given = fk.first_name_female() if g == "F" else fk.first_name_male()
        r = 1.0 if plain else rng.random()
        if r < 0.10:
            return {"full": rng.choice(_ZH_MINORITY_FIRST) + "·" + rng.choice(_ZH_MINORITY_SECOND),
                    "sur": None, "given": None, "form": "minority", "g": g}
        if r < 0.26:
            sur, form = rng.choice(_ZH_COMPOUND_SURNAMES), "compound"
        elif r < 0.38:
            sur, form = rng.choice(_ZH_RARE_SURNAMES), "rare"
        else:
            sur, form = fk.last_name(), "common"
        if len(given) == 1 and rng.random() < 0.5:
            given += fk.first_name_female()[-1] if g == "F" else fk.first_name_male()[-1]
        return {"full": sur + given, "sur": sur, "given": given, "form": form, "g": g}

    @_once
    def _zpt(self):
        p = self._zh_person(self.g)
        last_char = (p["given"] or p["full"].split("·")[0])[-1]
        p["nick"] = self.rng.choice(_ZH_NICKS + ["阿" + last_char, "小" + last_char, last_char * 2])
        return p

    def s_zpt(self):
        p = self._zpt()
        return [_I(p["full"], "NAME", f"name:pt:full:{p['form']}")]

    def s_zpt_given(self):
        p = self._zpt()
        if p["given"] is None or len(p["given"]) < 2:
            return self.s_zpt()
        return [_I(p["given"], "NAME", "name:pt:given")]

    def s_zpt_nick(self): return [_I(self._zpt()["nick"], "NAME", "name:pt:nick")]

    @_once
    def _zrel(self): return self._zh_person()

    def s_zrel(self):
        p = self._zrel()
        return [_I(p["full"], "NAME", f"name:rel:full:{p['form']}")]

    @_once
    def _zdr(self): return self._zh_person(plain=self.rng.random() < 0.6)

    @_once
    def _zdr2(self): return self._zh_person(plain=self.rng.random() < 0.6)

    @_once
    def _zdr3(self): return self._zh_person(plain=self.rng.random() < 0.6)

    @_once
    def _znurse(self): return self._zh_person("F", plain=self.rng.random() < 0.6)

    def s_zdr(self):
        p = self._zdr()
        return [_I(p["full"], "NAME", f"name:dr:full:{p['form']}")]

    def s_zdr2(self):
        p = self._zdr2()
        return [_I(p["full"], "NAME", f"name:dr:full:{p['form']}")]

    def s_zdr3(self):
        p = self._zdr3()
        return [_I(p["full"], "NAME", f"name:dr:full:{p['form']}")]

    def s_znurse(self):
        p = self._znurse()
        return [_I(p["full"], "NAME", f"name:nurse:full:{p['form']}")]

    @_once
    def _zdr4(self): return self._zh_person(plain=self.rng.random() < 0.6)

    def s_zanaes(self):
        p = self._zdr4()
        return [_I(p["full"], "NAME", f"name:dr:full:{p['form']}")]

    def s_zdr_sur(self):
        """The doctor's surname alone (before 主任 / 医师 / 教授 in the template)."""
        p = self._zdr2()
        if p["sur"] is None:
            return [_I(p["full"], "NAME", "name:dr:full:minority")]
        return [_I(p["sur"], "NAME", f"name:dr:surname:{p['form']}")]

    # ---- Chinese places ----------------------------------------------------------------
    def _zcity(self) -> str:
        fk = self.fk
        return self.rng.choice([fk.city_name(), fk.city_name(), fk.city()[:-1]])

    @_once
    def s_zcity(self):
        c = self._zcity()
        return [_I(c + self.rng.choice(["市", "市", ""]), "LOCATION", "loc:city")]

    def _zfacility(self) -> str:
        fk, rng = self.fk, self.rng
        return rng.choice(_ZH_FACILITY).format(city=self._zcity(), district=fk.district(),
                                               brand=rng.choice(_ZH_CLINIC_BRANDS), surname=fk.last_name(),
                                               prefix=fk.company_prefix())

    @_once
    def s_zhosp(self): return [_I(self._zfacility(), "HOSPITAL", "fac")]

    @_once
    def s_zhosp2(self): return [_I(self._zfacility(), "HOSPITAL", "fac")]

    @_once
    def s_zaddr(self): return self._zaddress()

    def _zaddress(self) -> list[tuple]:
        fk, rng = self.fk, self.rng
        province = fk.province()
        city = self._zcity() + "市"
        district = fk.district() + rng.choice(["区", "区", "县"])
        kind = rng.randrange(4)
        if kind == 0:
            rest = f"{fk.street_name()}{rng.randint(1, 999)}号{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元" \
                   f"{rng.randint(1, 32)}{rng.randint(1, 9):02d}室"
        elif kind == 1:
            rest = f"{fk.street_name()}{rng.randint(1, 400)}弄{rng.randint(1, 80)}号{rng.randint(101, 2808)}室"
        elif kind == 2:
            rest = f"{rng.choice(_ZH_CLINIC_BRANDS)}{rng.choice(['花园', '小区', '家园', '新村'])}" \
                   f"{rng.randint(1, 30)}栋{rng.randint(101, 3208)}室"
        else:
            rest = f"{rng.choice(['东风', '红旗', '前进', '新民', '和平'])}村{rng.randint(1, 12)}组{rng.randint(1, 99)}号"
        segs = []
        if rng.random() < 0.7:
            segs.append(_P(province))
        segs += [_I(city, "LOCATION", "loc:city"), _I(district + rest, "ADDRESS", "addr:zh")]
        return segs

    # ---- Chinese numbers, contacts, dates --------------------------------------------
    def _zphone(self) -> str:
        rng = self.rng
        mob = "1" + rng.choice("3456789") + _digits(rng, 9)
        area = rng.choice(["010", "021", "0571", "020", "0755", "028", "0991", "0891"])
        return rng.choice([mob, mob, f"{mob[:3]} {mob[3:7]} {mob[7:]}", f"{mob[:3]}-{mob[3:7]}-{mob[7:]}",
                           f"+86 {mob[:3]} {mob[3:7]} {mob[7:]}", f"{area}-{_digits(rng, 8, True)}",
                           f"({area}){_digits(rng, 4, True)} {_digits(rng, 4)}", f"{area}-{_digits(rng, 4, True)} {_digits(rng, 4)}"])

    @_once
    def s_zphone(self): return [_I(self._zphone(), "PHONE", "phone")]

    def s_zphone2(self): return [_I(self._zphone(), "PHONE", "phone")]
    def s_zfax(self): return [_I(self._zphone(), "FAX", "fax")]

    def s_zemail(self):
        fk, rng = self.fk, self.rng
        return [_I(rng.choice([f"{_digits(rng, rng.randint(6, 10), True)}@qq.com", fk.free_email(),
                               f"{fk.user_name()}@{rng.choice(['163.com', '126.com', 'sina.com', 'yeah.net'])}"]),
                   "EMAIL", "email")]

    def s_zurl(self):
        fk, rng = self.fk, self.rng
        dom = fk.domain_name()
        return [_I(rng.choice([fk.url(), f"https://www.{dom}/hz/{_digits(rng, 8)}", f"http://{dom}/pacs?id={_digits(rng, 10)}",
                               f"www.{dom}"]), "URL", "url")]

    @_once
    def s_zid(self): return [_I(self.fk.ssn(), "ID", "id:resident_id")]

    def s_zlic(self): return [_I(_digits(self.rng, 15, True), "ID", "id:practising_cert")]

    def s_zyibao(self):
        rng = self.rng
        return [_I(rng.choice([_digits(rng, 10, True), f"{_digits(rng, 6)}D{_digits(rng, 15)}",
                               f"M{_digits(rng, 8)}", f"YB{_digits(rng, 12)}"]), "ACCOUNT", "acct:yibao")]

    @_once
    def s_zmz(self):
        rng = self.rng
        return [_I(rng.choice([f"MZ{_digits(rng, 11)}", _digits(rng, 10, True), f"{_digits(rng, 4)}-{_digits(rng, 6)}"]),
                   "MRN", "mrn:outpatient")]

    @_once
    def s_zzy(self):
        rng = self.rng
        return [_I(rng.choice([f"ZY{_digits(rng, 4)}-{_digits(rng, 6)}", _digits(rng, 7, True), _digits(rng, 8, True)]),
                   "MRN", "mrn:inpatient")]

    @_once
    def s_zbed(self): return [_I(str(self.rng.randint(1, 60)), "ID", "id:bed")]

    def s_zacc(self):
        rng = self.rng
        return [_I(rng.choice([f"CT{_digits(rng, 8)}-{_digits(rng, 4)}", f"MR{_digits(rng, 10)}",
                               _digits(rng, 12, True)]), "ID", "id:accession")]

    def s_zspec(self):
        rng = self.rng
        return [_I(rng.choice([f"B{_digits(rng, 2)}-{_digits(rng, 5)}", f"BL{_digits(rng, 9)}"]), "ID", "id:specimen")]

    def s_zplate(self):
        rng = self.rng
        prov = rng.choice("京沪浙粤苏川鄂湘皖鲁豫新藏")
        v = rng.choice([self.fk.license_plate(), f"{prov}{_letters(rng, 1)}·{_digits(rng, 5)}",
                        f"{prov}{_letters(rng, 1)} {_letters(rng, 1)}{_digits(rng, 4)}",
                        f"{prov}{_letters(rng, 1)}D{_digits(rng, 5)}"])
        return [_I(v, "ID", "id:plate")]

    def s_zpassport(self):
        rng = self.rng
        return [_I(rng.choice(["E", "G", "EA"]) + _digits(rng, 8 if rng.random() < 0.7 else 7), "ID", "id:passport")]

    def _zh_date(self, d: datetime, style: str | None = None) -> tuple[str, str]:
        rng = self.rng
        style = style or rng.choice(["cn", "cn", "iso", "slash", "dots", "cn_time", "iso_time", "md", "cn_numeral",
                                     "cn_weekday", "compact"])
        if style == "cn":
            s = f"{d.year}年{d.month}月{d.day}日"
        elif style == "iso":
            s = d.strftime("%Y-%m-%d")
        elif style == "slash":
            s = d.strftime("%Y/%m/%d")
        elif style == "dots":
            s = f"{d.year}.{d.month:02d}.{d.day:02d}"
        elif style == "cn_time":
            s = f"{d.year}年{d.month}月{d.day}日 {d.hour:02d}:{d.minute:02d}"
        elif style == "iso_time":
            s = d.strftime("%Y-%m-%d %H:%M") + (d.strftime(":%S") if rng.random() < 0.3 else "")
        elif style == "md":
            s = f"{d.month}月{d.day}日"
        elif style == "cn_numeral":
            s = f"{_zh_cn_year(d.year)}年{_zh_cn_small(d.month)}月{_zh_cn_small(d.day)}日"
        elif style == "cn_weekday":
            s = f"{d.year}年{d.month}月{d.day}日 {_WEEKDAYS_ZH[d.weekday()]}"
        else:
            s = d.strftime("%Y%m%d")
        return s, "date:" + style

    def s_zdate(self):
        s, d = self._zh_date(self._rand_date())
        return [_I(s, "DATE", d)]

    def s_zdate_cn(self):
        s, d = self._zh_date(self._rand_date(), "cn_numeral")
        return [_I(s, "DATE", d)]

    def s_zlunar(self):
        rng = self.rng
        v = rng.choice(_LUNAR_MONTHS) + rng.choice(_LUNAR_DAYS)
        if rng.random() < 0.5:
            k = rng.randrange(60)  # a sexagenary (干支) year: stem k mod 10, branch k mod 12
            v = _HEAVENLY[k % 10] + _EARTHLY[k % 12] + "年" + v
        return [_P(rng.choice(["农历", "阴历", "农历"])), _I(v, "DATE", "date:lunar")]

    @_once
    def s_zdob(self):
        d = datetime(self.anchor.year - self.age_n, self.rng.randint(1, 12), self.rng.randint(1, 28))
        s, det = self._zh_date(d, self.rng.choice(["cn", "iso", "dots", "cn_numeral"]))
        return [_I(s, "DATE", "dob:" + det)]

    def s_zage(self):
        n = self.age_n
        if n < 90:
            return str(n)
        if self.rng.random() < 0.4:
            return [_I(_zh_number_words(n), "AGE", "age:words")]
        return [_I(str(n), "AGE", "age:digits")]

    # ---- Chinese terms -----------------------------------------------------------------
    def s_zlevel(self):
        rng = self.rng
        if rng.random() < 0.25:
            return self.s_level()
        region, lo, hi = rng.choice(_LEVEL_PAIRS + [("L", 1, 5)])
        zn = _ZH_LEVEL_NAMES[region]
        a = rng.randint(lo, hi - 1)
        v = rng.choice([f"{zn}{a}/{a + 1}", f"{zn}{a}", f"{zn}{a}-{a + 1}", f"{zn}{a}～{zn}{a + 1}",
                        f"{zn}{a}、{a + 1}", "腰5/骶1", "胸12/腰1", "胸11", "腰4/5"])
        return [_T(v, "LEVEL")]

    def s_zdx(self): return [_T(self._fresh("zdx", _ZH_DX), "DIAGNOSIS")]
    def s_zsign(self): return [_T(self._fresh("zsign", _ZH_SIGNS), "EPONYM", "sign")]
    def s_zimg(self): return [_T(self._fresh("zimg", _ZH_IMG), "EPONYM", "imaging")]
    def s_zepodx(self): return [_T(self._fresh("zepodx", _ZH_EPODX), "EPONYM", "diagnosis")]
    def s_zklass(self): return [_T(self._fresh("zklass", _ZH_CLASS), "EPONYM", "classification")]
    def s_zdrug(self): return [_T(self._fresh("zdrug", _ZH_DRUGS), "DRUG")]
    def s_zdev(self): return [_T(self._fresh("zdev", _ZH_DEVICES), "DEVICE")]
    def s_zbrace(self): return [_T(self._fresh("zbrace", _ZH_BRACES), "DEVICE", "brace")]
    def s_zlab(self): return [_T(self._fresh("zlab", _ZH_LABS), "LAB")]
    def s_zapproach(self):
        return [_T(self.rng.choice(["Wiltse入路", "Wiltse肌间隙入路", "Smith-Robinson入路", "Roy-Camille技术"]),
                   "EPONYM", "approach")]

    def s_zcobb(self): return [_T(self.rng.choice(["Cobb角", "Cobb角", "侧凸Cobb角"]), "EPONYM", "imaging")]

    def s_zscore(self):
        rng = self.rng
        return [_T(rng.choice([f"VAS评分{rng.randint(3, 9)}分", f"JOA评分{rng.randint(6, 16)}分",
                               f"ODI {rng.randint(12, 78)}%", f"VAS {rng.randint(3, 9)}分", f"JOA {rng.randint(6, 16)}/17",
                               f"NDI {rng.randint(10, 70)}%", f"mJOA评分{rng.randint(8, 17)}分"]), "SCORE")]


# ======================================================================================
# English document formats
# ======================================================================================

_EN_HISTORY = [
    "{pt_first} reports worsening low back pain radiating to the {side} leg since {date}.",
    "{pt_first} describes numbness in both hands and dropping objects over the last {n} months.",
    "“I can't stand at the sink for more than ten minutes,” {pt_first} said.",
    "Walking tolerance has fallen to about {nn} metres, {pt_first} says, and {he} now uses a stick.",
    "{He} lives with {his} {relation}, {rel_first}, in {city}.",
    "{His} {relation} {rel} (tel. {phone2}) is the emergency contact.",
    "Symptoms began after a fall at home on {date_ord}.",
    "Pain started on {date_wd} while lifting a suitcase.",
    "{He} was first seen by {gp} at {clinic} in {date_mon_yy}.",
    "Previously treated at {hosp2} for {dx} at {level}.",
    "No bladder or bowel disturbance; no saddle anaesthesia.",
    "{He} drives a car registered {plate} and works as a {job}.",
    "{pt_first} was accompanied by {his} {relation}, who said {pt_first} had become unsteady on {his} feet.",
]
_EN_EXAM = [
    "Power 4/5 in the {side} EHL; {sign} positive on the right.",
    "{Sign:cap} negative bilaterally; reflexes brisk in the upper limbs.",
    "Straight-leg raise positive at 40 degrees on the {side}; {sign} equivocal.",
    "Gait broad-based; {sign} present, {sign} absent.",
    "Tender over the spinous process of {level}; no step deformity.",
    "{score}; {score} at baseline.",
    "{Esign}: upgoing on the {side}. {Esign}: negative.",
    "{Esign} positive on the {side}; {esign} negative.",
    "{Sign:cap}: present.",
]
_EN_IMAGING = [
    "MRI shows {dx} at {level} with {img}.",
    "{Img:cap} at {level}, with {img} at {level}.",
    "Standing films: {cobb} (thoracic), {klass}.",
    "CT confirms a {epodx} of {level}; posterior ligamentous complex disrupted.",
    "{Epodx:cap} was suspected at {level} and confirmed on MRI.",
    "Bloods: {lab}, {lab}.",
    "{Lab:cap}; {lab}.",
]
_EN_PLAN = [
    "{Drug:cap} was started at a low dose and titrated; {drug} was stopped.",
    "Discharged on {drug} and {drug} with a {brace}.",
    "Underwent decompression and fusion at {level} via a {approach} with {dev}.",
    "{Brace:cap} fitted; review in the fracture clinic.",
    "Continue {drug}; start {osteo} for osteoporosis.",
    "Physiotherapy to continue at {clinic}.",
    "{pt_first} was keen to avoid surgery and opted for a trial of {drug}.",
]


def _en_body(c: _Ctx, k: tuple[int, int] = (3, 6)) -> None:
    c.some(_EN_HISTORY, k)
    c.add("\n")


def _en_header_block(c: _Ctx) -> None:
    rows = [
        "Patient: {pt_lf}", "Name: {pt_LF}", "PATIENT NAME: {pt_LF}", "Patient name: {pt}",
    ]
    c.line(c.rng.choice(rows) + c.rng.choice(["    MRN: {mrn}", "    Hosp. No.: {mrn}", "    UR number: {mrn}",
                                              "    Medical record no. {mrn}", "    Unit No: {mrn}"]))
    c.line(c.rng.choice(["DOB: {dob}", "Date of birth: {dob}", "D.O.B. {dob}", "Born {dob}"])
           + c.rng.choice(["    Age: {age}", "    ({age} y)", "    Sex: {sex}"]))
    c.pick(["Address: {addr}\n", "Home address: {addr}\n", "Addr: {addr}\n", ""])
    c.pick(["Tel: {phone}\n", "Phone (home): {phone}   Mobile: {phone2}\n", "Contact no.: {phone}\n", ""])


def _en_discharge(c: _Ctx) -> str:
    c.line(c.rng.choice(["{hospUP}", "{hosp}", "{hosp} — Department of Spinal Surgery"]))
    c.line(c.rng.choice(["DISCHARGE SUMMARY", "Discharge Summary", "INPATIENT DISCHARGE LETTER"]))
    _en_header_block(c)
    c.line(c.rng.choice(["Admitted: {date}    Discharged: {date}", "Admission date: {date_iso_t}",
                         "Date of admission: {date}; date of discharge: {date_wd}"]))
    c.line("Consultant: {drt}    Ward: {ward}, bed {bed}")
    if c.chance(0.5):
        c.line(c.rng.choice(["Insurance member ID: {member}", "Medicare MBI: {mbi}", "Account no.: {acct}",
                             "Visit number: {acct}", "Policy number {member}"]))
    c.line("")
    c.line(c.rng.choice(["Diagnosis: {dx:cap} at {level}.", "DIAGNOSIS: {epodx}, {level}", "Principal diagnosis: {dx}",
                         "DIAGNOSIS: {epodx:upper} {level}", "{Epodx}\n{Klass}"]))
    c.line(c.rng.choice(["Procedure: posterior decompression {level} with {dev}.", "Procedure: nil.",
                         "Procedures: kyphoplasty {level} ({dev})."]))
    c.add("History: {pt} is a {age}-year-old {man} who presented on {date} with {dx}. ")
    _en_body(c, (2, 4))
    c.add("Hospital course: ")
    c.some(_EN_IMAGING + _EN_PLAN, (2, 4))
    c.add("\n\nMedications on discharge: {drug} 75 mg bd; {drug} 10 mg nocte; {drug}.\n")
    c.line(c.rng.choice(["Follow-up: {drt} at {clinic} in {n} weeks ({phone2}).",
                         "Follow up with {gp} ({clinic}, fax {fax}) in {n} weeks.",
                         "Outpatient review on {date} at {hosp2}."]))
    c.line(c.rng.choice(["Electronically signed by: {dr_lf}, MD on {date_iso_t}",
                         "Signed: {dr}, Consultant Spinal Surgeon, {date}",
                         "Dictated by {dr2} for {drt}. Transcribed {date}.",
                         "{dr}, FRCS (Tr & Orth), Medical licence {lic}"]))
    c.pick(["cc: {gp}, {clinic}, {addr2}\n", "cc: GP; patient\n", "cc: {gp} (fax {fax}); {hosp2}\n"])
    c.pick(["Results and letters are available on the patient portal: {url}\n", "Sent from workstation {ip}\n",
            "Queries: {dr_email}\n", ""])
    return "discharge_summary"


def _en_radiology(c: _Ctx) -> str:
    c.line(c.rng.choice(["{hospUP} — DEPARTMENT OF RADIOLOGY", "{hosp} Imaging", "RADIOLOGY REPORT"]))
    c.line(c.rng.choice(["Patient: {pt_LF}   MRN: {mrn}   DOB: {dob}", "Name: {pt_lf} ({sex}, {age})  ID: {mrn}",
                         "PATIENT: {pt_UP}  MRN {mrn}"]))
    c.line(c.rng.choice(["Accession: {accession}", "Accession No.: {accession}   Exam date: {date_iso_t}",
                         "ACC# {accession}"]))
    c.line(c.rng.choice(["Referring physician: {gp}, {clinic}", "Requested by: {drt} (pager {phone2})",
                         "Referrer: {gp} — fax {fax}"]))
    c.line(c.rng.choice(["Exam: MRI lumbar spine without contrast. Performed {date}.",
                         "Examination: CT cervical spine. Date: {date}.",
                         "Study: Standing whole-spine radiographs, {date_wd}."]))
    c.line(c.rng.choice(["Workstation {ip}; images at {url}", "PACS link: {url}", "Modality AE title MR2 ({ip})", ""]))
    c.line("")
    c.line("Clinical history: {age}-year-old {man} with {dx}; {sign} positive.")
    c.line(c.rng.choice(["Comparison: {date} ({hosp2}).", "Comparison: none.", "Comparison: outside MRI from {date_mon_yy}."]))
    c.add("Findings: ")
    c.some(_EN_IMAGING, (2, 4))
    c.add(" Conus terminates at {level}. Implant: {dev}, serial number {serial}.\n")
    c.line(c.rng.choice(["IMPRESSION: {img} at {level}. {Dx:cap}.", "Impression:\n1. {Epodx:cap} at {level}.\n2. {Img:cap}.",
                         "CONCLUSION: {Klass:cap}; {cobb}.", "IMPRESSION:\n{img:upper} AT {level}. {epodx:upper}."]))
    c.line(c.rng.choice(["Reported by: {rad}, FRCR. {date_iso_t}", "Dictated: {rad_lf}, MD — signed {date}",
                         "Radiologist: {rad} (GMC {lic})"]))
    c.pick(["Findings discussed with {drt} by phone on {date} at 16:40.\n", ""])
    return "radiology_report"


def _en_operative(c: _Ctx) -> str:
    c.line(c.rng.choice(["OPERATIVE NOTE", "Operation Note — {hosp}", "OPERATION REPORT"]))
    c.line("Patient: {pt_lf}    MRN: {mrn}    Date of surgery: {date}")
    c.line("Surgeon: {dr}    Assistant: {dr2}    Anaesthetist: {gp}")
    c.line("Scrub nurse: {nurse}")
    c.line("Pre-operative diagnosis: {dx} at {level}; {klass}.")
    c.line("Procedure: {level} decompression and instrumented fusion via a {approach}.")
    c.line(c.rng.choice(["Implants: {dev} (SN {serial}); {dev}, lot {lot}.", "Implants: {dev}. Device serial: {serial}.",
                         "Implant record: {dev}, UDI {serial}."]))
    c.add("Description: Positioned prone on a {table}; {dev} set up. ")
    c.add(c.rng.choice(["{Approach:cap} to {level}. ", "Midline incision from {level} to {level}. "]))
    c.add("Screws placed under fluoroscopy at {level} and {level}. {Abx:cap} 2 g given at induction; {abx} 1 g IV. ")
    c.add(c.rng.choice(["EBL 350 mL. ", "Estimated blood loss 600 mL; cell salvage used. "]))
    c.add(c.rng.choice(["Neuromonitoring stable throughout. ", "Transient loss of MEPs on the {side}, recovered after "
                        "reducing distraction. "]))
    c.line("")
    c.line("Post-op: {drug}; mobilise with physiotherapy; {brace} when out of bed.")
    c.line(c.rng.choice(["{dr}, Consultant Spine Surgeon. Signed {date_iso_t}.", "Dictated by {dr_init} {date}.",
                         "Surgeon signature: {dr_lf} — {date}"]))
    return "operative_note"


def _en_referral(c: _Ctx) -> str:
    c.line("{clinic}")
    c.add("{addr2}\n")
    c.line(c.rng.choice(["Tel {phone2}  Fax {fax}  {gp_email}", "T: {phone2} | F: {fax} | {url}",
                         "Phone {phone2} · Fax {fax} · Email {gp_email} · Web {url}"]))
    c.line("")
    c.line("{date}")
    c.line("")
    c.line(c.rng.choice(["{drt}", "Spinal Triage Service"]) + "\n{hosp}")
    c.line("")
    c.line(c.rng.choice(["Dear {drt},", "Dear Colleague,", "Dear Doctor,"]))
    c.line("")
    c.line(c.rng.choice(["Re: {pt} — DOB {dob} — {addr}", "RE: {pt_UP}, DOB {dob}, NHS No. {nhs}",
                         "Re: {pt_lf} ({dob}), MRN {mrn}"]))
    c.line("")
    c.add("Thank you for seeing this {age}-year-old {job} with a {n}-month history of {dx} at {level}. ")
    _en_body(c, (2, 4))
    c.some(_EN_EXAM + _EN_IMAGING, (2, 3))
    c.add("\n\n")
    c.add(c.rng.choice(["{He} has tried {drug} and {drug} without benefit. ", "{Drug:cap} helped only briefly. "]))
    c.add(c.rng.choice(["I would be grateful for your opinion regarding surgery.",
                        "I would appreciate an urgent assessment given the {sign}.",
                        "Please see {him} at your earliest convenience; {he} can be reached on {phone}."]))
    c.add("\n\n")
    c.line(c.rng.choice(["Yours sincerely,", "Kind regards,", "Yours faithfully,", "Best wishes,"]))
    c.line("")
    c.line(c.rng.choice(["{gp}", "Dr {gp}", "{gp}, MRCGP", "{gp} MB BCh BAO"]))
    c.line(c.rng.choice(["General Practitioner", "GP Principal", "Family Physician"]))
    c.line(c.rng.choice(["NPI {npi}", "Medical Council reg. {lic}", "Provider no. {lic}", "DEA {dea}", ""]))
    return "referral_letter"


def _en_clinic_letter(c: _Ctx) -> str:
    c.line("{hosp}")
    c.line(c.rng.choice(["Spinal Outpatients", "Orthopaedic Spine Clinic", "Neurosurgery Outpatient Department"]))
    c.line("Clinic date: {date}    Dictated: {date}    Typed: {date}")
    c.line("")
    c.line(c.rng.choice(["{gp}\n{clinic}\n{addr2}", "{gp}\n{clinic}"]))
    c.line("")
    c.line(c.rng.choice(["Dear {gp},", "Dear Dr {gp_last},", "Dear Dr. {gp_last},"]))
    c.line("")
    c.line(c.rng.choice(["Re: {pt}, DOB {dob}, {addr}", "RE: {pt_UP}  DOB: {dob}  Hosp No: {mrn}",
                         "Patient: {pt_fullnick}, {dob}"]))
    c.line(c.rng.choice(["Diagnosis: {dx:cap}; {epodx} at {level}", "Diagnoses:\n1. {Dx:cap}\n2. {Img:cap} at {level}"]))
    c.line("")
    c.add(c.rng.choice(["I reviewed {pt} in clinic today. ", "I saw {mr} {pt_last} in the spinal clinic today. ",
                        "{mr} {pt_last} attended with {his} {relation}. ", "I met {pt_first} again today. "]))
    _en_body(c, (2, 4))
    c.some(_EN_EXAM, (1, 3))
    c.add(" ")
    c.some(_EN_IMAGING, (1, 2))
    c.add("\n\n")
    c.some(_EN_PLAN, (1, 3))
    c.add(c.rng.choice([" I have listed {him} for surgery at {hosp2}.", " We will review {him} in {n} months.",
                        " {pt_first} will phone the clinic on {phone2} if things deteriorate."]))
    c.add("\n\n")
    c.line(c.rng.choice(["Yours sincerely,", "Yours sincerely", "With best wishes,", "Kind regards,"]))
    c.line("")
    c.line(c.rng.choice(["{dr}", "{dr_UP}", "Mr {dr}", "Dr {dr}", "Professor {dr}"]))
    c.line(c.rng.choice(["Consultant Spinal Surgeon", "Consultant Neurosurgeon", "Spine Fellow to {drt}"]))
    c.line(c.rng.choice(["cc: {pt}, {addr}", "cc: patient", "Copy to: {pt} by e-mail ({email})"]))
    return "clinic_letter"


def _en_nursing(c: _Ctx) -> str:
    c.line(c.rng.choice(["NURSING NOTE — {ward}", "Nursing progress note", "Nursing Shift Report"]))
    c.line("Pt: {pt_lf}   Bed {bed}   MRN {mrn}")
    for _ in range(c.rng.randint(2, 4)):
        c.add(c.rng.choice(["{date_iso_t} ", "{date} 02:00 ", "0700 {date}: ", "{date_wd} night shift: "]))
        c.add(c.rng.choice([
            "{pt_first} settled overnight; pain {score} after {drug}. ",
            "Pt up to chair with {brace}; {pt_first} said the pain was better. ",
            "Neuro obs stable; {sign} not tested. ",
            "{His} {relation} {rel_first} phoned ({phone2}) asking for an update. ",
            "Wound clean and dry over {level}. Drain 40 mL. ",
            "Pressure areas intact. Encouraged fluids. ",
            "{pt_nick} (prefers to be called so) asked for {drug}. ",
            "Refused {drug}; says it makes {him} drowsy. ",
        ]))
        c.add(c.rng.choice(["— {nurse}, RN\n", "— {nurse_init}\n", "{nurse_first} (RN)\n", "Signed {nurse}.\n"]))
    return "nursing_note"


def _en_case(c: _Ctx) -> str:
    c.line(c.rng.choice(["Case presentation", "CASE PRESENTATION", "Case report"]))
    c.add(c.rng.choice([
        "{pt}, {age}, presented to {hosp} on {date} with {dx}. ",
        "A {age}-year-old {man} ({pt_init}) from {city} presented with a {n}-month history of back pain. ",
        "{mr} {pt_init}, a {age}-year-old {job}, was referred to {hosp} in {date_mon_yy}. ",
        "Our patient, {pt_first}, a {age}-year-old {job} from {city}, was admitted on {date_ord}. ",
        "{pt_lf}, {sex}, {age}: seen at {hosp} on {date_wd}. ",
    ]))
    c.some(_EN_HISTORY, (1, 3))
    c.add(" ")
    c.some(_EN_EXAM, (1, 2))
    c.add(" ")
    c.some(_EN_IMAGING, (2, 3))
    c.add(" ")
    c.some(_EN_PLAN, (1, 2))
    c.add(c.rng.choice([" At follow-up on {date}, {he} was walking unaided.",
                        " {pt_first} consented to publication of this report.",
                        " Written consent was obtained from {his} {relation}, {rel}."]))
    c.add("\n")
    return "case_presentation"


def _en_mcq(c: _Ctx) -> str:
    c.add(c.rng.choice([
        "{pt}, a {age}-year-old {job} from {city}, presents with {dx} and {sign}. ",
        "A {age}-year-old {man} presents to {hosp} with back pain after a fall on {date_ord}. ",
        "{pt_first} is a {age}-year-old {man} who reports leg pain when walking. ",
        "{mr} {pt_last}, {age}, is seen at {clinic} on {date}. ",
    ]))
    c.some(_EN_EXAM + _EN_IMAGING, (1, 3))
    c.add(c.rng.choice([" Which of the following is the most appropriate next step in management?",
                        " What is the most likely diagnosis?", " Which structure is most likely injured?"]))
    c.add("\n")
    opts = ["{Epodx:cap}", "{Dx:cap}", "Start {drug}", "{Brace:cap}", "{Dx:cap} at {level}", "{Approach:cap}",
            "Start {osteo}", "{Sign:cap}"]
    for letter in "ABCDE":
        c.line(f"{letter}. " + c.rng.choice(opts))
    return "mcq_stem"


def _en_progress(c: _Ctx) -> str:
    c.line(c.rng.choice(["PROGRESS NOTE", "Ward round {date_iso_t}", "Spine registrar review — {date_wd}"]))
    c.line("{pt_lf} ({mrn}), bed {bed}, {ward}")
    c.add("S: ")
    c.some(["{pt_first} reports pain {score}.", "Slept poorly.", "{pt_first} says the leg pain is better.",
            "Wants to go home to {city}."], (1, 3))
    c.add("\nO: ")
    c.some(_EN_EXAM, (1, 2))
    c.add(" {Lab:cap}.\nA: {dx:cap} at {level}, day {n} post-op.\nP: ")
    c.some(_EN_PLAN, (1, 2))
    c.add("\n")
    c.line(c.rng.choice(["{dr2} (registrar) for {drt}", "Seen with {drt}. {dr2}, bleep 4471", "— {dr_init}"]))
    return "progress_note"


def _en_pathology(c: _Ctx) -> str:
    c.line("{hosp} — Histopathology")
    c.line("Patient: {pt_LF}   DOB: {dob}   MRN: {mrn}")
    c.line("Specimen no.: {specimen}    Received: {date_iso_t}    Accession: {accession}")
    c.line("Requesting clinician: {drt}; copy to {gp}")
    c.line(c.rng.choice(["Billing account: {acct}", "Insurer: member {member}", "Medicare: {mbi}"]))
    c.line("Specimen: {level} vertebral body biopsy.")
    c.line("Clinical details: {dx}; {lab}; {lab}.")
    c.line(c.rng.choice(["Diagnosis: {Dx:cap}.", "DIAGNOSIS: consistent with {epodx}.", "Conclusion: {dx}; no malignancy."]))
    c.line("Reported by {rad}, {date}. Verified {date_iso_t}.")
    return "pathology_report"


def _en_admin(c: _Ctx) -> str:
    """A registration / face-sheet record: identifiers with many labels."""
    c.line(c.rng.choice(["PATIENT REGISTRATION", "Face sheet", "Pre-admission form — {hosp}"]))
    c.line("Name: {pt_lf}    Preferred name: {pt_nick}")
    c.line("DOB: {dob}    Age: {age}    Sex: {sex}")
    c.line("Address: {addr}")
    c.line("Phone: {phone}   Email: {email}")
    c.line("{ssn_label}")
    c.pick(["Driver's licence: {dl}\n", "Driver's license #: {dl}\n", "DL no. {dl}\n"])
    c.pick(["Passport: {passport}\n", "Passport number {passport}\n", ""])
    c.pick(["Insurance member ID: {member}\n", "Health fund member no. {member}\n", "Medicare MBI {mbi}\n"])
    c.pick(["Account: {acct}\n", "Guarantor account {acct}\n"])
    c.line("Next of kin: {rel} ({relation}), {phone2}")
    c.pick(["Vehicle reg. {plate} (disabled parking permit)\n", "Car plate: {plate}\n", ""])
    c.pick(["Patient portal: {url}\n", "Registered from {ip}\n", ""])
    c.line("Presenting problem: {dx} at {level}; on {drug}.")
    c.line("Registered by {nurse} on {date_iso_t}")
    return "registration_record"


_EN_FORMATS: list[Callable[[_Ctx], str]] = [
    _en_discharge, _en_radiology, _en_operative, _en_referral, _en_clinic_letter, _en_nursing, _en_case, _en_mcq,
    _en_progress, _en_pathology, _en_admin,
]

# ======================================================================================
# Chinese document formats
# ======================================================================================

_ZH_HISTORY = [
    "患者{n}个月前无明显诱因出现腰痛，伴{zside}下肢放射痛。",
    "{zpt_given}自述行走{nn}米即需休息。",
    "家属{zrel}（{zrelation}）代诉患者近来步态不稳。",
    "患者诉“双手麻木、持物不稳”{n}月。",
    "{zdate}于{zhosp2}行MRI检查提示{zlevel}{zdx}。",
    "曾在{zhosp2}予{zdrug}、{zdrug}等保守治疗，效果欠佳。",
    "{zlunar}在家中跌倒后出现腰背部疼痛。",
    "乳名“{zpt_nick}”，家人平素以此称呼。",
    "患者（{zpt}）否认外伤史。",
    "平素居住于{zcity}，与{zrelation}同住。",
    "{zpt_given}说：“晚上疼得睡不着。”",
    "否认大小便功能障碍，否认鞍区麻木。",
]
_ZH_EXAM = [
    "{zsign}阳性，{zsign}阴性。",
    "{zside}侧{zsign}（+），{zsign}（-）。",
    "{zlevel}棘突压痛、叩击痛阳性。",
    "{zscore}，{zscore}。",
    "双下肢肌力IV级，{zsign}未引出。",
]
_ZH_IMAGING = [
    "MRI示{zlevel}椎间盘突出，伴{zimg}。",
    "CT示{zlevel}{zepodx}，后方韧带复合体损伤。",
    "全脊柱正侧位片：{zcobb}约{nn}°，{zklass}。",
    "化验：{zlab}，{zlab}。",
    "{zimg}见于{zlevel}。",
]
_ZH_PLAN = [
    "予{zdrug}、{zdrug}对症治疗。",
    "行{zlevel}后路减压{zdev}内固定植骨融合术。",
    "佩戴{zbrace}下地活动。",
    "出院后继续口服{zdrug}，定期复查。",
    "建议行椎体成形术（{zdev}）。",
]


def _zh_opening(c: _Ctx) -> None:
    c.add(c.rng.choice([
        "{zpt}，{zsex}，{zage}岁，因“腰痛伴{zside}下肢麻木{n}月”于{zdate}入院。",
        "患者{zpt}，{zsex}性，{zage}岁，{zjob}，{zcity}人。",
        "{zpt}，{zsex}，{zage}岁，主因“颈部疼痛伴双手麻木{n}年”入院。",
        "患者（{zpt}），{zsex}，{zage}岁，于{zdate}由{zhosp2}转入。",
        "“{zpt}”，{zsex}，{zage}岁，{zjob}，以“{zdx}”收入院。",
    ]))


def _zh_admission(c: _Ctx) -> str:
    c.line("{zhosp}")
    c.line("入院记录")
    c.line("姓名：{zpt}　　性别：{zsex}　　年龄：{zage}岁　　民族：" + c.rng.choice(["汉族", "维吾尔族", "回族", "藏族", "蒙古族"]))
    c.line("职业：{zjob}　　出生地：{zcity}　　出生日期：{zdob}")
    c.line("现住址：{zaddr}")
    c.line(c.rng.choice(["身份证号：{zid}", "公民身份号码：{zid}", "证件号码：{zid}"]))
    c.line("联系电话：{zphone}　　联系人：{zrel}（{zrelation}），电话{zphone2}")
    c.line(c.rng.choice(["门诊号：{zmz}　　住院号：{zzy}　　床号：{zbed}", "住院号：{zzy}　　{zbed}床",
                         "病案号：{zzy}　　科室：脊柱外科　床号：{zbed}"]))
    c.line(c.rng.choice(["医保卡号：{zyibao}", "社保卡号：{zyibao}", "医保类型：城镇职工　医保号：{zyibao}"]))
    c.line("入院日期：{zdate}　　记录日期：{zdate}")
    c.line("病史陈述者：" + c.rng.choice(["患者本人", "患者{zrelation}"]))
    c.add("主诉：腰痛伴{zside}下肢放射痛{n}月，加重{n}周。\n现病史：")
    c.some(_ZH_HISTORY, (2, 4), sep="")
    c.add("\n体格检查：")
    c.some(_ZH_EXAM, (1, 3), sep="")
    c.add("\n辅助检查：{zdate}本院MRI（检查号：{zacc}）：")
    c.some(_ZH_IMAGING, (1, 2), sep="")
    c.add("\n初步诊断：1. {zdx}（{zlevel}）　2. {zepodx}\n")
    c.line(c.rng.choice(["医师签名：{zdr}　　{zdate}", "记录者：{zdr3}　上级医师：{zdr_sur}主任",
                         "住院医师：{zdr3}／主治医师：{zdr2}"]))
    return "入院记录"


def _zh_discharge(c: _Ctx) -> str:
    c.line("{zhosp}　出院小结")
    c.line(c.rng.choice(["姓名：{zpt}　性别：{zsex}　年龄：{zage}岁　住院号：{zzy}",
                         "患者姓名：{zpt}　　住院号：{zzy}　　床号：{zbed}"]))
    c.line("入院日期：{zdate}　出院日期：{zdate}　住院天数：{nn}天")
    c.line("入院诊断：{zdx}\n出院诊断：1.{zdx}（{zlevel}）2.{zepodx}")
    c.add("入院情况：")
    _zh_opening(c)
    c.some(_ZH_HISTORY, (1, 3), sep="")
    c.add("\n诊疗经过：")
    c.some(_ZH_IMAGING + _ZH_PLAN, (2, 4), sep="")
    c.add("\n出院医嘱：1. {zdrug} 0.3g 每晚一次；2. 佩戴{zbrace}；3. " +
          c.rng.choice(["{zdate}门诊复查。", "{n}周后至{zhosp2}复诊。", "如有不适随诊，联系电话{zphone2}。"]) + "\n")
    c.some(["随访邮箱：{zemail}\n", "复诊预约：{zurl}\n", "科室传真：{zfax}\n", "随访电话：{zphone}\n",
            "家庭住址：{zaddr}\n", "患者邮箱：{zemail}\n"], (1, 3), sep="")
    c.line(c.rng.choice(["主治医师：{zdr}　　{zdate}", "医师：{zdr}（执业证书编号：{zlic}）", "{zdr_sur}医师／{zdate}"]))
    return "出院小结"


def _zh_progress(c: _Ctx) -> str:
    c.line("病程记录")
    c.line("{zpt}　{zbed}床　住院号：{zzy}")
    for _ in range(c.rng.randint(2, 3)):
        c.add(c.rng.choice(["{zdate}　", "{zdate} 查房记录　", "{zdate_cn}　首次病程记录　"]))
        c.add(c.rng.choice([
            "{zdr_sur}主任查房：患者{zpt}诉腰痛较前缓解，{zscore}。",
            "{zdr}主任医师查房：同意目前诊断{zdx}，继续{zdrug}。",
            "主治医师{zdr2}查房，患者{zpt}诉{zside}下肢放射痛减轻。",
            "今日{zdr_sur}主任医师查房，患者{zpt_given}诉{zside}下肢麻木同前。{zsign}阴性。",
            "{zpt_given}自诉夜间疼痛，予{zdrug}口服。",
            "家属{zrel}诉患者夜间睡眠差。",
            "患者术后第{n}天，切口干燥，{zlevel}引流量20 mL。{zlab}。",
            "复查{zimg}同前，继续{zdrug}治疗。",
            "护士{znurse}报告：患者体温37.8℃，已通知值班医师。",
        ]))
        c.add(c.rng.choice(["\n医师签名：{zdr3}\n", "\n记录者：{zdr3}\n", "（{zdr3}）\n"]))
    return "病程记录"


def _zh_operative(c: _Ctx) -> str:
    c.line("{zhosp}\n手术记录")
    c.line("患者姓名：{zpt}　性别：{zsex}　年龄：{zage}岁　科室：脊柱外科　住院号：{zzy}")
    c.line("手术日期：{zdate}　手术开始时间：{zdate}")
    c.line("术前诊断：{zdx}，{zlevel}；{zklass}\n术后诊断：同术前")
    c.line("手术名称：{zlevel}后路椎管减压、{zdev}内固定、植骨融合术")
    c.line("术者：{zdr}　一助：{zdr2}　二助：{zdr3}　麻醉医师：{zanaes}　器械护士：{znurse}")
    c.line(c.rng.choice(["植入物：{zdev}（序列号：{serial}）", "内植物条码：{serial}；{zdev}", "植入物：{zdev}"]))
    c.add("手术经过：麻醉成功后取俯卧位，以{zlevel}为中心做后正中切口。")
    c.add(c.rng.choice(["于{zlevel}置入{zdev}，透视位置满意。", "经{zapproach}显露{zlevel}关节突。"]))
    c.add("术中予{zdrug} 1 g静滴。出血约{nn}0 mL。\n")
    c.line(c.rng.choice(["记录者：{zdr3}　{zdate}", "术者签名：{zdr}", "{zdr_sur}教授主刀，{zdr3}记录"]))
    return "手术记录"


def _zh_consult(c: _Ctx) -> str:
    c.line("会诊记录")
    c.line("申请科室：{zhosp}骨科　会诊医院：{zhosp2}")
    c.line("患者：{zpt}　{zsex}　{zage}岁　床号：{zbed}　住院号：{zzy}")
    c.line("申请时间：{zdate}　会诊时间：{zdate}")
    c.add("病情摘要：")
    _zh_opening(c)
    c.some(_ZH_HISTORY + _ZH_EXAM, (2, 3), sep="")
    c.add("\n会诊意见：")
    c.some(_ZH_IMAGING + _ZH_PLAN, (1, 3), sep="")
    c.add(c.rng.choice(["请{zdr_sur}主任进一步评估手术指征。", "建议转{zhosp2}进一步治疗。", ""]))
    c.add("\n")
    c.line(c.rng.choice(["会诊医师：{zdr}（{zhosp2}），电话{zphone2}，传真{zfax}", "会诊医师：{zdr}　执业证书编号：{zlic}",
                         "会诊医师签名：{zdr}　{zdate}　邮箱：{zemail}"]))
    return "会诊记录"


def _zh_imaging(c: _Ctx) -> str:
    c.line("{zhosp}　医学影像科")
    c.line(c.rng.choice(["MRI检查报告单", "CT检查报告", "DR检查报告单"]))
    c.line("姓名：{zpt}　性别：{zsex}　年龄：{zage}岁　门诊号：{zmz}　检查号：{zacc}")
    c.line("申请科室：脊柱外科　申请医生：{zdr}　床号：{zbed}")
    c.line("检查日期：{zdate}　报告日期：{zdate}")
    c.line(c.rng.choice(["工作站：{ip}", "影像调阅：{zurl}", "设备：MR-2（{ip}）", "云胶片：{zurl}　工作站IP：{ip}"]))
    c.add("影像所见：")
    c.some(_ZH_IMAGING, (2, 4), sep="")
    c.add("\n影像诊断：1.{zlevel}{zdx}；2.{zimg}。\n")
    c.line(c.rng.choice(["报告医师：{zdr2}　审核医师：{zdr3}", "诊断医师：{zdr2}／审核：{zdr_sur}主任", "报告者：{zdr2}"]))
    return "影像报告"


def _zh_case(c: _Ctx) -> str:
    c.line(c.rng.choice(["病例资料", "病例摘要", "1 病例报告"]))
    _zh_opening(c)
    c.some(_ZH_HISTORY, (1, 3), sep="")
    c.some(_ZH_EXAM + _ZH_IMAGING, (2, 3), sep="")
    c.some(_ZH_PLAN, (1, 2), sep="")
    c.add(c.rng.choice(["术后{n}个月随访，患者恢复良好。", "患者及家属{zrel}知情同意并签署知情同意书。",
                        "{zdate}末次随访，{zscore}。"]))
    c.add("\n")
    return "病例摘要"


def _zh_mcq(c: _Ctx) -> str:
    c.add(c.rng.choice([
        "患者{zpt}，{zsex}，{zage}岁，{zjob}。",
        "{zpt}，{zsex}，{zage}岁，因腰痛{n}年来{zhosp}就诊。",
        "患者，{zsex}，{zage}岁，{zdate}摔倒后腰背痛。",
    ]))
    c.some(_ZH_HISTORY + _ZH_EXAM + _ZH_IMAGING, (1, 3), sep="")
    c.add(c.rng.choice(["最可能的诊断是（　）", "下一步最合适的处理是（　）", "该患者首选的治疗是（　）"]) + "\n")
    for letter in "ABCDE":
        c.line(f"{letter}. " + c.rng.choice(["{zdx}", "{zepodx}", "口服{zdrug}", "佩戴{zbrace}", "{zlevel}减压融合术"]))
    return "选择题题干"


def _zh_nursing(c: _Ctx) -> str:
    c.line("护理记录单")
    c.line("姓名：{zpt}　床号：{zbed}　住院号：{zzy}　诊断：{zdx}")
    for _ in range(c.rng.randint(2, 3)):
        c.add("{zdate}　")
        c.add(c.rng.choice([
            "患者{zpt_given}诉腰痛，{zscore}，遵医嘱予{zdrug}。",
            "协助患者佩戴{zbrace}下床活动，{zpt_given}表示疼痛减轻。",
            "家属{zrel}陪护，联系电话{zphone2}。",
            "切口敷料干燥，{zlevel}引流通畅。",
            "患者小名“{zpt_nick}”，家属要求如此称呼。",
            "{zdr_sur}医师查看患者后嘱继续观察。",
        ]))
        c.add(c.rng.choice(["　护士：{znurse}\n", "　签名：{znurse}\n", "（{znurse}）\n"]))
    c.pick(["车牌号：{zplate}（家属车辆，已登记）\n", "护照号：{zpassport}\n", "家属住址：{zaddr}\n",
            "家属邮箱：{zemail}\n", ""])
    return "护理记录"


_ZH_FORMATS: list[Callable[[_Ctx], str]] = [
    _zh_admission, _zh_discharge, _zh_progress, _zh_operative, _zh_consult, _zh_imaging, _zh_case, _zh_mcq,
    _zh_nursing,
]
FORMATS = ("discharge_summary", "radiology_report", "operative_note", "referral_letter", "clinic_letter",
           "nursing_note", "case_presentation", "mcq_stem", "progress_note", "pathology_report", "registration_record",
           "入院记录", "出院小结", "病程记录", "手术记录", "会诊记录", "影像报告", "病例摘要", "选择题题干", "护理记录")
_EN_LOCALES = [("en_US", 0.35), ("en_GB", 0.25), ("en_IE", 0.2), ("en_AU", 0.2)]
ZH_SHARE = 0.45


# ======================================================================================
# Assembly, verification, generation
# ======================================================================================

_WORD = re.compile(r"[^\W_]+")


def _assemble(index: int, lang: str, fmt: str, segs: list[tuple]) -> tuple[Doc, str]:
    parts, ids, terms, skeleton = [], [], [], []
    pos = 0
    for kind, text, cat, detail in segs:
        if not text:
            continue
        end = pos + len(text)
        if kind == "id":
            ids.append(Span(index, pos, end, cat, lang, text, detail or ""))
            skeleton.append(" \x00 ")
        elif kind == "term":
            terms.append(Span(index, pos, end, cat, lang, text, detail or ""))
            skeleton.append(" " + text + " ")
        else:
            skeleton.append(text)
        parts.append(text)
        pos = end
    return Doc(index, "".join(parts), lang, fmt, ids, terms), "".join(skeleton)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002fa1f"


def _significant(ch: str) -> bool:
    return ch.isalnum() or _is_cjk(ch)


def verify(doc: Doc, skeleton: str | None = None) -> str | None:
    """Why `doc` is not exact (None when it is).

    Every span's text is doc.text[start:end]; spans do not overlap; every occurrence of an
    identifier value in the text (>= 3 significant characters, whole words for Latin text,
    case-insensitive) lies inside an identifier span; no word (>= 3 letters) of a planted name
    occurs in the template text or the planted terms (the skeleton).
    """
    spans = sorted(doc.identifiers + doc.terms, key=lambda s: s.start)
    for s in spans:
        if doc.text[s.start:s.end] != s.text:
            return f"span text mismatch {s}"
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            return f"overlapping spans {a} {b}"
    low = doc.text.lower()
    id_spans = [(s.start, s.end) for s in doc.identifiers]
    for s in doc.identifiers:
        n_sig = sum(_significant(ch) for ch in s.text)
        if n_sig < 2 or (n_sig < 3 and not any(_is_cjk(ch) for ch in s.text)):
            continue
        v = s.text.lower()
        start = 0
        while (i := low.find(v, start)) >= 0:
            start = i + 1
            j = i + len(v)
            latin_edges = v[0].isascii() and v[0].isalnum() or v[-1].isascii() and v[-1].isalnum()
            if latin_edges and ((i > 0 and low[i - 1].isalnum() and not _is_cjk(low[i - 1]))
                                or (j < len(low) and low[j].isalnum() and not _is_cjk(low[j]))):
                continue  # part of a longer word
            if not any(a <= i and j <= b for a, b in id_spans):
                return f"identifier value {s.text!r} also occurs outside identifier spans at {i}"
    if skeleton is not None:
        skel_words = {w.lower() for w in _WORD.findall(skeleton)}
        for s in doc.identifiers:
            if s.category != "NAME":
                continue
            if any(_is_cjk(ch) for ch in s.text):
                if len(s.text) >= 2 and s.text in skeleton:
                    return f"name {s.text!r} occurs in the template text"
                continue
            for w in _WORD.findall(s.text):
                if len(w) >= 3 and w.lower() in skel_words:
                    return f"name word {w!r} of {s.text!r} occurs in the template text"
    return None


def _one(index: int, seed: int) -> Doc:
    for attempt in range(50):
        rng = random.Random(f"deid-synth:{seed}:{index}:{attempt}")
        if rng.random() < ZH_SHARE:
            lang, locale, fmts = "zh", "zh_CN", _ZH_FORMATS
        else:
            r, acc = rng.random(), 0.0
            locale = _EN_LOCALES[-1][0]
            for loc, w in _EN_LOCALES:
                acc += w
                if r < acc:
                    locale = loc
                    break
            lang, fmts = "en", _EN_FORMATS
        ctx = _Ctx(lang, locale, rng)
        fmt = rng.choice(fmts)(ctx)
        doc, skeleton = _assemble(index, lang, fmt, ctx.segs)
        if verify(doc, skeleton) is None:
            return doc
    raise AssertionError(f"could not write an exact document {index} for seed {seed}")


def generate(n: int, seed: int) -> list[Doc]:
    """`n` synthetic documents (about 55% EN, 45% ZH), deterministic for a seed and a Faker version."""
    docs = [_one(i, seed) for i in range(n)]
    for d in docs:
        problem = verify(d)
        assert problem is None, problem
    return docs


# ======================================================================================
# Scoring
# ======================================================================================

def _context(text: str, start: int, end: int, width: int = 40) -> str:
    a, b = max(0, start - width), min(len(text), end + width)
    s = text[a:start] + "«" + text[start:end] + "»" + text[end:b]
    return s.replace("\n", " ⏎ ")


def _rate(hit: int, total: int) -> float | None:
    return hit / total if total else None


def score(docs: Iterable[Doc], find: Callable[[str], Iterable]) -> dict:
    """Recall of `find` on the planted identifiers and the share of clinical terms it leaves alone.

    find(text) returns objects with .start and .end (like spinemed.deid.find_identifiers). An
    identifier is removed when every alphanumeric / CJK character of its span is covered by some
    finding; a term is kept when no finding overlaps it. Findings that overlap no planted
    identifier are counted as spurious (they include the blanked terms).
    """
    counts: dict[tuple[str, str], list[int]] = {}
    by_format: dict[str, list[int]] = {}
    by_detail: dict[str, list[int]] = {}
    term_counts: dict[tuple[str, str], list[int]] = {}
    misses, lost = [], []
    spurious = n_findings = n_docs = 0
    for doc in docs:
        n_docs += 1
        findings = [(f.start, f.end) for f in find(doc.text)]
        n_findings += len(findings)
        covered = bytearray(len(doc.text) + 1)
        for a, b in findings:
            covered[max(a, 0):max(b, 0)] = b"\x01" * (max(b, 0) - max(a, 0))
        for s in doc.identifiers:
            ok = all(covered[i] for i in range(s.start, s.end) if _significant(doc.text[i]))
            for key, table in (((s.category, s.language), counts), (doc.format, by_format),
                               (f"{s.category} {s.detail}", by_detail)):
                row = table.setdefault(key, [0, 0])
                row[0] += ok
                row[1] += 1
            if not ok:
                misses.append({"doc": doc.index, "language": doc.language, "format": doc.format,
                               "category": s.category, "detail": s.detail, "text": s.text,
                               "context": _context(doc.text, s.start, s.end)})
        for s in doc.terms:
            hit = [(a, b) for a, b in findings if a < s.end and s.start < b]
            row = term_counts.setdefault((s.category, s.language), [0, 0])
            row[0] += not hit
            row[1] += 1
            if hit:
                lost.append({"doc": doc.index, "language": doc.language, "format": doc.format, "kind": s.category,
                             "text": s.text, "finding": doc.text[hit[0][0]:hit[0][1]],
                             "context": _context(doc.text, s.start, s.end)})
        id_spans = [(s.start, s.end) for s in doc.identifiers]
        spurious += sum(1 for a, b in findings if not any(x < b and a < y for x, y in id_spans))

    def agg(table, keys, pred):
        hit = sum(v[0] for k, v in table.items() if pred(k))
        tot = sum(v[1] for k, v in table.items() if pred(k))
        return hit, tot

    recall, count_out = {}, {}
    for cat in CATEGORIES:
        recall[cat], count_out[cat] = {}, {}
        for lang in ("all", "en", "zh"):
            h, t = agg(counts, None, lambda k, cat=cat, lang=lang: k[0] == cat and (lang == "all" or k[1] == lang))
            recall[cat][lang] = _rate(h, t)
            count_out[cat][lang] = [h, t]
    lang_recall = {lang: _rate(*agg(counts, None, lambda k, lang=lang: k[1] == lang)) for lang in ("en", "zh")}
    h, t = agg(counts, None, lambda k: True)
    th, tt = agg(term_counts, None, lambda k: True)
    terms_by_kind = {kind: _rate(*agg(term_counts, None, lambda k, kind=kind: k[0] == kind)) for kind in TERM_KINDS}
    terms_by_lang = {lang: _rate(*agg(term_counts, None, lambda k, lang=lang: k[1] == lang)) for lang in ("en", "zh")}
    return {
        "n_docs": n_docs,
        "n_identifiers": t,
        "n_terms": tt,
        "n_findings": n_findings,
        "overall_recall": _rate(h, t),
        "recall": recall,
        "counts": count_out,
        "recall_by_language": lang_recall,
        "recall_by_format": {k: _rate(*v) for k, v in sorted(by_format.items())},
        "recall_by_detail": {k: [v[0], v[1]] for k, v in sorted(by_detail.items())},
        "terms_kept": _rate(th, tt),
        "terms_kept_by_kind": terms_by_kind,
        "terms_kept_by_language": terms_by_lang,
        "spurious_findings": spurious,
        "misses": misses,
        "terms_lost": lost,
    }
