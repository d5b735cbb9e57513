"""Making untrusted text safe to show: table cells, Markdown messages, model names.

Everything a visitor uploads (model names, item ids quoted back in error messages) and
everything read from results files ends up in the page.  Two output paths exist:

* ``gr.Dataframe`` cells with datatype "str" are rendered as text, but a cell is also what a
  person copies into a spreadsheet: :func:`cell_text` removes control characters, folds
  whitespace, bounds the length and defuses spreadsheet formulas.
* ``gr.Markdown`` renders Markdown (and sanitised HTML): :func:`md_escape` makes any string
  render literally, so a crafted id cannot turn into a link, an image or a heading.

Submitted model names are restricted further by :func:`validate_model_name` (NFKC, visible
characters only) and :func:`check_name_free` (no name confusable with a row already shown, no
paper row's name).  Confusables come from Unicode's confusables.txt as shipped by
``confusable_homoglyphs``: a small pure-Python package whose data is generated from the Unicode
security tables (UTS #39), so an impersonation with a Cyrillic or Greek look-alike maps to the
Latin name it copies.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterable

from confusable_homoglyphs import confusables

__all__ = ["cell_text", "check_name_free", "md_code", "md_escape", "name_key", "name_skeleton", "validate_model_name"]

# C0/C1 controls, bidi overrides and zero-width characters: invisible, or able to reorder
# what a reader sees ("Trojan Source" style), never needed in a name or an id.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WS = re.compile(r"\s+")
# Bidi controls (embeddings, overrides, isolates, marks): they reorder what a reader sees.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters (category Lo) that render as nothing: Hangul fillers, Khmer inherent vowels, Braille blank,
# plus the variation selectors and the combining grapheme joiner (Mn, default-ignorable).
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u2800\u034f\u180b\u180c\u180d\u180e\u180f"
                     + "".join(map(chr, range(0xFE00, 0xFE10))))
# Separators folded away when comparing names: "GPT-4o", "gpt 4o" and "GPT_4o" are one name to a reader.
_NAME_SEPARATORS = re.compile(r"[\s._\-:+/@()\[\]]+")
# Characters with a meaning in (GitHub-flavoured) Markdown.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
# What a submitted model name may contain: letters/digits of any script and a few separators.
_NAME_OK = re.compile(r"^[\w][\w .:+()/@\-\[\]]*$")
# A leading =, +, -, @ makes Excel/LibreOffice treat a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _clean(value: object) -> str:
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFC", text)
    return _INVISIBLE.sub("", text)


def cell_text(value: object, max_chars: int = 120) -> str:
    """One-line, length-bounded text for a table cell (None -> "")."""
    text = _WS.sub(" ", _clean(value)).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def md_escape(value: object, max_chars: int | None = 300) -> str:
    """Text that renders literally inside ``gr.Markdown`` (no links, images, HTML or emphasis).

    HTML metacharacters become entities (shown as themselves) and Markdown punctuation is
    backslash-escaped; newlines are kept so multi-line item text stays readable.
    """
    text = _clean(value)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    text = html.escape(text, quote=False)  # quotes are plain text in Markdown
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object, max_chars: int = 120) -> str:
    """A short untrusted value (an id, a field name) as escaped text in quotes."""
    return "“" + md_escape(cell_text(value, max_chars), None) + "”"


def _char_problem(ch: str) -> str | None:
    if ch in _BIDI:
        return "a bidirectional-text control (it reorders what readers see)"
    if ch in _FILLERS:
        return "an invisible filler character"
    category = unicodedata.category(ch)
    if category == "Cf":
        return "an invisible format character"
    if category in ("Cc", "Co", "Cs", "Cn", "Zl", "Zp"):
        return "a control, private-use or unassigned character"
    return None


def validate_model_name(name: object, max_chars: int = 80) -> str:
    """The submitted model name, NFKC-normalised and trimmed; ValueError naming the problem otherwise.

    NFKC folds compatibility forms (full-width letters, ligatures, superscripts) into the name a
    reader sees, so "ＧＰＴ-4o" is stored as "GPT-4o".  Invisible, format, bidi-control and filler
    characters are refused by code point and position rather than removed: a name that needs them
    is an impersonation attempt, not a typo.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name: required (e.g. 'my-org/SpineLM-7B')")
    text = unicodedata.normalize("NFKC", name)
    # The typed name first, so the message names the character the submitter sent (NFKC maps
    # U+3164 HANGUL FILLER to U+1160, for one), then what NFKC made of it.
    for pos, ch in [*enumerate(name, start=1), *enumerate(text, start=1)]:
        what = _char_problem(ch)
        if what:
            label = unicodedata.name(ch, "unnamed")
            raise ValueError(f"model name: character {pos} is U+{ord(ch):04X} {label}, {what}; "
                             "use visible letters, digits and separators only")
    text = _WS.sub(" ", text).strip()
    if len(text) > max_chars:
        raise ValueError(f"model name: at most {max_chars} characters, got {len(text)}")
    if _INVISIBLE.search(text) or not _NAME_OK.match(text):
        raise ValueError(
            "model name: use letters, digits, spaces and . _ - : + / @ ( ) [ ] only, starting with a letter or digit"
        )
    return text


def name_key(name: str) -> str:
    """The identity of a name: NFKC, whitespace folded, case-folded ("GPT-4o" == "gpt-4o ")."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


@functools.lru_cache(maxsize=4096)
def _prototype(ch: str) -> str:
    # confusables.txt lists, for a character, the characters it can be mistaken for; a non-ASCII
    # character that looks like an ASCII letter or digit stands for that letter.
    for glyph in confusables.confusables_data.get(ch, ()):
        c = glyph.get("c", "")
        if len(c) == 1 and c.isascii() and c.isalnum():
            return c
    return ch


def name_skeleton(name: str) -> str:
    """What a name looks like: NFKC, case-folded, look-alikes mapped to ASCII, separators dropped.

    Two names with the same skeleton are confusable ("GPT-4o", "GPT-4о" with a Cyrillic o,
    "gpt 4o"): a reader of the leaderboard cannot tell them apart.
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    mapped = "".join(_prototype(ch) if not ch.isascii() else ch for ch in text)
    return _NAME_SEPARATORS.sub("", mapped.casefold())


def check_name_free(name: str, existing: Iterable[str] = (), reserved: Iterable[str] = ()) -> None:
    """Refuse a name that impersonates a row: ValueError naming the row it is confused with.

    `reserved` (the paper's rows) may not be used at all, not even exactly; a name of `existing`
    (rows already on the board) may be reused exactly (the same model submitting again, subject
    to the duplicate and rate rules) but not with a look-alike spelling.
    """
    # Reuse must be exact (after NFKC): "org/model-7b" next to "org/Model-7B" is a second, look-alike row.
    same, skeleton = _WS.sub(" ", unicodedata.normalize("NFKC", name)).strip(), name_skeleton(name)
    for other in reserved:
        if name_skeleton(other) == skeleton:
            raise ValueError(f"model name: {name!r} is reserved: it reads as the paper's row {other!r}; "
                             "submit under your own model's name")
    for other in existing:
        if _WS.sub(" ", unicodedata.normalize("NFKC", other)).strip() != same and name_skeleton(other) == skeleton:
            raise ValueError(f"model name: {name!r} is confusable with the existing row {other!r} "
                             "(look-alike letters, case or separators); use that exact name or a distinct one")
