"""The corpus build: sources -> deid -> pcm check -> dedup -> classify -> generate -> validate -> Hub folder.

Records stream through in windows (never the whole corpus in memory).  Within a window the
LLM calls run concurrently; de-identification and dedup run in record order so the output is
deterministic.  Every input record ends in exactly one bucket (published / quarantined with a
reason / duplicate) and every planned item in one (published / quarantined), and the summary
checks that the buckets add up.

Order differs from the paper's (PCM before de-identification) on purpose: de-identification
runs before the first LLM call, so no identifier ever reaches a generation endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from .. import deid
from ..hub import DatasetFolderWriter, dataset_info_yaml, write_dataset_card, write_manifest
from ..levels import parse_levels
from ..lexicon import load_lexicon
from ..llm.base import ChatRequest, LLMError
from ..llm.client import LLMClient, build_client
from ..schema import PIPELINE_VERSION, SUBFIELDS, TASKS, ImageRef, SourceIssue, SourceRecord, features_for
from .classify import classification_text, keyword_classify, valid_subfield
from .dedup import Deduper
from .pcm import check_figure_consistency
from .generate import DEFAULT_PLAN, Generator, JobOutcome, load_criteria, plan_jobs
from .prompts import OutputParseError, dumps_facts, load_prompts
from .sources import iter_sources

DEFAULT_BUILDER = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k" / "builder.yaml"
_PLACEHOLDER_ONLY = re.compile(r"^\s*(\[[A-Z>0-9]+\]\s*)+$")


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
    concurrency: int | None = None
    languages: str | None = None  # "auto" | "source" | "both"
    window: int = 64
    limit: int | None = None  # stop after N source records (smoke runs)

    def resolved(self) -> dict[str, Any]:
        spec = yaml.safe_load(Path(self.builder).read_text("utf-8"))
        base = Path(self.builder).resolve().parent
        gen = dict(spec.get("generation") or {})
        for key in ("backend", "model", "concurrency", "languages"):
            if getattr(self, key) is not None:
                gen[key] = getattr(self, key)
        if self.base_urls:
            gen["base_urls"] = list(self.base_urls)
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
            "dedup": spec.get("dedup") or {},
            "generation": gen,
            "out": out,
            "work_dir": Path(self.work_dir) if self.work_dir else out.parent / f"{out.name}.work",
        }


class _Log:
    """JSONL side files of the build (quarantine, duplicates, source issues)."""

    def __init__(self, work_dir: Path):
        work_dir.mkdir(parents=True, exist_ok=True)
        self.files = {name: open(work_dir / f"{name}.jsonl", "w", encoding="utf-8")
                      for name in ("quarantine", "duplicates", "source_issues")}

    def write(self, name: str, entry: dict) -> None:
        self.files[name].write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def deidentify_record(rec: SourceRecord) -> SourceRecord:
    """Scrub every free-text and structured field of a record.

    The narrative, captions and context go through `deid.deidentify_fields` together with the
    structured fields, so identifier values found in structured fields (a patient's name, an
    MRN) are also removed wherever the notes repeat them.  Fields left holding only a
    placeholder are dropped: they carry no clinical content."""
    bundle = {
        **rec.fields,
        "__text__": rec.text,
        "__title__": rec.title,
        "__context__": list(rec.context),
        "__captions__": [img.caption for img in rec.images],
        "__descriptions__": [img.description for img in rec.images],
    }
    clean = deid.deidentify_fields(bundle)
    rec.text = clean.pop("__text__")
    rec.title = clean.pop("__title__")
    rec.context = clean.pop("__context__")
    for img, cap, desc in zip(rec.images, clean.pop("__captions__"), clean.pop("__descriptions__")):
        img.caption, img.description = cap, desc
    rec.fields = {k: v for k, v in clean.items() if not (isinstance(v, str) and _PLACEHOLDER_ONLY.match(v))}
    return rec


def dedup_text(rec: SourceRecord) -> str:
    """What two records must share to count as duplicates."""
    if rec.kind == "figure":
        # the image itself is part of the identity: one caption over two different pictures
        # is two figures
        img = rec.images[0] if rec.images else None
        ident = hashlib.sha256(img.data).hexdigest()[:16] if img is not None and img.data else (img.path if img else "")
        return " ".join([ident, img.caption if img else "", *rec.context])
    if rec.kind == "mcq":
        opts = rec.fields.get("options") or {}
        opts_text = " ".join(str(v) for _, v in sorted(opts.items())) if isinstance(opts, dict) else str(opts)
        return f"{rec.fields.get('question', '')} {opts_text}"
    if rec.kind in ("case", "volume"):
        return "\n".join([rec.text, json.dumps(rec.fields, ensure_ascii=False, sort_keys=True, default=str)])
    return rec.text


def load_images(rec: SourceRecord, sources_root: Path) -> list[dict]:
    """Encoded bytes of a record's images ({"bytes", "path"} as datasets.Image stores them)."""
    out = []
    for i, img in enumerate(rec.images):
        if img.data is not None:
            out.append({"bytes": img.data, "path": f"{rec.record_id}-{i}.png"})
        elif img.path:
            path = sources_root / img.path
            out.append({"bytes": path.read_bytes(), "path": Path(img.path).name})
    return out


