"""`spinemed build`: the corpus pipeline from the command line (registered by spinemed.cli)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..hub.staging import OutputFolderError
from ..llm.base import UntrustedEndpointError
from ..llm.params import parse_gen_kwargs
from ..progress import add_quiet_argument
from .pipeline import DEFAULT_BUILDER, BuildConfig, format_summary, run_build
from .shards import ShardError

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

Scaling out (docs/scale-out.md): run the ingest (reading, OCR, de-identification, the image
relevance step, which may ask the vision model, and the picture-context check) of shard I of N
on each machine, then merge the shards on one:
  spinemed build --shard 0/3 --out shards/0 --sources /data/raw     # ranks 0..N-1, 0-based
  spinemed build --merge shards/0 shards/1 shards/2 --out spinemed-450k
The merge runs dedup, classification, generation and validation over the shards' records in
the unsharded order: the same rows and accounting as one unsharded build.

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
    g.add_argument("--gen-kwargs", type=_gen_kwargs, metavar="KW",
                   help="extra request parameters for every LLM stage, JSON or k=v,k=v (e.g. reasoning_effort=low); "
                        "added to generation.gen_kwargs of the builder YAML.  Reasoning models (gpt-5*, o1/o3/o4*) "
                        "get max_completion_tokens and no temperature by themselves; the manifest records what was sent")


def _gen_kwargs(text: str) -> dict:
    try:
        return parse_gen_kwargs(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    b = subparsers.add_parser("build", help="build SpineMed-450k as a Hub-layout dataset folder",
                       description="Run the corpus pipeline (sources -> deid -> PCM -> dedup -> classify -> "
                                   "draft/revise generation -> validation) and write a dataset folder that "
                                   "loads with datasets.load_dataset(OUT, config).",
                       epilog=_VLLM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--out", required=True, type=Path,
                   help="dataset folder to write (e.g. out/spinemed-450k): built in a staging folder next to it "
                        "and swapped in only when complete, so a failed build leaves the previous one as it was")
    b.add_argument("--overwrite", action="store_true",
                   help="replace an --out that holds data spinemed did not write (without it the build refuses "
                        "such a folder and exits 2; a folder an earlier build wrote is always replaced)")
    b.add_argument("--sources", type=Path, help="raw sources folder with a catalog.yaml (default: the shipped samples)")
    b.add_argument("--builder", type=Path, help="builder YAML (default: builders/spinemed_450k/builder.yaml)")
    b.add_argument("--work-dir", type=Path, help="cache, quarantine and logs (default: OUT.work next to OUT)")
    b.add_argument("--version", help="dataset version tag, e.g. v1.0.0 (default: the builder's)")
    b.add_argument("--limit", type=int, help="stop after N source records (smoke runs)")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    s = b.add_argument_group("scaling out (docs/scale-out.md)")
    s.add_argument("--shard", metavar="I/N",
                   help="ingest only shard I of N (0-based rank: 0/3, 1/3, 2/3): read, de-identify, "
                        "relevance-check (which may ask the vision model) and PCM-check that shard's source "
                        "files into the shard folder --out, for --merge")
    s.add_argument("--merge", nargs="+", type=Path, default=[], metavar="SHARD",
                   help="merge the shard folders 0..N-1 of a --shard build into the dataset folder --out "
                        "(dedup, classify, generate, validate): the same rows as an unsharded build")
    b.add_argument("--ocr-check", action="store_true",
                   help="OCR every image and quarantine records whose images show identifier text (needs "
                        "pip install 'spinemed[ocr]' or the tesseract binary; refuses to start without one)")
    b.add_argument("--workers", type=int, default=1,
                   help="processes the pages of each PDF source fan out over (text layer and OCR; default 1); "
                        "the output is the same for any number")
    _add_generation_args(b)
    add_quiet_argument(b)
    b.set_defaults(func=_cmd_build)


def _cmd_build(args) -> int:
    cfg = BuildConfig(out=args.out, builder=args.builder or DEFAULT_BUILDER, sources=args.sources,
                      work_dir=args.work_dir, version=args.version, backend=args.backend, model=args.model,
                      base_urls=args.base_urls, api_key=args.api_key, concurrency=args.concurrency,
                      languages=args.languages, limit=args.limit, ocr_check=args.ocr_check,
                      trusted=args.trusted_endpoint, overwrite=args.overwrite, gen_kwargs=args.gen_kwargs,
                      workers=args.workers, shard=args.shard, merge=args.merge)
    try:
        summary = run_build(cfg, progress=(lambda m: None) if args.json else print)
    except (UntrustedEndpointError, OutputFolderError, ShardError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    elif "shard" in summary:  # a shard's ingest: the merge prints the build summary
        print("shard {shard} -> {out} ({seconds} s): {records_read} records read, {records_written} ingested, "
              "{records_quarantined} quarantined, {source_defects} source defects".format(**summary))
    else:
        print(format_summary(summary))
    return 0
