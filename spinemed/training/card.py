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
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from spinemed.evaluation.model_index import results_to_eval_results, results_to_model_index
from spinemed.evaluation.results import load_results
from spinemed.fileio import atomic_write_json
from spinemed.hub.card import card_template_env
from spinemed.hub.publish import is_repo_id, licence_report, repo_url
from spinemed.paths import checkout_path

__all__ = ["TEMPLATE", "SUMMARY_NAME", "CARD_NAME", "ForeignEvalError", "render_model_card", "write_model_card",
           "load_eval_results", "check_eval_models", "LicenceConflictWarning", "training_data_licences",
           "licence_conflicts"]

TEMPLATE = checkout_path("model_card", "spinegpt.md")
SUMMARY_NAME = "training_summary.json"
CARD_NAME = "README.md"
PIPELINE_TAG = "image-text-to-text"
DEFAULT_LICENSE = "apache-2.0"  # Qwen2.5-VL-7B-Instruct's license
_TAGS = ["medical", "spine", "orthopedics", "vision-language", "qwen2.5-vl", "trl", "sft", "not-for-clinical-use"]


def load_eval_results(paths: Sequence[str | os.PathLike], *, allow_partial: bool = False) -> list[dict[str, Any]]:
    """Results JSON files written by `spinemed eval`, checked up front (schema, and that they make
    model-index entries: a partial run is refused unless `allow_partial`), so a bad file fails
    before training, not at the first checkpoint's card."""
    out = []
    for path in paths:
        results = load_results(path)
        try:
            results_to_eval_results(results, allow_partial=allow_partial)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        out.append(results)
    return out


class ForeignEvalError(ValueError):
    """Evaluation results of a model other than the checkpoint the card describes."""


def _is_this_model(results: Mapping[str, Any], output_dir: str | os.PathLike | None, repo_ids: set[str]) -> bool:
    """Whether `results` evaluated this checkpoint: its Hub repo, or its output folder (the evaluation
    runner records `hf:<folder>` as the folder path in `model.id` and resolved in `details.local_path`;
    an OpenAI-compatible server started on the folder reports the path as the model name)."""
    model = results.get("model") or {}
    names = [str(v) for v in (model.get("id"), model.get("name"), (model.get("details") or {}).get("local_path")) if v]
    if any(n.lower() in repo_ids for n in names):  # Hub ids are case-insensitive
        return True
    if output_dir is None:
        return False
    folder = Path(output_dir).expanduser().resolve()
    return any(Path(n).expanduser().resolve() == folder for n in names)


def check_eval_models(eval_results: Sequence[Mapping[str, Any]], *, output_dir: str | os.PathLike | None,
                      repo_ids: Sequence[str | None] = (), allow_foreign: bool = False,
                      sources: Sequence[str | os.PathLike] | None = None) -> list[bool]:
    """Which results are of another model than this checkpoint (its `output_dir` or a Hub repo in
    `repo_ids`, the stage's `hub_model_id`).  Such results would put a different model's scores into
    this card's model-index, so they are refused (ForeignEvalError) unless `allow_foreign`, and the
    card then says whose scores they are.  `sources` (the results files) only name them in the error."""
    ids = {r.lower(): r for r in repo_ids if r}
    foreign = [not _is_this_model(r, output_dir, set(ids)) for r in eval_results]
    if any(foreign) and not allow_foreign:
        this = ([f"the folder {str(output_dir)!r}"] if output_dir is not None else []) + [repr(r) for r in ids.values()]
        bad = [f"{sources[i] if sources else f'results #{i + 1}'} (model {(r.get('model') or {}).get('id')!r})"
               for i, (r, f) in enumerate(zip(eval_results, foreign)) if f]
        raise ForeignEvalError(
            f"evaluation results of another model: {', '.join(bad)}; this stage's card describes "
            f"{' or '.join(this) or 'an unnamed checkpoint'}. Evaluate this checkpoint (spinemed eval --model "
            "hf:<its folder or repo>), or pass --allow-foreign-eval to attach them anyway (the card then says "
            "they are another model's scores)")
    return foreign


