"""PNG plots of a results JSON: report dimensions, accuracy by sub-field, accuracy by modality.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state, no display
needed), only from numbers already in the results: nothing here computes a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from spinemed.schema import SUBFIELDS, subfield_group

__all__ = ["make_plots", "plot_accuracy_by_modality", "plot_accuracy_by_subfield", "plot_comparison", "plot_report_dimensions"]

_SECTION_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")
_GROUP_COLORS = {"spinal": "#4C72B0", "orthopedic": "#DD8452", "": "#8C8C8C"}
_LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
_DPI = 150


def _subtitle(results: Mapping[str, Any]) -> str:
    b = results["benchmark"]
    tags = []
    if not b["registered"]:
        tags.append("unregistered benchmark")
    if b.get("variant") == "sample":
        tags.append("sample benchmark")
    if not b["complete"]:
        tags.append("subset")
    return f"{results['model']['name']} - {b['name']} {b['version']}" + (f" ({', '.join(tags)})" if tags else "")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight", facecolor="white")
    return path


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#444444",
            bbox={"boxstyle": "round,pad=0.8", "facecolor": "#F2F2F2", "edgecolor": "#BBBBBB"})


def plot_report_dimensions(results: Mapping[str, Any], path: Path) -> Path:
    """Mean judge score (1-5) per dimension, coloured by section; says so when reports were not judged."""
    report = results["report"]
    sections: dict[str, list[str]] = results["scoring"]["sections"]
    dims = [d for dims in sections.values() for d in dims]
    fig = Figure(figsize=(8, 0.42 * len(dims) + 1.8))
    ax = fig.add_subplot()
    y = list(range(len(dims)))[::-1]
    ax.set_yticks(y, [d.replace("_", " ") for d in dims])
    ax.set_ylim(-0.7, len(dims) - 0.3)
    ax.set_xlim(1, 5)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel("mean judge score (1-5)")
    ax.grid(axis="x", alpha=0.3)
    status = results["report_status"]
    if status in ("judged", "partially_judged") and report.get("judged"):
        color_of = {}
        for i, (name, members) in enumerate(sections.items()):
            p = report["sections"].get(name)
            label = f"{name.replace('_', ' ')} ({p:.1f})" if p is not None else name
            for d in members:
                color_of[d] = (_SECTION_COLORS[i % len(_SECTION_COLORS)], label)
        seen = set()
        for yi, d in zip(y, dims):
            v = report["dimensions"][d]
            color, label = color_of[d]
            ax.barh(yi, (v or 1) - 1, left=1, color=color, label=None if label in seen else label)
            seen.add(label)
            if v is not None:
                ax.text(v + 0.04, yi, f"{v:.2f}", va="center", fontsize=9)
        ax.set_xlim(1, 5.35)  # room for the value of a 5
        ax.legend(title="section (score 0-100)", loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8,
                  title_fontsize=8, frameon=False)
        judge = (results.get("judge") or {}).get("judge_model") or "judge"
        p3 = results["scores"]["report"]
        ax.set_title(f"Report scores by dimension: P3 = {p3:.2f} ({report['judged']} of {results['counts']['report']} "
                     f"judged by {judge})\n{_subtitle(results)}", fontsize=10)
    else:
        if status == "no_items":
            text = "No report items in this run"
        elif report.get("floor_scored"):
            p3 = results["scores"]["report"]
            text = (f"No report was judged ({results['counts']['report']} report items)\n"
                    f"{report['floor_scored']} with a missing or empty output are scored at the floor"
                    + (f" (P3 = {p3:.2f})" if p3 is not None else "")
                    + "\nthe judge-score means are not shown: there are none")
        else:
            text = (f"Reports not judged ({results['counts']['report']} report items)\n"
                    "no judge endpoint was configured (--judge-model / --judge-url)\n"
                    "P3 is not computed: this is not a score of 0")
        _message(ax, text)
        ax.set_title(f"Report scores by dimension\n{_subtitle(results)}", fontsize=10)
    return _save(fig, path)


def plot_accuracy_by_subfield(results: Mapping[str, Any], path: Path) -> Path:
    """Closed-QA accuracy per sub-field (bars labelled with n), spinal and orthopedic coloured apart."""
    groups = {k: v for k, v in (results["breakdowns"].get("subfield") or {}).items() if v["counts"]["closed_qa"]}
    rows = sorted(groups.items(), key=lambda kv: (-kv[1]["scores"]["closed_qa"], kv[0]))
    fig = Figure(figsize=(9, 0.38 * max(len(rows), 3) + 1.6))
    ax = fig.add_subplot()
    ax.set_xlim(0, 108)
    ax.set_xlabel("closed-QA accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    if not rows:
        _message(ax, "No MCQ items in this run")
    else:
        y = list(range(len(rows)))[::-1]
        labels, seen = [], set()
        for yi, (slug, block) in zip(y, rows):
            acc, n = block["scores"]["closed_qa"], block["counts"]["closed_qa"]
            try:
                group = subfield_group(slug)
            except KeyError:
                group = ""
            ax.barh(yi, acc, color=_GROUP_COLORS[group], label=None if group in seen else (group or "other"))
            seen.add(group)
            ax.text(acc + 1, yi, f"{acc:.0f}", va="center", fontsize=8)
            labels.append(f"{SUBFIELDS.get(slug, (slug,))[0]} (n={n})")
        ax.set_yticks(y, labels, fontsize=8)
        overall = results["scores"]["closed_qa"]
        if overall is not None:
            ax.axvline(overall, color="#333333", linestyle="--", linewidth=1, label=f"all MCQ ({overall:.1f})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"Accuracy by sub-field\n{_subtitle(results)}", fontsize=10)
    return _save(fig, path)


def plot_accuracy_by_modality(results: Mapping[str, Any], path: Path) -> Path:
    """Text vs image MCQ accuracy (and closed QA), overall with its CI, and per language."""
    import numpy as np

    kinds = [k for k in ("text_mcq", "image_mcq", "closed_qa") if results["counts"][k]]
    names = {"text_mcq": "text MCQ (P1)", "image_mcq": "image MCQ (P2)", "closed_qa": "all MCQ"}
    langs = sorted(results["breakdowns"].get("language") or {})
    series = [("all languages", results["scores"], results["counts"])]
    series += [(_LANGUAGE_NAMES.get(lang, lang), b["scores"], b["counts"])
               for lang, b in results["breakdowns"]["language"].items()] if len(langs) > 1 else []
    fig = Figure(figsize=(8, 4.8))
    ax = fig.add_subplot()
    ax.set_ylim(0, 115)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    if not kinds:
        _message(ax, "No MCQ items in this run")
    else:
        x = np.arange(len(kinds))
        width = 0.8 / len(series)
        ci = ((results.get("ci") or {}).get("intervals")) or {}
        colors = ("#4C72B0", "#55A868", "#C44E52", "#8172B3")
        for i, (label, scores, counts) in enumerate(series):
            vals = [scores[k] if scores[k] is not None else 0.0 for k in kinds]
            pos = x - 0.4 + width * (i + 0.5)
            lows = highs = vals
            if i == 0 and ci:  # the interval is for the whole benchmark, not per language
                lows = [min(v, (ci.get(k) or [v, v])[0]) for k, v in zip(kinds, vals)]
                highs = [max(v, (ci.get(k) or [v, v])[1]) for k, v in zip(kinds, vals)]
                err = np.array([[v - lo for v, lo in zip(vals, lows)], [hi - v for v, hi in zip(vals, highs)]])
                ax.bar(pos, vals, width, color=colors[i % len(colors)], label=label, yerr=err, capsize=3)
            else:
                ax.bar(pos, vals, width, color=colors[i % len(colors)], label=label)
            for p, k, v, top in zip(pos, kinds, vals, highs):
                if counts[k]:
                    ax.text(p, top + 1.5, f"{v:.1f}\nn={counts[k]}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, [names[k] for k in kinds])
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=len(series), frameon=False)
        if ci:
            ax.text(1.0, -0.2, f"error bars: {int(results['ci']['confidence'] * 100)}% bootstrap interval (all languages)",
                    transform=ax.transAxes, ha="right", fontsize=7, color="#555555")
    ax.set_title(f"Accuracy by modality and language\n{_subtitle(results)}", fontsize=10)
    return _save(fig, path)


def plot_comparison(runs: Sequence[Mapping[str, Any]], path: Path, title: str = "SpineBench MCQ accuracy") -> Path:
    """Several results side by side: P1, P2 and closed QA with their intervals (e.g. the baselines)."""
    import numpy as np

    kinds = [k for k in ("text_mcq", "image_mcq", "closed_qa") if any(r["counts"][k] for r in runs)]
    names = {"text_mcq": "text MCQ (P1)", "image_mcq": "image MCQ (P2)", "closed_qa": "all MCQ"}
    fig = Figure(figsize=(8.5, 4.8))
    ax = fig.add_subplot()
    ax.set_ylim(0, 115)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    x = np.arange(len(kinds))
    width = 0.8 / max(len(runs), 1)
    for i, r in enumerate(runs):
        vals = [r["scores"][k] or 0.0 for k in kinds]
        iv = ((r.get("ci") or {}).get("intervals")) or {}
        lows = [min(v, (iv.get(k) or [v, v])[0]) for k, v in zip(kinds, vals)]
        highs = [max(v, (iv.get(k) or [v, v])[1]) for k, v in zip(kinds, vals)]
        err = np.array([[v - lo for v, lo in zip(vals, lows)], [hi - v for v, hi in zip(vals, highs)]]) if iv else None
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, vals, width, label=r["model"]["name"], yerr=err, capsize=3 if err is not None else 0,
               color=_SECTION_COLORS[i % len(_SECTION_COLORS)])
        for p, v, top in zip(pos, vals, highs):
            ax.text(p, top + 1.5, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [names[k] for k in kinds])
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=min(len(runs), 3), frameon=False)
    b = runs[0]["benchmark"] if runs else {"name": "", "version": ""}
    n = runs[0]["counts"] if runs else {}
    ax.set_title(f"{title}\n{b['name']} {b['version']}: {n.get('text_mcq', 0)} text + {n.get('image_mcq', 0)} image MCQ; "
                 "error bars: 95% bootstrap interval", fontsize=10)
    return _save(fig, path)


def make_plots(results: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """All per-run plots into `out_dir`; returns name -> path."""
    out = Path(out_dir)
    return {
        "report_dimensions": plot_report_dimensions(results, out / "report_dimensions.png"),
        "accuracy_by_subfield": plot_accuracy_by_subfield(results, out / "accuracy_by_subfield.png"),
        "accuracy_by_modality": plot_accuracy_by_modality(results, out / "accuracy_by_modality.png"),
    }
