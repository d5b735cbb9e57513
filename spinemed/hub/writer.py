"""The streaming parquet writer of a Hub-layout dataset folder.

A dataset folder is what `datasets.load_dataset(folder, config)` and the Hub both read
(datasets >= 4 has no loading scripts, so the folder itself must load)::

    README.md        card; its YAML `configs:` block maps each config to its shards
    manifest.json    shard hashes, counts, versions; written last
    data/{config}/{split}-{i:05d}-of-{n:05d}.parquet

Completeness rule: **a folder without `manifest.json` is incomplete.**  The writer deletes
any old manifest and card when it starts, stages shards in `out_dir/.tmp-<random>/`, and
moves them to `data/` only in `close()`; the card (`spinemed.hub.card`) and then the manifest
(`spinemed.hub.manifest`) are written after that.  A killed build therefore leaves either no
manifest or the old data untouched, and `verify_folder` / `publish_folder` refuse a folder
without a manifest (or whose shards no longer match it).

The corpus build goes further (`spinemed.hub.staging.StagedFolder`): it points this writer at
a fresh staging folder next to `--out`, writes card and manifest there too, and swaps the
whole folder in when complete, so a failed rebuild leaves the previous release complete.

Configs with no rows are left out of `data/` and of the card's `configs:` block (their
counts stay in the stats as 0): datasets 5.2 cannot load a 0-row parquet shard
("BatchSize must be greater than 0"), so an empty config could only be published broken.

Shards are byte-for-byte reproducible: rows keep their `add()` order, pyarrow writes no
timestamps, and the per-column options are the ones `datasets` uses for its own parquet
(content-defined chunking, so Hub/Xet storage de-duplicates unchanged data across releases).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features

from .features import FieldError, conform, describe_feature

__all__ = ["CARD_NAME", "MANIFEST_NAME", "DATA_DIR", "MAX_SHARD_BYTES", "DEFAULT_BREAKDOWNS", "DatasetFolderWriter"]

CARD_NAME = "README.md"
MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
MAX_SHARD_BYTES = 500 * 1024 * 1024  # datasets' push_to_hub default (config.MAX_SHARD_SIZE)
_ROW_GROUP_BYTES = 100 * 1024 * 1024  # datasets' config.MAX_ROW_GROUP_SIZE

# Counts kept while rows stream by, as name -> dotted path into the row.  Rows without the
# path are simply not counted for that breakdown, so the writer stays usable for any schema.
DEFAULT_BREAKDOWNS: dict[str, str] = {
    "language": "language",
    "modality": "modality",
    "subfield": "subfield",
    "source_type": "provenance.source_type",
    "license": "provenance.license",
    "redistributable": "provenance.redistributable",
    "backend": "generation.backend",
    "model": "generation.model",
    "prompt_id": "generation.prompt_id",
    "revision_prompt_id": "generation.revision_prompt_id",
    "criteria_version": "generation.criteria_version",
    "pipeline_version": "pipeline_version",
    "deid_version": "deid_version",
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # config and split names end up in paths


def _dig(row: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _stat_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------
# Parquet writing (deterministic)
# --------------------------------------------------------------------------------------


def _parquet_options(features: Features, schema: pa.Schema) -> dict[str, Any]:
    """The options datasets' own ParquetWriter uses, when this datasets/pyarrow has them."""
    options: dict[str, Any] = {"write_page_index": True}
    try:
        from datasets.arrow_writer import get_parquet_column_options

        options.update(get_parquet_column_options(features, schema))
    except ImportError:  # datasets < 4.1: pyarrow defaults are fine, only less compact
        pass
    try:
        from datasets.config import DEFAULT_CDC_OPTIONS

        options["use_content_defined_chunking"] = DEFAULT_CDC_OPTIONS
    except ImportError:
        pass
    return options


