"""Running one curriculum stage: data -> guards -> TRL SFTTrainer -> summary, card, push.

`run_stage(recipe)` is what `spinemed train` and `training/sft.py` (under `accelerate launch`)
call.  Order matters and is deliberate:

1. the `SFTConfig` is built first: under DeepSpeed ZeRO-3 the model must be created after the
   training arguments exist so that it is loaded already partitioned;
2. the data is selected and checked against SpineBench *before* anything expensive
   (`guards.check_training_data`), then converted and length-filtered;
3. the Hub target is prepared (repo, stage branch, tag free) before training, so a
   misconfigured push fails in seconds, not after the run;
4. training resumes from the last checkpoint in `output_dir` unless told otherwise;
5. the run summary (`training_summary.json`) and the model card are written next to the
   weights, then the stage is pushed to its branch and tagged.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import SFTTrainer

from .card import SUMMARY_NAME, check_eval_models, render_model_card
from .data import prepare_mixture, select_source
from .guards import DecontaminationResult, VisionKeepAlive, check_training_data, keepalive_enabled
from .push import HubTarget, hub_api
from .recipe import TINY_MODEL, StageRecipe

logger = logging.getLogger(__name__)

__all__ = ["SpineSFTTrainer", "StageResult", "CheckpointWeightsError", "load_checkpoint_weights", "run_stage",
           "resolve_model", "resolve_resume", "stage_summary", "N_STAGES"]

N_STAGES = 3  # the paper's curriculum; only used to label intermediate checkpoints in the card


class CheckpointWeightsError(ValueError):
    """A checkpoint's weights do not cover the model being trained (or hold weights it lacks)."""


