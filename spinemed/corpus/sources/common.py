"""What every source reader shares: language, OCR text clean-up, image checks, record making."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PIL import Image

from spinemed.schema import SUBFIELDS, SourceIssue, SourceRecord, stable_id
from spinemed.text import HAN_RE, detect_language

from .catalog import CatalogEntry, _rel

# Passage chunking, in characters: paragraphs shorter than _MIN_CHARS are merged with the next
# one of the same section; longer than _MAX_CHARS are split at sentence ends.
_MIN_CHARS = 80
_MAX_CHARS = 1200
# The longest paragraph the sources step passes on as read (builder key `max_paragraph_chars`):
# a longer one is reported and split at sentence ends, so one pasted blob never becomes one
# megabyte-sized record (and prompt).
DEFAULT_MAX_PARAGRAPH_CHARS = 8000
# Undecodable bytes reported one by one per file; the rest are counted in one more issue.
_MAX_BYTE_ISSUES = 10
_NL = b"\n"


_CJK_PUNCT = "，。、；：？！（）《》“”‘’【】"


def _is_cjk(ch: str) -> bool:
    return bool(HAN_RE.match(ch)) or ch in _CJK_PUNCT


def clean_ocr_text(text: str) -> str:
    """One OCR paragraph as clean running text.

    Joins words hyphenated across a line break ("degen-\\neration"), joins the other line breaks
    (with a space between Latin words, with nothing next to CJK characters) and squeezes spaces.
    Markdown tables keep their line structure.
    """
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) >= 2 and sum(ln.startswith("|") for ln in lines) >= len(lines) - 1:
        return "\n".join(re.sub(r"[ \t]+", " ", ln) for ln in lines)
    out = ""
    for ln in lines:
        if not out:
            out = ln
        elif re.search(r"[a-z]-$", out) and re.match(r"[a-z]", ln):
            out = out[:-1] + ln
        elif _is_cjk(out[-1]) or _is_cjk(ln[0]):  # Chinese puts no space at a line join
            out += ln
        else:
            out += " " + ln
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def image_description(img: Image.Image) -> str:
    """The one-line description an image carries (PNG `Description` text chunk, JPEG comment)."""
    info = img.info or {}
    for key in ("Description", "description", "comment"):
        value = info.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if value:
            return str(value).strip()
    return ""


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, symlinks resolved, lies inside `root` (the sources folder)."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False


def _check_image(path: Path, root: Path | None = None) -> tuple[str, str]:
    """(description, error): verifies the file decodes as an image; error is "" when it does.
    With `root`, an image outside the sources folder (a `../` path or a symlink) is not opened."""
    if root is not None and not _inside(path, root):
        return "", "outside the sources folder; not read"
    if not path.is_file():
        return "", "missing"
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            im.load()
            return image_description(im), ""
    except Exception as exc:  # PIL raises many types for corrupt files
        detail = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip()
        return "", f"not a valid image ({type(exc).__name__}{': ' + detail if detail else ''})"


def _resolve_asset(ref: str, base: Path, root: Path, exts: tuple[str, ...] = ()) -> Path:
    """Resolve an image reference written in a source file (relative to that file's folder,
    with `images/` and known extensions tried for JATS-style extensionless hrefs)."""
    ref = ref.strip()
    candidates = [base / ref, base / "images" / ref, root / ref]
    for c in list(candidates):
        candidates.extend(c.with_name(c.name + e) for e in exts)
    for c in candidates:
        if c.is_file() and _inside(c, root):
            return c
    return candidates[0]


def _language(entry: CatalogEntry, text: str) -> str:
    return detect_language(text) if entry.language == "auto" else entry.language


def _record(entry: CatalogEntry, path: Path, *, kind: str, text: str, locator: str, **kw: Any) -> SourceRecord:
    source_id = kw.pop("source_id", entry.source_id)
    id_parts = kw.pop("id_parts", (text,))
    return SourceRecord(
        record_id=stable_id(source_id, locator, kind, *id_parts),
        source_type=entry.source_type,
        source_id=source_id,
        kind=kind,
        language=kw.pop("language", None) or _language(entry, text),
        text=text,
        title=kw.pop("title", entry.title),
        locator=locator,
        license=kw.pop("license", entry.license),
        redistributable=kw.pop("redistributable", entry.redistributable),
        source_file=_rel(path, entry.root),
        subfield_hint=_subfield_hint(entry),
        **kw,
    )


def _subfield_hint(entry: CatalogEntry) -> str:
    hint = str(entry.extra.get("subfield") or "")
    if hint and hint not in SUBFIELDS:
        raise ValueError(f"catalog entry {entry.path!r}: unknown subfield {hint!r}")
    return hint


def _read_text(path: Path, entry: CatalogEntry) -> tuple[str | None, list[SourceIssue]]:
    """The file as text and its defects.  Bytes that are not UTF-8 become U+FFFD and are each
    reported with line and byte offset; the rest of the file is kept."""
    rel = _rel(path, entry.root)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [SourceIssue(rel, f"cannot read ({exc.strerror})")]
    parts: list[str] = []
    bad: list[tuple[int, str]] = []
    view, pos = memoryview(data), 0
    while True:
        try:
            parts.append(str(view[pos:], "utf-8"))
            break
        except UnicodeDecodeError as exc:
            parts.append(str(view[pos:pos + exc.start], "utf-8"))
            bad.append((pos + exc.start, exc.reason))
            parts.append("\ufffd")
            pos += exc.end
    issues = [SourceIssue(rel, f"not UTF-8 at line {data.count(_NL, 0, off) + 1}, byte {off} ({reason}): "
                               "replaced by U+FFFD, rest of the file kept")
              for off, reason in bad[:_MAX_BYTE_ISSUES]]
    if len(bad) > _MAX_BYTE_ISSUES:
        issues.append(SourceIssue(rel, f"{len(bad) - _MAX_BYTE_ISSUES} more bytes that are not UTF-8 replaced by U+FFFD"))
    return "".join(parts), issues


_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])|(?<=[。！？；])")


def _split_long(text: str, limit: int = _MAX_CHARS) -> list[str]:
    """Split at sentence ends (EN ". " and ZH "。") into pieces of at most `limit` characters.
    A sentence longer than `limit` is cut at spaces (or anywhere, for a run without them), so no
    piece is ever longer than `limit`."""
    if len(text) <= limit:
        return [text]
    sentences: list[str] = []
    for s in _SENTENCE_END_RE.split(text):
        while len(s) > limit:
            cut = s.rfind(" ", limit // 2, limit + 1)
            cut = cut if cut > 0 else limit
            sentences.append(s[:cut])
            s = s[cut:].lstrip()
        sentences.append(s)
    pieces, cur = [], ""
    for s in sentences:
        if cur and len(cur) + len(s) + 1 > limit:
            pieces.append(cur.strip())
            cur = ""
        cur = f"{cur} {s}" if cur and not HAN_RE.match(s[:1] or " ") else cur + s
    if cur.strip():
        pieces.append(cur.strip())
    return [p for p in pieces if p]
