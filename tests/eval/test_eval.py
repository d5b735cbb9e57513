"""Evaluation runner: benchmark checks, prompts, offline baselines, end-to-end runs, resume, CLI, demo."""

from __future__ import annotations

import importlib.util
import json
import math
import shlex
from pathlib import Path

import pytest
from test_eval_support import bench_rows, sample_bench, sample_corpus, write_bench

from spinemed.cli import main as cli_main
from spinemed.evaluation.baselines import BM25Index, MajorityBaseline, RandomBaseline, RetrievalBaseline, TrainingCorpus, tokenize
from spinemed.evaluation.benchmark import BenchmarkError, KnownBenchmark, load_benchmark
from spinemed.evaluation.models import EvalError, parse_model_spec
from spinemed.evaluation.predictions import PredictionsError, read_predictions
from spinemed.evaluation.prompts import load_eval_prompts
from spinemed.evaluation.results import load_results
from spinemed.evaluation.runner import EvalConfig, format_results, run_eval
from spinemed.scoring import score_predictions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _cfg(out, model="baseline:retrieval", **kw) -> EvalConfig:
    kw.setdefault("allow_unregistered", True)
    kw.setdefault("plots", False)
    kw.setdefault("bootstrap", 0)
    return EvalConfig(bench=sample_bench(), model=model, out=out, corpus=sample_corpus(), **kw)


# --------------------------------------------------------------------------------------
# Benchmark identity and checks
# --------------------------------------------------------------------------------------


def test_benchmark_loads_items_images_and_identity():
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    assert (bench.name, bench.version, bench.registered, bench.variant) == ("spinebench", "v1.0.0", False, None)
    assert bench.counts == {"text_mcq": 8, "image_mcq": 4, "report": 3}
    assert bench.complete and len(bench.items_hash) == 64
    image_items = [i for i in bench.items if i["kind"] == "image_mcq"]
    assert image_items and all(bench.images[i["id"]] for i in image_items)
    assert all(blob[:8] == b"\x89PNG\r\n\x1a\n" or blob[:3] == b"\xff\xd8\xff" for i in image_items for blob in bench.images[i["id"]])
    assert all(i["source_type"] for i in bench.items)


@pytest.mark.parametrize("ocr_engine", ["installed", "none"])
def test_the_demo_sample_spinebench_is_registered(tmp_path, monkeypatch, ocr_engine):
    """`spinemed demo`'s SpineBench is registered for the OCR engine that read the sample scan (the
    test extras install RapidOCR) and for a core install without one."""
    from spinemed.bench.demo import run_bench_demo
    from spinemed.corpus.pipeline import BuildConfig, run_build
    from spinemed.evaluation.benchmark import KNOWN_BENCHMARKS

    corpus = sample_corpus()
    if ocr_engine == "none":
        monkeypatch.setenv("SPINEMED_OCR_ENGINE", "none")
        corpus = tmp_path / "spinemed-450k"
        run_build(BuildConfig(out=corpus), progress=None)
    run_bench_demo(corpus, tmp_path)
    bench = load_benchmark(tmp_path / "spinebench", allow_unregistered=True)
    samples = {k.items_hash: k for k in KNOWN_BENCHMARKS if (k.name, k.version, k.variant) == (bench.name, bench.version, "sample")}
    assert bench.items_hash in samples, (
        f"the sample SpineBench built by `spinemed demo` changed (items hash {bench.items_hash}, counts {bench.counts}, "
        f"OCR {ocr_engine}); if the change is intended, update its entries in KNOWN_BENCHMARKS "
        "(spinemed/evaluation/benchmark.py)"
    )
    assert bench.registered and bench.variant == "sample"


def test_unknown_version_is_refused_before_any_work(tmp_path):
    fixture = load_benchmark(sample_bench(), allow_unregistered=True)
    with pytest.raises(BenchmarkError, match=f"items hash {fixture.items_hash}.*matches no registered.*--allow-unregistered"):
        load_benchmark(sample_bench())
    other = write_bench(tmp_path / "other", bench_rows(sample_corpus(), 2, 1, 1), version="v9.9.9")
    with pytest.raises(BenchmarkError, match="spinebench v9.9.9 .*not a known SpineBench release .known: spinebench v1.0.0"):
        load_benchmark(other)
    # The runner refuses before loading the model: nothing is written.
    with pytest.raises(BenchmarkError):
        run_eval(_cfg(tmp_path / "run", allow_unregistered=False))
    assert not (tmp_path / "run").exists()


