"""`spinemed train`: run curriculum stages from their recipes (also `python -m spinemed.training.cli`).

Without `--launch` the stage runs in this process: one GPU, the CPU, or inside a process that
`accelerate launch` / `torchrun` started (that is what `training/sft.py` is for).  With
`--launch` each stage is started with `accelerate launch --config_file <the recipe's
accelerate_config>`, so ZeRO-2 / ZeRO-3 offload and multi-node runs need no other command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..extras import needs_extra
from ..fileio import atomic_write_json
from .card import SUMMARY_NAME, check_eval_models, load_eval_results, write_model_card
from .guards import ContaminationError
from .push import HubTarget, PushError
from .recipe import load_curriculum, parse_overrides

__all__ = ["register", "build_parser", "main", "launch_command"]

EXIT_CONTAMINATED = 3
GPUS_PER_NODE = 8  # what the accelerate configs in training/accelerate/ assume for one node

_EPILOG = """\
examples:
  # smoke run of all three stages on the CPU (tiny random model, the demo's sample data)
  spinemed demo --out demo_out
  spinemed train --recipe training/recipes/smoke --output-root runs/smoke

  # the paper's curriculum, one stage at a time, on an 8-GPU node
  spinemed train --recipe training/recipes/spinegpt-7b --stage 1 --launch
  # two 8-GPU nodes = 16 processes (run on each node, machine rank 0 and 1; --gpus-per-node if not 8)
  spinemed train --recipe training/recipes/spinegpt-7b --stage 3 --launch \\
      --num-machines 2 --machine-rank 0 --main-process-ip 10.0.0.1 --main-process-port 29500
  # or launch the entry script yourself (--num_processes is the total over all machines)
  accelerate launch --config_file training/accelerate/zero2.yaml training/sft.py \\
      --recipe training/recipes/spinegpt-7b/stage1.yaml

  # after `spinemed eval`: put the scores into the card and push the stage again
  spinemed train --recipe training/recipes/spinegpt-7b --stage 3 --push-only --eval-results eval/results.json

exit status: 0 done, 2 bad input, 3 training data overlaps SpineBench (see --allow-contaminated)."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", required=True, type=Path,
                   help="a stage recipe (YAML) or a folder of them (training/recipes/spinegpt-7b)")
    p.add_argument("--stage", type=int, help="run only this stage of a recipe folder (default: every stage, in order)")
    p.add_argument("--output-root", type=Path,
                   help="put every stage's output_dir under this folder (keeps init_from chains consistent)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value (YAML value, dotted keys), e.g. --set max_steps=20 "
                        "--set dataset_mixture.seed=1; repeatable")
    p.add_argument("--allow-contaminated", action="store_true",
                   help="train even if the data overlaps SpineBench (or cannot be checked); logged loudly and "
                        "recorded in the model card")
    p.add_argument("--resume", default="auto", metavar="auto|no|CHECKPOINT",
                   help="resume from the last checkpoint in output_dir (auto, default), a given checkpoint, or no")
    p.add_argument("--eval-results", action="append", default=[], type=Path, metavar="RESULTS_JSON",
                   help="results JSON from `spinemed eval` for the card's model-index; repeatable")
    p.add_argument("--allow-foreign-eval", action="store_true",
                   help="attach --eval-results whose model is neither the stage's output folder nor its hub_model_id "
                        "(refused otherwise); the card says they are another model's scores")
    p.add_argument("--overwrite-tag", action="store_true", help="move the stage's Hub tag if it exists")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="check the recipes and print the plan; train nothing")
    mode.add_argument("--card-only", action="store_true",
                      help="re-render README.md of finished stage outputs (e.g. with --eval-results)")
    mode.add_argument("--push-only", action="store_true",
                      help="re-render the card and push finished stage outputs to their branch and tag")
    mode.add_argument("--launch", action="store_true",
                      help="start each stage with `accelerate launch` and the recipe's accelerate_config")
    g = p.add_argument_group("with --launch (passed to accelerate launch)")
    g.add_argument("--num-processes", type=int,
                   help="processes over ALL machines (accelerate's num_processes); default with --num-machines N: "
                        "N x --gpus-per-node, otherwise the accelerate config's (8, one node)")
    g.add_argument("--gpus-per-node", type=int, metavar="N",
                   help=f"GPUs (processes) on each machine (default {GPUS_PER_NODE})")
    g.add_argument("--num-machines", type=int, help="nodes taking part; run the same command on each")
    g.add_argument("--machine-rank", type=int)
    g.add_argument("--main-process-ip")
    g.add_argument("--main-process-port", type=int)
    g.add_argument("--accelerate-config", type=Path, help="use this accelerate config instead of the recipe's")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spinemed train", description=_DESCRIPTION, epilog=_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    return p


