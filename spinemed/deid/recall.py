"""The recall-first English layer: scrub what is not known to be safe.

The cue rules (``cues``) find a name next to a title, a label or a kinship word.  Notes do
not always give one ("Henrietta Vossberg, 71, presented …", "Imre reports …"), so in
patient-bearing text this layer treats every capitalised token run as a name candidate and
lets it go only when vocabulary explains it (the Philter principle):

* a token that English (SCOWL) or clinical vocabulary (eponyms, drugs, devices, anatomy,
  medical morphology such as -ectomy, -itis, -plasty) explains is safe;
* a token that no vocabulary explains ("Vossberg", "Imre") is a name wherever it stands;
* a token that is both a common word and a census name ("Baker", "Grace", "Young") is a
  name when it stands with another name token, after a comma-separated surname, mid-sentence
  (not at a sentence start or in a heading), or at a sentence start before a reporting verb;
* an eponym that is also a common surname ("Thomas", "Smith") is safe only as an eponym:
  before a clinical head noun ("Thomas test", "Smith-Petersen osteotomy", "Baker's cyst").

The same layer finds identifier-shaped numbers without a label (NPI, DEA, licence, passport,
serial and accession numbers: a token with enough digits that no measurement, level, date or
score explains), and the rarer date forms.  Precision is won back with clinical language,
never by waiting for a cue.  In ``literature`` mode (textbooks, guidelines) the name scan is
off: authors and citations are public; numbers and dates are still scanned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from . import vocab
from .cues import _EN_STOPWORDS, _P_CUE, _P_FORMAT, _Cand

_L = "A-Za-zÀ-ÖØ-öø-ÿĀ-ɏ"
_WORD_RE = re.compile(rf"[{_L}]+(?:['’\-][{_L}]+)*(?:['’]s?)?")
_PARTICLES = frozenset("van von der den de del della dei da di du la le lo bin ibn al el ten ter st st. mac ní nic ó ua an ui"
                       " dos das do".split())
_SAFE, _WORD, _COND, _WEAK, _STRONG = range(5)

# Words that open a sentence about the patient when the subject is a first name.
_REPORT_VERBS = frozenset("""
reports reported states stated said says denies denied presents presented is was has had underwent undergoes
complains complained notes noted describes described returned returns attended arrived lives lived works worked
agrees agreed consented consents declined declines wishes wished wants wanted feels felt walked walks continues
remains remained tolerated tolerates called calls asked asks came comes went goes will would can could did does
""".split())

# Morphology that marks a medical word the word lists lack (kept specific: "-ine" or "-ide"
# would also explain names such as Christine or Adelaide).
_MED_SUFFIXES = tuple("""
ectomy ectomies otomy otomies ostomy plasty plasties pathy pathies itis itides osis oses algia aemia emia omas oma
ology ologic ological ologist ography ographic ogram esthesia aesthesia plegia plegic paresis paretic lysis lytic
desis rrhaphy scopy scopic trophy trophic penia cytosis genic genesis mycin cillin floxacin azole prazole olol pril
sartan statin mab nib parin dronate oxetine triptyline azepam azolam profen fenac coxib codone morphone caine
sone olone asone dipine tidine thiazide semide setron vir zumab ximab mumab tinib ctomy graphy gram metry meter
phyte phytes cele celes plasia trophy ostosis desmophyte spinal vertebral discal foraminal pathic ization isation
ational
""".split())
_PREFIXES = tuple("""
post pre intra inter para peri sub supra trans anti non re un hyper hypo micro macro mini bi multi extra infra
retro semi pseudo neuro osteo myelo spondylo over under mis co de dis in im ir il auto poly mono hemi tri uni
patho antero postero spino lumbo thoraco cervico sacro ilio costo disco radio angio electro dorso ventro medio
latero infero supero cranio cardio pneumo gastro hepato nephro uro immuno chondro arthro fibro myo
""".split())
_SUFFIXES = ("'s", "’s", "s", "es", "ed", "ing", "ly", "ally", "al", "ic", "ical", "ity", "ation", "ations", "ative",
             "ive", "ous", "ness", "ment", "ments", "er", "ers", "ism", "ist", "ists", "ize", "ise", "ized", "ised")


@lru_cache(maxsize=200_000)
def _known_word(low: str) -> bool:
    """An ordinary English or clinical word (possibly inflected or prefixed)."""
    words = vocab.en_words()
    safe, cond = vocab.clinical()
    if low in words or low in safe or low in cond or low in _EN_STOPWORDS:
        return True
    if len(low) >= 7 and low.endswith(_MED_SUFFIXES):
        return True
    for suf in _SUFFIXES:
        if low.endswith(suf) and len(low) - len(suf) >= 3:
            stem = low[: -len(suf)]
            if stem in words or stem + "e" in words or stem in safe or (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in words):
                return True
    for pre in _PREFIXES:
        if low.startswith(pre) and len(low) - len(pre) >= 4:
            rest = low[len(pre):].lstrip("-")
            if rest in words or rest in safe or (len(rest) >= 7 and rest.endswith(_MED_SUFFIXES)):
                return True
    return False


@lru_cache(maxsize=200_000)
def _classify(word: str) -> int:
    """_SAFE (stop word, always-safe clinical word), _WORD (ordinary word), _COND (an eponym
    that is also a common surname), _WEAK (a census name that is also an ordinary word) or
    _STRONG (a name, or a word no vocabulary explains)."""
    low = word.lower().replace("’", "'")
    if low.endswith("'s"):
        low = low[:-2]
    elif low.endswith("'"):
        low = low[:-1]
    if not low:
        return _SAFE
    safe, cond = vocab.clinical()
    if low in _EN_STOPWORDS or low in safe:
        return _SAFE
    if low in cond:
        return _COND
    if "-" in low or "'" in low:
        parts = [p for p in re.split(r"[-']", low) if p]
        if low.startswith(("o'", "d'", "n'", "l'")) or not parts:
            return _STRONG  # O'Shaughnessy, D'Souza, N'Diaye
        if any(len(p) == 1 for p in parts):
            return _WORD  # "K-line", "T-score", "X-ray", "B-cell": technical terms
        classes = [_classify(p) for p in parts]
        if _STRONG in classes:
            return _STRONG if all(_known_word(p) is False or c == _STRONG for p, c in zip(parts, classes)) else _WEAK
        if _WEAK in classes:
            return _WEAK
        if _COND in classes:
            return _COND
        return _WORD
    is_name = low in vocab.surnames() or low in vocab.given_names()
    if _known_word(low):
        return _WEAK if is_name else _WORD
    return _STRONG


_CAPTION_LABEL = re.compile(r"(?:Figure|Fig\.?|Table|Video|Panel|图|表)[ \t]*[\dA-Za-z.\-–]*[:.)]?[ \t]*$")


def _sentence_start(text: str, start: int) -> bool:
    if _CAPTION_LABEL.search(text, max(0, start - 16), start):
        return True
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(«":
        i -= 1
    if i < 0 or text[i] in "\n\r.!?:;•*#>|=—–\u3002\uff1a\uff1b":
        return True
    # "1) Grace …", "- Grace …"
    return text[i] in ")-" and (i == 0 or text[i - 1] in " \t\n0123456789")


def _heading_line(text: str, start: int) -> bool:
    """A Title Case or ALL CAPS line ("Discharge Summary", "HISTORY OF PRESENT ILLNESS")."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", start)
    line = text[lo: hi if hi >= 0 else len(text)]
    words = _WORD_RE.findall(line)
    if len(words) < 2 or len(words) > 12:
        return False
    caps = sum(1 for w in words if w[0].isupper() or w.lower() in ("of", "and", "the", "for", "to", "in", "on"))
    return caps == len(words)