def _write_parquet(rows: list[dict[str, Any]], features: Features, path: Path) -> None:
    schema = features.arrow_schema  # carries the `huggingface` metadata that restores Image() etc.
    table = pa.Table.from_pylist(rows, schema=schema)
    row_group = max(1, len(rows) * _ROW_GROUP_BYTES // max(1, table.nbytes))
    options = _parquet_options(features, schema)
    try:
        writer = pq.ParquetWriter(path, schema, **options)
    except TypeError:  # pyarrow < 21: no content-defined chunking
        options.pop("use_content_defined_chunking", None)
        writer = pq.ParquetWriter(path, schema, **options)
    with writer:
        writer.write_table(table, row_group_size=row_group)


# --------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------


@dataclass
class _ConfigState:
    features: Features
    buffer: list[dict[str, Any]] = field(default_factory=list)
    buffer_bytes: int = 0
    staged: list[Path] = field(default_factory=list)
    num_rows: int = 0
    num_images: int = 0
    breakdowns: dict[str, Counter] = field(default_factory=dict)


class DatasetFolderWriter:
    """Stream rows into a Hub-layout dataset folder, one parquet shard per `rows_per_shard` rows.

    Memory holds at most one shard's rows per config (also capped by `max_shard_bytes`,
    counting embedded image bytes and text).  Use as a context manager, or call `close()`
    (and `abort()` on failure).  See the module docstring for the completeness rule.
    """

    _OWN_ENTRIES = {DATA_DIR, CARD_NAME, MANIFEST_NAME, ".gitattributes"}

    def __init__(
        self,
        out_dir: str | os.PathLike,
        configs: Mapping[str, Features],
        split: str = "train",
        rows_per_shard: int = 5000,
        default_config: str | None = None,
        *,
        max_shard_bytes: int = MAX_SHARD_BYTES,
        breakdowns: Mapping[str, str] = DEFAULT_BREAKDOWNS,
    ):
        if not configs:
            raise ValueError("configs is empty: a dataset folder needs at least one config")
        for name, features in configs.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise ValueError(f"config name {name!r} must match {_NAME_RE.pattern} (it becomes a folder name)")
            if not isinstance(features, Features):
                raise ValueError(f"config {name!r}: expected datasets.Features, got {type(features).__name__}")
        if not _NAME_RE.match(split):
            raise ValueError(f"split name {split!r} must match {_NAME_RE.pattern}")
        if rows_per_shard < 1 or max_shard_bytes < 1:
            raise ValueError("rows_per_shard and max_shard_bytes must be >= 1")
        default_config = next(iter(configs)) if default_config is None else default_config
        if default_config not in configs:
            raise ValueError(f"default_config {default_config!r} is not one of the configs {list(configs)}")

        self.out_dir = Path(out_dir)
        self.split = split
        self.rows_per_shard = rows_per_shard
        self.max_shard_bytes = max_shard_bytes
        self.default_config = default_config
        self.breakdowns = dict(breakdowns)
        self._configs = {name: _ConfigState(features) for name, features in configs.items()}
        self._closed = False

        self._prepare_out_dir()
        self._staging = self.out_dir / f".tmp-{uuid.uuid4().hex[:12]}"
        for name in self._configs:
            (self._staging / DATA_DIR / name).mkdir(parents=True)

    def _prepare_out_dir(self) -> None:
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise ValueError(f"output path {str(out)!r} exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        foreign = sorted(
            p.name for p in out.iterdir() if p.name not in self._OWN_ENTRIES and not p.name.startswith(".tmp-")
        )
        if foreign:
            raise ValueError(
                f"refusing to write into {str(out)!r}: it holds files that are not part of a dataset folder "
                f"({', '.join(foreign[:5])}); use an empty or previously built folder"
            )
        # From here on the folder counts as incomplete until write_manifest runs again.
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        (out / CARD_NAME).unlink(missing_ok=True)
        for stale in out.glob(".tmp-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)

    # -- streaming -----------------------------------------------------------------------

    def add(self, config: str, row: Mapping[str, Any]) -> None:
        """Check `row` against the config's Features, embed its images, buffer it."""
        if self._closed:
            raise RuntimeError("DatasetFolderWriter is closed")
        state = self._configs.get(config)
        if state is None:
            raise ValueError(f"unknown config {config!r}; expected one of {list(self._configs)}")
        row_id = row.get("id") if isinstance(row, Mapping) else None
        label = repr(row_id) if row_id is not None else f"#{state.num_rows + len(state.buffer)} (no id)"
        try:
            conformed, size, images = conform(row, state.features, "")
            encoded = state.features.encode_example(conformed)
        except FieldError as exc:
            raise ValueError(f"config {config!r}, row {label}: field {exc.field_path!r} {exc.message}") from None

        state.buffer.append(encoded)
        state.buffer_bytes += size
        state.num_images += images
        for name, path in self.breakdowns.items():
            found, value = _dig(row, path)
            if found:
                state.breakdowns.setdefault(name, Counter())[_stat_key(value)] += 1
        if len(state.buffer) >= self.rows_per_shard or state.buffer_bytes >= self.max_shard_bytes:
            self._flush(config)

    def _flush(self, config: str) -> None:
        state = self._configs[config]
        if not state.buffer:
            return
        path = self._staging / DATA_DIR / config / f"{len(state.staged):05d}.parquet"
        _write_parquet(state.buffer, state.features, path)
        state.staged.append(path)
        state.num_rows += len(state.buffer)
        state.buffer, state.buffer_bytes = [], 0

    # -- statistics ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts for the card and manifest (JSON-serialisable, keys sorted for stable output)."""
        configs, total = {}, Counter()
        for name, state in self._configs.items():
            per = {dim: dict(sorted(c.items())) for dim, c in sorted(state.breakdowns.items())}
            for dim, counts in state.breakdowns.items():
                total.update({(dim, k): v for k, v in counts.items()})
            configs[name] = {
                "num_rows": state.num_rows + len(state.buffer),
                "num_images": state.num_images,
                "num_shards": len(state.staged) + (1 if state.buffer else 0),
                "published": state.num_rows + len(state.buffer) > 0,
                "columns": {col: describe_feature(feat) for col, feat in state.features.items()},
                "breakdowns": per,
            }
        breakdowns: dict[str, dict[str, int]] = {}
        for (dim, key), count in sorted(total.items()):
            breakdowns.setdefault(dim, {})[key] = count
        return {
            "split": self.split,
            "default_config": self.default_config,
            "num_rows": sum(c["num_rows"] for c in configs.values()),
            "num_images": sum(c["num_images"] for c in configs.values()),
            "configs": configs,
            "breakdowns": breakdowns,
        }

    # -- finishing -----------------------------------------------------------------------

    def close(self) -> dict[str, Any]:
        """Write the last shards, give them their final names, move them into `data/`.

        Returns {"out_dir", "split", "default_config", "configs": {name: {"num_rows",
        "shards"}}, "stats"}; configs with no rows are absent from `configs` (and from data/).
        """
        if self._closed:
            raise RuntimeError("DatasetFolderWriter is already closed")
        try:
            for name in self._configs:
                self._flush(name)
            published = [n for n, s in self._configs.items() if s.num_rows > 0]
            if not published:
                raise ValueError(f"no rows were added to any config of {str(self.out_dir)!r}")
            if self.default_config not in published:
                raise ValueError(
                    f"default config {self.default_config!r} has no rows; "
                    "`load_dataset(folder)` would have nothing to load"
                )
            result_configs = {}
            for name in published:
                staged = self._configs[name].staged
                shards = []
                for i, path in enumerate(staged):
                    final = path.with_name(f"{self.split}-{i:05d}-of-{len(staged):05d}.parquet")
                    path.rename(final)
                    shards.append(f"{DATA_DIR}/{name}/{final.name}")
                result_configs[name] = {"num_rows": self._configs[name].num_rows, "shards": shards}
            for name in self._configs:
                if name not in published:
                    (self._staging / DATA_DIR / name).rmdir()
            # Swap the staged data/ in; the old one (if any) goes into the staging dir to be removed.
            live, old = self.out_dir / DATA_DIR, self._staging / "old-data"
            if live.exists():
                live.rename(old)
            try:
                (self._staging / DATA_DIR).rename(live)
            except OSError:
                if old.exists():
                    old.rename(live)
                raise
        except BaseException:
            self.abort()
            raise
        shutil.rmtree(self._staging, ignore_errors=True)
        self._closed = True
        return {
            "out_dir": str(self.out_dir),
            "split": self.split,
            "default_config": self.default_config,
            "configs": result_configs,
            "stats": self.stats(),
        }

    def abort(self) -> None:
        """Drop everything staged; `data/` is left as it was (and the folder stays incomplete)."""
        shutil.rmtree(self._staging, ignore_errors=True)
        for state in self._configs.values():
            state.buffer = []
        self._closed = True

    def __enter__(self) -> DatasetFolderWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.close()
        else:
            self.abort()
