"""Leaderboard rows: the paper's table (as reported, checked) and results JSON files (rescored).

Every number shown comes from :mod:`spinemed.scoring`: paper rows show the *recomputed*
total next to the published one, with :func:`spinemed.scoring.check_paper_table`'s verdict
(three published totals do not follow from their own components); results rows show the
scorer's payload as written by ``spinemed eval`` or by the Space's own rescoring of a
submission.  Filters, search and sort are plain functions so they are tested without a UI.

The ranking lives here too, not in the page: each row belongs to one benchmark *edition*
(:func:`edition_of`) and :func:`board` ranks only within one, with rank bands where the 95%
intervals overlap (:func:`rank_entries`); rows without a Total or scored on a subset are listed
after the ranked ones with the reason (:func:`unranked_reason`).  :data:`ALL_COLUMNS` defines the
table's columns and their groups for the column picker.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spinemed.evaluation.benchmark import KNOWN_BENCHMARKS
from spinemed.scoring import (
    BENCHMARK_COUNTS,
    DIMENSIONS,
    PAPER_RESULTS,
    PaperResult,
    TotalCheck,
    check_paper_table,
    weighted_total,
)

from .safety import cell_text, md_escape

__all__ = [
    "ACCESS",
    "ALL_COLUMNS",
    "COLUMN_GROUPS",
    "DOMAINS",
    "PAPER_EDITION",
    "PINNED_COLUMNS",
    "PROVENANCE_FIELDS",
    "SIZE_BUCKETS",
    "SORTABLE",
    "SOURCES",
    "TABLE_MAX_HEIGHT",
    "Entry",
    "Ranked",
    "board",
    "board_frame",
    "columns_for",
    "compare_markdown",
    "details_markdown",
    "dimension_chart",
    "edition_of",
    "editions",
    "entries_frame",
    "entry_from_results",
    "filter_entries",
    "paper_entries",
    "rank_entries",
    "size_bucket",
    "styled_frame",
    "unranked_reason",
]

SIZE_BUCKETS = ("≤10B", "10–50B", "50–100B", ">100B", "unknown")
ACCESS = ("open", "closed", "unknown")
DOMAINS = ("medical", "general", "unknown")
SOURCES = ("paper (reported)", "submission (rescored)", "results file", "baseline")
# A flagged consistency check starts with this word (text, not an emoji: it reads the same without an emoji font).
FLAG = "Flag:"
# The paper's table is on the released SpineBench (294 + 193 MCQ, 87 reports); results rows join this
# edition only when their benchmark is a registered full release with exactly these counts.
PAPER_EDITION = f"SpineBench, paper release ({sum(BENCHMARK_COUNTS.values())} items)"
# What a row's provenance may say (the Submit/queue side fills them; the table shows what is there).
PROVENANCE_FIELDS = (
    ("source", "Source"), ("model_id", "Model id"), ("model_revision", "Revision"), ("prompt_version", "Prompt version"),
    ("prompt_hash", "Prompt hash"), ("generation", "Generation"), ("judge_model", "Judge"),
    ("judge_prompt_version", "Judge prompt"), ("benchmark_version", "Benchmark version"), ("bench_items", "Items"),
)
NOT_RECORDED = "not recorded"

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
    # Which benchmark the scores are on (one table per edition, see :func:`edition_of`) and
    # whether every item of it was evaluated: a subset is listed, never ranked.
    edition: str = ""
    complete: bool = True
    items: int | None = None
    # Who/what produced the row: the keys of PROVENANCE_FIELDS, missing ones shown as "not recorded".
    provenance: dict[str, Any] = field(default_factory=dict)

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
            parts.append(f"OK: {name} matches its components")
        else:
            parts.append(f"{FLAG} published {name} {c.reported:.2f} ≠ {c.recomputed:.2f} recomputed")
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
                edition=PAPER_EDITION,
                items=sum(BENCHMARK_COUNTS.values()),
                provenance={"source": "paper", "model_id": row.model, "benchmark_version": "paper",
                            "bench_items": sum(BENCHMARK_COUNTS.values())},
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Results files
# --------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def edition_of(bench: Mapping[str, Any]) -> str:
    """The benchmark edition a results file was scored on: rows are ranked only within one edition.

    A registered full release with the paper's item counts is the paper's edition; any other
    registered build (the demo's sample) is its own edition, and an unregistered build is keyed by
    its items hash, so two different local builds never share a table.
    """
    name, version = str(bench.get("name") or "?"), str(bench.get("version") or "?")
    digest = str(bench.get("items_hash") or "")
    known = next((k for k in KNOWN_BENCHMARKS if (k.name, k.version, k.items_hash) == (name, version, digest)), None)
    if known is None:
        return f"{name} {version}, unregistered build {digest[:8] or '?'}"
    if known.variant == "full" and dict(known.counts) == BENCHMARK_COUNTS:
        return PAPER_EDITION
    kind = "sample build, " if known.variant == "sample" else ""
    return f"{name} {version} ({kind}{sum(known.counts.values())} items)"


def provenance_of(results: Mapping[str, Any]) -> dict[str, Any]:
    """The row's provenance: a results file's own ``provenance`` block when it has one, else what its
    ``model``/``prompt``/``generation``/``judge``/``benchmark`` blocks say.  Placeholders the Space
    writes for an upload that did not say ("external", "unknown", empty settings) count as not recorded."""
    model = results.get("model") if isinstance(results.get("model"), Mapping) else {}
    prompt = results.get("prompt") if isinstance(results.get("prompt"), Mapping) else {}
    judge = results.get("judge") if isinstance(results.get("judge"), Mapping) else {}
    bench = results.get("benchmark") if isinstance(results.get("benchmark"), Mapping) else {}
    derived = {
        "source": "submission" if isinstance(results.get("submission"), Mapping) else "results file",
        "model_id": model.get("id"), "model_revision": model.get("revision"),
        "prompt_version": prompt.get("version"), "prompt_hash": prompt.get("hash"),
        "generation": results.get("generation"), "judge_model": judge.get("judge_model") or judge.get("model"),
        "judge_prompt_version": judge.get("prompt_version"), "benchmark_version": bench.get("version"),
        "bench_items": bench.get("items"),
    }
    given = results.get("provenance") if isinstance(results.get("provenance"), Mapping) else {}
    out = {}
    for key, _ in PROVENANCE_FIELDS:
        value = given.get(key, derived.get(key))
        if value in (None, "", {}, [], "external", "unknown"):
            continue
        out[key] = value
    return out


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
        check = f"OK: rescored by the Space from the submitted predictions (scorer {scoring.get('scorer_version', '?')})"
    else:
        check = f"scored by spinemed eval (scorer {scoring.get('scorer_version', '?')})"
    if not bench.get("complete", True):
        check += f"; {FLAG} not every benchmark item was evaluated"
    if bench.get("variant") == "sample":
        check += f"; {FLAG} sample SpineBench (demo build), not for reporting"
    elif bench.get("registered") is False:
        check += f"; {FLAG} unregistered benchmark build, not comparable"
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
        edition=edition_of(bench),
        complete=bench.get("complete", True) is not False,
        items=bench.get("items") if isinstance(bench.get("items"), int) else None,
        provenance=provenance_of(results),
    )


# --------------------------------------------------------------------------------------
# Ranking: one edition per table, rank bands from the 95% intervals
# --------------------------------------------------------------------------------------


def editions(entries: Sequence[Entry]) -> list[str]:
    """The benchmark editions present, the paper's first, then by number of rows."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.edition] = counts.get(e.edition, 0) + 1
    return sorted(counts, key=lambda ed: (ed != PAPER_EDITION, -counts[ed], ed))


def unranked_reason(e: Entry) -> str:
    """Why a row is listed after the ranked rows ("" when it is ranked)."""
    if not e.complete:
        return f"subset: {e.items} items evaluated, not the whole benchmark" if e.items else "subset of the benchmark"
    if e.scores.get("total") is not None:
        return ""
    if e.source == SOURCES[0]:
        return "closed QA only, as published"
    return {"not_judged": "report not judged", "partially_judged": "report partly judged",
            "no_items": "no report items"}.get(e.report_status, "no total")


def _interval(e: Entry) -> tuple[float, float]:
    total = e.scores["total"]
    iv = e.ci.get("total")
    if isinstance(iv, (list, tuple)) and len(iv) == 2 and all(_num(x) is not None for x in iv) and iv[0] <= total <= iv[1]:
        return float(iv[0]), float(iv[1])
    return total, total  # no interval (the paper's rows): the point itself


@dataclass(frozen=True)
class Ranked:
    """A row as the table shows it: its rank band on its edition, or why it has none."""

    entry: Entry
    best: int | None = None  # 1 + rows whose interval lies wholly above this row's
    worst: int | None = None  # rows whose interval does not lie wholly below this row's
    reason: str = ""

    @property
    def rank_text(self) -> str:
        if self.best is None:
            return "—"
        return str(self.best) if self.best == self.worst else f"{self.best}–{self.worst}"


def rank_entries(entries: Sequence[Entry]) -> dict[int, Ranked]:
    """Rank bands over rows of one edition (keyed by ``id(entry)``).

    As in HealthBench-style reporting, a row is behind another only when the other's 95% interval
    lies wholly above its own; so rows whose intervals overlap share a band ("2–4"), and rows with
    equal totals and no interval tie.  Rows with a reason (:func:`unranked_reason`) get no rank.
    """
    out: dict[int, Ranked] = {}
    ranked = [e for e in entries if not unranked_reason(e)]
    spans = {id(e): _interval(e) for e in ranked}
    for e in ranked:
        lo, hi = spans[id(e)]
        ahead = sum(1 for o in ranked if o is not e and spans[id(o)][0] > hi)
        behind = sum(1 for o in ranked if o is not e and spans[id(o)][1] < lo)
        out[id(e)] = Ranked(e, 1 + ahead, len(ranked) - behind)
    for e in entries:
        if id(e) not in out:
            out[id(e)] = Ranked(e, reason=unranked_reason(e))
    return out


def board(entries: Sequence[Entry], edition: str | None = None, search: str = "", sizes: Iterable[str] | None = None,
          access: Iterable[str] | None = None, domains: Iterable[str] | None = None, sources: Iterable[str] | None = None,
          sort_by: str = "Total", descending: bool = True) -> list[Ranked]:
    """The rows of one edition (default: the first of :func:`editions`) as the table lists them.

    Ranks are computed over the whole edition before filtering, so a filter never promotes a row.
    Sorted by Total, the ranked rows come first and the unranked ones after them (by closed QA,
    their reason beside them); sorted by another column, every row of the edition is in that order.
    """
    choices = editions(entries)
    edition = edition if edition in choices else (choices[0] if choices else None)
    same = [e for e in entries if e.edition == edition]
    ranks = rank_entries(same)
    rows = [ranks[id(e)] for e in filter_entries(same, search, sizes, access, domains, sources, sort_by, descending)]
    if sort_by != "Total":
        return rows
    unranked = [r for r in rows if r.reason]
    unranked.sort(key=lambda r: -1.0 if r.entry.scores.get("closed_qa") is None else r.entry.scores["closed_qa"],
                  reverse=True)
    return [r for r in rows if not r.reason] + unranked


# --------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------


def _round(v: float | None, scale: float = 1.0) -> float | None:
    return None if v is None else round(v * scale, 2)


def _ci_text(iv: Any) -> str:
    if isinstance(iv, (list, tuple)) and len(iv) == 2 and all(_num(x) is not None for x in iv):
        return f"{iv[0]:.1f}–{iv[1]:.1f}"
    return ""


# A Hub repo id: the Model cell links to its page.  Anything else is shown as escaped text.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


# Markdown punctuation that can make emphasis, links, code, HTML or tables inside one table cell, plus ":" and "@",
# which GFM's autolinks need (a bare "http://x" or "a@b.org" would become a link); "-", "." and "+" only matter at a
# line's start (lists), which cell_text already defuses, so names keep them unescaped.
_MD_INLINE = re.compile(r"([\\`*_{}\[\]()#!|~>:@])")


def model_cell(name: str) -> str:
    """The Model cell (Markdown): a link to the Hub page for a Hub id, literal text otherwise."""
    text = _MD_INLINE.sub(r"\\\1", html.escape(cell_text(name, 80), quote=False))
    text = re.sub(r"^(\d+)\.", r"\1\\.", text)  # "1. x" would be an ordered list
    text = re.sub(r"(?i)\b(www)\.", r"\1\\.", text)  # "www.x.org" would be an autolink
    plain = cell_text(name, 80)
    if _HUB_ID.match(plain) and ".." not in plain:
        return f"[{text}](https://huggingface.co/{plain})"
    return text


def _provenance_text(e: Entry, key: str) -> str:
    value = e.provenance.get(key)
    if value is None:
        return NOT_RECORDED
    if isinstance(value, Mapping):
        value = ", ".join(f"{k}={v}" for k, v in value.items()) or NOT_RECORDED
    return cell_text(value, 80)


@dataclass(frozen=True)
class Column:
    header: str
    datatype: str  # gr.Dataframe datatype
    width: int  # px
    group: str  # one of COLUMN_GROUPS, or "" for the columns always shown
    value: Any  # Ranked -> cell


def _score(key: str):
    return lambda r: _round(r.entry.scores.get(key))


def _dimension(d: str):
    return lambda r: _round(r.entry.dimensions.get(d))


def _provenance(key: str):
    return lambda r: _provenance_text(r.entry, key)


def _dim_header(d: str) -> str:
    return d.replace("_", " ").capitalize()


# Column groups for the column picker; "Summary" is shown by default.  Rank, Model and Total are
# always shown first and stay pinned when the table scrolls sideways.
COLUMN_GROUPS = ("Summary", "Per kind", "Report dimensions", "Levels", "CIs", "Provenance")
DEFAULT_GROUPS = ("Summary",)
ALL_COLUMNS: tuple[Column, ...] = (
    Column("Rank", "str", 64, "", lambda r: r.rank_text),
    Column("Model", "markdown", 210, "", lambda r: model_cell(r.entry.model)),
    Column("Total", "number", 76, "", _score("total")),
    Column("Total 95% CI", "str", 100, "Summary", lambda r: _ci_text(r.entry.ci.get("total"))),
    Column("Not ranked because", "str", 160, "Summary", lambda r: r.reason),
    Column("Closed QA", "number", 84, "Summary", _score("closed_qa")),
    Column("Report (P3)", "number", 84, "Summary", _score("report")),
    Column("Consistency check", "str", 254, "Summary", lambda r: cell_text(r.entry.check_text, 160)),
    Column("Type", "str", 120, "Summary", lambda r: r.entry.source),
    Column("Size", "str", 64, "Summary", lambda r: cell_text(r.entry.size, 12)),
    Column("Text MCQ (P1)", "number", 84, "Per kind", _score("text_mcq")),
    Column("Image MCQ (P2)", "number", 90, "Per kind", _score("image_mcq")),
    Column("Published total", "number", 96, "Per kind", lambda r: _round(r.entry.published_total)),
    Column("Unanswered", "number", 100, "Per kind", lambda r: r.entry.unanswered),
    *(Column(_dim_header(d), "number", 120, "Report dimensions",
             _dimension(d)) for d in DIMENSIONS),
    Column("Level F1", "number", 76, "Levels", lambda r: _round(r.entry.levels.get("f1"), 100)),
    Column("Level precision", "number", 96, "Levels", lambda r: _round(r.entry.levels.get("precision"), 100)),
    Column("Level recall", "number", 84, "Levels", lambda r: _round(r.entry.levels.get("recall"), 100)),
    Column("P1 95% CI", "str", 100, "CIs", lambda r: _ci_text(r.entry.ci.get("text_mcq"))),
    Column("P2 95% CI", "str", 100, "CIs", lambda r: _ci_text(r.entry.ci.get("image_mcq"))),
    Column("P3 95% CI", "str", 100, "CIs", lambda r: _ci_text(r.entry.ci.get("report"))),
    *(Column(label, "str", 200 if key in ("generation", "model_id") else 130, "Provenance",
             _provenance(key)) for key, label in PROVENANCE_FIELDS),
    Column("Access", "str", 80, "Provenance", lambda r: r.entry.access),
    Column("Domain", "str", 86, "Provenance", lambda r: r.entry.domain),
    Column("Report status", "str", 120, "Provenance", lambda r: cell_text(r.entry.report_status, 40)),
    Column("Date", "str", 100, "Provenance", lambda r: cell_text(r.entry.date, 20)),
)
PINNED_COLUMNS = 3  # Rank, Model, Total
SORTABLE = ("Total", "Closed QA", "Report (P3)", "Text MCQ (P1)", "Image MCQ (P2)", "Published total", "Level F1",
            "Level precision", "Level recall", "Unanswered", "Model", "Size")
_SCORE_COLUMNS = {"Total": "total", "Text MCQ (P1)": "text_mcq", "Image MCQ (P2)": "image_mcq",
                  "Closed QA": "closed_qa", "Report (P3)": "report"}
# The table grows with its rows up to this height before it scrolls inside the page.
TABLE_MAX_HEIGHT = 1600


def columns_for(groups: Iterable[str] | None = None) -> list[Column]:
    """The always-shown columns plus those of the chosen groups (None: :data:`DEFAULT_GROUPS`)."""
    chosen = set(DEFAULT_GROUPS if groups is None else groups)
    unknown = chosen - set(COLUMN_GROUPS)
    if unknown:
        raise ValueError(f"column groups: {', '.join(sorted(unknown))} unknown; choose from {', '.join(COLUMN_GROUPS)}")
    return [c for c in ALL_COLUMNS if not c.group or c.group in chosen]


def board_frame(rows: Sequence[Ranked], groups: Iterable[str] | None = None):
    """A pandas DataFrame of `rows` with the columns of `groups`; missing numbers are None (empty cells)."""
    import pandas as pd

    cols = columns_for(groups)
    frame = pd.DataFrame([[c.value(r) for c in cols] for r in rows], columns=[c.header for c in cols])
    # object dtype keeps None as None (not NaN) so the browser shows an empty cell.
    return frame.astype(object).where(frame.notna(), None)


def styled_frame(rows: Sequence[Ranked], groups: Iterable[str] | None = None):
    """:func:`board_frame` for display: two decimals, empty cells for missing numbers, flagged
    consistency checks in amber.  The numbers underneath stay numbers (sorting works)."""
    frame = board_frame(rows, groups)
    numeric = [c.header for c in columns_for(groups) if c.datatype == "number" and c.header != "Unanswered"]

    def flag(value: Any) -> str:
        return "color: #b45309; font-weight: 600" if isinstance(value, str) and FLAG in value else ""

    styler = frame.style.format(precision=2, na_rep="", subset=numeric)
    if "Unanswered" in frame.columns:
        styler = styler.format(precision=0, na_rep="", subset=["Unanswered"])
    if "Consistency check" in frame.columns:
        styler = styler.map(flag, subset=["Consistency check"])
    return styler


def entries_frame(entries: Sequence[Entry], groups: Iterable[str] | None = COLUMN_GROUPS):
    """Every column (default) for `entries`, ranked among themselves (tests, exports)."""
    ranks = rank_entries(entries)
    return board_frame([ranks[id(e)] for e in entries], groups)


def _sort_value(e: Entry, column: str) -> Any:
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
    """Rows matching every filter, sorted by `sort_by`; rows without a value (no Total: reports not
    judged, closed QA only) come last, never counted as 0.

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


def details_markdown(r: Ranked) -> str:
    """One row's details view: its rank (or why none), edition, consistency check and every provenance field."""
    e = r.entry
    lines = [f"#### {md_escape(cell_text(e.model, 80), None)}",
             f"- **Rank**: {r.rank_text}" + (f" (not ranked: {md_escape(r.reason)})" if r.reason else ""),
             f"- **Benchmark edition**: {md_escape(e.edition)}",
             f"- **Check**: {md_escape(e.check_text, 400)}"]
    for key, label in PROVENANCE_FIELDS:
        lines.append(f"- **{label}**: {md_escape(_provenance_text(e, key), 200)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------------------

CHART_PARTS = (("Text MCQ", "text_mcq"), ("Image MCQ", "image_mcq"), ("Closed QA", "closed_qa"),
               ("Report", "report"), ("Total", "total"))


def dimension_chart(entries: Sequence[Entry]):
    """Grouped bars per score part (0-100) and, below them when judged, per report dimension (1-5).

    Returns a matplotlib Figure (Agg, no display needed).  The panels are stacked, not side by side,
    and the fonts sized so the figure still reads when a phone scales it to its width; parts a model
    has no score for are left empty and named in the legend, never drawn as 0.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    entries = list(entries)
    has_dims = [e for e in entries if any(v is not None for v in e.dimensions.values())]
    nrows = 2 if has_dims else 1
    with plt.rc_context({"font.size": 11}):
        fig, axes = plt.subplots(nrows, 1, figsize=(7.0, 4.6 + 5.4 * (nrows - 1)), squeeze=False, constrained_layout=True,
                                 gridspec_kw={"height_ratios": [4.6, 5.4][:nrows]})
        ax = axes[0][0]
        if not entries:
            ax.text(0.5, 0.5, "Select models in the picker to compare them", ha="center", va="center", fontsize=13)
            ax.set_axis_off()
            return fig
        # One colour per model in both panels (the dimension panel skips models without judged reports).
        palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        color = {id(e): palette[i % len(palette)] for i, e in enumerate(entries)}
        x = np.arange(len(CHART_PARTS))
        width = 0.8 / len(entries)
        for i, e in enumerate(entries):
            values = [e.scores.get(k) for _, k in CHART_PARTS]
            missing = [name for (name, _), v in zip(CHART_PARTS, values) if v is None]
            label = cell_text(e.model, 40) + (f" (no {', '.join(missing)})" if missing else "")
            heights = [np.nan if v is None else v for v in values]
            bars = ax.bar(x + (i - (len(entries) - 1) / 2) * width, heights, width, label=label, color=color[id(e)])
            for rect, v in zip(bars, values):
                if v is not None and len(entries) <= 3:
                    ax.annotate(f"{v:.0f}", (rect.get_x() + rect.get_width() / 2, v), ha="center", va="bottom",
                                fontsize=9, xytext=(0, 1), textcoords="offset points")
        ax.set_xticks(x, [name for name, _ in CHART_PARTS])
        ax.set_ylim(0, 108)
        ax.set_ylabel("score (%)")
        ax.set_title("SpineBench scores")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1, frameon=False)
        if has_dims:
            ax2 = axes[1][0]
            y = np.arange(len(DIMENSIONS))
            height = 0.8 / len(has_dims)
            for i, e in enumerate(has_dims):
                vals = [np.nan if e.dimensions.get(d) is None else e.dimensions[d] for d in DIMENSIONS]
                ax2.barh(y + (i - (len(has_dims) - 1) / 2) * height, vals, height, label=cell_text(e.model, 40),
                         color=color[id(e)])
            ax2.set_yticks(y, [_dim_header(d) for d in DIMENSIONS])
            ax2.invert_yaxis()
            ax2.set_xlim(1, 5)
            ax2.set_xlabel("judge score (1-5, mean over reports)")
            ax2.set_title("Report dimensions")
            ax2.grid(axis="x", alpha=0.3)
            ax2.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False)
    return fig


def compare_markdown(entries: Sequence[Entry]) -> str:
    """The chart's numbers as a compact Markdown table (what a phone shows instead of the figure):
    one column per model, rows for the score parts and, when judged, the ten report dimensions."""
    entries = list(entries)
    if not entries:
        return "Select models in the picker to compare them."
    names = [md_escape(cell_text(e.model, 24), None) for e in entries]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(entries)]

    def fmt(v: float | None, digits: int) -> str:
        return "—" if v is None else f"{v:.{digits}f}"

    for name, key in CHART_PARTS:
        lines.append(f"| {name} (%) | " + " | ".join(fmt(e.scores.get(key), 1) for e in entries) + " |")
    if any(v is not None for e in entries for v in e.dimensions.values()):
        for d in DIMENSIONS:
            lines.append(f"| {_dim_header(d)} (1-5) | " + " | ".join(fmt(e.dimensions.get(d), 2) for e in entries) + " |")
    return "\n".join(lines)