def _next_words(text: str, end: int, n: int = 2) -> list[str]:
    out = []
    for m in _WORD_RE.finditer(text, end, min(len(text), end + 60)):
        if "\n" in text[end: m.start()]:
            break
        out.append(m.group().lower())
        if len(out) == n:
            break
    return out


def _is_eponym(text: str, end: int, word: str = "", *, strict: bool = False) -> bool:
    """A clinical head noun follows ("Chance fracture", "Thomas test", "Lou Gehrig disease",
    "Anderson and D'Alonzo classification", "Adams forward bend test")."""
    if "-" in word:
        safe, cond = vocab.clinical()
        parts = [p for p in word.lower().replace("’", "'").split("-") if p]
        if all(p.rstrip("'s") in safe or p.rstrip("'s") in cond for p in parts):
            return True  # a compound of eponyms: "Smith-Petersen", "Young-Burgess", "Brown-Séquard"
    if _ZH_EPONYM_HEAD.match(text, end):
        return True  # "Schober试验", "Babinski征"
    seen = 0
    for m in _WORD_RE.finditer(text, end, min(len(text), end + 60)):
        if "\n" in text[end: m.start()] or re.search(r"[.;:!?()\[\]]", text[end: m.start()]):
            return False
        w = m.group().lower().replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        if w in vocab.EPONYM_HEADS:
            return True
        seen += 1
        if strict or seen >= 3 or (w in _EN_STOPWORDS and w not in ("and", "of")):
            return False
        end = m.end()
    return False


_ZH_EPONYM_HEAD = re.compile(r"[ \t]*(?:试验|实验|征|综合征|综合症|病|氏|分型|分级|分类|骨折|角|评分|量表|指数|手术|截骨|入路|结节|线)")

# A citation, not a person in the record: "Smith et al.", "Jones and Brown (2020)", "Wang [12]".
_CITATION_AFTER = re.compile(
    rf"(?:,?[ \t]+et\.?[ \t]+al\b|[ \t]*\((?:19|20)\d\d[a-z]?\)|[ \t]*\[\d+(?:[,–-]\d+)*\]|,[ \t]+(?:19|20)\d\d\b(?![-/.:]\d)"
    rf"|[ \t]+(?:and|&)[ \t]+[{_L}'’\-]+(?:[ \t]+et\.?[ \t]+al\.?)?[ \t]*[(\[,][ \t]*(?:(?:19|20)\d\d|\d+\]))"
)
_CITATION_BEFORE = re.compile(rf"[{_L}]+[ \t]+(?:and|&)[ \t]+$")


# Two or more capitals that no name pattern explains (McDonald, O'Brien, DeShawn, LaToya do).
_ACRONYM_LIKE = re.compile(r"^(?:[A-Z]{2,}[a-z]{1,2}|(?!(?:Mc|Mac|De|Di|Da|La|Le|Van|Von|Fitz)[A-Z])[A-Z][a-z]+[A-Z]\w*)$")
_PLACE_LEADS = frozenset("north south east west new port lake mount mt saint st fort upper lower great little glen "
                         "san santa los las el la le des".split())
_PREV_WORD = re.compile(rf"([{_L}]+)[ \t]+$")


# "Meyerding grade I. Power 4/5", "ASIA impairment scale B. Continue …": a grade, not an initial.
_GRADE_WORDS = frozenset("grade type stage class scale level group phase zone part category score degree pattern "
                         "lenke modic asia ais frankel meyerding pfirrmann genant option answer".split())
# Labels that follow a name in capitals headers ("JASON WARD  DOB: …", "PATIENT: … MRN").
_CAPS_LABELS = frozenset("mrn dob age sex acc nhs urn id ref re date dept department ward bed room unit of and the "
                         "for to with report summary note letter".split()) - {"ward"}
# Safe words that are also common surnames after a given name ("Jacob Black", "Ann West").
_SURNAME_WORDS = frozenset("""
black white brown green gray grey north south east west young english french irish scott welsh england holland london
washington georgia virginia carolina jersey kent york christian hope joy love may june april august rose hall thomas
ward golden georgia virginia carolina dakota montana indiana florida savannah austin dallas
""".split())
_MONTH_NAMES = frozenset("may june april august".split())
_OPTION_LABEL = re.compile(r"(?:^|\n|[:：;]\s*|\s{2,})$")


def _runs(text: str) -> Iterator[list[tuple[int, int, str]]]:
    """Runs of capitalised words, initials and name particles on one line, separated by single
    spaces (an initial may carry its full stop: "J. Baker")."""
    run: list[tuple[int, int, str]] = []
    last_end = -1
    for m in _WORD_RE.finditer(text):
        word = m.group()
        s, e = m.span()
        is_initial = len(word) == 1 and word.isupper()
        if is_initial and e < len(text) and text[e] == ".":
            before = text[s - 1] if s else "\n"
            prev_word = _PREV_WORD.search(text, max(0, s - 24), s)
            if (before not in " \t\n(\"'“" or before == "\n" or _OPTION_LABEL.search(text, max(0, s - 3), s)
                    or (prev_word and prev_word.group(1).lower() in _GRADE_WORDS)
                    or re.search(r"\d[ \t]*$", text[max(0, s - 4): s])):  # "38.6 C. Tenderness": a unit
                # "mmol/L. Standing", an MCQ option "C. Start …": not an initial
                if run:
                    yield run
                run, last_end = [], -1
                continue
            e += 1
        # Irish eclipsis and h-prothesis keep the capital inside: "Mac an tSaoi", "Ó hUallacháin"
        capital = word[0].isupper() or (len(word) > 2 and word[0] in "thn" and word[1].isupper())
        particle = word.lower() in _PARTICLES
        if not (capital or particle):
            if run:
                yield run
            run, last_end = [], -1
            continue
        gap = text[last_end:s] if last_end >= 0 else None
        if run and gap is not None and gap.strip() == "" and "\n" not in gap and len(gap) <= 2:
            run.append((s, e, word))
        else:
            if run:
                yield run
            run = [(s, e, word)]
        last_end = e
    if run:
        yield run


