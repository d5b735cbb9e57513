"""The per-item table of a run (``OUT/samples.jsonl``), for error analysis without a rescore.

What lmms-eval keeps as "logged samples": one line per benchmark item, in benchmark order,
joining what went in (the rendered prompt, the number of images, the item's breakdown fields)
with what came out (the raw output) and how the scorer saw it (:class:`spinemed.scoring.items.
ItemScore`: status, extracted answer, reference, correct, score, judge scores, level comparison).
Every value comes from the scorer's own item records, so the table and ``results.json`` agree.
It is rewritten whole at the end of every run (also a resumed one)::

    {"index": 0, "id": "mcq-...", "kind": "text_mcq", "subfield": "...", "language": "en",
     "modality": "text", "source_type": "...", "prompt": "Answer the following ...", "n_images": 0,
     "output": "... Answer: B", "status": "answered", "extracted": "B", "reference": "B",
     "correct": true, "score": 100.0, "dimensions": null, "sections": null, "levels": null,
     "error": "", "request_error": null, "latency_s": 1.42, "cached": false}

For report items ``dimensions`` (1-5 per judge dimension) and ``sections`` (0-100) hold the
judge scores where judged (or the floor), ``score`` the item's P3, ``error`` the judge's failure;
``request_error`` is the model request's failure.  Read it with pandas
(``pd.read_json(path, lines=True)``) or ``datasets.load_dataset("json", data_files=path)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_write_lines

__all__ = ["SAMPLE_FIELDS", "SAMPLES_FILE", "sample_rows", "write_samples"]

SAMPLES_FILE = "samples.jsonl"
SAMPLE_FIELDS = ("index", "id", "kind", "subfield", "language", "modality", "source_type", "prompt", "n_images", "output",
                 "status", "extracted", "reference", "correct", "score", "dimensions", "sections", "levels", "error",
                 "request_error", "latency_s", "cached")


def sample_rows(items: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]],
                scored: Sequence[Mapping[str, Any]], prompts: Sequence[str] | None = None,
                n_images: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One row per item from the benchmark rows, the final prediction lines and the scorer's
    item records (``score_predictions(..., return_items=True)["items"]``), all aligned."""
    if not len(items) == len(predictions) == len(scored):
        raise ValueError(f"items ({len(items)}), predictions ({len(predictions)}) and scored items ({len(scored)}) "
                         "must be aligned")
    rows = []
    for i, (item, pred, s) in enumerate(zip(items, predictions, scored)):
        if not (item.get("id") == pred.get("id") == s.get("id")):
            raise ValueError(f"row {i}: item {item.get('id')!r}, prediction {pred.get('id')!r} and scored item "
                             f"{s.get('id')!r} differ")
        rows.append({
            "index": i, "id": s["id"], "kind": s["kind"], "subfield": s.get("subfield") or None,
            "language": s.get("language") or None, "modality": item.get("modality"), "source_type": item.get("source_type"),
            "prompt": prompts[i] if prompts is not None else None, "n_images": n_images[i] if n_images is not None else None,
            "output": pred.get("output"), "status": s["status"], "extracted": s.get("extracted"),
            "reference": s.get("reference"), "correct": s.get("correct"), "score": s.get("score"),
            "dimensions": s.get("dimensions"), "sections": s.get("sections"), "levels": s.get("levels"),
            "error": s.get("error") or "", "request_error": pred.get("error") if pred.get("status") == "error" else None,
            "latency_s": pred.get("latency_s"), "cached": pred.get("cached"),
        })
    return rows


def write_samples(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write the table atomically, one JSON object per line (fields in :data:`SAMPLE_FIELDS` order)."""
    return atomic_write_lines(path, (json.dumps({k: r.get(k) for k in SAMPLE_FIELDS}, ensure_ascii=False) + "\n"
                                     for r in rows))
