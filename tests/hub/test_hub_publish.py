"""The one Hub plan and create-repo / upload / tag helper (`spinemed.hub.publish`), and the flows on it.

The dataset flow is tested in test_hub.py and the metric Space in test_metric_space.py (they
need their built folders); here: the helper itself, the app Space push, the training push, the
repo-id check, the endpoint and the files that ship the library to a Space.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hub_fakes import FakeHub

import spinemed.hub.publish as publish
from spinemed.hub import PublishError, PublishPlan, TagExistsError, library_files
from spinemed.paths import CHECKOUT_ROOT

MIRROR = "https://mirror.example"


@pytest.fixture
def fake_hfapi(monkeypatch):
    """HfApi replaced by FakeHub wherever the helper builds a client; yields the list of clients made."""
    FakeHub.made = []
    monkeypatch.setattr(publish, "HfApi", FakeHub)
    return FakeHub.made


def _plan(**kw) -> PublishPlan:
    base = dict(repo_id="org/thing", tag="v1.0.0", endpoint=MIRROR, private=False, files=[("a.txt", 2)],
                commit_message="Release v1.0.0", tag_message="thing v1.0.0", repo_type="dataset")
    return PublishPlan(**{**base, **kw})


# --------------------------------------------------------------------------------------
# The helper
# --------------------------------------------------------------------------------------


def test_push_creates_the_repo_uploads_and_tags_the_uploaded_commit(tmp_path):
    (tmp_path / "a.txt").write_text("hi")
    api = FakeHub(tags=["v0.9.0"])
    plan = publish.push(_plan(allow_patterns=["a.txt"]), api=api, folder=tmp_path)
    assert api.names() == ["create_repo", "list_repo_refs", "upload_folder", "create_tag"]
    assert api.calls[0][2] == {"repo_type": "dataset", "private": False, "exist_ok": True}
    upload = api.calls[2][2]
    assert upload["folder_path"] == str(tmp_path) and upload["allow_patterns"] == ["a.txt"]
    assert "revision" not in upload and "delete_patterns" not in upload  # only what the plan names
    assert api.calls[3][2] == {"tag": "v1.0.0", "repo_type": "dataset", "tag_message": "thing v1.0.0",
                               "revision": f"{1:040x}"}
    assert plan.commit == f"{1:040x}" and plan.version == "v1.0.0"


def test_push_refuses_a_taken_tag_before_uploading_unless_overwritten(tmp_path):
    api = FakeHub(tags=["v1.0.0"])
    with pytest.raises(TagExistsError, match="org/thing already has tag v1.0.0") as err:
        publish.push(_plan(), api=api, folder=tmp_path)
    assert isinstance(err.value, PublishError) and api.names() == ["create_repo", "list_repo_refs"]
    api = FakeHub(tags=["v1.0.0"])
    publish.push(_plan(overwrite_tag=True), api=api, folder=tmp_path)
    assert api.names() == ["create_repo", "list_repo_refs", "upload_folder", "delete_tag", "create_tag"]


def test_push_of_files_from_anywhere_is_one_commit_and_a_plan_without_tag_lists_no_refs(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    api = FakeHub()
    plan = _plan(tag=None, repo_type="space", space_sdk="gradio", branch="dev")
    publish.push(plan, api=api, files=[("lib/x.py", tmp_path / "x.py")])
    assert api.names() == ["create_repo", "create_branch", "create_commit"]
    assert api.calls[0][2]["space_sdk"] == "gradio" and api.calls[1][2]["branch"] == "dev"
    assert api.calls[2][2]["paths"] == ["lib/x.py"] and api.calls[2][2]["revision"] == "dev"


def test_dry_run_and_the_token_go_where_they_should(tmp_path, fake_hfapi):
    assert publish.push(_plan(dry_run=True), folder=tmp_path).commit is None and fake_hfapi == []
    publish.push(_plan(tag=None), token="hf_x", folder=tmp_path)
    (client,) = fake_hfapi
    assert (client.endpoint, client.token) == (MIRROR, "hf_x")  # the token is the client's, not in each call
    assert all("token" not in kw for _, _, kw in client.calls)
    api = FakeHub(tags=["v1.0.0"])
    publish.open_repo(api, _plan(overwrite_tag=True), token="hf_y")  # a shared client (the Trainer's): per call
    assert all(kw["token"] == "hf_y" for _, _, kw in api.calls)
    with pytest.raises(PublishError, match="no commit id"):
        publish.tag_commit(api, _plan(), None)


@pytest.mark.parametrize("text, ok", [
    ("org/name", True), ("spinemed/SpineMed-450k", True), ("Qwen/Qwen2.5-VL-7B-Instruct", True),
    ("just-a-name", False), ("not a repo", False), ("a/b/c", False), ("/abs/path", False), ("org/", False),
    ("org/name.git", False), ("org/数据", False), (None, False),
])
def test_one_repo_id_check(text, ok):
    assert publish.is_repo_id(text) is ok
    if not ok:
        with pytest.raises(PublishError, match="must look like 'org/name'"):
            publish.check_repo_id(text)


def test_endpoint_comes_from_the_call_the_client_or_huggingface_hub(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    from huggingface_hub import constants

    assert publish.hub_endpoint() == constants.ENDPOINT.rstrip("/")
    monkeypatch.setenv("HF_ENDPOINT", "https://env.example/")
    assert publish.hub_endpoint() == "https://env.example"
    assert publish.hub_endpoint(api=FakeHub(endpoint="https://api.example")) == "https://api.example"
    assert publish.hub_endpoint(MIRROR, api=FakeHub(endpoint="https://api.example")) == MIRROR
    assert publish.repo_url("org/m") == "https://env.example/org/m"
    assert publish.repo_url("org/d", "dataset", MIRROR) == f"{MIRROR}/datasets/org/d"
    assert publish.repo_url("org/s", "space", MIRROR) == f"{MIRROR}/spaces/org/s"
    assert _plan(repo_type="space").url == f"{MIRROR}/spaces/org/thing"


def test_library_files_are_the_package_without_caches():
    files = dict(library_files())
    assert {"spinemed/__init__.py", "spinemed/scoring/results.py", "spinemed/hub/publish.py",
            "spinemed/resources/lexicon.yaml", "spinemed/deid/data/NOTICE"} <= set(files)
    assert all(p == CHECKOUT_ROOT / name for name, p in files.items())
    assert not [n for n in files if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or "/." in n]


# --------------------------------------------------------------------------------------
# The app Space
# --------------------------------------------------------------------------------------


def test_app_space_push_creates_the_space_commits_and_sets_variables(fake_hfapi):
    from spinemed.space.push import push_space

    result = push_space("org/SpineMed", token="hf_t", endpoint=MIRROR, variables={"SPINEMED_BENCH": "org/B@v1.0.0"})
    (client,) = fake_hfapi
    assert (client.endpoint, client.token) == (MIRROR, "hf_t")
    assert client.names() == ["create_repo", "create_commit", "add_space_variable"]
    assert client.calls[0][2] == {"repo_type": "space", "private": False, "exist_ok": True, "space_sdk": "gradio"}
    commit = client.calls[1][2]
    assert commit["repo_type"] == "space" and commit["paths"] == result["files"]
    assert {"app.py", "spinemed/scoring/results.py", "spinemed/deid/data/NOTICE"} <= set(result["files"])
    assert dict(library_files()).keys() <= set(result["files"])  # the same library files as the metric wheel
    assert result["url"] == f"{MIRROR}/spaces/org/SpineMed" and result["commit"] == f"{1:040x}"


def test_app_space_dry_run_url_follows_hf_endpoint_and_bad_ids_are_refused(fake_hfapi, monkeypatch):
    from spinemed.space.push import push_space

    monkeypatch.setenv("HF_ENDPOINT", MIRROR)
    assert push_space("org/SpineMed", dry_run=True)["url"] == f"{MIRROR}/spaces/org/SpineMed" and fake_hfapi == []
    with pytest.raises(PublishError, match="must look like 'org/name'"):
        push_space("SpineMed", dry_run=True)


# --------------------------------------------------------------------------------------
# The training push
# --------------------------------------------------------------------------------------


def _target(**kw):
    from spinemed.training.push import HubTarget

    args = SimpleNamespace(hub_model_id="org/SpineGPT", hub_revision="stage-1", hub_private_repo=None, hub_token="hf_t")
    return HubTarget.from_args(SimpleNamespace(**{**vars(args), **kw}), tag="v0.1.0-stage1", push_main=True)


def test_training_push_creates_repo_and_branch_uploads_and_tags(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    api = FakeHub(endpoint=MIRROR)
    done = _target().push_folder(tmp_path, api=api, message="stage 1")
    assert api.names() == ["create_repo", "create_branch", "list_repo_refs", "upload_folder", "upload_folder",
                           "create_tag"]
    assert api.calls[0][2]["repo_type"] == "model" and api.calls[1][2]["branch"] == "stage-1"
    assert all(kw.get("token") == "hf_t" for _, _, kw in api.calls)  # the Trainer's client: token per call
    branch, main = api.calls[3][2], api.calls[4][2]
    assert (branch["revision"], main["revision"]) == ("stage-1", "main")
    assert branch["ignore_patterns"] == ["_*", "checkpoint-*"] == main["ignore_patterns"]
    assert api.calls[5][2]["tag"] == "v0.1.0-stage1" and api.calls[5][2]["revision"] == f"{1:040x}"  # the branch commit
    assert done["done"] == [f"uploaded to stage-1 at {1:040x}", f"uploaded to main at {2:040x}",
                            f"tagged v0.1.0-stage1 -> {1:040x}"]


def test_training_push_refuses_a_taken_tag_and_a_bad_repo_id(tmp_path):
    from spinemed.training.push import PushError

    api = FakeHub(tags=["v0.1.0-stage1"])
    with pytest.raises(PushError, match="already has tag 'v0.1.0-stage1'; set another hub_tag"):
        _target().preflight(api)
    assert "upload_folder" not in api.names()
    with pytest.raises(PushError, match="must be 'org/name'"):
        _target(hub_model_id="org/a/b")
    with pytest.raises(PushError, match="no commit id"):
        _target().finish(None, tmp_path, api=FakeHub())


def test_model_card_links_the_base_model_on_the_configured_endpoint(tmp_path, monkeypatch):
    from spinemed.training.card import render_model_card

    template = tmp_path / "card.md"
    template.write_text("---\n{{ card_data }}\n---\n{{ base_model_link }}\n", encoding="utf-8")
    summary = {"stages": [{"stage": 1, "decontamination": {"status": "clean"}}], "model_name": "SpineGPT",
               "base_model": "Qwen/Qwen2.5-VL-7B-Instruct"}
    monkeypatch.setenv("HF_ENDPOINT", MIRROR)
    card = render_model_card(summary, template=template)
    assert f"[`Qwen/Qwen2.5-VL-7B-Instruct`]({MIRROR}/Qwen/Qwen2.5-VL-7B-Instruct)" in card.text