def _name_spans(text: str) -> Iterator[_Cand]:
    pending_surname: tuple[int, int] | None = None  # "VOSSBERG," / "Okonkwo-Bayliss," awaiting its given name
    for run in _runs(text):
        toks = []
        for s, e, word in run:
            if len(word.rstrip(".")) == 1 and word[0].isupper():
                cls = "I"  # an initial
            elif word.lower() in _PARTICLES and (not word[0].isupper() or (word.isupper() and len(word) <= 4)):
                cls = "P"  # "van der Berg", "DE LA CRUZ"
            elif _ACRONYM_LIKE.match(word):
                cls = "A"  # NSAIDs, TNFi, HbA1c-like mixed capitals, SpineMed
            elif word.isupper() and len(word) > 1:
                base = _classify(word.title())
                cls = "A" if len(word) <= 3 or base in (_SAFE, _WORD, _COND) else "C"  # acronym / capitals name
                if word.lower() in vocab.given_names() and base != _SAFE:
                    cls = "G"  # a given name in capitals: the next capitals word is the surname ("JASON WARD")
            else:
                cls = _classify(word)
                if cls in (_COND, _WEAK) and _is_eponym(text, e, word):
                    cls = _SAFE
                cls = {_SAFE: "S", _WORD: "W", _COND: "w", _WEAK: "w", _STRONG: "N"}[cls]
            toks.append((s, e, word, cls))
        if any(t[3] == "N" for t in toks) and _is_eponym(text, toks[-1][1], strict=True):
            continue  # "Lou Gehrig disease", "Tommy John surgery": the head noun right after the run
        # A word right after an initial or a name particle is a surname ("M. de Wit", "J. Wood"),
        # and so is a month right after a given name ("Sean May", "June Bolton").
        for i in range(len(toks)):
            prev_cls = toks[i - 1][3] if i else ""
            next_cls = toks[i + 1][3] if i + 1 < len(toks) else ""
            if toks[i][3] == "W" and prev_cls in ("I", "P"):
                toks[i] = (*toks[i][:3], "w")
            elif toks[i][3] == "A" and prev_cls == "P" and len(toks[i][2]) > 1:
                toks[i] = (*toks[i][:3], "C")  # "ZOLTÁN DE WIT"
            elif toks[i][3] in ("W", "S") and i and toks[i - 1][2].lower() in vocab.given_names() and prev_cls in ("N", "w") \
                    and (toks[i][3] == "W" or toks[i][2].lower() in _SURNAME_WORDS):
                toks[i] = (*toks[i][:3], "w")  # "Sandra Hearty", "Jacob Black": a given name, then its surname
            elif toks[i][3] in ("A", "W", "w", "S") and prev_cls in ("G", "C") and toks[i][2].isupper() and len(toks[i][2]) > 2 \
                    and toks[i][2].lower() not in _CAPS_LABELS:
                toks[i] = (*toks[i][:3], "C")
            elif toks[i][3] == "S" and (toks[i][2].lower() in _MONTH_NAMES or toks[i][2].lower() in _SURNAME_WORDS) \
                    and (prev_cls in ("N", "w") or next_cls in ("N", "w")):
                toks[i] = (*toks[i][:3], "w")
        # Segments of name-ish tokens.
        seg: list[tuple[int, int, str, str]] = []
        segments = []
        for t in toks:
            if t[3] in "IPNwCG":
                seg.append(t)
            else:
                if seg:
                    segments.append(seg)
                seg = []
        if seg:
            segments.append(seg)
        for seg in segments:
            while seg and seg[-1][3] == "P":
                seg = seg[:-1]
            while seg and seg[0][3] == "I" and len(seg) == 1:
                seg = seg[:-1]
            if not seg:
                continue
            kinds = [t[3] for t in seg]
            s, e = seg[0][0], seg[-1][1]
            if seg[-1] is toks[-1] and _is_eponym(text, e):
                continue  # "Lou Gehrig disease", "Tommy John surgery"
            if _CITATION_AFTER.match(text, e) or (_CITATION_BEFORE.search(text, max(0, s - 40), s)
                                                   and _CITATION_AFTER.match(text, e)):
                continue
            strong = "N" in kinds
            named = sum(1 for k in kinds if k in "NwCIG")
            start_of_sentence = _sentence_start(text, s)
            nxt_m = re.match(rf"[ \t]+([{_L}]+)", text[e: e + 30])
            nxt = [nxt_m.group(1).lower()] if nxt_m else []
            is_name = strong or named >= 2 and any(k in "NwCG" for k in kinds)
            if not is_name and kinds.count("w") == 1 and named == 1 and not any(t[3] == "W" for t in toks):
                if not start_of_sentence and not _heading_line(text, s):
                    is_name = True
                elif start_of_sentence and (nxt and nxt[0] in _REPORT_VERBS or re.match(r",[ \t]*\d{1,3}\b", text[e: e + 6])):
                    is_name = True
            if not is_name and pending_surname and pending_surname[1] + 2 >= s and kinds[0] in "NwC":
                is_name = True
            if not is_name and kinds == ["C"] and text[e: e + 2] == ", ":
                pending_surname = (s, e)  # decided when the next run turns out to be a name
                continue
            if is_name:
                # Place names keep their lead and tail words ("South Samuelhaven", "Port Michelle").
                idx = toks.index(seg[0])
                while idx > 0 and toks[idx - 1][2].lower() in _PLACE_LEADS:
                    idx -= 1
                    s = toks[idx][0]
                if pending_surname and text[pending_surname[1]: s] in (", ", ","):
                    yield pending_surname[0], pending_surname[1], "NAME", _P_CUE
                # Drop a leading particle that starts a sentence ("De …" is rare, "La" less so).
                prev = _PREV_WORD.search(text, max(0, s - 20), s)
                kind = "ADDRESS" if prev and prev.group(1).lower() in ("in", "from", "near") else "NAME"
                yield s, e, kind, _P_CUE
            pending_surname = None


# ---- identifier-shaped numbers without a label ----------------------------------------

_ID_TOKEN = re.compile(r"(?<![\w.\-/])(?=[A-Za-z\-]*\d)[A-Za-z0-9]+(?:[-–][A-Za-z0-9]+)*(?![\w])")
_UNIT_AFTER = re.compile(
    r"[ \t]*(?:%|‰|°|mm|cm|m\b|km|mg|g\b|kg|µg|ug|mcg|ng|pg|ml|mL|l\b|L\b|dl|dL|iu|IU|u\b|U\b|mmol|µmol|umol|mol|"
    r"meq|mEq|mmhg|mmHg|hu|HU|bpm|/|x|×|s\b|sec|min|h\b|hr|hrs|hours?|days?|weeks?|months?|years?|y\b|cells|copies|"
    r"cgy|cGy|gy|Gy|mgy|mGy|msv|mSv|kv|kV|ma|mA|hz|Hz|khz|mhz|MHz|tesla|T\b|units?|points?|patients|cases|items)",
)
# Public reference numbers: PubMed Central, PubMed, trial registrations, ISBN/ISSN, decades.
_PUBLIC_ID = re.compile(r"(?i)^(?:PMC\d+|PMID\d*|NCT\d{8}|ChiCTR[-\w]+|ISRCTN\d+|ISBN[-\d]*|ISSN[-\d]*|(?:1[89]|20)\d0s)$")
# Content hashes and the kit's own opaque ids ("a2bfea0b07a8afc7", "case-dcf56830169f"): lower-case hex.
_HASH_LIKE = re.compile(r"^(?:[a-z]+-)?(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,64}(?:[-_][0-9a-z]{1,4})*$")
_LEVELISH = re.compile(r"(?i)^(?:[CTLS]\d{1,2}(?:[-–/][CTLS]?\d{1,2})*|T\dWI|SF-?36|EQ-?5D\w*|COVID-?19|HbA1c|[A-Z]{1,3}\d{1,2})$")


