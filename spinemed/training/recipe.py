"""Curriculum recipes: one YAML file per stage (alignment-handbook style), parsed and checked.

A stage recipe holds three kinds of keys:

* kit keys (this module): `stage`, `name`, the model (`model_name_or_path` or `init_from` the
  previous stage's recipe, `base_model`, `model_revision`, `dtype`, `attn_implementation`), the
  `dataset_mixture`, the `decontamination` check, `accelerate_config`, `vision_keepalive`,
  `hub_tag`, `hub_push_main` and `model_card`;
* everything else is passed to TRL's `SFTConfig` as is (`learning_rate`, `max_length`,
  `output_dir`, `push_to_hub`, `hub_model_id`, `hub_revision`, ...), and an unknown key is an
  error naming the file, so a typo never silently falls back to a default.

A curriculum is a folder of stage recipes (`stage1.yaml`, `stage2.yaml`, ...).  `init_from:
stage1.yaml` makes a stage start from that recipe's `output_dir`, so a stage never has to
repeat (and can never disagree with) where the previous one wrote its model.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from ..config import expand_org
from ..extras import needs_extra
from .data import DatasetMixture

__all__ = [
    "TINY_MODEL",
    "Decontamination",
    "StageRecipe",
    "load_recipe",
    "load_curriculum",
    "parse_overrides",
    "sft_config_fields",
    "accelerate_zero_stage",
]

# `model_name_or_path` value that builds the tiny random-weight Qwen2.5-VL offline (smoke runs).
TINY_MODEL = "spinemed:tiny-qwen2.5-vl"

_KIT_KEYS = {
    "stage", "name", "description", "model_name_or_path", "init_from", "base_model", "model_revision", "dtype",
    "attn_implementation", "dataset_mixture", "decontamination", "accelerate_config", "vision_keepalive",
    "hub_tag", "hub_push_main", "model_card",
}
_CARD_KEYS = {"model_name", "license", "language", "eval_results", "tags"}


@dataclass
class Decontamination:
    """Which SpineBench to check the training rows against (`spinemed.bench.decontam.check_overlap`)."""

    bench: str
    bench_revision: str | None = None
    threshold: float = 0.5

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Decontamination | None:
        if d is None:
            return None
        if not isinstance(d, Mapping) or not d.get("bench"):
            raise ValueError(f"{where}: decontamination needs 'bench' (a SpineBench folder or Hub dataset id)")
        unknown = sorted(set(d) - {"bench", "bench_revision", "threshold"})
        if unknown:
            raise ValueError(f"{where}: unknown decontamination key(s) {unknown}")
        threshold = float(d.get("threshold", 0.5))
        if not 0 < threshold <= 1:
            raise ValueError(f"{where}: decontamination.threshold must be in (0, 1], got {threshold}")
        return cls(bench=str(d["bench"]), bench_revision=d.get("bench_revision"), threshold=threshold)


@dataclass
class StageRecipe:
    """One curriculum stage, parsed from its YAML file."""

    stage: int
    name: str
    model_name_or_path: str
    base_model: str
    mixture: DatasetMixture
    training_args: dict[str, Any]
    path: Path | None = None
    description: str = ""
    init_from: Path | None = None
    model_revision: str | None = None
    dtype: str | None = None
    attn_implementation: str | None = None
    decontamination: Decontamination | None = None
    accelerate_config: str | None = None
    vision_keepalive: str | bool = "auto"
    hub_tag: str | None = None
    hub_push_main: bool = False
    model_card: dict[str, Any] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        return Path(self.training_args["output_dir"])

    @property
    def max_length(self) -> int | None:
        return self.training_args.get("max_length", 1024)

    def label(self) -> str:
        return f"stage {self.stage} ({self.name})"

    def sft_config(self, **overrides: Any):
        """TRL `SFTConfig` of this stage (`overrides` win over the recipe)."""
        with needs_extra("train", "spinemed train"):
            from trl import SFTConfig

        return SFTConfig(**{**self.training_args, **overrides})

    def zero_stage(self) -> int | None:
        """ZeRO stage of the recipe's accelerate config (None without DeepSpeed)."""
        return accelerate_zero_stage(self.accelerate_config) if self.accelerate_config else None

    def to_dict(self) -> dict[str, Any]:
        """What the stage ran with, for the run summary and the model card."""
        return {
            "stage": self.stage, "name": self.name, "recipe": str(self.path) if self.path else None,
            "model_name_or_path": self.model_name_or_path, "base_model": self.base_model,
            "init_from": str(self.init_from) if self.init_from else None,
            "datasets": [{k: v for k, v in vars(s).items() if v not in (None, {}, [])} for s in self.mixture.datasets],
            "accelerate_config": self.accelerate_config, "zero_stage": self.zero_stage(),
            "training_args": dict(self.training_args),
        }


