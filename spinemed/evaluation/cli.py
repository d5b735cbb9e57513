"""`spinemed eval`: run a model over SpineBench; `spinemed eval agreement`: human vs judge scores
(registered by `spinemed.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spinemed.bench.cli import BENCH_COMMANDS_ATTR
from spinemed.evaluation import agreement
from spinemed.llm.params import parse_gen_kwargs
from spinemed.progress import add_quiet_argument
from spinemed.schema import BENCH_KINDS, check_kinds

_EPILOG = """\
models (--model; the one spec grammar of spinemed.models.spec, also the Space's --model/--judge):
  hf:PATH_OR_REPO[@REV]                   local transformers model: Hub id (@REV: branch, tag or commit) or folder
  openai:MODEL@URL[,URL...]               OpenAI-compatible endpoint(s): vLLM, TGI, hosted APIs
  baseline:retrieval|random|majority      offline baselines (need --corpus; random needs it for reports)

examples:
  spinemed eval --bench demo_out/spinebench --model baseline:retrieval --corpus demo_out/spinemed-450k-release --out runs/bm25
  spinemed eval --bench spinemed/SpineBench@v1.0.0 --model hf:Qwen/Qwen2.5-VL-7B-Instruct --out runs/qwen7b --batch-size 16
  vllm serve Qwen/Qwen2.5-VL-72B-Instruct --port 8000
  spinemed eval --bench spinemed/SpineBench@v1.0.0 --model openai:Qwen/Qwen2.5-VL-72B-Instruct@http://node1:8000/v1,http://node2:8000/v1 \\
      --concurrency 64 --judge-model gpt-5-mini --judge-url https://api.openai.com/v1 --out runs/qwen72b --model-index

OUT receives predictions.jsonl (one line per item, written as answers arrive; MCQ lines record the
extracted answer, the reference and whether it is correct), samples.jsonl (the per-item table for
error analysis: prompt, output, extraction, reference, correct, score, judge scores), results.json
(the one results schema; docs/eval.md), plots/*.png, and with --model-index model_index.json.
Progress (rate, ETA, failures) goes to stderr: a bar on a terminal, else a line every 10 s or 10%.  Rerun
the same command after an interruption to resume: answered items are not asked again.  Reports
are judged only with --judge-model/--judge-url; otherwise the report part is "not judged" (not 0).
Before any work an openai: endpoint is checked (GET /models, else one tiny chat request): a base URL
that is not an OpenAI-compatible API (404, an HTML page, JSON of another shape) stops the run.
Items whose request failed after all retries are listed under 'errors'; the results then say
complete: false (with items_errored), MCQ items count as missing and reports stay unscored (never
floor-scored).  Rerun the same command to retry them.
Request parameters follow the model: OpenAI's reasoning models (gpt-5*, o1/o3/o4*) get
max_completion_tokens and no temperature; any endpoint that answers 400 naming an unsupported
parameter is sent the request again without it (or renamed), remembered for that endpoint and model.
--gen-kwargs adds parameters (JSON or k=v,k=v): for openai: request body keys, e.g.
  --gen-kwargs reasoning_effort=low,max_completion_tokens=8192   or   --gen-kwargs '{"top_p": 0.9}'
for hf: generate() keyword arguments.  results.json records them and the parameters actually sent
(generation.request_params; the judge's under judge.request_params).
MCQ answers are read by the rules of spinemed.choices; with a judge configured, outputs the rules
leave unparsed go to the judge model as an answer extractor (strict JSON {"answer": "B"} or null;
builders/spinebench/extract_prompts).  Each prediction says how its answer was found (extraction:
rules | llm | none) and results.json counts them (extraction); --no-llm-extract turns this off.
Exit codes: 0 done, 2 bad input or an endpoint that is not an OpenAI-compatible API (nothing was
run), 3 some items errored (more than --max-error-rate, or every item whatever the rate; results.json
is written, marked incomplete), 130 interrupted (rerun to resume).

  spinemed eval agreement HUMAN.jsonl JUDGE.jsonl|judge.json   human vs judge scores per dimension"""


def _kinds(text: str) -> list[str]:
    try:
        return check_kinds(k.strip() for k in text.split(",") if k.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc} (comma-separated)") from None


def _gen_kwargs(text: str) -> dict:
    try:
        return parse_gen_kwargs(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 1")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a fraction between 0 and 1 (e.g. 0.05)")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="run a model over SpineBench: predictions, scores, plots, leaderboard entry",
        description="Run a local transformers VLM, an OpenAI-compatible endpoint or an offline baseline over a "
                    "SpineBench folder or Hub dataset, score it with spinemed.scoring (reports with the LLM judge "
                    "when configured) and write predictions, results JSON and plots.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s --bench BENCH --model SPEC --out OUT [options]\n       %(prog)s agreement [-h] [--json] human judge",
    )
    # Required for a run, checked in `handler`: argparse would demand them of `eval agreement` too.
    p.add_argument("--bench", help="SpineBench dataset folder, or Hub dataset repo ORG/NAME[@REVISION] (required)")
    p.add_argument("--model", metavar="SPEC", help="hf:PATH_OR_REPO[@REV] | openai:MODEL@URL[,URL...] | baseline:NAME (required)")
    p.add_argument("--out", type=Path, help="output folder for this run, reused to resume (required)")

    b = p.add_argument_group("benchmark")
    b.add_argument("--bench-revision", help="Hub revision of --bench (tag like v1.0.0, branch or commit)")
    b.add_argument("--allow-unregistered", action="store_true",
                   help="evaluate a benchmark whose version/content is not a registered SpineBench release "
                        "(the results say registered: false)")
    b.add_argument("--kinds", type=_kinds, help=f"only these item kinds, comma-separated ({', '.join(BENCH_KINDS)})")
    b.add_argument("--limit", type=_positive, help="at most N items of each kind (smoke runs; results are marked as a subset)")

    m = p.add_argument_group("model")
    m.add_argument("--model-revision", help="revision to record (and, for hf:, to load) when not given in the spec")
    m.add_argument("--name", help="display name in the results and plots (default: the model id)")
    m.add_argument("--corpus", help="baselines: SpineMed-450k training split (folder or Hub repo); rows overlapping the "
                                    "benchmark are skipped either way")
    m.add_argument("--seed", type=int, default=0, help="random baseline and bootstrap seed (default 0)")
    m.add_argument("--prompt-version", default="v1", help="builders/spinebench/eval_prompts/<version> (default v1)")
    m.add_argument("--prompt-dir", type=Path, help="folder of prompt versions (default: $SPINEMED_EVAL_PROMPTS, "
                                                   "else the checkout's builders/spinebench/eval_prompts)")
    m.add_argument("--max-new-tokens", type=_positive, default=1024, help="generation budget per item (default 1024)")
    m.add_argument("--gen-kwargs", type=_gen_kwargs, default={}, metavar="KW",
                   help="extra generation parameters, JSON or k=v,k=v: request body keys for openai: (e.g. "
                        "reasoning_effort=low), generate() kwargs for hf: (recorded in results.json)")

    t = p.add_argument_group("local transformers models (hf:)")
    t.add_argument("--batch-size", type=_positive, default=8, help="items per generate() call (default 8)")
    t.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    t.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"],
                   help="auto: bfloat16 on cuda (float16 without bf16 support), float16 on mps, float32 on cpu")
    t.add_argument("--device-map", help="e.g. auto: shard a large model over all GPUs (needs accelerate)")
    t.add_argument("--trust-remote-code", action="store_true", help="allow model code from the Hub repo")

    e = p.add_argument_group("OpenAI-compatible endpoints (openai:)")
    e.add_argument("--api-key", help="API key (default: $SPINEMED_API_KEY or $OPENAI_API_KEY)")
    e.add_argument("--concurrency", type=_positive, default=16, help="requests in flight over all endpoints (default 16)")
    e.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt (default 120)")
    e.add_argument("--retries", type=int, default=4, help="retries after timeouts/429/5xx, with backoff (default 4)")
    e.add_argument("--image-max-side", type=_positive, help="downscale images whose longest side exceeds this (pixels)")
    e.add_argument("--cache-dir", type=Path, help="request cache shared by runs (default: OUT/cache)")
    e.add_argument("--no-preflight", action="store_true", help="skip the GET /models reachability check")

    j = p.add_argument_group("report judge (spinemed.judge)")
    j.add_argument("--judge-model", help="judge model name as its endpoint serves it")
    j.add_argument("--judge-url", action="append", default=[], metavar="URL", help="judge endpoint base URL (repeatable)")
    j.add_argument("--judge-api-key", help="judge API key (default: $SPINEMED_API_KEY or $OPENAI_API_KEY)")
    j.add_argument("--judge-prompt-version", default="v1", help="builders/spinebench/judge_prompts/<version> (default v1)")
    j.add_argument("--judge-prompt-dir", type=Path, help="folder of judge prompt versions (default: $SPINEMED_JUDGE_PROMPTS, "
                                                         "else the checkout's builders/spinebench/judge_prompts)")
    j.add_argument("--judge-concurrency", type=_positive, default=8, help="judge requests in flight (default 8)")
    j.add_argument("--judge-gen-kwargs", type=_gen_kwargs, default={}, metavar="KW",
                   help="extra judge request parameters, JSON or k=v,k=v (e.g. reasoning_effort=minimal)")
    j.add_argument("--no-llm-extract", action="store_true",
                   help="do not send MCQ outputs the extraction rules cannot parse to the judge model (by default, "
                        "with a judge configured, they are, and counted as extraction 'llm')")
    j.add_argument("--extract-prompt-version", default="v1",
                   help="builders/spinebench/extract_prompts/<version> (default v1)")
    j.add_argument("--extract-prompt-dir", type=Path, help="folder of answer-extractor prompt versions (default: "
                                                           "$SPINEMED_EXTRACT_PROMPTS, else the checkout's "
                                                           "builders/spinebench/extract_prompts)")
    j.add_argument("--partial-reports", choices=["none", "mean"], default="none",
                   help="when some reports could not be judged: none (default: P3 and the total stay empty) or mean "
                        "(P3 over the scored reports; recorded in the results)")

    o = p.add_argument_group("outputs")
    o.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% intervals (0 = off; default 1000)")
    o.add_argument("--no-plots", action="store_true", help="do not draw plots")
    o.add_argument("--model-index", action="store_true", help="also write model_index.json for a model card")
    o.add_argument("--max-error-rate", type=_fraction, default=0.0, metavar="R",
                   help="fraction of items whose request may fail (after retries) with exit code 0 (default 0: any "
                        "errored item exits 3); the results are marked incomplete either way")
    o.add_argument("--overwrite", action="store_true", help="discard earlier predictions in OUT instead of resuming")
    o.add_argument("--json", action="store_true", help="print the results JSON instead of the summary table")
    add_quiet_argument(o)
    p.set_defaults(func=handler, _eval_parser=p)
    _register_export_harness(subparsers)

    sub = p.add_subparsers(dest="eval_command", metavar="agreement", title="other commands")
    # prog spelled out: argparse would derive it from the custom usage of `eval` above
    a = sub.add_parser("agreement", prog="spinemed eval agreement",
                       help="human vs judge agreement per report dimension (Pearson, Spearman, QWK)",
                       description=agreement.DESCRIPTION)
    agreement.add_arguments(a)
    a.set_defaults(func=agreement.run)


_SECRETS = ("api_key", "judge_api_key")


def _command(args) -> list[str]:
    """The command as given, rebuilt from the parsed flags: defaults left out, API keys redacted."""
    parser = args._eval_parser
    cmd = ["spinemed", "eval"]
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help",):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value == action.default or value is False or value == []:
            continue
        flag = action.option_strings[-1]
        if value is True:
            cmd.append(flag)
        elif action.dest in _SECRETS:
            cmd += [flag, "***"]
        elif isinstance(value, dict):
            cmd += [flag, json.dumps(value, ensure_ascii=False, sort_keys=True)]
        elif isinstance(value, list):
            if action.dest == "kinds":
                cmd += [flag, ",".join(value)]
            else:
                for v in value:
                    cmd += [flag, str(v)]
        else:
            cmd += [flag, str(value)]
    return cmd


_RUN_REQUIRED = (("bench", "--bench"), ("model", "--model"), ("out", "--out"))


def handler(args) -> int:
    missing = [flag for dest, flag in _RUN_REQUIRED if getattr(args, dest) is None]
    if missing:
        args._eval_parser.error(f"the following arguments are required: {', '.join(missing)}")  # exits 2, as argparse does
    from spinemed.evaluation.benchmark import BenchmarkError
    from spinemed.evaluation.models import EvalError
    from spinemed.evaluation.predictions import PredictionsError
    from spinemed.evaluation.runner import EvalConfig, EvalInterrupted, run_eval

    cfg = EvalConfig(
        bench=args.bench, model=args.model, out=args.out, bench_revision=args.bench_revision,
        allow_unregistered=args.allow_unregistered, kinds=args.kinds, limit=args.limit, corpus=args.corpus,
        prompt_version=args.prompt_version, prompt_dir=args.prompt_dir, max_new_tokens=args.max_new_tokens,
        gen_kwargs=args.gen_kwargs, judge_gen_kwargs=args.judge_gen_kwargs, batch_size=args.batch_size,
        device=args.device, dtype=args.dtype, device_map=args.device_map, trust_remote_code=args.trust_remote_code,
        model_revision=args.model_revision, api_key=args.api_key, concurrency=args.concurrency, timeout_s=args.timeout,
        retries=args.retries, image_max_side=args.image_max_side, cache_dir=args.cache_dir,
        preflight=not args.no_preflight, judge_model=args.judge_model, judge_urls=args.judge_url,
        judge_api_key=args.judge_api_key, judge_prompt_version=args.judge_prompt_version,
        judge_prompt_dir=args.judge_prompt_dir,
        judge_concurrency=args.judge_concurrency, llm_extract=not args.no_llm_extract,
        extract_prompt_version=args.extract_prompt_version, extract_prompt_dir=args.extract_prompt_dir, partial_reports=args.partial_reports, seed=args.seed,
        bootstrap=args.bootstrap, plots=not args.no_plots,
        model_index=args.model_index, name=args.name, overwrite=args.overwrite, command=_command(args),
    )
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        run = run_eval(cfg, progress=say)
    except EvalInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except (BenchmarkError, EvalError, PredictionsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(run.results, ensure_ascii=False, indent=2))
    else:
        print(run.summary())
    if run.error_count:
        items = run.results["benchmark"]["items"]
        # Every item errored: nothing was evaluated, whatever --max-error-rate allows.
        allowed = run.error_rate <= args.max_error_rate and run.error_count < items
        print(f"{'warning' if allowed else 'error'}: {run.error_count} of {items} item(s) errored "
              f"({run.error_rate:.1%}; --max-error-rate {args.max_error_rate:g}): the results are incomplete "
              f"(see 'errors' in {run.results_path}); rerun the same command to retry them", file=sys.stderr)
        if run.error_count == items:
            first = (run.results["errors"].get("items") or [{}])[0].get("error", "")
            print(f"error: every one of the {items} item(s) errored, nothing was evaluated; the first error: {first}",
                  file=sys.stderr)
        if not allowed:
            return 3
    return 0


def _register_export_harness(subparsers) -> None:
    """`spinemed bench export-harness`: a `bench` command whose logic is the eval's (prompts, benchmark loading)."""
    bench = subparsers.choices.get("bench")
    commands = getattr(bench, BENCH_COMMANDS_ATTR, None)
    if commands is None:  # the bench part is not installed
        return
    h = commands.add_parser(
        "export-harness", help="SpineBench as an lmms-eval task folder and VLMEvalKit MCQ tables",
        description="Write an lmms-eval task folder (YAML + utils.py that renders the SpineBench prompts and scores "
                    "with spinemed.scoring, so its scores equal spinemed eval's on the same outputs) and VLMEvalKit-style "
                    "MCQ TSVs (base64 images) for a SpineBench folder or Hub id. The MCQ parts (P1, P2, their "
                    "count-weighted closed_qa) are exported; reports need the SpineBench judge (spinemed eval).",
        epilog="example:\n  spinemed bench export-harness out/harness --bench demo_out/spinebench\n"
               "  python -m lmms_eval --model openai --model_args model_version=MODEL,base_url=http://host:8000/v1 \\\n"
               "      --tasks spinebench_mcq --include_path out/harness/lmms_eval/spinebench --log_samples --output_path runs/lmms\n"
               "lmms-eval needs spinemed installed in its environment (utils.py imports spinemed.scoring).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("out", type=Path, help="output folder (gets lmms_eval/spinebench/, vlmevalkit/*.tsv, manifest.json)")
    h.add_argument("--bench", required=True, help="SpineBench dataset folder, or Hub dataset repo ORG/NAME[@REVISION]")
    h.add_argument("--bench-revision", help="Hub revision of --bench")
    h.add_argument("--dataset-path", help="what the lmms-eval YAML loads (default: the bench folder's absolute path, or "
                                          "the Hub id of --bench)")
    h.add_argument("--allow-unregistered", action="store_true",
                   help="export a benchmark that is not a registered SpineBench release (recorded in manifest.json)")
    h.add_argument("--prompt-version", default="v1", help="builders/spinebench/eval_prompts/<version> (default v1)")
    h.add_argument("--prompt-dir", type=Path, help="folder of prompt versions (default: $SPINEMED_EVAL_PROMPTS, "
                                                   "else the checkout's builders/spinebench/eval_prompts)")
    h.add_argument("--max-new-tokens", type=_positive, default=1024, help="generation budget in the YAML (default 1024)")
    h.set_defaults(func=_cmd_export_harness)


def _cmd_export_harness(args) -> int:
    from spinemed.evaluation.benchmark import BenchmarkError
    from spinemed.evaluation.harness import export_harness, format_export

    try:
        export = export_harness(args.bench, args.out, revision=args.bench_revision, dataset_path=args.dataset_path,
                                allow_unregistered=args.allow_unregistered, prompt_version=args.prompt_version,
                                prompt_dir=args.prompt_dir, max_new_tokens=args.max_new_tokens)
    except (BenchmarkError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_export(export))
    return 0
