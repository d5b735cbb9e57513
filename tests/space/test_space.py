"""Unit tests of the Space's functions: leaderboard, submissions, store, explorer, chat, CLI, push."""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_fixtures import FakeHubApi, prediction_lines, run_meta, sample_dirs, write_jsonl  # noqa: E402

from spinemed.evaluation.results import validate_results  # noqa: E402
from spinemed.llm.base import LLMError  # noqa: E402
from spinemed.llm.openai_compat import httpx  # noqa: E402  (the shared client's httpx: httpx2 when installed)
from spinemed.models.spec import ModelSpec, parse_model_spec  # noqa: E402
from spinemed.scoring import DIMENSIONS, score_predictions  # noqa: E402
from spinemed.space import leaderboard as lb  # noqa: E402
from spinemed.space.bench import SpaceBench  # noqa: E402
from spinemed.space.chat import (  # noqa: E402
    CHAT_KINDS,
    MAX_IMAGES,
    ChatInputError,
    NotConfiguredBackend,
    OpenAIChatBackend,
    Turn,
    build_chat_backend,
    turns_from_gradio,
)
from spinemed.space.config import JUDGE_KINDS, Judge, SpaceConfig  # noqa: E402
from spinemed.space.safety import cell_text, md_escape, validate_model_name  # noqa: E402
from spinemed.space.store import ResultsStore  # noqa: E402
from spinemed.space.submissions import (  # noqa: E402
    SubmissionLimits,
    SubmissionMeta,
    SubmissionRejected,
    parse_predictions,
    predictions_digest,
    rescore,
    validate_meta,
)
from spinemed.text import detect_language  # noqa: E402

META = SubmissionMeta("my-org/SpineLM-7B", 7.0, "open", "medical")