def sft_config_fields() -> set[str]:
    with needs_extra("train", "spinemed train"):
        from trl import SFTConfig

    return {f.name for f in fields(SFTConfig) if f.init}


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce_numbers(training_args: dict) -> None:
    """Undo YAML 1.1 surprises for SFTConfig fields: `2e-5` (no dot) is read as a string, `no` as False."""
    with needs_extra("train", "spinemed train"):
        from trl import SFTConfig

    all_defaults = {f.name: f.default for f in fields(SFTConfig)}
    defaults = {k: d for k, d in all_defaults.items() if isinstance(d, (int, float)) and not isinstance(d, bool)}
    for key, value in training_args.items():
        if value is False and isinstance(all_defaults.get(key), (str, Enum)):
            training_args[key] = "no"  # YAML 1.1: `save_strategy: no` is False
        elif key in defaults and isinstance(value, str) and _NUMBER.match(value.strip()):
            number = float(value)
            is_int = isinstance(defaults[key], int) and number.is_integer()
            training_args[key] = int(number) if is_int else number


def accelerate_zero_stage(config_file: str | Path) -> int | None:
    """`deepspeed_config.zero_stage` of an accelerate config file (None when not DeepSpeed)."""
    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"accelerate config {str(path)!r} does not exist")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if cfg.get("distributed_type") != "DEEPSPEED":
        return None
    return int((cfg.get("deepspeed_config") or {}).get("zero_stage", 0))


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`key=value` strings (values parsed as YAML, dotted keys for nesting) to a nested dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} must look like key=value (e.g. learning_rate=2e-5)")
        value = yaml.safe_load(raw) if raw.strip() else ""
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {p!r} is set both as a value and as a mapping")
        node[leaf] = value
    return out


def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"recipe {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe must be a YAML mapping")
    return _expand_org(raw)


