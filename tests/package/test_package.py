"""The kit as a package: the wheel carries the kit's folders, an installed kit finds them, `--version`,
missing extras end in one line naming the extra, and the metric as the Hub serves it (a copied folder)."""

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from spinemed import __version__, cli
from spinemed.extras import EXTRA_MODULES, MissingExtra, extra_for_module, needs_extra
from spinemed.metric.space import build_wheel
from spinemed.paths import CHECKOUT_ROOT, KIT_FOLDERS, checkout_path, in_checkout

ROOT = Path(__file__).resolve().parents[2]


def _kit_files() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for name in KIT_FOLDERS for p in (ROOT / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built wheel unpacked as a site-packages folder (what pip installs), with no checkout around it."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp / "dist")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def _run(code: str, site: Path, cwd: Path, **env) -> subprocess.CompletedProcess:
    """Python with only `site` added to the path (the test env's dependencies), run outside the checkout."""
    full = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def test_setup_py_packs_the_folders_paths_knows():
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    packed = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "KIT_FOLDERS")
    assert tuple(packed) == KIT_FOLDERS
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert all(f"graft {name}\n" in manifest for name in KIT_FOLDERS)  # the sdist carries them too


def test_checkout_resolves_to_the_repository():
    assert in_checkout() and CHECKOUT_ROOT == ROOT
    assert checkout_path("builders", "spinemed_450k", "builder.yaml") == ROOT / "builders" / "spinemed_450k" / "builder.yaml"


def test_wheel_carries_every_kit_file(site):
    packed = {p.relative_to(site / "spinemed" / "_kit").as_posix() for p in (site / "spinemed" / "_kit").rglob("*")
              if p.is_file() and p.name != "__init__.py" or p.parent != site / "spinemed" / "_kit"}
    assert _kit_files() <= packed and len(_kit_files()) > 50
    assert not [p for p in site.rglob("*") if "__pycache__" in p.parts]
    assert (site / "spinemed" / "resources").is_dir() and list((site / "spinemed" / "deid" / "data").iterdir())


def test_installed_kit_reads_its_files_from_package_data(site, tmp_path):
    proc = _run("""
        import json
        from spinemed.paths import checkout_path, in_checkout
        from spinemed.prompts import EVAL_PROMPT_DIR
        from spinemed.corpus.pipeline import DEFAULT_BUILDER
        print(json.dumps({"in_checkout": in_checkout(), "builder": str(DEFAULT_BUILDER), "exists": DEFAULT_BUILDER.is_file(),
                          "prompts": str(EVAL_PROMPT_DIR), "card": checkout_path("dataset_cards", "spinebench.md").is_file()}))
    """, site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    kit = site / "spinemed" / "_kit"
    assert got == {"in_checkout": False, "builder": str(kit / "builders" / "spinemed_450k" / "builder.yaml"), "exists": True,
                   "prompts": str(kit / "builders" / "spinebench" / "eval_prompts"), "card": True}
    version = subprocess.run([sys.executable, "-m", "spinemed.cli", "--version"], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(site)})
    assert version.stdout.strip() == f"spinemed {__version__}"


def test_copied_metric_folder_loads_with_evaluate(tmp_path, monkeypatch):
    """As the Hub serves it: the module folder alone, outside the repository (this test's kit)."""
    evaluate = pytest.importorskip("evaluate")
    folder = shutil.copytree(checkout_path("evaluate_metric", "spinebench"), tmp_path / "spinebench")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", tmp_path / "modules")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    m = evaluate.load(str(folder), cache_dir=str(tmp_path / "cache"))
    r = m.compute(predictions=["The answer is B.", "答案：Ｃ", "I cannot answer this."], references=["B", "C", "A"],
                  task=["text_mcq", "text_mcq", "image_mcq"])
    assert (r["scores"]["text_mcq"], r["scores"]["image_mcq"], round(r["scores"]["total"], 2)) == (100.0, 0.0, 66.67)


