"""Europe PMC case reports (JATS XML) -> case and figure records."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spinemed.corpus import pcm
from spinemed.schema import ImageRef, SourceIssue, SourceRecord

from .catalog import CatalogEntry, _as_entry, _rel
from .common import DEFAULT_MAX_PARAGRAPH_CHARS, _check_image, _language, _record, _resolve_asset, _split_long

_XLINK = "{http://www.w3.org/1999/xlink}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Real JATS nests a few levels (article/body/sec/sec/p/xref); a document nested deeper than this
# is hostile or broken, and would exhaust the recursion of the section walk.
MAX_XML_DEPTH = 100
_CC_URL_RE = re.compile(
    r"creativecommons\.org/(?:licenses/(?P<kind>[a-z-]+)/(?P<ver>[\d.]+)|publicdomain/zero/(?P<zero>[\d.]+))", re.I
)


def _norm_license(url: str, text: str) -> str:
    """A Creative Commons URL or license text as an SPDX-style id ("CC-BY-4.0", "CC0-1.0")."""
    m = _CC_URL_RE.search(url or "") or _CC_URL_RE.search(text or "")
    if m:
        if m.group("zero"):
            return f"CC0-{m.group('zero')}"
        return f"CC-{m.group('kind').upper()}-{m.group('ver')}"
    m = re.search(r"\bCC[ -]?(BY(?:[ -](?:NC|SA|ND))*)[ -]?(\d\.\d)", text or "", re.I)
    if m:
        return f"CC-{m.group(1).upper().replace(' ', '-')}-{m.group(2)}"
    return (text or url or "").strip()


def _depth(root: ET.Element) -> int:
    """The nesting depth of the tree, walked with a stack (no recursion)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        el, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in el)
    return deepest


def _text_of(el: ET.Element | None) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip() if el is not None else ""


def _abstract_text(abstract: ET.Element | None) -> str:
    """Abstract paragraphs, one per line; structured abstracts keep their headings ("Background: ...")."""
    if abstract is None:
        return ""
    secs = abstract.findall("sec")
    if not secs:
        return "\n".join(_text_of(p) for p in abstract.iter("p")) or _text_of(abstract)
    lines = []
    for sec in secs:
        head = _text_of(sec.find("title"))
        body = " ".join(_text_of(p) for p in sec.iter("p"))
        lines.append(f"{head}: {body}" if head else body)
    return "\n".join(line for line in lines if line.strip())