def _id_numbers(text: str) -> Iterator[_Cand]:
    for m in _ID_TOKEN.finditer(text):
        tok = m.group()
        digits = sum(c.isdigit() for c in tok)
        letters = sum(c.isalpha() for c in tok)
        if digits < 4 or (digits == 4 and letters == 0):
            continue
        if re.search(r"[a-z]{3,}", tok) and digits < 6:
            continue  # a word with a number ("SpineMed-450k", "draft2024")
        if _LEVELISH.match(tok) or _PUBLIC_ID.match(tok) or _HASH_LIKE.match(tok):
            continue
        if letters == 0:
            plain = tok.replace("-", "").replace("–", "")
            if len(plain) < 5:
                continue  # a year or a count
            if re.fullmatch(r"(?:19|20)\d\d[-–](?:19|20)?\d\d", tok):
                continue  # a range of years
            if re.fullmatch(r"\d{1,4}[-–]\d{1,4}", tok):
                continue  # a numeric range
        if _UNIT_AFTER.match(text, m.end()):
            continue
        # an exponent or a decimal's tail ("10^9", "0.00012")
        if m.start() > 0 and text[m.start() - 1] in "^.,":
            continue
        yield m.start(), m.end(), "ID", _P_CUE


# ---- rarer date forms ----------------------------------------------------------------

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
          r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_WEEKDAY = r"(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?"
_ORD = r"(?:[12]?\d|3[01])(?:st|nd|rd|th)?"
_DATE_FORMS = re.compile(
    "|".join([
        rf"\b{_WEEKDAY},?[ \t]+(?:the[ \t]+)?{_ORD}(?:[ \t]+of)?[ \t]+{_MONTH}(?:,?[ \t]+(?:19|20)\d\d)?",
        rf"\b{_WEEKDAY},?[ \t]+{_MONTH}[ \t]+{_ORD}(?:,?[ \t]+(?:19|20)\d\d)?",
        rf"\b(?:the[ \t]+)?{_ORD}[ \t]+of[ \t]+{_MONTH}(?:,?[ \t]+(?:19|20)\d\d|[ \t]*['’]\d\d)?",
        rf"\b{_MONTH}[ \t]+(?:the[ \t]+)?{_ORD}(?:,?[ \t]+(?:19|20)\d\d)?\b",
        rf"\b(?:[12]?\d|3[01])(?:st|nd|rd|th)[ \t]+{_MONTH}(?:,?[ \t]+(?:19|20)\d\d)?",
        rf"\b{_MONTH}[ \t]*['’‘]\d\d\b",
        rf"\b{_MONTH}[ \t]+(?:19|20)\d\d\b",
        r"(?<![\d\-])(?:19|20)\d\d-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-][0-2]\d:?\d\d)?",
        r"\b[0-3]?\d[./-][01]?\d[./-](?:19|20)?\d\d[ \t]+[0-2]?\d:[0-5]\d\b",
    ]),
    re.IGNORECASE,
)
_MAY_WORD = re.compile(r"(?i)^may\b")


# A month or weekday next to a number, or a date-time: most passages mention neither.
_DATE_TRIGGER = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?[ \t]*(?:the[ \t]+)?['’‘]?\d"
    r"|\d(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"|\d[t ][0-2]\d:|\d[ \t]+[0-2]?\d:"
)


def _dates(text: str, low: str = "") -> Iterator[_Cand]:
    if not _DATE_TRIGGER.search(low or text.lower()):
        return
    for m in _DATE_FORMS.finditer(text):
        tok = m.group()
        if _MAY_WORD.match(tok) and not re.search(r"\d", tok):
            continue
        if tok[:3].lower() == "may" and not tok[0].isupper():
            continue  # "may 2 …" is the verb
        yield m.start(), m.end(), "DATE", _P_FORMAT


# ---- ages over 89 in words ------------------------------------------------------------

_AGE_WORDS = re.compile(
    r"\b(?:ninety|(?:one|a)[ \t-]hundred(?:[ \t-]and)?)(?:[ \t-](?:one|two|three|four|five|six|seven|eight|nine|ten))?"
    r"(?:[ \t-]+(?:years?|yrs?)(?:[ \t-]+old)?|[ \t-]year[ \t-]old|-year-old)",
    re.IGNORECASE,
)
_AGE_WORDS_AGED = re.compile(
    r"\b(?:aged|age)[ \t]+(?:ninety|(?:one|a)[ \t-]hundred)(?:[ \t-](?:one|two|three|four|five|six|seven|eight|nine))?\b",
    re.IGNORECASE,
)
_AGE_WORDS_BARE = re.compile(
    r"(?i)\b(?:ninety(?:[ \t-](?:one|two|three|four|five|six|seven|eight|nine))?|(?:one|a)[ \t-]hundred(?:[ \t-](?:and[ \t-])?"
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten))?)\b(?![ \t-]*(?:per|%|percent|degrees?|°|minutes?|mins?|seconds?|days?|hours?"
    r"|weeks?|months?|mm|cm|ml|mg|metres?|meters?|patients?|cases?|times|beats|points?|units?|and|of|to|or))"
)
_AGE_NINETIES = re.compile(r"\b(?:in[ \t]+)?(?:(?:his|her|their)[ \t]+)?(?:late[ \t]+|early[ \t]+|mid[ \t-]+)?nineties\b", re.IGNORECASE)


def _ages(text: str, low: str = "") -> Iterator[_Cand]:
    if "ninet" not in (low or text.lower()) and "hundred" not in (low or text.lower()):
        return
    for regex in (_AGE_WORDS, _AGE_WORDS_AGED, _AGE_NINETIES, _AGE_WORDS_BARE):
        for m in regex.finditer(text):
            yield m.start(), m.end(), "AGE", _P_FORMAT


# ---- addresses the cue rules miss --------------------------------------------------------

_ADDRESS_FORMS = re.compile(
    "|".join([
        r"\b(?i:P\.?[ \t]?O\.?[ \t]?Box|Post[ \t]Office[ \t]Box)[ \t]*#?\d+",
        r"\b\d{5}-\d{4}\b",  # ZIP+4
        r"\b(?:GIR[ \t]?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2})\b",  # UK postcode
        r"\b(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|Rm)\.?[ \t]*#?[ \t]*\d+[A-Z]?\b",
    ])
)


def _addresses(text: str) -> Iterator[_Cand]:
    for m in _ADDRESS_FORMS.finditer(text):
        tok = m.group()
        if re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}", tok) and not re.search(r"\d[A-Z]{2}$", tok):
            continue
        if re.fullmatch(r"[CTLS]\d{1,2}[ \t]?\d[A-Z]{2}", tok):
            continue
        yield m.start(), m.end(), "ADDRESS", _P_FORMAT


