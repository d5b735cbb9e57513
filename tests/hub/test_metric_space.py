"""Publishing the metric as a Hub Space: prepared folder (index release or bundled wheel), requirements, fake Hub api, CLI."""

import argparse
import shutil
import zipfile
from pathlib import Path

import pytest

import spinemed.metric.space as metric_space
from spinemed import __version__
from spinemed.metric import cli as metric_cli
from spinemed.metric.space import MetricSpaceError, kit_root, prepare_metric_space, publish_metric_space

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One real preparation (one wheel build, ~3 s) shared by the tests below."""
    before = sorted(p.name for p in ROOT.iterdir())
    folder = prepare_metric_space(tmp_path_factory.mktemp("space") / "spinebench", bundle_wheel=True)
    assert sorted(p.name for p in ROOT.iterdir()) == before  # no build/ or egg-info left in the checkout
    return folder


def _requirement_lines(folder):
    text = (folder / "requirements.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_prepared_folder_bundles_the_wheel_that_requirements_install(prepared):
    names = {p.name for p in prepared.iterdir()}
    wheels = sorted(prepared.glob("spinemed-*-py3-none-any.whl"))
    assert len(wheels) == 1
    assert names == {"spinebench.py", "README.md", "app.py", "requirements.txt", wheels[0].name}
    lines = _requirement_lines(prepared)
    # The wheel line names the file that is there; no line asks PyPI for spinemed.
    assert lines[-1] == f"./{wheels[0].name}" and (prepared / lines[-1]).is_file()
    assert not [x for x in lines[:-1] if x.lower().startswith("spinemed")]
    assert {"evaluate>=0.4.6", "datasets>=4.0", "numpy>=1.26"} <= set(lines)
    with zipfile.ZipFile(wheels[0]) as zf:
        files = set(zf.namelist())
        meta = next(n for n in files if n.endswith(".dist-info/WHEEL"))
        assert "Root-Is-Purelib: true" in zf.read(meta).decode()
    assert {"spinemed/scoring/results.py", "spinemed/choices.py", "spinemed/levels.py", "spinemed/metric/space.py"} <= files
    assert not [n for n in files if "__pycache__" in n]
    for name in ("spinebench.py", "README.md", "app.py"):  # copied unchanged
        assert (prepared / name).read_bytes() == (ROOT / "evaluate_metric" / "spinebench" / name).read_bytes()


def test_default_folder_installs_this_release_from_the_index(tmp_path):
    folder = prepare_metric_space(tmp_path / "spinebench")
    assert {p.name for p in folder.iterdir()} == {"spinebench.py", "README.md", "app.py", "requirements.txt"}
    lines = _requirement_lines(folder)
    assert lines[-1] == f"spinemed=={__version__}" and [x for x in lines if x.startswith("spinemed")] == lines[-1:]
    assert {"evaluate>=0.4.6", "datasets>=4.0", "numpy>=1.26"} <= set(lines)


def test_prepared_folder_loads_offline_with_evaluate(prepared, tmp_path, monkeypatch):
    evaluate = pytest.importorskip("evaluate")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", tmp_path / "modules")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_CACHE", tmp_path / "evaluate")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    module = evaluate.load(str(prepared), cache_dir=str(tmp_path / "cache"))
    res = module.compute(predictions=["答案：Ｂ", "C"], references=["B", "A"], task=["text_mcq", "image_mcq"])
    assert res["scores"]["text_mcq"] == 100.0 and res["scores"]["image_mcq"] == 0.0 and res["scores"]["total"] == 50.0


def test_prepare_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(MetricSpaceError, match="exists and is not an empty folder"):
        prepare_metric_space(tmp_path)
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_kit_root_needs_a_checkout(tmp_path, monkeypatch):
    assert kit_root() == ROOT
    monkeypatch.setattr(metric_space, "_PACKAGE_DIR", tmp_path / "site-packages" / "spinemed")
    with pytest.raises(MetricSpaceError, match="not inside a SpineMed checkout"):
        kit_root()


class FakeApi:
    """Records HfApi calls; `upload_folder` snapshots the folder it is given."""

    endpoint = "https://hub.example"

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        folder = Path(kwargs["folder_path"])
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        self.calls.append(("upload_folder", kwargs["repo_id"], {**kwargs, "files": files}))
        return type("CommitInfo", (), {"oid": "c0ffee"})()


@pytest.fixture
def fast_wheel(prepared, monkeypatch):
    """Reuse the module's wheel instead of building one per publish."""
    wheel = next(prepared.glob("spinemed-*.whl"))

    def build_wheel(out_dir, *, root=None):
        return Path(shutil.copy2(wheel, Path(out_dir) / wheel.name))

    monkeypatch.setattr(metric_space, "build_wheel", build_wheel)
    return wheel.name


def test_publish_installs_the_index_release_by_default():
    api = FakeApi()
    plan = publish_metric_space("org/spinebench", api=api)
    kwargs = api.calls[1][2]
    assert set(kwargs["files"]) == {"spinebench.py", "README.md", "app.py", "requirements.txt"}
    assert kwargs["files"]["requirements.txt"].decode().rstrip().endswith(f"spinemed=={__version__}")
    assert kwargs["delete_patterns"] == ["*.whl"]  # a wheel of an earlier bundled publish goes
    assert f"scorer spinemed=={__version__} from the package index" in plan.describe()


