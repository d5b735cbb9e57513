"""`spinemed bench export-harness`: the lmms-eval task folder and the VLMEvalKit TSVs.

The exported utils.py is imported here as lmms-eval imports it (a module file in the task
folder) and fed the rows `datasets.load_dataset` gives lmms-eval; it must render the kit's
prompts and score exactly as `spinemed.scoring` does.  The slow test_harness_lmms.py runs the
real lmms-eval on the same export.
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import json
import shutil

import pytest
import yaml
from test_eval_support import sample_bench

from spinemed.cli import main as cli_main
from spinemed.evaluation.benchmark import BenchmarkError, load_benchmark
from spinemed.evaluation.harness import HARNESS_TASKS, export_harness
from spinemed.evaluation.prompts import load_eval_prompts
from spinemed.scoring import score_items

# Outputs of every kind the scorer tells apart: answered (several phrasings), refused, unparsed, empty, missing.
OUTPUTS = ["Answer: {x}", "The answer is ({x}).", "答案：{x}", "I cannot answer this.", "Maybe the second one?", "", None,
           "After weighing the options, {x} fits best.\nAnswer: {x}", "{x}"]


class _TaskLoader(yaml.SafeLoader):
    """Reads lmms-eval YAML: `!function module.name` becomes the string "function:module.name"."""


_TaskLoader.add_constructor("!function", lambda loader, node: f"function:{loader.construct_scalar(node)}")


def _yaml(path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskLoader)


def _utils(task_dir):
    spec = importlib.util.spec_from_file_location(f"spinebench_utils_{abs(hash(task_dir))}", task_dir / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("harness")
    return export_harness(sample_bench(), out, allow_unregistered=True)


def test_export_writes_the_lmms_eval_task_folder(exported):
    task_dir = exported.task_dir
    assert sorted(p.name for p in task_dir.iterdir()) == sorted(
        ["_default_template_yaml", "prompts", "spinebench_image_mcq.yaml", "spinebench_mcq.yaml", "spinebench_text_mcq.yaml",
         "utils.py"])
    base = _yaml(task_dir / "_default_template_yaml")
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    assert base["dataset_path"] == str(sample_bench().resolve()) and base["dataset_name"] == "mcq"
    assert base["test_split"] == "test" and base["output_type"] == "generate_until"
    assert base["doc_to_messages"] == "function:utils.doc_to_messages"
    assert base["process_results"] == "function:utils.process_results"
    assert base["metric_list"] == [{"metric": "accuracy", "aggregation": "function:utils.aggregate_accuracy",
                                    "higher_is_better": True}]
    assert base["generation_kwargs"] == {"max_new_tokens": 1024, "temperature": 0, "do_sample": False}
    assert base["metadata"]["bench_items_hash"] == bench.items_hash and base["metadata"]["prompt_version"] == "v1"
    for kind, task in HARNESS_TASKS.items():
        spec = _yaml(task_dir / f"{task}.yaml")
        assert spec == {"task": task, "include": "_default_template_yaml", "process_docs": f"function:utils.{kind}_docs"}
    group = _yaml(task_dir / "spinebench_mcq.yaml")
    assert group["group"] == "spinebench_mcq" and group["task"] == list(HARNESS_TASKS.values())
    assert group["aggregate_metric_list"] == [{"metric": "accuracy", "aggregation": "mean", "weight_by_size": True}]
    prompts = load_eval_prompts("v1")
    assert load_eval_prompts("v1", task_dir / "prompts").sha256 == prompts.sha256
    manifest = json.loads((exported.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"] == {"text_mcq": 8, "image_mcq": 4} and manifest["not_exported"] == {"report": 3}
    assert manifest["registered"] is False and manifest["prompt_sha256"] == prompts.sha256


def test_utils_renders_the_kit_prompts_and_scores_as_spinemed(exported):
    from datasets import load_dataset

    utils = _utils(exported.task_dir)
    rows = load_dataset(str(sample_bench()), "mcq", split="test")  # what lmms-eval loads from dataset_path
    prompts = load_eval_prompts("v1")
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    items = {i["id"]: i for i in bench.items}
    text_docs, image_docs = utils.text_mcq_docs(rows), utils.image_mcq_docs(rows)
    assert (len(text_docs), len(image_docs)) == (8, 4) and set(image_docs["kind"]) == {"image_mcq"}
    results, outputs, scored_items = [], [], []
    for n, doc in enumerate([*text_docs, *image_docs]):
        item = items[doc["id"]]
        n_images = len(bench.images[item["id"]])
        assert utils.doc_to_text(doc) == prompts.render(item, n_images)
        messages = utils.doc_to_messages(doc)
        assert [p["type"] for p in messages[0]["content"]] == ["image"] * n_images + ["text"]
        letters = [o["label"] for o in item["options"]]
        template = OUTPUTS[n % len(OUTPUTS)]
        output = None if template is None else template.format(x=letters[n % len(letters)])
        result = utils.process_results(doc, [output])["accuracy"]
        expected = score_items([item], [output], levels=False)[0]
        assert (result["score"], result["extracted"], result["reference"]) == (expected.score, expected.extracted,
                                                                               expected.reference)
        results.append(result)
        outputs.append(output)
        scored_items.append(expected)
    statuses = {s.status for s in scored_items}
    assert statuses >= {"answered", "refused", "unparsed", "empty", "missing"}  # the table covers every case
    assert any(s.correct for s in scored_items) and not all(s.correct for s in scored_items)
    expected_acc = 100 * sum(s.correct for s in scored_items) / len(scored_items)
    assert utils.aggregate_accuracy(results) == pytest.approx(expected_acc)


def test_utils_refuses_edited_prompts(exported, tmp_path):
    task_dir = tmp_path / "task"
    shutil.copytree(exported.task_dir, task_dir)
    path = task_dir / "prompts" / "v1" / "mcq.en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Question:", "Q:"), encoding="utf-8")
    utils = _utils(task_dir)
    with pytest.raises(RuntimeError, match="prompt files were changed"):
        utils.doc_to_text({"id": "x", "kind": "text_mcq", "question": "q", "options": [{"label": "A", "text": "a"}]})


def test_vlmevalkit_tsvs_hold_every_mcq_item(exported):
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    prompts = load_eval_prompts("v1")
    for kind, path in exported.tsv_files.items():
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        items = [i for i in bench.items if i["kind"] == kind]
        assert [r["id"] for r in rows] == [i["id"] for i in items] and [r["index"] for r in rows] == [str(n) for n in range(len(rows))]
        assert list(rows[0])[:9] == ["index", "id", "question", "A", "B", "C", "D", "E", "answer"]
        assert ("image" in rows[0]) == (kind == "image_mcq")
        for row, item in zip(rows, items):
            assert row["answer"] == item["answer"] and row["question"] == item["question"]
            assert all(row[o["label"]] == o["text"] for o in item["options"])
            images = bench.images[item["id"]]
            assert row["prompt"] == prompts.render(item, len(images))
            if kind == "image_mcq":
                decoded = ([base64.b64decode(row["image"])] if not row["image"].startswith("[")
                           else [base64.b64decode(b) for b in json.loads(row["image"])])
                assert decoded == images


def test_cli_exports_and_reports_a_bad_bench(tmp_path, capsys):
    assert cli_main(["bench", "export-harness", str(tmp_path / "h"), "--bench", str(sample_bench()),
                     "--allow-unregistered"]) == 0
    out = capsys.readouterr().out
    assert "lmms-eval task folder" in out and "--include_path" in out and "not exported: 3 report" in out
    assert cli_main(["bench", "export-harness", str(tmp_path / "h2"), "--bench", str(tmp_path / "nope")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "h2").exists()
    with pytest.raises(BenchmarkError, match="registered"):
        export_harness(sample_bench(), tmp_path / "h3")  # an unregistered bench needs the flag, as for spinemed eval
    with pytest.raises(SystemExit):
        cli_main(["bench", "export-harness", "--help"])
    assert "lmms-eval" in capsys.readouterr().out


def test_a_hub_bench_is_loaded_by_its_id_and_revision(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda repo_id, repo_type, revision: str(sample_bench()))
    export = export_harness("org/SpineBench@v1.0.0", tmp_path, allow_unregistered=True)
    base = _yaml(export.task_dir / "_default_template_yaml")
    assert base["dataset_path"] == "org/SpineBench" and base["dataset_kwargs"] == {"revision": "v1.0.0"}
    # --dataset-path points lmms-eval elsewhere (a mirror, a local copy) without changing what was checked
    local = export_harness(sample_bench(), tmp_path / "mirror", allow_unregistered=True, dataset_path="mirror/SpineBench")
    assert _yaml(local.task_dir / "_default_template_yaml")["dataset_path"] == "mirror/SpineBench"