# ---- more shapes, each a way notes write an identifier without the cue rules' labels ----

_CAPW = r"[A-Z][A-Za-z'’\-]+"
_EXTRA = [
    # bed / bay / cot numbers: "Bed 7", "bed 12A", "Bay 3"
    (re.compile(r"(?i:\b(?:bed|bay|cot|room)(?:[ \t]*(?:no\.?|number|#))?)(?![a-z])[ \t]*[:#]?[ \t]*(?P<v>\d{1,3}[A-Z]?)\b(?![ \t]*(?:mm|cm|%|days?|hours?|weeks?))"), "ID", _P_FORMAT),
    # vehicle plates after a registration cue
    (re.compile(r"(?i:\b(?:registered|reg\.|registration(?:[ \t]+(?:no\.?|number))?|(?:car|licence|license|number|vehicle)[ \t]+plate"
                r"|plate[ \t]+(?:no\.?|number)|plate:))(?![a-z])"
                r"[ \t]*[:#]?[ \t]*(?P<v>(?=[A-Z0-9 \-]*\d)[A-Z0-9]{1,8}(?:[ \-][A-Z0-9]{1,6}){0,2})\b"), "ID", _P_FORMAT),
    # national and social numbers written with spaces; hospital, specimen and accession numbers
    (re.compile(r"\b(?i:tax[ \t]+file[ \t]+(?:number|no\.?)|tfn|national[ \t]+insurance(?:[ \t]+(?:number|no\.?))?|ni[ \t]+(?:number|no\.?)"
                r"|nhs[ \t]+(?:number|no\.?)|social[ \t]+insurance[ \t]+(?:number|no\.?)|sin|ihi|ppsn?(?:[ \t]+(?:number|no\.?))?"
                r"|dl[ \t]+(?:no\.?|number|#)|driver'?s?[ \t]+licen[cs]e(?:[ \t]+(?:no\.?|number|#))?|passport(?:[ \t]+(?:no\.?|number|#))?"
                r"|hosp(?:ital)?\.?[ \t]+(?:no|number|#)\.?|record[ \t]+(?:no|number)\.?|ur[ \t]+(?:no|number)\.?|urn|chi[ \t]+(?:no|number)\.?"
                r"|specimen(?:[ \t]+(?:no|number|id|#))?\.?|accession(?:[ \t]+(?:no|number|#))?\.?|acc#|lab[ \t]+(?:no|number)\.?|sample[ \t]+(?:no|id)\.?"
                r"|id(?=[ \t]*:))"
                r"[ \t]*[:#]?[ \t]*(?P<v>(?=[A-Z0-9 \-/]*\d)[A-Z0-9][A-Z0-9\-/]*(?:[ ](?:\d[0-9A-Z\-/]*|[A-Z]{1,2}\b(?![a-z])))*)"), "ID", _P_FORMAT),
    (re.compile(r"\b(?i:(?:health[ \t]+fund[ \t]+|insurance[ \t]+|insurer:?[ \t]+)?member(?:ship)?(?:[ \t]+(?:number|no\.?|id))?"
                r"|medicare(?:[ \t]+card)?(?:[ \t]+(?:number|no\.?))?|(?:guarantor|billing)[ \t]+account|account[ \t]+(?:no|number)\.?|account(?=[ \t]*:))"
                r"[ \t]*[:#]?[ \t]*(?P<v>(?=[A-Z0-9 \-/]*\d)[A-Z0-9][A-Z0-9\-/]*(?:[ ](?:\d[0-9A-Z\-/]*|[A-Z]{1,3}\b(?![a-z])))*)"), "ACCOUNT", _P_FORMAT),
    # GS1 device identifiers: "(01)07864836410925(21)JT701806"
    (re.compile(r"(?P<v>(?:\(\d{2,4}\)[A-Za-z0-9\-]+){2,})"), "ID", _P_FORMAT),
    # phone numbers in national formats: "(08) 5168-5724", "020 7495 5863", "001-548-732-0079x8076"
    (re.compile(r"(?<![\w.,/])(?P<v>(?:\+\d{1,3}[ \t.\-]?)?(?:\(0?\d{1,4}\)[ \t.\-]?)?\d{2,5}(?:[ \t.\-]\d{2,5}){1,4}"
                r"(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,5})?)(?!\w|[.,/]\d|[ \t]*(?:%|mm|cm|mg|ml|mL|kg|g\b|x10|×|/))"), "PHONE", _P_CUE),
    # AU state + postcode, Irish Eircodes
    (re.compile(r"(?P<v>(?:[A-Z][A-Za-z'’\-]+[ \t]+){0,3}(?:NSW|VIC|QLD|SA|WA|TAS|NT|ACT)[ \t]+\d{4})\b"), "ADDRESS", _P_FORMAT),
    # parts of an address next to one already replaced (the scrubber's second pass): the house
    # number and street before it, the unit, and the town after it
    (re.compile(r"(?P<v>(?:\d{1,6}[A-Za-z]?[ \t]+)?(?:[A-Z][A-Za-z'’\-]+[ \t]+){0,3}[A-Z][A-Za-z'’\-]+|(?i:flat|apt|unit|suite|apartment|room)[ \t]*#?\w+)"
                r"(?=,?[ \t]*\[ADDRESS\])"), "ADDRESS", _P_FORMAT),
    (re.compile(r"\[ADDRESS\],?[ \t]+(?P<v>(?:[A-Z][A-Za-z'’\-]+[ \t]+){0,2}[A-Z][A-Za-z'’\-]+)(?=[ \t]*(?:[,(;.]|$))"), "ADDRESS", _P_FORMAT),
    # Irish and British counties: "Co. Cork", "County Down"
    (re.compile(r"\b(?:Co\.|County)[ \t]+(?P<v>[A-Z][A-Za-z'’\-]+)"), "ADDRESS", _P_FORMAT),
    # mid-sentence "from <Place>": "a nurse from Flagstaff", "a man (JWB) from Pueblo"
    (re.compile(r"(?<=[a-z)] )from[ \t]+(?P<v>[A-Z][a-z][A-Za-z'’\-]*(?:[ \t]+[A-Z][a-z][A-Za-z'’\-]*){0,2})"), "ADDRESS", _P_CUE),
    (re.compile(r"(?:,[ \t]*|\b)(?P<v>[A-Z]\d{2}[ \t]?(?=[0-9A-Z]*\d)(?=[0-9A-Z]*[A-Z])[0-9A-Z]{4})\b"), "ADDRESS", _P_FORMAT),
    (re.compile(r"(?i)\b(?P<v>(?:locked[ \t]+bag|private[ \t]+bag|gpo[ \t]+box|rmb|rsd)[ \t]+\d+)"), "ADDRESS", _P_FORMAT),
    # a street line: number + capitalised words, then a comma or the line's end
    (re.compile(rf"(?m)(?<![\w./\-])(?P<v>\d{{1,5}}[A-Za-z]?[ \t]+(?:{_CAPW}[ \t]+){{0,3}}{_CAPW}(?:[ \t]*#[ \t]*\w+)?(?:,[ \t]*(?:Unit|Apt|Flat|Suite)[ \t]*\w+)?)(?=[ \t]*(?:,|$))"), "ADDRESS", _P_FORMAT),
    # places after a residence cue: "lives in Pueblo", "home to New Conorhaven"
    (re.compile(rf"(?i:\b(?:lives|living|lived|resides|residing|moved|relocated|home|returned|returning|returns|travel(?:l?ed)?|born|grew[ \t]+up|from[ \t]+the[ \t]+town[ \t]+of|visiting)"
                rf"[ \t]+(?:(?:back|there|here|alone|together|with[ \t]+\w+)[ \t]+)?(?:to|in|at|near|from))[ \t]+(?P<v>(?:{_CAPW}[ \t]+){{0,3}}{_CAPW})"), "ADDRESS", _P_CUE),
    # weekday + short numeric date: "Sat 25/08/2012", "Friday 12/4"
    (re.compile(rf"(?i)\b(?P<v>{_WEEKDAY},?[ \t]+\d{{1,2}}[/.\-]\d{{1,2}}(?:[/.\-]\d{{2,4}})?)\b"), "DATE", _P_FORMAT),
    # day-month-year with two-digit year, and compact yyyymmdd
    (re.compile(r"(?<![\w./\-])(?P<v>(?:0?[1-9]|[12]\d|3[01])[/.\-](?:0?[1-9]|1[0-2])[/.\-]\d{2})(?![\w/.\-])"), "DATE", _P_FORMAT),
    (re.compile(r"(?<![\w./\-])(?P<v>(?:0?[1-9]|1[0-2])[/.\-](?:0?[1-9]|[12]\d|3[01])[/.\-]\d{2})(?![\w/.\-])"), "DATE", _P_FORMAT),
    (re.compile(r"(?<!\d)(?P<v>(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)"), "DATE", _P_FORMAT),
    (re.compile(r"(?i)(?<![\w])(?P<v>\d{1,2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2,4})\b"), "DATE", _P_FORMAT),
    # nicknames: "Preferred name: Pip", "known as Skip", Aroha "Skip" McKenzie, "Sonny (prefers to be called so)"
    (re.compile(rf"(?i:\b(?:preferred[ \t]+name|nickname|nick[ \t]+name|known[ \t]+as|goes[ \t]+by|aka|a\.k\.a\.|prefers[ \t]+to[ \t]+be[ \t]+called|called))"
                rf"[ \t]*[:\-]?[ \t]*[\"“'‘]?(?P<v>{_CAPW}(?:[ \t]+{_CAPW})?)"), "NAME", _P_FORMAT),
    (re.compile(rf"(?<=[A-Za-z][ \t])[\"“‘'](?P<v>{_CAPW})[\"”’'](?=[ \t]+[A-Z])"), "NAME", _P_FORMAT),
    (re.compile(rf"(?P<v>{_CAPW})(?=[ \t]*\((?:prefers|likes|wishes)[ \t]+to[ \t]+be[ \t]+called)"), "NAME", _P_FORMAT),
    # initials signing an entry: "— A.M.", "- OM", "(JD)"
    (re.compile(r"(?m)(?:[—–]|[ \t]-|^-)[ \t]*(?P<v>(?:[A-Z]\.?[ \t]?){2,4})[ \t]*$"), "NAME", _P_FORMAT),
    (re.compile(r"(?m)(?:signed|initials|by)[ \t]*:?[ \t]*(?P<v>(?:[A-Z]\.[ \t]?){2,4}|[A-Z]{2,4})(?=[ \t]*(?:$|[,;.)]|\d|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)))"), "NAME", _P_FORMAT),
    # a nurse's name before her role: "Heather (RN)"
    (re.compile(r"(?P<v>[A-Z][A-Za-z'’\-]+(?:[ \t]+[A-Z][A-Za-z'’\-]+)?)(?=[ \t]*\((?:RN|EN|RGN|HCA|NP|PA|CNS|RM|SN|LPN|CNA)\))"), "NAME", _P_FORMAT),
    # the surname after a quoted nickname: 'Amy "Bubba" Taylor'
    (re.compile(r"[A-Z][a-z]+[ \t][\"“‘'][A-Za-z]+[\"”’'][ \t]+(?P<v>[A-Z][A-Za-z'’\-]+)"), "NAME", _P_FORMAT),
    # a title makes the next capitalised word a name, whatever the word ("Dr Ward", "Mrs Young")
    (re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Professor)\.?[ \t]+(?P<v>[A-ZÀ-Þ][A-Za-zÀ-ÿ'’\-]+(?:[ \t]+[A-ZÀ-Þ][A-Za-zÀ-ÿ'’\-]+)?)"), "NAME", _P_CUE),
    # initials for a patient in a case report: "A 25-year-old man (JWB)"
    (re.compile(r"(?i:woman|man|patient|boy|girl|gentleman|lady|female|male|mother|father)[^()\n]{0,12}\((?P<v>[A-Z]{2,4})\)"), "NAME", _P_FORMAT),
    # an IP address after a machine cue: "Workstation 52.11.83.13", "AE title MR2 (10.84.60.39)"
    (re.compile(r"(?i:workstation|terminal|host|ae[ \t]+title|sent[ \t]+from|device|modality|computer|\bpc\b|\bip\b|address)[^\n]{0,25}?"
                r"(?<![\d.])(?P<v>(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d))(?![\d.]\d)"), "IP", _P_FORMAT),
    # initials standing for a person: "Mrs. AÓB", "(A.Ó.S.)", "Ms S.M."
    (re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?[ \t]+(?P<v>[A-ZÀ-Þ]{2,4}\b|(?:[A-ZÀ-Þ]\.){2,4})"), "NAME", _P_FORMAT),
    (re.compile(r"\((?P<v>(?:[A-ZÀ-Þ]\.){2,4})\)"), "NAME", _P_CUE),
    # a short record number in brackets right after a name: "Warner, Brenda (9957-029)"
    (re.compile(r"[A-Za-z][ \t]*\((?P<v>(?!(?:19|20)\d\d[-–](?:19|20)?\d\d\))\d{3,5}[-–]\d{3,5})\)"), "ID", _P_FORMAT),
    # ages over 89 in digits: "Mr Mcpherson, 92, is …", "(103 y)", "96 yrs"
    (re.compile(r"(?<=[A-Za-z]),[ \t]*(?P<v>(?:9\d|1[01]\d))(?=[ \t]*[,)])"), "AGE", _P_FORMAT),
    (re.compile(r"(?i)(?<![\d.])(?P<v>(?:9\d|1[01]\d)[ \t]*(?:y|yo|yrs?|years?)\b)(?![ \t-]*(?:ago|later|after|before|since|of\b|duration))"), "AGE", _P_FORMAT),
]
# Facilities whose names end in an organisation word: "ZHANG MEDICAL GROUP", "Hancock Imaging",
# "Martinez, Joseph and Partners", "Johnson-Young Physiotherapy", "Mercy Swindon Health".
_ORG_TAIL = re.compile(
    r"(?i)\b(?:group|associates|partners|health|healthcare|imaging|physiotherapy|physio|radiology|orthopaedics|orthopedics|"
    r"clinic|clinics|practice|institute|cent(?:er|re)|hospital|hospitals|rehabilitation|rehab|campus|medical|surgery|surgical|"
    r"spine|diagnostics|pathology|laboratories|labs|hospice|infirmary|physicians|specialists|consultants|chiropractic|"
    r"nursing[ \t]+home|care[ \t]+home|residential[ \t]+home|lodge)\b"
)
_ORG_GENERIC = frozenset("""
the a an of and & for at department dept division unit ward service services general regional community university
county city state district national royal memorial children's childrens women's veterans st saint
spine spinal orthopaedic orthopedic medical health surgical surgery rehabilitation pain imaging radiology
physiotherapy physical therapy sports family primary care practice clinic clinics center centre hospital group
associates partners institute campus diagnostics pathology specialists consultants healthcare trauma neurosurgery
neurosurgical outpatient inpatient day emergency private public main north south east west central
""".split())