@pytest.fixture(scope="module")
def bench() -> SpaceBench:
    return SpaceBench.load(sample_dirs()[1], allow_unregistered=True)


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _state(tmp_path, bench, **kw):
    from spinemed.space.app import SpaceState

    cfg = SpaceConfig(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", bootstrap=200)
    return SpaceState(cfg, bench=bench, store=kw.pop("store", None) or ResultsStore(cfg.results_dir), **kw)


# --------------------------------------------------------------------------------------
# Escaping
# --------------------------------------------------------------------------------------


def test_cell_text_removes_invisible_characters_bounds_length_and_defuses_formulas():
    assert cell_text("GPT\u202e-4o\u200b\nmini\x00") == "GPT-4o mini"
    assert cell_text("x" * 200, 10) == "x" * 9 + "…"
    assert cell_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell_text(None) == ""


def test_md_escape_renders_html_links_and_emphasis_literally():
    out = md_escape("<img src=x onerror=alert(1)> [click](http://evil) **bold** # h")
    assert "<" not in out and ">" not in out
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in out
    assert "\\[click\\]\\(http://evil\\)" in out
    assert "\\*\\*bold\\*\\*" in out and "\\# h" in out
    assert md_escape("it's \"fine\"") == "it's \"fine\""  # quotes are plain text


@pytest.mark.parametrize("name", ["my-org/SpineLM-7B (v2)", "脊柱模型-7B", "Qwen2.5-VL 7B @ step:300 [lora]"])
def test_model_name_accepts_ordinary_names(name):
    assert validate_model_name(f"  {name} ") == name


@pytest.mark.parametrize("name", ["", "   ", "<b>x</b>", "=cmd()", "a\u200bb", "**x**", "x" * 81, None, 7])
def test_model_name_rejects_markup_formulas_and_invisible_characters(name):
    with pytest.raises(ValueError, match="model name"):
        validate_model_name(name)


# --------------------------------------------------------------------------------------
# Leaderboard
# --------------------------------------------------------------------------------------


def test_paper_rows_recompute_totals_and_flag_the_three_inconsistent_ones():
    entries = {e.model: e for e in lb.paper_entries()}
    assert len(entries) == 10 and all(e.source == "paper (reported)" for e in entries.values())
    flagged = {m for m, e in entries.items() if any(not c.consistent for c in e.checks)}
    assert flagged == {"Medgemma-27B", "Qwen2.5-VL-7B", "SpineGPT"}
    assert round(entries["Medgemma-27B"].scores["total"], 2) == 80.49
    assert round(entries["Qwen2.5-VL-7B"].scores["total"], 2) == 71.85
    assert round(entries["SpineGPT"].scores["total"], 2) == 87.79
    assert entries["SpineGPT"].published_total == 87.44
    assert "87.44 ≠ 87.79" in entries["SpineGPT"].check_text
    assert round(entries["Gemini-2.5-Pro"].scores["total"], 2) == 89.23 and entries["Gemini-2.5-Pro"].check_text.startswith("OK:")
    # GPT5 publishes the text/image split: its closed QA is checked too.
    assert [c.quantity for c in entries["GPT5"].checks] == ["total", "closed_qa"]
    assert entries["Claude4"].scores["total"] is None and "closed QA only" in entries["Claude4"].check_text
    assert (entries["Medgemma-27B"].access, entries["Medgemma-27B"].domain) == ("open", "medical")
    assert (entries["GPT5"].access, entries["GPT5"].domain) == ("closed", "general")


def test_size_parsing_and_buckets():
    assert lb.parse_params("7B") == 7.0 and lb.parse_params("350M") == 0.35 and lb.parse_params(13) == 13.0
    assert lb.parse_params("-") is None and lb.parse_params(None) is None and lb.parse_params(float("nan")) is None
    assert lb.size_bucket(lb.parse_params(">100B")) == ">100B"
    assert [lb.size_bucket(x) for x in (7, 21, 72, None)] == ["≤10B", "10–50B", "50–100B", "unknown"]


def test_filters_search_and_sort():
    entries = lb.paper_entries()

    def models(**kw):
        return [e.model for e in lb.filter_entries(entries, **kw)]

    assert models(search="qwen") == ["Qwen2.5-VL-72B", "Qwen2.5-VL-7B"]
    assert models(search="QWEN open") == ["Qwen2.5-VL-72B", "Qwen2.5-VL-7B"]
    assert models(sizes=["≤10B"]) == ["SpineGPT", "Qwen2.5-VL-7B"]
    assert models(domains=["medical"]) == ["SpineGPT", "Medgemma-27B"]
    assert set(models(access=["closed"])) == {"Gemini-2.5-Pro", "GPT5-mini", "GPT5", "Claude4", "GPT-4o"}
    assert models(access=[]) == []  # every box unticked: nothing, as in the page
    ranked = models()
    assert ranked[:3] == ["Gemini-2.5-Pro", "SpineGPT", "GPT5-mini"]
    # No total (no report score published): after every row with one, never counted as 0.
    assert ranked[:8] == ["Gemini-2.5-Pro", "SpineGPT", "GPT5-mini", "GPT5", "GLM-4.5V", "Medgemma-27B",
                          "Qwen2.5-VL-72B", "Qwen2.5-VL-7B"] and set(ranked[8:]) == {"GPT-4o", "Claude4"}
    assert models(descending=False)[:2] == ["Qwen2.5-VL-7B", "Qwen2.5-VL-72B"]
    unjudged = lb.Entry(key="s", model="unjudged", source=lb.SOURCES[1], scores={"closed_qa": 86.0, "total": None})
    nothing = lb.Entry(key="n", model="no scores", source=lb.SOURCES[2], scores={})
    ranked = [e.model for e in lb.filter_entries([nothing, *entries, unjudged])]
    assert ranked[:8] == models()[:8] and set(ranked[8:]) == {"unjudged", "no scores", "GPT-4o", "Claude4"}
    assert lb.entries_frame([unjudged])["Total"][0] is None  # the cell stays empty
    assert models(sort_by="Report (P3)", descending=False)[:2] == ["Qwen2.5-VL-7B", "Qwen2.5-VL-72B"]
    assert models(sort_by="Model", descending=False)[0] == "Claude4"
    with pytest.raises(ValueError, match="sortable"):
        lb.filter_entries(entries, sort_by="Consistency check")


def test_frame_has_every_score_column_and_empty_cells_for_missing_numbers():
    frame = lb.entries_frame(lb.paper_entries())
    for col in ("Text MCQ (P1)", "Image MCQ (P2)", "Report (P3)", "Total", "Level F1", "Total 95% CI", "Published total",
                "Consistency check", "Diagnosis", "Prompt hash"):
        assert col in frame.columns
    row = frame[frame["Model"] == "Claude4"].iloc[0]
    assert row["Total"] is None and row["Closed QA"] == 79.67 and row["Rank"] == "—"
    assert row["Not ranked because"] == "closed QA only, as published"
    # Rank, Model and Total lead every column choice (they are the pinned ones); the summary fits a 1280 px window.
    for groups in (None, ["Levels"], [], lb.COLUMN_GROUPS):
        assert [c.header for c in lb.columns_for(groups)][:lb.PINNED_COLUMNS] == ["Rank", "Model", "Total"]
    assert sum(c.width for c in lb.columns_for(None)) <= 1216
    assert {c.group for c in lb.ALL_COLUMNS} == {"", *lb.COLUMN_GROUPS}
    with pytest.raises(ValueError, match="unknown"):
        lb.columns_for(["Everything"])


def test_chart_has_bars_per_model_and_a_dimension_panel_only_when_judged(bench):
    entries = lb.paper_entries()[:2]
    fig = lb.dimension_chart(entries)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 5 * 2
    judged = lb.Entry(key="k", model="judged", source="results file", scores={"total": 70.0},
                      dimensions={d: 4.0 for d in DIMENSIONS})
    fig = lb.dimension_chart([entries[0], judged])
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) == len(DIMENSIONS)
    empty = lb.dimension_chart([])
    assert "Select models" in empty.axes[0].texts[0].get_text()


