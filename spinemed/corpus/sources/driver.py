"""The sources driver: every catalogued file dispatched to its reader, in a fixed order."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

from spinemed.schema import SourceIssue, SourceRecord

from ..step import Doc, PipelineStep, Window, in_shard
from .catalog import _NOT_SOURCES, _SOURCE_SUFFIXES, CatalogEntry, _rel, load_catalog
from .common import DEFAULT_MAX_PARAGRAPH_CHARS, _inside
from .dicom import LAYOUT as RSNA_LAYOUT
from .dicom import is_rsna_layout, read_rsna_lumbar
from .inpatient import read_inpatient
from .jats import read_jats
from .markdown import read_markdown_document
from .pdf import read_pdf
from .question_bank import read_question_bank
from .verse import read_verse


def read_book(path: Path, entry: CatalogEntry, *, max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS,
              workers: int = 1) -> Iterator[SourceRecord | SourceIssue]:
    """A textbook chapter or guideline: OCR'd markdown, or a PDF (text layer, else OCR)."""
    if path.suffix.lower() == ".pdf":
        return read_pdf(path, entry, max_chars=max_chars, workers=workers)
    return read_markdown_document(path, entry, max_chars=max_chars)


_READERS = {
    "textbook": read_book,
    "guideline": read_book,
    "question_bank": read_question_bank,
    "case_report": read_jats,
    "inpatient": read_inpatient,
}
_ADAPTER_SUFFIXES = {
    "textbook": (".md", ".pdf"),
    "guideline": (".md", ".pdf"),
    "question_bank": (".csv", ".json", ".jsonl"),
    "case_report": (".xml",),
    "inpatient": (".json", ".jsonl"),
}


# open_dataset folders: catalog key `layout` (default: RSNA lumbar when its CSVs are there, else VerSe).
_OPEN_LAYOUTS = {"verse": read_verse, RSNA_LAYOUT: read_rsna_lumbar}


def _layout(target: Path, entry: CatalogEntry) -> str | None:
    layout = str(entry.extra.get("layout") or "")
    if layout:
        return layout if layout in _OPEN_LAYOUTS else None
    return RSNA_LAYOUT if is_rsna_layout(target) else "verse"


_OUTSIDE = "resolves outside the sources folder (a '..' path or a symlink); not read"


class FileOrder:
    """Numbers every source file met, in this shard or not, so every shard numbers files the same
    way (the order a sharded build is merged in), and hashes their paths, so shards that read
    different source trees are caught at the merge."""

    def __init__(self) -> None:
        self.n = 0
        self._hash = hashlib.sha256()

    def add(self, where: str) -> None:
        self.n += 1
        self._hash.update(where.encode("utf-8") + b"\0")

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()


def iter_sources(root: str | Path, rank: int = 0, world_size: int = 1, *,
                 max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS, workers: int = 1,
                 file_order: FileOrder | None = None) -> Iterator[SourceRecord | SourceIssue]:
    """Stream every record (and every defect as a SourceIssue) of the sources under `root`.

    Entries are read in sorted path order, files inside a folder entry in sorted order, so two
    runs yield the same sequence.  Source files under `root` that no entry covers are reported
    at the end, not read.  Every path read, symlinks resolved, lies inside `root`: a catalog
    path or a symlink that leads out of it is a defect, not read; a symlinked folder inside the
    root is followed.  A paragraph longer than `max_chars` is reported and split at sentence ends.
    `workers` > 1 fans the pages of each PDF out over that many processes (same output).

    `rank`/`world_size` read one shard: a source file (a VerSe folder as a whole; in an RSNA
    DICOM folder, each study) belongs to shard `shard_of(its path)`, so the shards
    0..world_size-1 together read every file exactly once; catalog defects are reported by
    shard 0.  Files that are not in this shard are not opened.  `file_order`, when given,
    numbers every source file met, in this shard or not.
    """
    counter = file_order if file_order is not None else FileOrder()
    root = Path(root)
    entries, issues = load_catalog(root)
    if rank == 0:
        yield from issues
    covered: set[Path] = set()  # resolved paths of entries and of the files their folders hold
    read: set[Path] = set()  # resolved files read, so a file reached twice (a symlink) is read once
    for entry in entries:
        target = root / entry.path
        if not _inside(target, root):
            covered.add(target.parent.resolve() / target.name)  # reported here, not again as uncatalogued
            if in_shard(entry.path, rank, world_size):
                yield SourceIssue(entry.path, f"catalog path {_OUTSIDE}")
            continue
        covered.add(target.resolve())
        if target.is_dir():  # what a followed symlinked folder holds is covered too
            covered.update(f.resolve() for f, problem in _walk(target, root) if not problem)
        if not target.exists():
            if in_shard(entry.path, rank, world_size):
                yield SourceIssue(entry.path, "catalogued but missing on disk")
            continue
        yield from _dispatch(target, entry, rank, world_size, max_chars, read, counter, workers)
    for path, problem in sorted(_walk(root, root)):
        if problem:  # a link out of the root: reported here unless a catalog entry covers it
            rp = path.parent.resolve() / path.name
            where = path.relative_to(root).as_posix()
            if not _is_covered(rp, covered) and in_shard(where, rank, world_size):
                yield SourceIssue(where, f"not listed in catalog.yaml; {problem}")
            continue
        if path.name in _NOT_SOURCES or not path.name.endswith(_SOURCE_SUFFIXES):
            continue
        rp = path.resolve()
        if not _is_covered(rp, covered) and in_shard(_rel(path, root), rank, world_size):
            yield SourceIssue(_rel(path, root), "not listed in catalog.yaml; not read")


