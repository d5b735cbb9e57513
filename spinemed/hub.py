"""Hub-layout dataset folders: streaming parquet writer, dataset card, manifest, publishing.

A dataset folder is what `datasets.load_dataset(folder, config)` and the Hub both read
(datasets >= 4 has no loading scripts, so the folder itself must load)::

    README.md        card; its YAML `configs:` block maps each config to its shards
    manifest.json    shard hashes, counts, versions; written last
    data/{config}/{split}-{i:05d}-of-{n:05d}.parquet

Completeness rule: **a folder without `manifest.json` is incomplete.**  The writer deletes
any old manifest and card when it starts, stages shards in `out_dir/.tmp-<random>/`, and
moves them to `data/` only in `close()`; the card and then the manifest are written after
that.  A killed build therefore leaves either no manifest or the old data untouched, and
`verify_folder` / `publish_folder` refuse a folder without a manifest (or whose shards no
longer match it).

Configs with no rows are left out of `data/` and of the card's `configs:` block (their
counts stay in the stats as 0): datasets 5.2 cannot load a 0-row parquet shard
("BatchSize must be greater than 0"), so an empty config could only be published broken.

Shards are byte-for-byte reproducible: rows keep their `add()` order, pyarrow writes no
timestamps, and the per-column options are the ones `datasets` uses for its own parquet
(content-defined chunking, so Hub/Xet storage de-duplicates unchanged data across releases).
"""

from __future__ import annotations

import hashlib
import io
import json
import numbers
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Features, Image, LargeList, List, Value
from datasets.features.image import image_to_bytes

from spinemed.schema import REPORT_PARTS, SUBFIELDS, subfield_group

CARD_NAME = "README.md"
MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
MANIFEST_FORMAT = 1
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

# Card metadata shared by the kit's datasets; a builder overrides keys via extra["card_metadata"].
DEFAULT_CARD_METADATA: dict[str, Any] = {
    "language": ["en", "zh"],
    "task_categories": ["visual-question-answering", "question-answering", "text-generation"],
    "tags": ["medical", "spine", "orthopedics", "multimodal"],
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # config and split names end up in paths
_VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_.-]+?)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")
_SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]


def size_category(num_rows: int) -> str:
    """The Hub's `size_categories` bucket for a row count."""
    for bound, label in _SIZE_CATEGORIES:
        if num_rows < bound:
            return label
    return "n>1B"


def check_version(version: str) -> str:
    """Return `version` if it is a release tag `vX.Y.Z`, else raise ValueError."""
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise ValueError(f"version {version!r} is not a release tag of the form vX.Y.Z (e.g. 'v1.0.0')")
    return version


# --------------------------------------------------------------------------------------
# Row conformance: check a plain-dict row against Features, embedding images as bytes
# --------------------------------------------------------------------------------------


class _FieldError(ValueError):
    def __init__(self, field_path: str, message: str):
        super().__init__(message)
        self.field_path = field_path
        self.message = message


_INT_DTYPES = {f"{p}int{b}" for p in ("", "u") for b in (8, 16, 32, 64)}
_FLOAT_DTYPES = {"float16", "float32", "float64", "double", "float"}