def test_registry_accepts_the_exact_content_and_refuses_a_modified_copy(tmp_path):
    digest = load_benchmark(sample_bench(), allow_unregistered=True).items_hash
    registry = (KnownBenchmark("spinebench", "v1.0.0", digest, {"text_mcq": 8, "image_mcq": 4, "report": 3}, repo="org/SpineBench"),)
    bench = load_benchmark(sample_bench(), registry=registry)
    assert bench.registered and bench.variant == "full" and bench.repo == "org/SpineBench"

    rows = bench_rows(sample_corpus())
    rows["mcq"][0] = {**rows["mcq"][0], "answer": "D" if rows["mcq"][0]["answer"] != "D" else "A"}  # one changed answer
    modified = write_bench(tmp_path / "spinebench", rows)
    with pytest.raises(BenchmarkError, match="claims spinebench v1.0.0, but its items hash .* matches no registered"):
        load_benchmark(modified, registry=registry)
    assert not load_benchmark(modified, registry=registry, allow_unregistered=True).registered


def test_missing_images_are_an_error_listing_the_items(tmp_path):
    rows = bench_rows(sample_corpus())
    broken = [r for r in rows["mcq"] if r["kind"] == "image_mcq"][:2]
    for r in broken:
        r["images"] = []
    folder = write_bench(tmp_path / "spinebench", rows)
    with pytest.raises(BenchmarkError, match="2 missing or unreadable image") as info:
        load_benchmark(folder, allow_unregistered=True)
    assert all(r["id"] in str(info.value) for r in broken)


def test_corpus_folder_and_bad_sources_are_not_benchmarks(tmp_path):
    with pytest.raises(BenchmarkError, match="not a SpineBench folder: it holds split 'train'"):
        load_benchmark(sample_corpus(), allow_unregistered=True)
    with pytest.raises(BenchmarkError, match="no such folder, and not a Hub dataset repo id"):
        load_benchmark(tmp_path / "nope" / "x" / "y")
    with pytest.raises(BenchmarkError, match="kinds"):
        load_benchmark(sample_bench(), kinds=["essay"], allow_unregistered=True)


def test_hub_repo_is_downloaded_at_the_revision(monkeypatch):
    calls = []

    def fake_snapshot_download(repo_id, repo_type, revision):
        calls.append((repo_id, repo_type, revision))
        return str(sample_bench())

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    bench = load_benchmark("org/SpineBench@v1.0.0", allow_unregistered=True)
    assert calls == [("org/SpineBench", "dataset", "v1.0.0")]
    assert (bench.source, bench.revision, bench.repo) == ("org/SpineBench", "v1.0.0", "org/SpineBench")
    with pytest.raises(BenchmarkError, match="the tag and the content disagree"):
        load_benchmark("org/SpineBench", revision="v2.0.0", allow_unregistered=True)


def test_subset_selection_is_recorded():
    bench = load_benchmark(sample_bench(), kinds=["text_mcq", "report"], limit=2, allow_unregistered=True)
    assert bench.counts == {"text_mcq": 2, "image_mcq": 0, "report": 2}
    assert not bench.complete and bench.describe()["subset"] == {"kinds": ["report", "text_mcq"], "limit_per_kind": 2}
    assert bench.total_counts == {"text_mcq": 8, "image_mcq": 4, "report": 3}


# --------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------


