"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_text", "atomic_write_json", "atomic_write_lines", "atomic_append_text"]


def _tmp_for(path: Path) -> Path:
    # Same folder (os.replace is atomic only within one file system), hidden, unique per writer.
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write `lines` (each already ending in a newline, or not, as given) and swap the file in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(path)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_lines(path, (text,))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> Path:
    """JSON (UTF-8, non-ASCII kept) with a trailing newline."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def atomic_append_text(path: str | os.PathLike, text: str) -> Path:
    """Append `text` all at once: the old content plus `text` is written beside the file, synced
    to disk and swapped in, so a crash leaves the old file or the whole new one (for append-only
    logs that are a source of truth, such as the review audit log)."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(path)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(old + text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
