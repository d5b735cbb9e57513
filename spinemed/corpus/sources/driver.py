"""The sources driver: every catalogued file dispatched to its reader, in a fixed order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from spinemed.schema import SourceIssue, SourceRecord

from ..step import Doc, PipelineStep, Window, in_shard
from .catalog import _NOT_SOURCES, _SOURCE_SUFFIXES, CatalogEntry, _rel, load_catalog
from .inpatient import read_inpatient
from .jats import read_jats
from .markdown import read_markdown_document
from .question_bank import read_question_bank
from .verse import read_verse

_READERS = {
    "textbook": read_markdown_document,
    "guideline": read_markdown_document,
    "question_bank": read_question_bank,
    "case_report": read_jats,
    "inpatient": read_inpatient,
}
_ADAPTER_SUFFIXES = {
    "textbook": (".md",),
    "guideline": (".md",),
    "question_bank": (".csv", ".json", ".jsonl"),
    "case_report": (".xml",),
    "inpatient": (".json", ".jsonl"),
}


def iter_sources(root: str | Path, rank: int = 0, world_size: int = 1) -> Iterator[SourceRecord | SourceIssue]:
    """Stream every record (and every defect as a SourceIssue) of the sources under `root`.

    Entries are read in sorted path order, files inside a folder entry in sorted order, so two
    runs yield the same sequence.  Source files under `root` that no entry covers are reported
    at the end, not read.

    `rank`/`world_size` read one shard: a source file (a VerSe folder as a whole) belongs to
    shard `shard_of(its path)`, so the shards 0..world_size-1 together read every file exactly
    once; catalog defects are reported by shard 0.  Files that are not in this shard are not
    opened.
    """
    root = Path(root)
    entries, issues = load_catalog(root)
    if rank == 0:
        yield from issues
    covered: list[Path] = []
    for entry in entries:
        target = root / entry.path
        covered.append(target.resolve())
        if not target.exists():
            if in_shard(entry.path, rank, world_size):
                yield SourceIssue(entry.path, "catalogued but missing on disk")
            continue
        yield from _dispatch(target, entry, rank, world_size)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name in _NOT_SOURCES or not path.name.endswith(_SOURCE_SUFFIXES):
            continue
        rp = path.resolve()
        if not any(rp == c or c in rp.parents for c in covered) and in_shard(_rel(path, root), rank, world_size):
            yield SourceIssue(_rel(path, root), "not listed in catalog.yaml; not read")


def _dispatch(target: Path, entry: CatalogEntry, rank: int = 0, world_size: int = 1) -> Iterator[SourceRecord | SourceIssue]:
    if entry.source_type == "open_dataset":
        if not in_shard(entry.path, rank, world_size):
            return
        if not target.is_dir():
            yield SourceIssue(entry.path, "open_dataset entries must be folders (VerSe layout)")
            return
        yield from read_verse(target, entry)
        return
    reader = _READERS[entry.source_type]
    suffixes = _ADAPTER_SUFFIXES[entry.source_type]
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        if not files and in_shard(entry.path, rank, world_size):
            yield SourceIssue(entry.path, f"folder has no {'/'.join(suffixes)} files")
        for f in files:
            if in_shard(_rel(f, entry.root), rank, world_size):
                yield from reader(f, entry)
    elif not in_shard(entry.path, rank, world_size):
        return
    elif target.name.endswith(suffixes):
        yield from reader(target, entry)
    else:
        yield SourceIssue(entry.path, f"{entry.source_type} sources must be {'/'.join(suffixes)} files")


class ReadSources(PipelineStep):
    """The first step: reads the sources (its shard of them) and yields windows of `window`
    records; each source defect goes to the quarantine writer's `source_issue`.  `limit` stops
    after that many records (smoke runs).  Stats: `sources` (records)."""

    name = "sources"

    def __init__(self, root: str | Path, window: int = 64, limit: int | None = None):
        super().__init__()
        self.root = Path(root)
        self.window = window
        self.limit = limit

    async def run(self, data=None, rank: int = 0, world_size: int = 1) -> AsyncIterator[Window]:
        counts = self.stats["sources"]
        window: Window = []
        for entry in iter_sources(self.root, rank, world_size):
            if isinstance(entry, SourceIssue):
                self.quarantine.source_issue(entry)
                continue
            if self.limit is not None and counts["records"] >= self.limit:
                break
            counts["records"] += 1
            window.append(Doc(entry))
            if len(window) >= self.window:
                yield window
                window = []
        if window:
            yield window
