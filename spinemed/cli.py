"""`spinemed` command line: build | publish | demo, plus the subcommands other parts register.

Every subcommand is a thin layer over the library (`spinemed.corpus`, `spinemed.hub`, ...);
nothing here computes anything the library does not also expose.  A part of the kit adds its
subcommand by exposing `register(subparsers)` in a module listed in `SUBCOMMAND_MODULES`;
`register` adds a parser and sets `func=<handler(args) -> int>` as its default.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path

SUBCOMMAND_MODULES = (
    "spinemed.hub.cli",         # spinemed publish (a built dataset folder to the Hub, tagged)
    "spinemed.bench.cli",       # spinemed bench ...
    "spinemed.evaluation.cli",  # spinemed eval ...
    "spinemed.training.cli",    # spinemed train ...
    "spinemed.space_cli",       # spinemed space
    "spinemed.metric.cli",      # spinemed metric prepare|publish (the evaluate metric as a Hub Space)
)

_VLLM_HELP = """\
Point the build at OpenAI-compatible servers (vLLM, TGI, hosted APIs):
  vllm serve Qwen/Qwen2.5-VL-72B-Instruct --port 8000      # on each inference node
  spinemed build --out spinemed-450k --backend openai --model Qwen/Qwen2.5-VL-72B-Instruct \\
      --base-url http://node1:8000/v1 --base-url http://node2:8000/v1 --concurrency 64 \\
      --trusted-endpoint                                     # the nodes are on-premises
Requests fan out to the least-busy server; the API key comes from --api-key or
SPINEMED_API_KEY / OPENAI_API_KEY.  Every answer is cached in <out>.work/cache, so a
killed build rerun with the same arguments resumes without repeating a request.

Trusted endpoints: inpatient records and imaging studies (source types inpatient,
open_dataset) are only ever sent to an endpoint declared trusted (on-premises).  The offline
backend is trusted; an OpenAI-compatible endpoint only with --trusted-endpoint or
`trusted: true` in the builder YAML (a loopback URL is not trusted by itself).  A build whose
clinical sources would reach an untrusted endpoint refuses to start and names both.  To send
textbooks to a hosted model and clinical records to a local one, name endpoints and route
source types in the builder YAML (generation.endpoints / generation.routing, see README);
--backend/--model/--base-url/--trusted-endpoint define the endpoint named "default", which
gets every source type the routing does not name.

Every request is built from a de-identified record and checked for its de-identification
stamp.  File names and case ids are published as opaque ids (set SPINEMED_PROVENANCE_SECRET
to key them); the map back to real names is <out>.work/provenance_map.jsonl (private)."""


def _add_generation_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generation backend (defaults come from the builder YAML)")
    g.add_argument("--backend", choices=["offline", "openai"], help="offline rules (default) or an OpenAI-compatible endpoint")
    g.add_argument("--model", help="model name as the endpoint knows it")
    g.add_argument("--base-url", dest="base_urls", action="append", default=[], metavar="URL",
                   help="OpenAI-compatible base URL, e.g. http://node1:8000/v1 (repeat to fan out over several servers)")
    g.add_argument("--api-key", help="API key (default: $SPINEMED_API_KEY or $OPENAI_API_KEY)")
    g.add_argument("--trusted-endpoint", action="store_true", default=None,
                   help="declare the default endpoint (--backend/--base-url) on-premises, so inpatient records "
                        "and imaging studies may be sent to it (never inferred from the URL; offline is always trusted)")
    g.add_argument("--concurrency", type=int, help="requests in flight at once, over all endpoints")
    g.add_argument("--languages", choices=["auto", "source", "both"],
                   help="item languages: the source's, both EN and ZH, or auto (both when the backend can translate)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spinemed", description="SpineMed release kit: build, publish and evaluate SpineMed-450k / SpineBench.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build SpineMed-450k as a Hub-layout dataset folder",
                       description="Run the corpus pipeline (sources -> deid -> PCM -> dedup -> classify -> "
                                   "draft/revise generation -> validation) and write a dataset folder that "
                                   "loads with datasets.load_dataset(OUT, config).",
                       epilog=_VLLM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--out", required=True, type=Path, help="dataset folder to write (e.g. out/spinemed-450k)")
    b.add_argument("--sources", type=Path, help="raw sources folder with a catalog.yaml (default: the shipped samples)")
    b.add_argument("--builder", type=Path, help="builder YAML (default: builders/spinemed_450k/builder.yaml)")
    b.add_argument("--work-dir", type=Path, help="cache, quarantine and logs (default: OUT.work next to OUT)")
    b.add_argument("--version", help="dataset version tag, e.g. v1.0.0 (default: the builder's)")
    b.add_argument("--limit", type=int, help="stop after N source records (smoke runs)")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--ocr-check", action="store_true",
                   help="OCR every image and quarantine records whose images show identifier text (needs "
                        "pip install 'spinemed[ocr]' or the tesseract binary; refuses to start without one)")
    _add_generation_args(b)

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


def _cmd_build(args) -> int:
    from .corpus.pipeline import DEFAULT_BUILDER, BuildConfig, format_summary, run_build

    cfg = BuildConfig(out=args.out, builder=args.builder or DEFAULT_BUILDER, sources=args.sources,
                      work_dir=args.work_dir, version=args.version, backend=args.backend, model=args.model,
                      base_urls=args.base_urls, api_key=args.api_key, concurrency=args.concurrency,
                      languages=args.languages, limit=args.limit, ocr_check=args.ocr_check,
                      trusted=args.trusted_endpoint)
    from .llm.base import UntrustedEndpointError

    try:
        summary = run_build(cfg, progress=(lambda m: None) if args.json else print)
    except UntrustedEndpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else format_summary(summary))
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
    handler = {"build": _cmd_build, "demo": _cmd_demo}.get(args.command) or args.func
    try:
        return handler(args)
    except _input_errors() as exc:
        message = str(exc) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
