"""Curriculum recipes, accelerate/DeepSpeed configs, the `spinemed train` CLI plan and the speed benchmark's arithmetic."""

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from spinemed.cli import main as cli_main
from spinemed.training.cli import launch_command
from spinemed.training.cli import main as train_main
from spinemed.training.recipe import TINY_MODEL, load_curriculum, load_recipe, parse_overrides

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "training" / "recipes" / "spinegpt-7b"
SMOKE = ROOT / "training" / "recipes" / "smoke"
ACCEL = ROOT / "training" / "accelerate"
BASE = "Qwen/Qwen2.5-VL-7B-Instruct"


def test_paper_recipes_have_the_papers_hyper_parameters():
    s1, s2, s3 = load_curriculum(PAPER)
    assert [s.stage for s in (s1, s2, s3)] == [1, 2, 3]
    assert [s.training_args["learning_rate"] for s in (s1, s2, s3)] == [1e-5, 1e-5, 1e-6]
    assert [s.max_length for s in (s1, s2, s3)] == [16384, 16384, 49152]
    assert [s.training_args["num_train_epochs"] for s in (s1, s2, s3)] == [1, 1, 1]
    assert [s.zero_stage() for s in (s1, s2, s3)] == [2, 2, 3]
    offload = yaml.safe_load(Path(s3.accelerate_config).read_text())["deepspeed_config"]
    assert offload["offload_optimizer_device"] == offload["offload_param_device"] == "cpu"
    # each stage starts from the previous stage's output; the base model is named everywhere
    assert s1.model_name_or_path == BASE
    assert s2.model_name_or_path == str(s1.output_dir) and s3.model_name_or_path == str(s2.output_dir)
    assert {s.base_model for s in (s1, s2, s3)} == {BASE}
    assert all(s.training_args["assistant_only_loss"] for s in (s1, s2, s3))
    # data: stage 1 general medical + 150k PubMedVision + the orthopedic SpineMed subset
    pmv = next(d for d in s1.mixture.datasets if d.path == "FreedomIntelligence/PubMedVision")
    assert pmv.max_rows == 150_000 and pmv.format == "sharegpt"
    spine1 = [d for d in s1.mixture.datasets if d.path == "spinemed/SpineMed-450k"]
    assert {d.name for d in spine1} == {"mcq", "open_qa", "consultation", "report"}
    assert all(d.where == {"subfield_group": "orthopedic"} for d in spine1)
    assert {d.path for d in s1.mixture.datasets if d.format == "qa"} >= {
        "FreedomIntelligence/medical-o1-reasoning-SFT", "FreedomIntelligence/Medical-R1-Distill-Data",
        "hw-hwei/MedThoughts-8K"}
    assert all(d.where == {"subfield_group": "spinal"} for d in s2.mixture.datasets)
    assert {d.name for d in s3.mixture.datasets} == {"report", "consultation"}
    # guards and hub
    assert all(s.decontamination and s.decontamination.bench == "spinemed/SpineBench" for s in (s1, s2, s3))
    assert s3.vision_keepalive is True
    assert [s.training_args["hub_revision"] for s in (s1, s2, s3)] == ["stage-1", "stage-2", "stage-3"]
    assert [s.hub_tag for s in (s1, s2, s3)] == ["v1.0.0-stage1", "v1.0.0-stage2", "v1.0.0"]
    assert [s.hub_push_main for s in (s1, s2, s3)] == [False, False, True]


@pytest.mark.parametrize("folder", [PAPER, SMOKE])
def test_every_recipe_builds_a_trl_sft_config(folder):
    for recipe in load_curriculum(folder):
        cfg = recipe.sft_config(use_cpu=True, bf16=False)  # the GPU recipes' bf16 needs a GPU to validate
        assert cfg.learning_rate == recipe.training_args["learning_rate"]
        assert cfg.max_length == recipe.max_length and cfg.assistant_only_loss


def test_smoke_recipes_mirror_the_curriculum():
    s1, s2, s3 = load_curriculum(SMOKE, output_root="/tmp/x")
    assert s1.model_name_or_path == TINY_MODEL and s2.model_name_or_path == "/tmp/x/stage1"
    assert s3.model_name_or_path == "/tmp/x/stage2" and str(s3.output_dir) == "/tmp/x/stage3"
    assert s3.vision_keepalive is True and s3.max_length > s1.max_length
    assert s3.training_args["learning_rate"] < s1.training_args["learning_rate"]


