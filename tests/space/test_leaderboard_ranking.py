"""The leaderboard's ranking rules (spinemed.space.leaderboard): one benchmark edition per table,
rank bands from the 95% intervals, unranked rows after the ranked ones with their reason, provenance."""

from __future__ import annotations

import pytest

from spinemed.evaluation.benchmark import KNOWN_BENCHMARKS, KnownBenchmark
from spinemed.scoring import BENCHMARK_COUNTS, DIMENSIONS
from spinemed.space import leaderboard as lb

# a registered sample build (`spinemed demo`'s SpineBench), whatever its current hash
SAMPLE_HASH = next(k.items_hash for k in KNOWN_BENCHMARKS if k.variant == "sample")


def _entry(model, total, ci=None, *, edition=lb.PAPER_EDITION, complete=True, closed_qa=80.0, status="judged", **kw):
    return lb.Entry(key=model, model=model, source=lb.SOURCES[2], scores={"total": total, "closed_qa": closed_qa},
                    ci={"total": ci}, edition=edition, complete=complete, items=kw.pop("items", None),
                    report_status=status, **kw)


def _results(name="org/m", *, items_hash=SAMPLE_HASH, version="v1.0.0", complete=True, items=30, **extra):
    return {
        "model": {"id": name, "name": name, "revision": extra.pop("revision", None), "details": {}},
        "benchmark": {"name": "spinebench", "version": version, "items_hash": items_hash, "complete": complete,
                      "items": items, "registered": True, "variant": "sample"},
        "scores": {"text_mcq": 90.0, "image_mcq": 80.0, "closed_qa": 88.0, "report": None, "total": None},
        "report_status": "not_judged",
        **extra,
    }


def _ranks(rows):
    return {r.entry.model: r.rank_text for r in rows}


def test_overlapping_intervals_share_a_rank_band_and_disjoint_ones_do_not():
    rows = [_entry("a", 90.0, [88.0, 92.0]), _entry("b", 89.0, [87.0, 91.0]), _entry("c", 80.0, [78.0, 82.0]),
            _entry("d", 70.0, [60.0, 85.0])]
    ranks = _ranks(lb.board(rows))
    # a and b overlap: either may be first.  c lies wholly below both; d overlaps c only.
    assert ranks == {"a": "1–2", "b": "1–2", "c": "3–4", "d": "3–4"}
    assert [r.entry.model for r in lb.board(rows)] == ["a", "b", "c", "d"]  # still listed by Total


def test_equal_totals_without_intervals_tie_and_distinct_ones_do_not():
    rows = [_entry("x", 85.0), _entry("y", 85.0), _entry("z", 70.0)]
    assert _ranks(lb.board(rows)) == {"x": "1–2", "y": "1–2", "z": "3"}
    # The paper's table has no intervals: its eight totals are eight distinct ranks.
    paper = lb.board(lb.paper_entries())
    assert [r.rank_text for r in paper[:8]] == [str(i) for i in range(1, 9)]


def test_rows_without_a_total_follow_the_ranked_rows_with_their_reason():
    rows = [_entry("unjudged", None, closed_qa=99.0, status="not_judged"), _entry("judged", 60.0),
            _entry("subset", 95.0, [90.0, 99.0], complete=False, items=12), _entry("partly", None, status="partially_judged")]
    board = lb.board(rows)
    assert [r.entry.model for r in board][0] == "judged"  # 60 with a total beats 99 closed QA without one
    reasons = {r.entry.model: r.reason for r in board}
    assert reasons == {"judged": "", "unjudged": "report not judged", "partly": "report partly judged",
                       "subset": "subset: 12 items evaluated, not the whole benchmark"}
    assert _ranks(board) == {"judged": "1", "unjudged": "—", "partly": "—", "subset": "—"}
    paper = {r.entry.model: r for r in lb.board(lb.paper_entries())}
    assert paper["GPT-4o"].reason == paper["Claude4"].reason == "closed QA only, as published"
    assert [r.entry.model for r in lb.board(lb.paper_entries())][-2:] == ["GPT-4o", "Claude4"]  # by closed QA


def test_one_edition_per_table_and_filters_never_change_a_rank():
    sample = "spinebench v1.0.0 (sample build, 30 items)"
    rows = [*lb.paper_entries(), _entry("on-sample", 99.9, edition=sample), _entry("sample-2", 50.0, edition=sample)]
    assert lb.editions(rows) == [lb.PAPER_EDITION, sample]
    default = [r.entry.model for r in lb.board(rows)]
    assert "on-sample" not in default and len(default) == 10
    assert [r.entry.model for r in lb.board(rows, sample)] == ["on-sample", "sample-2"]
    assert lb.board(rows, "no such edition") == lb.board(rows)  # falls back to the first edition
    medical = lb.board(rows, search="medical")
    assert {r.entry.model: r.rank_text for r in medical} == {"SpineGPT": "2", "Medgemma-27B": "6"}
    # Sorted by another column, every row of the edition takes part in that order; ranks stay.
    by_closed = lb.board(rows, sort_by="Closed QA")
    assert by_closed[0].entry.model == "Gemini-2.5-Pro" and by_closed[0].rank_text == "1"