class CorpusBuilder:
    def __init__(self, config: BuildConfig, client: LLMClient | None = None,
                 progress: Callable[[str], None] | None = print):
        self.cfg = config.resolved()
        self.config = config
        gen = self.cfg["generation"]
        self.client = client or build_client(
            backend=gen.get("backend", "offline"), model=gen.get("model"), base_urls=gen.get("base_urls") or None,
            api_key=config.api_key, concurrency=int(gen.get("concurrency", 8)),
            cache_dir=self.cfg["work_dir"] / "cache")
        self.prompts = load_prompts(self.cfg["prompts"])
        self.criteria = load_criteria(self.cfg["criteria"])
        self.generator = Generator(self.client, self.prompts, self.criteria, json_retries=int(gen.get("json_retries", 2)))
        d = self.cfg["dedup"]
        self.deduper = Deduper(threshold=float(d.get("threshold", 0.8)), num_perm=int(d.get("num_perm", 128)))
        self.progress = progress or (lambda _msg: None)
        langs = gen.get("languages", "auto")
        can_translate = getattr(self.client.backend, "can_translate", True)
        if langs not in ("auto", "source", "both"):
            raise ValueError(f"generation.languages must be auto, source or both, not {langs!r}")
        if langs == "both" and not can_translate:
            raise ValueError(f"backend {self.client.backend.name!r} cannot translate; use languages=source or auto")
        self.both_languages = langs == "both" or (langs == "auto" and can_translate)
        self.counts: dict[str, Counter] = {k: Counter() for k in (
            "records", "record_outcome", "record_quarantine", "items", "item_quarantine", "duplicates",
            "source_issues", "classification", "pcm")}

    # -------------------------------------------------------------- LLM-backed record stages

    async def pcm_check(self, rec: SourceRecord, images: list[dict]) -> tuple[bool, str]:
        return await check_figure_consistency(self.generator, self.prompts["pcm_check"], rec, [i["bytes"] for i in images])

    async def classify(self, rec: SourceRecord) -> tuple[str | None, str]:
        text = classification_text(rec)
        msgs = self.prompts["classify"].render(
            taxonomy={k: v for k, v in SUBFIELDS.items()}, facts_json=dumps_facts({"text": text[:6000]}))
        try:
            obj, _ = await self.generator.ask_json(msgs, check=lambda o: o["subfield"])
            slug = valid_subfield(obj.get("subfield"))
            if slug:
                return slug, "llm"
        except (OutputParseError, LLMError):
            pass
        fallback = keyword_classify(text)
        if fallback.subfield is None and rec.subfield_hint:
            return rec.subfield_hint, "catalog"
        return fallback.subfield, fallback.method

    # -------------------------------------------------------------- driver

    async def _process_window(self, window: list[SourceRecord], writer: DatasetFolderWriter, log: _Log) -> None:
        root = self.cfg["sources"]
        # 1. deid (in order), load images
        prepared = []
        for rec in window:
            self.counts["records"][rec.source_type] += 1
            deidentify_record(rec)
            try:
                images = load_images(rec, root)
            except OSError as exc:
                self._quarantine_record(log, rec, "sources", f"image unreadable: {exc}")
                continue
            prepared.append((rec, images))

        # 2. PCM consistency check for figures (concurrent)
        async def pcm(rec, images):
            if rec.kind != "figure" or not self.cfg["pcm_check"] or not images:
                return True, ""
            try:
                return await self.pcm_check(rec, images)
            except (OutputParseError, LLMError) as exc:
                return False, f"check failed: {exc}"

        verdicts = await asyncio.gather(*(pcm(r, i) for r, i in prepared))
        kept = []
        for (rec, images), (ok, reason) in zip(prepared, verdicts):
            if rec.kind == "figure" and self.cfg["pcm_check"]:
                self.counts["pcm"]["consistent" if ok else "mismatch"] += 1
            if not ok:
                self._quarantine_record(log, rec, "pcm", f"picture-context mismatch: {reason}")
                continue
            # 3. dedup (in order, so the first occurrence is the one kept)
            res = self.deduper.check(rec.record_id, dedup_text(rec))
            if res.status != "unique":
                self.counts["duplicates"][res.status] += 1
                self.counts["record_outcome"]["duplicate"] += 1
                log.write("duplicates", {"record_id": rec.record_id, "status": res.status, "duplicate_of": res.duplicate_of,
                                         "similarity": round(float(res.similarity), 4), "source_file": rec.source_file})
                continue
            kept.append((rec, images))

        # 4. classification (concurrent)
        classes = await asyncio.gather(*(self.classify(r) for r, _ in kept))
        jobs_per_record = []
        for (rec, images), (slug, method) in zip(kept, classes):
            self.counts["classification"][method] += 1
            if slug is None:
                self._quarantine_record(log, rec, "classify", "unclassifiable: no sub-field could be assigned")
                continue
            levels = parse_levels(classification_text(rec))
            languages = ["en", "zh"] if self.both_languages else [rec.language]
            jobs = plan_jobs(rec, slug, levels, images, languages, self.cfg["plan"])
            if not jobs:
                self._quarantine_record(log, rec, "plan", f"no task is planned for record kind {rec.kind!r}")
                continue
            jobs_per_record.append((rec, jobs))

        # 5-7. generation + validation (concurrent), written in input order
        flat = [job for _, jobs in jobs_per_record for job in jobs]
        outcomes: list[JobOutcome] = await asyncio.gather(*(self.generator.run(j) for j in flat))
        pos = 0
        for rec, jobs in jobs_per_record:
            published = 0
            for outcome in outcomes[pos:pos + len(jobs)]:
                self.counts["items"]["planned"] += 1
                if outcome.row is not None:
                    outcome.row["deid_version"] = deid.DEID_VERSION
                    leftovers = _identifier_findings(outcome.row)
                    if leftovers:
                        outcome = JobOutcome(outcome.job, reason="validation: identifier found in generated output: "
                                             + ", ".join(sorted(leftovers)), stage="validate")
                if outcome.row is not None:
                    writer.add(outcome.job.task, outcome.row)
                    self.counts["items"]["published"] += 1
                    self.counts["items"][f"published:{outcome.job.task}"] += 1
                    published += 1
                else:
                    self.counts["items"]["quarantined"] += 1
                    self.counts["item_quarantine"][_reason_key(outcome.reason)] += 1
                    log.write("quarantine", {"level": "item", "stage": outcome.stage, "item_id": outcome.job.item_id,
                                             "record_id": rec.record_id, "source_file": rec.source_file,
                                             "task": outcome.job.task, "language": outcome.job.language,
                                             "reason": outcome.reason, **outcome.detail})
            pos += len(jobs)
            if published:
                self.counts["record_outcome"]["published"] += 1
            else:
                self.counts["record_outcome"]["quarantined"] += 1
                self.counts["record_quarantine"]["all planned items quarantined"] += 1

    def _quarantine_record(self, log: _Log, rec: SourceRecord, stage: str, reason: str) -> None:
        self.counts["record_outcome"]["quarantined"] += 1
        self.counts["record_quarantine"][f"{stage}: {_reason_key(reason)}"] += 1
        log.write("quarantine", {"level": "record", "stage": stage, "record_id": rec.record_id,
                                 "source_file": rec.source_file, "kind": rec.kind, "reason": reason})

    async def run_async(self) -> dict[str, Any]:
        cfg = self.cfg
        start = time.perf_counter()
        out: Path = cfg["out"]
        if not cfg["sources"].is_dir():
            raise FileNotFoundError(f"sources folder not found: {cfg['sources']}")
        log = _Log(cfg["work_dir"])
        configs = {t: features_for(t) for t in TASKS}
        writer = DatasetFolderWriter(out, configs, split="train", rows_per_shard=cfg["rows_per_shard"],
                                     default_config=cfg["default_config"])
        n_records = 0
        try:
            window: list[SourceRecord] = []
            for entry in iter_sources(cfg["sources"]):
                if isinstance(entry, SourceIssue):
                    self.counts["source_issues"][_reason_key(entry.reason)] += 1
                    log.write("source_issues", {"source_file": entry.source_file, "reason": entry.reason,
                                                "stage": entry.stage, "record_id": entry.record_id})
                    self.progress(f"  source defect: {entry.source_file}: {entry.reason}")
                    continue
                if self.config.limit is not None and n_records >= self.config.limit:
                    break
                n_records += 1
                window.append(entry)
                if len(window) >= self.config.window:
                    await self._process_window(window, writer, log)
                    window = []
            if window:
                await self._process_window(window, writer, log)
            writer_result = writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            log.close()
            await self.client.aclose()
        summary = self._summary(n_records, writer, writer_result, time.perf_counter() - start)
        (cfg["work_dir"] / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), "utf-8")
        generation = {"backend": self.client.backend.name, "model": self.client.backend.model}
        versions = {"pipeline": PIPELINE_VERSION, "criteria": self.criteria.version, "deid": deid.DEID_VERSION,
                    "lexicon": load_lexicon().version,
                    "prompts": ",".join(f"{p.id}@{p.version}:{p.hash}" for p in sorted(self.prompts.values(), key=lambda p: p.id)),
                    "backend": generation["backend"], "model": generation["model"]}
        extra = {"accounting": summary["accounting"], "generation": generation, "versions": versions,
                 "license": cfg["license"], "name": cfg["name"], "version": cfg["version"],
                 "repo_id": cfg["spec"].get("repo_id", f"org/{cfg['pretty_name']}"),
                 "dataset_info": dataset_info_yaml(out, configs)}
        write_dataset_card(out, cfg["card_template"], pretty_name=cfg["pretty_name"], stats=writer.stats(), extra=extra)
        summary["manifest"] = write_manifest(out, name=cfg["name"], version=cfg["version"], versions=versions,
                                             stats=writer.stats(), extra={"accounting": summary["accounting"]})
        return summary

    def run(self) -> dict[str, Any]:
        return asyncio.run(self.run_async())

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
            "classification": dict(c["classification"]),
        }
        balanced_records = n_records == (accounting["records_published"] + accounting["records_quarantined"]
                                         + accounting["records_duplicate"])
        balanced_items = accounting["items_planned"] == accounting["items_published"] + accounting["items_quarantined"]
        accounting["balanced"] = balanced_records and balanced_items
        if not accounting["balanced"]:  # a bug, not bad input: refuse to call the build good
            raise RuntimeError(f"build accounting does not add up: {accounting}")
        return {
            "name": self.cfg["name"], "version": self.cfg["version"], "out": str(self.cfg["out"]),
            "work_dir": str(self.cfg["work_dir"]), "seconds": round(seconds, 2),
            "rows": {t: c["items"][f"published:{t}"] for t in TASKS},
            "accounting": accounting,
            "llm": _stats_dict(self.client.stats),
            "shards": writer_result,
        }


def _stats_dict(stats) -> dict:
    try:
        from dataclasses import asdict

        return asdict(stats)
    except TypeError:
        return dict(vars(stats))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")
_PATHLIKE = re.compile(r"\S+/\S+\.[A-Za-z0-9]{1,5}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _reason_key(reason: str) -> str:
    """The reason with record-specific detail (quoted names, file paths, numbers) masked, so
    counts group like reasons together; the full text stays in the JSONL side files."""
    key = _QUOTED.sub("'…'", reason)
    key = _PATHLIKE.sub("<file>", key)
    key = _NUMBER.sub("N", key)
    return re.sub(r"\s+", " ", key).strip()


def _identifier_findings(row: dict) -> set[str]:
    """The de-identification detector run again on generated text before anything is written."""
    from .validate import row_text

    return {f.kind for f in deid.find_identifiers(row_text(row))}


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