def test_prompts_render_per_kind_and_language(tmp_path):
    prompts = load_eval_prompts("v1")
    mcq = {"id": "x", "task": "mcq", "language": "zh", "question": "最常见的节段？",
           "options": [{"label": "A", "text": "L3-L4"}, {"label": "B", "text": "L4-L5"}]}
    text = prompts.render(mcq, n_images=1)
    assert "题目：最常见的节段？" in text and "A. L3-L4\nB. L4-L5" in text
    assert "上方图片属于本题" in text and "答案：X" in text
    en = prompts.render({**mcq, "language": "en", "question": "Most common level?"}, n_images=0)
    assert "Question: Most common level?" in en and "image" not in en.split("Question")[0] and 'Answer: X' in en
    report = prompts.render({"id": "r", "task": "report", "language": "en", "case": "A 60-year-old man..."}, n_images=0)
    assert "A 60-year-old man..." in report and "1. Structured imaging findings" in report and "7. Diagnostic basis" in report
    assert "诊断依据" in prompts.render({"id": "r", "task": "report", "language": "zh", "case": "患者"}, n_images=0)

    # The hash covers every file: a copied version with one edit hashes differently.
    import shutil

    shutil.copytree(prompts.folder, tmp_path / "v9")
    with pytest.raises(ValueError, match=r"mcq.en.md:1: front matter says version 'v1' but the file is in folder 'v9'"):
        load_eval_prompts("v9", tmp_path)  # a copied version must say its new version
    for path in (tmp_path / "v9").glob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace("version: v1\n", "version: v9\n", 1), encoding="utf-8")
    assert load_eval_prompts("v9", tmp_path).sha256 == prompts.sha256  # the hash covers the templates, not the front matter
    # Pinned: the v1 hash recorded in predictions fingerprints and results files.
    assert prompts.sha256 == "0ee847b570103ff29d2c343766a924f905b2766d3f0431c9be3e51c3ca41e962"
    (tmp_path / "v9" / "mcq.en.md").write_text("---\nid: mcq.en\nversion: v9\n---\n## user\n{{ question }}\n", encoding="utf-8")
    assert load_eval_prompts("v9", tmp_path).sha256 != prompts.sha256
    (tmp_path / "v9" / "report.zh.md").unlink()
    with pytest.raises(FileNotFoundError, match="report.zh.md is missing"):
        load_eval_prompts("v9", tmp_path)
    with pytest.raises(FileNotFoundError, match="available: .*v9"):
        load_eval_prompts("v7", tmp_path)


# --------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------


def test_tokenize_is_cjk_aware():
    assert tokenize("L4-L5 disc Herniation") == ["l4", "l5", "disc", "herniation"]
    assert tokenize("腰椎间盘") == ["腰", "椎", "间", "盘", "腰椎", "椎间", "间盘"]
    assert tokenize("MRI示腰4") == ["mri", "示", "腰", "4", "示腰"]


def test_bm25_scores_match_the_formula():
    index = BM25Index(["spine disc", "disc disc herniation", "knee"], k1=1.5, b=0.75)
    n, avgdl = 3, (2 + 3 + 1) / 3
    idf_disc = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_hern = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))

    def w(tf, dl, idf):
        return idf * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))

    got = index.scores("disc herniation herniation")
    assert got == pytest.approx([w(1, 2, idf_disc), w(2, 3, idf_disc) + w(1, 3, idf_hern), 0.0])
    assert not index.scores("unknown words").any()


def _corpus(docs, answers=(), reports=()):
    return TrainingCorpus("mem", "c", "v1.0.0", "0" * 64, list(docs), [f"d{i}" for i in range(len(docs))], list(answers),
                          list(reports), len(docs))


def _mcq(options, question="Which level is most often herniated?", id="q1"):
    return {"id": id, "kind": "text_mcq", "question": question,
            "options": [{"label": chr(65 + i), "text": t} for i, t in enumerate(options)]}


def test_retrieval_answers_from_the_corpus_and_refuses_without_evidence():
    corpus = _corpus(["Lumbar disc herniation is most common at L4-L5 and L5-S1.", "Scoliosis curves in adolescents."])
    base = RetrievalBaseline(corpus)
    assert base.answer(_mcq(["C2-C3", "L4-L5", "T6-T7"])) == "Answer: B"
    refusal = base.answer(_mcq(["kyphoplasty", "vertebroplasty"], question="Unrelated?"))
    out = score_predictions([{**_mcq(["a", "b"]), "answer": "A"}], [refusal])
    assert out["answers"]["text_mcq"]["refused"] == 1  # through the normal extraction, not a special path


