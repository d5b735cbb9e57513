"""The release as a user gets it: `python -m build` + `twine check`, then the wheel alone (no checkout)
installed into a clean venv, run from a folder outside the repository.  Slow: it installs the core's
dependencies from the package index (the only network a test may use)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tools.simserver import SimServer

from spinemed import __version__

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "demo_out", "runs", "bench_out",
                               ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache")


def _run(cmd, cwd, env=None, timeout=1200):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist + wheel built from a copy of the checkout (nothing written into it), checked by twine."""
    pytest.importorskip("build")
    pytest.importorskip("twine")
    tmp = tmp_path_factory.mktemp("release")
    src = shutil.copytree(ROOT, tmp / "src", ignore=_SKIP, symlinks=True)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)], tmp)
    files = sorted((tmp / "dist").iterdir())
    assert [f.name for f in files] == [f"spinemed-{__version__}-py3-none-any.whl", f"spinemed-{__version__}.tar.gz"]
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], tmp)
    return files[0]


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(tmp / "venv")], tmp)
    bin_dir = tmp / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", str(dist)], tmp, env)
    return bin_dir, env


def test_clean_venv_runs_the_demo_and_the_metric_from_outside_the_checkout(venv, tmp_path):
    bin_dir, env = venv
    env = {**env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    work = tmp_path / "work"
    work.mkdir()
    assert _run([str(bin_dir / "spinemed"), "--version"], work, env).stdout.strip() == f"spinemed {__version__}"
    out = _run([str(bin_dir / "spinemed"), "demo", "--out", "demo_out"], work, env).stdout
    assert (work / "demo_out" / "eval").is_dir() and "Offline baselines" in out
    # `spinemed eval` with the core only against a simulated reasoning-model endpoint (400 to max_tokens
    # and to temperature != 1, as OpenAI's gpt-5 family answers): zero errors, the parameters as sent recorded.
    with SimServer(latency_s=0.01, max_concurrency=8, responder=lambda body: "The answer is A.", reasoning=True,
                   models_body={"object": "list", "data": [{"id": "gpt-5-mini", "object": "model"}]}) as server:
        _run([str(bin_dir / "spinemed"), "eval", "--bench", "demo_out/spinebench", "--model",
              f"openai:gpt-5-mini@{server.base_url}", "--out", "runs/sim", "--bootstrap", "0"], work, env)
    results = json.loads((work / "runs" / "sim" / "results.json").read_text(encoding="utf-8"))
    assert results["errors"]["count"] == 0 and results["counts"]["total"] > 0
    sent = results["generation"]["request_params"]
    assert "max_completion_tokens" in sent and "max_tokens" not in sent and sent.get("temperature") is None, sent
    # The core has no gradio: the Space command names its extra in one line.
    proc = subprocess.run([str(bin_dir / "spinemed"), "space"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: spinemed space needs the space extra: pip install 'spinemed[space]' (gradio is not installed)"]
    # The metric as the Hub serves it: its folder copied out of the installed kit, loaded by path.
    code = textwrap.dedent(f"""
        import shutil, evaluate, spinemed
        from spinemed.paths import checkout_path, in_checkout
        assert not in_checkout() and "site-packages" in spinemed.__file__, spinemed.__file__
        folder = shutil.copytree(checkout_path("evaluate_metric", "spinebench"), {str(work / "spinebench")!r})
        m = evaluate.load(str(folder))
        r = m.compute(predictions=["The answer is B.", "答案：Ｃ", "I cannot answer this."], references=["B", "C", "A"],
                      task=["text_mcq", "text_mcq", "image_mcq"])
        print(r["scores"]["text_mcq"], r["scores"]["image_mcq"], round(r["scores"]["total"], 2))
    """)
    assert _run([str(bin_dir / "python"), "-c", code], work, env).stdout.split() == ["100.0", "0.0", "66.67"]
