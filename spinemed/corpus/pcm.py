"""Picture-context matching (PCM): anchor each figure to its caption and the paragraphs citing it.

OCR (PaddleOCR in the paper) turns a book page into markdown where an image, its caption and
the paragraphs discussing it end up as separate, sometimes distant blocks.  PCM re-binds them:

1. every image block gets its caption: the caption-styled block right below it, else the one
   right above it, else the image's alt text;
2. the caption's figure label ("Figure 3-2", "Fig. 3.2", "图3-2") is normalised to a key;
3. every paragraph citing that key (EN and ZH citation styles, lists and ranges) becomes the
   figure's context.

Then `check_figure_consistency` asks the LLM backend whether the image shows what the caption
and context say, and the pipeline drops mismatches with the model's reason.  The offline
backend, which cannot see pixels, answers it with `region_modality_conflict` over the image's
shipped description (caption names the lumbar spine and MRI, the image is a knee radiograph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..llm.base import LLMError
from ..llm.images import text_and_images_content
from ..text import CJK_UNIFIED
from .prompts import OutputParseError, dumps_facts
from .step import PipelineStep, Window

__all__ = [
    "FIGURE_LABEL_RE",
    "FigureLabel",
    "FigureAnchor",
    "parse_figure_label",
    "find_figure_citations",
    "split_blocks",
    "block_kind",
    "heading_text",
    "page_number",
    "page_of_block",
    "caption_text",
    "anchor_figures",
    "region_modality_conflict",
]

# A figure number as printed: "3-2", "3.2", "3–2", "12"; an optional panel letter ("3-2A") is
# accepted and ignored (a citation of panel A cites the figure).
_NUM = r"\d{1,3}(?:\s?[-.–—‐‑]\s?\d{1,3})?"
_PANEL = r"(?:[A-Za-z](?![A-Za-z]))?"
_EN_WORD = r"(?<![A-Za-z])(?:fig(?:ure)?s?\.?)"
_ZH_WORD = r"(?:附)?图"

# One label at the start of `parse_figure_label`'s input; also usable with .search().
FIGURE_LABEL_RE = re.compile(
    rf"(?P<word>{_EN_WORD}|{_ZH_WORD})\s*(?P<num>{_NUM}){_PANEL}", re.IGNORECASE
)

# A citation: figure word then a list of numbers joined by commas/"and"/"、"/"和", where two
# numbers joined by a range word ("–", "to", "至", "～") mean every figure in between.
_LIST_SEP = r"(?:\s*(?:,|，|、|;|；)\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+|\s*(?:和|及|与)\s*(?:图\s*)?)"
_RANGE_SEP = r"(?:\s*(?:–|—|~|～|〜)\s*|\s+(?:to|through)\s+|\s*(?:至|到)\s*(?:图\s*)?|-(?=\d{1,3}\s?[-.]\d))"
_CITATION_RE = re.compile(
    rf"(?P<word>{_EN_WORD}|{_ZH_WORD})\s*(?P<list>{_NUM}{_PANEL}(?:(?:{_LIST_SEP}|{_RANGE_SEP}){_NUM}{_PANEL})*)",
    re.IGNORECASE,
)
_NUM_TOKEN_RE = re.compile(rf"(?P<num>{_NUM}){_PANEL}")
_NUM_SPLIT_RE = re.compile(r"\s?[-.–—‐‑]\s?")

_IMAGE_RE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<path>[^)\s]+)(?:\s+\"(?P<title>[^\"]*)\")?\)$")
_PAGE_RE = re.compile(r"^<!--\s*page\s+(?P<page>\d+)\s*-->$", re.IGNORECASE)
_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*$")
# Caption-styled: a block that opens with a figure label, optionally in bold/italic.
_CAPTION_START_RE = re.compile(
    rf"^[*_]{{0,3}}\s*(?P<label>(?:{_EN_WORD}|{_ZH_WORD})\s*{_NUM}{_PANEL})\s*[*_]{{0,3}}(?P<sep>[\s:：.．、|—-]|$|(?=[{CJK_UNIFIED}]))",
    re.IGNORECASE,
)
# Captions are short; a long block opening with "Figure 3-2 shows ..." is a paragraph.
_MAX_CAPTION_CHARS = 400
_CITATION_VERB_RE = re.compile(
    r"^\s*(?:(?:shows?|showed|illustrates?|demonstrates?|depicts?|is|was)\b|显示|所示|可见)", re.I
)


@dataclass(frozen=True)
class FigureLabel:
    """A figure label as printed (`text`) and its canonical key: ("3", "2") or ("12",)."""

    key: tuple[str, ...]
    text: str

    @property
    def canonical(self) -> str:
        """'3-2' / '12': the key as one string (what locators and fields store)."""
        return "-".join(self.key)


def _key_of(num: str) -> tuple[str, ...]:
    return tuple(str(int(p)) for p in _NUM_SPLIT_RE.split(num.strip()) if p)


def parse_figure_label(text: str) -> FigureLabel | None:
    """The first figure label in `text` ("Figure 3-2", "Fig. 3.2", "FIG. 3–2", "图 3.2", "图12").

    Returns None when `text` holds no label.
    """
    m = FIGURE_LABEL_RE.search(text or "")
    if m is None:
        return None
    return FigureLabel(key=_key_of(m.group("num")), text=m.group(0).strip())


def find_figure_citations(text: str) -> list[tuple[str, ...]]:
    """Every figure key cited in a paragraph, in order, without repeats.

    Handles "as shown in Figure 3-2", "(Fig. 3.2)", "(Figs. 3.1 and 3.2)", "Figures 3-1–3-3",
    "Figs. 3-1 to 3-3", "见图3-2", "如图3-2所示", "图3-1、3-2", "图3-1至图3-3".  A range expands
    only when both ends share a chapter (or both are flat numbers).
    """
    keys: list[tuple[str, ...]] = []
    for m in _CITATION_RE.finditer(text or ""):
        span_text = m.group("list")
        tokens = list(_NUM_TOKEN_RE.finditer(span_text))
        prev: tuple[str, ...] | None = None
        for i, tok in enumerate(tokens):
            key = _key_of(tok.group("num"))
            between = span_text[tokens[i - 1].end() : tok.start()] if i else ""
            if prev is not None and re.fullmatch(_RANGE_SEP, between, re.IGNORECASE):
                keys.extend(_expand_range(prev, key))
            keys.append(key)
            prev = key
    seen: set[tuple[str, ...]] = set()
    ordered = []
    for k in keys:
        if k not in seen:
            seen.add(k)
            ordered.append(k)
    return ordered


def _expand_range(start: tuple[str, ...], end: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Keys strictly between `start` and `end` (both ends are added by the caller)."""
    if len(start) != len(end) or start[:-1] != end[:-1]:
        return []
    lo, hi = int(start[-1]), int(end[-1])
    if hi - lo > 50:  # a typo or a page range, not a figure range
        return []
    return [(*start[:-1], str(n)) for n in range(lo + 1, hi)]