class LicenceConflictWarning(UserWarning):
    """The model card's licence grants more than the training data's licences allow."""


def training_data_licences(stages: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Source licence -> {training data folder: rows} over every stage's local data folders (each
    row's `provenance.license`, else the folder card's `license`).  Hub repos are not fetched here."""
    out: dict[str, dict[str, int]] = {}
    seen = set()
    for stage in stages:
        for src in stage.get("sources", []):
            folder = Path(str(src.get("path") or ""))
            if not str(src.get("path") or "") or not folder.is_dir() or folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            by_licence = licence_report(folder).by_licence
            if set(by_licence) <= {"(unspecified)"} and (folder / "README.md").is_file():
                try:
                    card_licence = DatasetCard.load(folder / "README.md").data.license
                except (OSError, ValueError):  # a card without parseable YAML names no licence
                    card_licence = None
                if card_licence:
                    by_licence = {str(card_licence): sum(by_licence.values()) or 1}
            for licence, n in by_licence.items():
                out.setdefault(licence, {})[str(src.get("path"))] = n
    return out


_OPEN_PREFIXES = ("cc0", "cc-by", "apache", "mit", "bsd", "odc", "pddl", "cdla", "openrail", "llama", "gemma")


def licence_conflicts(model_licence: str, data_licences: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Why `model_licence` may grant more than the training data allows: non-commercial data under
    a licence that allows commercial use, and data whose licence is not an open one (proprietary,
    unspecified).  `license: other` defers to the card's text and is not second-guessed."""
    model = (model_licence or "").strip().lower()
    if model == "other":
        return []
    problems = []
    for licence, folders in sorted(data_licences.items()):
        low = licence.strip().lower()
        rows = sum(folders.values())
        where = ", ".join(sorted(folders))
        if "-nc" in low and "-nc" not in model:
            problems.append(f"{rows} training rows are {licence} (non-commercial; {where}) but the model card's "
                            f"licence {model_licence} allows commercial use")
        elif not low.startswith(_OPEN_PREFIXES):
            problems.append(f"{rows} training rows are under {licence!r} ({where}), not an open licence: check that "
                            f"it allows releasing weights trained on it under {model_licence}")
    return problems