def read_jats(path: str | Path, entry: CatalogEntry | dict[str, Any], *,
              max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS) -> Iterator[SourceRecord | SourceIssue]:
    """One `case` record (title, abstract, sections) and one `figure` record per `<fig>`.

    source_id is the article's PMCID (the catalog's id when the XML has none); license and
    redistributable come from `<license>` (Creative Commons licenses are redistributable).
    Figure context = the paragraphs that `<xref ref-type="fig">` the figure or cite its label.
    A document nested deeper than MAX_XML_DEPTH is a defect (not read); a paragraph longer than
    `max_chars` is reported and split at sentence ends.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    try:
        root_el = ET.parse(path).getroot()
    except ET.ParseError as exc:
        yield SourceIssue(rel, f"malformed JATS XML, file truncated or corrupt ({exc})")
        return
    depth = _depth(root_el)
    if depth > MAX_XML_DEPTH:
        yield SourceIssue(rel, f"XML nested {depth} elements deep (more than {MAX_XML_DEPTH}); not read")
        return
    if root_el.tag != "article":
        yield SourceIssue(rel, f"not a JATS article (root element <{root_el.tag}>)")
        return
    meta = root_el.find("front/article-meta")
    if meta is None:
        yield SourceIssue(rel, "JATS article has no <front>/<article-meta>")
        return
    ids = {el.get("pub-id-type"): (el.text or "").strip() for el in meta.findall("article-id")}
    pmcid = ids.get("pmcid") or ids.get("pmc") or ""
    if pmcid and not pmcid.upper().startswith("PMC"):
        pmcid = f"PMC{pmcid}"
    source_id = pmcid or entry.source_id
    lic_el = meta.find("permissions/license")
    if lic_el is not None:
        license_id = _norm_license(lic_el.get(f"{_XLINK}href", ""), _text_of(lic_el))
        redistributable = license_id.upper().startswith(("CC-BY", "CC0"))
    else:
        license_id, redistributable = entry.license, entry.redistributable
    title = _text_of(meta.find("title-group/article-title")) or entry.title
    journal = _text_of(root_el.find("front/journal-meta/journal-title-group/journal-title"))
    year = _text_of(meta.find("pub-date/year"))
    keywords = [_text_of(k) for k in meta.findall("kwd-group/kwd")]
    abstract = _abstract_text(meta.find("abstract"))
    lang = root_el.get(_XML_LANG) or ""
    lang = lang[:2].lower() if lang[:2].lower() in ("en", "zh") else _language(entry, title + abstract)

    body = root_el.find("body")
    sections: dict[str, str] = {}
    paragraphs: list[tuple[ET.Element, str]] = []
    long_paragraphs: list[tuple[str, int, int]] = []  # section, characters, pieces

    def walk(sec: ET.Element, prefix: str) -> None:
        name = _text_of(sec.find("title")) or "Untitled section"
        full = f"{prefix} / {name}" if prefix else name
        texts = []
        for p in sec.findall("p"):
            t = _text_of(p)
            if len(t) > max_chars:
                pieces = _split_long(t, max_chars)
                long_paragraphs.append((full, len(t), len(pieces)))
                t = "\n".join(pieces)
            if t:
                texts.append(t)
                paragraphs.append((p, t))
        if texts:
            sections[full] = "\n".join(texts)
        for sub in sec.findall("sec"):
            walk(sub, full)

    if body is not None:
        for p in body.findall("p"):  # body text outside any <sec>
            t = _text_of(p)
            if len(t) > max_chars:
                pieces = _split_long(t, max_chars)
                long_paragraphs.append(("Body", len(t), len(pieces)))
                t = "\n".join(pieces)
            if t:
                sections.setdefault("Body", "")
                sections["Body"] = (sections["Body"] + "\n" + t).strip()
                paragraphs.append((p, t))
        for sec in body.findall("sec"):
            walk(sec, "")
    for sec_name, n_chars, n_pieces in long_paragraphs:
        yield SourceIssue(rel, f"over-long paragraph in {sec_name!r} ({n_chars} characters, over max_paragraph_chars "
                               f"{max_chars}): split at sentence ends into {n_pieces} paragraphs")
    if not sections and not abstract:
        yield SourceIssue(rel, "JATS article has neither abstract nor body text")
        return

    common = dict(source_id=source_id, license=license_id, redistributable=redistributable,
                  title=title, language=lang)
    figures: list[tuple[str, ImageRef, list[str]]] = []
    for fig in root_el.iter("fig"):
        fig_id = fig.get("id", "")
        label = _text_of(fig.find("label"))
        caption = _text_of(fig.find("caption"))
        graphic = fig.find("graphic")
        what = label or fig_id or "unlabelled figure"
        href = graphic.get(f"{_XLINK}href", "") if graphic is not None else ""
        if not href:
            yield SourceIssue(rel, f"figure {what!r} has no <graphic xlink:href>")
            continue
        img_path = _resolve_asset(href, path.parent, entry.root, exts=(".jpg", ".png", ".jpeg", ".tif"))
        img_rel = _rel(img_path, entry.root)
        description, error = _check_image(img_path, entry.root)
        if error == "missing":
            yield SourceIssue(rel, f"figure {what!r} references missing image file {img_rel}")
            continue
        if error:
            yield SourceIssue(img_rel, f"figure {what!r} in {rel}: image {error}")
            continue
        full_caption = f"{label} {caption}".strip()
        parsed = pcm.parse_figure_label(label)
        key = parsed.key if parsed else None
        context = [t for p, t in paragraphs
                   if any(fig_id and fig_id in x.get("rid", "").split()
                          for x in p.iter("xref") if x.get("ref-type") == "fig")
                   or (key is not None and key in pcm.find_figure_citations(t))]
        ref = ImageRef(path=img_rel, label=label, caption=caption, description=description)
        figures.append((what, ref, context))
        yield _record(entry, path, kind="figure", text=full_caption, locator=what,
                      id_parts=(caption, img_rel), images=[ref], context=context,
                      fields={"fig_id": fig_id, "doi": ids.get("doi", "")}, **common)

    text = "\n\n".join([title, abstract] + [f"{k}\n{v}" for k, v in sections.items()]).strip()
    yield _record(
        entry, path, kind="case", text=text, locator="full text", id_parts=(title, abstract),
        fields={"title": title, "abstract": abstract, "sections": sections, "doi": ids.get("doi", ""),
                "pmcid": pmcid, "journal": journal, "year": year, "keywords": keywords},
        images=[ref for _, ref, _ in figures], **common,
    )

