"""`run_eval`: one model over SpineBench -> predictions, judged reports, scores, plots, model index.

Order of work, so that everything that can be wrong is found before the first item:

1. parse the model spec; load and check the benchmark (registered version, readable images);
   load the prompt version; check the judge endpoint when one is configured;
2. load the model (weights / endpoint reachability / baseline corpus);
3. compare the run fingerprint with earlier predictions in the output folder (resume or refuse);
4. generate the missing items, appending each answer to ``predictions.jsonl`` as it arrives;
5. with a judge endpoint configured, send the MCQ outputs the extraction rules leave unparsed
   to the LLM answer extractor (:mod:`spinemed.judge.extract`) and judge the reports; score everything with
   :func:`spinemed.scoring.score_predictions`, and write ``results.json``, the plots and,
   when asked, ``model_index.json``.

An interrupted run (Ctrl-C, a killed process) resumes when rerun with the same arguments:
finished items come from ``predictions.jsonl`` and answers received but not yet written come
from the request cache, so no answered request is sent twice.  Items that failed (endpoint
errors after all retries) are tried again on the rerun.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinemed import __version__ as KIT_VERSION
from spinemed.evaluation.benchmark import KNOWN_BENCHMARKS, Benchmark, KnownBenchmark, load_benchmark
from spinemed.evaluation.model_index import results_to_model_index
from spinemed.evaluation.models import Adapter, EvalError, Generation, Job, build_adapter, parse_model_spec
from spinemed.evaluation.predictions import (
    PredictionWriter,
    annotate_meta,
    check_fingerprint,
    read_predictions,
    write_predictions,
)
from spinemed.evaluation.prompts import DEFAULT_PROMPT_VERSION, load_eval_prompts
from spinemed.evaluation.results import assemble_results, benchmark_warnings, write_results
from spinemed.evaluation.samples import SAMPLES_FILE, sample_rows, write_samples
from spinemed.fileio import atomic_write_json
from spinemed.judge import judge_reports
from spinemed.judge import load_prompts as load_judge_prompts
from spinemed.judge.extract import DEFAULT_EXTRACT_PROMPT_VERSION, extract_answers, load_extract_prompts
from spinemed.models.loader import openai_client
from spinemed.models.spec import ModelError, ModelSpec, ModelSpecError
from spinemed.progress import Progress
from spinemed.scoring import score_items, score_predictions

__all__ = ["EvalConfig", "EvalInterrupted", "EvalRun", "format_results", "run_eval"]

BREAKDOWNS = ("subfield", "language", "modality", "source_type")


class EvalInterrupted(EvalError):
    """The run was interrupted; what was finished is saved and a rerun resumes."""


@dataclass
class EvalConfig:
    """Settings of one evaluation run (the CLI's flags; see ``spinemed eval --help``)."""

    bench: str | Path
    model: str
    out: Path
    bench_revision: str | None = None
    allow_unregistered: bool = False
    kinds: Sequence[str] | None = None
    limit: int | None = None
    corpus: str | Path | None = None
    prompt_version: str = DEFAULT_PROMPT_VERSION
    prompt_dir: Path | None = None
    max_new_tokens: int = 1024
    # extra generation parameters (--gen-kwargs): endpoint request body keys, or generate() kwargs for hf:
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    # transformers
    batch_size: int = 8
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    trust_remote_code: bool = False
    model_revision: str | None = None
    # endpoints
    api_key: str | None = None
    concurrency: int = 16
    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 0.5
    image_max_side: int | None = None
    cache_dir: Path | None = None  # default: OUT/cache
    preflight: bool = True
    # judge
    judge_model: str | None = None
    judge_urls: Sequence[str] = ()
    judge_api_key: str | None = None
    judge_prompt_version: str = "v1"
    judge_prompt_dir: Path | None = None
    judge_concurrency: int = 8
    judge_gen_kwargs: dict[str, Any] = field(default_factory=dict)  # --judge-gen-kwargs
    # MCQ outputs the rules cannot parse go to the judge model as an answer extractor (when a judge is set)
    llm_extract: bool = True
    extract_prompt_version: str = DEFAULT_EXTRACT_PROMPT_VERSION
    extract_prompt_dir: Path | None = None
    # scoring and outputs
    partial_reports: str = "none"  # spinemed.scoring: "mean" scores P3 over the scored reports when some are not
    seed: int = 0
    bootstrap: int = 1000
    plots: bool = True
    model_index: bool = False
    name: str | None = None
    overwrite: bool = False
    command: Sequence[str] | None = None  # recorded in the results
    registry: Sequence[KnownBenchmark] = KNOWN_BENCHMARKS


@dataclass
class EvalRun:
    """What a finished run produced."""

    results: dict[str, Any]
    out_dir: Path
    results_path: Path
    predictions_path: Path
    plots: dict[str, Path] = field(default_factory=dict)
    model_index_path: Path | None = None

    @property
    def error_count(self) -> int:
        """Items whose request failed for good (listed under the results' ``errors``)."""
        return int(self.results["errors"]["count"])

    @property
    def error_rate(self) -> float:
        """The fraction of the evaluated items whose request failed (0.0 for no items)."""
        items = int(self.results["benchmark"]["items"])
        return self.error_count / items if items else 0.0

    def summary(self) -> str:
        return format_results(self.results, self.out_dir)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _record(job: Job, gen: Generation) -> dict[str, Any]:
    """The predictions line written the moment an answer arrives: raw output, no extraction yet
    (that is CPU work the request path does not need; :func:`_finalize` adds it)."""
    rec = {"id": job.id, "kind": job.kind, "output": gen.output, "extracted": None, "extraction": None,
           "latency_s": gen.latency_s,
           "error": gen.error, "attempts": gen.attempts, "cached": gen.cached}
    if gen.output is None:
        rec["status"] = "error"
        rec["error"] = gen.error or "no output"
    else:
        rec["status"] = "generated" if gen.output.strip() else "empty"
    return rec


def _finalize(rec: dict[str, Any], item: dict[str, Any], llm_answer: str | None = None) -> dict[str, Any]:
    """Add the MCQ extraction, the reference letters and whether they match to a line; they are
    the scorer's own (`score_items`), so the two agree.  ``extraction`` says how the answer was
    found: "rules", "llm" (an LLM extractor's `llm_answer` for an output the rules left unparsed)
    or "none".  A failed request gets the reference too (it is scored as wrong)."""
    if rec["kind"] == "report":
        return rec
    scored = score_items([item], [rec["output"]], levels=False, llm_answers=[llm_answer])[0]
    if rec["output"] is None:
        return {**rec, "extraction": "none", "reference": scored.reference, "correct": False}
    return {**rec, "extracted": scored.extracted, "status": scored.status, "extraction": scored.extraction,
            "reference": scored.reference, "correct": scored.correct}


def _judge_client(cfg: EvalConfig, cache_dir: Path):
    """The judge's client through the model layer's one endpoint loader (checked first unless --no-preflight)."""
    if not cfg.judge_urls:
        raise EvalError("--judge-model needs --judge-url (the judge's OpenAI-compatible endpoint)")
    spec = ModelSpec("openai", cfg.judge_model, urls=tuple(cfg.judge_urls))
    try:
        return openai_client(spec, api_key=cfg.judge_api_key, concurrency=cfg.judge_concurrency, timeout_s=cfg.timeout_s,
                             retries=cfg.retries, cache_dir=cache_dir, preflight=cfg.preflight, what="judge endpoint")
    except ModelSpecError as exc:
        raise EvalError(f"judge: {exc}") from None
    except ModelError as exc:
        raise EvalError(str(exc)) from None


def _run_async(make_coro: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, also from code that already runs an event loop (Jupyter):
    there it runs on a fresh loop in a helper thread, since asyncio.run cannot nest."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="spinemed-eval") as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


async def _generate(adapter: Adapter, jobs: list[Job], emit) -> None:
    try:
        await adapter.generate(jobs, emit)
    finally:
        await adapter.aclose()


def run_eval(cfg: EvalConfig, progress: Callable[[str], None] | None = None, *, adapter: Adapter | None = None) -> EvalRun:
    """Run one evaluation (see the module docstring); `adapter` overrides the one built from ``cfg.model``.

    Raises:
        BenchmarkError, EvalError, PredictionsError: before any work, with what to fix.
        EvalInterrupted: on Ctrl-C during generation (finished items are saved).
    """
    say = progress or (lambda message: None)
    started, t0 = _now(), time.perf_counter()
    if cfg.partial_reports not in ("none", "mean"):
        raise EvalError(f"partial_reports must be 'none' or 'mean', got {cfg.partial_reports!r}")
    out = Path(cfg.out)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir is not None else out / "cache"
    if adapter is None:
        spec = parse_model_spec(cfg.model)
        adapter = build_adapter(
            spec, corpus=cfg.corpus, seed=cfg.seed, api_key=cfg.api_key, concurrency=cfg.concurrency,
            timeout_s=cfg.timeout_s, retries=cfg.retries, backoff_s=cfg.backoff_s, max_new_tokens=cfg.max_new_tokens,
            image_max_side=cfg.image_max_side, cache_dir=cache_dir, preflight=cfg.preflight,
            model_revision=cfg.model_revision, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size,
            device_map=cfg.device_map, trust_remote_code=cfg.trust_remote_code, gen_kwargs=dict(cfg.gen_kwargs),
        )

    # 1. Benchmark, prompts, judge: all checked before the model is touched.
    bench = load_benchmark(cfg.bench, revision=cfg.bench_revision, allow_unregistered=cfg.allow_unregistered,
                           kinds=cfg.kinds, limit=cfg.limit, registry=cfg.registry)
    say(f"benchmark {bench.name} {bench.version}: {len(bench.items)} items "
        f"({', '.join(f'{k} {n}' for k, n in bench.counts.items() if n)})"
        f"{'' if bench.registered else ' [UNREGISTERED]'}{'' if bench.complete else ' [subset]'}")
    try:
        prompts = load_eval_prompts(cfg.prompt_version, cfg.prompt_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise EvalError(str(exc)) from None
    jobs_all = [
        Job(i, item["id"], item["kind"], str(item.get("language") or ""), prompts.render(item, len(bench.images[item["id"]])),
            bench.images[item["id"]], item)
        for i, item in enumerate(bench.items)
    ]
    has_reports = any(j.kind == "report" for j in jobs_all)
    llm_extract = cfg.llm_extract and cfg.judge_model and any(j.kind != "report" for j in jobs_all)
    if cfg.judge_urls and not cfg.judge_model:
        raise EvalError("--judge-url needs --judge-model (the judge model's name as the endpoint serves it)")
    judge_client = None
    if cfg.judge_model and (has_reports or llm_extract):
        try:
            if has_reports:
                load_judge_prompts(cfg.judge_prompt_version, cfg.judge_prompt_dir)
            if llm_extract:
                load_extract_prompts(cfg.extract_prompt_version, cfg.extract_prompt_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise EvalError(f"judge: {exc}") from None
        judge_client = _judge_client(cfg, cache_dir)

    # 2. The model.
    say(f"loading {adapter.spec} ...")
    try:
        adapter.load(bench)
    except BaseException:
        if judge_client is not None and judge_client.cache is not None:
            judge_client.cache.close()
        raise

    # 3. Resume or start.
    out.mkdir(parents=True, exist_ok=True)
    predictions_path = out / "predictions.jsonl"
    fingerprint = {**adapter.fingerprint(), "benchmark_items_hash": bench.items_hash, "prompt_version": prompts.version,
                   "prompt_hash": prompts.sha256}
    reuse = check_fingerprint(out / "predictions.meta.json", fingerprint, overwrite=cfg.overwrite)
    records: dict[str, dict[str, Any]] = {}
    if reuse:
        bench_ids = {j.id for j in jobs_all}
        records = {k: v for k, v in read_predictions(predictions_path).items() if k in bench_ids and v["status"] != "error"}
    jobs = [j for j in jobs_all if j.id not in records]
    resumed = len(records)
    if resumed:
        say(f"resuming: {resumed} item(s) already answered in {predictions_path}, {len(jobs)} to go")

    # 4. Generate.
    gen_start = time.perf_counter()
    if jobs:
        say(f"generating {len(jobs)} answer(s) with {adapter.spec}")
        with PredictionWriter(predictions_path) as writer, Progress(len(jobs), "eval", unit="item") as bar:

            def emit(job: Job, gen: Generation) -> None:
                rec = _record(job, gen)
                writer.write(rec)
                records[job.id] = rec
                bar.update(failed=int(rec["status"] == "error"))

            try:
                _run_async(lambda: _generate(adapter, jobs, emit))
            except KeyboardInterrupt:
                raise EvalInterrupted(
                    f"interrupted after {len(records)} of {len(jobs_all)} items; they are saved in {predictions_path}. "
                    "Rerun the same command to resume."
                ) from None
    gen_time = time.perf_counter() - gen_start
    missing = [j.id for j in jobs_all if j.id not in records]
    if missing:  # an adapter that skipped items is a bug, not a model failure
        raise EvalError(f"{len(missing)} item(s) got no answer from {adapter.spec}: {missing[:5]}")
    ordered = [_finalize(records[j.id], j.item) for j in jobs_all]
    if adapter.request_params() is not None:  # what this run's requests carried, after the model's rules
        annotate_meta(out / "predictions.meta.json", request_params=adapter.request_params())

    # 5. Extract what the rules could not and judge (with a judge endpoint), score, write.
    outputs = [r["output"] for r in ordered]
    unparsed = [i for i, r in enumerate(ordered) if r["status"] == "unparsed"] if llm_extract else []
    judge_run, judge_stats, extraction_run = None, {}, None
    if judge_client is not None:
        if unparsed:
            say(f"asking {cfg.judge_model} for the answer of {len(unparsed)} MCQ output(s) the rules cannot parse")
        if has_reports:
            say(f"judging {sum(j.kind == 'report' for j in jobs_all)} report(s) with {cfg.judge_model}")

        async def judge():
            try:
                extracted = None
                if unparsed:
                    extracted = await extract_answers(
                        [jobs_all[i].item for i in unparsed], [outputs[i] for i in unparsed], judge_client,
                        model=cfg.judge_model, prompt_version=cfg.extract_prompt_version,
                        prompt_dir=cfg.extract_prompt_dir, gen_kwargs=cfg.judge_gen_kwargs)
                judged = None
                if has_reports:
                    judged = await judge_reports(bench.items, outputs, judge_client, prompt_version=cfg.judge_prompt_version,
                                                 prompt_dir=cfg.judge_prompt_dir, model=cfg.judge_model,
                                                 gen_kwargs=cfg.judge_gen_kwargs)
                return extracted, judged
            finally:
                await judge_client.aclose()

        try:
            extraction_run, judge_run = _run_async(judge)
        except KeyboardInterrupt:
            raise EvalInterrupted("interrupted while judging; every answer is saved and the judgements made so far "
                                  "are cached: rerun the same command to resume") from None
        s = judge_client.stats
        judge_stats = {"requests_sent": s.requests, "cache_hits": s.cache_hits, "retries": s.retries, "failures": s.failures}
        if judge_run is not None:
            _write_json(out / "judge.json", judge_run.to_json())
        if extraction_run is not None:
            _write_json(out / "extraction.json", extraction_run.to_json())
    llm_answers = extraction_run.answers() if extraction_run is not None else {}
    if llm_answers:
        ordered = [_finalize(r, j.item, llm_answers.get(r["id"])) if r["id"] in llm_answers else r
                   for r, j in zip(ordered, jobs_all)]
    write_predictions(predictions_path, ordered)  # compacted, in benchmark order, with the extraction

    # A failed request is no answer: its report is never floor-scored (the scorer's "request_failed").
    request_errors = [r["error"] or "request failed" if r["status"] == "error" else None for r in ordered]
    metric = score_predictions(bench.items, outputs, judge_run, breakdowns=BREAKDOWNS, bootstrap=cfg.bootstrap, seed=cfg.seed,
                               partial_reports=cfg.partial_reports,
                               request_errors=request_errors if any(request_errors) else None,
                               llm_answers=llm_answers or None, return_items=True)
    # The per-item table for error analysis (lmms-eval's logged samples), from the scorer's own records.
    write_samples(out / SAMPLES_FILE, sample_rows(bench.items, ordered, metric.pop("items"),
                                                  [j.prompt for j in jobs_all], [len(j.images) for j in jobs_all]))
    results = _assemble(cfg, bench, prompts, adapter, metric, ordered, started, t0, gen_time, len(jobs), resumed, judge_stats)
    results["extraction"] = _extraction_block(ordered, extraction_run, llm_extract)
    if extraction_run is not None:
        results["files"]["extraction"] = "extraction.json"
    plots: dict[str, Path] = {}
    if cfg.plots:
        try:
            from spinemed.evaluation.plots import make_plots  # matplotlib: only when plots are drawn
        except ImportError as exc:
            results["warnings"].append(f"plots skipped: {exc} (pip install matplotlib)")
        else:
            plots = make_plots(results, out / "plots")
            results["files"]["plots"] = {k: p.relative_to(out).as_posix() for k, p in plots.items()}
    model_index_path = None
    if cfg.model_index:
        try:
            index = results_to_model_index(results)
        except ValueError as exc:
            results["warnings"].append(f"model-index not written: {exc}")
        else:
            model_index_path = _write_json(out / "model_index.json", index)
            results["files"]["model_index"] = model_index_path.name
    results["run"]["wall_time_s"] = round(time.perf_counter() - t0, 3)
    results_path = write_results(results, out / "results.json")
    return EvalRun(results, out, results_path, predictions_path, plots, model_index_path)


def _write_json(path: Path, obj: Any) -> Path:
    return atomic_write_json(path, obj, indent=2)


def _assemble(cfg, bench: Benchmark, prompts, adapter: Adapter, metric, ordered, started, t0, gen_time, generated, resumed,
              judge_stats) -> dict[str, Any]:
    model = adapter.model_info()
    if cfg.name:
        model["name"] = cfg.name
    warnings = list(metric["warnings"])
    if metric["judge"] is None and metric["scores"]["report"] is None and metric["counts"]["report"]:
        # The scorer's note, plus why and how to judge.
        warnings = [w for w in warnings if "not judged" not in w]
        unscored = metric["counts"]["report"] - metric["report"].get("scored", 0)
        warnings.append(f"{unscored} report item(s) were not judged: no judge endpoint was configured "
                        "(--judge-model / --judge-url); P3 and the total are not computed, which is not a score of 0")
    elif metric["report"].get("judge_failed"):
        warnings.append("the failed judgements are listed in judge.json; rerun the same command to retry them")
    if not bench.complete:
        how = ", ".join(p for p in (f"kinds {', '.join(bench.subset['kinds'])}" if bench.subset["kinds"] else "",
                                    f"at most {bench.subset['limit_per_kind']} per kind" if bench.subset["limit_per_kind"] else "") if p)
        warnings.insert(0, f"only a subset of the benchmark was evaluated ({len(bench.items)} of "
                           f"{sum(bench.total_counts.values())} items: {how}): not a benchmark score")
    warnings[:0] = benchmark_warnings(bench)
    errors = [{"id": r["id"], "kind": r["kind"], "error": r["error"] or ""} for r in ordered if r["status"] == "error"]
    if errors:
        warnings.append(f"{len(errors)} of {len(ordered)} request(s) failed after all retries: the results are "
                        "incomplete (benchmark.complete false); MCQ items are counted as missing (wrong), reports are "
                        "left unscored (never floor-scored); they are listed under 'errors' and retried when the "
                        "same command is run again")
    unanswered = [{"id": r["id"], "kind": r["kind"]} for r in ordered if r["status"] == "empty"]
    if unanswered:
        warnings.append(f"{len(unanswered)} item(s) got an empty answer (scored as unanswered); listed under 'unanswered'")
    latencies = [r["latency_s"] for r in ordered if r.get("latency_s") and not r.get("cached")]
    run = {
        "date": started,
        "kit_version": KIT_VERSION,
        "scorer_version": metric["config"]["scorer_version"],
        "backend": adapter.backend,
        **{"device": None, "dtype": None, "concurrency": None, "batch_size": None},
        **adapter.run_info(),
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "generation_time_s": round(gen_time, 3),
        "items_generated": generated,
        "resumed_items": resumed,
        "throughput_items_per_s": round(generated / gen_time, 3) if generated and gen_time > 0 else None,
        "mean_latency_s": round(sum(latencies) / len(latencies), 4) if latencies else None,
        "requests": adapter.stats(),
        "judge_requests": judge_stats or None,
        "seed": cfg.seed,
        "bootstrap_resamples": cfg.bootstrap,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "command": list(cfg.command) if cfg.command is not None else None,
    }
    benchmark = bench.describe()
    if errors:  # not every item was evaluated: no complete result, whatever the scores say
        benchmark.update(complete=False, items_errored=len(errors), items_answered=len(ordered) - len(errors))
    return assemble_results(
        metric, model=model, benchmark=benchmark,
        prompt={"version": prompts.version, "hash": prompts.sha256},
        generation=_generation(cfg, adapter),
        run=run, warnings=warnings, unanswered=unanswered, errors=errors,
        files={"predictions": "predictions.jsonl", "samples": SAMPLES_FILE, "plots": {}, "model_index": None,
               "judge": "judge.json" if metric["judge"] else None},
    )


def _extraction_block(ordered: list[dict[str, Any]], run, enabled: bool) -> dict[str, Any]:
    """How every MCQ answer was found: by the rules, by the LLM extractor, or not at all, with
    the extractor's model, prompt and outcome counts (None when no judge endpoint was set)."""
    mcq = [r for r in ordered if r["kind"] != "report"]
    counts = {way: sum(r.get("extraction") == way for r in mcq) for way in ("rules", "llm", "none")}
    extractor = None
    if enabled:
        extractor = run.info() if run is not None else {"sent": 0}
        extractor.pop("failures", None)  # listed in extraction.json
    return {"mcq_items": len(mcq), **counts, "llm_extractor": extractor}


def _generation(cfg, adapter: Adapter) -> dict[str, Any]:
    """The results' ``generation`` block: the settings asked for and the parameters as sent
    (``request_params``: for endpoints, after the model's rules, e.g. a reasoning model's
    ``max_completion_tokens`` and no temperature)."""
    if adapter.backend == "baseline":
        return {"max_new_tokens": None, "temperature": 0.0, "decoding": "not applicable (baseline)",
                "image_max_side": cfg.image_max_side, "gen_kwargs": {}, "request_params": None}
    params = adapter.request_params()
    temperature: float | None = 0.0
    decoding = "greedy"
    if params is not None and adapter.backend == "openai":
        temperature = params.get("temperature")  # None: not sent (the model's own default)
        if temperature is None:
            decoding = "the model's default sampling (temperature not accepted by the model)"
        elif temperature != 0:
            decoding = f"sampling (temperature {temperature:g})"
    elif params is not None and params.get("do_sample"):
        temperature, decoding = params.get("temperature", 1.0), "sampling"
    return {"max_new_tokens": cfg.max_new_tokens, "temperature": temperature, "decoding": decoding,
            "image_max_side": cfg.image_max_side, "gen_kwargs": dict(cfg.gen_kwargs), "request_params": params}


# --------------------------------------------------------------------------------------
# Human-readable summary
# --------------------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "   n/a" if v is None else f"{v:6.2f}"


def format_results(results: dict[str, Any], out_dir: Path | None = None) -> str:
    """A short text table of a results dict (what the CLI prints)."""
    b, m, s, c = results["benchmark"], results["model"], results["scores"], results["counts"]
    ci = (results.get("ci") or {}).get("intervals") or {}
    tags = [t for t, on in (("registered", b["registered"]), ("UNREGISTERED", not b["registered"]),
                            (b.get("variant") or "", bool(b.get("variant"))),
                            (f"INCOMPLETE: {b.get('items_errored')} item(s) errored", bool(b.get("items_errored"))),
                            ("subset", not b["complete"] and not b.get("items_errored"))) if on]
    lines = [f"{m['name']} on {b['name']} {b['version']} ({', '.join(tags)}), prompts {results['prompt']['version']}"]

    def row(label: str, key: str, extra: str = "") -> None:
        iv = ci.get(key)
        band = f"  [{iv[0]:5.1f}, {iv[1]:5.1f}]" if iv else " " * 16
        lines.append(f"  {label:<16}{_pct(s[key])}{band}  n={c[key]:<4}{extra}")

    for kind, label in (("text_mcq", "text MCQ  (P1)"), ("image_mcq", "image MCQ (P2)")):
        if c[kind]:
            a = results["answers"][kind]
            row(label, kind, f"  correct {a['correct']}, answered {a['answered']}, refused {a['refused']}, "
                             f"unparsed {a['unparsed']}, empty {a['empty']}, missing {a['missing']}")
    if c["closed_qa"]:
        row("closed QA", "closed_qa")
    if c["report"]:
        rep, judge = results["report"], results.get("judge") or {}
        if s["report"] is None:
            why = ("not judged (no judge configured; not a score of 0)" if not judge
                   else f"not computed: {rep['not_judged']} of {c['report']} not judged (see judge.json)")
            lines.append(f"  {'report    (P3)':<16}   {why}  n={c['report']}")
        else:
            floor = f", {rep['floor_scored']} empty/missing scored at the floor" if rep.get("floor_scored") else ""
            row("report    (P3)", "report", f"  judged {rep['judged']}{floor} ({judge.get('judge_model') or 'no judge'})")
    row("total", "total", "" if s["total"] is not None or not c["report"] else "  (needs judged reports)")
    lv = results["levels"]
    if lv.get("items"):
        lines.append(f"  level-aware (reports): F1 {lv['f1']:.3f}, precision {lv['precision']:.3f}, "
                     f"recall {lv['recall']:.3f} over {lv['items']} item(s)")
    ex = results.get("extraction")
    if ex and ex.get("mcq_items"):
        llm = ex.get("llm_extractor")
        how = (f" ({llm.get('sent', 0)} unparsed sent to {llm.get('model') or 'the judge'}: {llm.get('answered', 0)} "
               f"answered, {llm.get('none', 0)} no answer, {llm.get('invalid', 0) + llm.get('error', 0)} failed)"
               if llm and llm.get("sent") else "" if llm else " (no LLM extractor: set --judge-model/--judge-url)")
        lines.append(f"  MCQ answers found by rules {ex['rules']}, by LLM {ex['llm']}, none {ex['none']}{how}")
    if results["errors"]["count"] or results["unanswered"]:
        lines.append(f"  errors {results['errors']['count']}, unanswered {len(results['unanswered'])}")
    for w in results["warnings"]:
        lines.append(f"  note: {w}")
    if out_dir is not None:
        files = results["files"]
        written = ["results.json", files["predictions"], files.get("samples"), files.get("judge"), files.get("extraction"),
                   files.get("model_index"),
                   *(files.get("plots") or {}).values()]
        lines.append(f"  files in {out_dir}: " + ", ".join(f for f in written if f))
        if files.get("samples"):
            lines.append(f"  per-item table (extracted answer, reference, correct, judge scores): "
                         f"{Path(out_dir) / files['samples']}")
    return "\n".join(lines)