# --------------------------------------------------------------------------------------
# Submissions
# --------------------------------------------------------------------------------------


def test_valid_predictions_are_rescored_with_the_scorer_ignoring_claims(bench):
    rows = prediction_lines(bench)
    first_mcq = next(r for r in rows if r["kind"] == "text_mcq")
    item = bench.by_id[first_mcq["id"]]
    wrong = next(o["label"] for o in item["options"] if o["label"] != item["answer"])
    first_mcq.update(output=f"Answer: {wrong}", extracted=item["answer"], status="answered")  # a false claim
    parsed = parse_predictions(_jsonl(reversed(rows)), bench)
    assert [r["id"] for r in parsed] == bench.ids  # benchmark order whatever the file order

    results = rescore(bench, parsed, META, bootstrap=100, submission_id="sub-1")
    assert validate_results(results) == []
    expected = score_predictions(bench.items, [r["output"] for r in parsed], bootstrap=100)
    assert results["scores"] == expected["scores"]
    n_text = bench.bench.counts["text_mcq"]
    assert results["scores"]["text_mcq"] == pytest.approx(100.0 * (n_text - 1) / n_text)
    assert results["scores"]["image_mcq"] == 100.0
    assert results["report_status"] == "not_judged" and results["scores"]["total"] is None
    assert results["levels"]["f1"] == 1.0  # reports copied the reference: every level named
    assert results["model"]["backend"] == "external" and results["model"]["details"]["domain"] == "medical"
    assert results["submission"]["predictions_sha256"] == predictions_digest(parsed)
    assert results["ci"]["intervals"]["text_mcq"] is not None


def _problems(data: bytes, bench, limits: SubmissionLimits | None = None) -> list[str]:
    limits = limits or SubmissionLimits()
    with pytest.raises(SubmissionRejected) as info:
        parse_predictions(data, bench, limits)
    return info.value.problems


def test_malformed_uploads_are_rejected_with_the_reason(bench):
    rows = prediction_lines(bench)
    good = _jsonl(rows)
    assert "file is empty" in _problems(b"\n\n", bench)[0]
    assert "NUL" in _problems(b"\x00" + good, bench)[0]
    assert "not UTF-8" in _problems(b"\xff\xfe{}", bench)[0]
    assert "limit" in _problems(good, bench, SubmissionLimits(max_bytes=100))[0]
    assert "longer than" in _problems(good, bench, SubmissionLimits(max_line_bytes=60))[0]

    def one_bad(line: str) -> list[str]:
        return _problems(_jsonl(rows[1:]) + line.encode() + b"\n", bench)

    assert any("line" in p and "not a JSON object" in p for p in one_bad("{not json"))
    assert any("expected a JSON object" in p for p in one_bad("[1, 2]"))
    assert any("NaN is not valid JSON" in p for p in one_bad(json.dumps(rows[0])[:-1] + ', "latency_s": NaN}'))
    assert any("not a JSON object" in p for p in one_bad("[" * 100_000 + "]" * 100_000))  # too deep
    assert any("'output' must be a string" in p for p in one_bad(json.dumps({**rows[0], "output": 3})))
    assert any("is a text_mcq item" in p for p in one_bad(json.dumps({**rows[0], "kind": "report"})))
    problems = one_bad(json.dumps({**rows[0], "id": "<img src=x>"}))
    assert any("is not an item of" in p for p in problems) and any("have no prediction" in p for p in problems)
    assert any("appears again (first on line 1)" in p for p in _problems(_jsonl(rows + rows[:1]), bench))
    missing = _problems(_jsonl(rows[:-3]), bench)
    assert missing == [f"3 of {len(bench)} benchmark items have no prediction (e.g. {', '.join(repr(r['id']) for r in rows[-3:])}); "
                       f"submit a complete run over {bench.label}"]
    long_output = {**rows[0], "output": "x" * 50}
    assert any("characters; the limit" in p for p in _problems(_jsonl([long_output, *rows[1:]]), bench, SubmissionLimits(max_output_chars=40)))


def test_rejection_message_is_escaped_and_bounded(bench):
    rows = prediction_lines(bench)
    bad = _jsonl(rows) + b"".join(json.dumps({**rows[0], "id": f"<script>{i}</script>"}).encode() + b"\n" for i in range(30))
    with pytest.raises(SubmissionRejected) as info:
        parse_predictions(bad, bench)
    md = info.value.markdown()
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "nothing was stored" in md and "… and 18 more" in md


