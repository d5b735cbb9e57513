"""The SpineGPT model card: `model_card/spinegpt.md` rendered with `huggingface_hub.ModelCardData`.

The YAML header is built by `ModelCardData` (base_model set explicitly, datasets, license,
pipeline_tag ``image-text-to-text``, and the ``model-index`` made by the evaluation runner's
`results_to_model_index` from its results JSON), the body by the Jinja template from the run
summary that `spinemed.training.trainer` writes next to the weights (`training_summary.json`),
so the card always describes the stages that actually produced the checkpoint.  Rendering is
strict: a variable the template uses but the summary lacks is an error, not an empty cell.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["TEMPLATE", "SUMMARY_NAME", "CARD_NAME", "render_model_card", "write_model_card", "load_eval_results"]

TEMPLATE = Path(__file__).resolve().parents[2] / "model_card" / "spinegpt.md"
SUMMARY_NAME = "training_summary.json"
CARD_NAME = "README.md"
PIPELINE_TAG = "image-text-to-text"
DEFAULT_LICENSE = "apache-2.0"  # Qwen2.5-VL-7B-Instruct's license
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TAGS = ["medical", "spine", "orthopedics", "vision-language", "qwen2.5-vl", "trl", "sft", "not-for-clinical-use"]


def load_eval_results(paths: Sequence[str | os.PathLike], *, allow_partial: bool = False) -> list[dict[str, Any]]:
    """Results JSON files written by `spinemed eval`, checked up front (schema, and that they make
    model-index entries: a partial run is refused unless `allow_partial`), so a bad file fails
    before training, not at the first checkpoint's card."""
    from spinemed.evaluation.model_index import results_to_eval_results
    from spinemed.evaluation.results import load_results

    out = []
    for path in paths:
        results = load_results(path)
        try:
            results_to_eval_results(results, allow_partial=allow_partial)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        out.append(results)
    return out


def _hub_dataset_ids(stages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Hub dataset ids the checkpoint was trained on (local folders are not metadata)."""
    out: list[str] = []
    for stage in stages:
        for src in stage.get("sources", []):
            path = str(src.get("path") or "")
            if _REPO_ID.match(path) and not Path(path).exists() and path not in out:
                out.append(path)
    return out


def _evaluation_rows(results: Mapping[str, Any], eval_results: Sequence[Any]) -> dict[str, Any]:
    bench = results.get("benchmark") or {}
    return {
        "benchmark": bench.get("name") or "SpineBench", "version": bench.get("version") or "",
        "variant": bench.get("variant") or "", "model": (results.get("model") or {}).get("id") or "",
        "report_status": results.get("report_status") or "not_judged",
        "judge": (results.get("judge") or {}).get("judge_model"),
        "scores": [{"name": r.metric_name, "value": r.metric_value, "n": (r.metric_args or {}).get("n", "")}
                   for r in eval_results],
    }


def render_model_card(summary: Mapping[str, Any], *, eval_results: Sequence[Mapping[str, Any]] = (),
                      template: str | os.PathLike = TEMPLATE, allow_partial_eval: bool = False):
    """A `huggingface_hub.ModelCard` for the checkpoint described by `summary`.

    `summary` is a stage's run summary (see `spinemed.training.trainer.stage_summary`):
    `stages` (every stage up to this one), `model_name`, `base_model`, `license`, `repo_id`,
    `n_stages`, `versions`.  `eval_results` are results dicts from `spinemed eval`; each
    becomes `model-index` entries through `results_to_model_index` (a partial run is refused
    unless `allow_partial_eval`).
    """
    import jinja2
    from huggingface_hub import ModelCard, ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    stages = list(summary["stages"])
    if not stages:
        raise ValueError("the summary has no stages")
    model_name = summary["model_name"]
    base_model = summary["base_model"]
    if not base_model:
        raise ValueError("the summary has no base_model (the card must name the model it was fine-tuned from)")

    all_eval: list[Any] = []
    evaluations = []
    for results in eval_results:
        from spinemed.evaluation.model_index import results_to_model_index

        model_index = results_to_model_index(results, model_name, allow_partial=allow_partial_eval)
        _, entries = model_index_to_eval_results(model_index)
        all_eval += entries
        evaluations.append(_evaluation_rows(results, entries))

    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_model,
        base_model_relation="finetune",
        datasets=_hub_dataset_ids(stages) or None,
        license=summary.get("license") or DEFAULT_LICENSE,
        language=list(summary.get("language") or ["en", "zh"]),
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=list(dict.fromkeys([*_TAGS, *(summary.get("tags") or [])])),
        eval_results=all_eval or None,
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    text = env.from_string(Path(template).read_text(encoding="utf-8")).render(
        card_data=card_data.to_yaml(),
        model_name=model_name,
        repo_id=summary.get("repo_id"),
        base_model=base_model,
        base_model_link=(f"[`{base_model}`](https://huggingface.co/{base_model})"
                         if _REPO_ID.match(base_model) and not Path(base_model).exists() else f"`{base_model}`"),
        current=stages[-1],
        final=bool(summary.get("final")),
        n_stages=int(summary.get("n_stages") or len(stages)),
        stages=stages,
        contaminated=[s["stage"] for s in stages if s["decontamination"]["status"] != "clean"],
        evaluations=evaluations,
        versions=summary.get("versions") or {},
    )
    return ModelCard(text)


def write_model_card(folder: str | os.PathLike, *, eval_results: Sequence[Mapping[str, Any]] = (),
                     summary: Mapping[str, Any] | None = None, allow_partial_eval: bool = False) -> Path:
    """Render the card of a stage output folder (from its `training_summary.json`) to README.md."""
    folder = Path(folder)
    if summary is None:
        path = folder / SUMMARY_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is {str(folder)!r} a finished training stage?")
        summary = json.loads(path.read_text(encoding="utf-8"))
    card = render_model_card(summary, eval_results=eval_results, allow_partial_eval=allow_partial_eval)
    out = folder / CARD_NAME
    card.save(out)
    return out
