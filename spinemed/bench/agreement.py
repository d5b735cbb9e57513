"""Agreement between reviewers on verification decisions (accept / fix / remove).

Where several reviewers decided the same item in the same round: percent agreement
(Fleiss' observed agreement, the mean over items of the share of agreeing reviewer pairs),
the share of items where all reviewers agree, Fleiss' kappa (the form for a varying number
of ratings per item) and Cohen's kappa per pair of reviewers with their mean (Light's kappa).
A kappa that is undefined on the data (every rating in one category: chance agreement is 1)
is None with a note, never 0 or 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any


def fleiss_kappa(units: Sequence[Sequence[str]], categories: Sequence[str]) -> tuple[float | None, float | None, str]:
    """(kappa, observed agreement P-bar, note) over units with >= 2 ratings each."""
    units = [list(u) for u in units if len(u) >= 2]
    if not units:
        return None, None, "no item was decided by two or more reviewers"
    totals: Counter = Counter()
    p_items = []
    for ratings in units:
        counts = Counter(ratings)
        n = len(ratings)
        totals.update(counts)
        p_items.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
    p_bar = sum(p_items) / len(p_items)
    n_ratings = sum(totals.values())
    p_e = sum((totals.get(c, 0) / n_ratings) ** 2 for c in categories)
    if p_e >= 1.0:
        only = next(iter(totals))
        return None, p_bar, f"every rating is {only!r}: chance agreement is 1, kappa undefined"
    return (p_bar - p_e) / (1.0 - p_e), p_bar, ""


def cohen_kappa(a: Sequence[str], b: Sequence[str], categories: Sequence[str]) -> tuple[float | None, str]:
    """(kappa, note) of two raters' labels on the same items."""
    if len(a) != len(b):
        raise ValueError(f"rater label lists differ in length ({len(a)} vs {len(b)})")
    n = len(a)
    if n == 0:
        return None, "no shared items"
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca.get(c, 0) * cb.get(c, 0) for c in categories) / (n * n)
    if p_e >= 1.0:
        return None, "both reviewers gave one and the same decision to every shared item: kappa undefined"
    return (p_o - p_e) / (1.0 - p_e), ""


def decision_agreement(ratings: Mapping[Hashable, Mapping[str, str]], categories: Sequence[str]) -> dict[str, Any]:
    """Agreement over ``{unit: {reviewer: decision}}``; units with one rating are ignored."""
    multi = {u: r for u, r in ratings.items() if len(r) >= 2}
    kappa, p_bar, note = fleiss_kappa([list(r.values()) for r in multi.values()], categories)
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in multi.values():
        for x, y in combinations(sorted(r), 2):
            pairs.setdefault((x, y), []).append((r[x], r[y]))
    cohen = []
    for (x, y), labels in sorted(pairs.items()):
        k, k_note = cohen_kappa([p[0] for p in labels], [p[1] for p in labels], categories)
        cohen.append({"reviewers": [x, y], "items": len(labels),
                      "agreement": round(sum(p == q for p, q in labels) / len(labels), 4),
                      "kappa": None if k is None else round(k, 4), "note": k_note})
    defined = [c["kappa"] for c in cohen if c["kappa"] is not None]
    notes = [note] if note else []
    if cohen and not defined:
        notes.append("Cohen's kappa is undefined for every reviewer pair")
    return {
        "items": len(multi),
        "ratings": sum(len(r) for r in multi.values()),
        "percent_agreement": None if p_bar is None else round(100.0 * p_bar, 2),
        "all_agree": round(sum(len(set(r.values())) == 1 for r in multi.values()) / len(multi), 4) if multi else None,
        "fleiss_kappa": None if kappa is None else round(kappa, 4),
        "cohen_kappa": cohen,
        "mean_cohen_kappa": round(sum(defined) / len(defined), 4) if defined else None,
        "decisions": dict(Counter(d for r in multi.values() for d in r.values())),
        "notes": notes,
    }
