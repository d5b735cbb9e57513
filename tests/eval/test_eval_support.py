"""Shared fixtures for the evaluation tests: the sample corpus and a small SpineBench folder.

Imported by the other ``test_eval*`` modules (pytest puts ``tests/`` on ``sys.path``); the
corpus is built once per session.  The bench is written with the same writer, card and
manifest machinery as a real release (``spinemed.hub``), from the corpus's own rows.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from conftest import build_sample_corpus  # tests/ is on sys.path
from huggingface_hub import DatasetCardData

from spinemed.hub import DatasetFolderWriter, card_metadata, dataset_info_yaml, load_manifest, write_manifest
from spinemed.schema import bench_features_for, bench_kind

BENCH_VERSION = "v1.0.0"


def session_dir(prefix: str) -> Path:
    """A temporary folder removed when the test session ends (for fixtures built once per session)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def sample_corpus() -> Path:
    """The sample SpineMed-450k corpus (conftest's session build; read only)."""
    return build_sample_corpus()


def corpus_rows(corpus: Path, config: str) -> list[dict]:
    manifest = load_manifest(corpus)
    rows = []
    for shard in manifest["shards"]:
        if shard["config"] == config:
            rows.extend(pq.read_table(corpus / shard["path"]).to_pylist())
    return sorted(rows, key=lambda r: r["id"])


def bench_rows(corpus: Path, n_text: int = 8, n_image: int = 4, n_report: int = 3) -> dict[str, list[dict]]:
    """Corpus rows turned into SpineBench rows (first N of each kind by id, deterministic)."""
    mcq = corpus_rows(corpus, "mcq")
    text = [r for r in mcq if r["modality"] == "text"][:n_text]
    image = [r for r in mcq if r["modality"] == "image"][:n_image]
    reports = corpus_rows(corpus, "report")[:n_report]
    out: dict[str, list[dict]] = {"mcq": [], "report": []}
    for config, rows in (("mcq", text + image), ("report", reports)):
        for r in rows:
            out[config].append({**r, "kind": bench_kind(r), "bench_version": BENCH_VERSION,
                                "verification": {"status": "accepted", "group": "g1", "reviewers": ["r01"], "decisions": 1}})
    return out


def write_bench(out: Path, rows: dict[str, list[dict]], *, name: str = "spinebench", version: str = BENCH_VERSION) -> Path:
    """A complete SpineBench-layout folder (shards, card with configs, manifest) from bench rows."""
    features = {"mcq": bench_features_for("mcq"), "report": bench_features_for("report")}
    with DatasetFolderWriter(out, features, split="test", default_config="mcq") as writer:
        for config, config_rows in rows.items():
            for row in config_rows:
                writer.add(config, {**row, "bench_version": version})
    stats = writer.stats()
    meta = card_metadata(pretty_name="SpineBench (test fixture)", stats=stats,
                         extra={"license": "cc-by-4.0", "dataset_info": dataset_info_yaml(out, features, split="test")})
    (out / "README.md").write_text(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n# SpineBench test fixture\n", encoding="utf-8")
    write_manifest(out, name=name, version=version, versions={"pipeline": "1.0.0", "criteria": "v1", "deid": "1.0.0"},
                   stats=stats, extra={})
    return out


@functools.lru_cache(maxsize=4)
def sample_bench(n_text: int = 8, n_image: int = 4, n_report: int = 3) -> Path:
    out = session_dir("spinemed-eval-bench-") / "spinebench"
    return write_bench(out, bench_rows(sample_corpus(), n_text, n_image, n_report))


def test_fixture_bench_loads_with_datasets():
    from datasets import load_dataset

    bench = sample_bench()
    mcq = load_dataset(str(bench), "mcq", split="test")
    report = load_dataset(str(bench), "report", split="test")
    assert len(mcq) == 12 and len(report) == 3
    assert sorted(set(mcq["kind"])) == ["image_mcq", "text_mcq"]
    assert all(len(imgs) >= 1 for imgs, kind in zip(mcq["images"], mcq["kind"]) if kind == "image_mcq")
