"""Reading rows back from Hub-layout dataset folders and from any `datasets` source.

Two readers, for two jobs:

* :func:`read_folder_rows` reads the kit's own folders (SpineMed-450k builds, SpineBench
  releases) straight from the parquet shards listed in their manifest.  Images come back as
  ``{"bytes", "path"}`` dicts, exactly what :class:`spinemed.hub.DatasetFolderWriter` takes,
  so rows can be written again byte for byte; nothing is copied into the `datasets` cache
  (a 450k-row corpus with images would otherwise be duplicated on disk).
* :func:`iter_dataset_rows` reads anything `datasets.load_dataset` can open (a local folder,
  offline, or a Hub repo id), streaming and with image decoding off, for overlap checks on
  other people's training data.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from spinemed.hub import load_manifest, verify_folder

_BATCH_ROWS = 256  # small batches: image configs hold up to a few MB per row


def folder_manifest(folder: str | os.PathLike, *, verify: bool = True) -> dict[str, Any]:
    """The manifest of a complete kit folder (shard hashes checked when `verify`)."""
    return verify_folder(folder) if verify else load_manifest(folder)


def folder_configs(manifest: Mapping[str, Any]) -> list[str]:
    """Configs that have shards, in the manifest's order."""
    seen: list[str] = []
    for shard in manifest["shards"]:
        if shard["config"] not in seen:
            seen.append(shard["config"])
    return seen


def read_folder_rows(
    folder: str | os.PathLike,
    config: str,
    *,
    manifest: Mapping[str, Any] | None = None,
    columns: list[str] | None = None,
    ids: Iterable[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the rows of one config of a kit folder, in shard order.

    `columns` limits what is read (e.g. leave out `images` when only metadata is needed);
    `ids` keeps only rows whose `id` is in it.  A config without shards yields nothing.
    """
    folder = Path(folder)
    manifest = manifest if manifest is not None else load_manifest(folder)
    wanted = None if ids is None else set(ids)
    for shard in manifest["shards"]:
        if shard["config"] != config:
            continue
        pf = pq.ParquetFile(folder / shard["path"])
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            if wanted is not None:
                id_col = batch.column("id").to_pylist()
                keep = [i for i, row_id in enumerate(id_col) if row_id in wanted]
                if not keep:
                    continue
                batch = batch.take(keep)
            yield from batch.to_pylist()


def image_digest(value: Any) -> str | None:
    """sha256 of an image value as `datasets` stores it undecoded ({"bytes", "path"}), or of raw
    bytes; None when there are no bytes to hash (a path that does not exist here)."""
    data = None
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, Mapping):
        data = value.get("bytes")
        if data is None and value.get("path") and os.path.isfile(str(value["path"])):
            data = Path(value["path"]).read_bytes()
    if not data:
        return None
    return hashlib.sha256(data).hexdigest()


def row_image_digests(row: Mapping[str, Any]) -> list[str]:
    """sha256 of every undecoded image anywhere in a row (SpineMed `images` or any other column)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            if "bytes" in value and set(value) <= {"bytes", "path"}:
                digest = image_digest(value)
                if digest:
                    out.append(digest)
                return
            for sub in value.values():
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(dict(row))
    return out


def iter_dataset_rows(
    source: Any,
    *,
    configs: Iterable[str] | None = None,
    splits: Iterable[str] | None = None,
) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    """Yield ``(config, split, index, row)`` for every row of a dataset source, images undecoded.

    `source`: a local folder or Hub repo id (streamed with `datasets.load_dataset`), or a
    `datasets.Dataset` / `DatasetDict` / `IterableDataset` / `IterableDatasetDict` already in
    memory (config "default").  `configs` / `splits` restrict what is read (default: all).
    """
    import datasets

    if isinstance(source, (datasets.Dataset, datasets.IterableDataset)):
        yield from _iter_one(source, "default", "train" if source.split is None else str(source.split))
        return
    if isinstance(source, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        for split, ds in source.items():
            if splits is None or split in set(splits):
                yield from _iter_one(ds, "default", split)
        return
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"candidate must be a folder, a Hub repo id or a datasets object, got {type(source).__name__}")
    path = str(source)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"candidate {path!r} is a file; pass the dataset folder (or a Hub repo id)")
    local = os.path.isdir(path)
    try:
        names = list(configs) if configs is not None else datasets.get_dataset_config_names(path)
    except Exception as exc:  # offline, unreachable, unknown or private repo, unreadable folder
        raise _unreadable(path, local, exc) from None
    wanted_splits = None if splits is None else set(splits)
    for config in names:
        try:
            loaded = datasets.load_dataset(path, config, streaming=True)
        except ValueError as exc:  # unknown config name: say which exist
            raise ValueError(f"candidate {path!r}: cannot load config {config!r} ({exc})") from None
        except Exception as exc:
            raise _unreadable(path, local, exc, config) from None
        for split, ds in loaded.items():
            if wanted_splits is None or split in wanted_splits:
                yield from _iter_one(ds, config, split)


def _unreadable(path: str, local: bool, exc: BaseException, config: str | None = None) -> FileNotFoundError:
    """The error for a candidate that cannot be opened: what was tried and why it failed."""
    what = f"config {config!r} of candidate {path!r}" if config else f"candidate {path!r}"
    why = ("reading the dataset folder failed" if local
           else "it is not a local folder, and reading it as a Hub dataset repo failed")
    return FileNotFoundError(f"cannot read {what}: {why} ({type(exc).__name__}: {exc})")


def _iter_one(ds: Any, config: str, split: str) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    import datasets

    if isinstance(ds, datasets.Dataset):
        ds = ds.to_iterable_dataset()
    ds = ds.decode(False)  # images as {"bytes", "path"}: hashed, never decoded
    for i, row in enumerate(ds):
        yield config, split, i, row
