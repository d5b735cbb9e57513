"""The sources catalog (`catalog.yaml`): one entry per source file or folder, with the
provenance its records carry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spinemed.schema import SOURCE_TYPES, SourceIssue

CATALOG_FILE = "catalog.yaml"
# Files under the sources root that are sources (must be catalogued); images are assets of them.
_SOURCE_SUFFIXES = (".md", ".pdf", ".xml", ".csv", ".json", ".jsonl", ".nii", ".nii.gz", ".dcm")
_NOT_SOURCES = {CATALOG_FILE, "README.md"}
_REQUIRED = ("path", "source_type", "source_id", "title", "language", "license", "redistributable")


# --------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------


@dataclass
class CatalogEntry:
    """One catalogued source file or folder, with the provenance its records carry.

    `path` is relative to `root` (the folder holding catalog.yaml).  `language` is "en", "zh"
    or "auto" (decided per record from its text).  `dataset_id` names an open dataset.
    """

    path: str
    source_type: str
    source_id: str
    title: str
    language: str
    license: str
    redistributable: bool
    dataset_id: str = ""
    root: Path = field(default_factory=Path)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], root: str | Path | None = None) -> CatalogEntry:
        """Build from a catalog mapping; raises ValueError naming the missing/invalid field."""
        if not isinstance(d, dict):
            raise ValueError(f"catalog entry must be a mapping, got {type(d).__name__}")
        missing = [k for k in _REQUIRED if k not in d or d[k] in (None, "")]
        if missing:
            raise ValueError(f"catalog entry {d.get('path', '?')!r} lacks field(s): {', '.join(missing)}")
        if d["source_type"] not in SOURCE_TYPES:
            raise ValueError(f"catalog entry {d['path']!r}: source_type {d['source_type']!r} not in {SOURCE_TYPES}")
        if d["language"] not in ("en", "zh", "auto"):
            raise ValueError(f"catalog entry {d['path']!r}: language {d['language']!r} must be en, zh or auto")
        if not isinstance(d["redistributable"], bool):
            raise ValueError(f"catalog entry {d['path']!r}: redistributable must be true or false")
        if "\x00" in str(d["path"]):  # no file system takes it; Path.exists() would raise mid-build
            raise ValueError(f"catalog entry {d['path']!r}: path holds a NUL character")
        known = set(_REQUIRED) | {"dataset_id", "root"}
        return cls(
            path=str(d["path"]).strip("/"),
            source_type=d["source_type"],
            source_id=str(d["source_id"]),
            title=str(d["title"]),
            language=d["language"],
            license=str(d["license"]),
            redistributable=d["redistributable"],
            dataset_id=str(d.get("dataset_id") or ""),
            root=Path(root if root is not None else d.get("root") or "."),
            extra={k: v for k, v in d.items() if k not in known},
        )


def _as_entry(entry: CatalogEntry | dict[str, Any], path: Path) -> CatalogEntry:
    """Accept a CatalogEntry or a plain mapping, so adapters are usable on their own."""
    if isinstance(entry, CatalogEntry):
        return entry
    d = dict(entry)
    root = d.get("root") or _find_root(path)
    d.setdefault("path", _rel(path, Path(root)))
    return CatalogEntry.from_dict(d, root=root)


def _find_root(path: Path) -> Path:
    for parent in [path if path.is_dir() else path.parent, *path.resolve().parents]:
        if (parent / CATALOG_FILE).is_file():
            return parent
    return path if path.is_dir() else path.parent


def _rel(path: Path, root: Path) -> str:
    """`path` relative to the sources root; never absolute (an absolute path names the user and the
    machine), so a path outside the root comes out as `../...`."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        try:
            return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
        except (ValueError, OSError, RuntimeError):  # another drive, a symlink loop
            return path.name


def load_catalog(root: str | Path) -> tuple[list[CatalogEntry], list[SourceIssue]]:
    """Parse catalog.yaml into entries sorted by path, and the issues with invalid entries."""
    root = Path(root)
    cat_path = root / CATALOG_FILE
    if not cat_path.is_file():
        raise FileNotFoundError(f"no {CATALOG_FILE} in {root}")
    try:
        data = yaml.safe_load(cat_path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ValueError(f"{cat_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{cat_path}: invalid YAML ({exc})") from exc
    raw = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ValueError(f"{cat_path}: expected a top-level 'sources:' list")
    entries, issues, seen = [], [], set()
    for i, d in enumerate(raw):
        try:
            e = CatalogEntry.from_dict(d, root=root)
        except ValueError as exc:
            issues.append(SourceIssue(CATALOG_FILE, f"entry {i}: {exc}"))
            continue
        if e.path in seen:
            issues.append(SourceIssue(CATALOG_FILE, f"entry {i}: path {e.path!r} catalogued twice"))
            continue
        seen.add(e.path)
        entries.append(e)
    return sorted(entries, key=lambda e: e.path), issues

