"""SpineGPT training end to end on the CPU: tiny Qwen2.5-VL, the sample SpineMed-450k release, the sample SpineBench.

The three smoke stages run through `spinemed train` exactly as a user runs them (same recipes
as the paper's, small sizes); the guards, the card and the push are checked on the results.
"""

import json
import math
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from huggingface_hub import ModelCard

from spinemed.cli import main as cli_main
from spinemed.training.data import DatasetSource, prepare_mixture, select_source
from spinemed.training.guards import VisionKeepAlive, keepalive_enabled
from spinemed.training.recipe import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "training" / "recipes" / "smoke"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, sample_corpus):
    """A folder laid out like the README's main job: demo_out/{spinemed-450k, spinebench, spinemed-450k-release}."""
    from spinemed.bench.demo import run_bench_demo

    root = tmp_path_factory.mktemp("train")
    shutil.copytree(sample_corpus, root / "demo_out" / "spinemed-450k")
    run_bench_demo(root / "demo_out" / "spinemed-450k", root / "demo_out")
    return root


class _Chdir:
    def __init__(self, path):
        self.path, self.old = path, None

    def __enter__(self):
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.old)


def _train(workspace, *argv):
    with _Chdir(workspace):
        return cli_main(["train", *map(str, argv)])


@pytest.fixture(scope="module")
def stages(workspace):
    runs = workspace / "runs"
    assert _train(workspace, "--recipe", SMOKE, "--output-root", runs) == 0
    return runs


def _summary(folder):
    return json.loads((folder / "training_summary.json").read_text(encoding="utf-8"))


def test_three_stages_train_on_the_cpu(stages):
    for n in (1, 2, 3):
        out = stages / f"stage{n}"
        assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
        assert (out / "processor_config.json").is_file() and (out / "README.md").is_file()
        summary = _summary(out)
        assert [s["stage"] for s in summary["stages"]] == list(range(1, n + 1))  # the curriculum so far
        this = summary["stages"][-1]
        assert this["train"]["steps"] == 3 and len(this["train"]["losses"]) == 3
        assert all(math.isfinite(x) and 0 < x < 20 for x in this["train"]["losses"])
        assert this["decontamination"]["status"] == "clean" and this["decontamination"]["n_checked"] > 0
        assert this["rows"] == sum(s["kept"] for s in this["sources"])
        assert this["too_long"] == sum(s["too_long"] for s in this["sources"])
    s2, s3 = _summary(stages / "stage2")["stages"][-1], _summary(stages / "stage3")["stages"][-1]
    assert s2["started_from"] == str(stages / "stage1") and s3["started_from"] == str(stages / "stage2")
    assert sum(s["with_images"] for s in s2["sources"]) > 0  # image and text rows in one stage
    assert s3["too_long"] > 0  # the longest sample reports do not fit the smoke max_length
    assert s3["vision_keepalive_batches"] >= 1  # text-only batches ran the vision tower (forced on, like ZeRO-3)
    assert _summary(stages / "stage1")["stages"][-1]["vision_keepalive_batches"] is None


