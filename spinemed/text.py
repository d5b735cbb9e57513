"""Text foundations shared by every part: CJK ranges, language detection, normalisation, tokens.

One definition of each, so the corpus validator, the source readers, the Space chat, the
de-identification rules and dedup/decontamination read text the same way.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CJK_UNIFIED",
    "CJK_EXT_A",
    "CJK_COMPAT",
    "HAN",
    "NOSPACE_SCRIPTS",
    "CJK_TOKEN_SCRIPTS",
    "HAN_RE",
    "is_han",
    "ZH_SHARE",
    "EN_MAX_SHARE",
    "cjk_share",
    "detect_language",
    "language_mix",
    "normalize_text",
    "tokens_of",
]

# --- character ranges (regex character-class bodies) -----------------------------------
CJK_UNIFIED = "\u4e00-\u9fff"  # the URO block: every common Chinese character
CJK_EXT_A = "\u3400-\u4dbf"
CJK_COMPAT = "\uf900-\ufaff"
HAN = CJK_EXT_A + CJK_UNIFIED + CJK_COMPAT
# Scripts written without spaces: a space next to one of these is formatting (OCR, pangu
# spacing), not content.
NOSPACE_SCRIPTS = (
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005\u3006\u3007\u3021-\u3029\u3038-\u303b"  # iteration marks, Hangzhou numerals
    "\u3040-\u30ff\u31f0-\u31ff"  # hiragana, katakana (+ phonetic extensions)
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    + HAN  # Han: Ext A, URO, compatibility
    + "\U00020000-\U0003134f"  # Han: Ext B-G
)
# Every character of these scripts is its own token; hangul syllables are included (they are
# close to one morpheme each) though Korean text keeps its spaces in normalize_text.
CJK_TOKEN_SCRIPTS = NOSPACE_SCRIPTS + "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"

HAN_RE = re.compile(f"[{HAN}]")
# Han and the CJK characters set next to it without a space: CJK symbols and punctuation,
# kana, bopomofo, the Han blocks, full-width forms, and the curly quotes Chinese text uses.
_JOINS_HAN_RE = re.compile(f"[\u3000-\u9fff{CJK_COMPAT}\uff00-\uffef\u201c\u201d\U00020000-\U0003134f]")


def is_han(ch: str) -> bool:
    """Whether `ch` is Han or CJK/full-width punctuation: two such characters side by side are set
    without a space (used where OCR and PDF text rebuild lines from separate glyphs or words)."""
    return bool(ch) and _JOINS_HAN_RE.fullmatch(ch[0]) is not None
_LATIN_RE = re.compile(r"[A-Za-z]")
_PLACEHOLDER_RE = re.compile(r"\[[A-Z>0-9]+\]")  # de-identification placeholders ([NAME], [DATE>89] ...)

# --- language ---------------------------------------------------------------------------
# Latin inside Chinese text (L4-L5, MRI, HLA-B27) is normal, so the bar for zh is low (a fifth
# of the letters) and the bar for en is "almost no Han at all".
ZH_SHARE = 0.2
EN_MAX_SHARE = 0.02


def cjk_share(text: str) -> float | None:
    """Han characters / (Han + Latin letters), placeholders ignored; None when there are no letters."""
    text = _PLACEHOLDER_RE.sub("", text)
    han, latin = len(HAN_RE.findall(text)), len(_LATIN_RE.findall(text))
    return None if han + latin == 0 else han / (han + latin)


def detect_language(text: str, default: str = "en") -> str:
    """'zh' when Han characters make up at least ZH_SHARE of the letters, else 'en'
    (`default` when the text has no letters)."""
    share = cjk_share(text)
    if share is None:
        return default
    return "zh" if share >= ZH_SHARE else "en"


def language_mix(text: str) -> str | None:
    """'zh', 'en', or 'mixed' (between EN_MAX_SHARE and ZH_SHARE); None without letters.

    The validator's stricter reading: a row declared 'en' must have almost no Han."""
    share = cjk_share(text)
    if share is None:
        return None
    if share >= ZH_SHARE:
        return "zh"
    if share <= EN_MAX_SHARE:
        return "en"
    return "mixed"


# --- normalisation and tokens (the dedup hash scheme reads text through these) ----------
_TOKEN_RE = re.compile(f"[{CJK_TOKEN_SCRIPTS}]|[^\\W_{CJK_TOKEN_SCRIPTS}]+")
_SPACE_NEAR_CJK_RE = re.compile(f"(?<=[{NOSPACE_SCRIPTS}]) | (?=[{NOSPACE_SCRIPTS}])")


def _punctuation_table() -> dict[int, str]:
    """str.translate table mapping every Unicode punctuation (P*) code point to a space.

    Scans planes 0-1 once at import (~15 ms; all punctuation lives there, planes 2-3 are
    ideographs), so normalisation does not depend on a hand-written list.  ``translate`` is
    ~30x faster than a regex class of the same characters on ASCII text.
    """
    return {cp: " " for cp in range(0x20000) if unicodedata.category(chr(cp))[0] == "P"}


_PUNCT_TABLE = _punctuation_table()


def normalize_text(text: str) -> str:
    """Canonical form for duplicate and overlap detection.

    NFKC (full-width -> ASCII, compatibility ideographs -> unified), casefold, Unicode
    punctuation replaced by a space, whitespace collapsed to single spaces, and spaces next to
    Han/kana characters removed (Chinese and Japanese do not use them).  Symbols such as
    ``±``, ``≥``, ``°``, ``+`` and ``<`` are kept: they carry meaning in clinical text (``%`` and
    ``/`` are Unicode punctuation and go).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.translate(_PUNCT_TABLE).split())
    return text if text.isascii() else _SPACE_NEAR_CJK_RE.sub("", text)


def tokens_of(normalized: str) -> list[str]:
    """CJK-aware tokens of `normalize_text` output: each CJK character alone, Latin/digit runs as
    words (dedup, decontamination and the retrieval baseline all read text this way)."""
    return _TOKEN_RE.findall(normalized)
