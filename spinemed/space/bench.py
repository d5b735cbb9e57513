"""The SpineBench release the Space serves: explorer queries, item pages, example images.

Loading and identity checks are the evaluation runner's
(:func:`spinemed.evaluation.benchmark.load_benchmark`: manifest verification, items hash,
registry of released versions, image checks), so a submission is checked against exactly
the benchmark that ``spinemed eval`` would run.  This module adds what a person browsing the
benchmark needs.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spinemed.evaluation.benchmark import Benchmark, BenchmarkError, load_benchmark
from spinemed.schema import REPORT_PARTS, REPORT_SECTION_TITLES, SUBFIELDS

from .safety import md_escape

__all__ = ["KIND_LABELS", "LANGUAGE_LABELS", "SpaceBench", "BenchmarkError", "subfield_label"]

KIND_LABELS = {"text_mcq": "Text MCQ", "image_mcq": "Image MCQ", "report": "Report"}
LANGUAGE_LABELS = {"en": "English", "zh": "中文"}
MODALITY_LABELS = {"text": "text only", "image": "image + text"}


def subfield_label(slug: str) -> str:
    """'Lumbar disc herniation · 腰椎间盘突出症' for a slug; the slug itself when unknown."""
    names = SUBFIELDS.get(slug)
    return f"{names[0]} · {names[1]}" if names else slug


class SpaceBench:
    """A loaded benchmark plus the explorer's views of it.

    ``bench.items`` (from the runner) are the rows without images, in benchmark order; images
    are kept encoded and decoded only for the item being shown.
    """

    def __init__(self, bench: Benchmark):
        self.bench = bench
        self.items = bench.items
        self.ids = [item["id"] for item in self.items]
        self.by_id = {item["id"]: item for item in self.items}

    @classmethod
    def load(cls, source: str | os.PathLike, *, revision: str | None = None, allow_unregistered: bool = False) -> SpaceBench:
        """Load a SpineBench folder or Hub repo id (raises BenchmarkError before anything is served)."""
        return cls(load_benchmark(source, revision=revision, allow_unregistered=allow_unregistered))

    def __len__(self) -> int:
        return len(self.items)

    @property
    def label(self) -> str:
        b = self.bench
        tag = "" if b.registered else " (unregistered)"
        return f"{b.name} {b.version}{tag}"

    def summary_md(self) -> str:
        c = self.bench.counts
        return (f"Serving **{md_escape(self.label)}**: {c.get('text_mcq', 0)} text MCQ, {c.get('image_mcq', 0)} "
                f"image MCQ, {c.get('report', 0)} report tasks (items hash {md_escape(self.bench.items_hash[:16])}…).")

    # -- explorer ------------------------------------------------------------------------

    def facets(self) -> dict[str, list[str]]:
        """Values present for each explorer filter, sorted."""
        def values(key: str) -> list[str]:
            return sorted({str(r.get(key) or "") for r in self.items} - {""})

        return {"subfield": values("subfield"), "language": values("language"), "modality": values("modality"),
                "kind": [k for k in KIND_LABELS if any(r["kind"] == k for r in self.items)]}

    def query(
        self,
        subfields: Iterable[str] | None = None,
        languages: Iterable[str] | None = None,
        modalities: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        text: str = "",
    ) -> list[dict[str, Any]]:
        """Items matching every given filter (an empty/None filter matches all); `text` is a
        case-insensitive substring of the id, question or case."""
        sub, lang, mod, kind = (set(x) if x else None for x in (subfields, languages, modalities, kinds))
        needle = (text or "").strip().casefold()
        out = []
        for r in self.items:
            if (sub and r.get("subfield") not in sub) or (lang and r.get("language") not in lang):
                continue
            if (mod and r.get("modality") not in mod) or (kind and r["kind"] not in kind):
                continue
            if needle and needle not in " ".join(str(r.get(k) or "") for k in ("id", "question", "case")).casefold():
                continue
            out.append(r)
        return out

    def images(self, item_id: str) -> list[Any]:
        """The item's images as PIL images (decoded on demand)."""
        from PIL import Image

        if item_id not in self.by_id:
            raise KeyError(f"no SpineBench item with id {item_id!r}")
        out = []
        for blob in self.bench.images.get(item_id) or []:
            img = Image.open(io.BytesIO(blob))
            img.load()
            out.append(img)
        return out

    def render_item(self, item_id: str) -> str:
        """Markdown for one item: metadata, question/case, options, answer, reference report.

        Item text is escaped: it shows exactly as stored, never interpreted as Markdown/HTML."""
        r = self.by_id.get(item_id)
        if r is None:
            return f"No item with id {md_escape(item_id, 80)} in {md_escape(self.label)}."
        lines = [
            f"**{md_escape(r['id'])}** · {KIND_LABELS.get(r['kind'], r['kind'])} · "
            f"{LANGUAGE_LABELS.get(r.get('language'), md_escape(r.get('language')))} · "
            f"{md_escape(subfield_label(r.get('subfield') or ''))}",
        ]
        if r.get("levels"):
            lines += ["", f"Levels: {md_escape(', '.join(r['levels']))}"]
        if r["kind"] == "report":
            lines += ["", "**Case**", "", md_escape(r.get("case"), None)]
            report = r.get("report") or {}
            lines += ["", "**Reference report**"]
            for part in REPORT_PARTS:
                if report.get(part):
                    title = REPORT_SECTION_TITLES[part][1 if r.get("language") == "zh" else 0]
                    lines += ["", f"*{title}*", "", md_escape(report[part], None)]
        else:
            lines += ["", "**Question**", "", md_escape(r.get("question"), None), ""]
            for opt in r.get("options") or []:
                lines.append(f"- **{md_escape(opt.get('label'))}.** {md_escape(opt.get('text'), None)}")
            lines += ["", f"**Answer:** {md_escape(r.get('answer'))}"]
            if r.get("explanation"):
                lines += ["", f"**Explanation:** {md_escape(r['explanation'], None)}"]
        if r.get("n_images"):
            lines += ["", f"_{r['n_images']} image(s) in the gallery._"]
        return "\n".join(lines)

    def example_images(self, out_dir: str | os.PathLike, limit: int = 2) -> list[dict[str, Any]]:
        """Write the first image of up to `limit` image MCQ items (alternating languages) as PNG
        files for the chat's example prompts; returns [{"id", "language", "question", "path"}]."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        by_lang: dict[str, list[dict]] = {}
        for r in self.items:
            if r.get("n_images") and r["kind"] == "image_mcq":
                by_lang.setdefault(str(r.get("language") or ""), []).append(r)
        order: list[dict] = []
        for i in range(max((len(v) for v in by_lang.values()), default=0)):
            order += [v[i] for _, v in sorted(by_lang.items()) if i < len(v)]
        picked = []
        for r in order[:limit]:
            path = out / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', r['id'])}.png"
            if not path.exists():
                self.images(r["id"])[0].convert("RGB").save(path, format="PNG")
            picked.append({"id": r["id"], "language": r.get("language"), "question": r.get("question") or "", "path": str(path)})
        return picked