_DESCRIPTION = """\
Train SpineGPT: the three-stage curriculum SFT (TRL) from per-stage YAML recipes.
Each stage checks its data against SpineBench (refuses on overlap), drops and counts rows
longer than max_length (image tokens included; never truncates), trains with assistant-only
loss, resumes from its last checkpoint, writes training_summary.json and the model card next
to the weights, and pushes to its Hub branch and tag when the recipe sets push_to_hub."""


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train SpineGPT stages from curriculum recipes (TRL SFT)",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=handle)


def _num_processes(args: argparse.Namespace) -> int | None:
    """accelerate's `num_processes`: the total over all machines (not per node).

    The configs say 8 (one node); left alone, a 2-node launch would start 4 processes per node.
    With `--num-machines` (or `--gpus-per-node`) and no `--num-processes` it is GPUs per node x
    machines; None keeps the config's value."""
    machines = 1 if args.num_machines is None else args.num_machines
    per_node = args.gpus_per_node
    if machines < 1 or (per_node is not None and per_node < 1):
        raise ValueError("--num-machines and --gpus-per-node must be at least 1")
    total = args.num_processes
    if total is None:
        if machines == 1 and per_node is None:
            return None
        return (per_node or GPUS_PER_NODE) * machines
    if total % machines:
        raise ValueError(f"--num-processes {total} is the total over all machines: it must be a multiple of "
                         f"--num-machines {machines} (e.g. {GPUS_PER_NODE * machines}); leave it out to have it "
                         "computed")
    if per_node is not None and total != per_node * machines:
        raise ValueError(f"--num-processes {total} contradicts --gpus-per-node {per_node} x --num-machines {machines} "
                         f"= {per_node * machines}; give one of them")
    return total


def launch_command(recipe_path: Path, stage: int, args: argparse.Namespace, accelerate_config: str | None) -> list[str]:
    """The `accelerate launch` command line of one stage."""
    config = str(args.accelerate_config or accelerate_config or "")
    if not config:
        raise ValueError(f"{recipe_path}: no accelerate_config in the recipe; pass --accelerate-config")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", config]
    for flag, value in (("--num_processes", _num_processes(args)), ("--num_machines", args.num_machines),
                        ("--machine_rank", args.machine_rank), ("--main_process_ip", args.main_process_ip),
                        ("--main_process_port", args.main_process_port)):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += ["-m", "spinemed.training.cli", "--recipe", str(recipe_path), "--stage", str(stage), "--resume",
            str(args.resume)]
    if args.output_root:
        cmd += ["--output-root", str(args.output_root)]
    for item in args.overrides:
        cmd += ["--set", item]
    for path in args.eval_results:
        cmd += ["--eval-results", str(path)]
    if args.allow_contaminated:
        cmd.append("--allow-contaminated")
    if args.allow_foreign_eval:
        cmd.append("--allow-foreign-eval")
    if args.overwrite_tag:
        cmd.append("--overwrite-tag")
    return cmd


def _hub_target(recipe) -> Any:

    ta = recipe.training_args
    settings = SimpleNamespace(hub_model_id=ta.get("hub_model_id"), hub_revision=ta.get("hub_revision"),
                               hub_private_repo=ta.get("hub_private_repo"), hub_token=ta.get("hub_token"))
    return HubTarget.from_args(settings, tag=recipe.hub_tag, push_main=recipe.hub_push_main)


