"""The corpus build: sources -> deid -> pcm check -> dedup -> classify -> generate -> validate -> Hub folder.

Records stream through in windows (never the whole corpus in memory).  Within a window the
LLM calls run concurrently; de-identification and dedup run in record order so the output is
deterministic.  Every input record ends in exactly one bucket (published / quarantined with a
reason / duplicate) and every planned item in one (published / quarantined), and the summary
checks that the buckets add up.

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
import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from .. import deid
from ..deid.provenance import ProvenanceIds, deidentify_provenance, opaque_id, stamp_record
from ..hub import DatasetFolderWriter, dataset_info_yaml, write_dataset_card, write_manifest
from ..levels import parse_levels
from ..lexicon import load_lexicon
from ..llm.base import ChatRequest, LLMError, UntrustedEndpointError
from ..llm.client import LLMClient
from ..llm.routing import (CLINICAL_SOURCE_TYPES, DEFAULT_ENDPOINT, RoutingBackend, build_backend, check_routing,
                           is_trusted, resolve_endpoints)
from ..schema import PIPELINE_VERSION, SUBFIELDS, TASKS, ImageRef, SourceIssue, SourceRecord, features_for
from .classify import classification_text, keyword_classify, valid_subfield
from .dedup import Deduper
from .pcm import check_figure_consistency
from .generate import DEFAULT_PLAN, Generator, JobOutcome, load_criteria, plan_jobs
from .prompts import OutputParseError, dumps_facts, load_prompts
from .sources import CATALOG_FILE, iter_sources, load_catalog

DEFAULT_BUILDER = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k" / "builder.yaml"
_PLACEHOLDER_ONLY = re.compile(r"^\s*(\[[A-Z>0-9]+\]\s*)+$")
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
    window: int = 64
    limit: int | None = None  # stop after N source records (smoke runs)
    provenance_secret: str | None = None  # HMAC key of opaque ids (default: $SPINEMED_PROVENANCE_SECRET)
    ocr_check: bool = False  # OCR every image; burned-in identifier text quarantines the record

    def resolved(self) -> dict[str, Any]:
        spec = yaml.safe_load(Path(self.builder).read_text("utf-8"))
        base = Path(self.builder).resolve().parent
        gen = dict(spec.get("generation") or {})
        for key in ("backend", "model", "concurrency", "languages"):
            if getattr(self, key) is not None:
                gen[key] = getattr(self, key)
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
            "dedup": spec.get("dedup") or {},
            "generation": gen,
            "out": out,
            "work_dir": Path(self.work_dir) if self.work_dir else out.parent / f"{out.name}.work",
            "ocr_check": bool(self.ocr_check),
        }


PROVENANCE_MAP = "provenance_map.jsonl"
# Keys of work-file entries that hold ids, enums and numbers (never free text): left as they are.
_ID_KEYS = {"level", "stage", "record_id", "item_id", "source_file", "kind", "task", "language", "status",
            "duplicate_of", "similarity"}


class _Log:
    """JSONL side files of the build (quarantine, duplicates, source issues), and the private
    provenance map (opaque id -> real file name / case id), the one work file that holds real
    names: it is created readable by its owner only and is never published."""

    def __init__(self, work_dir: Path, ids: ProvenanceIds | None = None, sources_root: Path | None = None):
        work_dir.mkdir(parents=True, exist_ok=True)
        self.ids = ids if ids is not None else ProvenanceIds()
        self.roots = _root_spellings(sources_root)
        self.files = {name: open(work_dir / f"{name}.jsonl", "w", encoding="utf-8")
                      for name in ("quarantine", "duplicates", "source_issues")}
        map_path = work_dir / PROVENANCE_MAP
        fd = os.open(map_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(map_path, 0o600)  # also when the file existed with wider permissions
        self.files["provenance_map"] = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, name: str, entry: dict, scrubbed: bool = False) -> None:
        """One JSONL entry; its free-text values go through `_scrub_value` unless the caller
        already scrubbed them (`scrubbed=True`)."""
        if name != "provenance_map" and not scrubbed:
            entry = {k: v if k in _ID_KEYS else _scrub_value(v, self.ids, self.roots) for k, v in entry.items()}
        self.files[name].write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def flush_ids(self) -> None:
        """Append the opaque ids made since the last call to the private provenance map."""
        for entry in self.ids.drain():
            self.write("provenance_map", entry)

    def close(self) -> None:
        self.flush_ids()
        for f in self.files.values():
            f.close()


_ABS_PATH = re.compile(r"(?:(?<![\w.])/|~/|\b[A-Za-z]:\\)[^\s'\"]+")
_REL_PATH = re.compile(r"[^\s'\"():,;]+/[^\s'\"():,;]+\.[A-Za-z0-9]{1,5}\b")
_KEEP_OR_PATH = re.compile(r"\b(?:src|case|subj)-[0-9a-f]{12}\b|" + _REL_PATH.pattern)


def _root_spellings(root: Path | None) -> list[str]:
    if root is None:
        return []
    spellings = {str(root), str(Path(root).absolute()), str(Path(root).resolve())}
    return sorted((s.rstrip("/") + "/" for s in spellings if s not in ("", ".")), key=len, reverse=True)


def _scrub_text(text: str, ids: ProvenanceIds, roots: list[str]) -> str:
    """Free text for a work file: paths under the sources root become opaque ids, other
    absolute paths `<path>`, and the rest goes through the de-identification scrubber."""
    for root in roots:
        text = text.replace(root, "")
    out, pos = [], 0
    for m in _KEEP_OR_PATH.finditer(text):
        out.append(deid.deidentify(text[pos:m.start()]) if m.start() > pos else "")
        token = m.group(0)
        if _OPAQUE.fullmatch(token):
            out.append(token)  # already opaque (a reason written from opaque ids)
        else:
            out.append("<path>" if _ABS_PATH.match(token) else ids.opaque(token, "src"))
        pos = m.end()
    tail = text[pos:]
    out.append(deid.deidentify(_ABS_PATH.sub("<path>", tail)) if tail else "")
    return "".join(out)


def _scrub_value(value: Any, ids: ProvenanceIds, roots: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, ids, roots) if value.strip() else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, ids, roots) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(v, ids, roots) for v in value]
    return value


def deidentify_record(rec: SourceRecord, on_dropped: Callable[[str], None] | None = None) -> SourceRecord:
    """Scrub every free-text and structured field of a record (`spinemed.deid.records`):
    the source type picks the mode (clinical / literature), structured case records pass the
    key allowlist, and each dropped unknown key is reported through `on_dropped` (path only)."""
    report = deid.deidentify_record(rec)
    if on_dropped is not None:
        for path in report.dropped_keys:
            on_dropped(path)
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


def load_images(rec: SourceRecord, sources_root: Path, ids: ProvenanceIds | None = None) -> list[dict]:
    """Encoded bytes of a record's images ({"bytes", "path"} as datasets.Image stores them).

    The stored file name is opaque (the record id for images an adapter made, the file's
    opaque id for image files): a source file name may carry a patient's name."""
    out = []
    for i, img in enumerate(rec.images):
        if img.data is not None:
            out.append({"bytes": img.data, "path": f"{rec.record_id}-{i}.png"})
        elif img.path:
            path = sources_root / img.path
            name = ids.opaque(img.path, "src") if ids is not None else opaque_id(img.path, "src")
            out.append({"bytes": path.read_bytes(), "path": name + Path(img.path).suffix.lower()})
    return out


