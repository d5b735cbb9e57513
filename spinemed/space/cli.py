"""`spinemed space`: run the Space locally (leaderboard, submissions, explorer, chat) or push it
(registered by `spinemed.cli`).  The Space's modules load only when the command runs, so
`spinemed --help` does not import gradio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spinemed.extras import needs_extra

_EPILOG = """\
examples:
  spinemed space                                        # leaderboard with the paper's table only
  spinemed space --bench demo_out/spinebench --allow-unregistered      # + explorer and submissions
  spinemed space --bench ORG/SpineBench@v1.0.0 --model hf:ORG/SpineGPT-7B
  spinemed space --model openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1 \\
                 --judge openai:Qwen/Qwen2.5-72B-Instruct@http://localhost:8001/v1
  spinemed space --model openai:MODEL@http://node1:8000/v1,http://node2:8000/v1   # visitors shared by two servers
  spinemed space --model tiny                           # offline random-weight test model (answers are noise)
  spinemed space --push ORG/SpineMed --dry-run          # list what would be uploaded to the Space

Every flag has an environment variable (SPINEMED_BENCH, SPINEMED_RESULTS_DIR, SPINEMED_RESULTS_REPO,
SPINEMED_CHAT_MODEL, SPINEMED_JUDGE, SPINEMED_ALLOW_UNREGISTERED, SPINEMED_MAX_UPLOAD_MB): that is how
the pushed Space is configured.  Nothing is downloaded unless a Hub id is named.

model specs (the grammar of `spinemed eval --model`, spinemed.models.spec):
  hf:PATH_OR_REPO[@REV]        transformers model: local folder or Hub id (@REV: branch, tag or commit)
  openai:MODEL@URL[,URL...]    OpenAI-compatible server(s); key from SPINEMED_API_KEY / OPENAI_API_KEY
  tiny | none                  the offline random-weight test model | no chat model (--model only)"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "space", help="run the Gradio Space locally (leaderboard, submissions, explorer, chat) or push it",
        description="Serve the SpineBench leaderboard (paper table + rescored submissions), the benchmark explorer "
                    "and the SpineGPT chat demo on this machine, the same app that runs on the Hub.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bench", help="SpineBench folder or Hub dataset id ORG/NAME[@REV] (explorer + submissions)")
    p.add_argument("--allow-unregistered", action="store_true", default=None,
                   help="serve a SpineBench that is not a registered release (a local or sample build)")
    p.add_argument("--results", type=Path, dest="results_dir", help="results folder (default: space_results)")
    p.add_argument("--results-repo", help="Hub dataset repo that mirrors accepted submissions (needs HF_TOKEN)")
    p.add_argument("--model", metavar="SPEC",
                   help="chat model: hf:PATH_OR_REPO[@REV] | openai:MODEL@URL[,URL...] | tiny | none (default: none)")
    p.add_argument("--judge", metavar="SPEC",
                   help="report judge for submissions: openai:MODEL@URL[,URL...] (default: reports not judged)")
    p.add_argument("--max-upload-mb", type=float, help="largest predictions file accepted (default: 25)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 to expose it)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    push = p.add_argument_group("pushing to the Hub")
    push.add_argument("--push", metavar="ORG/NAME", help="upload space_app/ and the spinemed library to this Space, then exit")
    push.add_argument("--private", action="store_true", help="create the Space as private")
    push.add_argument("--dry-run", action="store_true", help="with --push: list the files, send nothing")
    p.set_defaults(func=_cmd_space)


def _cmd_space(args) -> int:
    if args.push:
        from spinemed.space.push import push_space

        plan = push_space(args.push, private=args.private, dry_run=args.dry_run)
        verb = "would upload" if args.dry_run else "uploaded"
        print(f"{verb} {len(plan['files'])} files to {plan['url']}")
        for name in plan["files"]:
            print(f"  {name}")
        return 0

    with needs_extra("space", "spinemed space"):
        from spinemed.space.app import create_app
        from spinemed.space.config import SpaceConfig

    config = SpaceConfig.from_env(bench=args.bench, allow_unregistered=args.allow_unregistered, results_dir=args.results_dir,
                                  results_repo=args.results_repo, model=args.model, judge=args.judge,
                                  max_upload_mb=args.max_upload_mb)
    print(f"Starting the SpineMed Space on http://{args.host}:{args.port} (results folder: {config.results_dir}; "
          "Ctrl+C stops it)", file=sys.stderr)
    demo, launch_kwargs = create_app(config, strict=True)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs)
    return 0
