"""Percentile bootstrap intervals for the headline scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spinemed.schema import KINDS, MCQ_KINDS

from .formulas import weights
from .items import ItemScore
from .summary import _SCORED_REPORT, _check_partial, _report_p3


def bootstrap_ci(
    scored: Sequence[ItemScore],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    partial_reports: str = "none",
) -> dict[str, Any]:
    """Percentile bootstrap intervals for P1, P2, closed QA, P3 and the total.

    Resampling is stratified by kind (each resample keeps every N_k), so the total's weights
    stay those of the point estimate; P3 resamples the scored (judged + floor-scored) reports,
    like its estimate, and has no interval where the estimate is None (`partial_reports`).
    open_qa items take no part.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    _check_partial(partial_reports)
    rng = np.random.default_rng(seed)
    reports = [s for s in scored if s.kind == "report"]
    p3_defined = _report_p3(reports, partial_reports) is not None
    arrays = {
        "text_mcq": np.array([s.score for s in scored if s.kind == "text_mcq"], dtype=float),
        "image_mcq": np.array([s.score for s in scored if s.kind == "image_mcq"], dtype=float),
        "report": np.array([s.score for s in reports if s.status in _SCORED_REPORT] if p3_defined else [], dtype=float),
    }
    counts = {k: sum(1 for s in scored if s.kind == k) for k in KINDS}
    samples: dict[str, np.ndarray | None] = {}
    for k, arr in arrays.items():
        samples[k] = arr[rng.integers(0, len(arr), size=(n_resamples, len(arr)))].mean(axis=1) if len(arr) else None
    n_mcq = counts["text_mcq"] + counts["image_mcq"]
    if n_mcq:
        samples["closed_qa"] = sum(samples[k] * counts[k] for k in MCQ_KINDS if samples[k] is not None) / n_mcq
    else:
        samples["closed_qa"] = None
    w = weights(counts) if sum(counts.values()) else {}
    if w and all(samples[k] is not None for k in w):
        samples["total"] = sum(samples[k] * w[k] for k in w)
    else:
        samples["total"] = None
    alpha = (1 - confidence) / 2 * 100
    intervals = {
        k: (None if v is None else [float(x) for x in np.percentile(v, [alpha, 100 - alpha])])
        for k, v in samples.items()
    }
    return {
        "intervals": {k: intervals[k] for k in ("text_mcq", "image_mcq", "closed_qa", "report", "total")},
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "method": "percentile bootstrap, stratified by item kind",
    }