def _check_value(value: Any, feature: Value, where: str) -> int:
    dtype = feature.dtype
    if value is None:
        raise _FieldError(where, f"is None, expected {dtype}")
    if dtype in ("string", "large_string"):
        ok = isinstance(value, str)
    elif dtype == "bool":
        ok = isinstance(value, (bool, np.bool_))
    elif dtype in _INT_DTYPES:  # numbers.* so numpy scalars pass; bools are not numbers here
        ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    elif dtype in _FLOAT_DTYPES:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    elif dtype in ("binary", "large_binary"):
        ok = isinstance(value, (bytes, bytearray))
    else:  # timestamps, decimals...: leave the check to pyarrow
        ok = True
    if not ok:
        raise _FieldError(where, f"expected {dtype}, got {type(value).__name__} {_short(value)}")
    return len(value) if isinstance(value, (str, bytes, bytearray)) else 8


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _embed_image(value: Any, where: str) -> dict[str, Any]:
    """An image item as {"bytes", "path"} with the bytes embedded and only a base name kept.

    Local paths are reduced to their file name: absolute paths would leak the build machine's
    layout into the published data and make shards differ between machines.
    """
    import PIL.Image

    name: str | None = None
    if isinstance(value, PIL.Image.Image):
        filename = getattr(value, "filename", "") or ""
        if filename and os.path.isfile(filename):
            # Same rule as datasets' Image.encode_example: an image opened from a file is that file.
            data = Path(filename).read_bytes()
            name = Path(filename).name
        else:
            data = image_to_bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise _FieldError(where, f"image file not found: {str(path)!r}")
        data, name = path.read_bytes(), path.name
    elif isinstance(value, Mapping):
        unknown = set(value) - {"bytes", "path"}
        if unknown:
            raise _FieldError(where, f"image dict has unknown keys {sorted(unknown)}; expected 'bytes' and/or 'path'")
        data, path = value.get("bytes"), value.get("path")
        if data is None:
            if not path:
                raise _FieldError(where, "image dict has neither 'bytes' nor 'path'")
            if not Path(path).is_file():
                raise _FieldError(where, f"image file not found: {str(path)!r}")
            data = Path(path).read_bytes()
        elif not isinstance(data, (bytes, bytearray)):
            raise _FieldError(where, f"image 'bytes' must be bytes, got {type(data).__name__}")
        name = Path(path).name if path else None
    else:
        raise _FieldError(
            where, f"expected an image (bytes/path dict, file path or PIL image), got {type(value).__name__}"
        )
    try:  # verify() checks headers and checksums without decoding the pixels
        with PIL.Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:
        raise _FieldError(where, f"not a readable image ({type(exc).__name__}: {exc})") from None
    from spinemed.deid.images import strip_metadata

    try:  # no EXIF, XMP, text chunks, ICC or comments in a published image (docs/deid.md, Images)
        data = strip_metadata(bytes(data))
    except ValueError as exc:
        raise _FieldError(where, f"not a readable image ({exc})") from None
    if name and data.startswith(b"\x89PNG") and Path(name).suffix.lower() != ".png":
        name = Path(name).stem + ".png"  # re-encoded as PNG (TIFF, WebP, rotated JPEG, ...)
    return {"bytes": data, "path": name}


def _conform(value: Any, feature: Any, where: str) -> tuple[Any, int, int]:
    """(value ready for encode_example, approximate byte size, images embedded)."""
    if isinstance(feature, Mapping):
        if not isinstance(value, Mapping):
            raise _FieldError(where or "<row>", f"expected a dict, got {type(value).__name__}")
        missing = [k for k in feature if k not in value]
        if missing:
            raise _FieldError(_join(where, missing[0]), "is missing")
        unknown = sorted(k for k in value if k not in feature)
        if unknown:
            raise _FieldError(_join(where, unknown[0]), f"is not in the features (expected {list(feature)})")
        out, size, images = {}, 0, 0
        for key, sub in feature.items():
            out[key], s, n = _conform(value[key], sub, _join(where, key))
            size, images = size + s, images + n
        return out, size, images
    if isinstance(feature, (List, LargeList)):
        if not isinstance(value, (list, tuple)):
            raise _FieldError(where, f"expected a list, got {type(value).__name__} {_short(value)}")
        length = getattr(feature, "length", -1)
        if length not in (-1, None) and len(value) != length:
            raise _FieldError(where, f"expected {length} items, got {len(value)}")
        out, size, images = [], 0, 0
        for i, item in enumerate(value):
            conformed, s, n = _conform(item, feature.feature, f"{where}[{i}]")
            out.append(conformed)
            size, images = size + s, images + n
        return out, size, images
    if isinstance(feature, Image):
        embedded = _embed_image(value, where)
        return embedded, len(embedded["bytes"]), 1
    if isinstance(feature, Value):
        return value, _check_value(value, feature, where), 0
    if isinstance(feature, ClassLabel):
        if isinstance(value, str) and value in feature.names:
            return value, 8, 0
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < feature.num_classes:
            return value, 8, 0
        raise _FieldError(where, f"expected a label in {feature.names}, got {_short(value)}")
    return value, 8, 0  # other feature types: encode_example / pyarrow check them


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


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


