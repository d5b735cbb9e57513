"""Leaderboard rows: the paper's table (as reported, checked) and results JSON files (rescored).

Every number shown comes from :mod:`spinemed.scoring`: paper rows show the *recomputed*
total next to the published one, with :func:`spinemed.scoring.check_paper_table`'s verdict
(three published totals do not follow from their own components); results rows show the
scorer's payload as written by ``spinemed eval`` or by the Space's own rescoring of a
submission.  Filters, search and sort are plain functions so they are tested without a UI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spinemed.scoring import (
    BENCHMARK_COUNTS,
    DIMENSIONS,
    PAPER_RESULTS,
    PaperResult,
    TotalCheck,
    check_paper_table,
    weighted_total,
)

from .safety import cell_text

__all__ = [
    "ACCESS",
    "COLUMNS",
    "DOMAINS",
    "SIZE_BUCKETS",
    "PINNED_COLUMNS",
    "TABLE_MAX_HEIGHT",
    "SORTABLE",
    "SOURCES",
    "Entry",
    "dimension_chart",
    "entries_frame",
    "entry_from_results",
    "filter_entries",
    "paper_entries",
    "size_bucket",
]

SIZE_BUCKETS = ("≤10B", "10–50B", "50–100B", ">100B", "unknown")
ACCESS = ("open", "closed", "unknown")
DOMAINS = ("medical", "general", "unknown")
SOURCES = ("paper (reported)", "submission (rescored)", "results file", "baseline")

# What the paper (and public model cards) say about each paper model: open weights or API
# only, medical or general-purpose.  Sizes are the paper's own column.
_PAPER_META = {
    "Gemini-2.5-Pro": ("closed", "general"),
    "GPT5-mini": ("closed", "general"),
    "GPT5": ("closed", "general"),
    "GLM-4.5V": ("open", "general"),
    "Qwen2.5-VL-72B": ("open", "general"),
    "Medgemma-27B": ("open", "medical"),
    "Qwen2.5-VL-7B": ("open", "general"),
    "SpineGPT": ("open", "medical"),
    "Claude4": ("closed", "general"),
    "GPT-4o": ("closed", "general"),
}

# (header, datatype) in display order.  Scores are percentages; level scores are shown x100.
# The scores and the consistency check come right after the model name, so at a 1280 px wide
# window they are all on screen without scrolling sideways; descriptive columns follow.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Model", "str"),
    ("Total", "number"),
    ("Text MCQ (P1)", "number"),
    ("Image MCQ (P2)", "number"),
    ("Closed QA", "number"),
    ("Report (P3)", "number"),
    ("Published total", "number"),
    ("Consistency check", "str"),
    ("Type", "str"),
    ("Size", "str"),
    ("Access", "str"),
    ("Domain", "str"),
    ("Level F1", "number"),
    ("Level precision", "number"),
    ("Level recall", "number"),
    ("Total 95% CI", "str"),
    ("P1 95% CI", "str"),
    ("P2 95% CI", "str"),
    ("P3 95% CI", "str"),
    ("Unanswered", "number"),
    ("Report status", "str"),
    ("Benchmark", "str"),
    ("Date", "str"),
)
HEADERS = tuple(c for c, _ in COLUMNS)
DATATYPES = tuple(t for _, t in COLUMNS)
SORTABLE = tuple(c for c, t in COLUMNS if t == "number") + ("Model", "Size")
_SCORE_COLUMNS = {"Total": "total", "Text MCQ (P1)": "text_mcq", "Image MCQ (P2)": "image_mcq",
                  "Closed QA": "closed_qa", "Report (P3)": "report"}


@dataclass
class Entry:
    """One leaderboard row, before formatting."""

    key: str  # unique: "paper:<model>" or the results file's relative path
    model: str
    source: str  # one of SOURCES
    size: str = "—"
    params_b: float | None = None
    access: str = "unknown"
    domain: str = "unknown"
    scores: dict[str, float | None] = field(default_factory=dict)
    ci: dict[str, list[float] | None] = field(default_factory=dict)
    levels: dict[str, float | None] = field(default_factory=dict)
    dimensions: dict[str, float | None] = field(default_factory=dict)  # judge means, 1-5
    unanswered: int | None = None
    published_total: float | None = None
    checks: list[TotalCheck] = field(default_factory=list)
    check_text: str = ""
    report_status: str = ""
    benchmark: str = ""
    date: str = ""

    @property
    def label(self) -> str:
        """Unique, readable name for the chart's model picker."""
        return f"{self.model} [{self.source}]"


# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------

_SIZE_RE = re.compile(r"^\s*([<>≤≥]?)\s*(\d+(?:\.\d+)?)\s*([BM])\s*$", re.IGNORECASE)


def parse_params(size: Any) -> float | None:
    """Billions of parameters from "7B", ">100B", "350M", 7, "7" (None when unknown)."""
    if size is None or isinstance(size, bool):
        return None
    if isinstance(size, (int, float)):
        return float(size) if math.isfinite(size) and size > 0 else None
    m = _SIZE_RE.match(str(size))
    if not m:
        try:
            value = float(str(size).strip())
        except ValueError:
            return None
        return value if math.isfinite(value) and value > 0 else None
    value = float(m.group(2)) / (1000.0 if m.group(3).upper() == "M" else 1.0)
    return value + 1e-9 if m.group(1) in (">", "≥") else value  # ">100B" lands in ">100B"


def size_bucket(params_b: float | None) -> str:
    if params_b is None:
        return "unknown"
    if params_b <= 10:
        return "≤10B"
    if params_b <= 50:
        return "10–50B"
    if params_b <= 100:
        return "50–100B"
    return ">100B"


# --------------------------------------------------------------------------------------
# Paper rows
# --------------------------------------------------------------------------------------


def _check_text(checks: Sequence[TotalCheck], has_report: bool) -> str:
    parts = []
    for c in checks:
        name = "total" if c.quantity == "total" else "closed QA"
        if c.consistent:
            parts.append(f"✓ {name} matches its components")
        else:
            parts.append(f"⚠ published {name} {c.reported:.2f} ≠ {c.recomputed:.2f} recomputed")
    if not has_report:
        parts.append("closed QA only (no report score published)")
    return "; ".join(parts)