def _is_covered(path: Path, covered: set[Path]) -> bool:
    return path in covered or any(parent in covered for parent in path.parents)


def _walk(folder: Path, root: Path) -> Iterator[tuple[Path, str]]:
    """(file, problem) under `folder`, following symlinked folders that resolve
    inside `root` (each real folder once, so a link loop ends); a file or folder that resolves
    outside `root` comes with its problem and is not opened."""
    seen: set[Path] = set()
    stack = [folder]
    while stack:
        d = stack.pop()
        real = d.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            children = sorted(d.iterdir(), reverse=True)
        except OSError:
            continue
        files = []
        for child in children:
            if child.is_symlink() and not _inside(child, root):
                files.append((child, _OUTSIDE))
            elif child.is_dir():
                stack.append(child)
            elif child.is_file():
                files.append((child, ""))
        yield from files


def _dispatch(target: Path, entry: CatalogEntry, rank: int = 0, world_size: int = 1,
              max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS,
              read: set[Path] | None = None, counter: FileOrder | None = None,
              workers: int = 1) -> Iterator[SourceRecord | SourceIssue]:
    counter = counter if counter is not None else FileOrder()
    if entry.source_type == "open_dataset":
        counter.add(entry.path)
        layout = _layout(target, entry) if target.is_dir() else None
        if layout == RSNA_LAYOUT:  # sharded (and numbered) by study inside the reader
            yield from _guarded(partial(read_rsna_lumbar, rank=rank, world_size=world_size, file_order=counter),
                                target, entry)
            return
        if not in_shard(entry.path, rank, world_size):
            return
        if not target.is_dir():
            yield SourceIssue(entry.path, "open_dataset entries must be folders (VerSe or RSNA lumbar DICOM layout)")
            return
        if layout is None:
            yield SourceIssue(entry.path, f"unknown layout {entry.extra.get('layout')!r} (known: {', '.join(_OPEN_LAYOUTS)})")
            return
        yield from _guarded(_OPEN_LAYOUTS[layout], target, entry)
        return
    reader = _READERS[entry.source_type]
    reader = partial(reader, max_chars=max_chars, **({"workers": workers} if reader is read_book else {}))
    suffixes = _ADAPTER_SUFFIXES[entry.source_type]
    if target.is_dir():
        found = sorted(fp for fp in _walk(target, entry.root) if fp[1] or fp[0].name.endswith(suffixes))
        if not found and in_shard(entry.path, rank, world_size):
            yield SourceIssue(entry.path, f"folder has no {'/'.join(suffixes)} files")
        for f, problem in found:
            where = _rel(f, entry.root) if not problem else f"{entry.path}/{f.relative_to(target).as_posix()}"
            counter.add(where)
            if not in_shard(where, rank, world_size):
                continue
            if problem:
                yield SourceIssue(where, problem)
            else:
                yield from _read_once(reader, f, entry, read)
        return
    counter.add(entry.path)
    if not in_shard(entry.path, rank, world_size):
        return
    if target.name.endswith(suffixes):
        yield from _read_once(reader, target, entry, read)
    else:
        yield SourceIssue(entry.path, f"{entry.source_type} sources must be {'/'.join(suffixes)} files")


def _read_once(reader, path: Path, entry: CatalogEntry, read: set[Path] | None) -> Iterator[SourceRecord | SourceIssue]:
    if read is not None:
        real = path.resolve()
        if real in read:
            yield SourceIssue(_rel(path, entry.root), "reached a second time (through a symlink); read once")
            return
        read.add(real)
    yield from _guarded(reader, path, entry)


def _guarded(reader, path: Path, entry: CatalogEntry) -> Iterator[SourceRecord | SourceIssue]:
    """The reader's output; a file that exhausts the recursion limit or memory is a defect of
    that file, and the build goes on."""
    try:
        yield from reader(path, entry)
    except (RecursionError, MemoryError) as exc:
        yield SourceIssue(_rel(path, entry.root), f"cannot read ({type(exc).__name__}: nested or large beyond limits)")


class ReadSources(PipelineStep):
    """The first step: reads the sources (its shard of them) and yields windows of `window`
    records; each source defect goes to the quarantine writer's `source_issue`.  `limit` stops
    after that many records (smoke runs); `max_chars` is the builder's `max_paragraph_chars`;
    `workers` processes read the pages of each PDF.  Stats: `sources` (records)."""

    name = "sources"
    progress_failed = "source defect(s)"

    def __init__(self, root: str | Path, window: int = 64, limit: int | None = None,
                 max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS, workers: int = 1):
        super().__init__()
        self.root = Path(root)
        self.window = window
        self.limit = limit
        self.max_chars = max_chars
        self.workers = workers
        self.file_order = FileOrder()  # after run: every source file met (shards compare its digest)

    async def run(self, data=None, rank: int = 0, world_size: int = 1) -> AsyncIterator[Window]:
        counts = self.stats["sources"]
        window: Window = []
        bar = self.progress  # records read (source defects as failures); the total is not known up front
        files = self.file_order = FileOrder()
        last_file, in_file = -1, 0  # Doc.order: (file number, record number in it)
        for entry in iter_sources(self.root, rank, world_size, max_chars=self.max_chars, workers=self.workers,
                                  file_order=files):
            if isinstance(entry, SourceIssue):
                self.quarantine.source_issue(entry)
                bar.update(0, failed=1)
                continue
            if self.limit is not None and counts["records"] >= self.limit:
                break
            counts["records"] += 1
            bar.update()
            in_file = in_file + 1 if files.n == last_file else 0
            last_file = files.n
            window.append(Doc(entry, order=(last_file, in_file)))
            if len(window) >= self.window:
                yield window
                window = []
        if window:
            yield window
