"""The output folder of a build: ownership check, staging, and the swap that publishes it.

A build never writes into its `--out` folder.  It writes the whole dataset folder (data/,
README.md, manifest.json) into a staging folder next to it (`.<name>.staging-<random>`, same
file system, so the swap is a rename) and swaps it in only when complete:

    out -> .<name>.old-<random>;  staging -> out;  remove .<name>.old-<random>

A killed or failed build therefore leaves the previous folder intact and publishable; a kill
between the two renames leaves the previous folder as `.<name>.old-*`, which the next build
renames back before it starts.

`--out` may be missing, empty, or a folder this kit wrote: only data/, README.md, manifest.json
(and the manifest's attachments), a manifest written by `write_manifest` (its format, name,
versions and self-consistent shard list), and no file under data/ the manifest does not list.
Anything else is someone else's data and is refused (`OutputFolderError`) unless the caller
passes `overwrite=True`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from .manifest import _REQUIRED_VERSIONS, _VERSION_RE, MANIFEST_FORMAT, _content_hash
from .writer import CARD_NAME, DATA_DIR, MANIFEST_NAME

__all__ = ["OutputFolderError", "StagedFolder", "foreign_content"]

_STAGING = ".staging-"
_OLD = ".old-"


class OutputFolderError(ValueError):
    """The output folder holds data the kit did not write (or is a folder it must never replace)."""


def _manifest_problem(manifest: Any) -> str | None:
    """Why `manifest` is not one `write_manifest` wrote, or None."""
    if not isinstance(manifest, dict):
        return "manifest.json is not a JSON object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"manifest.json has format {manifest.get('format')!r}, not {MANIFEST_FORMAT}"
    if not isinstance(manifest.get("name"), str) or not manifest["name"]:
        return "manifest.json has no name"
    if not isinstance(manifest.get("version"), str) or not _VERSION_RE.match(manifest["version"]):
        return f"manifest.json version {manifest.get('version')!r} is not a vX.Y.Z tag"
    versions = manifest.get("versions")
    if not isinstance(versions, dict) or any(not versions.get(k) for k in _REQUIRED_VERSIONS):
        return f"manifest.json versions lack {list(_REQUIRED_VERSIONS)}"
    shards = manifest.get("shards")
    keys = ("path", "sha256", "num_rows", "num_bytes")
    if not isinstance(shards, list) or not all(isinstance(s, dict) and all(k in s for k in keys) for s in shards):
        return "manifest.json has no well-formed shard list"
    if not isinstance(manifest.get("content_hash"), str) or _content_hash(shards) != manifest["content_hash"]:
        return "manifest.json content_hash does not match its shard list"
    if not isinstance(manifest.get("build"), dict):
        return "manifest.json has no build record"
    return None


def foreign_content(out: str | os.PathLike) -> list[str]:
    """What in `out` this kit did not write (empty when `out` is missing, empty or a build of ours)."""
    out = Path(out)
    if out.is_symlink():
        return [f"{out.name} is a symbolic link (to {os.readlink(out)})"]
    if not out.exists():
        return []
    if not out.is_dir():
        return [f"{out.name} is a file, not a folder"]
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return []
    manifest_path = out / MANIFEST_NAME
    manifest: Any = None
    problems: list[str] = []
    if not manifest_path.is_file() or manifest_path.is_symlink():
        problems.append(f"no {MANIFEST_NAME} written by spinemed")
    else:
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{MANIFEST_NAME} does not parse ({exc})")
        else:
            problem = _manifest_problem(manifest)
            if problem:
                problems.append(problem)
                manifest = None
    attachments = set()
    if manifest is not None:
        attachments = {a.get("path") for a in manifest.get("attachments") or [] if isinstance(a, dict)}
    own = {DATA_DIR, CARD_NAME, MANIFEST_NAME} | {a.split("/", 1)[0] for a in attachments if isinstance(a, str)}
    problems += [f"{name} (not part of a spinemed dataset folder)" for name in entries if name not in own]
    data = out / DATA_DIR
    if data.is_symlink() or (data.exists() and not data.is_dir()):
        problems.append(f"{DATA_DIR} is not a folder")
    elif data.is_dir():
        recorded = {s["path"]: s["num_bytes"] for s in manifest["shards"]} if manifest is not None else {}
        unrecorded = []
        for path in sorted(data.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            rel = path.relative_to(out).as_posix()
            if path.is_symlink() or recorded.get(rel) != path.stat().st_size:
                unrecorded.append(rel)
        if unrecorded:
            more = f" and {len(unrecorded) - 5} more" if len(unrecorded) > 5 else ""
            problems.append(f"files the manifest does not list: {', '.join(unrecorded[:5])}{more}")
    return problems


def _describe(out: Path, limit: int = 8) -> str:
    """What a folder holds, for the refusal: its entries, folders with their file counts."""
    if out.is_symlink() or not out.is_dir():
        return "something that is not a folder"
    parts = []
    for path in sorted(out.iterdir())[:limit]:
        if path.is_dir() and not path.is_symlink():
            files = sum(1 for p in path.rglob("*") if not p.is_dir())
            parts.append(f"{path.name}/ ({files} file{'s' if files != 1 else ''})")
        else:
            parts.append(path.name)
    more = sum(1 for _ in out.iterdir()) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


class StagedFolder:
    """Write a folder next to `out` and swap it in whole.

    `begin()` checks `out` (see the module docstring), recovers or removes what a killed build
    left next to it and returns the empty staging folder; `commit()` swaps it in; `abort()`
    removes it, leaving `out` as it was.  `protect` are paths `out` must never contain or equal
    (sources, work folder, the current folder): even `overwrite=True` does not replace them.
    """

    def __init__(self, out: str | os.PathLike, *, overwrite: bool = False, protect: tuple = ()):
        self.out = Path(out)
        self.overwrite = overwrite
        self.protect = tuple(Path(p) for p in protect)
        self.staging: Path | None = None

    def _siblings(self, marker: str) -> list[Path]:
        parent = self.out.parent
        if not parent.is_dir():
            return []
        prefix = f".{self.out.name}{marker}"
        return sorted(p for p in parent.iterdir() if p.name.startswith(prefix))

    def check(self) -> None:
        """Raise OutputFolderError unless `out` may be replaced."""
        out = self.out
        target = out.resolve() if not out.is_symlink() else out.parent.resolve() / out.name
        guarded = list(self.protect)
        for where in (Path.cwd, Path.home):
            try:
                guarded.append(where())
            except (OSError, RuntimeError):  # a deleted current folder, no home
                pass
        for path in guarded:
            path = path.resolve()
            if _is_within(path, target):
                raise OutputFolderError(f"refusing to use {str(out)!r} as the output folder: it holds {str(path)!r} "
                                        "(give a folder of its own, e.g. out/spinemed-450k)")
        if self.overwrite:
            return
        foreign = foreign_content(out)
        if foreign:
            raise OutputFolderError(
                f"refusing to replace {str(out)!r}: it holds {_describe(out)}, which spinemed did not write "
                f"({'; '.join(foreign)}). Give an empty or new folder, or pass --overwrite to replace it")

    def begin(self) -> Path:
        # A kill between the two renames of commit(): the previous folder is waiting under its old- name.
        old = self._siblings(_OLD)
        if old and not self.out.exists() and not self.out.is_symlink():
            old[-1].rename(self.out)
            old = old[:-1]
        self.check()
        for stale in old + self._siblings(_STAGING):
            _remove(stale)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.out.parent / f".{self.out.name}{_STAGING}{uuid.uuid4().hex[:12]}"
        self.staging.mkdir()
        return self.staging

    def commit(self) -> Path:
        """Swap the staging folder in; the previous `out` is removed only after the swap."""
        if self.staging is None:
            raise RuntimeError("StagedFolder.commit() before begin()")
        try:
            self.check()  # something may have been put there while the build ran
        except OutputFolderError as exc:
            raise OutputFolderError(f"{exc}; the finished build is kept in {str(self.staging)!r} "
                                    "(move it away before the next build, which removes it)") from None
        old = None
        if self.out.exists() or self.out.is_symlink():
            old = self.out.parent / f".{self.out.name}{_OLD}{uuid.uuid4().hex[:12]}"
            self.out.rename(old)
        try:
            self.staging.rename(self.out)
        except BaseException:
            if old is not None:
                old.rename(self.out)
            raise
        self.staging = None
        if old is not None:
            _remove(old)
        return self.out

    def abort(self) -> None:
        if self.staging is not None:
            _remove(self.staging)
            self.staging = None


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)