def test_stage_output_reloads_and_differs_from_its_start(stages):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    m3 = AutoModelForImageTextToText.from_pretrained(stages / "stage3")
    m2 = AutoModelForImageTextToText.from_pretrained(stages / "stage2")
    processor = AutoProcessor.from_pretrained(stages / "stage3")
    name = "model.language_model.layers.0.mlp.down_proj.weight"
    p3, p2 = dict(m3.named_parameters())[name], dict(m2.named_parameters())[name]
    assert not torch.equal(p3, p2)
    batch = processor.apply_chat_template(
        [[{"role": "user", "content": [{"type": "text", "text": "L4-L5?"}]},
          {"role": "assistant", "content": [{"type": "text", "text": "Answer: B"}]}]],
        tokenize=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        loss = m3(**batch, labels=batch["input_ids"]).loss
    assert math.isfinite(float(loss))


def _snapshot_weights_at_train_begin(monkeypatch):
    """Record the model weights every SpineSFTTrainer starts its training loop with (after resuming)."""
    from transformers import TrainerCallback

    import spinemed.training.trainer as trainer_mod

    starts = []

    class Snapshot(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            starts.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    class Recording(trainer_mod.SpineSFTTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(Snapshot())

    monkeypatch.setattr(trainer_mod, "SpineSFTTrainer", Recording)
    return starts


def _weights(folder):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(folder).state_dict()


def test_resume_continues_from_the_last_checkpoint(stages, workspace, capsys, monkeypatch):
    root = workspace / "resume"
    root.mkdir()
    shutil.copytree(stages / "stage1", root / "stage1")
    shutil.copytree(stages / "tiny-qwen2.5-vl-base", root / "tiny-qwen2.5-vl-base")
    first = _summary(root / "stage1")["stages"][-1]["train"]["losses"]
    checkpoint, base = _weights(root / "stage1" / "checkpoint-3"), _weights(root / "tiny-qwen2.5-vl-base")
    starts = _snapshot_weights_at_train_begin(monkeypatch)
    capsys.readouterr()
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", root, "--set", "max_steps=5") == 0
    assert f"resuming from {root / 'stage1' / 'checkpoint-3'}" in capsys.readouterr().out
    # The resumed loop starts from checkpoint-3's weights, every tensor of them, not from the stage's start.
    (start,) = starts  # (checkpoint-3 itself is gone by now: save_total_limit 1)
    assert start.keys() == checkpoint.keys()
    assert all(torch.equal(start[k], checkpoint[k]) for k in checkpoint)
    assert not all(torch.equal(start[k], base[k]) for k in base)
    state = json.loads((root / "stage1" / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    losses = _summary(root / "stage1")["stages"][-1]["train"]["losses"]
    assert len(losses) == 5 and losses[:3] == first  # steps 1-3 restored from the checkpoint, not retrained
    # ... and goes on from there: steps 4-5 are those of an uninterrupted 5-step run.
    straight = workspace / "resume-straight"
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", straight, "--set", "max_steps=5") == 0
    expected = _summary(straight / "stage1")["stages"][-1]["train"]["losses"]
    assert losses[3:] == pytest.approx(expected[3:], abs=1e-3) and expected[:3] == pytest.approx(first, abs=1e-3)
    end, straight_end = _weights(root / "stage1"), _weights(straight / "stage1")
    assert all(torch.allclose(end[k], straight_end[k], atol=1e-5) for k in end)


def test_a_checkpoint_missing_weights_is_refused(stages, tmp_path):
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForImageTextToText

    from spinemed.training.trainer import CheckpointWeightsError, load_checkpoint_weights

    broken = tmp_path / "checkpoint-3"
    shutil.copytree(stages / "stage1" / "checkpoint-3", broken)
    weights = load_file(broken / "model.safetensors")
    dropped = next(k for k in weights if "layers.1.mlp.down_proj" in k)
    del weights[dropped]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    model = AutoModelForImageTextToText.from_pretrained(stages / "tiny-qwen2.5-vl-base")
    with pytest.raises(CheckpointWeightsError, match=r"1 missing keys .*layers\.1\.mlp\.down_proj.*--resume no"):
        load_checkpoint_weights(model, broken)
    load_checkpoint_weights(model, stages / "stage1" / "checkpoint-3")  # a whole checkpoint loads
    assert all(torch.equal(v, w) for v, w in zip(model.state_dict().values(),
                                                  _weights(stages / "stage1" / "checkpoint-3").values()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoProcessor

    from spinemed.models.tiny import build_tiny_qwen25vl

    path = build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny"))
    return path, AutoProcessor.from_pretrained(path)


def _two_rows(workspace, processor):
    """One image row and one text-only row of the sample release, as TRL rows."""
    release = str(workspace / "demo_out" / "spinemed-450k-release")
    mix = prepare_mixture([select_source(DatasetSource(path=release, name="open_qa"))], processor, 512, shuffle=False)
    img = next(i for i, ex in enumerate(mix.dataset) if ex["images"])
    txt = next(i for i, ex in enumerate(mix.dataset) if not ex["images"])
    return mix.dataset.select([img, txt])


def test_loss_is_finite_and_falls_on_a_repeated_batch(workspace, tiny, tmp_path):
    from trl import SFTConfig

    from spinemed.training.trainer import SpineSFTTrainer

    path, processor = tiny
    data = _two_rows(workspace, processor)  # batch size 2: every step sees the same two rows
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, num_train_epochs=6,
                     per_device_train_batch_size=2, learning_rate=2e-3, lr_scheduler_type="constant",
                     logging_steps=1, save_strategy="no", report_to="none", activation_checkpointing=False,
                     assistant_only_loss=True, max_length=512, seed=0)
    trainer = SpineSFTTrainer(model=str(path), args=args, train_dataset=data, processing_class=processor,
                              vision_keepalive=VisionKeepAlive(processor))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] - 0.5
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 4
    assert trainer.vision_keepalive.calls == 0  # every batch had an image


def test_vision_keepalive_touches_every_vision_parameter_and_not_the_loss(workspace, tiny):
    from transformers import AutoModelForImageTextToText
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    path, processor = tiny
    data = _two_rows(workspace, processor)
    collator = DataCollatorForVisionLanguageModeling(processor=processor, assistant_only_loss=True)
    text_batch = collator([dict(data[1]), dict(data[1])])
    image_batch = collator([dict(data[0]), dict(data[1])])
    keep = VisionKeepAlive(processor)
    assert keep.needed(text_batch) and not keep.needed(image_batch)

    model = AutoModelForImageTextToText.from_pretrained(path)
    vision = list(model.model.visual.parameters())
    plain = model(**text_batch).loss
    plain.backward()
    assert all(p.grad is None for p in vision)  # the ZeRO-3 hazard: this rank never runs the tower
    model.zero_grad(set_to_none=True)

    keep.attach(model)
    model(**text_batch).loss.backward()  # not armed: nothing changes
    assert all(p.grad is None for p in vision) and keep.calls == 0
    keep.arm(True)
    kept = model(**text_batch).loss
    assert not keep.pending and keep.calls == 1  # ran once, inside the forward
    assert torch.equal(kept.detach(), plain.detach())  # the loss is unchanged ...
    kept.backward()
    assert all(p.grad is not None for p in vision)  # ... every vision parameter took part (gathers/reductions run)
    assert all(torch.count_nonzero(p.grad) == 0 for p in vision)  # ... with zero gradient: training is unchanged
    assert float(keep.term(model).detach()) == 0.0
    assert keepalive_enabled("auto", 3) and not keepalive_enabled("auto", 2) and not keepalive_enabled("auto", None)
    assert keepalive_enabled(True, None) and not keepalive_enabled(False, 3)


_ZERO3_CPU = """\
compute_environment: LOCAL_MACHINE
deepspeed_config: {zero_stage: 3, zero3_init_flag: true, zero3_save_16bit_model: true,
                   offload_optimizer_device: none, offload_param_device: none}
distributed_type: DEEPSPEED
mixed_precision: 'no'
num_machines: 1
num_processes: 2
use_cpu: true
"""


@pytest.mark.slow
def test_zero3_mixed_batches_on_two_cpu_ranks(stages, workspace, tmp_path, capfd):
    """Real DeepSpeed ZeRO-3 (gloo, 2 CPU processes) on the smoke stage 3 data, whose ranks get text-only
    and image batches in the same step: without the keep-alive the collectives mismatch (on GPUs: a
    hang), with it the stage trains and saves."""
    config = tmp_path / "zero3_cpu.yaml"
    config.write_text(_ZERO3_CPU)
    base = ["--recipe", SMOKE / "stage3.yaml", "--launch", "--accelerate-config", config,
            "--set", "init_from=null", "--set", f"model_name_or_path={stages / 'stage2'}"]
    assert _train(workspace, *base, "--output-root", tmp_path / "off", "--set", "vision_keepalive=false") != 0
    assert _train(workspace, *base, "--output-root", tmp_path / "on", "--set", "vision_keepalive=auto") == 0
    out = capfd.readouterr().out
    assert "vision keep-alive on" in out
    summary = _summary(tmp_path / "on" / "stage3")["stages"][-1]
    assert summary["zero_stage"] == 3 and summary["batch"]["processes"] == 2 and summary["train"]["steps"] == 3
    assert (tmp_path / "on" / "stage3" / "model.safetensors").is_file()


def test_training_on_bench_items_is_refused(workspace, capsys):
    contaminated = "dataset_mixture.datasets=[{path: demo_out/spinemed-450k, name: mcq}]"  # the raw build holds the bench
    out = workspace / "contaminated"
    capsys.readouterr()
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", out, "--set", contaminated) == 3
    err = capsys.readouterr().err
    assert "refusing to train" in err and "overlap SpineBench" in err and "--allow-contaminated" in err
    assert not (out / "stage1" / "config.json").exists()

    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", out, "--set", contaminated,
                  "--set", "decontamination=null") == 3
    assert "cannot be checked" in capsys.readouterr().err

    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", out, "--set", contaminated,
                  "--set", "max_steps=1", "--allow-contaminated") == 0
    assert "!!!!" in capsys.readouterr().out  # logged loudly
    decon = _summary(out / "stage1")["stages"][-1]["decontamination"]
    assert decon["status"] == "contaminated_allowed" and decon["n_overlapping"] > 0 and decon["items"]
    card = (out / "stage1" / "README.md").read_text(encoding="utf-8")
    assert "Warning: training data overlapped SpineBench" in card and "**OVERRIDDEN**" in card


def test_missing_demo_folder_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    """The smoke recipes' demo_out/... paths only resolve from the folder `spinemed demo` ran in; from
    anywhere else the entry `accelerate launch` runs (training/sft.py) says so and exits 2."""
    from spinemed.training.cli import main as train_main

    with _Chdir(tmp_path):
        assert train_main(["--recipe", str(SMOKE / "stage1.yaml"), "--output-root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: demo_out/spinemed-450k-release[mcq]:train: no such folder "
                          f"'demo_out/spinemed-450k-release' (relative to the working directory {tmp_path})")
    assert "Traceback" not in err and not (tmp_path / "runs" / "stage1" / "config.json").exists()


def test_card_renders_parses_and_carries_the_eval_results(stages, workspace):
    from spinemed.evaluation.results import load_results
    from spinemed.evaluation.runner import EvalConfig, run_eval

    card = ModelCard.load(stages / "stage3" / "README.md")
    data = card.data
    assert data.base_model == TINY_MODEL and data.pipeline_tag == "image-text-to-text"
    assert data.license == "apache-2.0" and data.library_name == "transformers" and data.datasets is None
    assert data.eval_results is None
    for heading in ("## Intended use", "## Out-of-scope use", "## Limitations, biases and risks", "## Training"):
        assert heading in card.text
    assert "**Not for clinical use.**" in card.text and "Not evaluated yet" in card.text
    assert "(stage 1 of 3)" in (stages / "stage1" / "README.md").read_text()

    with _Chdir(workspace):
        run_eval(EvalConfig(bench="demo_out/spinebench", model="baseline:majority",
                            corpus="demo_out/spinemed-450k-release", out=workspace / "eval", allow_unregistered=True,
                            plots=False, bootstrap=20, overwrite=True), progress=None)
    results = load_results(workspace / "eval" / "results.json")
    # Scores of this checkpoint: `spinemed eval --model hf:<stage folder>` records the folder as model.id.
    own = workspace / "eval" / "stage3-results.json"
    own.write_text(json.dumps({**results, "model": {**results["model"], "id": str(stages / "stage3"),
                                                    "name": "stage3", "baseline": False, "backend": "transformers"}}))
    assert _train(workspace, "--recipe", SMOKE, "--stage", "3", "--output-root", stages, "--card-only",
                  "--eval-results", own) == 0
    card = ModelCard.load(stages / "stage3" / "README.md")
    by_name = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert by_name["Text MCQ accuracy (P1, %)"] == round(results["scores"]["text_mcq"], 2)
    assert by_name["Closed QA accuracy (%)"] == round(results["scores"]["closed_qa"], 2)
    assert all(r.task_type == "image-text-to-text" and r.dataset_revision == "v1.0.0" for r in card.data.eval_results)
    assert "model-index" in (stages / "stage3" / "README.md").read_text() and "reports not judged" in card.text
    assert "Another model's scores" not in card.text


def test_card_refuses_another_models_eval_results(stages, workspace, capsys):
    from spinemed.evaluation.results import load_results
    from spinemed.evaluation.runner import EvalConfig, run_eval

    with _Chdir(workspace):
        run_eval(EvalConfig(bench="demo_out/spinebench", model="baseline:majority",
                            corpus="demo_out/spinemed-450k-release", out=workspace / "eval-baseline",
                            allow_unregistered=True, plots=False, bootstrap=20, overwrite=True), progress=None)
    baseline = workspace / "eval-baseline" / "results.json"
    before = (stages / "stage2" / "README.md").read_text(encoding="utf-8")
    card_only = ["--recipe", SMOKE, "--stage", "2", "--output-root", stages, "--card-only", "--eval-results", baseline]
    capsys.readouterr()
    assert _train(workspace, *card_only) == 2
    err = capsys.readouterr().err
    assert f"evaluation results of another model: {baseline} (model 'baseline:majority')" in err
    assert f"the folder '{stages / 'stage2'}'" in err and "--allow-foreign-eval" in err
    assert (stages / "stage2" / "README.md").read_text(encoding="utf-8") == before  # nothing written
    # ... before training too (here: the plan), naming the stage's hub_model_id as well
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", workspace / "foreign", "--dry-run",
                  "--set", "hub_model_id=spinemed/SpineGPT-test", "--eval-results", baseline) == 2
    assert "or 'spinemed/SpineGPT-test'" in capsys.readouterr().err
    # results of the stage's Hub repo are its own (Hub ids are case-insensitive)
    hub_results = workspace / "eval-baseline" / "hub.json"
    results = load_results(baseline)
    hub_results.write_text(json.dumps({**results, "model": {**results["model"], "id": "SpineMed/SpineGPT-Test"}}))
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", workspace / "foreign", "--dry-run",
                  "--set", "hub_model_id=spinemed/SpineGPT-test", "--eval-results", hub_results) == 0

    # Overridden: attached, and the card says whose scores they are.
    assert _train(workspace, *card_only, "--allow-foreign-eval") == 0
    card = ModelCard.load(stages / "stage2" / "README.md")
    assert card.data.eval_results and "**Another model's scores.** The results below are for `baseline:majority`" in card.text
    assert "--allow-foreign-eval" in card.text
    assert _train(workspace, "--recipe", SMOKE, "--stage", "2", "--output-root", stages, "--card-only") == 0  # restore


class FakeApi:
    """Records what would be sent to the Hub; no network."""

    endpoint = "https://hub.invalid"

    def __init__(self, tags=()):
        self.calls, self.tags, self.commits = [], set(tags), 0

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))
        return SimpleNamespace(repo_id=repo_id)

    def create_branch(self, repo_id, **kw):
        self.calls.append(("create_branch", repo_id, kw))

    def list_repo_refs(self, repo_id, **kw):
        self.calls.append(("list_repo_refs", repo_id, kw))
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in sorted(self.tags)], branches=[])

    def upload_folder(self, **kw):
        self.commits += 1
        folder = Path(kw["folder_path"])
        kw = {**kw, "files": sorted(p.name for p in folder.iterdir()),
              "card": (folder / "README.md").read_text(encoding="utf-8")}
        self.calls.append(("upload_folder", kw["repo_id"], kw))
        return SimpleNamespace(oid=f"{self.commits:040x}")

    def create_tag(self, repo_id, **kw):
        self.tags.add(kw["tag"])
        self.calls.append(("create_tag", repo_id, kw))

    def delete_tag(self, repo_id, **kw):
        self.tags.discard(kw["tag"])
        self.calls.append(("delete_tag", repo_id, kw))


