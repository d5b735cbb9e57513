"""Human-vs-judge agreement per report dimension: Pearson, Spearman, quadratic-weighted kappa.

numpy only, so the kit does not pull scipy / scikit-learn in for three formulas.
A statistic that is undefined on the data (a constant vector has no variance, so no
correlation; two identical constant raters leave kappa 0/0) is returned as ``nan`` with a
note saying why, never as 0 or 1.  The paper reports Pearson 0.382-0.949 across dimensions
(:data:`spinemed.scoring.PAPER_AGREEMENT_PEARSON`).

Command line::

    python -m spinemed.agreement human.jsonl judge.jsonl

where each line is ``{"id": ..., "scores": {dimension: score, ...}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .scoring import DIMENSIONS, PAPER_AGREEMENT_PEARSON

__all__ = ["agreement", "pearson", "quadratic_weighted_kappa", "rankdata", "spearman"]


def _pair(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("expected two 1-D sequences of scores")
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} vs {len(b)} scores")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite numbers (no nan / inf)")
    return a, b


def _pearson(a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    if len(a) < 2:
        return math.nan, f"n={len(a)}: need at least 2 pairs"
    da, db = a - a.mean(), b - b.mean()
    sa, sb = math.sqrt(float(da @ da)), math.sqrt(float(db @ db))
    if sa == 0 or sb == 0:
        which = " and ".join(n for n, s in (("first", sa), ("second", sb)) if s == 0)
        return math.nan, f"{which} vector is constant: correlation undefined"
    return float(np.clip((da @ db) / (sa * sb), -1.0, 1.0)), ""


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; nan when fewer than 2 pairs or either vector is constant."""
    return _pearson(*_pair(x, y))[0]


def rankdata(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n with ties given the average of the ranks they span."""
    a = np.asarray(x, dtype=float)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # Start index of each run of equal values, and the average rank of that run.
    starts = np.flatnonzero(np.r_[True, sorted_a[1:] != sorted_a[:-1]])
    ends = np.r_[starts[1:], len(a)]
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(a))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson of average ranks); nan as for :func:`pearson`."""
    a, b = _pair(x, y)
    return _pearson(rankdata(a), rankdata(b))[0]


def _qwk(a: np.ndarray, b: np.ndarray, min_rating: int, max_rating: int) -> tuple[float, str]:
    if len(a) == 0:
        return math.nan, "n=0"
    if not (np.all(a == np.round(a)) and np.all(b == np.round(b))):
        return math.nan, "non-integer scores: kappa needs integer categories"
    if a.min() < min_rating or b.min() < min_rating or a.max() > max_rating or b.max() > max_rating:
        raise ValueError(f"scores outside {min_rating}-{max_rating}")
    k = max_rating - min_rating + 1
    ia, ib = a.astype(int) - min_rating, b.astype(int) - min_rating
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(a)
    idx = np.arange(k)
    w = (idx[:, None] - idx[None, :]) ** 2 / (k - 1) ** 2
    denom = float((w * expected).sum())
    if denom == 0:
        return math.nan, "both raters gave one and the same score to every item: kappa undefined"
    return 1.0 - float((w * observed).sum()) / denom, ""


def quadratic_weighted_kappa(x: Sequence[float], y: Sequence[float], min_rating: int = 1, max_rating: int = 5) -> float:
    """Cohen's kappa with quadratic weights over the integer categories min..max.

    nan when there are no pairs, the scores are not integers, or the expected disagreement
    is 0 (both raters constant on the same value).
    """
    return _qwk(*_pair(x, y), min_rating, max_rating)[0]


def _by_id(scores: Sequence[Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]], name: str) -> dict[str, Any]:
    if isinstance(scores, Mapping):
        return {str(k): v for k, v in scores.items()}
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence):
        raise TypeError(f"{name}: expected a list of per-item score mappings or a mapping id -> scores")
    return {str(i): v for i, v in enumerate(scores)}


def agreement(
    human: Sequence[Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]],
    judge: Sequence[Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]],
    dimensions: Sequence[str] = DIMENSIONS,
) -> dict[str, Any]:
    """Per-dimension agreement between human and judge scores of the same report items.

    `human` and `judge` are lists aligned by item, or mappings item id -> ``{dimension: score}``
    (then items are matched by id).  An item counts for a dimension only when both sides
    score it; ``n`` says how many did.  Returns ``{"dimensions": {dim: {n, pearson, spearman,
    qwk, notes}}, "pearson_range": [min, max] over defined values, "paper_pearson_range"}``.
    """
    if not isinstance(human, Mapping) and not isinstance(judge, Mapping) and len(human) != len(judge):
        raise ValueError(f"human has {len(human)} items but judge has {len(judge)}; align them or key both by id")
    h, j = _by_id(human, "human"), _by_id(judge, "judge")
    common = [k for k in h if k in j]
    if not common:
        raise ValueError("human and judge scores share no item")
    per_dim = {}
    for d in dimensions:
        xs, ys = [], []
        for k in common:
            hs, js = h[k] or {}, j[k] or {}
            if hs.get(d) is None or js.get(d) is None:
                continue
            for side, v in (("human", hs[d]), ("judge", js[d])):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise TypeError(f"{side} scores of item {k!r}: {d} = {v!r} is not a number")
            xs.append(float(hs[d]))
            ys.append(float(js[d]))
        a, b = _pair(xs, ys)
        r, note_r = _pearson(a, b)
        rho, note_rho = _pearson(rankdata(a), rankdata(b)) if len(a) else (math.nan, "n=0")
        kappa, note_k = _qwk(a, b, 1, 5)
        notes = [f"{name}: {n}" for name, n in (("pearson", note_r), ("spearman", note_rho), ("qwk", note_k)) if n]
        per_dim[d] = {"n": len(a), "pearson": r, "spearman": rho, "qwk": kappa, "notes": notes}
    defined = [v["pearson"] for v in per_dim.values() if not math.isnan(v["pearson"])]
    return {
        "dimensions": per_dim,
        "items": len(common),
        "pearson_range": [min(defined), max(defined)] if defined else None,
        "paper_pearson_range": list(PAPER_AGREEMENT_PEARSON),
    }


def _read_jsonl(path: Path) -> dict[str, Any]:
    out = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[str(row["id"])] = row["scores"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: expected a JSON object with 'id' and 'scores' ({exc})") from None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spinemed.agreement", description=__doc__.split("\n")[0])
    parser.add_argument("human", type=Path, help="JSONL of human scores: {id, scores}")
    parser.add_argument("judge", type=Path, help="JSONL of judge scores: {id, scores}")
    args = parser.parse_args(argv)
    res = agreement(_read_jsonl(args.human), _read_jsonl(args.judge))
    print(f"{'dimension':<26}{'n':>5}{'pearson':>10}{'spearman':>10}{'qwk':>8}  notes")
    for d, v in res["dimensions"].items():
        print(f"{d:<26}{v['n']:>5}{v['pearson']:>10.3f}{v['spearman']:>10.3f}{v['qwk']:>8.3f}  {'; '.join(v['notes'])}")
    lo_hi = res["pearson_range"]
    paper = res["paper_pearson_range"]
    print(f"pearson range: {lo_hi[0]:.3f}-{lo_hi[1]:.3f} (paper: {paper[0]}-{paper[1]})" if lo_hi else "pearson undefined")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