@pytest.mark.slow  # a fresh interpreter importing datasets + evaluate: ~10 s
def test_copied_metric_folder_loads_with_the_wheel(site, tmp_path):
    """The same with the kit imported from the unpacked wheel."""
    folder = shutil.copytree(checkout_path("evaluate_metric", "spinebench"), tmp_path / "spinebench")
    proc = _run(f"""
        import evaluate, spinemed
        assert spinemed.__file__.startswith({str(site)!r}), spinemed.__file__
        m = evaluate.load({str(folder)!r}, cache_dir={str(tmp_path / "cache")!r})
        r = m.compute(predictions=["The answer is B.", "答案：Ｃ", "I cannot answer this."], references=["B", "C", "A"],
                      task=["text_mcq", "text_mcq", "image_mcq"])
        print(r["scores"]["text_mcq"], r["scores"]["image_mcq"], round(r["scores"]["total"], 2))
    """, site, tmp_path, HF_MODULES_CACHE=str(tmp_path / "modules"), HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["100.0", "0.0", "66.67"]


def test_metric_without_the_kit_says_how_to_install_it(monkeypatch):
    """The module's own one-line hint (evaluate's scan skips the guarded import), naming this release."""
    import runpy

    pytest.importorskip("evaluate")
    monkeypatch.setitem(sys.modules, "spinemed.scoring", None)  # import raises ModuleNotFoundError
    with pytest.raises(ImportError) as info:
        runpy.run_path(str(checkout_path("evaluate_metric", "spinebench", "spinebench.py")))
    assert str(info.value) == f"the SpineBench metric scores with the SpineMed kit: pip install 'spinemed=={__version__}'"


def test_metric_app_scores_json_lines():
    gr = pytest.importorskip("gradio")
    import importlib.util

    spec = importlib.util.spec_from_file_location("spinebench_metric_app", checkout_path("evaluate_metric", "spinebench", "app.py"))
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)  # builds the Blocks; launching is only for `python app.py`
    scores = app.score_jsonl(app.EXAMPLE)["scores"]
    assert (scores["text_mcq"], scores["image_mcq"], round(scores["total"], 2)) == (100.0, 0.0, 66.67)
    with pytest.raises(gr.Error, match="line 2: not valid JSON"):
        app.score_jsonl('{"prediction": "B", "reference": "B", "task": "text_mcq"}\n{oops')
    with pytest.raises(gr.Error, match="line 1: needs an object with prediction, reference and task"):
        app.score_jsonl('{"prediction": "B"}')
    with pytest.raises(gr.Error, match="is not a SpineBench item kind"):
        app.score_jsonl('{"prediction": "B", "reference": "B", "task": "mcq"}')


# --- extras ---------------------------------------------------------------------------------

def test_needs_extra_names_the_extra():
    def blocked(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    with pytest.raises(MissingExtra) as info, needs_extra("train", "spinemed train"):
        blocked("trl")
    assert str(info.value) == "spinemed train needs the train extra: pip install 'spinemed[train]' (trl is not installed)"
    with pytest.raises(MissingExtra, match=r"needs the train extra"), needs_extra("train", "spinemed train"):
        blocked("torch")  # train installs local
    with pytest.raises(MissingExtra, match=r"spinemed space needs the space extra"), needs_extra("space", "spinemed space"):
        blocked("gradio.themes")
    with pytest.raises(ModuleNotFoundError, match="nosuchthing") as other, needs_extra("local", "x"):
        blocked("nosuchthing")  # not an optional dependency: a broken install keeps its own error
    assert not isinstance(other.value, MissingExtra)
    with pytest.raises(ValueError, match="unknown extra 'gpu'"), needs_extra("gpu", "x"):
        pass
    assert extra_for_module("rapidocr_onnxruntime") == "ocr" and extra_for_module("numpy") is None


def test_every_extra_is_in_pyproject():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert set(EXTRA_MODULES) <= set(extras) and extras["models"] == ["spinemed[local]"]  # the old name stays an alias


@pytest.mark.parametrize(("argv", "blocked", "line"), [
    (["train", "--recipe", "training/recipes/smoke"], "trl", "error: spinemed train needs the train extra: pip install 'spinemed[train]' (trl is not installed)"),
    (["space"], "gradio", "error: spinemed space needs the space extra: pip install 'spinemed[space]' (gradio is not installed)"),
])
def test_cli_missing_extra_is_one_line(argv, blocked, line, monkeypatch, capsys):
    for name in list(sys.modules):
        if name == blocked or name.startswith(blocked + ".") or name in ("spinemed.training.trainer", "spinemed.space.app"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # import raises ModuleNotFoundError
    monkeypatch.chdir(ROOT)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [line]


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"spinemed {__version__}\n"
