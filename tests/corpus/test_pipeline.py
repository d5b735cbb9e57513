"""The corpus build end to end on the shipped sample sources (offline backend, no network)."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard
from tools.simserver import SimServer

from spinemed import deid
from spinemed.cli import main as cli_main
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.pipeline import BuildConfig, CorpusBuilder, run_build
from spinemed.hub import deid_preflight, load_manifest, publish_folder, verify_folder
from spinemed.llm.client import LLMClient
from spinemed.ocr import engine_name as ocr_engine_name
from spinemed.schema import LANGUAGES, TASKS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "builders" / "spinemed_450k" / "sources"

# Identifiers planted in the shipped inpatient records (must never reach a published byte).
PLANTED = ["Daniel R. Whitaker", "Whitaker", "RG-00482913", "512-44-7391", "(555) 014-2287", "d.whitaker83@example.com",
           "1187 Alder Creek Road", "Riverside General Hospital", "Castellano"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert cli_main(["demo", "--out", str(out)]) == 0
    folder = out / "spinemed-450k"
    summary = json.loads((out / "spinemed-450k.work" / "summary.json").read_text("utf-8"))
    return folder, summary


def _zh_planted():
    values = []
    for path in sorted((SOURCES / "inpatient").glob("IP-ZH-*.json")):
        rec = json.loads(path.read_text("utf-8"))["record"]
        for key in ("姓名", "住院号", "身份证号", "联系电话", "家庭住址", "医院", "主治医师", "电子邮箱"):
            if isinstance(rec.get(key), str) and rec[key].strip():
                values.append(rec[key])
    return values


def test_every_input_is_accounted_for(demo):
    _, summary = demo
    a = summary["accounting"]
    assert a["balanced"]
    assert a["source_records"] == a["records_published"] + a["records_quarantined"] + a["records_duplicate"]
    assert a["items_planned"] == a["items_published"] + a["items_quarantined"]
    assert a["duplicates"] == {"exact": 1, "near": 1}  # the planted duplicate and near-duplicate passages
    # truncated XML, non-image .png, empty chapter, missing image, missing DICOM instance;
    # + the 2 pages of the scanned PDF without OCR
    assert a["source_defects"] == 5 + (2 if ocr_engine_name() is None else 0)
    # the sample PDFs' postoperative photo and bar chart are discarded as not diagnostic
    assert {k: v for k, v in a["image_relevance"].items() if k != "kept"} == {"colour_photo": 1, "chart_or_table": 1}
    assert a["image_relevance"]["kept"] > 10
    assert any("picture-context mismatch" in r for r in a["record_quarantine_reasons"])
    assert sum(summary["rows"].values()) == a["items_published"]
    assert all(summary["rows"][t] > 0 for t in TASKS)


def test_side_files_report_each_defect_by_file_and_reason(demo):
    folder, _ = demo
    work = folder.parent / "spinemed-450k.work"
    issues = [json.loads(line) for line in (work / "source_issues.jsonl").read_text("utf-8").splitlines()]
    # work files name files by opaque id; the private provenance map resolves them
    real = {e["id"]: e["value"] for e in map(json.loads, (work / "provenance_map.jsonl").read_text("utf-8").splitlines())}
    files = {real[i["source_file"]] for i in issues}
    scan = {"pdf/scan_ch13_epidural_abscess.pdf"} if ocr_engine_name() is None else set()  # its pages, unread
    assert {"case_reports/PMC0000106.xml", "textbooks/images/ch12_fig2.png",
            "textbooks/en_ch09_spinal_cord_injury.md", "textbooks/en_ch07_spondylolisthesis_scoliosis.md",
            "rsna_lumbar/train_label_coordinates.csv"} | scan == files
    quarantine = [json.loads(line) for line in (work / "quarantine.jsonl").read_text("utf-8").splitlines()]
    pcm = [q for q in quarantine if q["stage"] == "pcm"]
    assert len(pcm) == 1 and "knee" in pcm[0]["reason"]
    assert real[pcm[0]["source_file"]].endswith("en_ch07_spondylolisthesis_scoliosis.md")
    dups = [json.loads(line) for line in (work / "duplicates.jsonl").read_text("utf-8").splitlines()]
    assert sorted(d["status"] for d in dups) == ["exact", "near"] and all(d["duplicate_of"] for d in dups)


def test_folder_loads_with_datasets(demo, monkeypatch):
    folder, summary = demo
    for task in TASKS:
        ds = load_dataset(str(folder), task, split="train")
        assert len(ds) == summary["rows"][task]
        assert set(ds.unique("language")) <= set(LANGUAGES)
    mcq = load_dataset(str(folder), split="train")  # default config
    assert mcq[0]["task"] == "mcq"
    assert set(mcq.unique("language")) == {"en", "zh"}
    assert set(mcq.unique("modality")) == {"text", "image"}
    img_row = mcq.filter(lambda r: r["modality"] == "image")[0]
    assert img_row["images"][0].size[0] > 0  # decoded PIL image
    monkeypatch.chdir(folder.parent)
    assert len(load_dataset("spinemed-450k", "report", split="train")) == summary["rows"]["report"]


def test_rows_carry_provenance_generation_and_versions(demo):
    folder, _ = demo
    ds = load_dataset(str(folder), "report", split="train")
    row = ds[0]
    assert row["provenance"]["source_id"] and row["provenance"]["license"]
    gen = row["generation"]
    assert gen["backend"] == "offline" and gen["prompt_id"] == "draft_report@1" and len(gen["prompt_hash"]) == 16
    assert gen["criteria_version"] == "v1" and gen["revision_prompt_id"] == "revise@1"
    assert row["deid_version"] == deid.DEID_VERSION and row["pipeline_version"]
    assert all(row["report"][p] for p in row["report"])


def test_rows_name_their_source_record_so_siblings_can_be_found(demo):
    """provenance.record_id is SourceRecord.record_id: every row generated from one passage or case
    (MCQ, open QA, consultation, report) carries the same id, which SpineBench decontamination uses."""
    from spinemed.corpus.sources import iter_sources
    from spinemed.deid.provenance import ProvenanceIds, deidentify_provenance
    from spinemed.schema import SourceRecord

    folder, _ = demo
    ids = ProvenanceIds()  # published provenance carries opaque ids (unkeyed: no secret is set here)
    records = {r.record_id: deidentify_provenance(r, ids) for r in iter_sources(SOURCES) if isinstance(r, SourceRecord)}
    tasks_of: dict[str, set[str]] = {}
    for task in TASKS:
        for path in sorted((folder / "data" / task).glob("*.parquet")):
            for row in pq.read_table(path, columns=["id", "provenance"]).to_pylist():
                prov = row["provenance"]
                rec = records.get(prov["record_id"])
                assert rec is not None, (row["id"], prov["record_id"])
                assert (prov["source_id"], prov["locator"], prov["source_file"]) == (
                    rec.source_id, rec.locator, rec.source_file), row["id"]
                tasks_of.setdefault(prov["record_id"], set()).add(task)
    assert len(tasks_of) > 20 and sum(len(t) >= 2 for t in tasks_of.values()) > 10  # siblings are common


def test_card_and_manifest(demo):
    folder, summary = demo
    card = DatasetCard.load(folder / "README.md")
    configs = {c["config_name"] for c in card.data.to_dict()["configs"]}
    assert configs == set(TASKS)
    text = (folder / "README.md").read_text("utf-8")
    assert "not for clinical use" in text.lower()
    assert str(summary["accounting"]["items_published"]) in text
    manifest = load_manifest(folder)
    assert manifest["versions"]["deid"] == deid.DEID_VERSION and manifest["content_hash"]


def test_no_planted_identifier_reaches_the_published_bytes(demo):
    folder, _ = demo
    planted = PLANTED + _zh_planted()
    assert len(planted) > len(PLANTED)
    # every decoded string cell of every shard (parquet pages are compressed, so search decoded text)
    text = "\n".join(str(v) for p in folder.rglob("*.parquet") for col in pq.read_table(p).to_pylist() for v in col.values())
    for value in planted:
        assert value not in text, value
    deid_preflight(folder)  # the publish-time detector finds nothing either


def test_publish_dry_run_plan(demo):
    folder, _ = demo
    plan = publish_folder(folder, "spinemed/SpineMed-450k", "v1.0.0", endpoint="http://hub.invalid", dry_run=True)
    paths = {p for p, _ in plan.files}
    assert "README.md" in paths and "manifest.json" in paths and any(p.startswith("data/mcq/") for p in paths)
    assert cli_main(["publish", str(folder), "--repo", "spinemed/SpineMed-450k", "--version", "v9.9.9", "--dry-run"]) == 2


def test_rebuild_gives_the_same_content(demo, tmp_path):
    folder, _ = demo
    run_build(BuildConfig(out=tmp_path / "again"), progress=None)
    assert load_manifest(tmp_path / "again")["content_hash"] == load_manifest(folder)["content_hash"]


class _Crash(RuntimeError):
    pass


class _CountingBackend(RulesBackend):
    """The offline rules, counting requests; optionally crashing after `crash_after` calls."""

    def __init__(self, crash_after=None):
        super().__init__()
        self.calls = 0
        self.crash_after = crash_after

    async def complete(self, request):
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise _Crash("simulated crash")
        self.calls += 1
        return await super().complete(request)


def test_crash_then_rerun_finishes_identically_without_repeating_requests(demo, tmp_path):
    from spinemed.llm.cache import RequestCache

    folder, summary = demo
    total = summary["llm"]["requests"]
    out, work = tmp_path / "spinemed-450k", tmp_path / "work"
    cache = RequestCache(work / "cache" / "requests.sqlite")
    crashing = _CountingBackend(crash_after=total // 3)
    with pytest.raises(_Crash):
        CorpusBuilder(BuildConfig(out=out, work_dir=work), client=LLMClient(crashing, cache=cache), progress=None).run()
    assert not (out / "manifest.json").exists()  # an interrupted build never looks complete
    cache = RequestCache(work / "cache" / "requests.sqlite")
    resumed = _CountingBackend()
    result = CorpusBuilder(BuildConfig(out=out, work_dir=work), client=LLMClient(resumed, cache=cache), progress=None).run()
    assert crashing.calls + resumed.calls == total  # nothing asked twice
    assert result["llm"]["cache_hits"] >= crashing.calls
    assert load_manifest(out)["content_hash"] == load_manifest(folder)["content_hash"]


def _offline_responder():
    rules = RulesBackend()
    seen: list[str] = []
    lock = threading.Lock()

    def respond(body):
        with lock:
            seen.append(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest())
        return rules.respond(body["messages"])

    return respond, seen


def test_kill_9_mid_generation_and_rerun_repeats_no_request(tmp_path):
    """A real `spinemed build` process against an OpenAI-compatible server, killed with SIGKILL,
    rebuilding over an earlier release: that release stays intact and publishable until the
    rerun swaps the finished folder in."""
    respond, seen = _offline_responder()
    out = tmp_path / "spinemed-450k"
    run_build(BuildConfig(out=out, work_dir=tmp_path / "earlier.work", limit=20), progress=None)
    earlier = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    earlier_hash = load_manifest(out)["content_hash"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with SimServer(latency_s=0.01, max_concurrency=8, responder=respond) as server:
        cmd = [sys.executable, "-m", "spinemed.cli", "build", "--out", str(out), "--backend", "openai",
               "--model", "offline-rules-over-http", "--base-url", server.base_url, "--trusted-endpoint",
               "--languages", "source", "--concurrency", "4"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while len(seen) < 150 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "build finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        first = len(seen)
        assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == earlier
        assert verify_folder(out)["content_hash"] == earlier_hash
        done = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    # Requests that were in flight at the kill may be sent again (their answers never reached
    # the cache); nothing that had completed is.
    repeats = len(seen) - len(set(seen))
    assert repeats <= 4, repeats
    assert summary["llm"]["cache_hits"] >= first - 4
    assert summary["accounting"]["balanced"]
    assert verify_folder(out)["content_hash"] == summary["manifest"]["content_hash"] != earlier_hash
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".spinemed-450k.")]  # no staging left
