"""The exported SpineBench task run by the real lmms-eval, installed from the package index into a
scratch venv: its scores equal `spinemed eval`'s on the same outputs (slow: minutes, needs the index).

Both harnesses ask the same simulated OpenAI-compatible endpoint (tests/tools/simserver.py),
which answers each prompt deterministically from its text with varied phrasings (answers,
refusals, Chinese answers, bare letters), so the outputs are the same and only the extraction
and scoring are compared.

The venv sees this interpreter's site-packages through a .pth file, so torch, transformers and
datasets are not downloaded a second time; pip installs lmms-eval with the rest of its
dependencies into the venv, and this repository with ``--no-deps``.  ``SPINEMED_LMMS_VENV``
names a venv to create once and reuse (an existing one is used as is).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_eval_support import sample_bench
from tools.simserver import SimServer

from spinemed.evaluation.harness import HARNESS_TASKS, export_harness
from spinemed.evaluation.runner import EvalConfig, run_eval

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PHRASES = ["Answer: {x}", "The answer is ({x}).", "答案：{x}", "Looking at the options, {x} fits best.\nAnswer: {x}",
           "I am not able to answer this.", "{x}"]


def respond(body) -> str:
    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    letters = re.findall(r"^([A-E])\. ", text, flags=re.M) or ["A"]
    h = int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16)
    return PHRASES[h % len(PHRASES)].format(x=letters[(h // 7) % len(letters)])


@pytest.fixture(scope="module")
def lmms_python():
    """The scratch venv's python; a temporary venv is removed afterwards, a $SPINEMED_LMMS_VENV one kept."""
    keep = os.environ.get("SPINEMED_LMMS_VENV")
    venv = Path(keep or tempfile.mkdtemp(prefix="spinemed-lmms-venv-"))
    try:
        yield _venv(venv)
    finally:
        if not keep:
            shutil.rmtree(venv, ignore_errors=True)


def _venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import lmms_eval, spinemed"]).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    Path(purelib, "spinemed-host.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # lmms-eval 0.7.x imports filelock._api, which filelock 4 removed: pin it in the venv (it shadows the host's).
    subprocess.run([*pip, "lmms-eval", "filelock<4"], check=True)
    subprocess.run([*pip, "--no-deps", str(REPO)], check=True)
    return python


def test_lmms_eval_runs_the_exported_task_with_spinemed_scores(tmp_path, lmms_python):
    python = lmms_python
    bench = sample_bench()
    export = export_harness(bench, tmp_path / "harness", allow_unregistered=True)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "OPENAI_API_KEY": "sk-test", "PYTHONPATH": ""}
    with SimServer(latency_s=0.0, max_concurrency=8, responder=respond) as server:
        run = run_eval(EvalConfig(bench=bench, model=f"openai:sim@{server.base_url}", out=tmp_path / "spinemed",
                                  allow_unregistered=True, kinds=list(HARNESS_TASKS), plots=False, bootstrap=0))
        proc = subprocess.run(
            [str(python), "-m", "lmms_eval", "--model", "openai", "--model_args", f"model_version=sim,base_url={server.base_url}",
             "--tasks", "spinebench_mcq", "--include_path", str(export.task_dir), "--log_samples",
             "--output_path", str(tmp_path / "lmms")],
            env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results_file = next((tmp_path / "lmms").rglob("*_results.json"))
    lmms = json.loads(results_file.read_text(encoding="utf-8"))["results"]
    scores = run.results["scores"]
    assert lmms["spinebench_text_mcq"]["accuracy,none"] == pytest.approx(scores["text_mcq"])
    assert lmms["spinebench_image_mcq"]["accuracy,none"] == pytest.approx(scores["image_mcq"])
    assert lmms["spinebench_mcq"]["accuracy,none"] == pytest.approx(scores["closed_qa"])
    assert 0 < scores["closed_qa"] < 100  # the simulated answers are neither all right nor all wrong

    # Item by item: same output, same extraction, same verdict as predictions.jsonl.
    preds = {json.loads(line)["id"]: json.loads(line) for line in run.predictions_path.read_text(encoding="utf-8").splitlines()}
    logged = [json.loads(line) for f in (tmp_path / "lmms").rglob("*_samples_spinebench_*.jsonl")
              for line in f.read_text(encoding="utf-8").splitlines()]
    assert sorted(s["accuracy"]["id"] for s in logged) == sorted(preds)
    for sample in logged:
        record = preds[sample["accuracy"]["id"]]
        assert sample["filtered_resps"] == record["output"] or sample["filtered_resps"] == [record["output"]]
        assert (sample["accuracy"]["extracted"], sample["accuracy"]["reference"]) == (record["extracted"], record["reference"])
        assert sample["accuracy"]["score"] == (100.0 if record["correct"] else 0.0)