def _hub_dataset_ids(stages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Hub dataset ids the checkpoint was trained on (local folders are not metadata)."""
    out: list[str] = []
    for stage in stages:
        for src in stage.get("sources", []):
            path = str(src.get("path") or "")
            if is_repo_id(path) and not Path(path).exists() and path not in out:
                out.append(path)
    return out


def _evaluation_rows(results: Mapping[str, Any], eval_results: Sequence[Any], foreign: bool) -> dict[str, Any]:
    bench = results.get("benchmark") or {}
    return {
        "foreign": foreign,
        "benchmark": bench.get("name") or "SpineBench", "version": bench.get("version") or "",
        "variant": bench.get("variant") or "", "model": (results.get("model") or {}).get("id") or "",
        "report_status": results.get("report_status") or "not_judged",
        "judge": (results.get("judge") or {}).get("judge_model"),
        "scores": [{"name": r.metric_name, "value": r.metric_value, "n": (r.metric_args or {}).get("n", "")}
                   for r in eval_results],
    }


def render_model_card(summary: Mapping[str, Any], *, eval_results: Sequence[Mapping[str, Any]] = (),
                      template: str | os.PathLike = TEMPLATE, allow_partial_eval: bool = False,
                      output_dir: str | os.PathLike | None = None, allow_foreign_eval: bool = False,
                      eval_sources: Sequence[str | os.PathLike] | None = None):
    """A `huggingface_hub.ModelCard` for the checkpoint described by `summary`.

    `summary` is a stage's run summary (see `spinemed.training.trainer.stage_summary`):
    `stages` (every stage up to this one), `model_name`, `base_model`, `license`, `repo_id`,
    `n_stages`, `versions`.  `eval_results` are results dicts from `spinemed eval`; each
    becomes `model-index` entries through `results_to_model_index` (a partial run is refused
    unless `allow_partial_eval`); results of another model than this checkpoint (`output_dir`,
    the summary's `repo_id` / `hub_model_id`) are refused unless `allow_foreign_eval`, and then
    marked as such in the card (see `check_eval_models`; `eval_sources` name the files in its error).
    """
    stages = list(summary["stages"])
    if not stages:
        raise ValueError("the summary has no stages")
    model_name = summary["model_name"]
    base_model = summary["base_model"]
    if not base_model:
        raise ValueError("the summary has no base_model (the card must name the model it was fine-tuned from)")

    foreign = check_eval_models(eval_results, output_dir=output_dir, allow_foreign=allow_foreign_eval,
                                repo_ids=[summary.get("repo_id"), summary.get("hub_model_id")], sources=eval_sources)
    all_eval: list[Any] = []
    evaluations = []
    for results, is_foreign in zip(eval_results, foreign):
        model_index = results_to_model_index(results, model_name, allow_partial=allow_partial_eval)
        _, entries = model_index_to_eval_results(model_index)
        all_eval += entries
        evaluations.append(_evaluation_rows(results, entries, is_foreign))

    licence = summary.get("license") or DEFAULT_LICENSE
    for problem in licence_conflicts(licence, training_data_licences(stages)):
        warnings.warn(f"model card licence conflict: {problem}", LicenceConflictWarning, stacklevel=2)

    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_model,
        base_model_relation="finetune",
        datasets=_hub_dataset_ids(stages) or None,
        license=licence,
        language=list(summary.get("language") or ["en", "zh"]),
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=list(dict.fromkeys([*_TAGS, *(summary.get("tags") or [])])),
        eval_results=all_eval or None,
    )
    env = card_template_env()
    text = env.from_string(Path(template).read_text(encoding="utf-8")).render(
        card_data=card_data.to_yaml(),
        model_name=model_name,
        repo_id=summary.get("repo_id"),
        base_model=base_model,
        base_model_link=(f"[`{base_model}`]({repo_url(base_model)})"  # the configured Hub endpoint's page
                         if is_repo_id(base_model) and not Path(base_model).exists() else f"`{base_model}`"),
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
                     summary: Mapping[str, Any] | None = None, allow_partial_eval: bool = False,
                     allow_foreign_eval: bool = False, eval_sources: Sequence[str | os.PathLike] | None = None,
                     hub: Mapping[str, Any] | None = None) -> Path:
    """Render the card of a stage output folder (from its `training_summary.json`) to README.md.

    `hub` (``{"repo_id", "branch", "tag", ...}``, `HubTarget.describe()`) is where the folder is
    about to be pushed (``--push-only``): the card's repo id, revision and this stage's "pushed to"
    line then name that target, and `training_summary.json` records it, instead of what the
    training run had (possibly nothing, i.e. a placeholder repo in the usage snippet)."""
    folder = Path(folder)
    path = folder / SUMMARY_NAME
    if summary is None:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is {str(folder)!r} a finished training stage?")
        summary = json.loads(path.read_text(encoding="utf-8"))
    if hub is not None:
        stages = [dict(s) for s in summary["stages"]]
        stages[-1]["hub"] = dict(hub)
        summary = {**summary, "repo_id": hub["repo_id"], "hub_model_id": hub["repo_id"], "stages": stages}
    card = render_model_card(summary, eval_results=eval_results, allow_partial_eval=allow_partial_eval,
                             output_dir=folder, allow_foreign_eval=allow_foreign_eval, eval_sources=eval_sources)
    if hub is not None:  # only once the card rendered: a refused render changes nothing
        atomic_write_json(path, summary, indent=1)
    out = folder / CARD_NAME
    card.save(out)
    return out