_PUSH = ["--set", "push_to_hub=true", "--set", "hub_model_id=spinemed/SpineGPT-test", "--set", "hub_revision=stage-1",
         "--set", "hub_tag=v0.1.0-stage1", "--set", "max_steps=1", "--set", "save_strategy=no"]


@pytest.fixture
def fake_hub(monkeypatch):
    import transformers.utils.hub

    api = FakeApi()
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", api)  # the instance Trainer and spinemed push with
    return api


def test_push_goes_to_the_stage_branch_and_tags_the_commit(workspace, fake_hub):
    out = workspace / "push"
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", out, *_PUSH,
                  "--set", "hub_push_main=true") == 0
    names = [c[0] for c in fake_hub.calls]
    assert names[:3] == ["create_repo", "create_branch", "list_repo_refs"]  # before training
    assert fake_hub.calls[1][2]["branch"] == "stage-1" and fake_hub.calls[1][2]["exist_ok"]
    uploads = [c[2] for c in fake_hub.calls if c[0] == "upload_folder"]
    assert [u["revision"] for u in uploads] == ["stage-1", "main"]  # the stage branch, then main (release stage)
    branch = uploads[0]
    assert branch["repo_id"] == "spinemed/SpineGPT-test" and branch["folder_path"] == str(out / "stage1")
    assert {"model.safetensors", "config.json", "README.md", "training_summary.json"} <= set(branch["files"])
    assert "checkpoint-*" in branch["ignore_patterns"]
    pushed = ModelCard(branch["card"])  # the SpineGPT card went up, not TRL's default one
    assert pushed.data.pipeline_tag == "image-text-to-text" and "Not for clinical use" in pushed.text
    assert "branch `stage-1`, tag `v0.1.0-stage1`" in pushed.text
    (tag,) = [c for c in fake_hub.calls if c[0] == "create_tag"]
    assert tag[2]["tag"] == "v0.1.0-stage1" and tag[2]["revision"] == f"{1:040x}"  # the branch commit
    assert names.index("create_tag") > max(i for i, n in enumerate(names) if n == "upload_folder")
    hub = _summary(out / "stage1")["stages"][-1]["hub"]
    assert hub["branch"] == "stage-1" and hub["tag"] == "v0.1.0-stage1" and len(hub["done"]) == 3


