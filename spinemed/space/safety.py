"""Making untrusted text safe to show: table cells, Markdown messages, model names.

Everything a visitor uploads (model names, item ids quoted back in error messages) and
everything read from results files ends up in the page.  Two output paths exist:

* ``gr.Dataframe`` cells with datatype "str" are rendered as text, but a cell is also what a
  person copies into a spreadsheet: :func:`cell_text` removes control characters, folds
  whitespace, bounds the length and defuses spreadsheet formulas.
* ``gr.Markdown`` renders Markdown (and sanitised HTML): :func:`md_escape` makes any string
  render literally, so a crafted id cannot turn into a link, an image or a heading.

Submitted model names are restricted further by :func:`validate_model_name`.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["cell_text", "md_code", "md_escape", "validate_model_name"]

# C0/C1 controls, bidi overrides and zero-width characters: invisible, or able to reorder
# what a reader sees ("Trojan Source" style), never needed in a name or an id.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WS = re.compile(r"\s+")
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


def validate_model_name(name: object, max_chars: int = 80) -> str:
    """The submitted model name, trimmed; ValueError naming the problem otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name: required (e.g. 'my-org/SpineLM-7B')")
    text = _WS.sub(" ", unicodedata.normalize("NFC", name)).strip()
    if len(text) > max_chars:
        raise ValueError(f"model name: at most {max_chars} characters, got {len(text)}")
    if _INVISIBLE.search(text) or not _NAME_OK.match(text):
        raise ValueError(
            "model name: use letters, digits, spaces and . _ - : + / @ ( ) [ ] only, starting with a letter or digit"
        )
    return text
