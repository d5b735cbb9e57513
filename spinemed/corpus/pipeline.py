"""The corpus build: sources -> deid -> image relevance -> pcm check -> dedup -> classify -> generate -> validate -> Hub folder.

Records stream through in windows (never the whole corpus in memory).  Within a window the
LLM calls run concurrently; de-identification and dedup run in record order so the output is
deterministic.  Every input record ends in exactly one bucket (published / quarantined with a
reason / duplicate) and every planned item in one (published / quarantined), and the summary
checks that the buckets add up.

The build is a chain of steps (`spinemed.corpus.step`): `ReadSources` (sources/) ->
`Deidentify` (deidentify.py) -> `ImageRelevance` (relevance.py) -> `PictureContextCheck` (pcm.py) -> `Deduplicate` (dedup.py) ->
`Classify` (classify.py) -> `Generate` (generate.py: plan, draft, revise) -> `Validate`
(validate.py) -> `WriteRows`; each stage's logic lives in its module, this one only sets them
up and composes them.  A sharded build (`shards.py`) runs the ingest (`ReadSources` ->
`Deidentify` -> `ImageRelevance` -> `PictureContextCheck`) of one shard into a shard folder, and the merge runs
the rest from `ReadShards`.  The quarantine writer every step reports to is `worklog.WorkLog`.

Order differs from the paper's (PCM before de-identification) on purpose: de-identification
runs before the first LLM call, so no identifier ever reaches a generation endpoint.  The
de-identification stage also replaces file names, case ids and imaging subjects with opaque ids
(`spinemed.deid.provenance`; the private map opaque id -> real value goes to
`OUT.work/provenance_map.jsonl` only) and stamps each record; every request is built by
`Generator.ask_json`, which verifies the stamp.  Requests are routed per source type to the
builder's endpoints (`spinemed.llm.routing`), and a build whose clinical sources would reach an
untrusted endpoint refuses to start.  The other work files (quarantine, duplicates, source
issues, summary) hold opaque ids and scrubbed text only.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import deid
from .. import ocr as _ocr
from ..config import default_repo, expand_org
from ..deid import images as deid_images
from ..deid.provenance import ProvenanceIds
from ..fileio import atomic_write_text
from ..hub import DatasetFolderWriter, dataset_info_yaml, write_dataset_card, write_manifest
from ..hub.staging import StagedFolder
from ..lexicon import load_lexicon
from ..llm.base import UntrustedEndpointError
from ..llm.cache import RequestCache
from ..llm.client import LLMClient
from ..llm.params import parse_gen_kwargs
from ..llm.routing import (
    CLINICAL_SOURCE_TYPES,
    DEFAULT_ENDPOINT,
    RoutingBackend,
    build_backend,
    check_routing,
    is_trusted,
    resolve_endpoints,
)
from ..paths import checkout_path
from ..schema import PIPELINE_VERSION, TASKS, features_for
from .classify import Classify
from .dedup import Deduper, Deduplicate
from .deidentify import Deidentify
from .generate import DEFAULT_PLAN, Generate, Generator, load_criteria
from .offline_rules import RulesBackend
from .pcm import PictureContextCheck
from .prompts import load_prompts
from .relevance import ImageRelevance
from .shards import (
    ReadShards,
    ShardError,
    WriteShard,
    counters_json,
    is_shard_folder,
    load_shards,
    parse_shard,
    preload_work_log,
    sources_fingerprint,
    write_shard_meta,
)
from .sources import DEFAULT_MAX_PARAGRAPH_CHARS, ReadSources, load_catalog
from .step import PipelineStep, Window, merged_stats, run_steps
from .validate import Validate
from .worklog import PROVENANCE_MAP, WorkLog

# set by each shard's environment, not by the merge's: the shards of one build must agree on it
# (the OCR engine reads scanned pages and runs the burned-in-text check)
SHARD_AGREE = ("ocr_engine",)
DEFAULT_BUILDER = checkout_path("builders", "spinemed_450k", "builder.yaml")
PROVENANCE_SECRET_ENV = "SPINEMED_PROVENANCE_SECRET"


@dataclass
class BuildConfig:
    out: Path
    builder: Path = DEFAULT_BUILDER
    sources: Path | None = None  # default: the builder's shipped samples
    work_dir: Path | None = None  # default: <out>.work next to the dataset folder
    version: str | None = None
    backend: str | None = None
    model: str | None = None
    base_urls: list[str] = field(default_factory=list)
    api_key: str | None = None
    trusted: bool | None = None  # declare the default endpoint on-premises (--trusted-endpoint)
    concurrency: int | None = None
    languages: str | None = None  # "auto" | "source" | "both"
    gen_kwargs: dict | None = None  # extra request parameters for every LLM stage (--gen-kwargs)
    window: int = 64
    limit: int | None = None  # stop after N source records (smoke runs)
    provenance_secret: str | None = None  # HMAC key of opaque ids (default: $SPINEMED_PROVENANCE_SECRET)
    ocr_check: bool = False  # OCR every image; burned-in identifier text quarantines the record
    overwrite: bool = False  # replace an --out that holds data spinemed did not write (--overwrite)
    workers: int = 1  # processes the pages of each PDF fan out over (--workers); output does not depend on it
    shard: str | None = None  # "I/N": ingest shard I of N (0-based) into the shard folder --out (shards.py)
    merge: list[Path] = field(default_factory=list)  # shard folders to merge into the dataset folder --out

    def resolved(self) -> dict[str, Any]:
        spec = yaml.safe_load(Path(self.builder).read_text("utf-8"))
        base = Path(self.builder).resolve().parent
        gen = dict(spec.get("generation") or {})
        for key in ("backend", "model", "concurrency", "languages"):
            if getattr(self, key) is not None:
                gen[key] = getattr(self, key)
        if self.gen_kwargs:
            gen["gen_kwargs"] = {**(gen.get("gen_kwargs") or {}), **self.gen_kwargs}
        if self.base_urls:
            gen["base_urls"] = list(self.base_urls)
        if self.trusted is not None:
            gen["trusted"] = bool(self.trusted)
        if self.backend is not None or self.model is not None or self.base_urls:
            # the single-backend flags define the default endpoint: unrouted source types go there
            gen["routing"] = {**(gen.get("routing") or {}), DEFAULT_ENDPOINT: DEFAULT_ENDPOINT}
        out = Path(self.out)
        return {
            "spec": spec,
            "name": spec["name"],
            "pretty_name": spec.get("pretty_name", spec["name"]),
            "version": self.version or str(spec["version"]),
            "sources": Path(self.sources) if self.sources else base / spec["sources"],
            "prompts": base / spec["prompts"],
            "criteria": base / spec["criteria"],
            "card_template": base / spec["card_template"],
            "license": spec.get("license", "other"),
            "default_config": spec.get("default_config", "mcq"),
            "rows_per_shard": int(spec.get("rows_per_shard", 5000)),
            "plan": spec.get("plan") or DEFAULT_PLAN,
            "pcm_check": bool((spec.get("pcm") or {}).get("check", True)),
            "relevance": _relevance_settings(spec.get("relevance") or {}),
            "dedup": spec.get("dedup") or {},
            "generation": gen,
            "out": out,
            "work_dir": Path(self.work_dir) if self.work_dir else out.parent / f"{out.name}.work",
            "ocr_check": bool(self.ocr_check),
            "overwrite": bool(self.overwrite),
            "workers": max(1, int(self.workers)),
        }


def _relevance_settings(d: dict) -> dict[str, Any]:
    """builder.yaml `relevance:` -- heuristics (true/false), model_check (auto/true/false)."""
    check = d.get("model_check", "auto")
    if check not in ("auto", True, False):
        raise ValueError(f"builder relevance.model_check must be auto, true or false, not {check!r}")
    return {"heuristics": bool(d.get("heuristics", True)), "model_check": check}


class WriteRows(PipelineStep):
    """The sink: each window's published rows into the dataset folder, in input order.
    Stats: `items` (published, per task), `record_outcome` (published)."""

    name = "write"

    def __init__(self, writer: DatasetFolderWriter | None = None):
        super().__init__()
        self.writer = writer

    async def process(self, window: Window) -> Window:
        for doc in window:
            for outcome in doc.outcomes:
                if outcome.row is not None:
                    self.writer.add(outcome.job.task, outcome.row)
                    self.stats["items"]["published"] += 1
                    self.stats["items"][f"published:{outcome.job.task}"] += 1
            self.stats["record_outcome"]["published"] += 1
        return window


class CorpusBuilder:
    def __init__(self, config: BuildConfig, client: LLMClient | None = None,
                 progress: Callable[[str], None] | None = print):
        self.cfg = config.resolved()
        self.config = config
        if config.shard and config.merge:
            raise ShardError("--shard and --merge are two different runs: ingest a shard, or merge the shards")
        self.shard = parse_shard(config.shard) if config.shard else None
        self.output_folder().check()  # someone else's data in --out: refuse before anything is created
        gen = self.cfg["generation"]
        secret = config.provenance_secret if config.provenance_secret is not None else os.environ.get(PROVENANCE_SECRET_ENV)
        self.ids = ProvenanceIds(secret or None)
        if self.shard and config.limit is not None:
            raise ShardError("--limit cannot be combined with --shard: the shards would not add up to one build")
        # a merge checks its shards first: they, not a sources folder, say which source types it holds
        self.shard_metas = (load_shards([Path(f) for f in config.merge], self._shard_identity(),
                                        agree=SHARD_AGREE) if config.merge else [])
        self.source_types = (set().union(*(m["source_types"] for m in self.shard_metas)) if self.shard_metas
                             else _catalog_source_types(self.cfg["sources"]))
        self.endpoints, self.routing = resolve_endpoints(gen, api_key=config.api_key)
        if client is None:
            # refuse before anything is built or sent: clinical sources only go to trusted endpoints
            check_routing(self.endpoints, self.routing, self.source_types)
            concurrency = int(gen.get("concurrency", 8))
            backends = {name: build_backend(self.endpoints[name], concurrency=concurrency, offline=RulesBackend)
                        for name in dict.fromkeys(self.routing.values())}
            client = LLMClient(RoutingBackend(backends, self.routing),
                               cache=RequestCache(self.cfg["work_dir"] / "cache" / "requests.sqlite"),
                               concurrency=concurrency, retries=4, require_deid_stamp=True)
        else:  # a client made by the caller: its backend says whether it is trusted
            bad = sorted(st for st in self.source_types & CLINICAL_SOURCE_TYPES if not is_trusted(client.backend, st))
            if bad:
                raise UntrustedEndpointError(
                    f"refusing to start: source type {bad[0]!r} would be sent to backend "
                    f"{getattr(client.backend, 'name', type(client.backend).__name__)!r}, which is not trusted "
                    "(clinical sources go only to backends with trusted=True)")
        self.client = client
        self.prompts = load_prompts(self.cfg["prompts"])
        self.criteria = load_criteria(self.cfg["criteria"])
        self.generator = Generator(self.client, self.prompts, self.criteria, json_retries=int(gen.get("json_retries", 2)),
                                   gen_kwargs=parse_gen_kwargs(gen.get("gen_kwargs")))
        d = self.cfg["dedup"]
        self.deduper = Deduper(threshold=float(d.get("threshold", 0.8)), num_perm=int(d.get("num_perm", 128)))
        self.progress = progress or (lambda _msg: None)
        self.ocr_engine = None  # the optional burned-in-text check (deid/images.py); never on silently
        if self.cfg["ocr_check"] and self.shard_metas:
            # a merge runs no OCR: the check ran in the shards (load_shards refused shards without it)
            self.ocr_engine = self.shard_metas[0].get("ocr_engine") or None
            if self.ocr_engine is None:
                raise ShardError("--ocr-check: the shards record no OCR engine, so no burned-in-text check ran")
        elif self.cfg["ocr_check"]:
            self.ocr_engine = deid_images.ocr_engine()
            if self.ocr_engine is None:
                raise ValueError(f"--ocr-check cannot run: {deid_images._NO_ENGINE}")
        # the steps; Generate checks the languages setting
        cfg = self.cfg
        self.read = ReadSources(cfg["sources"], window=config.window, limit=config.limit,
                                max_chars=int(cfg["spec"].get("max_paragraph_chars", DEFAULT_MAX_PARAGRAPH_CHARS)),
                                workers=cfg["workers"])
        self.generate = Generate(self.generator, cfg["plan"], gen.get("languages", "auto"))
        self.write_rows = WriteRows()  # its dataset writer is opened by run_async
        # the ingest: the stages before the global dedup, which one shard of a sharded build runs
        self.ingest: list[PipelineStep] = [
            self.read,
            Deidentify(self.ids, cfg["sources"], ocr_engine=self.ocr_engine),
            ImageRelevance(self.generator, self.prompts.get("image_relevance"), self._model_check(),
                           heuristics=cfg["relevance"]["heuristics"]),
            PictureContextCheck(self.generator, self.prompts["pcm_check"], enabled=cfg["pcm_check"]),
        ]
        if self.shard_metas:  # a merge starts from the shards' ingested records
            self.read = ReadShards(self.shard_metas, window=config.window)
            self.ingest = [self.read]
        self.steps: list[PipelineStep] = [
            *self.ingest,
            Deduplicate(self.deduper),
            Classify(self.generator, self.prompts["classify"]),
            self.generate,
            Validate(),
            self.write_rows,
        ]
        self.languages = self.generate.languages
        if self.languages == "both":
            for st in sorted(self.source_types) or [""]:
                backend = self.client.backend
                backend = backend.backend_for(st) if hasattr(backend, "backend_for") else backend
                if not getattr(backend, "can_translate", True):
                    raise ValueError(f"backend {backend.name!r}{f' (for {st} sources)' if st else ''} cannot "
                                     "translate; use languages=source or auto")
        self.log: WorkLog | None = None

    def _model_check(self) -> Callable[[Any], bool] | None:
        """Whether the relevance step asks the vision model about a figure: `auto` asks whenever
        the endpoint routed for the record's source type is not the offline backend (it cannot
        see pixels)."""
        setting = self.cfg["relevance"]["model_check"]
        if setting is False:
            return None
        if setting is True:
            return lambda rec: True
        backend = self.client.backend

        def routed(rec) -> bool:
            b = backend.backend_for(rec.source_type) if hasattr(backend, "backend_for") else backend
            return getattr(b, "name", "offline") != "offline"
        return routed

    @property
    def counts(self) -> dict[str, Counter]:
        """The accounting of the work log and every step's counters, summed by name."""
        return merged_stats(self.steps, self.log.counts if self.log is not None else {})

    def output_folder(self) -> StagedFolder:
        """The --out folder as a staged swap; `check()` refuses one holding data spinemed did not write
        (a shard build replaces the shard folder an earlier run of it wrote)."""
        cfg = self.cfg
        overwrite = cfg["overwrite"] or bool(self.shard and is_shard_folder(cfg["out"]))
        return StagedFolder(cfg["out"], overwrite=overwrite,
                            protect=(cfg["sources"], cfg["work_dir"], Path(self.config.builder),
                                     *self.config.merge))

    def _shard_identity(self) -> dict[str, Any]:
        """What the shards of one build share with the merge: the builder, the dataset version, the
        versions of the code that made their records (checked again by each record's deid stamp), and
        the ingest settings the card reports (--ocr-check, the relevance and PCM settings): a merge
        with --ocr-check over shards built without it would claim a check that never ran."""
        return {"name": self.cfg["name"], "version": self.cfg["version"], "pipeline_version": PIPELINE_VERSION,
                "deid_version": deid.DEID_VERSION, "ocr_check": self.cfg["ocr_check"],
                "relevance": self.cfg["relevance"], "pcm_check": self.cfg["pcm_check"]}

    async def run_shard_async(self) -> dict[str, Any]:
        """Ingest shard I of N (`config.shard`) into the shard folder `out` (corpus/shards.py):
        built in a staging folder next to it and put in place when complete."""
        cfg = self.cfg
        rank, world_size = self.shard
        start = time.perf_counter()
        if not cfg["sources"].is_dir():
            raise FileNotFoundError(f"sources folder not found: {cfg['sources']}")
        out = Path(cfg["out"])
        folder = self.output_folder()
        try:
            staging = folder.begin()
        except BaseException:
            await self.client.aclose()
            raise
        (staging / "work").mkdir()
        self.log = log = WorkLog(staging / "work", self.ids, cfg["sources"], progress=self.progress)
        sink = WriteShard(staging)
        try:
            async for _window in run_steps([*self.ingest, sink], log, rank=rank, world_size=world_size):
                log.flush_ids()
        except BaseException:
            log.close()
            folder.abort()
            raise
        finally:
            sink.close()
            await self.client.aclose()
        log.close()
        meta = {**self._shard_identity(), "ocr_engine": _ocr.engine_name() or "",
                "rank": rank, "world_size": world_size,
                "sources_fingerprint": sources_fingerprint(cfg["sources"], self.read.file_order.digest),
                "source_types": sorted(self.source_types),
                "records_read": self.read.stats["sources"]["records"],
                "records_written": sink.stats["shard"]["records_written"],
                "step_stats": counters_json(merged_stats(self.ingest)), "log_counts": counters_json(log.counts)}
        write_shard_meta(staging, meta)
        folder.commit()
        summary = {"shard": f"{rank}/{world_size}", "out": out.name, "seconds": round(time.perf_counter() - start, 2),
                   **{k: meta[k] for k in ("records_read", "records_written")},
                   "records_quarantined": log.counts["record_outcome"]["quarantined"],
                   "source_defects": sum(log.counts["source_issues"].values())}
        return summary

    async def run_async(self, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
        """Build the dataset folder; `rank`/`world_size` build one shard of the sources (their
        files split by `step.shard_of`; dedup then runs within the shard only: for one dataset
        from many shards, use `config.shard` and `config.merge` instead).

        The whole folder (data/, card, manifest) is written into a staging folder next to
        `out` and swapped in only when complete (`hub.staging`): a failed or killed build
        leaves the previous folder as it was."""
        cfg = self.cfg
        start = time.perf_counter()
        if not self.shard_metas and not cfg["sources"].is_dir():
            raise FileNotFoundError(f"sources folder not found: {cfg['sources']}")
        folder = self.output_folder()
        try:
            staging = folder.begin()  # refuses someone else's data before any work
        except BaseException:
            await self.client.aclose()
            raise
        try:
            summary = await self._build_into(staging, rank, world_size, start)
        except BaseException:
            folder.abort()
            raise
        folder.commit()  # if it refuses (data put into --out meanwhile), the finished build stays in staging
        # the work dir's summary says the build is done only once the folder is in place
        atomic_write_text(cfg["work_dir"] / "summary.json",
                          json.dumps({k: v for k, v in summary.items() if k != "manifest"}, indent=2, ensure_ascii=False))
        return summary

    async def _build_into(self, out: Path, rank: int, world_size: int, start: float) -> dict[str, Any]:
        cfg = self.cfg
        self.log = log = WorkLog(cfg["work_dir"], self.ids, cfg["sources"], progress=self.progress)
        preload_work_log(log, self.shard_metas)  # a merge: the shards' quarantine, defects and counts
        configs = {t: features_for(t) for t in TASKS}
        writer = DatasetFolderWriter(out, configs, split="train", rows_per_shard=cfg["rows_per_shard"],
                                     default_config=cfg["default_config"])
        self.write_rows.writer = writer
        try:
            async for _window in run_steps(self.steps, log, rank=rank, world_size=world_size):
                log.flush_ids()
            writer_result = writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            for step in self.steps:
                step.close_progress()
            log.close()
            await self.client.aclose()
        n_records = self.read.stats["sources"]["records"]
        summary = self._summary(n_records, writer, writer_result, time.perf_counter() - start)
        generation = {"backend": self.client.backend.name, "model": self.client.backend.model}
        if self.generator.sent_params:  # what the LLM stages sent, after the models' rules
            generation["request_params"] = dict(self.generator.sent_params)
        versions = {"pipeline": PIPELINE_VERSION, "criteria": self.criteria.version, "deid": deid.DEID_VERSION,
                    "lexicon": load_lexicon().version,
                    "prompts": ",".join(f"{p.id}@{p.version}:{p.hash}" for p in sorted(self.prompts.values(), key=lambda p: p.id)),
                    "backend": generation["backend"], "model": generation["model"]}
        if self.ocr_engine:
            versions["ocr_check"] = self.ocr_engine
        extra = {"accounting": summary["accounting"], "generation": generation, "versions": versions,
                 "license": cfg["license"], "name": cfg["name"], "version": cfg["version"],
                 "repo_id": expand_org(cfg["spec"].get("repo_id") or default_repo(cfg["pretty_name"])),
                 "dataset_info": dataset_info_yaml(out, configs)}
        write_dataset_card(out, cfg["card_template"], pretty_name=cfg["pretty_name"], stats=writer.stats(), extra=extra)
        summary["manifest"] = write_manifest(out, name=cfg["name"], version=cfg["version"], versions=versions,
                                             stats=writer.stats(), extra={"accounting": summary["accounting"],
                                                                          "generation": generation})
        return summary

    def run(self, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
        """The build (a merge when `config.merge` names shards); with `config.shard`, the ingest
        of that shard into a shard folder."""
        if self.shard:
            return asyncio.run(self.run_shard_async())
        return asyncio.run(self.run_async(rank, world_size))

    def _summary(self, n_records: int, writer, writer_result, seconds: float) -> dict[str, Any]:
        c = self.counts
        accounting = {
            "source_records": n_records,
            "records_published": c["record_outcome"]["published"],
            "records_quarantined": c["record_outcome"]["quarantined"],
            "records_duplicate": c["record_outcome"]["duplicate"],
            "duplicates": {"exact": c["duplicates"]["exact"], "near": c["duplicates"]["near"]},
            "record_quarantine_reasons": dict(sorted(c["record_quarantine"].items())),
            "items_planned": c["items"]["planned"],
            "items_published": c["items"]["published"],
            "items_quarantined": c["items"]["quarantined"],
            "item_quarantine_reasons": dict(sorted(c["item_quarantine"].items())),
            "source_defects": sum(c["source_issues"].values()),
            "source_defect_reasons": dict(sorted(c["source_issues"].items())),
            "pcm": dict(c["pcm"]),
            "image_relevance": dict(sorted(c["relevance"].items())),
            "classification": dict(c["classification"]),
            "deid_dropped_keys": dict(sorted(c["deid_dropped_keys"].items())),
        }
        balanced_records = n_records == (accounting["records_published"] + accounting["records_quarantined"]
                                         + accounting["records_duplicate"])
        balanced_items = accounting["items_planned"] == accounting["items_published"] + accounting["items_quarantined"]
        accounting["balanced"] = balanced_records and balanced_items
        if not accounting["balanced"]:  # a bug, not bad input: refuse to call the build good
            raise RuntimeError(f"build accounting does not add up: {accounting}")
        return {
            # folder names only: an absolute path names the user and the machine
            "name": self.cfg["name"], "version": self.cfg["version"], "out": Path(self.cfg["out"]).name,
            "work_dir": Path(self.cfg["work_dir"]).name, "seconds": round(seconds, 2),
            "rows": {t: c["items"][f"published:{t}"] for t in TASKS},
            "accounting": accounting,
            "llm": _stats_dict(self.client.stats),
            "endpoints": self._endpoint_summary(),
            "provenance": {"opaque_ids": len(self.ids), "keyed": self.ids.keyed,
                           "map": f"{PROVENANCE_MAP} in the work folder (private: never publish it)"},
            "shards": {**writer_result, "out_dir": Path(self.cfg["out"]).name} if isinstance(writer_result, dict)
                      else writer_result,
        }

    def _endpoint_summary(self) -> dict[str, Any]:
        """Per endpoint used: backend, model, trusted, the source types routed to it, requests sent
        (no URLs: they may name internal hosts)."""
        backend = self.client.backend
        if not isinstance(backend, RoutingBackend):
            return {"(caller's client)": {"backend": getattr(backend, "name", ""), "model": getattr(backend, "model", ""),
                                          "trusted": getattr(backend, "trusted", False) is True}}
        out = {}
        for name in backend.used:
            b = backend.backends[name]
            routed = sorted(st for st in self.source_types if backend.endpoint_for(st) == name)
            out[name] = {"backend": b.name, "model": b.model, "trusted": getattr(b, "trusted", False) is True,
                         "source_types": routed, "requests": backend.sent.get(name, 0)}
        return out


def _stats_dict(stats) -> dict:
    try:
        return asdict(stats)
    except TypeError:
        return dict(vars(stats))


def _catalog_source_types(sources: Path) -> set[str]:
    """Source types the catalog declares (empty when it cannot be read: the build then fails
    on the same error when it starts reading)."""
    try:
        entries, _ = load_catalog(sources)
    except (OSError, ValueError):
        return set()
    return {e.source_type for e in entries}


def run_build(config: BuildConfig, client: LLMClient | None = None, progress=print) -> dict[str, Any]:
    return CorpusBuilder(config, client=client, progress=progress).run()


def format_summary(summary: dict) -> str:
    a = summary["accounting"]
    lines = [
        f"{summary['name']} {summary['version']} -> {summary['out']}  ({summary['seconds']} s)",
        "rows: " + ", ".join(f"{t}={n}" for t, n in summary["rows"].items()) + f"  (total {a['items_published']})",
        f"source records: {a['source_records']} = published {a['records_published']} + quarantined "
        f"{a['records_quarantined']} + duplicates {a['records_duplicate']} "
        f"(exact {a['duplicates']['exact']}, near {a['duplicates']['near']})",
        f"items: planned {a['items_planned']} = published {a['items_published']} + quarantined {a['items_quarantined']}",
        f"source defects (files): {a['source_defects']}",
    ]
    for title, reasons in (("record quarantine", a["record_quarantine_reasons"]),
                           ("item quarantine", a["item_quarantine_reasons"]),
                           ("source defects", a["source_defect_reasons"])):
        for reason, n in reasons.items():
            lines.append(f"  {title}: {n} x {reason}")
    llm = summary["llm"]
    lines.append(f"LLM: {llm.get('requests', 0)} requests sent, {llm.get('cache_hits', 0)} cache hits, "
                 f"{llm.get('failures', 0)} failures  (work dir {summary['work_dir']})")
    return "\n".join(lines)