def paper_entries(rows: Iterable[PaperResult] = PAPER_RESULTS) -> list[Entry]:
    """The paper's table as leaderboard rows: components as reported, total recomputed.

    The total column is the count-weighted total over the benchmark's N_k (closed QA counts
    487, reports 87); the published total stays visible next to it with the check's verdict.
    """
    rows = list(rows)
    checks = check_paper_table(rows)
    n_closed = BENCHMARK_COUNTS["text_mcq"] + BENCHMARK_COUNTS["image_mcq"]
    out = []
    for row in rows:
        mine = [c for c in checks if c.label == row.model]
        total = None
        if row.report is not None:
            total = weighted_total({"closed_qa": row.closed_qa, "report": row.report},
                                   {"closed_qa": n_closed, "report": BENCHMARK_COUNTS["report"]})
        access, domain = _PAPER_META.get(row.model, ("unknown", "unknown"))
        params = parse_params(row.size)
        out.append(
            Entry(
                key=f"paper:{row.model}",
                model=row.model,
                source=SOURCES[0],
                size=row.size if row.size and row.size != "-" else "—",
                params_b=params,
                access=access,
                domain=domain,
                scores={"text_mcq": row.text_mcq, "image_mcq": row.image_mcq, "closed_qa": row.closed_qa,
                        "report": row.report, "total": total},
                published_total=row.total,
                checks=mine,
                check_text=_check_text(mine, row.report is not None),
                report_status="reported" if row.report is not None else "not reported",
                benchmark="SpineBench (paper: 294+193 MCQ, 87 reports)",
                date="paper",
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Results files
# --------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def entry_from_results(results: Mapping[str, Any], key: str) -> Entry:
    """A row from a results JSON (schema of :mod:`spinemed.evaluation.results`, already validated)."""
    model = results.get("model") or {}
    details = model.get("details") if isinstance(model.get("details"), Mapping) else {}
    submission = results.get("submission") if isinstance(results.get("submission"), Mapping) else {}
    if model.get("baseline"):
        source = SOURCES[3]
    elif submission:
        source = SOURCES[1]
    else:
        source = SOURCES[2]
    params = parse_params(details.get("params_b", details.get("size")))
    intervals = ((results.get("ci") or {}).get("intervals")) or {}
    levels = results.get("levels") or {}
    answers = results.get("answers") or {}
    unanswered = sum(int(a.get(s, 0)) for a in answers.values() if isinstance(a, Mapping)
                     for s in ("refused", "empty", "unparsed", "missing"))
    bench = results.get("benchmark") or {}
    scoring = results.get("scoring") or {}
    if submission:
        check = f"✓ rescored by the Space from the submitted predictions (scorer {scoring.get('scorer_version', '?')})"
    else:
        check = f"scored by spinemed eval (scorer {scoring.get('scorer_version', '?')})"
    if not bench.get("complete", True):
        check += "; ⚠ not every benchmark item was evaluated"
    if bench.get("variant") == "sample":
        check += "; ⚠ sample SpineBench (demo build), not for reporting"
    elif bench.get("registered") is False:
        check += "; ⚠ unregistered benchmark build, not comparable"
    report = results.get("report") or {}
    return Entry(
        key=key,
        model=str(model.get("name") or model.get("id") or "?"),
        source=source,
        size=(f"{params:g}B" if params is not None else "—"),
        params_b=params,
        access=str(details.get("access") or "unknown") if details.get("access") in ACCESS else "unknown",
        domain=str(details.get("domain") or "unknown") if details.get("domain") in DOMAINS else "unknown",
        scores={k: _num((results.get("scores") or {}).get(k)) for k in ("text_mcq", "image_mcq", "closed_qa", "report", "total")},
        ci={k: intervals.get(k) for k in ("text_mcq", "image_mcq", "report", "total")},
        levels={k: _num(levels.get(k)) for k in ("f1", "precision", "recall")},
        dimensions={d: _num((report.get("dimensions") or {}).get(d)) for d in DIMENSIONS},
        unanswered=unanswered,
        check_text=check,
        report_status=str(results.get("report_status") or ""),
        benchmark=f"{bench.get('name', '?')} {bench.get('version', '?')}",
        date=str((results.get("run") or {}).get("date") or "")[:10],
    )


# --------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------


def _round(v: float | None, scale: float = 1.0) -> float | None:
    return None if v is None else round(v * scale, 2)


def _ci_text(iv: Any) -> str:
    if isinstance(iv, (list, tuple)) and len(iv) == 2 and all(_num(x) is not None for x in iv):
        return f"{iv[0]:.1f}–{iv[1]:.1f}"
    return ""


def _cells(e: Entry) -> list[Any]:
    s = e.scores
    cells = {
        "Model": cell_text(e.model, 80),
        "Type": e.source,
        "Size": cell_text(e.size, 12),
        "Access": e.access,
        "Domain": e.domain,
        "Total": _round(s.get("total")),
        "Text MCQ (P1)": _round(s.get("text_mcq")),
        "Image MCQ (P2)": _round(s.get("image_mcq")),
        "Closed QA": _round(s.get("closed_qa")),
        "Report (P3)": _round(s.get("report")),
        "Published total": _round(e.published_total),
        "Consistency check": cell_text(e.check_text, 160),
        "Level F1": _round(e.levels.get("f1"), 100),
        "Level precision": _round(e.levels.get("precision"), 100),
        "Level recall": _round(e.levels.get("recall"), 100),
        "Total 95% CI": _ci_text(e.ci.get("total")),
        "P1 95% CI": _ci_text(e.ci.get("text_mcq")),
        "P2 95% CI": _ci_text(e.ci.get("image_mcq")),
        "P3 95% CI": _ci_text(e.ci.get("report")),
        "Unanswered": e.unanswered,
        "Report status": cell_text(e.report_status, 40),
        "Benchmark": cell_text(e.benchmark, 60),
        "Date": cell_text(e.date, 20),
    }
    return [cells[h] for h in HEADERS]


def entries_frame(entries: Sequence[Entry]):
    """A pandas DataFrame with :data:`HEADERS`; missing numbers are None (shown empty)."""
    import pandas as pd

    frame = pd.DataFrame([_cells(e) for e in entries], columns=list(HEADERS))
    # object dtype keeps None as None (not NaN) so the browser shows an empty cell.
    return frame.astype(object).where(frame.notna(), None)


# Pixel widths on the page.  Model ... Consistency check add up to 1,000 px: inside the 1,216 px a
# 1280 px window leaves the table.  The first PINNED_COLUMNS (Model, Total) stay put when scrolling sideways.
_WIDTHS = {
    "Model": "210px", "Total": "72px", "Text MCQ (P1)": "80px", "Image MCQ (P2)": "80px", "Closed QA": "76px",
    "Report (P3)": "76px", "Published total": "96px", "Consistency check": "310px", "Type": "150px", "Size": "64px",
    "Access": "76px", "Domain": "86px", "Level F1": "76px", "Level precision": "90px", "Level recall": "80px",
    "Total 95% CI": "106px", "P1 95% CI": "100px", "P2 95% CI": "100px", "P3 95% CI": "100px", "Unanswered": "100px",
    "Report status": "110px", "Benchmark": "220px", "Date": "100px",
}
COLUMN_WIDTHS = tuple(_WIDTHS[h] for h in HEADERS)
PINNED_COLUMNS = 2
# The table grows with its rows up to this height (about 25 wrapped rows) before it scrolls inside
# the page; the paper's ten rows plus a few submissions never need the inner scroll bar.
TABLE_MAX_HEIGHT = 1600


def styled_frame(entries: Sequence[Entry]):
    """:func:`entries_frame` for display: two decimals, empty cells for missing numbers, and the
    consistency flags highlighted.  The numbers underneath stay numbers (sorting works)."""
    frame = entries_frame(entries)
    numeric = [c for c, t in COLUMNS if t == "number" and c != "Unanswered"]

    def flag(value: Any) -> str:
        return "color: #b45309; font-weight: 600" if isinstance(value, str) and "⚠" in value else ""

    return (frame.style.format(precision=2, na_rep="", subset=numeric)
            .format(precision=0, na_rep="", subset=["Unanswered"])
            .map(flag, subset=["Consistency check"]))


def _sort_value(e: Entry, column: str) -> Any:
    if column == "Total" and e.scores.get("total") is None:
        # No total (reports not judged, or none published): rank by closed QA rather than below every
        # judged row, where unjudged submissions would all end up at the bottom of the page.
        return e.scores.get("closed_qa")
    if column in _SCORE_COLUMNS:
        return e.scores.get(_SCORE_COLUMNS[column])
    return {
        "Model": e.model.casefold(),
        "Size": e.params_b,
        "Level F1": e.levels.get("f1"),
        "Level precision": e.levels.get("precision"),
        "Level recall": e.levels.get("recall"),
        "Unanswered": e.unanswered,
        "Published total": e.published_total,
    }.get(column)


def filter_entries(
    entries: Sequence[Entry],
    search: str = "",
    sizes: Iterable[str] | None = None,
    access: Iterable[str] | None = None,
    domains: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    sort_by: str = "Total",
    descending: bool = True,
) -> list[Entry]:
    """Rows matching every filter, sorted by `sort_by` (rows without a value last).

    Sorting by "Total" ranks a row without a total (its reports were not judged, or the paper
    published no report score) by its closed-QA score instead; its Total cell stays empty.

    `search`: every whitespace-separated term must occur (case-insensitive) in the model name,
    type, access or domain.  A filter given as None keeps everything; an empty list keeps
    nothing (as in the page, where unticking every box empties the table).
    """
    if sort_by not in SORTABLE:
        raise ValueError(f"sort_by: {sort_by!r} is not a sortable column; choose one of {', '.join(SORTABLE)}")
    terms = (search or "").casefold().split()
    sizes, access, domains, sources = (None if x is None else set(x) for x in (sizes, access, domains, sources))
    kept = []
    for e in entries:
        if sizes is not None and size_bucket(e.params_b) not in sizes:
            continue
        if access is not None and e.access not in access:
            continue
        if domains is not None and e.domain not in domains:
            continue
        if sources is not None and e.source not in sources:
            continue
        hay = f"{e.model} {e.source} {e.access} {e.domain}".casefold()
        if any(t not in hay for t in terms):
            continue
        kept.append(e)
    present = [e for e in kept if _sort_value(e, sort_by) is not None]
    absent = [e for e in kept if _sort_value(e, sort_by) is None]
    present.sort(key=lambda e: _sort_value(e, sort_by), reverse=descending)
    return present + absent


# --------------------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------------------

CHART_PARTS = (("Text MCQ", "text_mcq"), ("Image MCQ", "image_mcq"), ("Closed QA", "closed_qa"),
               ("Report", "report"), ("Total", "total"))


def dimension_chart(entries: Sequence[Entry]):
    """Grouped bars per score part (0-100) and, where judged, per report dimension (1-5).

    Returns a matplotlib Figure (Agg, no display needed); parts a model has no score for are
    left empty and listed in the legend label, never drawn as 0.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    entries = list(entries)
    has_dims = [e for e in entries if any(v is not None for v in e.dimensions.values())]
    ncols = 2 if has_dims else 1
    fig, axes = plt.subplots(1, ncols, figsize=(7.5 * ncols, 4.8), squeeze=False, constrained_layout=True)
    ax = axes[0][0]
    if not entries:
        ax.text(0.5, 0.5, "Select models in the picker to compare them", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        return fig
    x = np.arange(len(CHART_PARTS))
    width = 0.8 / len(entries)
    for i, e in enumerate(entries):
        values = [e.scores.get(k) for _, k in CHART_PARTS]
        missing = [name for (name, _), v in zip(CHART_PARTS, values) if v is None]
        label = cell_text(e.model, 40) + (f" (no {', '.join(missing)})" if missing else "")
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (i - (len(entries) - 1) / 2) * width, heights, width, label=label)
        for rect, v in zip(bars, values):
            if v is not None and len(entries) <= 4:
                ax.annotate(f"{v:.1f}", (rect.get_x() + rect.get_width() / 2, v), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 1), textcoords="offset points")
    ax.set_xticks(x, [name for name, _ in CHART_PARTS])
    ax.set_ylim(0, 105)
    ax.set_ylabel("score (%)")
    ax.set_title("SpineBench scores")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(2, len(entries)), frameon=False)
    if has_dims:
        ax2 = axes[0][1]
        y = np.arange(len(DIMENSIONS))
        height = 0.8 / len(has_dims)
        for i, e in enumerate(has_dims):
            vals = [np.nan if e.dimensions.get(d) is None else e.dimensions[d] for d in DIMENSIONS]
            ax2.barh(y + (i - (len(has_dims) - 1) / 2) * height, vals, height, label=cell_text(e.model, 40))
        ax2.set_yticks(y, [d.replace("_", " ") for d in DIMENSIONS])
        ax2.invert_yaxis()
        ax2.set_xlim(1, 5)
        ax2.set_xlabel("judge score (1-5, mean over reports)")
        ax2.set_title("Report dimensions")
        ax2.grid(axis="x", alpha=0.3)
        ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(2, len(has_dims)), frameon=False)
    return fig