def describe_feature(feature: Any) -> str:
    """A short readable type for schema tables: `string`, `list[image]`, `struct{a, b}`."""
    if isinstance(feature, Mapping):
        return "struct{" + ", ".join(feature) + "}"
    if isinstance(feature, (List, LargeList)):
        return f"list[{describe_feature(feature.feature)}]"
    if isinstance(feature, Image):
        return "image"
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, ClassLabel):
        return "class_label"
    return type(feature).__name__


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
            conformed, size, images = _conform(row, state.features, "")
            encoded = state.features.encode_example(conformed)
        except _FieldError as exc:
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


# --------------------------------------------------------------------------------------
# Dataset card
# --------------------------------------------------------------------------------------


def card_metadata(*, pretty_name: str, stats: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML front matter as a dict (`configs:` only lists configs that have rows)."""
    if "license" not in extra:
        raise ValueError("extra['license'] is required: the corpus-level license for the card's YAML")
    split = stats["split"]
    configs = []
    for name, info in stats["configs"].items():
        if info["num_rows"] == 0:
            continue
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [{"split": split, "path": f"{DATA_DIR}/{name}/{split}-*"}],
        }
        if name == stats["default_config"]:
            entry["default"] = True
        configs.append(entry)
    meta = {
        "pretty_name": pretty_name,
        "license": extra["license"],
        **DEFAULT_CARD_METADATA,
        "size_categories": [size_category(stats["num_rows"])],
    }
    meta.update(extra.get("card_metadata", {}))
    if extra.get("dataset_info"):
        meta["dataset_info"] = list(extra["dataset_info"])
    meta["configs"] = configs
    return meta


def dataset_info_yaml(out_dir: str | os.PathLike, configs: Mapping[str, Features], split: str = "train") -> list[dict]:
    """`dataset_info` entries for the card YAML, as `push_to_hub` writes them: features, split
    row counts and the parquet bytes per config, read from the shards on disk.

    Besides documenting the schema on the Hub, this makes `load_dataset` verify the row counts
    and gives every rebuilt folder a different cache key: datasets caches a local folder by its
    name and YAML, so without it a rebuilt `spinemed-450k` could load a stale cached copy."""
    from datasets import DatasetInfo, SplitDict, SplitInfo

    infos = []
    for name, features in configs.items():
        shards = sorted((Path(out_dir) / DATA_DIR / name).glob(f"{split}-*.parquet"))
        if not shards:
            continue
        rows = sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
        size = sum(s.stat().st_size for s in shards)
        splits = SplitDict()
        splits.add(SplitInfo(name=split, num_bytes=size, num_examples=rows))
        info = DatasetInfo(features=features, splits=splits, download_size=size, dataset_size=size, config_name=name)
        infos.append({"config_name": name, **info._to_yaml_dict()})
    return infos


def _fmt_int(value: Any) -> str:
    return f"{int(value):,}"


def _fmt_pct(part: Any, whole: Any) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def render_dataset_card(
    template_path: str | os.PathLike,
    *,
    pretty_name: str,
    stats: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> str:
    """Render a Jinja2 card template; the YAML front matter is built here, not in the template.

    The template receives `card_data` (the YAML text; put it between `---` lines, as in
    huggingface_hub's templates), `pretty_name`, `stats` (from `DatasetFolderWriter.stats()`),
    `extra` (builder facts: repo id, version, license, build accounting...), `taxonomy`
    (sub-field slug -> names and group) and `report_parts`; filters `num` (thousands
    separators) and `pct`.  Undefined variables are errors, so a card never ships a blank or
    a placeholder; the result is checked to parse as a DatasetCard with the expected configs.
    """
    import jinja2
    from huggingface_hub import DatasetCard, DatasetCardData

    template_path = Path(template_path)
    meta = card_metadata(pretty_name=pretty_name, stats=stats, extra=extra)
    card_data = DatasetCardData(**meta)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["num"] = _fmt_int
    env.filters["pct"] = _fmt_pct
    taxonomy = {
        slug: {"en": en, "zh": zh, "group": subfield_group(slug)} for slug, (en, zh) in SUBFIELDS.items()
    }
    try:
        text = env.get_template(template_path.name).render(
            card_data=card_data.to_yaml(),
            pretty_name=pretty_name,
            stats=stats,
            extra=extra,
            taxonomy=taxonomy,
            report_parts=REPORT_PARTS,
        )
    except jinja2.TemplateNotFound:
        raise FileNotFoundError(f"card template not found: {str(template_path)!r}") from None
    except jinja2.UndefinedError as exc:
        raise ValueError(f"card template {template_path.name}: {exc.message} (pass it in stats or extra)") from None

    parsed = DatasetCard(text).data.to_dict()
    names = [c["config_name"] for c in parsed.get("configs") or []]
    expected = [c["config_name"] for c in meta["configs"]]
    if names != expected:
        raise ValueError(
            f"card template {template_path.name}: rendered YAML lists configs {names}, expected {expected} "
            "(does the template start with '---\\n{{ card_data }}\\n---'?)"
        )
    return text


def write_dataset_card(
    out_dir: str | os.PathLike,
    template_path: str | os.PathLike,
    *,
    pretty_name: str,
    stats: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> Path:
    """Render the card and write it as `out_dir/README.md`."""
    path = Path(out_dir) / CARD_NAME
    _write_text_atomic(path, render_dataset_card(template_path, pretty_name=pretty_name, stats=stats, extra=extra))
    return path


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------


def _scan_shards(folder: Path) -> list[dict[str, Any]]:
    data = folder / DATA_DIR
    if not data.is_dir():
        raise ValueError(f"{str(folder)!r} has no {DATA_DIR}/ folder of shards")
    shards = []
    for path in sorted(data.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder).as_posix()
        parts = path.relative_to(data).parts
        if len(parts) != 2 or not _SHARD_RE.match(parts[1]):
            raise ValueError(f"unexpected file {rel!r}: shards are {DATA_DIR}/<config>/<split>-NNNNN-of-NNNNN.parquet")
        try:
            num_rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"shard {rel!r} is not a readable parquet file ({exc})") from None
        shards.append(
            {
                "path": rel,
                "config": parts[0],
                "sha256": _sha256(path),
                "num_rows": num_rows,
                "num_bytes": path.stat().st_size,
            }
        )
    if not shards:
        raise ValueError(f"{str(folder)!r} has no parquet shards under {DATA_DIR}/")
    return shards


def _content_hash(shards: list[Mapping[str, Any]]) -> str:
    lines = sorted(f"{s['path']}\t{s['sha256']}\t{s['num_rows']}\n" for s in shards)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


_REQUIRED_VERSIONS = ("pipeline", "criteria", "deid")


def write_manifest(
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    versions: Mapping[str, str],
    stats: Mapping[str, Any],
    extra: Mapping[str, Any],
    attachments: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Hash every shard and write `manifest.json` (last step of a build: it marks completion).

    `attachments` are other files of the folder that ship with the release (e.g. an audit
    log): recorded with their sha256, checked by `verify_folder` and uploaded by `publish_folder`.

    `content_hash` covers shard paths, hashes and row counts only, so two builds of the same
    inputs compare equal whatever their `created_at`.  Raises ValueError when the shards on
    disk disagree with `stats` (stats from another build) or a required version is missing.
    """
    folder = Path(out_dir)
    check_version(version)
    missing = [k for k in _REQUIRED_VERSIONS if not versions.get(k)]
    if missing:
        raise ValueError(f"versions is missing {missing}; expected keys {list(_REQUIRED_VERSIONS)}")
    shards = _scan_shards(folder)
    per_config = Counter()
    for shard in shards:
        per_config[shard["config"]] += shard["num_rows"]
    expected = {c: info["num_rows"] for c, info in stats["configs"].items() if info["num_rows"]}
    if dict(per_config) != expected:
        raise ValueError(f"shards in {str(folder)!r} hold rows {dict(per_config)} but stats say {expected}")
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "versions": dict(sorted(versions.items())),
        "split": stats["split"],
        "default_config": stats["default_config"],
        "counts": {
            "num_rows": stats["num_rows"],
            "num_images": stats["num_images"],
            "configs": {c: info["num_rows"] for c, info in stats["configs"].items()},
            "breakdowns": stats["breakdowns"],
        },
        "shards": shards,
        "content_hash": _content_hash(shards),
        "attachments": [_attachment(folder, rel) for rel in attachments],
        "build": dict(extra),
    }
    try:
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    except TypeError as exc:
        raise ValueError(f"manifest for {name}: extra/stats must be JSON-serialisable ({exc})") from None
    _write_text_atomic(folder / MANIFEST_NAME, text)
    return manifest


def _attachment(folder: Path, rel: str) -> dict[str, Any]:
    path = folder / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts or not path.is_file():
        raise ValueError(f"attachment {rel!r} must be an existing file inside {str(folder)!r}")
    if rel in (CARD_NAME, MANIFEST_NAME) or rel.startswith(f"{DATA_DIR}/"):
        raise ValueError(f"attachment {rel!r} would shadow the card, manifest or shards")
    return {"path": rel, "sha256": _sha256(path), "num_bytes": path.stat().st_size}


def load_manifest(folder_or_file: str | os.PathLike) -> dict[str, Any]:
    """Read a manifest from a dataset folder or a manifest.json path."""
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ValueError(f"{str(path)!r} not found: the folder is not a complete build (no manifest)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc})") from None


def compare_manifests(a: Mapping[str, Any] | str | os.PathLike, b: Mapping[str, Any] | str | os.PathLike) -> dict:
    """What changed from build `a` to build `b`: shards added/removed/changed and count deltas."""
    a = a if isinstance(a, Mapping) else load_manifest(a)
    b = b if isinstance(b, Mapping) else load_manifest(b)
    sa = {s["path"]: s for s in a["shards"]}
    sb = {s["path"]: s for s in b["shards"]}

    def delta(x: Mapping[str, int], y: Mapping[str, int]) -> dict[str, int]:
        return {k: y.get(k, 0) - x.get(k, 0) for k in sorted(set(x) | set(y)) if y.get(k, 0) != x.get(k, 0)}

    ca, cb = a["counts"], b["counts"]
    breakdowns = {}
    for dim in sorted(set(ca.get("breakdowns", {})) | set(cb.get("breakdowns", {}))):
        d = delta(ca.get("breakdowns", {}).get(dim, {}), cb.get("breakdowns", {}).get(dim, {}))
        if d:
            breakdowns[dim] = d
    return {
        "same_content": a["content_hash"] == b["content_hash"],
        "content_hash": {"a": a["content_hash"], "b": b["content_hash"]},
        "version": {"a": a.get("version"), "b": b.get("version")},
        "added": sorted(set(sb) - set(sa)),
        "removed": sorted(set(sa) - set(sb)),
        "changed": sorted(p for p in set(sa) & set(sb) if sa[p]["sha256"] != sb[p]["sha256"]),
        "count_deltas": {
            "num_rows": cb["num_rows"] - ca["num_rows"],
            "num_images": cb.get("num_images", 0) - ca.get("num_images", 0),
            "configs": delta(ca["configs"], cb["configs"]),
            "breakdowns": breakdowns,
        },
    }


def verify_folder(folder: str | os.PathLike) -> dict[str, Any]:
    """Check a built folder is complete and intact; return its manifest.

    Complete = manifest present; intact = every recorded shard exists with its hash and row
    count, no unrecorded shard under data/, and README.md has YAML that parses with a
    `configs:` entry for every config that has shards.
    """
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"dataset folder {str(folder)!r} does not exist")
    manifest = load_manifest(folder)
    recorded = {s["path"]: s for s in manifest.get("shards", [])}
    on_disk = {s["path"]: s for s in _scan_shards(folder)}
    missing = sorted(set(recorded) - set(on_disk))
    if missing:
        raise ValueError(f"{str(folder)!r}: shards in the manifest but missing on disk: {missing[:5]}")
    unrecorded = sorted(set(on_disk) - set(recorded))
    if unrecorded:
        raise ValueError(f"{str(folder)!r}: shards on disk but not in the manifest (stale or foreign): {unrecorded[:5]}")
    modified = sorted(
        path
        for path, shard in recorded.items()
        if (on_disk[path]["sha256"], on_disk[path]["num_rows"]) != (shard["sha256"], shard["num_rows"])
    )
    if modified:
        raise ValueError(f"{str(folder)!r}: shards modified after the build (hash mismatch): {modified[:5]}")
    if _content_hash(list(recorded.values())) != manifest.get("content_hash"):
        raise ValueError(f"{str(folder)!r}: manifest content_hash does not match its shard list")
    for att in manifest.get("attachments") or []:
        path = folder / att["path"]
        if not path.is_file() or _sha256(path) != att["sha256"]:
            raise ValueError(f"{str(folder)!r}: attachment {att['path']!r} is missing or modified after the build")

    card_path = folder / CARD_NAME
    if not card_path.is_file():
        raise ValueError(f"{str(folder)!r} has no {CARD_NAME} (dataset card)")
    try:
        card_data = DatasetCard.load(card_path).data.to_dict()
    except Exception as exc:
        raise ValueError(f"{str(card_path)!r}: YAML front matter does not parse ({exc})") from None
    declared = {c.get("config_name") for c in card_data.get("configs") or []}
    missing = sorted({s["config"] for s in recorded.values()} - declared)
    if missing:
        raise ValueError(f"{str(card_path)!r}: YAML `configs:` lacks {missing}, which have shards")
    return manifest