def _expand_org(value: Any) -> Any:
    """Repo ids written ``${SPINEMED_HUB_ORG}/NAME`` name the kit's default organisation (spinemed.config)."""
    if isinstance(value, dict):
        return {k: _expand_org(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_org(v) for v in value]
    return expand_org(value)


def _find_relative(value: str, recipe: Path) -> Path:
    """A path as written (relative to the working directory), else relative to the recipe's folder
    or one of its parents, so `training/accelerate/zero2.yaml` works from any directory."""
    p = Path(value)
    if p.is_absolute() or p.exists():
        return p
    for parent in recipe.resolve().parents:
        if (parent / p).exists():
            return parent / p
    return p


def _rebase_output(training_args: dict, output_root: str | Path | None) -> None:
    if output_root is not None and training_args.get("output_dir"):
        training_args["output_dir"] = str(Path(output_root) / Path(training_args["output_dir"]).name)


def load_recipe(path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                output_root: str | Path | None = None, _seen: tuple[Path, ...] = ()) -> StageRecipe:
    """Parse and check one stage recipe.

    `overrides` (see `parse_overrides`) are merged into the YAML first; `output_root` replaces the
    folder part of `output_dir` (and of every recipe reached through `init_from`, so the chain
    stays consistent)."""
    path = Path(path)
    raw = _merge(_read_yaml(path), overrides or {})
    where = str(path)
    if path.resolve() in _seen:
        raise ValueError(f"{where}: init_from cycle through {[str(p) for p in _seen]}")

    kit = {k: raw.pop(k) for k in list(raw) if k in _KIT_KEYS}
    allowed = sft_config_fields()
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}: neither a kit key ({sorted(_KIT_KEYS)}) "
                         "nor a TRL SFTConfig field")
    training_args = raw
    _coerce_numbers(training_args)
    if not training_args.get("output_dir"):
        raise ValueError(f"{where}: 'output_dir' is required")
    _rebase_output(training_args, output_root)

    stage = kit.get("stage")
    if not isinstance(stage, int) or stage < 1:
        raise ValueError(f"{where}: 'stage' must be a positive integer, got {stage!r}")

    init_from = None
    base_model = kit.get("base_model")
    if kit.get("init_from"):
        if kit.get("model_name_or_path"):
            raise ValueError(f"{where}: set either 'model_name_or_path' or 'init_from', not both")
        init_from = (path.parent / str(kit["init_from"])).resolve()
        prev = load_recipe(init_from, output_root=output_root, _seen=(*_seen, path.resolve()))
        if prev.stage >= stage:
            raise ValueError(f"{where}: init_from {str(init_from)!r} is stage {prev.stage}, not an earlier stage")
        model = str(prev.output_dir)
        base_model = base_model or prev.base_model
    elif kit.get("model_name_or_path"):
        model = str(kit["model_name_or_path"])
        base_model = base_model or model
    else:
        raise ValueError(f"{where}: set 'model_name_or_path' (stage 1) or 'init_from' (a previous stage's recipe)")

    if "dataset_mixture" not in kit:
        raise ValueError(f"{where}: 'dataset_mixture' is required")
    mixture = DatasetMixture.from_dict(kit["dataset_mixture"], f"{where}: dataset_mixture")

    keepalive = kit.get("vision_keepalive", "auto")
    if keepalive not in ("auto", True, False):
        raise ValueError(f"{where}: vision_keepalive must be auto, true or false, got {keepalive!r}")
    card = kit.get("model_card") or {}
    if not isinstance(card, Mapping) or set(card) - _CARD_KEYS:
        raise ValueError(f"{where}: model_card must be a mapping with keys among {sorted(_CARD_KEYS)}")
    accelerate_config = kit.get("accelerate_config")
    if accelerate_config is not None:
        accelerate_config = str(_find_relative(str(accelerate_config), path))
        accelerate_zero_stage(accelerate_config)  # the file must exist and parse

    return StageRecipe(
        stage=stage, name=str(kit.get("name") or path.stem), model_name_or_path=model, base_model=str(base_model),
        mixture=mixture, training_args=training_args, path=path, description=str(kit.get("description") or ""),
        init_from=init_from, model_revision=kit.get("model_revision"), dtype=kit.get("dtype"),
        attn_implementation=kit.get("attn_implementation"),
        decontamination=Decontamination.from_dict(kit.get("decontamination"), where),
        accelerate_config=accelerate_config, vision_keepalive=keepalive, hub_tag=kit.get("hub_tag"),
        hub_push_main=bool(kit.get("hub_push_main", False)), model_card=dict(card),
    )


def load_curriculum(path: str | Path, stage: int | None = None, overrides: Mapping[str, Any] | None = None, *,
                    output_root: str | Path | None = None) -> list[StageRecipe]:
    """The stage(s) to run: `path` is one stage's YAML or a folder of them (`stage*.yaml`).

    With `stage`, only that stage (a file must be that stage); without, every stage in order.
    `overrides` apply to the selected stage(s)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        if not files:
            raise FileNotFoundError(f"no stage recipes (*.yaml) in {str(path)!r}")
        stages = sorted((load_recipe(f, overrides, output_root=output_root) for f in files), key=lambda r: r.stage)
        numbers = [r.stage for r in stages]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"{path}: two recipes declare the same stage ({numbers})")
    else:
        stages = [load_recipe(path, overrides, output_root=output_root)]
    if stage is not None:
        chosen = [r for r in stages if r.stage == stage]
        if not chosen:
            raise ValueError(f"{path}: no stage {stage} (stages: {[r.stage for r in stages]})")
        return chosen
    return stages
