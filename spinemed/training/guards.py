"""Correctness guards of a training run.

* `check_training_data`: refuse to train on rows that overlap SpineBench.  Every selected
  source (exactly the rows the stage will train on, after `where`/`fraction`/`max_rows`) goes
  through `spinemed.bench.decontam.check_overlap`, the same check `spinemed bench
  check-overlap` runs, so "clean" means the same thing for the dataset release and for
  training.  Overriding (``--allow-contaminated``) is logged loudly and recorded in the run
  summary and the model card.
* `VisionKeepAlive`: under DeepSpeed ZeRO-3 every rank must run the same modules, because
  each module's parameters are all-gathered when it runs.  A rank whose batch has no image
  skips the vision tower while another rank runs it, and both wait forever.  The fix: on a
  text-only batch run the vision tower on a tiny dummy image, at the point of the forward
  where an image batch runs it, and add ``0 * mean`` of its output, so the gathers (forward)
  and gradient reduce-scatters (backward) happen on every rank and the loss is unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data import SelectedSource
from .recipe import Decontamination

logger = logging.getLogger(__name__)

__all__ = ["ContaminationError", "DecontaminationResult", "check_training_data", "VisionKeepAlive",
           "keepalive_enabled"]


class ContaminationError(RuntimeError):
    """Training data overlaps SpineBench (or could not be checked) and no override was given."""


@dataclass
class DecontaminationResult:
    """What the check found, as recorded in the run summary and the model card.

    status: "clean" | "contaminated_allowed" | "unchecked_allowed"."""

    status: str
    bench: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    n_checked: int = 0
    n_overlapping: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)  # the first overlapping rows

    @property
    def clean(self) -> bool:
        return self.status == "clean"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "clean": self.clean, "bench": self.bench, "threshold": self.threshold,
                "n_checked": self.n_checked, "n_overlapping": self.n_overlapping, "sources": self.sources,
                "items": self.items}


def _loud(log: Callable[[str], None], message: str) -> None:
    bar = "!" * 78
    for line in (bar, *message.splitlines(), bar):
        log(line)
    logger.warning(message)


def _bench_location(config: Decontamination) -> Any:
    """The bench as check_overlap takes it; a Hub id is downloaded at the pinned revision."""
    path = Path(config.bench)
    if path.exists() or config.bench_revision is None:
        return config.bench
    from huggingface_hub import snapshot_download

    return snapshot_download(config.bench, repo_type="dataset", revision=config.bench_revision,
                             allow_patterns=["README.md", "manifest.json", "data/*"])


def check_training_data(config: Decontamination | None, selected: list[SelectedSource], *,
                        allow_contaminated: bool = False, log: Callable[[str], None] = print,
                        max_items: int = 50) -> DecontaminationResult:
    """Check every selected source against SpineBench; raise ContaminationError unless clean.

    With ``allow_contaminated`` an overlap (or a missing bench) is logged loudly and returned
    as ``contaminated_allowed`` / ``unchecked_allowed`` instead of raising."""
    if config is None:
        msg = ("the recipe has no `decontamination.bench`, so the training rows cannot be checked against "
               "SpineBench")
        if not allow_contaminated:
            raise ContaminationError(f"refusing to train: {msg}. Add a decontamination block to the recipe, "
                                     "or pass --allow-contaminated to train anyway (recorded in the model card).")
        _loud(log, f"WARNING: {msg}; training anyway because of --allow-contaminated.\n"
                   "The model card will say the training data was NOT checked against SpineBench.")
        return DecontaminationResult(status="unchecked_allowed")

    from spinemed.bench.decontam import check_overlap, load_bench_index

    try:
        index = load_bench_index(_bench_location(config), threshold=config.threshold)
    except (FileNotFoundError, ValueError) as exc:
        reason = str(exc)
        if not Path(config.bench).expanduser().is_absolute() and not Path(config.bench).exists():
            reason += f"; a local bench path is relative to the working directory {os.getcwd()}"
        if not allow_contaminated:
            raise ContaminationError(f"refusing to train: cannot load SpineBench {config.bench!r} to check the "
                                     f"training rows ({reason}). Fix the path, or pass --allow-contaminated.") from exc
        _loud(log, f"WARNING: SpineBench {config.bench!r} could not be loaded ({reason}); training anyway because "
                   "of --allow-contaminated.  The model card will say the data was NOT checked.")
        return DecontaminationResult(status="unchecked_allowed", bench={"source": config.bench},
                                     threshold=config.threshold)

    sources, items, n_checked, n_overlapping = [], [], 0, 0
    for sel in selected:
        label = sel.source.label()
        if len(sel.dataset) == 0:  # nothing selected from this source: nothing to check
            sources.append({"label": label, "checked": 0, "overlapping": 0})
            continue
        report = check_overlap(index, sel.dataset, threshold=config.threshold)
        sources.append({"label": label, "checked": report.n_checked, "overlapping": report.n_overlapping})
        n_checked += report.n_checked
        n_overlapping += report.n_overlapping
        items += [{**item, "source": label} for item in report.items]
        log(f"decontamination: {label}: {report.n_checked} rows checked, {report.n_overlapping} overlap SpineBench")
    bench = {k: index.info.get(k) for k in ("name", "version", "content_hash", "source")}
    result = DecontaminationResult(status="clean", bench=bench, threshold=config.threshold, n_checked=n_checked,
                                   n_overlapping=n_overlapping, sources=sources, items=items[:max_items])
    if n_overlapping == 0:
        log(f"decontamination: clean ({n_checked} rows vs {bench.get('name') or 'SpineBench'} "
            f"{bench.get('version') or ''}, threshold {config.threshold})")
        return result
    listed = "\n".join(f"  {i['source']} {i['candidate_id']} ~ bench {i['bench_id']} ({i['status']}, "
                       f"{i['similarity']:.2f})" for i in items[:10])
    msg = (f"{n_overlapping} of {n_checked} training rows overlap SpineBench "
           f"{bench.get('version') or ''} (threshold {config.threshold}):\n{listed}")
    if not allow_contaminated:
        raise ContaminationError(
            f"refusing to train: {msg}\nTrain on the decontaminated release (`spinemed bench decontaminate`), "
            "or pass --allow-contaminated to train anyway (recorded in the model card).")
    _loud(log, f"WARNING: {msg}\nTraining anyway because of --allow-contaminated; the model card records it "
               "and its SpineBench scores are NOT comparable to a clean model's.")
    result.status = "contaminated_allowed"
    return result


# --------------------------------------------------------------------------------------
# ZeRO-3: the vision tower runs on every rank for every batch
# --------------------------------------------------------------------------------------


def keepalive_enabled(setting: str | bool, zero_stage: int | None) -> bool:
    """`vision_keepalive` of a recipe: True/False, or "auto" = on under DeepSpeed ZeRO-3."""
    if setting == "auto":
        return zero_stage == 3
    return bool(setting)


class VisionKeepAlive:
    """Runs the vision tower on a dummy image inside the forward of a batch without images.

    Where it runs matters as much as that it runs.  Under ZeRO-3 every module's parameters are
    all-gathered when it starts, and `DeepSpeedEngine.forward` itself begins with a collective,
    so every rank must visit the same modules in the same order inside the engine's forward.
    An image batch runs: token embedding -> vision tower -> language model.  `attach` hooks the
    start of the language model; when `arm(True)` was called for the batch (the trainer does it
    for batches without `pixel_values`), the hook runs the vision tower on the dummy image and
    adds ``0 * mean`` of its output to the input embeddings, so a text-only batch runs the same
    sequence, every vision parameter gets a (zero) gradient, and the loss is unchanged.
    (Measured with ZeRO-3 on 2 CPU ranks: running it before or after the engine's forward
    aborts on mismatched collectives or hangs.)

    The dummy image (56x56, black) is processed once by the model's own image processor, so it
    has exactly the inputs the tower expects (Qwen2.5-VL: 4x4 patches, 2x2 merged tokens).
    Works for every model with transformers' `get_image_features(pixel_values, image_grid_thw)`
    (the Qwen2-VL family)."""

    def __init__(self, processor: Any, size: tuple[int, int] = (56, 56)):
        from PIL import Image

        out = processor.image_processor(images=[Image.new("RGB", size)], return_tensors="pt")
        self.inputs = {k: v for k, v in out.items() if k in ("pixel_values", "image_grid_thw")}
        if "pixel_values" not in self.inputs:
            raise ValueError(f"{type(processor.image_processor).__name__} returned no pixel_values for the dummy image")
        self.calls = 0  # text-only batches that ran the dummy pass (for logs and tests)
        self.pending = False
        self._model = None

    @staticmethod
    def needed(inputs: Mapping[str, Any]) -> bool:
        return inputs.get("pixel_values") is None

    def attach(self, model: Any) -> Any:
        """Hook the start of `model`'s language model; returns the hook handle."""
        self._model = model
        return model.get_decoder().register_forward_pre_hook(self._before_language_model, with_kwargs=True)

    def arm(self, needed: bool) -> None:
        """Set before each forward: run the dummy pass in it or not."""
        self.pending = bool(needed)

    def _before_language_model(self, module: Any, args: tuple, kwargs: dict) -> Any:
        if not self.pending:
            return None
        self.pending = False
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:
            raise RuntimeError(f"{type(module).__name__} was called without inputs_embeds; the vision keep-alive "
                               "needs the multimodal model to embed the tokens first (Qwen2-VL family)")
        return args, {**kwargs, "inputs_embeds": embeds + self.term(self._model).to(embeds.dtype)}

    def term(self, model: Any) -> Any:
        """``0 * mean`` of the vision tower's output on the dummy image (a 0-valued scalar that
        is connected to every vision parameter)."""
        import torch

        visual = getattr(getattr(model, "model", model), "visual", None)
        param = next((visual or model).parameters())
        kwargs = {k: v.to(param.device) for k, v in self.inputs.items()}
        kwargs["pixel_values"] = kwargs["pixel_values"].to(param.dtype)
        out = model.get_image_features(**kwargs)
        # Use what the model itself consumes (the merged `pooler_output`, as in its forward): touching
        # another output too (the unmerged hidden states) adds a backward path an image batch does not
        # have, and ZeRO-3 then records a different module trace on this rank.
        used = out.get("pooler_output") if isinstance(out, Mapping) and out.get("pooler_output") is not None else out
        tensors = [t for t in _tensors(used) if torch.is_floating_point(t)]
        if not tensors:
            raise RuntimeError(f"{type(model).__name__}.get_image_features returned no tensor")
        self.calls += 1
        return sum(t.float().mean() for t in tensors) * 0.0


def _tensors(value: Any):
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, Mapping):  # ModelOutput is a Mapping of its non-None fields
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