# --------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------


class PublishError(ValueError):
    """Publishing was refused (bad version or folder, identifiers found, tag already taken)."""


def iter_string_cells(folder: str | os.PathLike, *, batch_size: int = 64) -> Iterator[tuple[str, str, str, str]]:
    """Yield (config, row id, field path, text) for every non-empty string in every shard.

    Image bytes are skipped but image file names are included: they can carry names too.
    Small batches keep memory low for image configs.
    """
    folder = Path(folder)
    for path in sorted((folder / DATA_DIR).rglob("*.parquet")):
        config = path.parent.name
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                row_id = str(row.get("id", ""))
                yield from ((config, row_id, where, text) for where, text in _walk_strings(row, ""))


def _walk_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if value:
            yield where, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from _walk_strings(sub, _join(where, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _walk_strings(sub, f"{where}[{i}]")


def scan_identifiers(
    folder: str | os.PathLike,
    *,
    find: Callable[[str], list[Any]] | None = None,
    limit: int = 5,
) -> list[dict[str, str]]:
    """The first `limit` identifier findings in a folder's string cells (default detector:
    `spinemed.deid.find_identifiers`, whose findings have `.kind` and `.text`)."""
    if find is None:
        try:
            from spinemed.deid import find_identifiers as find
        except ImportError as exc:
            raise PublishError(
                f"the default pre-publish check needs spinemed.deid.find_identifiers ({exc}); "
                "pass preflight= explicitly"
            ) from exc
    findings: list[dict[str, str]] = []
    for config, row_id, where, text in iter_string_cells(folder):
        for hit in find(text):
            findings.append({"config": config, "row_id": row_id, "field": where, "kind": hit.kind, "text": hit.text})
            if len(findings) >= limit:
                return findings
    return findings


class ResidualRiskError(PublishError):
    """The publish gate found possible identifiers; carries the gate's report."""

    def __init__(self, report: Any):
        self.report = report
        super().__init__(report.summary())


def deid_preflight(folder: str | os.PathLike) -> None:
    """Default pre-publish check: the independent publish gate (`spinemed.deid.gate`) over every
    row, the card, the manifest, image metadata and provenance; refuses on any finding."""
    from spinemed.deid.gate import scan_folder

    report = scan_folder(folder)
    if not report.ok:
        raise ResidualRiskError(report)


def record_residual_risk(folder: str | os.PathLike, reason: str, report: Any) -> dict[str, Any]:
    """Write an accepted residual risk into the manifest (who decided why, and what the gate saw)."""
    import datetime as _dt

    folder = Path(folder)
    manifest = load_manifest(folder)
    entry = {
        "reason": reason,
        "accepted_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **report.to_json(),
    }
    manifest["residual_risk_accepted"] = entry
    tmp = folder / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, folder / MANIFEST_NAME)
    return entry


@dataclass
class PublishPlan:
    """What `publish_folder` sends (or, with dry_run, would send)."""

    repo_id: str
    version: str
    endpoint: str
    private: bool
    files: list[tuple[str, int]]  # (path in repo, size in bytes), sorted
    commit_message: str
    tag_message: str
    content_hash: str
    repo_type: str = "dataset"
    overwrite_tag: bool = False
    dry_run: bool = False
    commit: str | None = None  # commit id the tag points at, once published

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        head = "would publish" if self.dry_run else "published"
        lines = [
            f"{head} {self.repo_id} ({self.repo_type}) tag {self.version} at {self.endpoint}"
            + (f" commit {self.commit}" if self.commit else ""),
            f"{len(self.files)} files, {self.total_bytes:,} bytes, content {self.content_hash[:16]}",
        ]
        lines += [f"  {path}  {size:,}" for path, size in self.files]
        return "\n".join(lines)


def publish_folder(
    folder: str | os.PathLike,
    repo_id: str,
    version: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool = False,
    api: Any = None,
    preflight: Callable[[Path], None] | None = None,
    dry_run: bool = False,
    overwrite_tag: bool = False,
    accept_residual_risk: str | None = None,
) -> PublishPlan:
    """Verify a built folder, run the pre-publish check, upload it and tag the commit `version`.

    Order: validate version and folder -> preflight (any exception refuses publishing) ->
    [dry_run stops here] -> create_repo(exist_ok) -> refuse if the tag exists (unless
    overwrite_tag) -> upload_folder (manifest-listed files only; stale `data/` files on the
    Hub are deleted so old shards cannot leak into `data/<config>/<split>-*`) -> create_tag
    on the uploaded commit.
    """
    try:
        check_version(version)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    if not isinstance(repo_id, str) or not re.match(r"^[\w.-]+/[\w.-]+$", repo_id):
        raise PublishError(f"repo_id {repo_id!r} must look like 'org/name'")
    folder = Path(folder)
    try:
        manifest = verify_folder(folder)
    except ValueError as exc:
        raise PublishError(f"cannot publish: {exc}") from None
    if manifest.get("version") != version:
        raise PublishError(
            f"cannot publish {str(folder)!r} as {version}: it was built as {manifest.get('version')!r} "
            "(rebuild or write the manifest with the release version)"
        )

    check = deid_preflight if preflight is None else preflight
    try:
        check(folder)
    except ResidualRiskError as exc:
        if not (accept_residual_risk and accept_residual_risk.strip()):
            raise PublishError(
                f"publishing refused by the publish gate:\n{exc}\n"
                "Remove the identifiers and rebuild, or, after a person has reviewed every finding, "
                "publish with --accept-residual-risk REASON (recorded in manifest.json)."
            ) from exc
        if not dry_run:
            record_residual_risk(folder, accept_residual_risk.strip(), exc.report)
    except Exception as exc:
        raise PublishError(f"publishing refused by the pre-publish check: {exc}") from exc

    files = [(name, (folder / name).stat().st_size) for name in (CARD_NAME, MANIFEST_NAME)]
    files += [(s["path"], s["num_bytes"]) for s in manifest["shards"]]
    files += [(a["path"], a["num_bytes"]) for a in manifest.get("attachments") or []]
    if endpoint is None:
        from huggingface_hub import constants

        endpoint = getattr(api, "endpoint", None) or constants.ENDPOINT
    plan = PublishPlan(
        repo_id=repo_id,
        version=version,
        endpoint=endpoint,
        private=private,
        files=sorted(files),
        commit_message=f"Release {version}",
        tag_message=f"{manifest.get('name', repo_id)} {version} (content {manifest['content_hash'][:16]})",
        content_hash=manifest["content_hash"],
        overwrite_tag=overwrite_tag,
        dry_run=dry_run,
    )
    if dry_run:
        return plan

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    tags = {ref.name for ref in api.list_repo_refs(repo_id, repo_type="dataset").tags}
    if version in tags and not overwrite_tag:
        raise PublishError(f"{repo_id} already has tag {version}; pick a new version or pass overwrite_tag=True")
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message=plan.commit_message,
        allow_patterns=[path for path, _ in plan.files],
        delete_patterns=[f"{DATA_DIR}/*"],
    )
    plan.commit = getattr(info, "oid", None)
    if version in tags:
        api.delete_tag(repo_id, tag=version, repo_type="dataset")
    api.create_tag(repo_id, tag=version, repo_type="dataset", tag_message=plan.tag_message, revision=plan.commit)
    return plan