def test_push_refuses_a_taken_tag_before_training(workspace, fake_hub, capsys):
    fake_hub.tags.add("v0.1.0-stage1")
    out = workspace / "push-taken"
    assert _train(workspace, "--recipe", SMOKE / "stage1.yaml", "--output-root", out, *_PUSH) == 2
    assert "already has tag 'v0.1.0-stage1'" in capsys.readouterr().err
    assert not any(c[0] == "upload_folder" for c in fake_hub.calls)
    assert not (out / "stage1" / "config.json").exists()  # nothing was trained


def test_push_only_reuploads_a_finished_stage(stages, workspace, fake_hub):
    args = ["--recipe", SMOKE / "stage2.yaml", "--output-root", stages, "--push-only", "--overwrite-tag",
            "--set", "hub_model_id=spinemed/SpineGPT-test", "--set", "hub_revision=stage-2", "--set", "hub_tag=v0.1.0-stage2"]
    fake_hub.tags.add("v0.1.0-stage2")
    assert _train(workspace, *args) == 0
    names = [c[0] for c in fake_hub.calls]
    assert names == ["create_repo", "create_branch", "list_repo_refs", "upload_folder", "list_repo_refs",
                     "delete_tag", "create_tag"]
    assert fake_hub.calls[3][2]["revision"] == "stage-2" and fake_hub.calls[-1][2]["tag"] == "v0.1.0-stage2"
    # Stage 2 was trained without push_to_hub: the pushed card names the push target, not a placeholder.
    pushed = ModelCard(fake_hub.calls[3][2]["card"])
    assert 'repo = "spinemed/SpineGPT-test"' in pushed.text and 'revision = "v0.1.0-stage2"' in pushed.text
    assert "path/to/" not in pushed.text and "hf:spinemed/SpineGPT-test" in pushed.text
    assert "Pushed to `spinemed/SpineGPT-test`, branch `stage-2`, tag `v0.1.0-stage2`." in pushed.text
    summary = _summary(stages / "stage2")
    assert summary["repo_id"] == "spinemed/SpineGPT-test"
    assert summary["stages"][-1]["hub"]["done"][-1] == f"tagged v0.1.0-stage2 -> {1:040x}"
