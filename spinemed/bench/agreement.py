"""Agreement between reviewers on verification decisions (accept / fix / remove).

Where several reviewers decided the same item in the same round: percent agreement
(Fleiss' observed agreement, the mean over items of the share of agreeing reviewer pairs),
the share of items where all reviewers agree, Fleiss' kappa (the form for a varying number
of ratings per item) and Cohen's kappa per pair of reviewers with their mean (Light's kappa).
A kappa that is undefined on the data (every rating in one category: chance agreement is 1)
is None with a note, never 0 or 1.

Two reviewers agree when they make the same decision *and*, for fixes, the same corrections:
two "fix" decisions that set one field to different values are a disagreement (they block the
build as a conflict), so each distinct set of corrections is its own category for the kappas.
"""

from __future__ import annotations

import json
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
    p_e = sum((totals.get(c, 0) / n_ratings) ** 2 for c in {*categories, *totals})
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
    p_e = sum(ca.get(c, 0) * cb.get(c, 0) for c in {*categories, *ca, *cb}) / (n * n)
    if p_e >= 1.0:
        return None, "both reviewers gave one and the same decision to every shared item: kappa undefined"
    return (p_o - p_e) / (1.0 - p_e), ""


def rating_label(decision: str, corrections: Mapping[str, str] | None = None) -> str:
    """What agreement compares: the decision, plus the corrected values of a fix.

    ``fix`` with corrections ``{"answer": "B"}`` gives ``'fix {"answer": "B"}'``, so two fixes
    agree only when they set the same fields to the same values."""
    if not corrections:
        return decision
    return f"{decision} {json.dumps(dict(sorted(corrections.items())), ensure_ascii=False)}"


def decision_agreement(ratings: Mapping[Hashable, Mapping[str, str]], categories: Sequence[str],
                       corrections: Mapping[Hashable, Mapping[str, Mapping[str, str]]] | None = None) -> dict[str, Any]:
    """Agreement over ``{unit: {reviewer: decision}}``; units with one rating are ignored.

    corrections: ``{unit: {reviewer: {field: corrected value}}}`` of fix decisions; reviewers
    agree only on the same decision with the same corrections (:func:`rating_label`).
    ``decisions`` counts the plain decisions; ``fix_value_disagreements`` counts units where
    every reviewer chose fix but their corrections differ.
    """
    corrections = corrections or {}
    multi = {u: {rv: rating_label(d, (corrections.get(u) or {}).get(rv)) for rv, d in r.items()}
             for u, r in ratings.items() if len(r) >= 2}
    plain = {u: ratings[u] for u in multi}
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
        "decisions": dict(Counter(d for r in plain.values() for d in r.values())),
        "fix_value_disagreements": sum(set(plain[u].values()) == {"fix"} and len(set(r.values())) > 1
                                       for u, r in multi.items()),
        "notes": notes,
    }