@pytest.mark.parametrize("name, zero, offload", [("zero2", 2, "none"), ("zero3", 3, "none"), ("zero3_offload", 3, "cpu"),
                                                 ("single_process", None, None)])
def test_accelerate_configs_parse_with_accelerate(name, zero, offload):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(ACCEL / f"{name}.yaml"))
    if zero is None:
        assert cfg.distributed_type == "NO" and cfg.num_processes == 1
        return
    assert cfg.distributed_type == "DEEPSPEED" and cfg.mixed_precision == "bf16"
    assert cfg.deepspeed_config["zero_stage"] == zero
    assert cfg.deepspeed_config["offload_param_device"] == offload
    assert cfg.deepspeed_config["offload_optimizer_device"] == offload


def test_deepspeed_imports_and_takes_the_zero3_offload_plugin():
    import deepspeed  # noqa: F401  (0.19.8 imports on the CPU)
    from accelerate.utils import DeepSpeedPlugin

    ds = yaml.safe_load((ACCEL / "zero3_offload.yaml").read_text())["deepspeed_config"]
    plugin = DeepSpeedPlugin(zero_stage=ds["zero_stage"], offload_optimizer_device=ds["offload_optimizer_device"],
                             offload_param_device=ds["offload_param_device"], zero3_init_flag=ds["zero3_init_flag"],
                             zero3_save_16bit_model=ds["zero3_save_16bit_model"])
    zero = plugin.deepspeed_config["zero_optimization"]
    assert zero["stage"] == 3 and zero["offload_param"]["device"] == "cpu"


def test_recipe_errors_name_the_file_and_key(tmp_path):
    good = yaml.safe_load((SMOKE / "stage1.yaml").read_text())
    bad = tmp_path / "stage1.yaml"
    bad.write_text(yaml.safe_dump({**good, "learning_rte": 1e-5}))
    with pytest.raises(ValueError, match=r"stage1.yaml: unknown key\(s\) \['learning_rte'\]"):
        load_recipe(bad)
    bad.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "model_name_or_path"}))
    with pytest.raises(ValueError, match="model_name_or_path"):
        load_recipe(bad)
    bad.write_text(yaml.safe_dump({**good, "decontamination": {"threshold": 0.5}}))
    with pytest.raises(ValueError, match="needs 'bench'"):
        load_recipe(bad)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    base = {k: v for k, v in good.items() if k != "model_name_or_path"}
    a.write_text(yaml.safe_dump({**base, "stage": 2, "init_from": "b.yaml"}))
    b.write_text(yaml.safe_dump({**base, "stage": 3, "init_from": "a.yaml"}))
    with pytest.raises(ValueError, match="cycle|not an earlier stage"):
        load_recipe(b)
    with pytest.raises(ValueError, match="no stage 7"):
        load_curriculum(SMOKE, stage=7)


def test_overrides():
    assert parse_overrides(["max_steps=20", "dataset_mixture.seed=1", "report_to=[tensorboard]"]) == {
        "max_steps": 20, "dataset_mixture": {"seed": 1}, "report_to": ["tensorboard"]}
    recipe = load_recipe(SMOKE / "stage1.yaml", parse_overrides(["learning_rate=3e-4", "dataset_mixture.seed=7"]))
    assert recipe.training_args["learning_rate"] == 3e-4 and recipe.mixture.seed == 7
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["max_steps"])


def test_dry_run_prints_the_plan_and_launch_lines(capsys):
    assert cli_main(["train", "--recipe", str(PAPER), "--dry-run", "--output-root", "/data/runs"]) == 0
    out = capsys.readouterr().out
    assert out.count("launch    ") == 3
    assert "ZeRO-3" in out and "/data/runs/stage2" in out and "FreedomIntelligence/PubMedVision" in out
    assert "--config_file" in out and "zero3_offload.yaml" in out and "branch stage-3  tag v1.0.0  + main" in out