def test_retrieval_report_prefers_the_same_language():
    reports = [{"id": "r1", "language": "en", "case": "low back pain L4-L5 herniation", "report": {"diagnosis": "L4-L5 disc herniation"}},
               {"id": "r2", "language": "zh", "case": "腰痛 L4-L5 突出", "report": {"diagnosis": "腰4/5椎间盘突出症"}}]
    base = RetrievalBaseline(_corpus(["x"], reports=reports))
    zh_item = {"id": "b", "kind": "report", "language": "zh", "case": "low back pain L4-L5 herniation"}
    assert base.answer(zh_item) == "## AI辅助诊断\n腰4/5椎间盘突出症"  # the Chinese report, though the English case matches better
    assert "L4-L5 disc herniation" in base.answer({"id": "b", "kind": "report", "language": "en", "case": "herniation"})


def test_random_baseline_is_seeded_per_item():
    item = _mcq(["a", "b", "c", "d", "e"])
    picks = {RandomBaseline(None, seed=s).answer({**item, "id": f"q{i}"}) for s in range(3) for i in range(20)}
    assert len(picks) == 5  # all letters occur
    assert RandomBaseline(None, seed=1).answer(item) == RandomBaseline(None, seed=1).answer(dict(item))
    seq = [RandomBaseline(None, seed=7).answer({**item, "id": f"q{i}"}) for i in range(30)]
    assert seq == [RandomBaseline(None, seed=7).answer({**item, "id": f"q{i}"}) for i in reversed(range(30))][::-1]


def test_majority_baseline_uses_the_training_answer_distribution():
    base = MajorityBaseline(_corpus(["x"], answers=["B", "D", "B", "C", "D", "B", "AC"]))
    assert base.ranking == ["B", "D", "C"]
    assert base.answer(_mcq(["1", "2", "3", "4"])) == "Answer: B"
    assert base.answer({**_mcq(["1"]), "options": [{"label": "A", "text": "1"}, {"label": "D", "text": "2"}]}) == "Answer: D"


def test_baselines_skip_corpus_rows_overlapping_the_bench():
    from spinemed.evaluation.baselines import load_training_corpus

    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    corpus = load_training_corpus(sample_corpus(), bench)
    skipped = corpus.skipped
    assert skipped["method"] == "spinemed.bench.decontam.check_overlap" and skipped["threshold"] == 0.5
    assert skipped["rows_skipped"] >= len(bench.items)  # every bench item is itself in this (raw) corpus
    assert len(corpus.mcq_docs) == corpus.n_rows - skipped["rows_skipped"]
    assert not {i["id"] for i in bench.items} & set(corpus.doc_ids)


# --------------------------------------------------------------------------------------
# End to end with the offline baselines
# --------------------------------------------------------------------------------------


def test_bench_eval_accepts_the_command_line_its_docstring_shows():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_eval.py"
    spec = importlib.util.spec_from_file_location("bench_eval", path)
    bench_eval = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_eval)
    usage = next(line for line in bench_eval.__doc__.splitlines() if "benchmarks/bench_eval.py" in line)
    argv = shlex.split(usage.split("bench_eval.py", 1)[1].replace("[", " ").replace("]", " "))
    args = bench_eval.build_parser().parse_args(argv)
    assert "--items" in argv and args.items == 574 and bench_eval.scaled_counts(args.items) == bench_eval.PAPER_COUNTS
    assert bench_eval.scaled_counts(100) == {"text_mcq": 51, "image_mcq": 34, "report": 15}
    assert bench_eval.scaled_counts(3) == {"text_mcq": 1, "image_mcq": 1, "report": 1}


