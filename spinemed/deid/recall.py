"""Recall-first English layer (filled in below)."""
from __future__ import annotations

from collections.abc import Iterator


def candidates(text: str, low: str, *, literature: bool = False) -> Iterator[tuple[int, int, str, int]]:
    return iter(())