def _organisations(text: str) -> Iterator[_Cand]:
    for m in _ORG_TAIL.finditer(text):
        if not m.group()[0].isupper():
            continue
        # walk back over capitalised words, "&", "and", commas between names
        i = m.start()
        words = []
        for w in reversed(list(re.finditer(r"[A-Za-zÀ-ÿ'’\-]+|&", text[max(0, i - 80): i]))):
            tok = w.group()
            gap = text[max(0, i - 80) + w.end(): i] if not words else text[max(0, i - 80) + w.end(): words[-1][0]]
            if "\n" in gap or re.search(r"[.;:()]", gap) or re.search(r"[ \t]{2,}", gap):
                break
            if "," in gap and not re.match(r"(?i)partners|associates", m.group()):
                break  # "Springfield General Hospital, Department of …": a list, not one name
            if not (tok[0].isupper() or tok in ("&", "and", "of")):
                break
            words.append((max(0, i - 80) + w.start(), tok))
        if not words:
            continue
        words.reverse()
        while words and words[0][1].lower() in ("and", "&", "of", "the"):
            words.pop(0)
        if not words:
            continue
        line_lo = text.rfind("\n", 0, words[0][0]) + 1
        line_hi = text.find("\n", m.end())
        letterhead = not text[line_lo: words[0][0]].strip() and not text[m.end(): line_hi if line_hi >= 0 else None].strip()
        named = [t for _, t in words if t.lower() not in _ORG_GENERIC and not (t.isupper() and len(t) <= 3)
                 and (_classify(t.title() if t.isupper() else t) in (_STRONG, _WEAK, _COND) or t.isupper()
                      or t.lower() in _SURNAME_WORDS or (letterhead and _classify(t) == _WORD))]
        if not named:
            continue
        start = words[0][0]
        if text[start:m.end()].isupper() and all(_classify(t.title()) in (_SAFE, _WORD) for _, t in words):
            continue
        yield start, m.end(), "HOSPITAL", _P_FORMAT