def test_publish_creates_a_gradio_space_and_uploads_the_prepared_folder(fast_wheel):
    api = FakeApi()
    plan = publish_metric_space("org/spinebench", api=api, wheel_ref="relative")
    (create, upload) = api.calls
    assert create == ("create_repo", "org/spinebench", {"repo_type": "space", "space_sdk": "gradio", "private": False, "exist_ok": True})
    name, repo_id, kwargs = upload
    assert name == "upload_folder" and repo_id == "org/spinebench" and kwargs["repo_type"] == "space"
    assert kwargs["delete_patterns"] == ["*.whl"]  # an older wheel does not linger
    assert set(kwargs["files"]) == {"spinebench.py", "README.md", "app.py", "requirements.txt", fast_wheel}
    assert kwargs["files"]["requirements.txt"].decode().rstrip().endswith(f"./{fast_wheel}")
    assert plan.commit == "c0ffee" and plan.url == "https://hub.example/spaces/org/spinebench" and not plan.dry_run
    assert plan.folder is None and not Path(kwargs["folder_path"]).exists()  # the temporary folder is gone
    assert "published metric Space org/spinebench" in plan.describe()


def test_publish_dry_run_sends_nothing_and_can_keep_the_folder(fast_wheel, tmp_path):
    api = FakeApi()
    plan = publish_metric_space("org/spinebench", api=api, dry_run=True, work_dir=tmp_path / "spinebench", private=True,
                                wheel_ref="relative")
    assert api.calls == [] and plan.dry_run and plan.private
    assert dict(plan.files)["requirements.txt"] > 0 and fast_wheel in dict(plan.files)
    assert plan.folder == str(tmp_path / "spinebench") and (tmp_path / "spinebench" / fast_wheel).is_file()
    assert plan.describe().startswith("would publish metric Space org/spinebench at https://hub.example/spaces/org/spinebench")


def test_publish_with_the_wheel_named_by_its_hub_url(fast_wheel):
    api = FakeApi()
    publish_metric_space("org/spinebench", api=api, wheel_ref="hub")
    reqs = api.calls[1][2]["files"]["requirements.txt"].decode()
    assert reqs.rstrip().endswith(f"spinemed @ https://hub.example/spaces/org/spinebench/resolve/main/{fast_wheel}")
    with pytest.raises(MetricSpaceError, match="needs a public Space"):
        publish_metric_space("org/spinebench", api=api, wheel_ref="hub", private=True)
    with pytest.raises(MetricSpaceError, match="wheel_ref must be 'index', 'relative' or 'hub'"):
        publish_metric_space("org/spinebench", api=api, wheel_ref="url")


def test_publish_rejects_a_bad_repo_id():
    with pytest.raises(MetricSpaceError, match="repo_id 'spinebench' must look like 'org/name'"):
        publish_metric_space("spinebench", api=FakeApi())


def _cli(argv):
    parser = argparse.ArgumentParser(prog="spinemed")
    metric_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_publish_dry_run_and_errors(fast_wheel, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example")
    assert _cli(["metric", "publish", "--repo", "org/spinebench", "--dry-run", "--wheel-ref", "relative"]) == 0
    out = capsys.readouterr().out
    assert "would publish metric Space org/spinebench at https://hub.example/spaces/org/spinebench" in out and fast_wheel in out
    assert _cli(["metric", "publish", "--repo", "not a repo", "--dry-run"]) == 2
    assert capsys.readouterr().err == "error: repo_id 'not a repo' must look like 'org/name'\n"
    assert _cli(["metric", "prepare", "--out", str(tmp_path / "spinebench"), "--bundle-wheel"]) == 0
    out = capsys.readouterr().out
    assert f"load it: evaluate.load('{tmp_path / 'spinebench'}')" in out and (tmp_path / "spinebench" / fast_wheel).is_file()
    with pytest.raises(SystemExit):
        _cli(["metric"])  # an action is required


def test_publish_builds_its_client_for_the_endpoint_through_the_shared_helper(fast_wheel, monkeypatch, tmp_path):
    """No api given: the Hub helper makes an HfApi for --endpoint; the Space page and the wheel URL use it."""
    from hub_fakes import FakeHub

    import spinemed.hub.publish as publish

    FakeHub.made = []
    monkeypatch.setattr(publish, "HfApi", FakeHub)
    plan = publish_metric_space("org/spinebench", endpoint="https://mirror.example/", token="hf_t", wheel_ref="hub",
                                work_dir=tmp_path / "spinebench")
    (client,) = FakeHub.made
    assert (client.endpoint, client.token) == ("https://mirror.example", "hf_t")
    assert client.names() == ["create_repo", "upload_folder"]  # a Space release has no tag
    assert client.calls[0][2] == {"repo_type": "space", "space_sdk": "gradio", "private": False, "exist_ok": True}
    assert plan.url == "https://mirror.example/spaces/org/spinebench" and plan.commit == f"{1:040x}"
    assert plan.describe().startswith("published metric Space org/spinebench at https://mirror.example/spaces/org/spinebench")
    assert client.calls[1][2]["files"] == sorted(path for path, _ in plan.files)
    reqs = (tmp_path / "spinebench" / "requirements.txt").read_text(encoding="utf-8")
    assert reqs.rstrip().endswith(f"spinemed @ https://mirror.example/spaces/org/spinebench/resolve/main/{fast_wheel}")
