"""Image relevance (spinemed/corpus/relevance.py): non-diagnostic figures are discarded with a
reason and counted; diagnostic ones (every shipped sample figure) are kept."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from spinemed.corpus.generate import Generator, load_criteria
from spinemed.corpus.offline_rules import RulesBackend, image_relevance
from spinemed.corpus.prompts import load_prompts
from spinemed.corpus.relevance import REASONS, ImageRelevance, image_verdict
from spinemed.corpus.step import Doc, MemoryQuarantine
from spinemed.deid.provenance import stamp_record
from spinemed.llm.client import LLMClient
from spinemed.schema import ImageRef, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "builders" / "spinemed_450k"


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _radiograph() -> Image.Image:
    """Grey, dark background, a bright bony column with texture: what a diagnostic image looks like."""
    rng = np.random.default_rng(1)
    arr = rng.normal(30, 8, (384, 256))
    arr[40:340, 100:160] += 150 + rng.normal(0, 20, (300, 60))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def _chart() -> Image.Image:
    img = Image.new("RGB", (300, 200), "white")
    d = ImageDraw.Draw(img)
    for i, h in enumerate((50, 120, 80)):
        d.rectangle([40 + 70 * i, 180 - h, 80 + 70 * i, 180], fill=(200, 60, 60))
    d.line([(30, 180), (290, 180)], fill="black", width=2)
    return img


def _table() -> Image.Image:
    img = Image.new("L", (400, 200), 255)
    d = ImageDraw.Draw(img)
    for y in range(20, 200, 40):
        d.line([(10, y), (390, y)], fill=0)
        d.text((20, y + 10), "Grade  Finding  Score", fill=0)
    return img


def _photo() -> Image.Image:
    rng = np.random.default_rng(2)
    arr = np.empty((200, 260, 3))
    arr[:] = (210, 150, 120)
    return Image.fromarray(np.clip(arr + rng.normal(0, 10, arr.shape), 0, 255).astype(np.uint8), "RGB")


@pytest.mark.parametrize("img, category", [
    (Image.new("L", (300, 300), 255), "blank"),
    (Image.fromarray(np.random.default_rng(3).normal(250, 1.5, (300, 300)).clip(0, 255).astype(np.uint8)), "blank"),
    (Image.new("RGB", (32, 32), (0, 80, 200)), "too_small"),
    (_chart(), "chart_or_table"),
    (_table(), "chart_or_table"),
    (_photo(), "colour_photo"),
    (_radiograph(), ""),
])
def test_image_verdict(img, category):
    got, reason = image_verdict(_png(img))
    assert got == category and reason == REASONS.get(category, "")


def test_every_shipped_sample_figure_is_kept():
    figures = [p for p in (BUILDER / "sources").rglob("*") if p.suffix in (".png", ".jpg") and p.name != "ch12_fig2.png"]
    assert len(figures) >= 20
    assert {p.name: image_verdict(p.read_bytes())[0] for p in figures} == {p.name: "" for p in figures}


def test_undecodable_bytes_raise():
    with pytest.raises(ValueError, match="not a decodable image"):
        image_verdict(b"<html>")


def _doc(img: Image.Image, caption: str, kind: str = "figure") -> Doc:
    rec = SourceRecord(record_id=f"r-{caption[:12]}", source_type="textbook", source_id="s", kind=kind, language="en",
                       text=caption, images=[ImageRef(data=_png(img), caption=caption, label="Figure 1")])
    stamp_record(rec)
    return Doc(rec, images=[{"bytes": rec.images[0].data, "path": "x.png"}])


def _run(step: ImageRelevance, docs: list[Doc]) -> list[Doc]:
    step.quarantine = MemoryQuarantine()
    return asyncio.run(step.process(docs))


def test_step_drops_with_reasons_and_counts():
    step = ImageRelevance()
    docs = [_doc(_radiograph(), "Figure 1 Lateral radiograph of the lumbar spine"),
            _doc(_photo(), "Figure 2 The wound"),
            _doc(_chart(), "Figure 3 Outcomes"),
            _doc(_photo(), "a passage whose record kind is not figure", kind="passage")]
    kept = _run(step, docs)
    assert [d.record.record_id for d in kept] == [docs[0].record.record_id, docs[3].record.record_id]
    assert dict(step.stats["relevance"]) == {"kept": 1, "colour_photo": 1, "chart_or_table": 1}
    reasons = sorted(e[3] for e in step.quarantine.entries)
    assert reasons == sorted(f"not diagnostic: {REASONS[c]}" for c in ("colour_photo", "chart_or_table"))
    assert {e[2] for e in step.quarantine.entries} == {"relevance"}


def test_model_check_runs_on_what_the_heuristics_keep():
    prompts = load_prompts(BUILDER / "prompts")
    gen = Generator(LLMClient(RulesBackend()), prompts, load_criteria(BUILDER / "criteria" / "v1.yaml"))
    step = ImageRelevance(gen, prompts["image_relevance"], model_check=lambda rec: True)
    docs = [_doc(_radiograph(), "Figure 1 Sagittal MRI of the cervical spine"),
            _doc(_radiograph(), "Figure 2 Flowchart of the treatment algorithm")]
    kept = _run(step, docs)
    assert [d.record.text for d in kept] == ["Figure 1 Sagittal MRI of the cervical spine"]
    assert dict(step.stats["relevance"]) == {"kept": 1, "model": 1}
    assert step.quarantine.entries[0][3].startswith(f"not diagnostic: {REASONS['model']}: ")


def test_offline_rule():
    assert image_relevance({"caption": "图5 术后切口照片"})["relevant"] is False
    assert image_relevance({"caption": "Figure 3 Postoperative photograph"})["relevant"] is False
    assert image_relevance({"caption": "Figure 3 Axial CT", "image_description": "axial CT of L3"})["relevant"] is True
