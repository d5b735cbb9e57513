"""Distribution-matched sampling of SpineBench candidates from a built corpus folder.

Targets (default 500 MCQ + 100 report tasks, as the paper sampled before verification left
487 + 87) follow the corpus: for each stratification dimension (sub-field, language,
modality, source type) the target count of a value is ``n x`` its share of the config's
rows.  Sampling is marginal-balanced stratified sampling: rows are grouped into cells (one
per combination of the four values); each step takes the next row of the cell whose values
have the largest total remaining deficit against their targets (ties broken by a seeded
random rank), and rows inside a cell come in seeded random order.  This matches every
marginal to within rounding even when the bench is smaller than the number of cells, where
proportional allocation over joint cells would round most cells to zero; where the greedy pass
still leaves a marginal off by 1 or more, a repair pass swaps picked rows for unpicked ones.

A row that is a near duplicate of a row already taken (the decontamination comparison,
:func:`spinemed.bench.decontam.overlap_text`, at the same threshold) is skipped and counted,
so no two bench items leak each other.

Scaling: the bench never takes more than ``max_share`` (default 30%) of a config's rows, so
the training release keeps most of the corpus.  When the requested targets exceed that (the
shipped sample corpus has ~130 MCQ and ~17 reports), both targets are scaled by the same
factor, keeping the MCQ : report ratio, and the output says so.  A non-zero request that the
shared factor would round to 0 (``--mcq 5`` next to 100 reports) is floored at 1 with a
printed warning rather than silently dropped; a config too small to give even one item
within ``max_share`` is refused.
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinemed.corpus.dedup import Deduper

from .decontam import DEFAULT_THRESHOLD, overlap_text
from .folders import folder_configs, folder_manifest, read_folder_rows

SAMPLE_FORMAT = "spinebench-sample/1"
DEFAULT_TARGETS = {"mcq": 500, "report": 100}
DEFAULT_MAX_SHARE = 0.3
DIMENSIONS = ("subfield", "language", "modality", "source_type")
_META_COLUMNS = {
    "mcq": ["id", "task", "language", "modality", "subfield", "provenance", "question", "options"],
    "report": ["id", "task", "language", "modality", "subfield", "provenance", "case"],
}


def _strata(row: Mapping[str, Any]) -> tuple[str, ...]:
    return (str(row["subfield"]), str(row["language"]), str(row["modality"]),
            str((row.get("provenance") or {}).get("source_type", "")))


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def plan_targets(pool: Mapping[str, int], requested: Mapping[str, int],
                 max_share: float = DEFAULT_MAX_SHARE) -> tuple[dict[str, int], float, str, list[str]]:
    """(targets per config, scale factor, note, warnings).  One factor for all configs keeps
    their ratio; a non-zero request it would round to 0 is floored at 1 and warned about."""
    if not 0 < max_share <= 1:
        raise ValueError(f"max_share must be in (0, 1], got {max_share!r}")
    for config, n in requested.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"target for {config!r} must be an int >= 0, got {n!r}")
        if n and not pool.get(config):
            raise ValueError(f"the corpus has no {config!r} rows to sample {n} candidates from")
    limits = {c: max_share * pool[c] / n for c, n in requested.items() if n}
    scale = min([1.0, *limits.values()])
    targets: dict[str, int] = {}
    warnings: list[str] = []
    for c, n in requested.items():
        targets[c] = _round_half_up(n * scale)
        if n and not targets[c]:
            if max_share * pool[c] < 1:
                raise ValueError(f"the corpus has only {pool[c]} {c!r} row(s): a bench may take at most "
                                 f"{max_share:.0%} of a config, which is less than one item; ask for 0 {c} "
                                 "candidates or raise max_share")
            targets[c] = 1
            warnings.append(f"{c}: {n} requested x{scale:.3f} = {n * scale:.2f} rounds to 0; taking 1 instead "
                            f"so the {c} part is not silently empty (the ratio between configs is no longer kept)")
    if scale < 1.0:
        tight = min(limits, key=limits.get)
        ask = " + ".join(f"{n} {c}" for c, n in requested.items())
        have = " + ".join(f"{pool.get(c, 0)} {c}" for c in requested)
        got = " + ".join(f"{n} {c}" for c, n in targets.items())
        note = (f"targets scaled down x{scale:.3f} (same factor for every config): requested {ask}, "
                f"the corpus has {have} rows and a bench may take at most {max_share:.0%} of a config "
                f"(limited by {tight}) -> {got}")
    else:
        note = "targets as requested (the corpus is large enough)"
    return targets, scale, note, warnings


def select_stratified(rows: list[Mapping[str, Any]], n: int, *, seed: int, config: str,
                      deduper: Deduper | None = None) -> tuple[list[str], dict[str, Any]]:
    """Pick `n` row ids matching the rows' marginal distributions; returns (ids, report).

    `deduper` (shared across configs) rejects rows that are near duplicates of rows already
    picked.  The report has, per dimension and value, the corpus count and share, the
    target (fractional) and the achieved count, plus the near duplicates skipped.
    """
    total = len(rows)
    rng = random.Random(f"spinebench-sample:{seed}:{config}")
    cells: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):  # input order never matters
        cells.setdefault(_strata(row), []).append(row)
    for members in cells.values():
        rng.shuffle(members)
        members.reverse()  # pop() from the end takes them in shuffled order
    rank = {key: rng.random() for key in sorted(cells)}
    corpus = [Counter(_strata(r)[d] for r in rows) for d in range(len(DIMENSIONS))]
    target = [{v: n * c / total for v, c in counts.items()} for counts in corpus] if total else []
    achieved = [Counter() for _ in DIMENSIONS]
    picked: list[str] = []
    skipped = 0
    while len(picked) < n and cells:
        key = max(cells, key=lambda k: (sum(target[d][k[d]] - achieved[d][k[d]] for d in range(len(DIMENSIONS))),
                                        rank[k]))
        row = cells[key].pop()
        if not cells[key]:
            del cells[key]
        if deduper is not None and deduper.check(row["id"], overlap_text(row)).is_duplicate:
            skipped += 1
            continue
        picked.append(row["id"])
        for d in range(len(DIMENSIONS)):
            achieved[d][key[d]] += 1
    skipped += _repair(picked, rows, cells, target, achieved, deduper)
    distribution = {
        dim: {value: {"corpus": corpus[d][value], "corpus_share": round(corpus[d][value] / total, 4),
                      "target": round(target[d][value], 2), "achieved": achieved[d][value]}
              for value in sorted(corpus[d], key=lambda v: (-corpus[d][v], v))}
        for d, dim in enumerate(DIMENSIONS)
    }
    report = {"pool": total, "target": n, "selected": len(picked), "skipped_near_duplicates": skipped,
              "distribution": distribution}
    if len(picked) < n:
        report["shortfall"] = n - len(picked)
    return picked, report


def _repair(picked: list[str], rows: list[Mapping[str, Any]], cells: dict[tuple[str, ...], list[Mapping[str, Any]]],
            target: list[dict[str, float]], achieved: list[Counter], deduper: Deduper | None) -> int:
    """Swap picked rows for unpicked ones while a marginal is still off its target by 1 or more.

    The greedy pass alone can overshoot one value when the cells that would fill the other
    dimensions' deficits all carry it (seen on the sample corpus once DICOM studies joined it).
    Each swap exchanges one picked row for the next row of another cell, chosen to lower the
    summed excess over the +-1 band (then the summed deviation); it stops when every marginal
    is within 1 or no swap helps.  A sample the greedy pass already got right is unchanged.
    Returns the near duplicates skipped on the way."""
    dims = range(len(DIMENSIONS))

    def excess(x: float) -> float:
        return max(0.0, x - 0.999)

    def cost() -> tuple[float, float]:
        dev = [abs(achieved[d][v] - t) for d in dims for v, t in target[d].items()]
        return sum(excess(x) for x in dev), sum(dev)

    def delta(out_key: tuple[str, ...], in_key: tuple[str, ...]) -> tuple[float, float]:
        """Change of cost() if one row of out_key is swapped for one of in_key (only the values
        of the two cells move, so the full sum is not recomputed for each of the many pairs)."""
        dx = dd = 0.0
        for d in dims:
            o, i = out_key[d], in_key[d]
            if o == i:
                continue
            for v, step in ((o, -1), (i, 1)):
                old = abs(achieved[d][v] - target[d][v])
                new = abs(achieved[d][v] + step - target[d][v])
                dx += excess(new) - excess(old)
                dd += new - old
        return dx, dd

    key_of = {r["id"]: _strata(r) for r in rows}
    skipped = 0
    for _ in range(4 * len(picked)):
        if cost()[0] == 0:
            break
        best = None
        for out_key in sorted({key_of[i] for i in picked}):
            for in_key in sorted(k for k in cells if k != out_key):
                trial = delta(out_key, in_key)
                better = trial[0] < -1e-9 or (trial[0] <= 1e-9 and trial[1] < -1e-9)
                if better and (best is None or trial < best[0]):
                    best = (trial, out_key, in_key)
        if best is None:
            break
        _, out_key, in_key = best
        row = cells[in_key].pop()
        if not cells[in_key]:
            del cells[in_key]
        if deduper is not None and deduper.check(row["id"], overlap_text(row)).is_duplicate:
            skipped += 1
            continue
        out_id = next(i for i in reversed(picked) if key_of[i] == out_key)
        picked[picked.index(out_id)] = row["id"]
        for d in dims:
            achieved[d][out_key[d]] -= 1
            achieved[d][in_key[d]] += 1
    return skipped


def sample_candidates(
    corpus_dir: str | os.PathLike,
    *,
    targets: Mapping[str, int] | None = None,
    seed: int = 0,
    max_share: float = DEFAULT_MAX_SHARE,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Draw the candidate set from a built SpineMed-450k folder; returns the sample record
    (what `spinemed bench sample` stores as WORK/sample.json).

    `corpus` names the build by name, version and content hash (what the release publishes);
    `corpus_path` is where it lies on this machine, for the review workspace only.
    """
    corpus_dir = Path(corpus_dir)
    manifest = folder_manifest(corpus_dir)
    requested = dict(DEFAULT_TARGETS if targets is None else targets)
    unknown = set(requested) - set(DEFAULT_TARGETS)
    if unknown:
        raise ValueError(f"unknown SpineBench config(s) {sorted(unknown)}; expected {list(DEFAULT_TARGETS)}")
    available = folder_configs(manifest)
    pools = {c: [r for r in read_folder_rows(corpus_dir, c, manifest=manifest, columns=_META_COLUMNS[c])]
             for c in requested if c in available}
    targets_, scale, note, warnings = plan_targets({c: len(p) for c, p in pools.items()}, requested, max_share)
    deduper = Deduper(threshold=threshold)
    configs: dict[str, Any] = {}
    candidates: dict[str, list[str]] = {}
    for config in requested:
        ids, report = select_stratified(pools.get(config, []), targets_[config], seed=seed, config=config,
                                        deduper=deduper)
        candidates[config], configs[config] = ids, report
    return {
        "format": SAMPLE_FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "corpus": {"name": manifest.get("name"), "version": manifest.get("version"),
                   "content_hash": manifest["content_hash"]},
        "corpus_path": str(corpus_dir.resolve()),
        "seed": seed,
        "threshold": threshold,
        "max_share": max_share,
        "dimensions": list(DIMENSIONS),
        "method": "marginal-balanced stratified sampling (greedy largest remaining deficit over sub-field, "
                  "language, modality and source type; seeded random order within cells; near duplicates skipped)",
        "requested": requested,
        "scale": round(scale, 4),
        "scaled": scale < 1.0,
        "note": note,
        "warnings": warnings,
        "targets": targets_,
        "configs": configs,
        "candidates": candidates,
    }


def format_sampling(sample: Mapping[str, Any]) -> str:
    """Achieved vs target distribution, per config and dimension, for the terminal."""
    corpus = sample["corpus"]
    lines = [f"SpineBench candidates from {corpus['name']} {corpus['version']} (seed {sample['seed']})",
             ("NOTE: " if sample["scaled"] else "") + sample["note"]]
    lines += [f"WARNING: {w}" for w in sample.get("warnings") or []]
    for config, rep in sample["configs"].items():
        lines.append(f"\n{config}: {rep['selected']} of target {rep['target']} from {rep['pool']} rows"
                     + (f", {rep['skipped_near_duplicates']} near duplicate(s) skipped"
                        if rep["skipped_near_duplicates"] else "")
                     + (f"  SHORT BY {rep['shortfall']}" if rep.get("shortfall") else ""))
        for dim, values in rep["distribution"].items():
            lines.append(f"  {dim:<12} {'value':<34}{'corpus':>8}{'target':>9}{'achieved':>10}")
            for value, v in values.items():
                lines.append(f"  {'':<12} {value or '(none)':<34}{v['corpus']:>8}{v['target']:>9.2f}{v['achieved']:>10}")
    return "\n".join(lines)