# --------------------------------------------------------------------------------------
# Markdown blocks
# --------------------------------------------------------------------------------------


def split_blocks(markdown: str) -> list[str]:
    """The document as ordered blocks: paragraphs split on blank lines, with image lines,
    headings and page markers always standalone (OCR often glues an image line to its caption)."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append("\n".join(current).strip())
            current.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
        elif _IMAGE_RE.match(stripped) or _PAGE_RE.match(stripped) or _HEADING_RE.match(stripped):
            flush()
            blocks.append(stripped)
        else:
            current.append(line)
    flush()
    return [b for b in blocks if b]


def block_kind(block: str) -> str:
    """'image' | 'page' | 'heading' | 'caption' | 'table' | 'paragraph'."""
    s = block.strip()
    if _IMAGE_RE.match(s):
        return "image"
    if _PAGE_RE.match(s):
        return "page"
    if _HEADING_RE.match(s):
        return "heading"
    if _is_caption(s):
        return "caption"
    lines = s.splitlines()
    if len(lines) >= 2 and sum(ln.lstrip().startswith("|") for ln in lines) >= len(lines) - 1:
        return "table"
    return "paragraph"


def _is_caption(block: str) -> bool:
    m = _CAPTION_START_RE.match(block)
    if m is None or len(block) > _MAX_CAPTION_CHARS:
        return False
    # "Figure 3-2 shows ..." / "图3-2显示..." opens a paragraph citing the figure, not a caption.
    return not _CITATION_VERB_RE.match(block[m.end("label") :])


def heading_text(block: str) -> str:
    """The text of a markdown heading block ("## 3.2 Imaging" -> "3.2 Imaging"), else ""."""
    m = _HEADING_RE.match(block.strip())
    return m.group("text").strip() if m else ""


def page_number(block: str) -> int | None:
    """N for a `<!-- page N -->` marker block, else None."""
    m = _PAGE_RE.match(block.strip())
    return int(m.group("page")) if m else None


def page_of_block(blocks: list[str], index: int, default: int | None = None) -> int | None:
    """The page a block is on: the last `<!-- page N -->` marker before it."""
    for b in reversed(blocks[: index + 1]):
        m = _PAGE_RE.match(b.strip())
        if m:
            return int(m.group("page"))
    return default


def caption_text(block: str) -> str:
    """A caption block without markdown emphasis, on one line."""
    text = re.sub(r"[*_]{1,3}", "", block)
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------------------
# Anchoring
# --------------------------------------------------------------------------------------


@dataclass
class FigureAnchor:
    """One figure after PCM.

    `problem` is "" for a usable anchor; otherwise it says what is wrong ("image without
    caption", "caption without image") and the adapter reports it instead of emitting a record.
    Indices refer to the `blocks` list given to `anchor_figures` (-1 when absent).
    """

    image_path: str = ""
    alt: str = ""
    caption: str = ""
    label: FigureLabel | None = None
    image_index: int = -1
    caption_index: int = -1
    citing: list[str] = field(default_factory=list)
    citing_indices: list[int] = field(default_factory=list)
    problem: str = ""


def anchor_figures(blocks: list[str]) -> list[FigureAnchor]:
    """Anchor every image block to its caption, label and citing paragraphs.

    Captions are matched to the adjacent image (page markers in between are skipped): first
    every image claims the caption directly below it, then images still without one claim the
    caption directly above, so "caption above" and "caption below" books both work and a caption
    between two images goes to the image it belongs to under the book's dominant convention.
    Returns anchors in document order; orphan captions come back as anchors with
    `problem="caption without image"`, images without any caption as `problem="image without caption"`.
    """
    kinds = [block_kind(b) for b in blocks]
    images = [i for i, k in enumerate(kinds) if k == "image"]
    captions = {i for i, k in enumerate(kinds) if k == "caption"}

    def neighbour(i: int, step: int) -> int | None:
        j = i + step
        while 0 <= j < len(blocks) and kinds[j] == "page":
            j += step
        return j if 0 <= j < len(blocks) else None

    below = sum(1 for i in images if neighbour(i, 1) in captions)
    above = sum(1 for i in images if neighbour(i, -1) in captions)
    order = (1, -1) if below >= above else (-1, 1)

    claimed: dict[int, int] = {}  # image index -> caption index
    taken: set[int] = set()
    for step in order:
        for i in images:
            if i in claimed:
                continue
            j = neighbour(i, step)
            if j is not None and j in captions and j not in taken:
                claimed[i] = j
                taken.add(j)

    citing_by_key: dict[tuple[str, ...], list[int]] = {}
    for i, k in enumerate(kinds):
        if k in ("paragraph", "table"):
            for key in find_figure_citations(blocks[i]):
                citing_by_key.setdefault(key, []).append(i)

    anchors: list[tuple[int, FigureAnchor]] = []
    for i in images:
        m = _IMAGE_RE.match(blocks[i].strip())
        assert m is not None
        alt = (m.group("alt") or "").strip()
        anchor = FigureAnchor(image_path=m.group("path"), alt=alt, image_index=i)
        if i in claimed:
            anchor.caption_index = claimed[i]
            anchor.caption = caption_text(blocks[claimed[i]])
        elif alt:
            anchor.caption = alt
        else:
            anchor.problem = "image without caption"
        anchor.label = parse_figure_label(anchor.caption) if anchor.caption else None
        if anchor.label is not None:
            anchor.citing_indices = list(citing_by_key.get(anchor.label.key, []))
            anchor.citing = [blocks[j] for j in anchor.citing_indices]
        anchors.append((i, anchor))
    for j in sorted(captions - taken):
        text = caption_text(blocks[j])
        anchors.append(
            (j, FigureAnchor(caption=text, label=parse_figure_label(text), caption_index=j, problem="caption without image"))
        )
    return [a for _, a in sorted(anchors, key=lambda t: t[0])]


# --------------------------------------------------------------------------------------
# Consistency: rule-based screen (the LLM check goes below it)
# --------------------------------------------------------------------------------------

# Body regions and modalities named in captions / image descriptions, EN + ZH.  Spinal regions
# are grouped: a "thoracolumbar" caption and a "lumbar" image do not conflict.
def _w(pattern: str) -> str:
    # Latin-word boundaries that also hold next to CJK text ("腰椎MRI": \b fails there).
    return rf"(?<![A-Za-z])(?:{pattern})(?![A-Za-z])"


_REGIONS = {
    "spine": _w(r"spin(?:e|al)|cervical|thoracic|thoracolumbar|lumbar|lumbosacral|sacr(?:um|al)|vertebra[el]?|"
    r"discs?|intervertebral|cord|[CTLS]\d{1,2}\s*[-/]\s*[CTLS]?\d{1,2}") + r"|颈椎|胸椎|腰椎|骶|脊柱|椎体|椎间盘|脊髓",
    "knee": _w(r"knees?|patellar?|tibial plateau|femoral condyles?") + r"|膝",
    "hip_pelvis": _w(r"hips?|acetabul\w*|pelvi[sc]|femoral head|femoral neck") + r"|髋|骨盆|股骨头|股骨颈",
    "shoulder": _w(r"shoulders?|glenohumeral|rotator cuff") + r"|肩关节|肩部",
    "wrist_hand": _w(r"wrists?|distal radius|carpal|scaphoid") + r"|腕|桡骨远端|手部",
    "ankle_foot": _w(r"ankles?|foot|feet|calcane\w*|talus") + r"|踝|足部",
    "chest": _w(r"chest|lungs?|pulmonary") + r"|胸部|肺",
}
_MODALITIES = {
    "mri": _w(r"MRI|MR|T1-weighted|T2-weighted|T1WI|T2WI|STIR|magnetic resonance") + r"|磁共振|核磁",
    "ct": _w(r"CT|computed tomography"),
    "xray": _w(r"X-?rays?|radiographs?|radiographic|plain films?") + r"|X线|平片",
    "photo": _w(r"photograph|intra-?operative photo") + r"|照片|术中所见",
}


def _named(text: str, vocab: dict[str, str]) -> set[str]:
    return {name for name, pattern in vocab.items() if re.search(pattern, text, re.IGNORECASE)}


def region_modality_conflict(caption: str, description: str) -> str:
    """Why a caption and an image description cannot show the same thing, or "" if they may.

    Conflicts only when both name a body region (or both a modality) and the named sets are
    disjoint; anything vaguer is left to the LLM check.
    """
    if not caption or not description:
        return ""
    reasons = []
    for what, vocab in (("body region", _REGIONS), ("modality", _MODALITIES)):
        cap, desc = _named(caption, vocab), _named(description, vocab)
        if cap and desc and not cap & desc:
            reasons.append(f"{what}: caption says {'/'.join(sorted(cap))}, image shows {'/'.join(sorted(desc))}")
    return "; ".join(reasons)


# --------------------------------------------------------------------------------------
# LLM consistency check (the second half of PCM): adapters keep every anchored figure; this
# stage sends caption + citing paragraphs + the image to the PCM-check model and the pipeline
# drops the figures it calls inconsistent, with its reason.
# --------------------------------------------------------------------------------------


async def check_figure_consistency(generator, prompt, record, images: list[bytes]) -> tuple[bool, str]:
    """(consistent, reason) for one figure record, asked through `generator.ask_json`
    (so invalid model output is re-asked and then raises like any other generation call, and
    the record's de-identification stamp is checked before the request is sent)."""
    img = record.images[0]
    facts = {"label": img.label, "caption": img.caption, "context": record.context, "image_description": img.description}
    msgs = prompt.render(facts_json=dumps_facts(facts))
    msgs[-1] = {"role": "user", "content": text_and_images_content(msgs[-1]["content"], images)}

    def check(obj: dict) -> None:
        if not isinstance(obj.get("consistent"), bool):
            raise TypeError("'consistent' must be true or false")

    obj, _ = await generator.ask_json(msgs, check=check, record=record)
    if not isinstance(obj.get("consistent"), bool):  # the model answered {"error": ...}: no verdict
        raise OutputParseError(f"the model gave no verdict: {str(obj.get('error', obj))[:200]}")
    return obj["consistent"], str(obj.get("reason", ""))


class CheckFailed(Exception):
    """The consistency check could not run (endpoint error, no usable answer): not a verdict."""


class PictureContextCheck(PipelineStep):
    """Drops the figures the PCM-check model calls inconsistent with their caption and context
    (the checks of a window run concurrently).  A check that could not run (endpoint error,
    unusable output) is no verdict: the figure is quarantined as "check failed: <error>", and
    since failed requests are never cached, a rerun asks again.  Stats: `pcm`
    (consistent / mismatch / check_failed)."""

    name = "pcm"

    def __init__(self, generator, prompt, enabled: bool = True):
        super().__init__()
        self.generator = generator
        self.prompt = prompt
        self.enabled = enabled

    async def _verdict(self, doc) -> tuple[bool, str] | CheckFailed:
        rec = doc.record
        if rec.kind != "figure" or not self.enabled or not doc.images:
            return True, ""
        try:
            return await check_figure_consistency(self.generator, self.prompt, rec, [i["bytes"] for i in doc.images])
        except (OutputParseError, LLMError) as exc:
            return CheckFailed(str(exc))

    async def process(self, window: Window) -> Window:
        verdicts = await self.gather([self._verdict(d) for d in window], failed=lambda v: isinstance(v, CheckFailed))
        kept = []
        for doc, verdict in zip(window, verdicts):
            if isinstance(verdict, CheckFailed):
                self.stats["pcm"]["check_failed"] += 1
                self.drop(doc, f"check failed: {verdict}")
                continue
            ok, reason = verdict
            if doc.record.kind == "figure" and self.enabled:
                self.stats["pcm"]["consistent" if ok else "mismatch"] += 1
            if not ok:
                self.drop(doc, f"picture-context mismatch: {reason}")
                continue
            kept.append(doc)
        return kept
