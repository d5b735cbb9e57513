"""Strategies the fuzz tests share: JSON values, and mutations of a valid JSON document."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
# Values a valid document's fields are easily confused with: wrong types, out-of-range numbers.
near_values = st.one_of(json_values, st.sampled_from([None, "", 0, -1, 1.5, 100.0, 101.0, float("nan"), float("inf"),
                                                      True, [], {}, "null", "NaN", 10**400]))

_DELETE = object()


def paths_of(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path inside `doc` (the root excluded)."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out.append((*prefix, key))
        out.extend(paths_of(value, (*prefix, key)))
    return out


def mutated(doc: Any, max_mutations: int = 3) -> st.SearchStrategy:
    """`doc` with 1..max_mutations fields replaced by another value or deleted."""
    paths = paths_of(doc)
    edit = st.tuples(st.sampled_from(paths), st.one_of(near_values, st.just(_DELETE)))

    def apply(edits: list) -> Any:
        out = copy.deepcopy(doc)
        for path, value in edits:
            parent = out
            try:
                for key in path[:-1]:
                    parent = parent[key]
                if value is _DELETE:
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = value
            except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the path
                continue
        return out

    return st.lists(edit, min_size=1, max_size=max_mutations).map(apply)
