"""Sharded builds: the ingest of one shard into a shard folder, and the deterministic merge.

`spinemed build --shard I/N --out SHARD` (rank I of N, 0-based: 0/3, 1/3, 2/3) reads the source
files of shard I (`step.shard_of` of each file's path) and runs the stages that see one record
at a time and come before the global dedup: reading (PDF text, OCR, DICOM: the CPU-heavy part),
de-identification and the picture-context check.  The records that survive are written, with
their images and de-identification stamps, to the shard folder:

    SHARD/shard.json        rank, world size, versions, the sources' fingerprint, the shard's
                            counters (records read, quarantined, source defects, PCM verdicts)
    SHARD/records.jsonl     one surviving record per line, in read order (`Doc.order`)
    SHARD/work/             the shard's quarantine.jsonl, source_issues.jsonl and the private
                            provenance_map.jsonl (mode 0600: a shard folder is never published)

`spinemed build --merge SHARD... --out OUT` checks that the shards are ranks 0..N-1 of one
N-way split of the same sources and versions, streams their records back in the unsharded read
order (a k-way merge on `Doc.order`: file number, record number), and runs the rest of the
build on them: dedup (global, so it must see every record in order), classification,
generation, validation and the dataset folder.  The result has the same rows in the same order
and the same accounting as the unsharded build of the same sources; the work files hold the
shards' entries followed by the merge's own.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from ..deid.provenance import verify_record
from ..fileio import atomic_write_text
from ..schema import ImageRef, SourceRecord
from .sources import CATALOG_FILE
from .step import Doc, PipelineStep, Window
from .worklog import PROVENANCE_MAP

SHARD_FORMAT = "spinemed-shard/1"
SHARD_FILE = "shard.json"
RECORDS_FILE = "records.jsonl"
WORK_FILES = ("quarantine", "source_issues")


class ShardError(ValueError):
    """Shard folders that cannot be merged (or a --shard value that is not I/N)."""


def parse_shard(value: str) -> tuple[int, int]:
    """``"I/N"`` -> (rank I, world size N); 0 <= I < N."""
    rank_s, sep, size_s = str(value).partition("/")
    try:
        rank, size = int(rank_s), int(size_s)
    except ValueError:
        rank = size = -1
    if not sep or size < 1 or not 0 <= rank < size:
        raise ShardError(f"--shard must be I/N with 0 <= I < N (0-based rank), not {value!r}")
    return rank, size


def sources_fingerprint(sources: Path, files_digest: str) -> str:
    """sha256 of the catalog and of the list of source files every shard walked
    (`sources.FileOrder`): the shards of one build must number the same files the same way."""
    path = Path(sources) / CATALOG_FILE
    catalog = path.read_bytes() if path.is_file() else b""
    return hashlib.sha256(catalog + b"\0" + files_digest.encode("ascii")).hexdigest()


# ------------------------------------------------------------------ record (de)serialisation

def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def doc_to_json(doc: Doc) -> dict[str, Any]:
    rec = doc.record
    fields = {k: getattr(rec, k) for k in SourceRecord.__dataclass_fields__ if k != "images"}
    fields["images"] = [{**{k: getattr(img, k) for k in ImageRef.__dataclass_fields__}, "data": _b64(img.data)}
                        for img in rec.images]
    return {"order": list(doc.order), "record": fields, "deid_stamp": getattr(rec, "deid_stamp", ""),
            "images": [{"path": i["path"], "bytes": _b64(i["bytes"])} for i in doc.images]}


def doc_from_json(obj: dict[str, Any], where: str) -> Doc:
    """A Doc back from its shard line; its de-identification stamp must still match it."""
    fields = dict(obj["record"])
    fields["images"] = [ImageRef(**{**img, "data": _unb64(img.get("data"))}) for img in fields.get("images", [])]
    rec = SourceRecord(**fields)
    rec.deid_stamp = obj.get("deid_stamp", "")
    try:
        verify_record(rec)
    except Exception as exc:  # UnscrubbedRecordError: the shard line was changed or is from another deid version
        raise ShardError(f"{where}: {exc}") from exc
    images = [{"path": i["path"], "bytes": _unb64(i["bytes"])} for i in obj.get("images", [])]
    return Doc(rec, order=(int(obj["order"][0]), int(obj["order"][1])), images=images)


# ------------------------------------------------------------------ the shard's sink

class WriteShard(PipelineStep):
    """The sink of a shard build: each surviving record, in order, to records.jsonl."""

    name = "shard"

    def __init__(self, folder: Path):
        super().__init__()
        self.file = open(folder / RECORDS_FILE, "w", encoding="utf-8")

    async def process(self, window: Window) -> Window:
        for doc in window:
            self.file.write(json.dumps(doc_to_json(doc), ensure_ascii=False) + "\n")
            self.stats["shard"]["records_written"] += 1
        return window

    def close(self) -> None:
        self.file.close()


def counters_json(counts: dict[str, Counter]) -> dict[str, dict[str, int]]:
    return {name: dict(sorted(c.items())) for name, c in sorted(counts.items()) if c}


def is_shard_folder(path: Path) -> bool:
    """A folder a shard build wrote (its `shard.json` names the shard format): a rerun replaces it."""
    try:
        return json.loads((Path(path) / SHARD_FILE).read_text("utf-8")).get("format") == SHARD_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ------------------------------------------------------------------ the merge

def load_shards(folders: list[Path], expect: dict[str, Any], agree: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The shard.json of each folder, checked: ranks 0..N-1 of one N, each once, made from the
    same sources, versions and settings as `expect` (keys of shard.json that must be equal), and
    equal to each other in the keys `agree` (settings of the shards' own environment, such as the
    OCR engine)."""
    if not folders:
        raise ShardError("--merge needs the shard folders of a sharded build")
    metas = []
    for folder in folders:
        path = Path(folder) / SHARD_FILE
        try:
            meta = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ShardError(f"{folder}: not a finished shard folder ({SHARD_FILE}: {exc})") from exc
        if meta.get("format") != SHARD_FORMAT:
            raise ShardError(f"{folder}: {SHARD_FILE} has format {meta.get('format')!r}, expected {SHARD_FORMAT!r}")
        for key, value in expect.items():
            if meta.get(key) != value:
                raise ShardError(f"{folder}: {key} is {meta.get(key)!r} but this merge has {value!r} "
                                 "(shards must come from the same sources, builder, versions and settings)")
        metas.append({**meta, "folder": Path(folder)})
    for key in agree:
        values = {json.dumps(m.get(key), sort_keys=True) for m in metas}
        if len(values) != 1:
            raise ShardError(f"the shards were built with different {key}: "
                             + ", ".join(f"{m['folder']}: {m.get(key)!r}" for m in metas)
                             + " (build every shard with the same setting, e.g. SPINEMED_OCR_ENGINE)")
    prints = {m.get("sources_fingerprint") for m in metas}
    if len(prints) != 1:
        raise ShardError("the shards read different sources (catalog or source files differ between them): "
                         + ", ".join(f"{m['folder']}: {str(m.get('sources_fingerprint'))[:12]}" for m in metas))
    sizes = {m["world_size"] for m in metas}
    if len(sizes) != 1:
        raise ShardError(f"the shards come from different splits (world sizes {sorted(sizes)})")
    size = sizes.pop()
    ranks = Counter(m["rank"] for m in metas)
    missing = sorted(set(range(size)) - set(ranks))
    doubled = sorted(r for r, n in ranks.items() if n > 1)
    if missing or doubled:
        raise ShardError(f"a {size}-way build needs shards 0..{size - 1} once each: "
                         + "; ".join(p for p in (f"missing {missing}" if missing else "",
                                                 f"given twice {doubled}" if doubled else "") if p))
    return sorted(metas, key=lambda m: m["rank"])


