"""Level-label precision and recall: the finding-aware parser against the old "every mention" one.

Reads labelled sentences (JSONL: ``text``, gold ``levels``, ``language``, ``trap``) and reports
micro precision / recall / F1 over levels, overall and per trap kind (dermatome, myotome, root,
construct, count, negated, plain), for

* ``baseline``: the parser before the finding rules, which kept every level a text names (the
  old ``parse_levels``; kept here, not in the library, to measure against), and
* ``parse_levels``: the library's parser, which keeps the levels a finding is about.

    PYTHONPATH=. python benchmarks/bench_levels.py                      # gold + held-out sets 1 to 5
    PYTHONPATH=. python benchmarks/bench_levels.py --data FILE.jsonl    # any labelled file
    PYTHONPATH=. python benchmarks/bench_levels.py --errors             # list each wrong sentence

``benchmarks/data/levels_gold.jsonl`` (205 sentences) is the development set the rules were
written against; ``benchmarks/data/levels_heldout.jsonl`` was written afterwards from separate
phrase lists (``benchmarks/data/make_levels_heldout.py``); its errors were known when the cue
vocabulary was added (docs/levels.md), so it is no longer blind.  ``levels_heldout2.jsonl``
(204 sentences) was written blind, by someone who had not seen the rules; its errors drove the
round-2 families (docs/levels.md), so since round 2 it is a development set too.
``levels_heldout3.jsonl`` (199 sentences), written blind by someone else, measured the round-2
parser (P 94.8% R 99.3%); its errors drove the round-3 families, so since round 3 it is a
development set as well.  ``levels_heldout4.jsonl`` (187 sentences), written blind by someone
who had not seen the rules, measured the round-3 parser (P 88.3% R 100%); its errors drove the
round-4 families, so since round 4 it is a development set too.  ``levels_heldout5.jsonl``
(179 sentences), written blind by someone who had not seen the rules, measured the round-4 parser
(P 72.2% R 99.4%); its errors drove the round-5 families, so since round 5 it is a development set too.
``levels_heldout6.jsonl`` (186 sentences), written blind after round 5, has never been used to change a
rule: its figure (P 94.0% R 99.0% for the round-5 parser) is the current blind estimate.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from spinemed.levels import level_mentions, level_sort_key, parse_levels

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SETS = [DATA / "levels_gold.jsonl", DATA / "levels_heldout.jsonl", DATA / "levels_heldout2.jsonl",
                DATA / "levels_heldout3.jsonl", DATA / "levels_heldout4.jsonl", DATA / "levels_heldout5.jsonl",
                DATA / "levels_heldout6.jsonl"]  # heldout6: blind, never used to change a rule


def baseline_parse_levels(text: str) -> list[str]:
    """BASELINE: the old parser, every level the text names (notation rules only: no
    dermatome, construct, count or negation rules)."""
    return sorted({lv for _start, _end, levels in level_mentions(text) for lv in levels}, key=level_sort_key)


PARSERS = {"baseline (every mention)": baseline_parse_levels, "parse_levels (findings)": parse_levels}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(rows: list[dict], parse) -> dict:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errors = []
    start = time.perf_counter()
    for row in rows:
        got, gold = set(parse(row["text"])), set(row["levels"])
        c = (len(got & gold), len(got - gold), len(gold - got))
        for key in ("all", f"trap:{row['trap']}", f"lang:{row['language']}"):
            counts[key] = [a + b for a, b in zip(counts[key], c)]
        if got != gold:
            errors.append((row.get("id", ""), row["text"], sorted(gold), sorted(got)))
    seconds = time.perf_counter() - start
    return {"counts": dict(counts), "errors": errors, "sentences_per_s": len(rows) / seconds if seconds else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, action="append", help="labelled JSONL (repeatable; default: gold + held-out 1, 2 and 3)")
    ap.add_argument("--errors", action="store_true", help="print each sentence the finding parser gets wrong")
    args = ap.parse_args()
    for path in args.data or DEFAULT_SETS:
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        gold_levels = sum(len(r["levels"]) for r in rows)
        print(f"\n{path.name}: {len(rows)} sentences, {gold_levels} gold levels")
        results = {name: evaluate(rows, fn) for name, fn in PARSERS.items()}
        keys = ["all"] + sorted(k for k in results[next(iter(results))]["counts"] if k != "all")
        print(f"  {'':28s}" + "".join(f"{name:>34s}" for name in results))
        print(f"  {'':28s}" + "".join(f"{'P      R      F1   (tp/fp/fn)':>34s}" for _ in results))
        for key in keys:
            cells = []
            for res in results.values():
                tp, fp, fn = res["counts"].get(key, [0, 0, 0])
                p, r, f = prf(tp, fp, fn)
                cells.append(f"{p:6.1%} {r:6.1%} {f:6.1%} ({tp}/{fp}/{fn})")
            print(f"  {key:28s}" + "".join(f"{c:>34s}" for c in cells))
        for name, res in results.items():
            print(f"  {name}: {res['sentences_per_s']:.0f} sentences/s, {len(res['errors'])} sentences wrong")
        if args.errors:
            for sid, text, gold, got in results["parse_levels (findings)"]["errors"]:
                print(f"    {sid}: {text}\n      gold {gold}  got {got}")


if __name__ == "__main__":
    main()