_ADDRESS_LABELS = frozenset("zip zipcode postcode post code postal address addr home lives living at in of to from "
                            "residence resides street".split())
_PHONE_CUE_BEFORE = re.compile(r"(?i)(?:phone|tel|mobile|cell|call|fax|contact|reached|ring|pager|ph|\b[tfpmh])\b\.?[:]?[^\n]{0,25}$")
_FAX_BEFORE = re.compile(r"(?i)(?:fax|facsimile|\bf)\b\.?[ \t]*[:#]?[ \t]*(?:no\.?|number)?[ \t]*[:#]?[ \t]*$")
_SCORE_BEFORE = re.compile(r"(?i)(?:joa|vas|odi|ndi|nrs|score|scale|grade|sf-36|評分|评分)[^\n]{0,12}$")
_STREET_WORDS = frozenset("""
street st road rd avenue ave lane ln drive dr court ct place pl terrace crescent close way boulevard blvd highway hwy
parade square grove gardens garden row walk mews circle parkway pike route trail plaza vista key stairs pocket glens
crossroad crossing bridge view heights hill ridge park estate quay wharf esplanade
""".split())


# A cheap test on the lower-cased text before each pattern of _EXTRA runs (same order): most
# texts have no bed, plate or postcode at all, and a substring test costs far less than a scan.
def _words(*ws: str) -> frozenset[str]:
    return frozenset(w for group in ws for w in group.split())


# A cheap test on the lower-cased text before each pattern of _EXTRA runs (same order): a set
# of words that must occur (checked against the text's word set, computed once), or a pattern.
_EXTRA_TRIGGERS: list[frozenset[str] | re.Pattern] = [
    _words("bed beds bay cot room"),
    re.compile(r"regist|reg\.|plate"),
    _words("tax tfn insurance ni nhs sin ihi pps ppsn dl driver drivers driver's passport hosp hospital record ur urn chi "
           "specimen accession acc acc# lab sample id"),
    _words("member membership medicare insurer insurance account guarantor billing"),
    re.compile(r"\(\d\d"),
    re.compile(r"\d[ \t.\-]\d|\d\)[ \t.\-]?\d|\d{3}[ \t.\-]\d"),
    re.compile(r"\b(?:nsw|vic|qld|sa|wa|tas|nt|act)[ \t]+\d{4}"),
    re.compile(r"\[address\]"),
    re.compile(r"\[address\]"),
    _words("co county"),
    re.compile(r"[a-z)] from[ \t]"),
    re.compile(r"[acdefhknprtvwxy]\d\d[ \t]?[0-9a-z]{4}"),
    _words("bag gpo rmb rsd"),
    re.compile(r"(?m)\d[a-z]?[ \t]+[a-z]"),
    _words("lives living lived live resides residing reside moved relocated home returned returning returns return "
           "travelled traveled travel born grew town visiting"),
    re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?[ \t]+\d"),
    re.compile(r"\d[/.\-]\d{1,2}[/.\-]\d\d"),
    re.compile(r"\d[/.\-]\d{1,2}[/.\-]\d\d"),
    re.compile(r"(?:19|20)\d{6}"),
    re.compile(r"\d(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\d"),
    _words("name names known goes aka a.k.a called nickname nick preferred prefers"),
    re.compile(r"[a-z][ \t][\"“‘'][a-z]"),
    _words("prefers likes wishes"),
    re.compile(r"[—–-][ \t]*[a-z]\.?[ \t]?[a-z]"),
    _words("signed initials by"),
    re.compile(r"\((?:rn|en|rgn|hca|np|pa|cns|rm|sn|lpn|cna)\)"),
    re.compile(r"[a-z][ \t][\"“‘'][a-z]+[\"”’'][ \t]"),
    _words("dr mr mrs ms miss mx prof professor"),
    re.compile(r"(?:woman|man|patient|boy|girl|gentleman|lady|female|male|mother|father)[^()\n]{0,12}\("),
    _words("workstation terminal host ae sent device modality computer pc ip address"),
    _words("mr mrs ms miss mx dr"),
    re.compile(r"\([a-zà-þ]\."),
    re.compile(r"[a-z][ \t]*\(\d{3,5}[-–]\d"),
    re.compile(r"[a-z],[ \t]*(?:9\d|1[01]\d)[ \t]*[,)]"),
    re.compile(r"(?:9\d|1[01]\d)[ \t]*y"),
]
_WORD_SPLIT = re.compile(r"[a-z][a-z'.#]*")
_DIGIT = re.compile(r"\d")
# Rules whose value always holds a digit (numbers, dates, postcodes, street lines): skipped for
# text without one. Address rules are told apart by what their pattern requires.
_DIGIT_ADDRESS_MARKS = ("NSW|VIC", "[A-Z]\\d{2}", "locked", "(?m)(?<![")
_EXTRA_NEEDS_DIGIT = [
    ("\\d" in rx.pattern and kind in ("ID", "ACCOUNT", "PHONE", "DATE", "AGE", "IP"))
    or (kind == "ADDRESS" and any(mark in rx.pattern for mark in _DIGIT_ADDRESS_MARKS))
    for rx, kind, _ in _EXTRA
]


