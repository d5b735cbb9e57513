"""The dataset card: YAML front matter built from the writer's stats, body rendered from a Jinja2 template."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pyarrow.parquet as pq
from datasets import DatasetInfo, Features, SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from spinemed.fileio import atomic_write_text
from spinemed.schema import REPORT_PARTS, SUBFIELDS, subfield_group

from .writer import CARD_NAME, DATA_DIR

__all__ = ["DEFAULT_CARD_METADATA", "size_category", "source_licence_metadata", "card_metadata", "dataset_info_yaml", "render_dataset_card",
           "write_dataset_card"]

# Card metadata shared by the kit's datasets; a builder overrides keys via extra["card_metadata"].
DEFAULT_CARD_METADATA: dict[str, Any] = {
    "language": ["en", "zh"],
    "task_categories": ["visual-question-answering", "question-answering", "text-generation"],
    "tags": ["medical", "spine", "orthopedics", "multimodal"],
}

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


def source_licence_metadata(card_licence: Any, by_licence: Mapping[str, int]) -> dict[str, Any]:
    """Card YAML keys that make the card's licence follow the rows' source licences.

    {} when every row's source has the card's licence; otherwise ``license: other`` with a
    per-source licence table in `license_details` (the Hub shows `license_name`): a compilation
    licence cannot relicense rows whose sources say otherwise."""
    sources = {str(lic).strip().lower() for lic in by_licence if lic and lic != "(unspecified)"}
    if sources == {str(card_licence or "").strip().lower()} and "(unspecified)" not in by_licence:
        return {}
    table = "; ".join(f"{lic}: {n} rows" for lic, n in sorted(by_licence.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"license": "other", "license_name": "per-source licences (provenance.license of each row)",
            "license_details": f"Each row keeps its source's licence. Source licences: {table}."}


def dataset_info_yaml(out_dir: str | os.PathLike, configs: Mapping[str, Features], split: str = "train") -> list[dict]:
    """`dataset_info` entries for the card YAML, as `push_to_hub` writes them: features, split
    row counts and the parquet bytes per config, read from the shards on disk.

    Besides documenting the schema on the Hub, this makes `load_dataset` verify the row counts
    and gives every rebuilt folder a different cache key: datasets caches a local folder by its
    name and YAML, so without it a rebuilt `spinemed-450k` could load a stale cached copy."""
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


def card_template_env(folder: str | Path | None = None) -> jinja2.Environment:
    """The one Jinja2 environment of the kit's card templates (dataset, benchmark and model cards).

    Undefined variables are errors (a card never ships a blank), block tags leave no blank lines,
    Markdown is not escaped; filters `num` (thousands separators) and `pct`.  `folder` lets
    templates include their neighbours."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)) if folder is not None else None,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["num"] = _fmt_int
    env.filters["pct"] = _fmt_pct
    return env


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
    template_path = Path(template_path)
    meta = card_metadata(pretty_name=pretty_name, stats=stats, extra=extra)
    card_data = DatasetCardData(**meta)
    env = card_template_env(template_path.parent)
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
    atomic_write_text(path, render_dataset_card(template_path, pretty_name=pretty_name, stats=stats, extra=extra))
    return path
