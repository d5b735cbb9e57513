"""`spinemed` command line: one entry point; every part registers its own subcommands.

Every subcommand is a thin layer over the library (`spinemed.corpus`, `spinemed.hub`, ...);
nothing here computes anything the library does not also expose.  A part of the kit adds its
subcommands by exposing `register(subparsers)` in its own `cli.py`, listed in
`SUBCOMMAND_MODULES`; `register` adds a parser and sets `func=<handler(args) -> int>` as its
default.  Only `demo`, which runs every part in turn, lives here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from . import __version__
from .extras import MissingExtra
from .progress import is_quiet, quiet

# In `spinemed --help` order.  Parts are imported only to build the parser: each cli.py keeps
# heavy third-party imports (torch, gradio) inside its handlers.
SUBCOMMAND_MODULES = (
    "spinemed.corpus.cli",      # spinemed build
    "spinemed.bench.publish_cli",  # spinemed publish (a built dataset folder to the Hub, tagged; checks SpineBench overlap)
    "spinemed.bench.cli",       # spinemed bench ...
    "spinemed.evaluation.cli",  # spinemed eval ... (incl. eval agreement)
    "spinemed.training.cli",    # spinemed train ...
    "spinemed.space.cli",       # spinemed space
    "spinemed.metric.cli",      # spinemed metric prepare|publish (the evaluate metric as a Hub Space)
)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spinemed", description="SpineMed release kit: build, publish and evaluate SpineMed-450k / SpineBench.")
    parser.add_argument("--version", action="version", version=f"spinemed {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        if not _module_exists(name):  # that part of the kit is not installed in this checkout
            continue
        importlib.import_module(name).register(sub)

    d = sub.add_parser("demo", help="the main job on the embedded default: sample sources -> datasets -> benchmark -> scores",
                       description="Build the shipped sample sources into OUT/spinemed-450k with the offline "
                                   "backend, sample and verify (with simulated reviewers) SpineBench into "
                                   "OUT/spinebench, write the decontaminated corpus release "
                                   "OUT/spinemed-450k-release, and score the offline baselines on SpineBench "
                                   "(OUT/eval); prints a summary of each step.")
    d.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    d.set_defaults(func=_cmd_demo)
    return parser


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


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
    handler = args.func
    # --quiet (commands with long steps add it through spinemed.progress.add_quiet_argument) silences
    # every progress display for this command; restored after it, for callers running several.
    try:
        with quiet(bool(getattr(args, "quiet", False)) or is_quiet()):
            return handler(args)
    except MissingExtra as exc:  # an optional dependency: one line naming the extra, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except _input_errors() as exc:
        message = str(exc) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
