"""Docs that cannot drift: the code blocks of the README, docs/, the metric card and the cards the
demo renders run here, against the demo's output in a temporary folder laid out like a checkout.

- ```python blocks run in order, one namespace per file (a later block may use an earlier one's
  variables); a block of `>>>` examples runs as a doctest.  A block whose first line is a visible
  ``# needs: network`` / ``# needs: GPU`` (anything after ``needs:``) is skipped, and says why.
- Shell blocks (```bash, ```sh) run only when the line before the fence is ``<!-- test -->``
  (most shell blocks install things or reach the Hub), with `spinemed` on PATH.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spinemed.cli import main as cli_main
from spinemed.paths import KIT_FOLDERS

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
NEEDS = re.compile(r"^\s*#\s*needs:\s*(.+)$", re.IGNORECASE)
SHELL = {"bash", "sh", "shell"}

# Checked-in Markdown whose snippets users copy; the demo's rendered cards are added below.
DOC_FILES = sorted({ROOT / "README.md", *ROOT.glob("docs/*.md"), ROOT / "evaluate_metric" / "spinebench" / "README.md",
                    ROOT / "training" / "README.md", ROOT / "space_app" / "README.md"})
RENDERED_CARDS = ("spinemed-450k/README.md", "spinemed-450k-release/README.md", "spinebench/README.md")


def blocks(text: str) -> list[tuple[str, str, bool, int]]:
    """(language, code, marked <!-- test -->, line) of every fenced block."""
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        out.append((m.group(1).lower(), m.group(2), before == "<!-- test -->", text.count("\n", 0, m.start()) + 1))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder laid out like a checkout after `spinemed demo` (the kit's folders linked in)."""
    work = tmp_path_factory.mktemp("docs")
    assert cli_main(["demo", "--out", str(work / "demo_out")]) == 0
    for name in KIT_FOLDERS:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    # The cards' offline examples load the folder a download with --local-dir <repo name> writes.
    (work / "SpineBench").symlink_to(work / "demo_out" / "spinebench", target_is_directory=True)
    (work / "SpineMed-450k").symlink_to(work / "demo_out" / "spinemed-450k-release", target_is_directory=True)
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "spinemed"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m spinemed.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return work


def run_file(path: Path, label: str, workdir: Path, monkeypatch) -> tuple[int, list[str]]:
    """Run `path`'s blocks in `workdir`; returns (blocks run, skipped with their reasons)."""
    monkeypatch.chdir(workdir)
    namespace: dict = {"__name__": "__snippet__"}
    ran, skipped = 0, []
    for lang, code, marked, line in blocks(path.read_text(encoding="utf-8")):
        where = f"{label}:{line}"
        first = code.lstrip("\n").split("\n", 1)[0]
        if lang == "python":
            if m := NEEDS.match(first):
                skipped.append(f"{where} needs {m.group(1).strip()}")
                continue
            if re.search(r"^\s*>>> ", code, re.MULTILINE):
                test = doctest.DocTestParser().get_doctest(code, namespace, where, str(path), line)
                result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS).run(test, clear_globs=False)
                namespace.update(test.globs)  # a DocTest runs in a copy of the namespace
                assert result.failed == 0, f"{where}: {result.failed} example(s) failed"
            else:
                try:
                    exec(compile(code, where, "exec"), namespace)
                except Exception as exc:
                    pytest.fail(f"{where}: the python block fails: {type(exc).__name__}: {exc}\n{code}")
            ran += 1
        elif lang in SHELL and marked:
            env = {**os.environ, "PATH": f"{workdir / '.bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=workdir, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert proc.returncode == 0, f"{where}: the shell block exits {proc.returncode}:\n{code}\n{proc.stderr[-3000:]}"
            ran += 1
    return ran, skipped


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_snippets_run(path, workdir, monkeypatch):
    ran, skipped = run_file(path, path.relative_to(ROOT).as_posix(), workdir, monkeypatch)
    for reason in skipped:
        print("skipped:", reason)


@pytest.mark.parametrize("card", RENDERED_CARDS)
def test_rendered_card_snippets_run(card, workdir, monkeypatch):
    ran, skipped = run_file(workdir / "demo_out" / card, card, workdir, monkeypatch)
    assert ran >= 1, f"{card}: no runnable example (skipped: {skipped})"


def test_runner_skips_only_marked_blocks_and_fails_on_drift(tmp_path, monkeypatch):
    doc = tmp_path / "doc.md"
    doc.write_text("```python\nx = 1\n```\n\n```python\n# needs: network\nraise SystemExit\n```\n\n```bash\nexit 1\n```\n\n"
                   "<!-- test -->\n```bash\ntest -d demo_out\n```\n\n```python\nassert x == 1\nundefined_name\n```\n", encoding="utf-8")
    (tmp_path / "demo_out").mkdir()
    (tmp_path / ".bin").mkdir()
    with pytest.raises(pytest.fail.Exception, match=r"doc.md:19: the python block fails: NameError"):
        run_file(doc, "doc.md", tmp_path, monkeypatch)