def test_form_fields_are_validated():
    assert validate_meta("org/m", "", "closed", "general") == SubmissionMeta("org/m", None, "closed", "general")
    assert validate_meta("org/m", 13, "open", "medical").params_b == 13.0
    assert validate_meta("org/m", 0, "open", "medical").params_b is None  # the page's empty number field
    with pytest.raises(SubmissionRejected) as info:
        validate_meta("<b>", "big", "leaked", "vet")
    assert len(info.value.problems) == 4


# --------------------------------------------------------------------------------------
# Store and the app's submit handler
# --------------------------------------------------------------------------------------


def test_submission_persists_and_survives_a_restart(tmp_path, bench):
    state = _state(tmp_path, bench)
    path = write_jsonl(tmp_path / "predictions.jsonl", prediction_lines(bench))
    message = state.submit(str(path), "my-org/SpineLM-7B", 7, "open", "medical", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert message.startswith("### Accepted") and "100.00" in message
    stored = list((tmp_path / "results" / "submissions").iterdir())
    assert len(stored) == 1 and sorted(p.name for p in stored[0].iterdir()) == ["predictions.jsonl", "results.json"]
    assert validate_results(json.loads((stored[0] / "results.json").read_text())) == []

    again = state.submit(str(path), "someone-else", None, "closed", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "identical predictions were already submitted" in again

    restarted = _state(tmp_path, bench)  # a new process over the same folder
    frame = restarted.table(search="spinelm", edition=restarted.served_edition, groups=["Summary", "Per kind"])
    assert list(frame["Model"]) == ["[my-org/SpineLM-7B](https://huggingface.co/my-org/SpineLM-7B)"]
    assert list(frame["Type"]) == ["submission (rescored)"] and frame.iloc[0]["Text MCQ (P1)"] == 100.0
    assert restarted.table(search="spinelm").empty  # the fixture bench is not the paper's: another table


def test_rejected_upload_stores_nothing(tmp_path, bench):
    state = _state(tmp_path, bench)
    rows = prediction_lines(bench)
    for name, data in [("dup.jsonl", _jsonl(rows + rows[:1])), ("bin.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00"),
                       ("short.jsonl", _jsonl(rows[:2]))]:
        (tmp_path / name).write_bytes(data)
        assert ": nothing was stored" in state.submit(str(tmp_path / name), "m", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "model name" in state.submit(str(tmp_path / "dup.jsonl"), "<i>x</i>", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "no file uploaded" in state.submit(None, "m", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert list((tmp_path / "results" / "submissions").iterdir()) == []
    assert len(state.table()) == 10  # paper rows only


def test_store_lists_invalid_results_files_and_ignores_other_json(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "predictions.meta.json").write_text('{"format": "spinebench-predictions/1"}')
    (root / "broken.json").write_text('{"kind": "spinebench-results", "schema_version": "1.0"}')
    store = ResultsStore(root)
    found, problems = store.load()
    assert found == [] and len(problems) == 1 and problems[0].startswith("broken.json: ")


def test_hub_mirror_commits_submissions_and_restores_them_after_a_wipe(tmp_path, bench):
    api = FakeHubApi()
    store = ResultsStore(tmp_path / "a", hub_repo="org/spinebench-results", api=api)
    assert api.repos[("org/spinebench-results", "dataset")]["private"] is True
    state = _state(tmp_path, bench, store=store)
    path = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    message = state.submit(str(path), "org/model", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "committed to the Hub results repo" in message
    (commit,) = api.commits
    sid = commit["paths"][0].split("/")[1]
    assert commit["repo_type"] == "dataset" and commit["paths"] == [f"submissions/{sid}/predictions.jsonl", f"submissions/{sid}/results.json"]

    # A Space restart wipes the disk: a fresh folder restores from the repo.
    fresh = ResultsStore(tmp_path / "b", hub_repo="org/spinebench-results", api=api)
    assert fresh.sync_from_hub() == [sid]
    found, problems = fresh.load()
    assert problems == [] and [r["model"]["name"] for _, r in found] == ["org/model"]
    assert fresh.find_digest(found[0][1]["submission"]["predictions_sha256"]) == sid
    assert fresh.sync_from_hub() == []  # nothing missing any more


def test_failed_hub_commit_is_kept_locally_and_retried(tmp_path, bench):
    api = FakeHubApi(fail_commits=1)
    store = ResultsStore(tmp_path / "r", hub_repo="org/res", api=api)
    state = _state(tmp_path, bench, store=store)
    path = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    message = state.submit(str(path), "org/model", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert "Hub commit failed" in message and api.commits == []
    assert len(list((tmp_path / "r" / "submissions").glob("*/.pending-hub"))) == 1
    assert ResultsStore(tmp_path / "r", hub_repo="org/res", api=api).sync_from_hub() == []  # start-up also retries
    assert len(api.commits) == 1 and not list((tmp_path / "r" / "submissions").glob("*/.pending-hub"))


def test_reports_are_judged_by_the_spaces_own_judge(tmp_path, bench):
    from tools.simserver import SimServer

    from spinemed.llm.client import build_client

    def judge_responder(body):
        return json.dumps({d: {"score": 4, "reason": "adequate"} for d in DIMENSIONS})

    with SimServer(latency_s=0.0, responder=judge_responder) as server:
        client = build_client("openai", "judge-sim", base_urls=[server.base_url], retries=0)
        judge = Judge(f"openai:judge-sim@{server.base_url}", client=client)
        rows = parse_predictions(_jsonl(prediction_lines(bench)), bench)
        results = rescore(bench, rows, META, judge=judge, bootstrap=0)
        assert server.requests == bench.bench.counts["report"]
    assert results["report_status"] == "judged" and results["scores"]["report"] == pytest.approx(80.0)
    assert results["scores"]["total"] is not None and results["judge"]["judge_model"] == "judge-sim"
    assert validate_results(results) == []


# --------------------------------------------------------------------------------------
# Explorer
# --------------------------------------------------------------------------------------


def test_explorer_filters_by_subfield_language_and_modality(bench):
    zh_images = bench.query(languages=["zh"], modalities=["image"])
    assert zh_images and all(r["language"] == "zh" and r["modality"] == "image" for r in zh_images)
    sub = bench.items[0]["subfield"]
    assert {r["subfield"] for r in bench.query(subfields=[sub])} == {sub}
    assert len(bench.query()) == len(bench) and bench.query(kinds=["report"], text="no such text") == []
    facets = bench.facets()
    assert facets["language"] == ["en", "zh"] and facets["kind"] == ["text_mcq", "image_mcq", "report"]


def test_explorer_shows_items_with_images_and_escapes_text(tmp_path, bench):
    state = _state(tmp_path, bench)
    frame, ids, summary = state.explore(None, ["en"], ["image"], None, "")
    assert len(frame) == len(ids) > 0 and summary.startswith(f"{len(ids)} of {len(bench)} items match")
    md, images = state.show_item(ids[0])
    item = bench.by_id[ids[0]]
    assert len(images) == item["n_images"] >= 1 and images[0].size[0] > 0
    assert "**Answer:** " + item["answer"] in md
    report_id = bench.query(kinds=["report"])[0]["id"]
    md, images = state.show_item(report_id)
    assert "**Reference report**" in md and images == []
    assert "No item with id" in state.show_item("<b>nope</b>")[0] and "<b>" not in state.show_item("<b>nope</b>")[0]


def test_example_prompts_use_benchmark_images(tmp_path, bench):
    examples = _state(tmp_path, bench).chat_examples()
    with_images = [message for message, _ in examples if message["files"]]
    assert len(examples) == 4 and len(with_images) == 2
    assert {detect_language(m["text"]) for m in with_images} == {"en", "zh"}
    assert all(Path(m["files"][0]).is_file() for m in with_images)


# --------------------------------------------------------------------------------------
# Chat
# --------------------------------------------------------------------------------------


def _png(path: Path) -> str:
    from PIL import Image

    Image.new("RGB", (32, 32), "white").save(path)
    return str(path)


def test_turns_from_gradio_history_with_files(tmp_path):
    img = _png(tmp_path / "a.png")
    history = [
        {"role": "user", "content": [{"type": "file", "file": {"path": img, "mime_type": "image/png"}}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "An MRI."}]},
    ]
    turns = turns_from_gradio({"text": "Which level?", "files": [img]}, history)
    assert [(t.role, t.text, len(t.images)) for t in turns] == [("user", "What is this?", 1), ("assistant", "An MRI.", 0),
                                                                ("user", "Which level?", 1)]
    many = turns_from_gradio({"text": "x", "files": [img] * (MAX_IMAGES + 2)}, [])
    assert len(many[-1].images) == MAX_IMAGES
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ChatInputError, match="only images"):
        turns_from_gradio({"text": "x", "files": [str(tmp_path / "notes.txt")]}, [])
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(ChatInputError, match="not a readable image"):
        turns_from_gradio({"text": "x", "files": [str(tmp_path / "fake.png")]}, [])


def test_language_detection_and_model_specs():
    assert detect_language("腰椎间盘突出症最常见于哪个节段？") == "zh" and detect_language("Which level? L4-L5") == "en"
    # The Space takes the eval runner's grammar (spinemed.models.spec): @REV and several URLs included.
    chat = functools.partial(parse_model_spec, kinds=CHAT_KINDS, what="chat model")
    assert chat(None).kind == "none" and chat("tiny").kind == "tiny"
    assert chat("hf:org/SpineGPT-7B") == ModelSpec("hf", "org/SpineGPT-7B", text="hf:org/SpineGPT-7B")
    assert chat("hf:org/SpineGPT-7B@v1.1").revision == "v1.1"
    s = chat("openai:Qwen/Qwen2.5-VL@http://h:8000/v1,http://g:8000/v1")
    assert (s.kind, s.model, s.urls) == ("openai", "Qwen/Qwen2.5-VL", ("http://h:8000/v1", "http://g:8000/v1"))
    for bad in ("gpt4", "openai:model", "hf:", "baseline:random"):
        with pytest.raises(ValueError, match="expected hf:PATH_OR_REPO"):
            chat(bad)
    multi = build_chat_backend("openai:m@http://a:8000/v1,http://b:8000/v1/")  # nothing is sent or loaded yet
    assert multi.base_urls == ["http://a:8000/v1", "http://b:8000/v1"]
    assert build_chat_backend("hf:org/SpineGPT-7B@v1.1").revision == "v1.1"
    judge = functools.partial(parse_model_spec, kinds=JUDGE_KINDS, what="judge")
    assert (judge("openai:j@https://x/v1").model, judge("openai:j@https://x/v1").urls) == ("j", ("https://x/v1",))
    with pytest.raises(ValueError, match="openai:MODEL@URL"):
        judge("j")


def test_unconfigured_chat_explains_how_to_configure(tmp_path, bench):
    state = _state(tmp_path, bench, chat=NotConfiguredBackend())
    en = list(state.respond({"text": "hello", "files": []}, [], "auto"))[-1]
    zh = list(state.respond({"text": "你好，请问腰痛怎么办", "files": []}, [], "auto"))[-1]
    assert "No chat model is configured" in en and "--model hf:" in en and "--model tiny" in en
    assert "尚未配置对话模型" in zh


def _sse(*pieces: str) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b": keep-alive\n\ndata: [DONE]\n\n"


def test_openai_backend_streams_server_sent_events_with_images(tmp_path):
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_sse("L4", "-L5", " disc"))

    backend = OpenAIChatBackend("http://sim/v1/", "m", api_key="k", transport=httpx.MockTransport(handler))
    img = _png(tmp_path / "x.png")
    pieces = list(backend.stream([Turn("user", "Which level?", [img])], "zh"))
    assert pieces == ["L4", "-L5", " disc"]
    body = seen["body"]
    assert body["stream"] is True and body["model"] == "m" and seen["auth"] == "Bearer k"
    assert body["messages"][0]["role"] == "system" and "中文" in body["messages"][0]["content"]
    parts = body["messages"][1]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[1] == {"type": "text", "text": "Which level?"}


def test_openai_backend_accepts_a_plain_json_answer_and_reports_errors():
    def plain(request):
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "whole answer"}}]})

    backend = OpenAIChatBackend("http://sim/v1", "m", transport=httpx.MockTransport(plain))
    assert list(backend.stream([Turn("user", "q")], "en")) == ["whole answer"]

    def failing(request):
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    backend = OpenAIChatBackend("http://sim/v1", "m", transport=httpx.MockTransport(failing))
    with pytest.raises(LLMError, match="HTTP 503: overloaded"):
        list(backend.stream([Turn("user", "q")], "en"))


