"""Throughput and resume of `spinemed eval` against the simulated OpenAI-compatible server.

1. Throughput: a SpineBench with the paper's counts (294 text MCQ, 193 image MCQ with their
   images, 87 reports = 574 items; ``--items N`` scales the three counts to N items in the same
   proportions; rows cycled from the sample corpus) is evaluated through
   ``openai:MODEL@URL`` against the simulated server ``tests/tools/simserver.py`` with a fixed latency
   and a concurrency limit.  Capacity = max_concurrency / latency requests per second; the
   target is >= 90% of it, measured over the generation phase (``run.generation_time_s``:
   requests, cache writes, extraction and predictions lines included; model loading and
   scoring excluded).
2. Resume: ``spinemed eval`` runs in a subprocess and is killed with SIGKILL part-way; the rerun
   must send exactly the requests that had no answer yet (answers received before the kill
   are in the request cache): repeated requests = 0.  Then the same with SIGINT (Ctrl-C),
   which must exit with 130 and resume the same way.

    .venv/bin/python benchmarks/bench_eval.py [--latency 0.2 --max-concurrency 16] [--items 574]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spinemed.evaluation.predictions import read_predictions
from spinemed.evaluation.runner import EvalConfig, run_eval
from spinemed.hub import DatasetFolderWriter, card_metadata, load_manifest, write_manifest
from spinemed.llm.cache import RequestCache
from spinemed.schema import bench_features_for, bench_kind

SIMSERVER = Path(__file__).resolve().parents[1] / "tests" / "tools" / "simserver.py"
sys.path.insert(0, str(SIMSERVER.parent))  # the simulated server is a test tool, not part of the library
from simserver import SimServer  # noqa: E402

PAPER_COUNTS = {"text_mcq": 294, "image_mcq": 193, "report": 87}


def scaled_counts(total: int, counts: dict[str, int] = PAPER_COUNTS) -> dict[str, int]:
    """`counts` scaled to `total` items in the same proportions (largest remainder; each kind >= 1)."""
    if total < len(counts):
        raise ValueError(f"--items must be at least {len(counts)} (one item per kind), got {total}")
    n = sum(counts.values())
    exact = {k: total * c / n for k, c in counts.items()}
    out = {k: max(1, int(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(out.values()) >= total:
            break
        out[k] += 1
    while sum(out.values()) > total:  # the floor of 1 overshot: take from the largest kind
        out[max(out, key=out.get)] -= 1
    return out


def _rows(corpus: Path, config: str) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for shard in load_manifest(corpus)["shards"]:
        if shard["config"] == config:
            rows.extend(pq.read_table(corpus / shard["path"]).to_pylist())
    return rows


def build_bench(corpus: Path, out: Path, counts: dict[str, int]) -> Path:
    """A SpineBench-layout folder with `counts` items per kind, cycling the corpus rows (unique ids and stems)."""
    from huggingface_hub import DatasetCardData

    mcq = _rows(corpus, "mcq")
    pools = {"text_mcq": [r for r in mcq if r["modality"] == "text"], "image_mcq": [r for r in mcq if r["modality"] == "image"],
             "report": _rows(corpus, "report")}
    features = {"mcq": bench_features_for("mcq"), "report": bench_features_for("report")}
    with DatasetFolderWriter(out, features, split="test", default_config="mcq") as writer:
        for kind, n in counts.items():
            pool = pools[kind]
            for i in range(n):
                row = dict(pool[i % len(pool)])
                row["id"] = f"{row['id']}-{i:04d}"
                if kind == "report":
                    row["case"] = f"[case {i}] {row['case']}"
                else:
                    row["question"] = f"[{i}] {row['question']}"
                assert bench_kind(row) == kind
                row.update(kind=kind, bench_version="v1.0.0",
                           verification={"status": "accepted", "group": "g1", "reviewers": ["r01"], "decisions": 1})
                writer.add("report" if kind == "report" else "mcq", row)
    stats = writer.stats()
    meta = card_metadata(pretty_name="SpineBench (benchmark fixture)", stats=stats, extra={"license": "cc-by-4.0"})
    (out / "README.md").write_text(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n", encoding="utf-8")
    write_manifest(out, name="spinebench-bench", version="v1.0.0", versions={"pipeline": "1", "criteria": "v1", "deid": "1"},
                   stats=stats, extra={})
    return out


class SimServerProcess:
    """``python tests/tools/simserver.py`` in its own process, as a real server would be (no GIL shared
    with the client being measured).  ``requests`` is read from its exit line after stop()."""

    def __init__(self, latency: float, max_concurrency: int):
        self.args = [sys.executable, str(SIMSERVER), "--port", "0", "--latency", str(latency),
                     "--max-concurrency", str(max_concurrency)]
        self.requests: int | None = None
        self.peak: int | None = None

    def __enter__(self) -> SimServerProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+/v1)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"simserver did not start: {line!r}")
        self.base_url = match.group(1)
        return self

    def stop(self) -> None:
        if self.requests is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        match = re.search(r"served (\d+) requests \(peak in flight (\d+)", out)
        self.requests, self.peak = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)

    def __exit__(self, *exc) -> None:
        self.stop()


def responder(body: dict) -> str:
    """A model that answers every MCQ with a short reasoning and a letter, and writes short reports."""
    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content if p["type"] == "text")
    if "Options:" in text or "选项：" in text:
        return "The findings fit best with option B.\nAnswer: B"
    return "## Diagnosis\nDisc herniation at L4-L5.\n## Treatment\nPhysiotherapy, then microdiscectomy if it fails."


def throughput(bench: Path, out: Path, latency: float, max_concurrency: int, in_process: bool = False) -> dict:
    """One run through ``openai:sim@URL``; the server runs in its own process unless `in_process`."""
    server_cm = (SimServer(latency_s=latency, max_concurrency=max_concurrency, responder=responder) if in_process
                 else SimServerProcess(latency, max_concurrency))
    with server_cm as server:
        run = run_eval(EvalConfig(bench=bench, model=f"openai:sim@{server.base_url}", out=out, allow_unregistered=True,
                                  concurrency=max_concurrency, plots=False, bootstrap=0, overwrite=True))
    peak = server.in_flight_peak if in_process else server.peak
    r = run.results["run"]
    items = run.results["counts"]["total"]
    capacity = max_concurrency / latency
    rate = items / r["generation_time_s"]
    return {"latency_s": latency, "max_concurrency": max_concurrency, "items": items, "capacity_rps": capacity,
            "generation_s": r["generation_time_s"], "ideal_s": items / capacity, "throughput_rps": rate,
            "fraction": rate / capacity, "server_peak_in_flight": peak, "wall_s": r["wall_time_s"]}


def _cli(bench: Path, out: Path, url: str, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "spinemed.cli", "eval", "--bench", str(bench), "--model", f"openai:sim@{url}",
            "--out", str(out), "--allow-unregistered", "--concurrency", str(concurrency), "--no-plots", "--bootstrap", "0"]


def resume(bench: Path, out: Path, how: str, latency: float, max_concurrency: int, fraction: float = 0.4) -> dict:
    """Interrupt a CLI run with `how` (SIGKILL / SIGINT) after `fraction` of the items, then rerun it."""
    target = int(fraction * sum(load_manifest(bench)["counts"]["configs"].values()))
    preds = out / "predictions.jsonl"
    with SimServerProcess(latency, max_concurrency) as server:
        proc = subprocess.Popen(_cli(bench, out, server.base_url, max_concurrency), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        while proc.poll() is None:
            if preds.is_file() and preds.read_text(encoding="utf-8").count("\n") >= target:
                proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
                break
            time.sleep(0.02)
        rc = proc.wait()
        stderr = proc.stderr.read()
    sent_first = server.requests
    written = len(read_predictions(preds))
    with RequestCache(out / "cache" / "requests.sqlite") as cache:
        answered = len(cache)
    with SimServerProcess(latency, max_concurrency) as server:
        proc2 = subprocess.run(_cli(bench, out, server.base_url, max_concurrency), capture_output=True, text=True)
    sent_resume = server.requests
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    items = results["counts"]["total"]
    return {"signal": how, "exit_code": rc, "interrupt_message": stderr.strip().splitlines()[-1] if stderr.strip() else "",
            "items": items, "lines_written_before_interrupt": written, "answers_in_cache": answered,
            "requests_before_interrupt": sent_first, "requests_on_resume": sent_resume,
            "repeated_requests": sent_resume - (items - answered), "rerun_exit_code": proc2.returncode,
            "resumed_items": results["run"]["resumed_items"], "cache_hits_on_resume": results["run"]["requests"]["cache_hits"]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, action="append", help="server latency in s (repeat; default 0.2 and 0.5)")
    parser.add_argument("--max-concurrency", type=int, action="append", help="server slots (repeat, paired with --latency)")
    parser.add_argument("--corpus", type=Path, help="a built SpineMed-450k folder (default: build the sample)")
    parser.add_argument("--items", type=int, default=sum(PAPER_COUNTS.values()),
                        help="benchmark size, split over the kinds in the paper's proportions (default %(default)s)")
    parser.add_argument("--in-process-server", action="store_true",
                        help="run the simulated server in a thread of this process (shares the GIL with the client)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    latencies = args.latency or [0.2, 0.5]
    slots = args.max_concurrency or [16, 64][: len(latencies)]
    if len(slots) != len(latencies):
        parser.error("give one --max-concurrency per --latency")
    try:
        counts = scaled_counts(args.items)
    except ValueError as exc:
        parser.error(str(exc))

    work = Path(tempfile.mkdtemp(prefix="spinemed-bench-eval-"))
    corpus = args.corpus
    if corpus is None:
        from spinemed.corpus.pipeline import BuildConfig, run_build

        corpus = work / "spinemed-450k"
        run_build(BuildConfig(out=corpus), progress=None)
    bench = build_bench(corpus, work / "spinebench-paper", counts)
    print(f"benchmark: {sum(counts.values())} items ({counts}), {os.cpu_count()} CPU(s)")

    ok = True
    print("\nthroughput (generation phase; capacity = max_concurrency / latency)")
    for latency, c in zip(latencies, slots):
        t = throughput(bench, work / f"run-{latency}-{c}", latency, c, args.in_process_server)
        ok &= t["fraction"] >= 0.9
        print(f"  latency {latency:.3f} s x {c:3d} slots: capacity {t['capacity_rps']:6.1f} req/s, "
              f"{t['items']} items in {t['generation_s']:.2f} s (ideal {t['ideal_s']:.2f} s) -> "
              f"{t['throughput_rps']:6.1f} req/s = {100 * t['fraction']:.1f}% of capacity "
              f"(server peak in flight {t['server_peak_in_flight']})")

    print("\nresume after an interruption (subprocess `spinemed eval`, rerun with the same arguments)")
    for how in ("SIGKILL", "SIGINT"):
        r = resume(bench, work / f"resume-{how}", how, 0.1, 16)
        ok &= r["repeated_requests"] == 0 and r["rerun_exit_code"] == 0
        print(f"  {how}: exit {r['exit_code']}; {r['lines_written_before_interrupt']} lines written, "
              f"{r['answers_in_cache']} answers cached, {r['requests_before_interrupt']} requests sent before; "
              f"rerun sent {r['requests_on_resume']} = {r['items']} - {r['answers_in_cache']} -> "
              f"repeated requests: {r['repeated_requests']}")
        if r["interrupt_message"]:
            print(f"    stderr: {r['interrupt_message'][:160]}")
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