class CorpusBuilder:
    def __init__(self, config: BuildConfig, client: LLMClient | None = None,
                 progress: Callable[[str], None] | None = print):
        self.cfg = config.resolved()
        self.config = config
        gen = self.cfg["generation"]
        secret = config.provenance_secret if config.provenance_secret is not None else os.environ.get(PROVENANCE_SECRET_ENV)
        self.ids = ProvenanceIds(secret or None)
        self.source_types = _catalog_source_types(self.cfg["sources"])
        self.endpoints, self.routing = resolve_endpoints(gen, api_key=config.api_key)
        if client is None:
            # refuse before anything is built or sent: clinical sources only go to trusted endpoints
            check_routing(self.endpoints, self.routing, self.source_types)
            concurrency = int(gen.get("concurrency", 8))
            backends = {name: build_backend(self.endpoints[name], concurrency=concurrency)
                        for name in dict.fromkeys(self.routing.values())}
            from ..llm.cache import RequestCache

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
        self.generator = Generator(self.client, self.prompts, self.criteria, json_retries=int(gen.get("json_retries", 2)))
        d = self.cfg["dedup"]
        self.deduper = Deduper(threshold=float(d.get("threshold", 0.8)), num_perm=int(d.get("num_perm", 128)))
        self.progress = progress or (lambda _msg: None)
        self.ocr_engine = None  # the optional burned-in-text check (deid/images.py); never on silently
        if self.cfg["ocr_check"]:
            from ..deid.images import _NO_ENGINE, ocr_engine

            self.ocr_engine = ocr_engine()
            if self.ocr_engine is None:
                raise ValueError(f"--ocr-check cannot run: {_NO_ENGINE}")
        langs = gen.get("languages", "auto")
        if langs not in ("auto", "source", "both"):
            raise ValueError(f"generation.languages must be auto, source or both, not {langs!r}")
        self.languages = langs
        if langs == "both":
            for st in sorted(self.source_types) or [""]:
                backend = self._backend_for(st)
                if not getattr(backend, "can_translate", True):
                    raise ValueError(f"backend {backend.name!r}{f' (for {st} sources)' if st else ''} cannot "
                                     "translate; use languages=source or auto")
        self.counts: dict[str, Counter] = {k: Counter() for k in (
            "records", "record_outcome", "record_quarantine", "items", "item_quarantine", "duplicates",
            "source_issues", "classification", "pcm", "deid_dropped_keys")}

    def _count_dropped_key(self, path: str) -> None:
        """A structured key outside the allowlist was dropped (counted by path, never by value)."""
        self.counts["deid_dropped_keys"][re.sub(r"\[\d+\]", "[]", path)] += 1

    def _backend_for(self, source_type: str):
        backend = self.client.backend
        return backend.backend_for(source_type) if hasattr(backend, "backend_for") else backend

    def _languages(self, rec: SourceRecord) -> list[str]:
        """Both languages when asked for, or (auto) when the record's endpoint can translate."""
        if self.languages == "both" or (
                self.languages == "auto" and getattr(self._backend_for(rec.source_type), "can_translate", True)):
            return ["en", "zh"]
        return [rec.language]

    # -------------------------------------------------------------- LLM-backed record stages

    async def pcm_check(self, rec: SourceRecord, images: list[dict]) -> tuple[bool, str]:
        return await check_figure_consistency(self.generator, self.prompts["pcm_check"], rec, [i["bytes"] for i in images])

    async def classify(self, rec: SourceRecord) -> tuple[str | None, str]:
        text = classification_text(rec)
        msgs = self.prompts["classify"].render(
            taxonomy={k: v for k, v in SUBFIELDS.items()}, facts_json=dumps_facts({"text": text[:6000]}))
        try:
            obj, _ = await self.generator.ask_json(msgs, check=lambda o: o["subfield"], record=rec)
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
        # 1. deid (in order): provenance ids, text scrubber, stamp; load images
        prepared = []
        for rec in window:
            self.counts["records"][rec.source_type] += 1
            deidentify_provenance(rec, self.ids)
            deidentify_record(rec, self._count_dropped_key)
            stamp_record(rec)  # verified wherever a request is built from the record
            try:
                images = load_images(rec, root, self.ids)
            except OSError as exc:
                self._quarantine_record(log, rec, "sources", f"image unreadable: {exc}")
                continue
            if self.ocr_engine and images and _burned_in_kinds(images):
                self._quarantine_record(log, rec, "deid", "burned-in identifier text")
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
            languages = self._languages(rec)
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
        reason = _scrub_text(reason, self.ids, log.roots)  # exception texts may quote paths
        self.counts["record_outcome"]["quarantined"] += 1
        self.counts["record_quarantine"][f"{stage}: {_reason_key(reason)}"] += 1
        log.write("quarantine", {"level": "record", "stage": stage, "record_id": rec.record_id,
                                 "source_file": rec.source_file, "kind": rec.kind, "reason": reason}, scrubbed=True)

    async def run_async(self) -> dict[str, Any]:
        cfg = self.cfg
        start = time.perf_counter()
        out: Path = cfg["out"]
        if not cfg["sources"].is_dir():
            raise FileNotFoundError(f"sources folder not found: {cfg['sources']}")
        log = _Log(cfg["work_dir"], self.ids, cfg["sources"])
        configs = {t: features_for(t) for t in TASKS}
        writer = DatasetFolderWriter(out, configs, split="train", rows_per_shard=cfg["rows_per_shard"],
                                     default_config=cfg["default_config"])
        n_records = 0
        try:
            window: list[SourceRecord] = []
            for entry in iter_sources(cfg["sources"]):
                if isinstance(entry, SourceIssue):
                    # the console names the real file (for the person fixing it); the work file and
                    # the counts (card, manifest) get its opaque id and the scrubbed reason
                    reason = _scrub_text(entry.reason, self.ids, log.roots)
                    self.counts["source_issues"][_reason_key(reason)] += 1
                    where = entry.source_file if entry.source_file == CATALOG_FILE else self.ids.opaque(entry.source_file, "src")
                    log.write("source_issues", {"source_file": where, "reason": reason,
                                                "stage": entry.stage, "record_id": entry.record_id}, scrubbed=True)
                    self.progress(f"  source defect: {entry.source_file}: {entry.reason}")
                    continue
                if self.config.limit is not None and n_records >= self.config.limit:
                    break
                n_records += 1
                window.append(entry)
                if len(window) >= self.config.window:
                    await self._process_window(window, writer, log)
                    log.flush_ids()
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
        if self.ocr_engine:
            versions["ocr_check"] = self.ocr_engine
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
        from dataclasses import asdict

        return asdict(stats)
    except TypeError:
        return dict(vars(stats))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")
_PATHLIKE = re.compile(r"\S+/\S+\.[A-Za-z0-9]{1,5}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPAQUE = re.compile(r"\b(?:src|case|subj)-[0-9a-f]{12}\b")


def _reason_key(reason: str) -> str:
    """The reason with record-specific detail (quoted names, file paths, numbers) masked, so
    counts group like reasons together; the full text stays in the JSONL side files."""
    key = _OPAQUE.sub("<id>", reason)
    key = _QUOTED.sub("'…'", key)
    key = _PATHLIKE.sub("<file>", key)
    key = _NUMBER.sub("N", key)
    return re.sub(r"\s+", " ", key).strip()


def _burned_in_kinds(images: list[dict]) -> set[str]:
    """Identifier kinds found by OCR in the text burned into a record's images."""
    from ..deid import images as deid_images

    return {f.kind for img in images for f in deid_images.burned_in_identifiers(img["bytes"])}


def _identifier_findings(row: dict) -> set[str]:
    """The de-identification detector run again on generated text before anything is written."""
    from .validate import row_text

    return {f.kind for f in deid.find_identifiers(row_text(row))}


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