def test_respond_streams_the_growing_answer_and_shows_backend_errors(tmp_path, bench):
    class Scripted:
        name, description = "scripted", "scripted"

        def __init__(self, fail=False):
            self.fail = fail

        def stream(self, turns, language):
            yield "Answer"
            yield ": B"
            if self.fail:
                raise LLMError("endpoint went away")

    state = _state(tmp_path, bench, chat=Scripted())
    assert list(state.respond({"text": "q", "files": []}, [], "en")) == ["Answer", "Answer: B"]
    state = _state(tmp_path, bench, chat=Scripted(fail=True))
    assert list(state.respond({"text": "q", "files": []}, [], "en"))[-1] == "Answer: B\n\nWarning: the model backend failed: endpoint went away"
    assert "only images" in list(state.respond({"text": "q", "files": [__file__]}, [], "en"))[-1]


def test_tiny_transformers_model_streams_with_an_image(tmp_path):
    pytest.importorskip("torch")
    backend = build_chat_backend("tiny", cache_dir=tmp_path)
    assert backend.name == "transformers" and "noise" in backend.description
    pieces = list(backend.stream([Turn("user", "Which level? 哪个节段？", [_png(tmp_path / "i.png")])], "en"))
    assert len(pieces) >= 1 and all(isinstance(p, str) for p in pieces)



