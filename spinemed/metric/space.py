"""Publish the SpineBench `evaluate` metric as a Hub metric Space.

The metric module (``evaluate_metric/spinebench/``) is a thin wrapper: every number comes from
``spinemed.scoring``.  A Space installs what its ``requirements.txt`` names: by default
:func:`prepare_metric_space` copies the metric folder with ``spinemed==<this version>``, the
release on the package index (docs/release.md publishes it first).  For a version that is not on
the index yet, ``bundle_wheel=True`` ships the kit with the Space instead: a pure-Python wheel of
the kit next to the module, installed by relative path (``./spinemed-<ver>-py3-none-any.whl``).
:func:`publish_metric_space` uploads the prepared folder with ``huggingface_hub``.

pip resolves a relative path in a requirements file against its working directory, not the
file's folder, so the relative form needs pip to run in the Space's root with the repository
files present.  Where a Space builder installs the requirements before copying the
repository, use ``wheel_ref="hub"``: the requirement then names the wheel's URL in the
(public) Space itself, ``spinemed @ <endpoint>/spaces/<repo>/resolve/main/<wheel>``.

The wheel is built from a copy of the checkout's ``pyproject.toml``, ``setup.py``, ``README.md``,
the kit's folders and the ``spinemed/`` files that `spinemed.hub.library_files` lists (the same
files the app Space ships; so no ``build/`` or ``*.egg-info`` lands in the checkout), with pip and, when setuptools
is installed, without build isolation or an index: nothing is downloaded.  Creating the Space
and uploading go through `spinemed.hub.push`, like every other Hub flow.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from spinemed import __version__
from spinemed.fileio import atomic_write_text
from spinemed.hub.publish import PublishError, PublishPlan, check_repo_id, hub_endpoint, library_files, push, repo_url
from spinemed.paths import KIT_FOLDERS, checkout_path

__all__ = [
    "MetricSpaceError",
    "MetricSpacePlan",
    "build_wheel",
    "kit_root",
    "metric_source_dir",
    "prepare_metric_space",
    "publish_metric_space",
]

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the spinemed package
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".pytest_cache")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class MetricSpaceError(PublishError):
    """The metric Space cannot be prepared or published; the message says why."""


def kit_root() -> Path:
    """The checkout the installed ``spinemed`` package lives in (its ``pyproject.toml`` folder).

    Bundling a wheel needs the checkout (the project metadata is not package data), so an
    installed kit without one is refused with a clear error.
    """
    root = _PACKAGE_DIR.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not re.search(r'^name\s*=\s*"spinemed"', pyproject.read_text(encoding="utf-8"), re.M):
        raise MetricSpaceError(
            f"spinemed is imported from {_PACKAGE_DIR}, which is not inside a SpineMed checkout (no pyproject.toml "
            f"naming the project in {root}); preparing the metric Space needs the checkout: run it from a clone"
        )
    return root


def metric_source_dir(root: Path | None = None) -> Path:
    """``evaluate_metric/spinebench`` of the checkout at `root`, else of this kit (checkout or wheel)."""
    folder = root / "evaluate_metric" / "spinebench" if root is not None else checkout_path("evaluate_metric", "spinebench")
    if not (folder / "spinebench.py").is_file():
        raise MetricSpaceError(f"metric module not found: {folder / 'spinebench.py'}")
    return folder


def build_wheel(out_dir: str | Path, *, root: Path | None = None) -> Path:
    """Build the kit's pure-Python wheel into `out_dir` and return its path."""
    root = root or kit_root()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spinemed-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in"):
            if not (root / name).is_file():
                raise MetricSpaceError(f"cannot build the wheel: {root / name} is missing")
            shutil.copy2(root / name, src / name)
        for name in KIT_FOLDERS:  # the same wheel as a release: setup.py packs these as spinemed/_kit
            shutil.copytree(root / name, src / name, ignore=_IGNORE)
        for lic in root.glob("LICEN[CS]E*"):
            shutil.copy2(lic, src / lic.name)
        for rel, path in library_files(root):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / rel)
        wheel_dir = Path(tmp) / "dist"
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(wheel_dir)]
        if importlib.util.find_spec("setuptools") is not None:
            cmd += ["--no-build-isolation", "--no-index"]  # build offline with the installed setuptools
        proc = subprocess.run([*cmd, str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise MetricSpaceError("building the spinemed wheel failed:\n  " + "\n  ".join(tail))
        wheels = sorted(wheel_dir.glob("spinemed-*.whl"))
        if len(wheels) != 1 or not wheels[0].name.endswith("-py3-none-any.whl"):
            raise MetricSpaceError(f"expected one pure-Python spinemed wheel, pip produced {[w.name for w in wheels]}")
        target = out_dir / wheels[0].name
        shutil.copy2(wheels[0], target)
    return target


def _requirements(metric_dir: Path, requirement: str, how: str) -> str:
    """The metric's requirements with the ``spinemed`` line replaced by `requirement`."""
    kept = []
    source = metric_dir / "requirements.txt"
    for line in source.read_text(encoding="utf-8").splitlines() if source.is_file() else []:
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        name = _REQ_NAME.match(stripped)
        if name and name.group(1).lower().replace("_", "-") == "spinemed":
            continue
        kept.append(stripped)
    return f"# Generated by spinemed.metric.space.prepare_metric_space: {how}.\n" + "\n".join([*kept, requirement]) + "\n"


def prepare_metric_space(out_dir: str | Path, *, root: Path | None = None, bundle_wheel: bool = False,
                         wheel_url: str | None = None) -> Path:
    """Write a publishable metric Space into `out_dir` (new or empty) and return it.

    Contents: the metric folder's files (``spinebench.py``, ``README.md`` card, ``app.py``) and
    a ``requirements.txt`` installing ``spinemed==<this version>`` from the package index.  With
    `bundle_wheel` (or `wheel_url`), the kit's wheel is built into the folder too (needs a
    checkout) and installed by relative path (``./spinemed-<ver>-py3-none-any.whl``), or from
    ``<wheel_url>/<wheel file>``.  Name the folder ``spinebench`` to load it with
    ``evaluate.load(folder)``; any name works with ``evaluate.load(folder / "spinebench.py")``.
    """
    bundle_wheel = bundle_wheel or wheel_url is not None
    if bundle_wheel:
        root = root or kit_root()
    source = metric_source_dir(root)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MetricSpaceError(f"{out} exists and is not an empty folder; pick a new output folder")
    shutil.copytree(source, out, ignore=_IGNORE, dirs_exist_ok=True)
    if not bundle_wheel:
        text = _requirements(source, f"spinemed=={__version__}", "the scorer, from the package index")
    else:
        wheel = build_wheel(out, root=root)
        requirement = f"./{wheel.name}" if wheel_url is None else f"spinemed @ {wheel_url.rstrip('/')}/{wheel.name}"
        text = _requirements(source, requirement, "the scorer ships as a wheel next to this file")
    atomic_write_text(out / "requirements.txt", text)
    return out


# The metric Space's plan is the Hub's one plan type; the name stays for callers.
MetricSpacePlan = PublishPlan


def publish_metric_space(
    repo_id: str,
    *,
    api: Any = None,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    work_dir: str | Path | None = None,
    wheel_ref: str = "index",
) -> PublishPlan:
    """Prepare the metric Space and upload it to `repo_id` (a gradio Space).

    Order: check `repo_id` -> :func:`prepare_metric_space` into `work_dir` (kept) or a
    temporary folder (removed afterwards) -> [dry_run stops here] -> ``create_repo(
    repo_type="space", space_sdk="gradio", exist_ok=True)`` -> ``upload_folder`` (wheels of
    earlier versions in the Space are deleted), through `spinemed.hub.push`.  `api` is an
    ``HfApi`` (default: one for `endpoint` and `token`); the endpoint defaults to `api`'s, else
    `HF_ENDPOINT` / huggingface_hub's.  `wheel_ref`: "index" (``spinemed==<version>`` from the
    package index), "relative" (a bundled ``./<wheel>``) or "hub" (the bundled wheel's URL in the
    Space; public Spaces only), see the module docstring.
    """
    check_repo_id(repo_id, MetricSpaceError)
    if wheel_ref not in ("index", "relative", "hub"):
        raise MetricSpaceError(f"wheel_ref must be 'index', 'relative' or 'hub', got {wheel_ref!r}")
    if wheel_ref == "hub" and private:
        raise MetricSpaceError("wheel_ref='hub' needs a public Space: a private Space's files need a token to download")
    endpoint = hub_endpoint(endpoint, api)
    url = repo_url(repo_id, "space", endpoint)
    with tempfile.TemporaryDirectory(prefix="spinebench-space-") as tmp:
        wheel_url = f"{url}/resolve/main" if wheel_ref == "hub" else None
        folder = prepare_metric_space(Path(work_dir) if work_dir is not None else Path(tmp) / "spinebench",
                                      bundle_wheel=wheel_ref != "index", wheel_url=wheel_url)
        wheel = next((p.name for p in folder.glob("spinemed-*.whl")), None)
        scorer = wheel or f"spinemed=={__version__}"
        kept = str(folder) if work_dir is not None else None
        plan = PublishPlan(
            repo_id=repo_id,
            tag=None,
            endpoint=endpoint,
            private=private,
            files=sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file()),
            commit_message=f"SpineBench metric with scorer {scorer}",
            repo_type="space",
            space_sdk="gradio",
            delete_patterns=["*.whl"],  # earlier wheels go; a bundled one is uploaded in the same commit
            dry_run=dry_run,
            folder=kept,
            title=f"metric Space {repo_id}",
            at=url,
            detail=f"; scorer wheel {wheel}" if wheel else f"; scorer {scorer} from the package index",
            notes=[f"prepared folder: {kept}"] if kept else [],
        )
        push(plan, api=api, token=token, folder=folder)
    return plan