def _record_push(folder: Path, done: dict[str, Any]) -> None:
    """Write what --push-only did (commits, tag) into the stage's local summary, as training does."""

    path = Path(folder) / SUMMARY_NAME
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["stages"][-1]["hub"] = done
    atomic_write_json(path, summary)


def _plan(recipe) -> str:
    ta = recipe.training_args
    lines = [f"{recipe.label()}  {recipe.path}",
             f"  model     {recipe.model_name_or_path}  (base {recipe.base_model})",
             f"  output    {recipe.output_dir}",
             f"  lr {ta.get('learning_rate')}  max_length {recipe.max_length}  epochs {ta.get('num_train_epochs', 1)}"
             f"  accelerate {recipe.accelerate_config} (ZeRO-{recipe.zero_stage()})"
             f"  vision_keepalive {recipe.vision_keepalive}",
             f"  bench     {recipe.decontamination.bench if recipe.decontamination else 'NONE (refused without --allow-contaminated)'}"]
    for s in recipe.mixture.datasets:
        extra = "".join(f" {k}={v}" for k, v in (("where", s.where), ("fraction", s.fraction if s.fraction != 1 else None),
                                                   ("max_rows", s.max_rows)) if v)
        lines.append(f"  data      {s.label()}  ({s.format}){extra}")
    if ta.get("push_to_hub"):
        lines.append(f"  hub       {ta.get('hub_model_id')} branch {ta.get('hub_revision') or 'main'}"
                     f"  tag {recipe.hub_tag}" + ("  + main" if recipe.hub_push_main else ""))
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:

    recipes = load_curriculum(args.recipe, args.stage, parse_overrides(args.overrides), output_root=args.output_root)
    eval_results = []
    if args.eval_results:

        eval_results = load_eval_results(args.eval_results)

    if eval_results and not (args.card_only or args.push_only):

        for r in recipes:  # another model's scores: refused before training, not at the first checkpoint's card
            check_eval_models(eval_results, output_dir=r.output_dir, repo_ids=[r.training_args.get("hub_model_id")],
                              allow_foreign=args.allow_foreign_eval, sources=args.eval_results)

    if args.dry_run:
        for r in recipes:
            print(_plan(r))
            if r.accelerate_config:
                print("  launch    " + shlex.join(launch_command(r.path, r.stage, args, r.accelerate_config)))
        return 0

    if args.card_only or args.push_only:

        for r in recipes:
            try:
                # --push-only renders the card for where it is going (repo, branch, tag), which may not be
                # where (or whether) the training run pushed.
                target = _hub_target(r) if args.push_only else None
                card = write_model_card(r.output_dir, eval_results=eval_results, eval_sources=args.eval_results,
                                        allow_foreign_eval=args.allow_foreign_eval,
                                        hub=target.describe() if target else None)
                print(f"{r.label()}: wrote {card}")
                if target is not None:
                    done = target.push_folder(r.output_dir, overwrite_tag=args.overwrite_tag,
                                              message=f"{r.name}: model card update")
                    _record_push(r.output_dir, done)
                    print(f"{r.label()}: {json.dumps(done)}")
            except PushError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        return 0

    if args.launch:
        for r in recipes:
            cmd = launch_command(r.path, r.stage, args, r.accelerate_config)
            print("$ " + shlex.join(cmd), flush=True)
            code = subprocess.call(cmd)
            if code != 0:
                print(f"error: {r.label()} exited with status {code}", file=sys.stderr)
                return code
        return 0

    with needs_extra("train", "spinemed train"):
        from .trainer import run_stage

    for r in recipes:
        try:
            run_stage(r, allow_contaminated=args.allow_contaminated, resume=args.resume, eval_results=eval_results,
                      allow_foreign_eval=args.allow_foreign_eval, overwrite_tag=args.overwrite_tag)
        except ContaminationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONTAMINATED
        except PushError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return handle(args)
    except (OSError, ValueError) as exc:  # as `spinemed train`: missing folder, Hub unreachable, bad value
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # accelerate launch -m spinemed.training.cli ...
    sys.exit(main())
