"""The local transformers path, exercised with the tiny offline Qwen2.5-VL (random weights)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_eval_support import sample_bench, session_dir  # noqa: E402

from spinemed.evaluation.benchmark import load_benchmark  # noqa: E402
from spinemed.evaluation.models import EvalError, Job, TransformersAdapter, select_device_dtype  # noqa: E402
from spinemed.evaluation.prompts import load_eval_prompts  # noqa: E402
from spinemed.evaluation.runner import EvalConfig, run_eval  # noqa: E402


@functools.lru_cache(maxsize=1)
def tiny_model() -> Path:
    from spinemed.models.tiny import build_tiny_qwen25vl

    return build_tiny_qwen25vl(session_dir("spinemed-tiny-vl-") / "tiny-qwen25vl", seed=0)


def _jobs():
    bench = load_benchmark(sample_bench(), allow_unregistered=True)
    prompts = load_eval_prompts()
    return [Job(i, it["id"], it["kind"], it["language"], prompts.render(it, len(bench.images[it["id"]])),
                bench.images[it["id"]], it) for i, it in enumerate(bench.items)]


def test_tiny_vlm_outputs_are_recorded_extracted_and_counted(tmp_path):
    run = run_eval(EvalConfig(bench=sample_bench(), model=f"hf:{tiny_model()}", out=tmp_path, allow_unregistered=True,
                              max_new_tokens=8, batch_size=4, plots=False, bootstrap=0))
    r = run.results
    assert (r["run"]["device"], r["run"]["dtype"], r["run"]["batch_size"]) == ("cpu", "float32", 4)
    # 11 text-only prompts (8 MCQ + 3 reports) in batches of 4, the 4 image items in their own batch.
    assert r["run"]["requests"]["batches"] == 4
    assert r["model"]["backend"] == "transformers" and r["model"]["details"]["architecture"] == "Qwen2_5_VLForConditionalGeneration"
    assert r["model"]["details"]["local_fingerprint"] and r["model"]["revision"] is None

    lines = [json.loads(x) for x in run.predictions_path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 15 and all(p["output"] is not None and p["error"] is None for p in lines)
    for p in lines:  # garbage text from random weights: recorded as generated, never guessed into a letter
        assert p["status"] in (("generated", "empty") if p["kind"] == "report" else ("empty", "unparsed", "answered", "refused"))
        assert (p["status"] == "empty") == (not p["output"].strip())
    for kind in ("text_mcq", "image_mcq"):
        tally = r["answers"][kind]
        assert sum(tally[s] for s in ("answered", "refused", "empty", "unparsed", "missing")) == r["counts"][kind]
        assert tally["empty"] == sum(p["kind"] == kind and p["status"] == "empty" for p in lines)
    assert {u["id"] for u in r["unanswered"]} == {p["id"] for p in lines if p["status"] == "empty"}


def test_images_reach_the_processor_and_batches_are_left_padded():
    adapter = TransformersAdapter(str(tiny_model()), max_new_tokens=6, batch_size=4)
    adapter.load(None)
    jobs = _jobs()
    text_jobs = [j for j in jobs if not j.images][:3]
    image_job = next(j for j in jobs if j.images)
    with_image = adapter._inputs([image_job])
    assert "pixel_values" in with_image and with_image["image_grid_thw"].shape[0] == len(image_job.images)
    plain = adapter._inputs(text_jobs)
    assert "pixel_values" not in plain
    mask = plain["attention_mask"]
    assert (mask[:, -1] == 1).all() and (mask[:, 0] == 0).any()  # padding on the left, prompts end together
    batched = adapter._generate_batch(text_jobs)
    single = [adapter._generate_batch([j])[0] for j in text_jobs]
    assert batched == single  # greedy decoding does not depend on batch padding


def test_model_that_cannot_load_fails_before_any_work(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "qwen2_5_vl"}', encoding="utf-8")
    for model, message in ((f"hf:{broken}", "cannot load model"), (f"hf:{tmp_path / 'absent'}", "no such folder")):
        out = tmp_path / "out"
        with pytest.raises(EvalError, match=message):
            run_eval(EvalConfig(bench=sample_bench(), model=model, out=out, allow_unregistered=True))
        assert not (out / "predictions.jsonl").exists()


def test_device_and_dtype_are_chosen_automatically(monkeypatch):
    assert select_device_dtype() == ("cpu", "float32")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert select_device_dtype() == ("cuda", "bfloat16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert select_device_dtype() == ("cuda", "float16")
    assert select_device_dtype("cpu") == ("cpu", "float32")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert select_device_dtype() == ("mps", "float16")
    with pytest.raises(EvalError, match="dtype"):
        select_device_dtype("cpu", "int8")


@pytest.mark.gpu
def test_tiny_vlm_on_cuda_uses_bfloat16(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run = run_eval(EvalConfig(bench=sample_bench(), model=f"hf:{tiny_model()}", out=tmp_path, allow_unregistered=True,
                              max_new_tokens=8, batch_size=8, plots=False, bootstrap=0))
    assert run.results["run"]["device"] == "cuda" and run.results["run"]["dtype"] in ("bfloat16", "float16")
    assert run.results["counts"]["total"] == 15
