"""`spinemed` command line: publish | demo, plus the subcommands the parts register (build, bench, ...).

Every subcommand is a thin layer over the library (`spinemed.corpus`, `spinemed.hub`, ...);
nothing here computes anything the library does not also expose.  A part of the kit adds its
subcommand by exposing `register(subparsers)` in a module listed in `SUBCOMMAND_MODULES`;
`register` adds a parser and sets `func=<handler(args) -> int>` as its default.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

SUBCOMMAND_MODULES = (
    "spinemed.corpus.cli",      # spinemed build
    "spinemed.bench.cli",       # spinemed bench ...
    "spinemed.evaluation.cli",  # spinemed eval ...
    "spinemed.training.cli",    # spinemed train ...
    "spinemed.space.cli",       # spinemed space
    "spinemed.metric_cli",      # spinemed metric prepare|publish (the evaluate metric as a Hub Space)
)

def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spinemed", description="SpineMed release kit: build, publish and evaluate SpineMed-450k / SpineBench.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("publish", help="push a built dataset folder to the Hub and tag the version",
                       description="Verify the folder (manifest hashes, card), run the independent publish gate "
                                   "(spinemed.deid.gate: the scrubber's detector plus name-dictionary, format, "
                                   "image-metadata and provenance checks over every row, the card and the manifest; "
                                   "refuses on any finding unless --accept-residual-risk), then create the repo, "
                                   "upload and create the version tag with huggingface_hub.HfApi.")
    p.add_argument("folder", type=Path)
    p.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo")
    p.add_argument("--version", required=True, help="tag to create, vX.Y.Z (must match the built manifest)")
    p.add_argument("--endpoint", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    p.add_argument("--token", help="Hub token (default: the logged-in token / $HF_TOKEN)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--overwrite-tag", action="store_true", help="move an existing tag (otherwise refused)")
    p.add_argument("--dry-run", action="store_true", help="print what would be sent and stop")
    p.add_argument("--accept-residual-risk", metavar="REASON",
                   help="publish although the publish gate reported findings, after a person reviewed each one; "
                        "REASON is recorded in manifest.json (residual_risk_accepted)")

    d = sub.add_parser("demo", help="the main job on the embedded default: sample sources -> datasets -> benchmark -> scores",
                       description="Build the shipped sample sources into OUT/spinemed-450k with the offline "
                                   "backend, sample and verify (with simulated reviewers) SpineBench into "
                                   "OUT/spinebench, write the decontaminated corpus release "
                                   "OUT/spinemed-450k-release, and score the offline baselines on SpineBench "
                                   "(OUT/eval); prints a summary of each step.")
    d.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")

    for name in SUBCOMMAND_MODULES:
        if not _module_exists(name):  # that part of the kit is not installed in this checkout
            continue
        importlib.import_module(name).register(sub)
    return parser


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _cmd_publish(args) -> int:
    from .hub import PublishError, publish_folder

    try:
        plan = publish_folder(args.folder, args.repo, args.version, endpoint=args.endpoint or os.environ.get("HF_ENDPOINT"),
                              token=args.token, private=args.private, dry_run=args.dry_run,
                              overwrite_tag=args.overwrite_tag, accept_residual_risk=args.accept_residual_risk)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plan.describe())
    return 0


def _cmd_demo(args) -> int:
    """The README's main job: sample sources -> SpineMed-450k -> SpineBench (+ decontaminated
    corpus release) -> scores.  Each step is the same library call its own subcommand makes."""
    from .corpus.pipeline import BuildConfig, format_summary, run_build

    out = Path(args.out)
    steps = [name for name, ok in (("bench", _module_exists("spinemed.bench.demo")),
                                   ("eval", _module_exists("spinemed.evaluation.demo"))) if ok]
    total = 1 + len(steps)
    print(f"[1/{total}] SpineMed-450k from the shipped sample sources -> {out / 'spinemed-450k'}")
    summary = run_build(BuildConfig(out=out / "spinemed-450k"))
    print(format_summary(summary))
    step = 1
    if "bench" in steps:
        from .bench.demo import format_bench_demo, run_bench_demo

        step += 1
        print(f"\n[{step}/{total}] SpineBench from the corpus (sampling, review round-trip, decontamination) -> {out}")
        bench = run_bench_demo(out / "spinemed-450k", out)
        print(format_bench_demo(bench))
    if "eval" in steps:
        from .evaluation.demo import format_eval_demo, run_eval_demo

        step += 1
        print(f"\n[{step}/{total}] Offline baselines on SpineBench -> {out / 'eval'}")
        evals = run_eval_demo(out / "spinebench", out / "spinemed-450k-release", out / "eval")
        print(format_eval_demo(evals))
    print(f"\nLoad them: datasets.load_dataset('{out / 'spinemed-450k'}', 'mcq')"
          + (f", datasets.load_dataset('{out / 'spinebench'}', 'mcq')" if "bench" in steps else ""))
    return 0


def _input_errors() -> tuple[type[BaseException], ...]:
    """Failures to read or fetch an input: a clear `error:` line and exit 2, not a traceback.

    Python exits 1 on an uncaught exception, which commands such as `bench check-overlap`
    reserve for a real finding ("overlap found"), so a dataset that cannot be loaded (missing
    folder, Hub unreachable or offline, unknown repo, unreadable file) must never end that way.
    OSError covers ConnectionError, FileNotFoundError and most huggingface_hub errors; the
    rest are named.  Evaluated only when an exception is raised, so nothing is imported early.
    """
    errors: list[type[BaseException]] = [OSError, ValueError]
    try:
        from huggingface_hub.errors import EntryNotFoundError

        errors.append(EntryNotFoundError)
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        pass
    try:
        from datasets.exceptions import DatasetsError

        errors.append(DatasetsError)
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    handler = {"publish": _cmd_publish, "demo": _cmd_demo}.get(args.command) or args.func
    try:
        return handler(args)
    except _input_errors() as exc:
        message = str(exc) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