def _extra(text: str, low: str, literature: bool = False) -> Iterator[_Cand]:
    if len(text) < 3:
        return
    found = _WORD_SPLIT.findall(low)
    words = {w.rstrip(".'") for w in found} | set(found)
    has_digit = _DIGIT.search(text) is not None
    for (regex, base_kind, priority), trigger, needs_digit in zip(_EXTRA, _EXTRA_TRIGGERS, _EXTRA_NEEDS_DIGIT, strict=True):
        if (needs_digit and not has_digit) or (literature and base_kind == "NAME"):
            continue  # literature keeps its names: authors, historical figures, eponyms
        if trigger.isdisjoint(words) if isinstance(trigger, frozenset) else not trigger.search(low):
            continue
        for m in regex.finditer(text):
            v = m.group("v")
            kind = base_kind
            if not v or not v.strip():
                continue
            if regex.pattern.startswith("(?<=[a-z)] )from") and all(
                    _classify(w) in (_SAFE,) or w.lower() in _EN_STOPWORDS for w in v.split()):
                continue  # "from Radiology", "from Monday"
            if "[ADDRESS]" in regex.pattern.replace("\\", "") and not re.search(r"\d", v) and all(
                    _classify(w) == _SAFE or w.lower() in _ADDRESS_LABELS for w in re.findall(r"[A-Za-z'’\-]+", v)):
                continue  # "the Clinic, [ADDRESS]": a clinical word, not part of the address
            if kind in ("ID", "ACCOUNT") and (_LEVELISH.match(v) or re.fullmatch(r"(?:19|20)\d\d", v)):
                continue  # "Specimen: T12 biopsy", a year
            if kind == "PHONE":
                if not 9 <= sum(c.isdigit() for c in re.split(r"[ \t]?(?:x|ext)", v)[0]) <= 15:
                    continue
                if re.fullmatch(r"[1-9][\d \t]*", v) and not _PHONE_CUE_BEFORE.search(text, max(0, m.start() - 40), m.start()):
                    continue  # "120 130 1400": a list of numbers, not a national-format phone
                if _FAX_BEFORE.search(text, max(0, m.start() - 20), m.start("v")):
                    kind = "FAX"
            if kind == "DATE" and _SCORE_BEFORE.search(text, max(0, m.start() - 16), m.start()):
                continue  # "mJOA 12/17/18": scores, not a date
            if kind == "ADDRESS" and regex.pattern.startswith("(?m)(?<![") :
                # a street line needs a word that is not clinical ("3 Gail Vista", not "2 Lumbar Levels")
                line_words = re.findall(r"[A-Za-z'’\-]+", v)
                line_start = text.rfind("\n", 0, m.start()) + 1
                if re.match(r"[ \t]*(?:#|chapter|section|part|table|figure|fig\.|step|grade|type|stage)", text[line_start:m.start()], re.I):
                    continue  # a heading or a numbered label, not a street
                street = any(w.lower() in _STREET_WORDS for w in line_words)
                strong = any(_classify(w) in (_STRONG, _COND) for w in line_words)
                weak = any(_classify(w) == _WEAK for w in line_words)
                comma = text[m.end("v"): m.end("v") + 1] == ","
                if not (street or strong or (weak and comma)):
                    continue
            yield m.start("v"), m.end("v"), kind, priority


_SENTENCE_OPENERS = frozenset("however yes no thanks thank dear hello hi well so and but also then now today meanwhile "
                               "otherwise furthermore moreover additionally overall finally therefore thus".split())
_LAST_FIRST = re.compile(
    r"(?P<last>(?:(?:DE|LA|LE|VAN|VON|DER|DEN|DI|DA|DU|DEL|DOS|ST\.?|MAC|MC|O'|de|la|le|van|von|der|den|di|da|du|del|dos)[ \t]+)*"
    r"[A-ZÀ-Þ][A-Za-zÀ-ÿ'’\-]+),[ \t]+(?P<first>[A-ZÀ-Þ][A-Za-zÀ-ÿ'’\-]+)\b"
)


def _last_first(text: str) -> Iterator[_Cand]:
    """'Last, First' ("Smith, Stacey", "DE LA CRUZ, EMMA", "Bird-Johnson, Melanie"): a surname-shaped
    word, a comma, then a given name (a census given name, or a word no vocabulary explains)."""
    given_names = vocab.given_names()
    for m in _LAST_FIRST.finditer(text):
        if re.search(r"[A-Za-zÀ-ÿ][ \t]$", text[max(0, m.start() - 2): m.start()]):
            continue  # the comma ends a longer run ("17 Gavin Glen, Anthonyside"): not a 'Last, First' pair
        last, first = m.group("last"), m.group("first")
        first_t = first.title() if first.isupper() else first
        last_word = last.split()[-1]
        last_t = last_word.title() if last_word.isupper() else last_word
        first_cls, last_cls = _classify(first_t), _classify(last_t)
        field_start = re.search(r"(?:^|[\n:;(]|\s{2,})[ \t]*$", text[max(0, m.start() - 12): m.start()]) is not None
        first_is_given = first_t.lower() in given_names or first_cls == _STRONG
        if (first_cls == _SAFE and not (field_start and first_t.lower() in given_names)) or (last_cls == _SAFE and not (
                field_start and first_is_given and last_t.lower() not in _SENTENCE_OPENERS)):
            continue  # "However, John" is a sentence; "Name: WARD, SIMON", "O'Kieve, April" are names
        if not first_is_given:
            continue
        if last_cls == _WORD and first_cls == _WORD:
            continue
        yield m.start(), m.end(), "NAME", _P_CUE


def candidates(text: str, low: str, *, literature: bool = False) -> Iterator[_Cand]:
    """Every candidate of this layer in `text` (`low` is its lower-cased copy)."""
    yield from _extra(text, low, literature)
    if not literature and _ORG_TAIL.search(text):
        yield from _organisations(text)  # literature names institutions publicly
    if not literature:
        yield from _name_spans(text)
        if "," in text:
            yield from _last_first(text)
    yield from _id_numbers(text)
    yield from _dates(text, low)
    yield from _ages(text, low)
    yield from _addresses(text)
