"""Source adapters: raw spinal-medicine sources -> `SourceRecord`s (stage 1 of the build).

`iter_sources(root)` reads `root/catalog.yaml` and streams records from every catalogued file or
folder, dispatching on `source_type`:

| source_type              | files                                  | adapter                  | kinds            |
| ------------------------ | -------------------------------------- | ------------------------ | ---------------- |
| textbook, guideline      | OCR markdown (`*.md`)                  | `read_markdown_document` | passage, figure  |
| question_bank            | `*.csv`, `*.json`, `*.jsonl`           | `read_question_bank`     | mcq              |
| case_report              | Europe PMC JATS XML (`*.xml`)          | `read_jats`              | case, figure     |
| inpatient                | one case per `*.json` (or `*.jsonl`)   | `read_inpatient`         | case             |
| open_dataset             | VerSe layout folder (NIfTI + centroids) | `read_verse`             | volume           |

Provenance (source id, license, redistributable) comes from the catalog; JATS files override
the source id and license with their own `<article-id>` / `<license>`.  Every defect (broken or
missing image, malformed XML, empty chapter, uncatalogued file, caption/image mismatch, ...) is
yielded as a `SourceIssue` naming the file and the reason, and reading goes on.  Identifiers in
inpatient records are left in place, and records carry real relative file names, case ids and
imaging subjects: de-identification, including the opaque provenance ids
(`spinemed.deid.provenance.deidentify_provenance`), is the next stage's job.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from spinemed.corpus import pcm
from spinemed.schema import SOURCE_TYPES, SUBFIELDS, ImageRef, SourceIssue, SourceRecord, stable_id

__all__ = [
    "CatalogEntry",
    "load_catalog",
    "iter_sources",
    "read_markdown_document",
    "read_question_bank",
    "read_jats",
    "read_inpatient",
    "read_verse",
    "clean_ocr_text",
    "detect_language",
    "image_description",
    "VERSE_LABELS",
]

CATALOG_FILE = "catalog.yaml"
# Files under the sources root that are sources (must be catalogued); images are assets of them.
_SOURCE_SUFFIXES = (".md", ".xml", ".csv", ".json", ".jsonl", ".nii", ".nii.gz")
_NOT_SOURCES = {CATALOG_FILE, "README.md"}
_REQUIRED = ("path", "source_type", "source_id", "title", "language", "license", "redistributable")

# Passage chunking, in characters: paragraphs shorter than _MIN_CHARS are merged with the next
# one of the same section; longer than _MAX_CHARS are split at sentence ends.
_MIN_CHARS = 80
_MAX_CHARS = 1200


# --------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------


@dataclass
class CatalogEntry:
    """One catalogued source file or folder, with the provenance its records carry.

    `path` is relative to `root` (the folder holding catalog.yaml).  `language` is "en", "zh"
    or "auto" (decided per record from its text).  `dataset_id` names an open dataset.
    """

    path: str
    source_type: str
    source_id: str
    title: str
    language: str
    license: str
    redistributable: bool
    dataset_id: str = ""
    root: Path = field(default_factory=Path)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], root: str | Path | None = None) -> CatalogEntry:
        """Build from a catalog mapping; raises ValueError naming the missing/invalid field."""
        if not isinstance(d, dict):
            raise ValueError(f"catalog entry must be a mapping, got {type(d).__name__}")
        missing = [k for k in _REQUIRED if k not in d or d[k] in (None, "")]
        if missing:
            raise ValueError(f"catalog entry {d.get('path', '?')!r} lacks field(s): {', '.join(missing)}")
        if d["source_type"] not in SOURCE_TYPES:
            raise ValueError(f"catalog entry {d['path']!r}: source_type {d['source_type']!r} not in {SOURCE_TYPES}")
        if d["language"] not in ("en", "zh", "auto"):
            raise ValueError(f"catalog entry {d['path']!r}: language {d['language']!r} must be en, zh or auto")
        if not isinstance(d["redistributable"], bool):
            raise ValueError(f"catalog entry {d['path']!r}: redistributable must be true or false")
        known = set(_REQUIRED) | {"dataset_id", "root"}
        return cls(
            path=str(d["path"]).strip("/"),
            source_type=d["source_type"],
            source_id=str(d["source_id"]),
            title=str(d["title"]),
            language=d["language"],
            license=str(d["license"]),
            redistributable=d["redistributable"],
            dataset_id=str(d.get("dataset_id") or ""),
            root=Path(root if root is not None else d.get("root") or "."),
            extra={k: v for k, v in d.items() if k not in known},
        )


def _as_entry(entry: CatalogEntry | dict[str, Any], path: Path) -> CatalogEntry:
    """Accept a CatalogEntry or a plain mapping, so adapters are usable on their own."""
    if isinstance(entry, CatalogEntry):
        return entry
    d = dict(entry)
    root = d.get("root") or _find_root(path)
    d.setdefault("path", _rel(path, Path(root)))
    return CatalogEntry.from_dict(d, root=root)


def _find_root(path: Path) -> Path:
    for parent in [path if path.is_dir() else path.parent, *path.resolve().parents]:
        if (parent / CATALOG_FILE).is_file():
            return parent
    return path if path.is_dir() else path.parent


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_catalog(root: str | Path) -> tuple[list[CatalogEntry], list[SourceIssue]]:
    """Parse catalog.yaml into entries sorted by path, and the issues with invalid entries."""
    root = Path(root)
    cat_path = root / CATALOG_FILE
    if not cat_path.is_file():
        raise FileNotFoundError(f"no {CATALOG_FILE} in {root}")
    try:
        data = yaml.safe_load(cat_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{cat_path}: invalid YAML ({exc})") from exc
    raw = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ValueError(f"{cat_path}: expected a top-level 'sources:' list")
    entries, issues, seen = [], [], set()
    for i, d in enumerate(raw):
        try:
            e = CatalogEntry.from_dict(d, root=root)
        except ValueError as exc:
            issues.append(SourceIssue(CATALOG_FILE, f"entry {i}: {exc}"))
            continue
        if e.path in seen:
            issues.append(SourceIssue(CATALOG_FILE, f"entry {i}: path {e.path!r} catalogued twice"))
            continue
        seen.add(e.path)
        entries.append(e)
    return sorted(entries, key=lambda e: e.path), issues


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def iter_sources(root: str | Path) -> Iterator[SourceRecord | SourceIssue]:
    """Stream every record (and every defect as a SourceIssue) of the sources under `root`.

    Entries are read in sorted path order, files inside a folder entry in sorted order, so two
    runs yield the same sequence.  Source files under `root` that no entry covers are reported
    at the end, not read.
    """
    root = Path(root)
    entries, issues = load_catalog(root)
    yield from issues
    covered: list[Path] = []
    for entry in entries:
        target = root / entry.path
        covered.append(target.resolve())
        if not target.exists():
            yield SourceIssue(entry.path, "catalogued but missing on disk")
            continue
        yield from _dispatch(target, entry)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name in _NOT_SOURCES or not path.name.endswith(_SOURCE_SUFFIXES):
            continue
        rp = path.resolve()
        if not any(rp == c or c in rp.parents for c in covered):
            yield SourceIssue(_rel(path, root), "not listed in catalog.yaml; not read")


_ADAPTER_SUFFIXES = {
    "textbook": (".md",),
    "guideline": (".md",),
    "question_bank": (".csv", ".json", ".jsonl"),
    "case_report": (".xml",),
    "inpatient": (".json", ".jsonl"),
}


def _dispatch(target: Path, entry: CatalogEntry) -> Iterator[SourceRecord | SourceIssue]:
    if entry.source_type == "open_dataset":
        if not target.is_dir():
            yield SourceIssue(entry.path, "open_dataset entries must be folders (VerSe layout)")
            return
        yield from read_verse(target, entry)
        return
    reader = {
        "textbook": read_markdown_document,
        "guideline": read_markdown_document,
        "question_bank": read_question_bank,
        "case_report": read_jats,
        "inpatient": read_inpatient,
    }[entry.source_type]
    suffixes = _ADAPTER_SUFFIXES[entry.source_type]
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        if not files:
            yield SourceIssue(entry.path, f"folder has no {'/'.join(suffixes)} files")
        for f in files:
            yield from reader(f, entry)
    elif target.name.endswith(suffixes):
        yield from reader(target, entry)
    else:
        yield SourceIssue(entry.path, f"{entry.source_type} sources must be {'/'.join(suffixes)} files")


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------

_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_CJK_PUNCT = "，。、；：？！（）《》“”‘’【】"


def _is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch)) or ch in _CJK_PUNCT


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up at least a fifth of the letters, else 'en'."""
    cjk = len(_CJK_RE.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk * 5 >= cjk + latin else "en"


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


def _check_image(path: Path) -> tuple[str, str]:
    """(description, error): verifies the file decodes as an image; error is "" when it does."""
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
        if c.is_file():
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


def _read_text(path: Path, entry: CatalogEntry) -> tuple[str | None, SourceIssue | None]:
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as exc:
        return None, SourceIssue(_rel(path, entry.root), f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return None, SourceIssue(_rel(path, entry.root), f"cannot read ({exc.strerror})")


def _split_long(text: str, limit: int = _MAX_CHARS) -> list[str]:
    """Split at sentence ends (EN ". " and ZH "。") into pieces of at most ~limit characters."""
    if len(text) <= limit:
        return [text]
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z(])|(?<=[。！？；])", text)
    pieces, cur = [], ""
    for s in sentences:
        if cur and len(cur) + len(s) + 1 > limit:
            pieces.append(cur.strip())
            cur = ""
        cur = f"{cur} {s}" if cur and not _CJK_RE.match(s[:1] or " ") else cur + s
    if cur.strip():
        pieces.append(cur.strip())
    return pieces


# --------------------------------------------------------------------------------------
# Textbooks and guidelines (OCR markdown)
# --------------------------------------------------------------------------------------

_TERMINAL = tuple(".!?。！？:：;；)）\"”|")


def read_markdown_document(path: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """Passages and figures of one OCR'd chapter or guideline.

    One `passage` per paragraph (short ones merged with the next of the same section, long ones
    split at sentence ends; a table stays one passage together with its "Table ..." title), with
    page markers dropped (a paragraph broken by a page marker is rejoined) and locator
    "p.57 / 3.2 Clinical presentation".  One `figure` per image anchored by PCM, locator
    "p.57 / Figure 3-2", context = the paragraphs citing it.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    raw, issue = _read_text(path, entry)
    if issue:
        yield issue
        return
    blocks = pcm.split_blocks(raw)
    kinds = [pcm.block_kind(b) for b in blocks]
    title = next((pcm.heading_text(b) for b, k in zip(blocks, kinds, strict=True) if k == "heading"), entry.title)
    n_out = 0

    # Passages ---------------------------------------------------------------------------
    seen_ids: set[str] = set()
    section, page = title, None
    pending: tuple[str, int | None, str] | None = None  # (text, page, section) awaiting merge
    last_kind = ""

    def emit(text: str, pg: int | None, sec: str, is_table: bool) -> Iterator[SourceRecord]:
        for piece in ([text] if is_table else _split_long(text)):
            locator = f"p.{pg} / {sec}" if pg is not None else sec
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
            joiner = "" if _CJK_RE.match(text[0]) else " "
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
                text, pg = ptext + ("" if _CJK_RE.match(text[:1]) else " ") + text, ppg
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
        img_path = _resolve_asset(anchor.image_path, path.parent, entry.root)
        img_rel = _rel(img_path, entry.root)
        description, error = _check_image(img_path)
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
            images=[ImageRef(path=img_rel, label=label_text, caption=anchor.caption, description=description)],
            context=[clean_ocr_text(c) for c in anchor.citing],
            fields={"page": pg, "label_key": anchor.label.canonical if anchor.label else "", "alt": anchor.alt},
        )
        n_out += 1
    if n_out == 0:
        reason = "empty file" if not raw.strip() else "no paragraphs or figures (headings only)"
        yield SourceIssue(rel, reason)


# --------------------------------------------------------------------------------------
# Question banks
# --------------------------------------------------------------------------------------

_LETTERS = "ABCDEFGH"


def read_question_bank(path: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """`mcq` records from a question bank.

    CSV columns: id, question, A..E (options; empty cells are absent options), answer,
    explanation, image.  JSON / JSONL objects: id, question, options ({letter: text} or a list),
    answer ("B", "AC", "A,C" or a list), explanation, image (path or list of paths).
    The answer is normalised to sorted letters ("AC").  Bad items are reported and skipped.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    raw, issue = _read_text(path, entry)
    if issue:
        yield issue
        return
    try:
        if path.suffix == ".csv":
            items = list(csv.DictReader(io.StringIO(raw)))
        elif path.suffix == ".jsonl":
            items = [json.loads(ln) for ln in raw.splitlines() if ln.strip()]
        else:
            items = json.loads(raw)
            items = items.get("items", items) if isinstance(items, dict) else items
    except (json.JSONDecodeError, csv.Error) as exc:
        yield SourceIssue(rel, f"cannot parse question bank ({exc})")
        return
    if not isinstance(items, list) or not items:
        yield SourceIssue(rel, "question bank holds no items")
        return
    for n, item in enumerate(items, 1):
        item_id = str((item or {}).get("id") or f"#{n}") if isinstance(item, dict) else f"#{n}"
        try:
            rec = _mcq_record(item, item_id, path, entry)
        except ValueError as exc:
            yield SourceIssue(rel, f"item {item_id}: {exc}")
            continue
        yield rec


def _mcq_record(item: Any, item_id: str, path: Path, entry: CatalogEntry) -> SourceRecord:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    question = str(item.get("question") or "").strip()
    if not question:
        raise ValueError("empty question")
    opts = item.get("options")
    if opts is None:  # CSV layout: one column per letter
        opts = {L: item.get(L) for L in _LETTERS if item.get(L) not in (None, "")}
    elif isinstance(opts, list):
        if len(opts) > len(_LETTERS):
            raise ValueError(f"at most {len(_LETTERS)} options, has {len(opts)}")
        opts = dict(zip(_LETTERS, opts, strict=False))
    if not isinstance(opts, dict):
        raise ValueError("options must be a mapping or a list")
    options = {str(k).strip().upper(): str(v).strip() for k, v in opts.items() if str(v or "").strip()}
    if len(options) < 2:
        raise ValueError(f"needs at least 2 options, has {len(options)}")
    ans = item.get("answer")
    letters = "".join(ans) if isinstance(ans, list) else re.sub(r"[\s,，、;/]+", "", str(ans or ""))
    answer = "".join(sorted(set(letters.upper())))
    if not answer:
        raise ValueError("no answer")
    if not set(answer) <= set(options):
        raise ValueError(f"answer {answer!r} is not among options {''.join(sorted(options))}")
    images = []
    refs = item.get("image") or item.get("images") or []
    for ref in [refs] if isinstance(refs, str) else refs:
        img_path = _resolve_asset(ref, path.parent, entry.root)
        description, error = _check_image(img_path)
        if error:
            raise ValueError(f"image {_rel(img_path, entry.root)}: {error}")
        images.append(ImageRef(path=_rel(img_path, entry.root), description=description))
    explanation = str(item.get("explanation") or "").strip()
    text = question + "\n" + "\n".join(f"{k}. {v}" for k, v in sorted(options.items()))
    return _record(
        entry, path, kind="mcq", text=text, locator=f"item {item_id}", id_parts=(question, answer),
        fields={"question": question, "options": dict(sorted(options.items())), "answer": answer,
                "explanation": explanation, "item_id": item_id,
                **({"topic": str(item["topic"])} if item.get("topic") else {})},
        images=images,
    )


# --------------------------------------------------------------------------------------
# Europe PMC case reports (JATS XML)
# --------------------------------------------------------------------------------------

_XLINK = "{http://www.w3.org/1999/xlink}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
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


def read_jats(path: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """One `case` record (title, abstract, sections) and one `figure` record per `<fig>`.

    source_id is the article's PMCID (the catalog's id when the XML has none); license and
    redistributable come from `<license>` (Creative Commons licenses are redistributable).
    Figure context = the paragraphs that `<xref ref-type="fig">` the figure or cite its label.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    try:
        root_el = ET.parse(path).getroot()
    except ET.ParseError as exc:
        yield SourceIssue(rel, f"malformed JATS XML, file truncated or corrupt ({exc})")
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

    def walk(sec: ET.Element, prefix: str) -> None:
        name = _text_of(sec.find("title")) or "Untitled section"
        full = f"{prefix} / {name}" if prefix else name
        texts = []
        for p in sec.findall("p"):
            t = _text_of(p)
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
            if t:
                sections.setdefault("Body", "")
                sections["Body"] = (sections["Body"] + "\n" + t).strip()
                paragraphs.append((p, t))
        for sec in body.findall("sec"):
            walk(sec, "")
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
        description, error = _check_image(img_path)
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


# --------------------------------------------------------------------------------------
# Inpatient records
# --------------------------------------------------------------------------------------


def read_inpatient(path: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """`case` records from inpatient exports: one object per `*.json` (or a list), or JSONL.

    Each case: {"case_id": ..., "record": {structured fields, in the record's own language},
    "notes": [{"type", "date", "text"}, ...]}.  fields = record fields + "notes"; text = the
    notes in order.  Identifiers are kept: the de-identification stage removes them.
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    raw, issue = _read_text(path, entry)
    if issue:
        yield issue
        return
    try:
        if path.suffix == ".jsonl":
            cases = [json.loads(ln) for ln in raw.splitlines() if ln.strip()]
        else:
            data = json.loads(raw)
            cases = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as exc:
        yield SourceIssue(rel, f"invalid JSON ({exc})")
        return
    for n, case in enumerate(cases, 1):
        where = f"case {n}"
        if not isinstance(case, dict) or not case.get("case_id"):
            yield SourceIssue(rel, f"{where}: no case_id")
            continue
        # defects name the case by position, not by its id: a case id may be an MRN, and issue
        # reasons end up in the build's work files and counts
        record = case.get("record") or {}
        notes = case.get("notes") or []
        if not isinstance(record, dict) or not isinstance(notes, list):
            yield SourceIssue(rel, f"{where}: 'record' must be an object and 'notes' a list")
            continue
        if not record and not notes:
            yield SourceIssue(rel, f"{where}: no structured fields and no notes")
            continue
        bad = [i for i, nt in enumerate(notes) if not isinstance(nt, dict) or not str(nt.get("text", "")).strip()]
        if bad:
            yield SourceIssue(rel, f"{where}: note(s) {bad} have no text")
            continue
        parts = []
        for nt in notes:
            head = " ".join(str(x) for x in (nt.get("type", ""), f"({nt['date']})" if nt.get("date") else "") if x)
            parts.append(f"{head}\n{str(nt['text']).strip()}" if head else str(nt["text"]).strip())
        text = "\n\n".join(parts)
        lang = case.get("language") if case.get("language") in ("en", "zh") else None
        if lang is None:
            lang = _language(entry, text + json.dumps(record, ensure_ascii=False))
        yield _record(
            entry, path, kind="case", text=text, locator=f"case {case['case_id']}", source_id=str(case["case_id"]),
            id_parts=(json.dumps(record, ensure_ascii=False, sort_keys=True), text), language=lang,
            fields={**record, "notes": notes},
        )


# --------------------------------------------------------------------------------------
# Open 3D datasets: VerSe layout
# --------------------------------------------------------------------------------------

VERSE_LABELS = {
    **{i: f"C{i}" for i in range(1, 8)},
    **{i + 7: f"T{i}" for i in range(1, 13)},
    **{i + 19: f"L{i}" for i in range(1, 7)},
    26: "S1",  # sacrum
    28: "T13",
}
_BONE_WINDOW = (400.0, 1800.0)  # level, width (HU)
_SOFT_WINDOW = (40.0, 400.0)


def _genant(loss: float) -> int:
    """Genant semi-quantitative grade from the fractional height loss."""
    return 0 if loss < 0.20 else 1 if loss < 0.25 else 2 if loss <= 0.40 else 3


def _window_png(slab: np.ndarray, level: float, width: float, size: tuple[int, int]) -> bytes:
    """The slab in a CT window as PNG bytes, without metadata (the description, which names
    the subject, travels in `ImageRef.description`, where de-identification sees it)."""
    lo = level - width / 2
    arr = np.clip((slab.astype(np.float32) - lo) / width * 255.0, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, mode="L").resize(size, Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def read_verse(folder: str | Path, entry: CatalogEntry | dict[str, Any]) -> Iterator[SourceRecord | SourceIssue]:
    """One `volume` record per subject of a VerSe-layout dataset.

    Layout: rawdata/sub-X/sub-X_ct.nii.gz, derivatives/sub-X/sub-X_seg-vert_msk.nii.gz and
    sub-X_seg-subreg_ctd.json (VerSe centroids: a {"direction": [...]} entry, then
    {"label", "X", "Y", "Z"} in voxel coordinates of the image reoriented to that direction).
    Images: the mid-sagittal slice through the median centroid in a bone and a soft-tissue CT
    window (PNG bytes).  fields: vertebrae visible in the slice (cranial to caudal), centroids,
    anterior/middle/posterior body heights in mm and Genant grades, so a wedge compression
    can be described.
    """
    import nibabel as nib
    import nibabel.orientations as nio

    folder = Path(folder)
    entry = _as_entry(entry, folder)
    dataset_id = entry.dataset_id or entry.source_id
    raw_dir = folder / "rawdata"
    if not raw_dir.is_dir():
        yield SourceIssue(_rel(folder, entry.root), "no rawdata/ folder (not a VerSe layout)")
        return
    subjects = sorted(p.name for p in raw_dir.iterdir() if p.is_dir() and p.name.startswith("sub-"))
    if not subjects:
        yield SourceIssue(_rel(raw_dir, entry.root), "no sub-* subject folders")
    for sub in subjects:
        ct_path = raw_dir / sub / f"{sub}_ct.nii.gz"
        der = folder / "derivatives" / sub
        msk_path = der / f"{sub}_seg-vert_msk.nii.gz"
        ctd_path = next((p for p in (der / f"{sub}_seg-subreg_ctd.json", der / f"{sub}_seg-vb_ctd.json") if p.is_file()),
                        der / f"{sub}_seg-subreg_ctd.json")
        missing = [p for p in (ct_path, msk_path, ctd_path) if not p.is_file()]
        if missing:
            yield SourceIssue(_rel(missing[0], entry.root), "required file missing")
            continue
        try:
            ct_img, msk_img = nib.load(str(ct_path)), nib.load(str(msk_path))
            ctd = json.loads(ctd_path.read_text(encoding="utf-8"))
            direction = tuple(ctd[0]["direction"])
            points = {int(d["label"]): (float(d["X"]), float(d["Y"]), float(d["Z"])) for d in ctd[1:]}
            target = nio.axcodes2ornt(direction)
            ct = nio.apply_orientation(np.asanyarray(ct_img.dataobj),
                                       nio.ornt_transform(nio.io_orientation(ct_img.affine), target))
            msk = nio.apply_orientation(np.asanyarray(msk_img.dataobj),
                                        nio.ornt_transform(nio.io_orientation(msk_img.affine), target))
        except Exception as exc:  # nibabel / json raise several types for corrupt inputs
            yield SourceIssue(_rel(der, entry.root), f"cannot read volume or centroids ({type(exc).__name__}: {exc})")
            continue
        zooms = _reoriented_zooms(ct_img, target)
        if ct.shape != msk.shape:
            yield SourceIssue(_rel(msk_path, entry.root), f"mask shape {msk.shape} != CT shape {ct.shape}")
            continue
        if direction != ("P", "I", "R"):
            yield SourceIssue(_rel(ctd_path, entry.root), f"centroid direction {direction} is not P,I,R")
            continue
        yield _verse_record(sub, ct, msk.astype(np.int16), points, zooms, dataset_id, ct_path, entry)


def _reoriented_zooms(img: Any, target: np.ndarray) -> tuple[float, float, float]:
    import nibabel.orientations as nio

    ornt = nio.ornt_transform(nio.io_orientation(img.affine), target)
    src = img.header.get_zooms()[:3]
    out = [0.0, 0.0, 0.0]
    for src_axis, (dst_axis, _flip) in enumerate(ornt):
        out[int(dst_axis)] = float(src[src_axis])
    return tuple(out)  # type: ignore[return-value]


def _verse_record(sub: str, ct: np.ndarray, msk: np.ndarray, points: dict[int, tuple[float, float, float]],
                  zooms: tuple[float, float, float], dataset_id: str, ct_path: Path, entry: CatalogEntry) -> SourceRecord:
    # PIR: axis 0 runs anterior->posterior, axis 1 superior->inferior, axis 2 left->right.
    x = int(round(float(np.median([p[2] for p in points.values()])))) if points else ct.shape[2] // 2
    x = min(max(x, 0), ct.shape[2] - 1)
    slab_ct = ct[:, :, x].T  # rows: superior->inferior, columns: anterior->posterior
    slab_msk = msk[:, :, x].T
    visible = sorted(int(v) for v in np.unique(slab_msk) if v > 0)
    names = [VERSE_LABELS.get(v, f"label{v}") for v in visible]
    dp, di = zooms[0], zooms[1]
    heights, findings = {}, []
    for v, name in zip(visible, names, strict=True):
        h = _body_heights(slab_msk == v, points.get(v), di)
        if h is None:
            continue
        heights[name] = h
        loss = 1.0 - min(h["anterior_mm"], h["middle_mm"]) / h["posterior_mm"] if h["posterior_mm"] else 0.0
        h["height_loss"] = round(max(loss, 0.0), 2)
        h["genant_grade"] = _genant(loss)
        if h["genant_grade"]:
            shape = "wedge" if h["anterior_mm"] <= h["middle_mm"] else "biconcave"
            findings.append(
                f"{name} {shape} compression deformity: anterior height {h['anterior_mm']:.1f} mm vs posterior "
                f"{h['posterior_mm']:.1f} mm ({loss:.0%} loss, Genant grade {h['genant_grade']})"
            )
    span = f"{names[0]}–{names[-1]}" if names else "no labelled vertebrae"
    description = (
        f"Mid-sagittal CT reconstruction of {sub} showing {span} ({len(names)} labelled vertebrae). "
        + (" ".join(f + "." for f in findings) + " " if findings else "")
        + ("Remaining vertebral body heights preserved." if findings
           else "Vertebral body heights preserved; no compression deformity.")
    )
    h_px = 384
    w_px = max(1, int(round(h_px * (slab_ct.shape[1] * dp) / (slab_ct.shape[0] * di))))
    images = [
        ImageRef(
            data=_window_png(slab_ct, level, width, (w_px, h_px)),
            label=f"{sub} sagittal x={x} ({name} window)",
            caption=f"Mid-sagittal CT, {name} window (W{width:.0f}/L{level:.0f}), anterior to the left.",
            description=description,
        )
        for name, (level, width) in (("bone", _BONE_WINDOW), ("soft-tissue", _SOFT_WINDOW))
    ]
    centroids = {VERSE_LABELS.get(k, f"label{k}"): [round(c, 1) for c in p] for k, p in sorted(points.items())}
    return _record(
        entry, ct_path, kind="volume", text=description, locator=f"{sub} / sagittal x={x}",
        source_id=dataset_id, language="en", id_parts=(description,), images=images,
        fields={"subject": sub, "vertebrae": names, "centroids": centroids, "heights": heights,
                "findings": findings, "orientation": "PIR", "shape": list(ct.shape),
                "zooms_mm": [round(z, 3) for z in zooms], "slice_index": x},
    )


def _body_heights(mask2d: np.ndarray, centroid: tuple[float, float, float] | None, row_mm: float) -> dict[str, float] | None:
    """Anterior / middle / posterior vertebral body heights (mm) in a sagittal mask slice.

    The body is the run of label pixels along the centroid's row that starts at the anterior
    edge (posterior elements lie behind the canal, separated by a gap).
    """
    if not mask2d.any():
        return None
    if centroid is not None:
        row = int(round(centroid[1]))
    else:
        row = int(np.argwhere(mask2d)[:, 0].mean())
    row = min(max(row, 0), mask2d.shape[0] - 1)
    cols = np.flatnonzero(mask2d[row])
    if cols.size == 0:
        return None
    a0 = a1 = int(cols[0])
    while a1 + 1 < mask2d.shape[1] and mask2d[row, a1 + 1]:
        a1 += 1
    depth = a1 - a0
    if depth < 2:
        return None

    def col_height(c: int) -> float:
        return float(mask2d[:, c].sum()) * row_mm

    return {
        "anterior_mm": round(col_height(a0 + max(1, round(0.1 * depth))), 1),
        "middle_mm": round(col_height(a0 + depth // 2), 1),
        "posterior_mm": round(col_height(a1 - max(1, round(0.1 * depth))), 1),
    }
