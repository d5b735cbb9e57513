"""The evaluation step of ``spinemed demo``: the offline baselines over the sample SpineBench."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spinemed.evaluation.baselines import BASELINES
from spinemed.evaluation.plots import plot_comparison
from spinemed.evaluation.runner import EvalConfig, run_eval

__all__ = ["format_eval_demo", "run_eval_demo"]


def run_eval_demo(bench_dir: Path, corpus_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Run the retrieval, random and majority baselines over `bench_dir` with `corpus_dir` as training data.

    Each baseline gets ``out_dir/<name>/`` (predictions.jsonl, results.json, plots/); a
    comparison plot of the three goes to ``out_dir/baselines_mcq.png``.  The demo's
    benchmark is built locally, so it is evaluated even when its content is not registered
    (each results file says whether it is).  Returns a summary: per baseline the scores,
    counts and file paths, plus the benchmark and the comparison plot; :func:`format_eval_demo`
    prints it.
    """
    out = Path(out_dir)
    summary: dict[str, Any] = {"out_dir": str(out), "baselines": {}}
    runs = []
    for name in BASELINES:
        run = run_eval(EvalConfig(bench=bench_dir, model=f"baseline:{name}", out=out / name, corpus=corpus_dir,
                                  allow_unregistered=True, overwrite=True))
        runs.append(run.results)
        r = run.results
        summary["baselines"][name] = {
            "name": r["model"]["name"],
            "scores": r["scores"],
            "counts": r["counts"],
            "ci": (r["ci"] or {}).get("intervals"),
            "answers": r["answers"],
            "report_status": r["report_status"],
            "levels_f1": r["levels"]["f1"],
            "results": str(run.results_path),
            "predictions": str(run.predictions_path),
            "plots": {k: str(v) for k, v in run.plots.items()},
        }
    b = runs[0]["benchmark"]
    summary["benchmark"] = {k: b[k] for k in ("name", "version", "items_hash", "registered", "variant", "items")}
    summary["corpus"] = runs[0]["model"]["details"].get("corpus")
    summary["comparison_plot"] = str(plot_comparison(runs, out / "baselines_mcq.png", title="Offline baselines on SpineBench (MCQ)"))
    return summary


def _fmt(v: float | None) -> str:
    return "  n/a" if v is None else f"{v:5.1f}"


def format_eval_demo(summary: dict[str, Any]) -> str:
    """The demo's evaluation summary as a short table (real numbers from the results files)."""
    b = summary["benchmark"]
    corpus = summary.get("corpus") or {}
    deco = corpus.get("decontamination") or {}
    lines = [
        f"SpineBench {b['version']} ({b['items']} items, {'registered' if b['registered'] else 'unregistered'}"
        f"{', ' + b['variant'] if b.get('variant') else ''}); offline baselines, training text from "
        f"{corpus.get('name', '?')} {corpus.get('version', '')} ({corpus.get('documents_indexed', '?')} rows indexed, "
        f"{deco.get('rows_skipped', '?')} overlapping the bench skipped)",
        f"  {'baseline':<11}{'text MCQ':>9}{'image MCQ':>10}{'closed QA':>10}   95% CI (closed QA)   report (P3)",
    ]
    for name, r in summary["baselines"].items():
        s, ci = r["scores"], (r["ci"] or {}).get("closed_qa")
        band = f"[{ci[0]:5.1f}, {ci[1]:5.1f}]" if ci else "      n/a     "
        report = "not judged" if r["report_status"] == "not_judged" else _fmt(s["report"])
        lines.append(f"  {name:<11}{_fmt(s['text_mcq']):>9}{_fmt(s['image_mcq']):>10}{_fmt(s['closed_qa']):>10}   "
                     f"{band:<20} {report}")
    lines.append(f"  counts: {r['counts']['text_mcq']} text MCQ, {r['counts']['image_mcq']} image MCQ, "
                 f"{r['counts']['report']} reports (reports need a judge endpoint: spinemed eval --judge-model/--judge-url)")
    lines.append(f"  results and plots: {summary['out_dir']}/<baseline>/ ; comparison: {summary['comparison_plot']}")
    return "\n".join(lines)
