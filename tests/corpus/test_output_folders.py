"""`spinemed build --out`: someone else's folder is refused, a failed rebuild keeps the old release.

The build writes the whole dataset folder into a staging folder next to --out and swaps it in
only when complete (spinemed/hub/staging.py)."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinemed.cli import main as cli_main
from spinemed.corpus import pipeline
from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.validate import Validate
from spinemed.hub import load_manifest, verify_folder
from spinemed.hub.staging import OutputFolderError, StagedFolder, foreign_content

LIMIT = 20  # source records: a small build is enough to exercise the folder handling


def _snapshot(parent: Path) -> dict[str, bytes | None]:
    """Every path under `parent` (the --out folder's parent) with its bytes (None for folders)."""
    return {p.relative_to(parent).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(parent.rglob("*"))}


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _foreign_dataset(out: Path) -> None:
    """Someone else's dataset: a card and a parquet shard spinemed did not write."""
    (out / "data").mkdir(parents=True)
    (out / "README.md").write_text("---\nlicense: mit\n---\n# Their dataset\n", "utf-8")
    pq.write_table(pa.table({"text": ["theirs"]}), out / "data" / "train-00000-of-00001.parquet")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A good build (v1.0.0) to copy and rebuild over."""
    out = tmp_path_factory.mktemp("good") / "spinemed-450k"
    run_build(BuildConfig(out=out, limit=LIMIT), progress=None)
    verify_folder(out)
    return out


def _copy_good(good: Path, tmp_path: Path) -> Path:
    out = tmp_path / "spinemed-450k"
    shutil.copytree(good, out)
    shutil.copytree(good.parent / f"{good.name}.work", tmp_path / f"{out.name}.work")  # warm request cache
    return out


# --------------------------------------------------------------------------------------
# Someone else's folder
# --------------------------------------------------------------------------------------


def test_foreign_dataset_is_refused_and_left_byte_identical(tmp_path, capsys):
    out = tmp_path / "theirs"
    _foreign_dataset(out)
    before = _snapshot(tmp_path)
    rc = cli_main(["build", "--out", str(out), "--limit", str(LIMIT)])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(out) in err and "README.md" in err and "data/train-00000-of-00001.parquet" in err
    assert "--overwrite" in err
    assert _snapshot(tmp_path) == before  # nothing changed, nothing created (no staging, no work dir)


def test_overwrite_replaces_a_foreign_dataset(tmp_path):
    out = tmp_path / "theirs"
    _foreign_dataset(out)
    assert cli_main(["build", "--out", str(out), "--limit", str(LIMIT), "--overwrite", "--json"]) == 0
    manifest = verify_folder(out)
    assert manifest["name"] and not (out / "data" / "train-00000-of-00001.parquet").exists()
    assert "Their dataset" not in (out / "README.md").read_text("utf-8")
    assert _leftovers(out) == []


def test_refusal_names_a_stray_file_next_to_a_build(good, tmp_path):
    out = _copy_good(good, tmp_path)
    (out / "notes.txt").write_text("mine", "utf-8")
    with pytest.raises(OutputFolderError, match=r"notes\.txt"):
        run_build(BuildConfig(out=out, limit=LIMIT), progress=None)
    assert (out / "notes.txt").read_text("utf-8") == "mine"


@pytest.mark.parametrize("forge, reason", [
    (lambda m: {}, "format"),
    (lambda m: {**m, "format": 99}, "format"),
    (lambda m: {**m, "version": "latest"}, "version"),
    (lambda m: {**m, "versions": {"pipeline": "1"}}, "versions"),
    (lambda m: {**m, "shards": [{**m["shards"][0], "sha256": "0" * 64}] + m["shards"][1:]}, "content_hash"),
    (lambda m: {k: v for k, v in m.items() if k != "build"}, "build record"),
    (lambda m: [m], "not a JSON object"),
])
def test_a_manifest_is_checked_by_its_fields_not_its_presence(good, tmp_path, forge, reason):
    out = _copy_good(good, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    (out / "manifest.json").write_text(json.dumps(forge(manifest)), "utf-8")
    problems = foreign_content(out)
    assert any(reason in p for p in problems), problems
    with pytest.raises(OutputFolderError, match="did not write"):
        StagedFolder(out).check()


def test_an_unlisted_or_changed_shard_makes_the_folder_foreign(good, tmp_path):
    out = _copy_good(good, tmp_path)
    assert foreign_content(out) == []
    extra = out / "data" / "mcq" / "train-00009-of-00010.parquet"
    extra.write_bytes(b"PAR1")
    assert any("train-00009-of-00010.parquet" in p for p in foreign_content(out))
    extra.unlink()
    shard = next((out / "data" / "mcq").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes() + b"x")  # a size the manifest does not record
    assert any(shard.name in p for p in foreign_content(out))


def test_missing_empty_or_file_out(tmp_path):
    assert foreign_content(tmp_path / "nope") == []
    (tmp_path / "empty").mkdir()
    assert foreign_content(tmp_path / "empty") == []
    (tmp_path / "f").write_text("x")
    assert foreign_content(tmp_path / "f") == ["f is a file, not a folder"]
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    assert "symbolic link" in foreign_content(tmp_path / "link")[0]


def test_overwrite_never_replaces_the_sources_work_dir_or_current_folder(tmp_path, monkeypatch):
    sources = tmp_path / "raw" / "sources"
    sources.mkdir(parents=True)
    with pytest.raises(OutputFolderError, match="holds"):
        StagedFolder(tmp_path / "raw", overwrite=True, protect=(sources,)).check()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFolderError, match="holds"):
        StagedFolder(Path("."), overwrite=True).check()
    assert sources.is_dir()


# --------------------------------------------------------------------------------------
# Rebuilding over a good build
# --------------------------------------------------------------------------------------


def _raise(*_a, **_k):
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize("where", ["mid-pipeline", "card", "manifest"])
def test_failed_rebuild_leaves_the_old_release_byte_identical_and_publishable(good, tmp_path, monkeypatch, where):
    out = _copy_good(good, tmp_path)
    before = _snapshot(out)
    if where == "mid-pipeline":
        monkeypatch.setattr(Validate, "process", _raise)
    elif where == "card":
        monkeypatch.setattr(pipeline, "write_dataset_card", _raise)
    else:
        monkeypatch.setattr(pipeline, "write_manifest", _raise)
    with pytest.raises(RuntimeError, match="simulated failure"):
        run_build(BuildConfig(out=out, limit=LIMIT, version="v2.0.0"), progress=None)
    assert _snapshot(out) == before
    assert verify_folder(out)["version"] == "v1.0.0"
    assert _leftovers(out) == []


def test_successful_rebuild_replaces_the_old_release(good, tmp_path):
    out = _copy_good(good, tmp_path)
    summary = run_build(BuildConfig(out=out, limit=LIMIT, version="v2.0.0"), progress=None)
    assert verify_folder(out)["version"] == "v2.0.0" == summary["manifest"]["version"]
    assert load_manifest(out)["content_hash"] == load_manifest(good)["content_hash"]  # same inputs, same shards
    assert _leftovers(out) == []
    work = json.loads((tmp_path / "spinemed-450k.work" / "summary.json").read_text("utf-8"))
    assert work["version"] == "v2.0.0" and ".staging-" not in json.dumps(work)


def test_a_kill_between_the_two_renames_is_recovered(good, tmp_path):
    """commit() renames out away, then staging in; killed in between, the next build restores out."""
    out = _copy_good(good, tmp_path)
    before = _snapshot(out)
    folder = StagedFolder(out)
    staging = folder.begin()
    (staging / "partial").write_text("x")
    out.rename(out.parent / f".{out.name}.old-0123456789ab")  # the first rename, then the kill
    assert not out.exists()
    again = StagedFolder(out)
    again.begin()
    assert _snapshot(out) == before and verify_folder(out)["version"] == "v1.0.0"
    assert _leftovers(out) == [again.staging.name]  # the killed build's staging folder is gone
    again.abort()
    assert _leftovers(out) == []


def test_data_put_into_out_while_the_build_ran_is_not_replaced(good, tmp_path):
    out = _copy_good(good, tmp_path)
    folder = StagedFolder(out)
    staging = folder.begin()
    (out / "notes.txt").write_text("written during the build", "utf-8")
    with pytest.raises(OutputFolderError, match="finished build is kept in"):
        folder.commit()
    assert (out / "notes.txt").read_text("utf-8") == "written during the build" and staging.is_dir()
    folder.abort()
    assert _leftovers(out) == []


def test_a_build_refused_at_the_swap_keeps_its_finished_folder(good, tmp_path, monkeypatch):
    out = _copy_good(good, tmp_path)
    real_write_manifest = pipeline.write_manifest

    def write_manifest_then_intrude(*args, **kwargs):
        manifest = real_write_manifest(*args, **kwargs)
        (out / "notes.txt").write_text("mine", "utf-8")  # someone writes into --out while the build runs
        return manifest

    monkeypatch.setattr(pipeline, "write_manifest", write_manifest_then_intrude)
    with pytest.raises(OutputFolderError, match="finished build is kept in") as err:
        run_build(BuildConfig(out=out, limit=LIMIT, version="v2.0.0"), progress=None)
    kept = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.staging-")]
    assert len(kept) == 1 and str(kept[0]) in str(err.value)
    assert verify_folder(kept[0])["version"] == "v2.0.0" and verify_folder(out)["version"] == "v1.0.0"
    assert (out / "notes.txt").read_text("utf-8") == "mine"