def _shard_docs(meta: dict[str, Any]) -> Iterator[tuple[tuple[int, int], int, Doc]]:
    path = meta["folder"] / RECORDS_FILE
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                doc = doc_from_json(json.loads(line), f"{path}:{n}")
            except ShardError:
                raise
            except (ValueError, KeyError, TypeError, IndexError) as exc:  # truncated or corrupt line
                raise ShardError(f"{path}:{n}: not a shard record (truncated or corrupt: "
                                 f"{type(exc).__name__}: {exc}); rebuild this shard") from exc
            yield doc.order, meta["rank"], doc


class ReadShards(PipelineStep):
    """The first step of a merge: the shards' records in the unsharded read order, in windows.
    Its stats are the shards' own step counters summed (records read, deid, PCM), so the
    build summary counts every record the shards read."""

    name = "sources"

    def __init__(self, metas: list[dict[str, Any]], window: int = 64):
        super().__init__()
        self.metas = metas
        self.window = window
        for meta in metas:
            for name, counter in meta["step_stats"].items():
                self.stats[name].update(counter)

    async def run(self, data=None, rank: int = 0, world_size: int = 1) -> AsyncIterator[Window]:
        window: Window = []
        for _order, _rank, doc in heapq.merge(*(_shard_docs(m) for m in self.metas), key=lambda t: (t[0], t[1])):
            window.append(doc)
            if len(window) >= self.window:
                yield window
                window = []
        if window:
            yield window


def preload_work_log(log, metas: list[dict[str, Any]]) -> None:
    """Put the shards' work-file entries (in rank order) and accounting into the merge's work log."""
    for meta in metas:
        for name, file_name in ((n, f"{n}.jsonl") for n in WORK_FILES):
            _append(meta["folder"] / "work" / file_name, log.files[name])
        _append(meta["folder"] / "work" / PROVENANCE_MAP, log.files["provenance_map"])
        for name, counter in meta["log_counts"].items():
            log.counts[name].update(counter)


def _append(path: Path, out) -> None:
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            shutil.copyfileobj(f, out)


def write_shard_meta(folder: Path, meta: dict[str, Any]) -> None:
    atomic_write_text(folder / SHARD_FILE, json.dumps({"format": SHARD_FORMAT, **meta}, indent=2, ensure_ascii=False))
