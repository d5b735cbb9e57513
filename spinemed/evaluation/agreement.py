"""Human-vs-judge agreement per report dimension: Pearson, Spearman, quadratic-weighted kappa.

numpy only, so the kit does not pull scipy / scikit-learn in for three formulas.
A statistic that is undefined on the data (a constant vector has no variance, so no
correlation; two identical constant raters leave kappa 0/0) is returned as ``nan`` with a
note saying why, never as 0 or 1.  The paper reports Pearson 0.382-0.949 across dimensions
(:data:`spinemed.scoring.PAPER_AGREEMENT_PEARSON`).

Command line::

    spinemed eval agreement human.jsonl judge.jsonl
    spinemed eval agreement human.jsonl out/judge.json

Each file is either JSONL, one ``{"id": ..., "scores": {dimension: score, ...}}`` per line,
or a judge run as JSON (``JudgeRun.to_json()``, the ``judge.json`` that ``spinemed eval``
writes; its failed judgements are listed, not compared).  Items are matched by id; ids found
in only one file are listed.  Bad input (a missing file, a malformed line, no shared id)
prints ``error: ...`` naming the file and line and exits with status 2.
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

from spinemed.judge.records import JudgeRun
from spinemed.schema import DIMENSIONS
from spinemed.scoring import PAPER_AGREEMENT_PEARSON

__all__ = [
    "InputError", "add_arguments", "agreement", "main", "pearson", "quadratic_weighted_kappa", "rankdata", "read_scores",
    "run", "spearman",
]

DESCRIPTION = __doc__.split("\n")[0]


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
    qwk, notes}}, "items": shared ids, "only_human" / "only_judge": ids on one side only,
    "pearson_range": [min, max] over defined values, "paper_pearson_range"}``.
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
        "only_human": [k for k in h if k not in j],
        "only_judge": [k for k in j if k not in h],
        "pearson_range": [min(defined), max(defined)] if defined else None,
        "paper_pearson_range": list(PAPER_AGREEMENT_PEARSON),
    }


class InputError(ValueError):
    """Bad agreement input; the message names the file (and line)."""


def _check_scores(scores: Any, where: str) -> dict[str, Any]:
    if not isinstance(scores, Mapping):
        raise InputError(f"{where}: 'scores' must be an object of dimension -> score, got {json.dumps(scores)[:60]}")
    unknown = sorted(k for k in scores if k not in DIMENSIONS)
    if unknown:
        raise InputError(f"{where}: unknown dimension(s) {', '.join(unknown)}; valid: {', '.join(DIMENSIONS)}")
    for d, v in scores.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise InputError(f"{where}: {d} = {json.dumps(v)} is not a number")
    return dict(scores)


def read_scores(path: str | Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Scores by item id from a JSONL file of ``{id, scores}`` or a JudgeRun JSON.

    Returns ``(scores, failed)``: `failed` lists the ids whose judgement failed (JudgeRun
    only).  Raises :class:`InputError` naming the file and line for anything malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and "results" in whole:
        return _read_judge_run(whole, path)
    out: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict) or "id" not in row or "scores" not in row:
            raise InputError(f"{where}: expected a JSON object with 'id' and 'scores' (or a judge run JSON file)")
        key = str(row["id"])
        if key in out:
            raise InputError(f"{where}: id {key!r} appears more than once")
        out[key] = _check_scores(row["scores"], where)
    if not out:
        raise InputError(f"{path}: no scores (the file is empty)")
    return out, []


def _read_judge_run(data: Mapping[str, Any], path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    try:
        run = JudgeRun.from_json(data, str(path))
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    scores, failed = {}, []
    for n, r in enumerate(run.results):
        if r.ok:
            scores[str(r.id)] = _check_scores(r.scores, f"{path}: results[{n}] (id {r.id!r})")
        elif r.status != "missing_output":
            failed.append(str(r.id))
    return scores, failed


def _no_nan(value: Any) -> Any:
    """nan -> None, so the --json output is valid JSON (undefined statistics keep their notes)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.3f}"


def _id_list(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (``spinemed eval agreement``)."""
    parser.add_argument("human", type=Path, help="human scores: JSONL of {id, scores}")
    parser.add_argument("judge", type=Path, help="judge scores: JSONL of {id, scores}, or a judge run JSON (judge.json)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Compare the two files, print the table (or JSON); 0 done, 2 bad input."""
    try:
        human, human_failed = read_scores(args.human)
        judge, judge_failed = read_scores(args.judge)
        if not set(human) & set(judge):
            raise InputError(
                f"{args.human} ({len(human)} ids) and {args.judge} ({len(judge)} ids) share no item id "
                f"(e.g. {next(iter(human))!r} vs {next(iter(judge))!r})"
            )
        res = agreement(human, judge)
    except (InputError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = human_failed + judge_failed
    only_h = res["only_human"] = [k for k in res["only_human"] if k not in failed]
    only_j = res["only_judge"] = [k for k in res["only_judge"] if k not in failed]
    res["judge_failed"] = failed
    if args.json:
        print(json.dumps(_no_nan(res), indent=2))
        return 0
    print(f"{'dimension':<26}{'n':>5}{'pearson':>10}{'spearman':>10}{'qwk':>8}  notes")
    for d, v in res["dimensions"].items():
        print(f"{d:<26}{v['n']:>5}{_fmt(v['pearson']):>10}{_fmt(v['spearman']):>10}{_fmt(v['qwk']):>8}  {'; '.join(v['notes'])}")
    lo_hi = res["pearson_range"]
    paper = res["paper_pearson_range"]
    print(f"pearson range: {lo_hi[0]:.3f}-{lo_hi[1]:.3f} (paper: {paper[0]}-{paper[1]})" if lo_hi else "pearson undefined")
    print(f"items compared: {res['items']}")
    if only_h:
        print(f"only in {args.human}: {len(only_h)} id(s): {_id_list(only_h)}")
    if only_j:
        print(f"only in {args.judge}: {len(only_j)} id(s): {_id_list(only_j)}")
    if failed:
        print(f"judgement failed (not compared): {len(failed)} id(s): {_id_list(failed)}")
    return 0



def main(argv: Sequence[str] | None = None) -> int:
    """``spinemed eval agreement`` on its own parser (for callers holding an argument list)."""
    parser = argparse.ArgumentParser(prog="spinemed eval agreement", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
