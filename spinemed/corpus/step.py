"""The step contract of the corpus build, in the spirit of datatrove's `PipelineStep`.

A step is an async generator over *windows* (lists of `Doc`s, one per source record):
`step.run(data, rank, world_size)` pulls a window from `data`, processes it and yields what goes
on.  Windows rather than single records because the LLM-backed stages send the requests of a
whole window together (`asyncio.gather`) while de-identification and dedup run in record order;
a step's output keeps its input's order, so the build is deterministic.  Chained generators pull
lazily: one window passes every step before the next one is read.

Every step has its own `stats` (named counters, summed into the build summary) and a
`quarantine` writer bound by the pipeline: a step that drops a record calls `self.drop(doc,
reason)` (or `quarantine.duplicate(...)` for a duplicate), so every input record ends published,
quarantined with a reason, or removed as a duplicate.

`rank`/`world_size` is the sharding hook for a later executor that fans the build out over
machines: the source step reads only its shard (`in_shard`), the other steps ignore it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..progress import Progress
from ..schema import SourceIssue, SourceRecord

__all__ = ["Doc", "Window", "Quarantine", "MemoryQuarantine", "PipelineStep", "run_steps", "merged_stats", "shard_of",
           "in_shard"]


@dataclass
class Doc:
    """One source record on its way through the steps, with what the steps found out about it."""

    record: SourceRecord
    # (source file number, record number in it) in the unsharded read order: the merge of a
    # sharded build puts the shards' records back in this order (corpus/shards.py)
    order: tuple[int, int] = (0, 0)
    images: list[dict] = field(default_factory=list)  # encoded bytes ({"bytes", "path"}), from the deid step
    subfield: str | None = None  # from the classify step
    jobs: list = field(default_factory=list)  # generate.Job, planned by the generate step
    outcomes: list = field(default_factory=list)  # generate.JobOutcome, one per job, in job order


Window = list[Doc]


class Quarantine(Protocol):
    """Where a step reports what leaves the build (the build's work files and accounting)."""

    def record(self, rec: SourceRecord, stage: str, reason: str) -> None:
        """The record is dropped at `stage` for `reason`."""

    def duplicate(self, rec: SourceRecord, result: Any) -> None:
        """The record is removed as a duplicate (`dedup.DedupResult`)."""

    def item(self, rec: SourceRecord, outcome: Any) -> None:
        """One planned item of the record is dropped (`generate.JobOutcome` with its reason)."""

    def no_item_published(self, rec: SourceRecord) -> None:
        """The record is dropped because every planned item of it was (already reported)."""

    def source_issue(self, issue: SourceIssue) -> None:
        """A defect of a source file (no record was made)."""


class MemoryQuarantine:
    """A quarantine that keeps its entries in a list: for steps run on their own (tests, tools)."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []

    def record(self, rec: SourceRecord, stage: str, reason: str) -> None:
        self.entries.append(("record", rec.record_id, stage, reason))

    def duplicate(self, rec: SourceRecord, result: Any) -> None:
        self.entries.append(("duplicate", rec.record_id, result.status, result.duplicate_of))

    def item(self, rec: SourceRecord, outcome: Any) -> None:
        self.entries.append(("item", rec.record_id, outcome.stage, outcome.reason))

    def no_item_published(self, rec: SourceRecord) -> None:
        self.entries.append(("record", rec.record_id, "items", "all planned items quarantined"))

    def source_issue(self, issue: SourceIssue) -> None:
        self.entries.append(("source", issue.source_file, issue.stage, issue.reason))


class PipelineStep:
    """Base class: override `process` (one window -> the docs that go on), or `run` for a step
    that makes windows (the source step) or needs the whole stream."""

    name = "step"  # the stage name its quarantine entries carry

    progress_unit = "record"  # what the step's progress counts
    progress_name = ""  # the name its progress shows (default: `name`)
    progress_failed = "failed"  # what its failures are called

    def __init__(self) -> None:
        self.stats: defaultdict[str, Counter] = defaultdict(Counter)
        self.quarantine: Quarantine = MemoryQuarantine()
        self._progress: Progress | None = None

    @property
    def progress(self) -> Progress:
        """The step's progress display (spinemed.progress), made on first use; its total grows
        window by window, since the windows are read lazily."""
        if self._progress is None:
            self._progress = Progress(None, f"build {self.progress_name or self.name}", unit=self.progress_unit,
                                      failed_label=self.progress_failed)
        return self._progress

    async def gather(self, aws: Sequence[Awaitable], failed: Callable[[object], bool] = lambda _r: False) -> list:
        """``asyncio.gather`` of a window's requests, counted in the step's progress (failures by `failed`)."""
        bar = self.progress
        bar.add_total(len(aws))

        async def one(aw):
            result = await aw
            bar.update(failed=int(failed(result)))
            return result

        return list(await asyncio.gather(*(one(aw) for aw in aws)))

    def close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()

    async def process(self, window: Window) -> Window:
        return window

    async def run(self, data: AsyncIterable[Window] | None, rank: int = 0, world_size: int = 1) -> AsyncIterator[Window]:
        async for window in data:
            yield await self.process(window)  # also when empty: the sink sees every window

    def drop(self, doc: Doc, reason: str, stage: str | None = None) -> None:
        self.quarantine.record(doc.record, stage or self.name, reason)


async def run_steps(steps: Sequence[PipelineStep], quarantine: Quarantine, rank: int = 0,
                    world_size: int = 1) -> AsyncIterator[Window]:
    """Compose `steps` (the first one makes the windows) into one stream of finished windows."""
    stream = None
    for step in steps:
        step.quarantine = quarantine
        stream = step.run(stream, rank, world_size)
    async for window in stream:
        yield window


def merged_stats(steps: Iterable[PipelineStep], *more: dict[str, Counter]) -> defaultdict[str, Counter]:
    """The steps' counters (and `more`) summed by name."""
    out: defaultdict[str, Counter] = defaultdict(Counter)
    for stats in [*(s.stats for s in steps), *more]:
        for name, counter in stats.items():
            out[name].update(counter)
    return out


def shard_of(key: str, world_size: int) -> int:
    """The shard (0..world_size-1) that `key` (a source file's path) belongs to; stable across
    processes and machines (unlike hash())."""
    if world_size <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % world_size


def in_shard(key: str, rank: int, world_size: int) -> bool:
    if not 0 <= rank < max(world_size, 1):
        raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
    return world_size <= 1 or shard_of(key, world_size) == rank
