"""Shared fixtures for the Space tests (no tests here; imported by tests/test_space*.py).

`make_bench` writes a small SpineBench-layout folder (configs mcq/report, split test, rows per
`bench_features_for`, manifest) from the sample corpus rows, the way `spinemed bench build`
lays out a release, so the Space tests do not depend on the bench builder's sampling.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from conftest import build_sample_corpus  # tests/ is on sys.path
from datasets import load_dataset
from huggingface_hub import DatasetCard, DatasetCardData

from spinemed.hub import DatasetFolderWriter, card_metadata, write_manifest
from spinemed.schema import bench_features_for, bench_kind

BENCH_VERSION = "v1.0.0"


def build_corpus(out: Path) -> Path:
    """The sample corpus at `out` (a copy of conftest's session build)."""
    shutil.copytree(build_sample_corpus(), out)
    return out


def make_bench(corpus: Path, out: Path, *, n_text: int = 12, n_image: int = 6, n_report: int = 4) -> Path:
    """A SpineBench folder with the first n_text/n_image MCQ (both languages) and n_report reports."""
    features = {"mcq": bench_features_for("mcq"), "report": bench_features_for("report")}
    mcq = load_dataset(str(corpus), "mcq", split="train")
    reports = load_dataset(str(corpus), "report", split="train")
    by_kind: dict[str, list[dict]] = {"text_mcq": [], "image_mcq": [], "report": []}
    for row in list(mcq) + list(reports):
        by_kind[bench_kind(row)].append(row)
    want = {"text_mcq": n_text, "image_mcq": n_image, "report": n_report}
    picked = {}
    for kind, rows in by_kind.items():
        # Interleave languages so both appear even in a tiny bench.
        en = [r for r in rows if r["language"] == "en"]
        zh = [r for r in rows if r["language"] != "en"]
        mixed = [r for pair in zip(en, zh) for r in pair] + en[len(zh):] + zh[len(en):]
        picked[kind] = mixed[: want[kind]]
    for kind, rows in picked.items():
        assert len(rows) == want[kind], f"sample corpus has too few {kind} items"
    extra = {"kind": None, "bench_version": BENCH_VERSION,
             "verification": {"status": "accepted", "group": "g1", "reviewers": ["sim-1"], "decisions": 1}}
    with DatasetFolderWriter(out, features, split="test", default_config="mcq") as writer:
        for kind in ("text_mcq", "image_mcq", "report"):
            for row in picked[kind]:
                config = "report" if kind == "report" else "mcq"
                writer.add(config, {k: row[k] for k in features[config] if k in row} | {**extra, "kind": kind})
        stats = writer.stats()
    meta = card_metadata(pretty_name="SpineBench (test fixture)", stats=stats, extra={"license": "cc-by-nc-4.0"})
    (out / "README.md").write_text(DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n# fixture\n").content, encoding="utf-8")
    write_manifest(out, name="spinebench", version=BENCH_VERSION, versions={"pipeline": "1", "criteria": "v1", "deid": "1"},
                   stats=stats, extra={})
    return out


def perfect_predictions(bench) -> list[dict]:
    """Prediction rows that answer every MCQ correctly and copy the reference report."""
    rows = []
    for item in bench.items:
        if item["kind"] == "report":
            output = "\n".join(v for v in (item.get("report") or {}).values() if v)
        else:
            output = f"Answer: {item['answer']}"
        rows.append({"id": item["id"], "kind": item["kind"], "output": output})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@functools.cache
def sample_dirs() -> tuple[Path, Path]:
    """(corpus folder, SpineBench fixture folder), built once per test process."""
    root = Path(tempfile.mkdtemp(prefix="spinemed-space-test-"))
    corpus = build_corpus(root / "spinemed-450k")
    return corpus, make_bench(corpus, root / "spinebench")


def prediction_lines(bench, outputs: dict[str, str] | None = None) -> list[dict]:
    """Predictions-schema rows (id, kind, output, status) for every item; `outputs` overrides by id."""
    rows = perfect_predictions(bench)
    for r in rows:
        if outputs and r["id"] in outputs:
            r["output"] = outputs[r["id"]]
        r["status"] = "generated" if r["kind"] == "report" else "answered"
    return rows


class FakeHubApi:
    """The HfApi methods the Space uses, over an in-memory repo (files by path)."""

    def __init__(self, fail_commits: int = 0):
        self.repos: dict[tuple[str, str], dict] = {}
        self.files: dict[str, bytes] = {}
        self.commits: list[dict] = []
        self.variables: dict[str, str] = {}
        self.fail_commits = fail_commits

    def create_repo(self, repo_id, *, repo_type=None, private=False, exist_ok=False, space_sdk=None, **kw):
        self.repos[(repo_id, repo_type)] = {"private": private, "space_sdk": space_sdk}

    def create_commit(self, repo_id, *, operations, repo_type=None, commit_message="", **kw):
        if self.fail_commits:
            self.fail_commits -= 1
            raise ConnectionError("Hub unreachable (simulated)")
        assert (repo_id, repo_type) in self.repos, "commit to a repo that was never created"
        added = {}
        for op in operations:
            src = op.path_or_fileobj
            added[op.path_in_repo] = Path(src).read_bytes() if isinstance(src, (str, Path)) else bytes(src)
        self.files.update(added)
        self.commits.append({"repo_id": repo_id, "repo_type": repo_type, "message": commit_message, "paths": sorted(added)})

    def list_repo_files(self, repo_id, *, repo_type=None, **kw):
        return sorted(self.files)

    def hf_hub_download(self, repo_id, filename, *, repo_type=None, local_dir=None, **kw):
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.files[filename])
        return str(target)

    def add_space_variable(self, repo_id, key, value, **kw):
        self.variables[key] = value


def run_meta(path: Path, bench, *, revision: str | None = "r0", **changes) -> Path:
    """A run's predictions.meta.json as `spinemed eval` writes it (endpoint run, prompts v1) for `bench`
    (a SpaceBench; None leaves the benchmark items hash out); `changes` override fingerprint fields.
    Submissions need it (or the same provenance typed into the form)."""
    from spinemed.evaluation.predictions import PREDICTIONS_FORMAT
    from spinemed.evaluation.prompts import load_eval_prompts

    fingerprint = {"spec": "openai:org/model", "revision": revision, "max_new_tokens": 1024, "temperature": 0.0,
                   "image_max_side": None, "extra_body": None,
                   **({"benchmark_items_hash": bench.bench.items_hash} if bench is not None else {}),
                   "prompt_version": "v1", "prompt_hash": load_eval_prompts("v1").sha256, **changes}
    path.write_text(json.dumps({"format": PREDICTIONS_FORMAT, "fingerprint": fingerprint}), encoding="utf-8")
    return path


def keep_screenshots(shots: list[Path]) -> None:
    """Each browser-test screenshot is a real picture (not a blank page); copied to
    $SPINEMED_SPACE_SCREENSHOTS when that is set."""
    for shot in shots:
        assert shot.stat().st_size > 10_000
    keep = os.environ.get("SPINEMED_SPACE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(keep) / shot.name)
