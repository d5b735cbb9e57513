"""Sharded builds (corpus/shards.py): shards 0..N-1 of the sample sources, merged, are the
unsharded sample build (rows, order, accounting, content hash); bad shard sets are refused with
the folder and the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spinemed.cli import main as cli_main
from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.corpus.shards import RECORDS_FILE, SHARD_FILE, ShardError, parse_shard
from spinemed.hub.staging import OutputFolderError
from spinemed.schema import TASKS

N = 3


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("shards")
    folders = []
    for rank in range(N):
        out = root / f"shard-{rank}"
        summary = run_build(BuildConfig(out=out, shard=f"{rank}/{N}"), progress=None)
        assert summary["shard"] == f"{rank}/{N}" and (out / SHARD_FILE).is_file()
        folders.append(out)
    return folders


def _rows(folder: Path) -> dict[str, list[dict]]:
    return {t: [row for f in sorted((folder / "data" / t).glob("*.parquet")) for row in pq.read_table(f).to_pylist()]
            for t in TASKS}


def _summary(folder: Path) -> dict:
    return json.loads((folder.parent / f"{folder.name}.work" / "summary.json").read_text("utf-8"))


def test_merged_shards_are_the_unsharded_build(sample_corpus, shards, tmp_path):
    # every shard read a part of the sources, and together they read each record once
    metas = [json.loads((f / SHARD_FILE).read_text("utf-8")) for f in shards]
    assert sorted(m["rank"] for m in metas) == list(range(N)) and all(m["records_read"] > 0 for m in metas)
    full = _summary(sample_corpus)
    assert sum(m["records_read"] for m in metas) == full["accounting"]["source_records"]

    out = tmp_path / "merged"
    merged = run_build(BuildConfig(out=out, merge=list(reversed(shards))), progress=None)  # any order of folders
    assert merged["accounting"] == full["accounting"] and merged["rows"] == full["rows"]
    assert _rows(out) == _rows(sample_corpus)  # the same rows in the same order
    manifests = [json.loads((f / "manifest.json").read_text("utf-8")) for f in (out, sample_corpus)]
    assert manifests[0]["content_hash"] == manifests[1]["content_hash"]
    # the work files hold the shards' quarantine and source defects too
    work = out.parent / "merged.work"
    issues = (work / "source_issues.jsonl").read_text("utf-8").splitlines()
    assert len(issues) == full["accounting"]["source_defects"]


@pytest.mark.parametrize("value", ["3/3", "-1/3", "1", "a/b", "0/0", ""])
def test_bad_shard_values_are_refused(value):
    with pytest.raises(ShardError, match="I/N"):
        parse_shard(value)


def test_incomplete_or_mixed_shard_sets_are_refused(shards, tmp_path):
    with pytest.raises(ShardError, match=r"missing \[2\]"):
        run_build(BuildConfig(out=tmp_path / "a", merge=shards[:2]), progress=None)
    with pytest.raises(ShardError, match=r"given twice \[0\]"):
        run_build(BuildConfig(out=tmp_path / "b", merge=[shards[0], *shards]), progress=None)
    other = tmp_path / "other"
    shutil.copytree(shards[0], other)
    meta = json.loads((other / SHARD_FILE).read_text("utf-8"))
    (other / SHARD_FILE).write_text(json.dumps({**meta, "deid_version": "deid-0.0"}), "utf-8")
    with pytest.raises(ShardError, match="other: deid_version"):
        run_build(BuildConfig(out=tmp_path / "c", merge=[other, *shards[1:]]), progress=None)
    # a shard that walked another source tree (a file added or removed) numbers files differently
    (other / SHARD_FILE).write_text(json.dumps({**meta, "sources_fingerprint": "0" * 64}), "utf-8")
    with pytest.raises(ShardError, match="read different sources"):
        run_build(BuildConfig(out=tmp_path / "c", merge=[other, *shards[1:]]), progress=None)
    with pytest.raises(ShardError, match="not a finished shard folder"):
        run_build(BuildConfig(out=tmp_path / "d", merge=[tmp_path, *shards[1:]]), progress=None)
    with pytest.raises(ShardError, match="--limit"):
        run_build(BuildConfig(out=tmp_path / "e", shard="0/2", limit=5), progress=None)


def test_a_changed_shard_record_is_refused(shards, tmp_path):
    """A record edited after de-identification would reach an endpoint unscrubbed: its stamp no
    longer matches, and the merge names the shard file and line."""
    copies = []
    for f in shards:
        copies.append(tmp_path / f.name)
        shutil.copytree(f, copies[-1])
    path = copies[1] / RECORDS_FILE
    lines = path.read_text("utf-8").splitlines()
    obj = json.loads(lines[0])
    obj["record"]["text"] += " Patient John Smith."
    lines[0] = json.dumps(obj, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(ShardError, match=rf"{RECORDS_FILE}:1: .*changed after de-identification"):
        run_build(BuildConfig(out=tmp_path / "out", merge=copies), progress=None)


def test_a_rerun_replaces_its_shard_folder_and_nothing_else(shards, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(shards[2], again)
    (again / "stale.txt").write_text("from an earlier run", "utf-8")
    run_build(BuildConfig(out=again, shard=f"2/{N}"), progress=None)
    assert not (again / "stale.txt").exists()
    assert (again / RECORDS_FILE).read_bytes() == (shards[2] / RECORDS_FILE).read_bytes()  # deterministic
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("someone else's", "utf-8")
    with pytest.raises(OutputFolderError, match="spinemed did not write"):
        run_build(BuildConfig(out=theirs, shard=f"0/{N}"), progress=None)
    with pytest.raises(OutputFolderError, match="refusing to use"):  # a merge never writes into a shard
        run_build(BuildConfig(out=shards[0], merge=shards, overwrite=True), progress=None)


def test_cli_shard_and_merge_errors_exit_2(tmp_path, capsys):
    assert cli_main(["build", "--shard", "3/3", "--out", str(tmp_path / "s")]) == 2
    assert "I/N" in capsys.readouterr().err
    assert cli_main(["build", "--merge", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "not a finished shard folder" in capsys.readouterr().err


def test_a_truncated_shard_file_is_a_shard_error(shards, tmp_path):
    copies = []
    for f in shards:
        copies.append(tmp_path / f.name)
        shutil.copytree(f, copies[-1])
    path = copies[2] / RECORDS_FILE
    lines = path.read_text("utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2], "utf-8")  # cut mid-line
    with pytest.raises(ShardError, match=rf"{RECORDS_FILE}:{len(lines)}: .*truncated or corrupt"):
        run_build(BuildConfig(out=tmp_path / "out", merge=copies), progress=None)
    path.write_text(json.dumps({"order": [0, 0]}) + "\n", "utf-8")  # a line without its record
    with pytest.raises(ShardError, match=rf"{RECORDS_FILE}:1: .*KeyError"):
        run_build(BuildConfig(out=tmp_path / "out2", merge=copies), progress=None)


def test_shards_and_merge_must_agree_on_the_ocr_settings(shards, tmp_path, monkeypatch):
    """A merge with --ocr-check over shards built without it would claim a burned-in-text check
    that never ran; shards read with different OCR engines read scanned pages differently."""
    metas = [json.loads((f / SHARD_FILE).read_text("utf-8")) for f in shards]
    assert all(m["ocr_check"] is False and "relevance" in m and "pcm_check" in m for m in metas)
    with pytest.raises(ShardError, match="ocr_check is False but this merge has True"):
        run_build(BuildConfig(out=tmp_path / "a", merge=shards, ocr_check=True), progress=None)
    engine = metas[1]["ocr_engine"]
    if engine == "" and shutil.which("tesseract") is None:
        pytest.skip("needs a second OCR setting: the tesseract binary is not installed")
    monkeypatch.setenv("SPINEMED_OCR_ENGINE", "tesseract" if engine == "" else "none")
    other = tmp_path / "shard-1"
    run_build(BuildConfig(out=other, shard=f"1/{N}"), progress=None)
    assert json.loads((other / SHARD_FILE).read_text("utf-8"))["ocr_engine"] != engine
    with pytest.raises(ShardError, match="different ocr_engine"):
        run_build(BuildConfig(out=tmp_path / "b", merge=[shards[0], other, shards[2]]), progress=None)