def test_edition_of_results(monkeypatch):
    assert lb.edition_of(_results()["benchmark"]) == "spinebench v1.0.0 (sample build, 30 items)"
    other = lb.edition_of(_results(items_hash="ab" * 32)["benchmark"])
    assert other == "spinebench v1.0.0, unregistered build abababab"
    # A registered full release with the paper's counts is the paper's edition; with other counts it is its own.
    full = KnownBenchmark("spinebench", "v2.0.0", "f" * 64, dict(BENCHMARK_COUNTS), variant="full")
    bigger = KnownBenchmark("spinebench", "v3.0.0", "e" * 64, {"text_mcq": 300, "image_mcq": 200, "report": 100})
    monkeypatch.setattr(lb, "KNOWN_BENCHMARKS", (full, bigger))
    assert lb.edition_of({"name": "spinebench", "version": "v2.0.0", "items_hash": "f" * 64}) == lb.PAPER_EDITION
    assert lb.edition_of({"name": "spinebench", "version": "v3.0.0", "items_hash": "e" * 64}) == "spinebench v3.0.0 (600 items)"
    e = lb.entry_from_results(_results(items_hash="f" * 64, version="v2.0.0", items=574), "r.json")
    assert e.edition == lb.PAPER_EDITION and e.complete


def test_subset_results_are_listed_not_ranked():
    e = lb.entry_from_results(_results(complete=False, items=7, scores={"total": 91.0, "closed_qa": 90.0}), "r.json")
    assert not e.complete and lb.unranked_reason(e) == "subset: 7 items evaluated, not the whole benchmark"


def test_provenance_from_the_results_file_and_its_own_block():
    plain = lb.entry_from_results(_results(prompt={"version": "external", "hash": "unknown"}, generation={}), "a.json")
    assert plain.provenance == {"source": "results file", "model_id": "org/m", "benchmark_version": "v1.0.0",
                                "bench_items": 30}
    full = lb.entry_from_results(_results(
        revision="abc123", prompt={"version": "v1", "hash": "9f" * 32},
        generation={"temperature": 0.0, "max_new_tokens": 1024}, judge={"judge_model": "qwen-judge", "prompt_version": "v1"},
        provenance={"source": "queue", "model_revision": "def456"}), "b.json")
    assert full.provenance["source"] == "queue" and full.provenance["model_revision"] == "def456"
    assert full.provenance["judge_model"] == "qwen-judge" and full.provenance["prompt_hash"] == "9f" * 32
    frame = lb.board_frame(lb.board([plain, full], plain.edition), ["Provenance"])
    assert sorted(frame["Prompt hash"]) == sorted(["not recorded", "9f" * 32])
    details = lb.details_markdown(lb.board([full], full.edition)[0])
    assert "**Generation**: temperature=0\\.0, max\\_new\\_tokens=1024" in details and "**Judge prompt**: v1" in details
    details = lb.details_markdown(lb.board([plain], plain.edition)[0])
    assert details.count("not recorded") == 6 and "report not judged" in details


def test_model_cell_links_hub_ids_and_keeps_everything_else_literal():
    assert lb.model_cell("org/SpineLM-7B") == "[org/SpineLM-7B](https://huggingface.co/org/SpineLM-7B)"
    assert lb.model_cell("Gemini-2.5-Pro") == "Gemini-2.5-Pro"
    hostile = lb.model_cell("<img src=x onerror=alert(1)> [x](http://evil.invalid) **b**")
    assert "<" not in hostile and "](" not in hostile and "**" not in hostile
    # No bare URL or address is left for GFM to autolink.
    assert "http://" not in hostile and "http\\://evil" in hostile
    assert lb.model_cell("www.evil.org a@b.org") == "www\\.evil.org a\\@b.org"
    assert lb.model_cell("a/../b").startswith("a/") and "](" not in lb.model_cell("a/../b")


def test_column_groups_and_the_compact_comparison():
    rows = lb.board(lb.paper_entries())
    assert list(lb.board_frame(rows).columns) == ["Rank", "Model", "Total", "Total 95% CI", "Not ranked because", "Closed QA",
                                                  "Report (P3)", "Consistency check", "Type", "Size"]
    dims = lb.board_frame(rows, ["Report dimensions"])
    assert list(dims.columns)[3:] == [d.replace("_", " ").capitalize() for d in DIMENSIONS]
    judged = lb.Entry(key="k", model="judged", source=lb.SOURCES[2], scores={"total": 70.0},
                      dimensions={d: 4.0 for d in DIMENSIONS})
    table = lb.compare_markdown([lb.paper_entries()[0], judged])
    assert table.count("\n") == 1 + 5 + len(DIMENSIONS) and "| Diagnosis (1-5) | — | 4.00 |" in table
    assert "Diagnosis" not in lb.compare_markdown(lb.paper_entries()[:2])
    with pytest.raises(ValueError, match="sortable"):
        lb.board(lb.paper_entries(), sort_by="Rank")


def test_dimension_panel_keeps_each_models_colour():
    paper = lb.paper_entries()[0]  # no judged reports: in the score panel only
    judged = [lb.Entry(key=m, model=m, source=lb.SOURCES[1], scores={"total": 70.0}, dimensions={d: 3.0 for d in DIMENSIONS})
              for m in ("org/a", "org/b")]
    fig = lb.dimension_chart([paper, *judged])
    parts = len(lb.CHART_PARTS)
    scores, dims = fig.axes[0].patches, fig.axes[1].patches
    assert len(dims) == 2 * len(DIMENSIONS)
    for i in range(2):  # bars are drawn model by model
        assert scores[(i + 1) * parts].get_facecolor() == dims[i * len(DIMENSIONS)].get_facecolor()
    assert scores[0].get_facecolor() != dims[0].get_facecolor()