def load_checkpoint_weights(model: Any, checkpoint: str | os.PathLike) -> None:
    """Load every weight of a `save_pretrained` folder into `model` in place, or raise.

    `Trainer._load_from_checkpoint` reads the safetensors file as it is and calls
    `load_state_dict(strict=False)`.  transformers saves Qwen2.5-VL under its legacy weight names
    (`model.layers.*`, `visual.*`) and maps them to the current ones (`model.language_model.*`,
    `model.visual.*`) only inside `from_pretrained`, so there nothing matched and a resumed run
    silently went on from the stage's starting weights.  Loading through `from_pretrained`
    applies the model's own key mapping; then nothing may be missing, unexpected or mis-shaped,
    neither in the checkpoint nor when copying into `model`.  The copy keeps `model`'s devices
    and dtypes (and any hooks attached to it); the extra host copy is freed on return."""
    loaded, info = type(model).from_pretrained(str(checkpoint), dtype=model.dtype, output_loading_info=True)
    problems = {k: sorted(map(str, info.get(k) or ())) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if not any(problems.values()):
        result = model.load_state_dict(loaded.state_dict(), strict=False)
        problems = {"missing_keys": sorted(result.missing_keys), "unexpected_keys": sorted(result.unexpected_keys)}
    del loaded
    if any(problems.values()):
        detail = "; ".join(f"{len(v)} {k.replace('_', ' ')} (e.g. {', '.join(v[:3])})"
                           for k, v in problems.items() if v)
        raise CheckpointWeightsError(f"checkpoint {str(checkpoint)!r} does not match {type(model).__name__}: {detail}. "
                                     "Refusing to resume from partly loaded weights; pass --resume no to start over")


class SpineSFTTrainer(SFTTrainer):
    """`SFTTrainer` with the ZeRO-3 vision keep-alive and the SpineGPT model card.

    `vision_keepalive`: a `VisionKeepAlive`; batches without `pixel_values` run the vision tower
    on its dummy image inside the forward (train and eval), see `spinemed.training.guards`.
    `card_writer`: called with the trainer whenever the Trainer writes its model card (at each
    checkpoint and in `push_to_hub`), so the pushed README is the SpineGPT card, not TRL's.
    Resuming without DeepSpeed/FSDP loads the checkpoint weights with `load_checkpoint_weights`
    (all of them, or an error); DeepSpeed and FSDP resume through their own loaders."""

    def __init__(self, *args, vision_keepalive: VisionKeepAlive | None = None,
                 card_writer: Callable[[SpineSFTTrainer], None] | None = None, **kwargs):
        self.vision_keepalive = vision_keepalive
        self.card_writer = card_writer
        super().__init__(*args, **kwargs)
        if vision_keepalive is not None:
            vision_keepalive.attach(self.model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.vision_keepalive is not None:  # train and eval: both run the forward on every rank
            self.vision_keepalive.arm(self.vision_keepalive.needed(inputs))
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def _plain_model(self) -> bool:
        """A full, unwrapped transformers model this process holds entirely (no ZeRO/FSDP shards, no adapter)."""
        from transformers import PreTrainedModel
        from transformers.utils import is_sagemaker_mp_enabled

        return (not (self.is_deepspeed_enabled or self.is_fsdp_enabled or is_sagemaker_mp_enabled())
                and isinstance(self.model, PreTrainedModel) and not hasattr(self.model, "peft_config"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        if model is not None or not self._plain_model():  # FSDP / SageMaker MP / adapters: the Trainer's loaders
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        logger.info("loading the model weights of %s", resume_from_checkpoint)
        load_checkpoint_weights(self.model, resume_from_checkpoint)

    def _load_best_model(self) -> None:  # load_best_model_at_end: same loader, same key mapping
        if not self._plain_model():
            return super()._load_best_model()
        load_checkpoint_weights(self.model, self.state.best_model_checkpoint)

    def create_model_card(self, *args, **kwargs) -> None:
        if self.card_writer is None:
            return super().create_model_card(*args, **kwargs)
        if self.is_world_process_zero():
            self.card_writer(self)


@dataclass
class StageResult:
    """What a stage produced."""

    recipe: StageRecipe
    output_dir: Path
    summary: dict[str, Any]
    hub: dict[str, Any] | None = None
    trainer: Any = field(default=None, repr=False)


def resolve_model(recipe: StageRecipe, log: Callable[[str], None] = print) -> str:
    """The model the stage starts from: the previous stage's output, a Hub id / local folder,
    or (smoke runs) the tiny random-weight Qwen2.5-VL built offline next to `output_dir`."""
    name = recipe.model_name_or_path
    if name == TINY_MODEL:
        from spinemed.models.tiny import build_tiny_qwen25vl

        target = recipe.output_dir.parent / "tiny-qwen2.5-vl-base"
        if not (target / "config.json").is_file():
            log(f"building the tiny random-weight Qwen2.5-VL in {target} (smoke runs only)")
            build_tiny_qwen25vl(target, seed=0)
        return str(target)
    if recipe.init_from is not None and not (Path(name) / "config.json").is_file():
        raise FileNotFoundError(
            f"{recipe.label()} starts from {name}, the output of {recipe.init_from.name}, which has no model yet: "
            "run the previous stage first")
    return name


def resolve_resume(resume: str | bool | None, output_dir: str | os.PathLike,
                   log: Callable[[str], None] = print) -> str | None:
    """`resume_from_checkpoint` for Trainer.train: "auto" = the last checkpoint in output_dir (if any),
    a path = that checkpoint, None/False = start fresh."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume in (None, False, "no", "none"):
        return None
    if resume in (True, "auto"):
        last = get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None
        if last:
            log(f"resuming from {last}")
        return last
    path = Path(str(resume))
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    log(f"resuming from {path}")
    return str(path)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("spinemed", "transformers", "trl", "torch", "accelerate", "deepspeed", "datasets"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def _previous_stages(model_path: str) -> list[dict[str, Any]]:
    """The stages recorded in the starting model's summary (empty for a base model)."""
    path = Path(model_path) / SUMMARY_NAME
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("stages", []))


def _train_metrics(trainer: Any) -> dict[str, Any]:
    history = list(trainer.state.log_history) if trainer is not None else []
    losses = [h["loss"] for h in history if "loss" in h]
    final = next((h for h in reversed(history) if "train_loss" in h), {})
    tokens = next((h["num_tokens"] for h in reversed(history) if "num_tokens" in h), None)
    return {
        "loss": round(float(final.get("train_loss", losses[-1] if losses else float("nan"))), 4) if (final or losses)
        else None,
        "losses": [round(float(x), 4) for x in losses],
        "steps": int(trainer.state.global_step) if trainer is not None else 0,
        "runtime_s": round(float(final["train_runtime"]), 1) if "train_runtime" in final else None,
        "tokens": int(tokens) if tokens is not None else None,
    }


def stage_summary(recipe: StageRecipe, *, model_path: str, mixture: Mapping[str, Any],
                  decontamination: DecontaminationResult, args: Any, trainer: Any = None,
                  hub: Mapping[str, Any] | None = None, n_stages: int = N_STAGES) -> dict[str, Any]:
    """The run summary written to `training_summary.json` (and rendered into the model card)."""
    card = recipe.model_card
    this = {
        "stage": recipe.stage, "name": recipe.name, "recipe": str(recipe.path) if recipe.path else None,
        "started_from": model_path, "lr": args.learning_rate, "max_length": args.max_length,
        "epochs": round(float(trainer.state.epoch), 3) if trainer is not None and trainer.state.epoch
        else args.num_train_epochs, "max_steps": args.max_steps if args.max_steps > 0 else None, "zero_stage": _runtime_zero_stage(args),
        "batch": {"per_device": args.per_device_train_batch_size, "accumulation": args.gradient_accumulation_steps,
                  "processes": args.world_size},
        "sources": list(mixture["sources"]), "rows": mixture["rows"], "too_long": mixture["too_long"],
        "decontamination": decontamination.to_json(), "train": _train_metrics(trainer),
        "hub": dict(hub) if hub else None, "vision_keepalive_batches": getattr(
            getattr(trainer, "vision_keepalive", None), "calls", None),
    }
    stages = [s for s in _previous_stages(model_path) if s["stage"] < recipe.stage] + [this]
    repo_id = args.hub_model_id if args.push_to_hub else None
    return {
        "format": "spinegpt-training/1",
        "model_name": card.get("model_name") or (args.hub_model_id or "").split("/")[-1] or recipe.name,
        "base_model": recipe.base_model,
        "license": card.get("license"), "language": card.get("language"), "tags": card.get("tags"),
        "repo_id": repo_id, "hub_model_id": args.hub_model_id,
        "final": recipe.stage >= n_stages or bool(recipe.hub_push_main),
        "n_stages": max(n_stages, recipe.stage), "stages": stages, "versions": _versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _training_template(processor: Any, args: Any) -> str | None:
    """The chat template the collator will render with: TRL swaps in a training template with
    `{% generation %}` markers for assistant-only loss (e.g. for Qwen/Qwen2.5-VL-7B-Instruct's own),
    so lengths are measured with that one."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if args.assistant_only_loss and not has_generation_markers(processor.chat_template):
        return get_training_chat_template(processor)
    return None


def _runtime_zero_stage(args: Any) -> int | None:
    """ZeRO stage this process actually runs with (accelerate launch sets the DeepSpeed plugin)."""
    plugin = getattr(args, "deepspeed_plugin", None)
    return int(plugin.zero_stage) if plugin is not None else None


def run_stage(recipe: StageRecipe, *, allow_contaminated: bool = False, resume: str | bool | None = "auto",
              eval_results: Sequence[Mapping[str, Any]] = (), allow_foreign_eval: bool = False,
              overwrite_tag: bool = False,
              training_overrides: Mapping[str, Any] | None = None, api: Any = None,
              log: Callable[[str], None] = print) -> StageResult:
    """Train one stage as its recipe says and return where everything went.

    `training_overrides` are extra `SFTConfig` values (e.g. `max_steps` for a smoke run);
    `eval_results` (results dicts from `spinemed eval`) go into the card's model-index; results of
    another model than this stage are refused up front unless `allow_foreign_eval`."""
    from transformers import AutoProcessor

    t0 = time.time()
    args = recipe.sft_config(**dict(training_overrides or {}))
    check_eval_models(eval_results, output_dir=args.output_dir, repo_ids=[args.hub_model_id],
                      allow_foreign=allow_foreign_eval)  # before training, not at the first checkpoint's card
    if args.process_index != 0:
        log = lambda _msg: None  # noqa: E731  (one copy of the logs, not one per rank)
    log(f"== {recipe.label()}: {recipe.path}")
    with args.main_process_first(desc="model"):
        model_path = resolve_model(recipe, log)
    model_kwargs = {k: v for k, v in (("revision", recipe.model_revision), ("dtype", recipe.dtype),
                                      ("attn_implementation", recipe.attn_implementation)) if v}
    args.model_init_kwargs = {**model_kwargs, **(args.model_init_kwargs or {})}
    processor = AutoProcessor.from_pretrained(model_path, revision=recipe.model_revision)

    mix_cfg = recipe.mixture
    # Each node's main process downloads and converts first; the other ranks then reuse the datasets
    # cache.  Every rank runs the same (deterministic) check, so a refusal stops all of them.
    with args.main_process_first(desc="SpineGPT training data"):
        selected = [select_source(src, seed=mix_cfg.seed) for src in mix_cfg.datasets]
        decontamination = check_training_data(recipe.decontamination, selected,
                                              allow_contaminated=allow_contaminated, log=log)
        mixture = prepare_mixture(selected, processor, args.max_length, seed=mix_cfg.seed, shuffle=mix_cfg.shuffle,
                                  num_proc=args.dataset_num_proc, chat_template=_training_template(processor, args),
                                  log=log)
    log(mixture.summary())
    mix_info = {"sources": mixture.sources, "rows": mixture.n_rows, "too_long": mixture.n_too_long}

    hub = None
    if args.push_to_hub:
        api = api or hub_api()
        hub = HubTarget.from_args(args, tag=recipe.hub_tag, push_main=recipe.hub_push_main)
        if args.process_index == 0:
            hub.preflight(api, overwrite_tag=overwrite_tag)

    zero_stage = _runtime_zero_stage(args)
    keepalive = VisionKeepAlive(processor) if keepalive_enabled(recipe.vision_keepalive, zero_stage) else None
    if keepalive is not None:
        log("vision keep-alive on: text-only batches run the vision tower on a dummy image")

    def write_card(trainer: SpineSFTTrainer) -> None:
        summary = stage_summary(recipe, model_path=model_path, mixture=mix_info, decontamination=decontamination,
                                args=args, trainer=trainer, hub=hub.describe() if hub else None)
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        render_model_card(summary, eval_results=eval_results, output_dir=out,
                          allow_foreign_eval=allow_foreign_eval).save(out / "README.md")

    trainer = SpineSFTTrainer(model=model_path, args=args, train_dataset=mixture.dataset, processing_class=processor,
                              vision_keepalive=keepalive, card_writer=write_card)
    checkpoint = resolve_resume(resume, args.output_dir, log)
    trainer.train(resume_from_checkpoint=checkpoint)

    hub_info = None
    if hub is not None:
        info = trainer.push_to_hub(commit_message=f"{recipe.label()}: end of training")  # saves, writes the card
        if trainer.is_world_process_zero():
            hub_info = hub.finish(getattr(info, "oid", None), args.output_dir, api=api, overwrite_tag=overwrite_tag,
                                  message=f"{recipe.name} ({recipe.label()})")
            write_card(trainer)  # record the pushed commit and tag in the local summary
    else:
        trainer.save_model()  # weights + processor; under ZeRO-3 gathered to one 16-bit copy
        if trainer.is_world_process_zero():
            write_card(trainer)
    summary = json.loads((Path(args.output_dir) / SUMMARY_NAME).read_text(encoding="utf-8")) \
        if trainer.is_world_process_zero() else {}
    log(f"== {recipe.label()} done in {time.time() - t0:.0f} s -> {args.output_dir}")
    return StageResult(recipe=recipe, output_dir=Path(args.output_dir), summary=summary, hub=hub_info, trainer=trainer)
