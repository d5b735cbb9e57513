"""The house rules of docs/architecture.md, checked on the source: no import cycles (function-level
imports included), each part imports only the parts listed above it, no package folder named
`build`, and the library never imports the test tools."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spinemed"

# docs/architecture.md's order: a part may import the parts before it (and the foundation).
FOUNDATION = {"spinemed", "text", "fileio", "paths", "extras", "config", "prompts", "schema", "levels", "choices", "lexicon",
              "resources", "progress", "ocr"}
LAYERS = ["deid", "llm", "models", "hub", "corpus", "judge", "scoring", "bench", "evaluation", "training", "metric",
          "space", "cli"]


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the kit's modules it imports anywhere in its body (lazy imports included)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: None if is_pkg else -1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                subs = [f"{module}.{a.name}" for a in node.names]
                # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg
                targets = [t for t in subs if t in mods] + ([module] if any(t not in mods for t in subs) else [])
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("spinemed"):
                    edges[name].add(target)
    return edges


def _cycles(edges: dict[str, set[str]], nodes) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "spinemed"


@pytest.fixture(scope="module")
def graph():
    mods = _modules()
    return mods, _imports(mods)


def test_no_import_cycles(graph):
    mods, edges = graph
    assert _cycles(edges, mods) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, "abcd") == [["a", "b", "c"]]


def test_every_part_is_placed():
    parts = {_part(m) for m in _modules()}
    assert parts <= FOUNDATION | set(LAYERS), f"add {sorted(parts - FOUNDATION - set(LAYERS))} to docs/architecture.md and LAYERS"


def test_parts_import_only_parts_above_them(graph):
    _, edges = graph
    rank = {p: i for i, p in enumerate(LAYERS)}
    wrong = sorted({(_part(a), _part(b)) for a, bs in edges.items() for b in bs
                    if _part(a) != _part(b) and _part(b) not in FOUNDATION
                    and (_part(a) in FOUNDATION or rank[_part(b)] > rank[_part(a)])})
    assert wrong == [], f"imports against the layering of docs/architecture.md: {wrong}"


def test_foundation_imports_only_the_foundation(graph):
    _, edges = graph
    wrong = sorted({(a, b) for a, bs in edges.items() for b in bs if _part(a) in FOUNDATION and _part(b) not in FOUNDATION})
    assert wrong == []


def test_no_package_folder_named_build_and_no_test_tools_in_the_library():
    assert not [p for p in PACKAGE.rglob("build") if p.is_dir()]
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "simserver" not in text and "from tools" not in text and "import tools" not in text, path