def test_baseline_run_writes_predictions_results_plots_and_model_index(tmp_path):
    run = run_eval(_cfg(tmp_path, plots=True, model_index=True, bootstrap=200, name="BM25"))
    results = load_results(run.results_path)
    assert results["model"] == {**results["model"], "id": "baseline:retrieval", "name": "BM25", "backend": "baseline", "baseline": True}
    assert results["counts"] == {"text_mcq": 8, "image_mcq": 4, "report": 3, "closed_qa": 12, "total": 15}
    assert results["report_status"] == "not_judged" and results["scores"]["total"] is None
    assert any("not judged" in w and "not a score of 0" in w for w in results["warnings"])
    assert set(results["breakdowns"]) == {"subfield", "language", "modality", "source_type"}
    assert results["ci"]["intervals"]["closed_qa"][0] <= results["scores"]["closed_qa"] <= results["ci"]["intervals"]["closed_qa"][1]

    preds = [json.loads(line) for line in run.predictions_path.read_text(encoding="utf-8").splitlines()]
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    assert [p["id"] for p in preds] == [i["id"] for i in bench.items]  # benchmark order, one line each
    for p in preds:
        assert p["status"] in ("answered", "refused", "generated") and p["error"] is None
        if p["kind"] != "report" and p["status"] == "answered":
            assert p["output"] == f"Answer: {p['extracted']}"
    # Recomputing from the predictions file alone gives the same scores (what the leaderboard does).
    again = score_predictions(bench.items, [p["output"] for p in preds])
    assert again["scores"] == results["scores"]

    for name, rel in results["files"]["plots"].items():
        assert (tmp_path / rel).read_bytes()[:8] == PNG_MAGIC, name
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index[0]["name"] == "BM25" and index[0]["results"][0]["metrics"]
    # the summary lists every file written, the model index included
    files_line = next(line for line in format_results(results, tmp_path).splitlines() if "files in" in line)
    assert files_line.split(": ", 1)[1].split(", ")[:4] == ["results.json", "predictions.jsonl", "samples.jsonl",
                                                             "model_index.json"]
    assert "plots/report_dimensions.png" in files_line and "judge.json" not in files_line
    # nothing was judged: the judge-score means are null, not floor-filled
    assert results["report"]["means_over"] == "none" and set(results["report"]["dimensions"].values()) == {None}


def test_resume_keeps_answers_and_refuses_another_run(tmp_path):
    first = run_eval(_cfg(tmp_path, model="baseline:random"))
    lines = first.predictions_path.read_text(encoding="utf-8").splitlines()
    # Simulate a run killed after 5 items, the last line cut in the middle of a write.
    first.predictions_path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20], encoding="utf-8")
    second = run_eval(_cfg(tmp_path, model="baseline:random"))
    assert second.results["run"]["resumed_items"] == 5 and second.results["run"]["items_generated"] == 10
    assert second.results["scores"] == first.results["scores"]
    assert len(read_predictions(second.predictions_path)) == 15

    with pytest.raises(PredictionsError, match="different run.*seed"):
        run_eval(_cfg(tmp_path, model="baseline:random", seed=1))
    with pytest.raises(PredictionsError, match="different run.*spec"):
        run_eval(_cfg(tmp_path, model="baseline:majority"))
    third = run_eval(_cfg(tmp_path, model="baseline:majority", overwrite=True))
    assert third.results["run"]["resumed_items"] == 0


def test_baseline_without_corpus_is_an_error_before_any_work(tmp_path):
    with pytest.raises(EvalError, match="--corpus"):
        run_eval(EvalConfig(bench=sample_bench(), model="baseline:retrieval", out=tmp_path / "r", allow_unregistered=True))
    with pytest.raises(EvalError, match="report items"):
        run_eval(EvalConfig(bench=sample_bench(), model="baseline:random", out=tmp_path / "r", allow_unregistered=True))
    assert not (tmp_path / "r" / "predictions.jsonl").exists()
    run = run_eval(EvalConfig(bench=sample_bench(), model="baseline:random", out=tmp_path / "mcq", allow_unregistered=True,
                              kinds=["text_mcq", "image_mcq"], plots=False, bootstrap=0))
    assert run.results["counts"]["report"] == 0 and not run.results["benchmark"]["complete"]
    assert any("subset" in w for w in run.results["warnings"])


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("hf:Qwen/Qwen2.5-VL-7B-Instruct", ("hf", "Qwen/Qwen2.5-VL-7B-Instruct", None, ())),
        ("hf:Qwen/Qwen2.5-VL-7B-Instruct@v1.1", ("hf", "Qwen/Qwen2.5-VL-7B-Instruct", "v1.1", ())),
        ("openai:gpt-5-mini@https://api.openai.com/v1", ("openai", "gpt-5-mini", None, ("https://api.openai.com/v1",))),
        ("openai:org/m@http://a:8000/v1,http://b:8000/v1", ("openai", "org/m", None, ("http://a:8000/v1", "http://b:8000/v1"))),
        ("baseline:majority", ("baseline", "majority", None, ())),
    ],
)
def test_model_specs(spec, expected):
    s = parse_model_spec(spec)
    assert (s.kind, s.model, s.revision, s.urls) == expected