def test_closing_the_stream_early_stops_generation_and_frees_the_lock(tmp_path):
    # A visitor who disconnects closes the stream: generation stops at the next token (a StoppingCriteria
    # on an event), so the lock is not held until max_new_tokens.
    pytest.importorskip("torch")
    backend = build_chat_backend("tiny", cache_dir=tmp_path)
    backend.max_new_tokens = 5_000  # minutes of CPU if it ran to the end
    stream = backend.stream([Turn("user", "Which level? " * 4)], "en")
    assert isinstance(next(stream), str)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 10
    assert backend._generate_lock.acquire(blocking=False)  # released: the next visitor is served
    backend._generate_lock.release()


# --------------------------------------------------------------------------------------
# CLI, push, Space card
# --------------------------------------------------------------------------------------


def test_cli_space_help_and_push_dry_run(capsys):
    from spinemed.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["space", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--bench" in out and "--model" in out and "--push" in out and "SPINEMED_BENCH" in out
    assert main(["space", "--push", "org/space", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload" in out and "  app.py" in out and "  spinemed/scoring/results.py" in out and "  spinemed/space/app.py" in out


def test_cli_refuses_a_missing_bench_before_serving(capsys):
    from spinemed.cli import main

    assert main(["space", "--bench", "/nonexistent/spinebench"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_push_space_uploads_app_and_library_in_one_commit():
    from spinemed.space.push import push_space

    api = FakeHubApi()
    plan = push_space("org/SpineMed", api=api, variables={"SPINEMED_BENCH": "org/SpineBench@v1.0.0"})
    assert api.repos[("org/SpineMed", "space")]["space_sdk"] == "gradio"
    (commit,) = api.commits
    assert commit["repo_type"] == "space" and commit["paths"] == plan["files"]
    assert {"app.py", "README.md", "requirements.txt", "spinemed/scoring/results.py", "spinemed/space/app.py",
            "builders/spinebench/judge_prompts/v1/judge.md", "builders/spinebench/extract_prompts/v1/extract.md"} <= set(plan["files"])
    assert not any("__pycache__" in f or f.startswith("tests/") for f in plan["files"])
    assert api.variables == {"SPINEMED_BENCH": "org/SpineBench@v1.0.0"}


def test_space_card_yaml_is_valid_for_the_hub():
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(Path(__file__).parents[2] / "space_app" / "README.md")
    data = card.data.to_dict()
    assert data["sdk"] == "gradio" and data["app_file"] == "app.py"
    import gradio

    assert data["sdk_version"] == gradio.__version__
    allowed = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert data["colorFrom"] in allowed and data["colorTo"] in allowed
    assert len(data["short_description"]) <= 60


def test_config_from_environment_and_overrides(tmp_path):
    env = {"SPINEMED_BENCH": "org/SpineBench@v1.0.0", "SPINEMED_RESULTS_REPO": "org/res", "SPINEMED_CHAT_MODEL": "tiny",
           "SPINEMED_ALLOW_UNREGISTERED": "yes", "SPINEMED_MAX_UPLOAD_MB": "5", "HF_TOKEN": "t"}
    cfg = SpaceConfig.from_env(env, results_dir=str(tmp_path), model=None)
    assert (cfg.bench, cfg.results_repo, cfg.model, cfg.allow_unregistered, cfg.max_upload_mb, cfg.hf_token) == (
        "org/SpineBench@v1.0.0", "org/res", "tiny", True, 5.0, "t")
    assert cfg.results_dir == tmp_path
    with pytest.raises(ValueError, match="SPINEMED_MAX_UPLOAD_MB"):
        SpaceConfig.from_env({"SPINEMED_MAX_UPLOAD_MB": "lots"})


def test_a_spinemed_eval_run_uploads_and_rescores_to_the_same_numbers(tmp_path, bench):
    """The upload format is the runner's predictions.jsonl: its scores come back unchanged."""
    from spinemed.evaluation.runner import EvalConfig, run_eval

    corpus, bench_dir = sample_dirs()
    run = run_eval(EvalConfig(bench=bench_dir, model="baseline:random", out=tmp_path / "run", corpus=corpus,
                              allow_unregistered=True, overwrite=True))
    state = _state(tmp_path, bench)
    message = state.submit(str(run.predictions_path), "random-resubmitted", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert message.startswith("### Accepted")
    assert "not a registered SpineBench release" in message
    (stored,) = (tmp_path / "results" / "submissions").glob("*/results.json")
    rescored = json.loads(stored.read_text())
    for key in ("scores", "counts", "answers", "levels", "report_status"):
        assert rescored[key] == run.results[key], key
    row = state.table(search="random-resubmitted", edition=state.served_edition).iloc[0]
    assert "unregistered benchmark build" in row["Consistency check"]


def test_page_loads_reread_the_results_folder_only_when_it_changed(tmp_path, bench, monkeypatch):
    state = _state(tmp_path, bench)
    calls = []
    original = state.store.load
    monkeypatch.setattr(state.store, "load", lambda: calls.append(1) or original())
    state.reload()
    assert calls == []  # nothing changed since start-up
    write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
    state.submit(str(tmp_path / "p.jsonl"), "org/m", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert len(calls) == 1 and len(state.table()) == 10 and len(state.table(edition=state.served_edition)) == 1
    (tmp_path / "results" / "elsewhere.json").write_text("{}")  # an operator drops a file in
    state.reload()
    assert len(calls) == 2


def test_space_app_file_builds_the_demo_from_environment_variables(tmp_path, monkeypatch):
    """What the Hub runs: `space_app/app.py` configured only by Space variables."""
    import importlib.util

    import gradio

    monkeypatch.setenv("SPINEMED_BENCH", str(sample_dirs()[1]))
    monkeypatch.setenv("SPINEMED_ALLOW_UNREGISTERED", "1")
    monkeypatch.setenv("SPINEMED_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SPINEMED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SPINEMED_CHAT_MODEL", raising=False)
    spec = importlib.util.spec_from_file_location("space_app_main", Path(__file__).parents[2] / "space_app" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not "__main__": builds, does not launch
    assert isinstance(module.demo, gradio.Blocks)
    assert module.launch_kwargs["max_file_size"] == "25mb" and (tmp_path / "results" / "submissions").is_dir()
    assert str(tmp_path / "cache" / "space-examples") in module.launch_kwargs["allowed_paths"]


def test_a_failing_judge_stores_nothing(tmp_path, bench):
    from tools.simserver import SimServer

    from spinemed.llm.client import build_client

    with SimServer(latency_s=0.0, responder=lambda body: "I refuse to grade this.") as server:
        client = build_client("openai", "judge-sim", base_urls=[server.base_url], retries=0)
        state = _state(tmp_path, bench, judge=Judge(f"openai:judge-sim@{server.base_url}", client=client))
        path = write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))
        message = state.submit(str(path), "org/m", None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    assert message.startswith("### Not stored") and "the report judge failed on" in message
    assert list((tmp_path / "results" / "submissions").iterdir()) == []


def test_chart_picker_labels_are_unique(tmp_path, bench):
    state = _state(tmp_path, bench)
    for i, name in enumerate(["same-name", "same-name"]):
        rows = prediction_lines(bench, {bench.ids[0]: f"Answer: {'ABCD'[i]}"})  # different predictions
        state.submit(str(write_jsonl(tmp_path / f"p{i}.jsonl", rows)), name, None, "open", "general", meta_file=run_meta(tmp_path / "run.meta.json", None))
    labels = state.labels()
    assert "same-name [submission (rescored)]" in labels and "same-name [submission (rescored)] #2" in labels
    fig = state.chart(["same-name [submission (rescored)]", "same-name [submission (rescored)] #2"])
    assert len(fig.axes[0].patches) == 2 * 5
    # The chart starts with the top three of the default table: the paper's (the unjudged submissions are on
    # the fixture bench, another edition, and have no Total to rank by anyway).
    assert state.default_selection() == ["Gemini-2.5-Pro [paper (reported)]", "SpineGPT [paper (reported)]",
                                         "GPT5-mini [paper (reported)]"]


def test_editions_and_the_row_details_view(tmp_path, bench):
    state = _state(tmp_path, bench)
    served = state.served_edition
    assert served.startswith("spinebench v1.0.0, unregistered build") and state.editions() == [lb.PAPER_EDITION, served]
    state.submit(str(write_jsonl(tmp_path / "p.jsonl", prediction_lines(bench))), "org/SpineLM-7B", 7, "open", "medical", "r1",
                 meta_file=run_meta(tmp_path / "run.meta.json", None, revision="r1"))
    assert [r.entry.model for r in state.rows(edition=served)] == ["org/SpineLM-7B"]
    paper = state.rows()
    keys = [r.entry.key for r in paper]
    first = state.details_at(keys, 0)
    assert "Gemini" in first and "**Rank**: 1" in first and "**Source**: paper" in first
    # The page re-sorted in the browser: the reported cells, not the index, say which row was picked.
    claude = state.details_at(keys, 0, ["—", "Claude4", None])
    assert "Claude4" in claude and "closed QA only, as published" in claude
    sub = state.details_at([r.entry.key for r in state.rows(edition=served)], 0)
    assert "**Revision**: r1" in sub and "**Prompt version**: v1" in sub and "report not judged" in sub
    assert "**Judge**: not recorded" in sub  # a submission without a judge says so
    assert "Select a row" in state.details_at(keys, 99)
    # The status line says the rows are on two editions, each ranked apart.
    assert "2 benchmark editions" in state.status_md()
