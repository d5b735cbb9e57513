"""Word lists for the recall-first scan, loaded once from ``spinemed/deid/data/``.

* ``en_words``: lower-case words of SCOWL's American + British size-60 lists (Debian's
  wamerican/wbritish; SCOWL's permissive licence, see data/NOTICE).  A capitalised token
  whose lower-case form is here is an ordinary English word.
* ``surnames`` / ``given_names``: the US Census 1990 name lists (public domain).  A token that
  is a name and also an ordinary word ("Baker", "Grace", "Young") is ambiguous and needs context.
* ``clinical``: eponyms, signs, scores, drugs, devices and medical words (clinical_safelist.txt).
  Entries that are also common surnames ("Smith", "Thomas", "Brown") are safe only where the
  text uses them as eponyms: before a clinical head noun ("Thomas test") or in a compound.

None of these lists were derived from the generators the tests and benchmark use (Faker).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources

_DATA = "spinemed.deid.data"

# Words that follow an eponym ("Chance fracture", "Cobb angle", "Smith-Petersen osteotomy").
EPONYM_HEADS = frozenset("""
sign signs test tests syndrome syndromes disease diseases classification classifications grade grading grades
score scores scale scales stage staging stages type types fracture fractures frame table osteotomy osteotomies
cyst cysts approach approaches angle angles line lines node nodes procedure procedures technique techniques brace
braces criteria maneuver manoeuvre reflex reflexes phenomenon retractor retractors rod rods screw screws plate plates
hook hooks wire wires pin pins clamp tongs fixator fixation system systems collar orthosis jacket cast view views
method ratio lesion lesions palsy paralysis tumor tumour tumors tumours sarcoma lymphoma body bodies space canal
foramen ligament changes change endplate index questionnaire disability instrument graft grafts needle needles
maneuvre point points position positioning incision incisions exposure construct instrumentation classification
deformity kyphosis fusion arthrodesis laminoplasty decompression artery vein nerve nucleus area zone sarcomas
traction test's positive negative equivocal survival curve curves estimate estimator analysis
surgery surgeries nodule nodules operation repair reconstruction release block flap score
""".split())


def _lines(name: str) -> list[str]:
    path = resources.files(_DATA).joinpath(name)
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return [ln.strip() for ln in raw.decode("utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


@lru_cache(maxsize=1)
def en_words() -> frozenset[str]:
    return frozenset(_lines("en_words.txt.gz"))


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Census surnames, lower-case (all 88,799: rare surnames are the ones a vocabulary misses)."""
    return frozenset(s.lower() for s in _lines("us_census_surnames.txt.gz"))


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    return frozenset(s.lower() for s in _lines("us_census_given_names.txt.gz"))


@lru_cache(maxsize=1)
def clinical() -> tuple[frozenset[str], frozenset[str]]:
    """(always safe, safe only as an eponym), lower-case single words."""
    words: set[str] = set()
    eponyms: set[str] = set()
    section = ""
    path = resources.files(_DATA).joinpath("clinical_safelist.txt")
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("# --"):
            section = line
            continue
        if not line.strip() or line.startswith("#"):
            continue
        for w in line.split():
            parts = {w.lower(), *(p for p in re.split(r"[-'’]", w.lower()) if len(p) > 1)}
            words |= parts
            if not any(k in section for k in ("nationalities", "states", "documents", "institutions")):
                eponyms |= parts  # eponyms, devices, drugs: safe as such, a surname otherwise
    common_names = {s.lower() for s in _lines("us_census_surnames.txt.gz")[:30000]} | given_names()
    # A clinical word that is also a common surname ("Andrews" frame, "Jackson" table) is safe only
    # as an eponym; nationalities, states, document and institution words are always safe.
    conditional = frozenset(w for w in eponyms if w in common_names and w not in _UNIQUE_EPONYMS)
    return frozenset(words - conditional), conditional


# Eponyms that are census surnames but so tied to medicine that a bare mention is the eponym.
_UNIQUE_EPONYMS = frozenset("""
cobb chance modic risser frankel babinski hoffmann hoffman spurling lhermitte oswestry scheuermann schmorl denis
meyerding pfirrmann kummell bertolotti tarlov wiltse harrington luque romberg trendelenburg charcot paget pott
parkinson alzheimer crohn cushing marfan hodgkin foley doppler kerrison jamshidi lenke nurick karnofsky tokuhashi
tomita bilsky enneking kellgren schwab roussouly magerl gertzbein tinel phalen valsalva achilles lisfranc
asia klippel feil ehlers danlos castleman burkitt ewing kocher kirschner steinmann holter glasgow minerva osgood
schlatter salter legg maffucci haglund horner coombs reiter sjogren wegener kawasaki pfannenstiel womac hoos dash
ota tse bun peek cage brace drain root hand still speed spina gram oxford boston denver everest trinity grafton
""".split())