@pytest.mark.parametrize("spec", ["Qwen/Qwen2.5-VL", "openai:model", "openai:m@ftp://x", "baseline:bm99", "tgi:x"])
def test_bad_model_specs(spec):
    with pytest.raises(EvalError, match="model spec"):
        parse_model_spec(spec)


# --------------------------------------------------------------------------------------
# CLI and demo
# --------------------------------------------------------------------------------------


def test_cli_runs_and_reports_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["eval", "--help"])
    help_text = capsys.readouterr().out
    assert "baseline:retrieval|random|majority" in help_text and "--judge-model" in help_text and "resume" in help_text

    args = ["eval", "--bench", str(sample_bench()), "--model", "baseline:majority", "--corpus", str(sample_corpus()),
            "--out", str(tmp_path / "cli"), "--no-plots", "--bootstrap", "0"]
    assert cli_main(args) == 2
    assert "matches no registered spinebench v1.0.0" in capsys.readouterr().err
    assert cli_main([*args, "--allow-unregistered", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["id"] == "baseline:majority" and out["run"]["command"][:2] == ["spinemed", "eval"]
    assert out["counts"]["total"] == 15 and out["benchmark"]["registered"] is False
    assert (tmp_path / "cli" / "results.json").is_file() and not (tmp_path / "cli" / "plots").exists()
    # Another model into the same folder is refused (exit 2), not mixed with the earlier predictions.
    assert cli_main([*args[:4], "baseline:retrieval", *args[5:], "--allow-unregistered"]) == 2
    assert "holds predictions of a different run" in capsys.readouterr().err


def test_cli_rejects_unknown_kinds(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["eval", "--bench", "x", "--model", "baseline:random", "--out", "y", "--kinds", "essay"])
    assert info.value.code == 2 and "choose from text_mcq" in capsys.readouterr().err


def test_eval_demo_runs_the_three_baselines(tmp_path):
    from spinemed.evaluation.demo import format_eval_demo, run_eval_demo

    summary = run_eval_demo(sample_bench(), sample_corpus(), tmp_path)
    assert set(summary["baselines"]) == {"retrieval", "random", "majority"}
    for _name, entry in summary["baselines"].items():
        results = load_results(entry["results"])
        assert results["scores"] == entry["scores"] and results["model"]["baseline"]
        assert all(Path(p).read_bytes()[:8] == PNG_MAGIC for p in entry["plots"].values())
    assert Path(summary["comparison_plot"]).read_bytes()[:8] == PNG_MAGIC
    text = format_eval_demo(summary)
    closed = summary["baselines"]["retrieval"]["scores"]["closed_qa"]
    assert f"{closed:5.1f}" in text and "not judged" in text


def test_runs_from_inside_a_running_event_loop(tmp_path):
    """Notebook users call run_eval with a loop already running (Jupyter); it must still work."""
    import asyncio

    bench, corpus = sample_bench(), sample_corpus()

    async def notebook_cell():
        return run_eval(EvalConfig(bench=bench, model="baseline:random", out=tmp_path, corpus=corpus,
                                   allow_unregistered=True, plots=False, bootstrap=0))

    run = asyncio.run(notebook_cell())
    assert run.results["counts"]["total"] == 15 and run.results["run"]["items_generated"] == 15