def test_launch_command_for_multi_node():
    args = SimpleArgs(num_machines=2, machine_rank=1, main_process_ip="10.0.0.1", main_process_port=29500)
    cmd = launch_command(PAPER / "stage3.yaml", 3, args, "training/accelerate/zero3_offload.yaml")
    assert cmd[:5] == [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                       "training/accelerate/zero3_offload.yaml"]
    joined = " ".join(cmd)
    # accelerate's num_processes is the total over the machines: 2 nodes x 8 GPUs, not the config's 8
    assert "--num_processes 16 --num_machines 2 --machine_rank 1 --main_process_ip 10.0.0.1" in joined
    assert "-m spinemed.training.cli --recipe" in joined and "--stage 3" in joined
    assert "--allow-contaminated" not in joined and "--allow-foreign-eval" not in joined
    assert "--allow-foreign-eval" in launch_command(PAPER / "stage3.yaml", 3, SimpleArgs(allow_foreign_eval=True),
                                                    "training/accelerate/zero3_offload.yaml")

    def n_proc(**kw):
        cmd = launch_command(PAPER / "stage1.yaml", 1, SimpleArgs(**kw), "training/accelerate/zero2.yaml")
        return int(cmd[cmd.index("--num_processes") + 1]) if "--num_processes" in cmd else None

    assert n_proc(num_machines=4, gpus_per_node=4) == 16
    assert n_proc(gpus_per_node=2) == 2 and n_proc() is None and n_proc(num_machines=1) is None  # the config's 8
    assert n_proc(num_processes=24, num_machines=3) == 24 and n_proc(num_processes=8, num_machines=2, gpus_per_node=4) == 8
    with pytest.raises(ValueError, match="total over all machines.*multiple of --num-machines 2"):
        n_proc(num_processes=7, num_machines=2)
    with pytest.raises(ValueError, match="contradicts --gpus-per-node 8"):
        n_proc(num_processes=8, num_machines=2, gpus_per_node=8)
    # the configs hold one node's worth: 8 processes on 1 machine
    for name in ("zero2", "zero3", "zero3_offload"):
        cfg = yaml.safe_load((ACCEL / f"{name}.yaml").read_text())
        assert cfg["num_processes"] == 8 and cfg["num_machines"] == 1


def test_multi_node_dry_run_shows_the_total_process_count(capsys):
    assert cli_main(["train", "--recipe", str(PAPER), "--stage", "3", "--dry-run", "--num-machines", "2",
                     "--gpus-per-node", "4", "--machine-rank", "0", "--main-process-ip", "10.0.0.1"]) == 0
    assert "--num_processes 8 --num_machines 2 --machine_rank 0" in capsys.readouterr().out
    assert train_main(["--recipe", str(PAPER), "--stage", "3", "--dry-run", "--num-machines", "2",
                       "--num-processes", "3"]) == 2
    assert "total over all machines" in capsys.readouterr().err


class SimpleArgs:
    def __init__(self, **kw):
        defaults = dict(accelerate_config=None, num_processes=None, gpus_per_node=None, num_machines=None, machine_rank=None,
                        main_process_ip=None, main_process_port=None, resume="auto", output_root=None, overrides=[],
                        eval_results=[], allow_contaminated=False, allow_foreign_eval=False, overwrite_tag=False)
        self.__dict__.update({**defaults, **kw})


def test_cli_reports_bad_recipes(tmp_path, capsys):
    assert train_main(["--recipe", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks" / "bench_train.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_shapes_and_flop_count():
    bench = _load_bench()
    cfg3, cfg7 = bench.build_config("3b", 8192), bench.build_config("7b", 8192)
    # 3B: 36 layers x (2 x 2048^2 + 2 x 2048 x 256 + 3 x 2048 x 11008) + 151936 x 2048 LM head
    fpt3, n3 = bench.flops_per_token(cfg3, 8192)
    assert n3 == 36 * (2 * 2048**2 + 2 * 2048 * 256 + 3 * 2048 * 11008) + 151936 * 2048
    assert fpt3 == 6 * n3 + 12 * 36 * 2048 * 8192
    assert 2.9e9 < n3 < 3.4e9
    _, n7 = bench.flops_per_token(cfg7, 8192)
    assert 6.5e9 < n7 < 7.6e9 and cfg7.text_config.num_key_value_heads == 4
    assert bench.gpu_peak("NVIDIA H100 80GB HBM3") == 989.4 and bench.gpu_peak("NVIDIA H100 PCIe") == 756.0


def test_benchmark_cpu_smoke_runs(tmp_path):
    bench = _load_bench()
    out = tmp_path / "bench.json"
    assert bench.main(["--shape", "tiny", "--seq-len", "64", "--steps", "2", "--warmup", "1", "--json", str(out),
                       "--peak-tflops", "1.0"]) == 0
    import json

    (res,) = json.loads(out.read_text())["results"]
    assert res["tokens_per_s"] > 0 and 0 < res["mfu"] < 1 and res["peak_source"] == "given"
    assert res["loss_last"] == res["loss_last"]  # finite
