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
  spinemed space --bench spinemed/SpineBench@v1.0.0 --model hf:spinemed/SpineGPT-7B
  spinemed space --model openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1 \\
                 --judge openai:Qwen/Qwen2.5-72B-Instruct@http://localhost:8001/v1
  spinemed space --model openai:MODEL@http://node1:8000/v1,http://node2:8000/v1   # visitors shared by two servers
  spinemed space --model tiny                           # offline random-weight test model (answers are noise)
  spinemed space --push spinemed/SpineMed --dry-run          # list what would be uploaded to the Space
  spinemed space --bench demo_out/spinebench --allow-unregistered --requests space_requests   # + model requests
  spinemed space worker --bench spinemed/SpineBench@v1.0.0 --requests-repo spinemed/SpineMed-requests \\
                        --results-repo spinemed/SpineMed-results --poll 60        # evaluate queued model requests

Every flag has an environment variable (SPINEMED_BENCH, SPINEMED_RESULTS_DIR, SPINEMED_RESULTS_REPO,
SPINEMED_CHAT_MODEL, SPINEMED_JUDGE, SPINEMED_ALLOW_UNREGISTERED, SPINEMED_MAX_UPLOAD_MB,
SPINEMED_REQUESTS_DIR, SPINEMED_REQUESTS_REPO): that is how the pushed Space is configured; also
SPINEMED_CHAT_REVISION (the hf: chat model's revision), SPINEMED_QUEUE_ENDPOINTS=1 (the queue takes
openai: endpoint specs) and SPINEMED_MAX_QUEUE (visitors waiting, default 32).  On ZeroGPU hardware the
hf: chat model generates under spaces.GPU.  Nothing is downloaded unless a Hub id is named.

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
    p.add_argument("--requests", type=Path, dest="requests_dir",
                   help="requests queue folder: visitors may request model evaluations, run by `spinemed space worker` "
                        "(default: off)")
    p.add_argument("--requests-repo", help="Hub dataset repo holding the requests queue instead of a folder (needs HF_TOKEN)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 to expose it)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    push = p.add_argument_group("pushing to the Hub")
    push.add_argument("--push", metavar="ORG/NAME", help="upload space_app/ and the spinemed library to this Space, then exit")
    push.add_argument("--private", action="store_true", help="create the Space as private")
    push.add_argument("--dry-run", action="store_true", help="with --push: list the files, send nothing")
    p.set_defaults(func=_cmd_space)
    sub = p.add_subparsers(dest="space_command", metavar="worker", title="other commands")
    _register_worker(sub)


_WORKER_EPILOG = """\
The Space's Submit tab queues model requests (a Hub model id + revision, or an openai:MODEL@URL
endpoint where the Space allows it) as <id>_eval_request.json files with status PENDING.  The worker
claims one at a time (atomically: two workers never run one request), runs it with the code of
`spinemed eval` (and the report judge with --judge), stores the results where the Space reads
submissions, and sets the request to FINISHED, or FAILED with the reason.  A request left RUNNING by a
killed worker is claimed again once its heartbeat is older than --stale-after.

--requests and --results are local folders, or Hub dataset repos with --requests-repo / --results-repo
(HF_TOKEN, HF_ENDPOINT as for every Hub command).  Hub models named in requests are downloaded here.

examples:
  spinemed space worker --bench demo_out/spinebench --allow-unregistered --once
  spinemed space worker --bench spinemed/SpineBench@v1.0.0 --requests-repo spinemed/SpineMed-requests \\
      --results-repo spinemed/SpineMed-results --judge openai:JUDGE@http://localhost:8001/v1 --poll 60"""


def _register_worker(sub) -> None:
    w = sub.add_parser("worker", prog="spinemed space worker", help="evaluate the Space's queued model requests",
                       description="Take PENDING evaluation requests from the Space's requests queue, evaluate them "
                                   "with spinemed eval's runner and post the results to the leaderboard.",
                       epilog=_WORKER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("--bench", help="SpineBench folder or Hub dataset id ORG/NAME[@REV] (default: $SPINEMED_BENCH)")
    w.add_argument("--allow-unregistered", action="store_true", help="evaluate on a benchmark that is not a registered release")
    w.add_argument("--requests", type=Path, help="requests folder (default: $SPINEMED_REQUESTS_DIR or space_requests)")
    w.add_argument("--requests-repo", help="Hub dataset repo holding the requests (default: $SPINEMED_REQUESTS_REPO)")
    w.add_argument("--results", type=Path, help="results folder the Space reads (default: $SPINEMED_RESULTS_DIR or space_results)")
    w.add_argument("--results-repo", help="Hub dataset repo mirroring the results (default: $SPINEMED_RESULTS_REPO)")
    w.add_argument("--judge", metavar="SPEC", help="report judge openai:MODEL@URL[,URL...] (default: $SPINEMED_JUDGE; "
                                                  "without one, reports are not judged)")
    w.add_argument("--work-dir", type=Path, default=Path("space_worker_runs"),
                   help="where each request's run folder goes (default: space_worker_runs)")
    mode = w.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="process the pending requests, then exit")
    mode.add_argument("--poll", type=float, default=30.0, metavar="SECONDS",
                      help="wait this long between looks at an empty queue (default: 30; runs until stopped)")
    w.add_argument("--stale-after", type=float, default=6 * 3600.0, metavar="SECONDS",
                   help="reclaim a RUNNING request whose worker sent no heartbeat for this long (default: 21600)")
    w.add_argument("--max-attempts", type=int, default=3, help="claims per request before it is FAILED (default: 3)")
    w.add_argument("--max-new-tokens", type=int, default=1024, help="generation budget per item (default: 1024)")
    w.add_argument("--batch-size", type=int, default=8, help="items per generate() call for hf: models (default: 8)")
    w.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (default: 1000)")
    w.set_defaults(func=_cmd_worker)


def _cmd_worker(args) -> int:
    import os

    from spinemed.space.queue import WorkerConfig, open_requests, run_worker
    from spinemed.space.store import ResultsStore

    env = os.environ
    bench = args.bench or env.get("SPINEMED_BENCH")
    if not bench:
        print("spinemed space worker: --bench (or SPINEMED_BENCH) is required", file=sys.stderr)
        return 2
    queue = open_requests(args.requests or env.get("SPINEMED_REQUESTS_DIR") or "space_requests",
                          args.requests_repo or env.get("SPINEMED_REQUESTS_REPO"), token=env.get("HF_TOKEN"))
    store = ResultsStore(args.results or env.get("SPINEMED_RESULTS_DIR") or "space_results",
                         hub_repo=args.results_repo or env.get("SPINEMED_RESULTS_REPO"), token=env.get("HF_TOKEN"))
    cfg = WorkerConfig(bench=bench, work_dir=args.work_dir, judge=args.judge or env.get("SPINEMED_JUDGE"),
                       allow_unregistered=args.allow_unregistered or env.get("SPINEMED_ALLOW_UNREGISTERED", "") in ("1", "true"),
                       stale_after_s=args.stale_after, max_attempts=args.max_attempts,
                       eval_options={"max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
                                     "bootstrap": args.bootstrap})
    print(f"worker {cfg.worker_id}: requests in {queue.where}, results in {store.root}"
          + (f" + {store.hub_repo}" if store.hub_repo else ""), file=sys.stderr)
    try:
        done = run_worker(queue, store, cfg, once=args.once, poll_s=args.poll, progress=lambda m: print(m, file=sys.stderr))
    except KeyboardInterrupt:
        print("stopped; a request left RUNNING is claimed again after --stale-after", file=sys.stderr)
        return 130
    failed = sum(r["status"] != "FINISHED" for r in done)
    print(f"{len(done)} request(s) processed, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


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
                                  max_upload_mb=args.max_upload_mb, requests_dir=args.requests_dir,
                                  requests_repo=args.requests_repo)
    print(f"Starting the SpineMed Space on http://{args.host}:{args.port} (results folder: {config.results_dir}; "
          "Ctrl+C stops it)", file=sys.stderr)
    demo, launch_kwargs = create_app(config, strict=True)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs)
    return 0
