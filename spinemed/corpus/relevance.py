"""Image relevance, the paper's cleaning step: figures whose picture is not diagnostic are
discarded with a reason before any item is generated from them.

Book and article figures include pictures a model learns nothing clinical from: postoperative
wound photographs, tables and charts set as images, publisher logos, blank or near-blank
scans.  Two checks, cheapest first, on every `figure` record (volume slices and question-bank
images are diagnostic by construction and pass untouched):

1. `image_verdict`: pixel statistics with numpy/Pillow, no model: blank or near-blank (almost no
   contrast), too small to read (icons, logos), a chart or table (mostly white background, flat
   strokes: almost no mid-tones or a handful of flat colours), a colour photograph (strongly coloured pixels dominate:
   radiographs, CT and MRI are grey; so are the kit's schematic figures).
2. the vision model's check (`image_relevance` prompt) for the figures the heuristics keep,
   when the build is configured to ask it (`relevance: model_check` in builder.yaml; `auto`
   asks whenever the endpoint routed for the record is not the offline backend, which cannot
   see pixels).  A check that could not run quarantines the figure as "check failed", like the
   PCM check: no verdict is no pass.

Stats: `relevance` (kept, and discarded per reason category), shown on the dataset card.
"""

from __future__ import annotations

import asyncio
import io

import numpy as np
from PIL import Image

from ..llm.base import LLMError
from ..llm.images import text_and_images_content
from .prompts import OutputParseError, dumps_facts
from .step import Doc, PipelineStep, Window

__all__ = ["ImageRelevance", "image_verdict", "check_image_relevance", "REASONS"]

# Reason categories (the stats key) and the reason text a quarantined record carries.
REASONS = {
    "blank": "blank or near-blank image",
    "too_small": "too small to be diagnostic (icon or logo)",
    "chart_or_table": "chart, table or text set as an image (white page, flat strokes or colours)",
    "colour_photo": "colour photograph (e.g. a postoperative or clinical photo), not a diagnostic image",
    "model": "the vision model calls it not diagnostic",
}
_MIN_SIDE = 48  # pixels
_BLANK_STD = 4.0  # grey-level standard deviation under which nothing is shown
_WHITE = 235  # grey level counted as paper
_WHITE_SHARE = 0.55  # ... and the share of paper above which a picture is a chart or table
_MIDTONE_SHARE = 0.12  # charts and tables have few mid-tones (40..215); radiographs have many
_FLAT_COLOURS = 64  # ... or drawn in a handful of flat colours (bars, lines, cell shading)
_SATURATED = 0.25  # HSV saturation above which a pixel is "coloured"
_PHOTO_SHARE = 0.35  # a picture with more coloured pixels than this is a colour photograph


def image_verdict(data: bytes) -> tuple[str, str]:
    """("", "") for a picture that may be diagnostic, else (category, reason) from `REASONS`.
    Undecodable bytes raise ValueError (the deid step has already loaded them, so it is a bug)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            img = im.convert("RGB")
    except Exception as exc:
        raise ValueError(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    if min(img.size) < _MIN_SIDE:
        return "too_small", REASONS["too_small"]
    img.thumbnail((512, 512))  # statistics do not need every pixel
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    if float(grey.std()) < _BLANK_STD:
        return "blank", REASONS["blank"]
    saturation = np.asarray(img.convert("HSV"), dtype=np.float32)[:, :, 1] / 255.0
    bright = grey > 40  # saturation is meaningless on near-black pixels
    coloured = float(((saturation > _SATURATED) & bright).mean())
    if coloured > _PHOTO_SHARE:
        return "colour_photo", REASONS["colour_photo"]
    white = float((grey > _WHITE).mean())
    midtones = float(((grey >= 40) & (grey <= 215)).mean())
    flat = len(np.unique(np.asarray(img).reshape(-1, 3), axis=0)) <= _FLAT_COLOURS
    if white > _WHITE_SHARE and (midtones < _MIDTONE_SHARE or flat):
        return "chart_or_table", REASONS["chart_or_table"]
    return "", ""


async def check_image_relevance(generator, prompt, record, images: list[bytes]) -> tuple[bool, str]:
    """(relevant, reason) from the vision model, asked through `generator.ask_json` (retries on
    invalid output, the record's de-identification stamp checked before sending)."""
    img = record.images[0] if record.images else None
    facts = {"caption": img.caption if img else "", "label": img.label if img else "",
             "image_description": img.description if img else ""}
    msgs = prompt.render(facts_json=dumps_facts(facts))
    msgs[-1] = {"role": "user", "content": text_and_images_content(msgs[-1]["content"], images)}

    def check(obj: dict) -> None:
        if not isinstance(obj.get("relevant"), bool):
            raise TypeError("'relevant' must be true or false")

    obj, _ = await generator.ask_json(msgs, check=check, record=record)
    if not isinstance(obj.get("relevant"), bool):
        raise OutputParseError(f"the model gave no verdict: {str(obj.get('error', obj))[:200]}")
    return obj["relevant"], str(obj.get("reason", ""))


class ImageRelevance(PipelineStep):
    """Drops figure records whose picture is not diagnostic (see the module docstring).

    `model_check(record) -> bool` says whether the vision model is asked about a figure the
    heuristics keep (None: never); `generator` and `prompt` are what it is asked through."""

    name = "relevance"

    def __init__(self, generator=None, prompt=None, model_check=None, heuristics: bool = True):
        super().__init__()
        self.generator = generator
        self.prompt = prompt
        self.model_check = model_check
        self.heuristics = heuristics

    async def _verdict(self, doc: Doc) -> tuple[str, str]:
        """(category, reason): ("", "") keeps the figure; category "check_failed" is no verdict."""
        if self.heuristics:
            for img in doc.images:
                category, reason = image_verdict(img["bytes"])
                if category:
                    return category, reason
        if self.model_check is None or self.prompt is None or not self.model_check(doc.record):
            return "", ""
        try:
            relevant, why = await check_image_relevance(self.generator, self.prompt, doc.record,
                                                        [i["bytes"] for i in doc.images])
        except (OutputParseError, LLMError) as exc:
            return "check_failed", f"check failed: {exc}"
        return ("", "") if relevant else ("model", f"{REASONS['model']}: {why}")

    async def process(self, window: Window) -> Window:
        todo = [d for d in window if d.record.kind == "figure" and d.images]
        verdicts = dict(zip(map(id, todo), await asyncio.gather(*(self._verdict(d) for d in todo)), strict=True))
        kept = []
        for doc in window:
            category, reason = verdicts.get(id(doc), ("", ""))
            if id(doc) in verdicts:
                self.stats["relevance"][category or "kept"] += 1
            if category:
                self.drop(doc, reason if category == "check_failed" else f"not diagnostic: {reason}")
                continue
            kept.append(doc)
        return kept
