"""Textbooks and guidelines: OCR markdown chapters -> passages and PCM-anchored figures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spinemed.corpus import pcm
from spinemed.schema import ImageRef, SourceIssue, SourceRecord, stable_id
from spinemed.text import HAN_RE

from .catalog import CatalogEntry, _as_entry, _rel
from .common import (
    _MAX_CHARS,
    _MIN_CHARS,
    DEFAULT_MAX_PARAGRAPH_CHARS,
    _check_image,
    _read_text,
    _record,
    _resolve_asset,
    _split_long,
    clean_ocr_text,
)

_TERMINAL = tuple(".!?。！？:：;；)）\"”|")


def read_markdown_document(path: str | Path, entry: CatalogEntry | dict[str, Any], *,
                           max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS) -> Iterator[SourceRecord | SourceIssue]:
    """Passages and figures of one OCR'd chapter or guideline.

    One `passage` per paragraph (short ones merged with the next of the same section, long ones
    split at sentence ends; a table stays one passage together with its "Table ..." title), with
    page markers dropped (a paragraph broken by a page marker is rejoined) and locator
    "p.57 / 3.2 Clinical presentation"; a paragraph longer than `max_chars` is also reported.  One `figure` per image anchored by PCM, locator
    "p.57 / Figure 3-2", context = the paragraphs citing it.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    raw, read_issues = _read_text(path, entry)
    yield from read_issues
    if raw is None:
        return
    yield from markdown_records(raw, path, entry, max_chars=max_chars)


def markdown_records(raw: str, path: Path, entry: CatalogEntry, *, max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS,
                     images: dict[str, bytes] | None = None) -> Iterator[SourceRecord | SourceIssue]:
    """The records of one chapter's markdown text (`read_markdown_document` without the file
    reading).  `images` maps the image references of `raw` to encoded bytes the caller made
    (the PDF reader's embedded figures); without it, references are files next to `path`."""
    rel = _rel(path, entry.root)
    blocks = pcm.split_blocks(raw)
    kinds = [pcm.block_kind(b) for b in blocks]
    title = next((pcm.heading_text(b) for b, k in zip(blocks, kinds, strict=True) if k == "heading"), entry.title)
    n_out = 0

    # Passages ---------------------------------------------------------------------------
    seen_ids: set[str] = set()
    section, page = title, None
    pending: tuple[str, int | None, str] | None = None  # (text, page, section) awaiting merge
    last_kind = ""

    def emit(text: str, pg: int | None, sec: str, is_table: bool) -> Iterator[SourceRecord | SourceIssue]:
        locator = f"p.{pg} / {sec}" if pg is not None else sec
        pieces = [text] if is_table and len(text) <= max_chars else _split_long(text, min(_MAX_CHARS, max_chars))
        if len(text) > max_chars:
            yield SourceIssue(rel, f"over-long paragraph at {locator!r} ({len(text)} characters, over "
                                   f"max_paragraph_chars {max_chars}): split at sentence ends into {len(pieces)} passages")
        for piece in pieces:
            rec = _record(entry, path, kind="passage", text=piece, locator=locator, title=title,
                          fields={"section": sec, "page": pg, "is_table": is_table})
            if rec.record_id in seen_ids:  # the same text twice in one section of one page
                rec.record_id = stable_id(rec.record_id, len(seen_ids))
            seen_ids.add(rec.record_id)
            yield rec

    paragraphs: list[tuple[str, int | None, str, bool]] = []  # text, page, section, is_table
    for b, k in zip(blocks, kinds, strict=True):
        if k == "page":
            page = pcm.page_number(b)
            last_kind = "page" if last_kind == "paragraph" else last_kind
            continue
        if k == "heading":
            section = pcm.heading_text(b)
            last_kind = k
            continue
        if k in ("image", "caption"):
            last_kind = k
            continue
        text = clean_ocr_text(b)
        if not text:
            continue
        is_table = k == "table"
        # A paragraph cut by a page break continues on the next page without a new sentence.
        if (last_kind == "page" and paragraphs and not paragraphs[-1][3] and not is_table
                and not paragraphs[-1][0].endswith(_TERMINAL)):
            prev = paragraphs[-1]
            joiner = "" if HAN_RE.match(text[0]) else " "
            if re.search(r"[a-z]-$", prev[0]) and text[:1].islower():
                merged = prev[0][:-1] + text
            else:
                merged = prev[0] + joiner + text
            paragraphs[-1] = (merged, prev[1], prev[2], False)
        elif (is_table and paragraphs and paragraphs[-1][2] == section and not paragraphs[-1][3]
              and re.match(r"^(?:\*\*)?(?:Table|表)\s*\d", paragraphs[-1][0])):
            prev = paragraphs[-1]
            paragraphs[-1] = (prev[0] + "\n" + text, prev[1], prev[2], True)
        else:
            paragraphs.append((text, page, section, is_table))
        last_kind = "paragraph"

    for text, pg, sec, is_table in paragraphs:
        if pending is not None:
            ptext, ppg, psec = pending
            if psec == sec and not is_table:
                text, pg = ptext + ("" if HAN_RE.match(text[:1]) else " ") + text, ppg
                pending = None
            else:
                yield from emit(ptext, ppg, psec, False)
                n_out += 1
                pending = None
        if not is_table and len(text) < _MIN_CHARS:
            pending = (text, pg, sec)
            continue
        yield from emit(text, pg, sec, is_table)
        n_out += 1
    if pending is not None:
        yield from emit(*pending, False)
        n_out += 1

    # Figures ----------------------------------------------------------------------------
    for anchor in pcm.anchor_figures(blocks):
        what = anchor.label.text if anchor.label else (anchor.image_path or anchor.caption[:40])
        if anchor.problem:
            detail = anchor.image_path or anchor.caption[:80]
            yield SourceIssue(rel, f"{anchor.problem}: {detail!r}")
            continue
        data = None
        if images is not None:  # bytes made by the caller, checked there
            img_rel, data, description = anchor.image_path, images.get(anchor.image_path), ""
            error = "" if data is not None else "missing"
        else:
            img_path = _resolve_asset(anchor.image_path, path.parent, entry.root)
            img_rel = _rel(img_path, entry.root)
            description, error = _check_image(img_path, entry.root)
        if error == "missing":
            yield SourceIssue(rel, f"figure {what!r} references missing image file {img_rel}")
            continue
        if error:
            yield SourceIssue(img_rel, f"figure {what!r} in {rel}: image {error}")
            continue
        pg = pcm.page_of_block(blocks, anchor.image_index)
        label_text = anchor.label.text if anchor.label else ""
        locator = " / ".join(x for x in (f"p.{pg}" if pg is not None else "", label_text or img_rel) if x)
        yield _record(
            entry, path, kind="figure", text=anchor.caption, locator=locator, title=title,
            id_parts=(anchor.caption, img_rel),
            images=[ImageRef(path="" if data is not None else img_rel, data=data, label=label_text,
                             caption=anchor.caption, description=description)],
            context=[clean_ocr_text(c) for c in anchor.citing],
            fields={"page": pg, "label_key": anchor.label.canonical if anchor.label else "", "alt": anchor.alt},
        )
        n_out += 1
    if n_out == 0:
        reason = "empty file" if not raw.strip() else "no paragraphs or figures (headings only)"
        yield SourceIssue(rel, reason)

