"""Throughput and memory of spinemed.corpus.dedup.Deduper on synthetic EN/ZH passages.

Synthesises ``--n`` passages (80-120 Zipf-distributed pseudo-words, or ~150 Han characters
with CJK punctuation), of which ~5% are exact duplicates of an earlier passage with formatting
changes (case, spacing, full-width or missing punctuation) and ~5% are near duplicates (2-3 words
or 3 characters replaced).  Passages are regenerated from their index instead of stored, so the
RSS growth is the Deduper's own.  Prints items/s (timing only ``Deduper.check``), planted vs
found counts, and peak/current RSS per indexed item.

    .venv/bin/python benchmarks/bench_dedup.py --n 50000
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from spinemed.corpus.dedup import Deduper, shingles

_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
_HAN = [chr(0x4E00 + i) for i in range(3500)]
_ZH_PUNCT = "，。、；：（）"


def _vocabulary(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


class Corpus:
    """Deterministic passage generator: ``original(j)`` can be rebuilt at any time."""

    def __init__(self, seed: int, zh_fraction: float):
        self.seed = seed
        self.zh_fraction = zh_fraction
        self.words = _vocabulary(8000, seed)
        # Zipf(1) weights, like word frequencies in real text.
        self.word_cum = _cumulative([1.0 / (r + 1) for r in range(len(self.words))])
        self.han_cum = _cumulative([1.0 / (r + 1) ** 0.8 for r in range(len(_HAN))])

    def is_zh(self, j: int) -> bool:
        return random.Random(f"{self.seed}:lang:{j}").random() < self.zh_fraction

    def original(self, j: int) -> str:
        rng = random.Random(f"{self.seed}:text:{j}")
        if self.is_zh(j):
            chars = rng.choices(_HAN, cum_weights=self.han_cum, k=rng.randint(140, 160))
            for pos in range(rng.randint(8, 15), len(chars), rng.randint(10, 20)):
                chars[pos] = rng.choice(_ZH_PUNCT)
            return "".join(chars) + "。"
        words = rng.choices(self.words, cum_weights=self.word_cum, k=rng.randint(80, 120))
        words[0] = words[0].capitalize()
        for pos in range(rng.randint(8, 15), len(words), rng.randint(8, 18)):
            words[pos] += rng.choice(",.;:")
        return " ".join(words) + "."

    def reformat(self, text: str, rng: random.Random) -> str:
        """Same content, different formatting: must be caught as an exact duplicate."""
        kind = rng.randrange(4)
        if kind == 0:
            return text.upper()
        if kind == 1:
            return "  " + text.replace(" ", "   \n") + " "
        if kind == 2:  # full-width punctuation and letters
            return text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
        return "".join(ch for ch in text if ch not in ",.;:，。、；：（）")

    def edit(self, text: str, zh: bool, rng: random.Random) -> str:
        """2-3 words (EN) or 3 characters (ZH) replaced: a planted near duplicate."""
        if zh:
            chars = list(text)
            for pos in rng.sample(range(len(chars) - 1), 3):
                chars[pos] = rng.choice(_HAN)
            return "".join(chars)
        words = text.split(" ")
        for pos in rng.sample(range(len(words)), rng.randint(2, 3)):
            words[pos] = rng.choice(self.words)
        return " ".join(words)


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _jaccard(a: str, b: str, k: int) -> float:
    sa, sb = shingles(a, k), shingles(b, k)
    return len(sa & sb) / len(sa | sb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="passages to check (default 50,000)")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--zh-fraction", type=float, default=0.5)
    ap.add_argument("--dup-rate", type=float, default=0.05, help="fraction of exact and of near duplicates")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    corpus = Corpus(args.seed, args.zh_fraction)
    plan = random.Random(f"{args.seed}:plan")
    dd = Deduper(args.threshold, args.num_perm)
    rss_before = _rss_mb()
    originals: list[int] = []  # indices whose text is original(j); duplicates point at these
    planted = {"unique": 0, "exact": 0, "near": 0}
    bins = (0.0, args.threshold, args.threshold + 0.05, args.threshold + 0.1, 1.01)
    near_recall = [[0, 0] for _ in bins[:-1]]  # per true-Jaccard bin: [planted, found near]
    confusion: dict[tuple[str, str], int] = {}
    check_s = 0.0
    t_total = time.perf_counter()
    for i in range(args.n):
        u = plan.random()
        if originals and u < args.dup_rate:
            kind, j = "exact", plan.choice(originals)
            text = corpus.reformat(corpus.original(j), plan)
        elif originals and u < 2 * args.dup_rate:
            kind, j = "near", plan.choice(originals)
            source = corpus.original(j)
            text = corpus.edit(source, corpus.is_zh(j), plan)
            true_j = _jaccard(source, text, dd.k)
        else:
            kind = "unique"
            originals.append(i)
            text = corpus.original(i)
        planted[kind] += 1
        t0 = time.perf_counter()
        result = dd.check(f"item-{i}", text)
        check_s += time.perf_counter() - t0
        confusion[(kind, result.status)] = confusion.get((kind, result.status), 0) + 1
        if kind == "near":
            b = next(b for b in range(len(bins) - 1) if true_j < bins[b + 1])
            near_recall[b][0] += 1
            near_recall[b][1] += result.status == "near"
    total_s = time.perf_counter() - t_total
    rss_after = _rss_mb()

    print(f"n={args.n} threshold={args.threshold} num_perm={args.num_perm} bands={dd.bands} rows={dd.rows}")
    print(f"Deduper.check: {check_s:.1f} s -> {args.n / check_s:,.0f} items/s "
          f"(with passage synthesis: {args.n / total_s:,.0f} items/s)")
    print(f"planted: {planted}")
    print(f"found:   {dd.counts}  indexed: {len(dd)}")
    print("planted -> found: " + ", ".join(f"{p}->{f}: {c}" for (p, f), c in sorted(confusion.items())))
    print("near plants found, by true shingle Jaccard: " + ", ".join(
        f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}: {found}/{total}"
        for (lo, hi), (total, found) in zip(zip(bins, bins[1:]), near_recall)
    ))
    grown = rss_after - rss_before
    print(f"RSS: before {rss_before:.0f} MiB, after {rss_after:.0f} MiB, peak {_peak_rss_mb():.0f} MiB; "
          f"growth {grown:.0f} MiB = {grown * 2**20 / max(len(dd), 1):,.0f} bytes per indexed item")


if __name__ == "__main__":
    main()
