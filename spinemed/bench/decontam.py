"""Decontamination: SpineBench items and their near duplicates never reach training data.

The comparison reuses the corpus dedup machinery (:class:`spinemed.build.dedup.Deduper`:
normalised-text hash for exact matches, MinHash LSH over CJK-aware shingles for near ones)
at a lower threshold (default 0.5 against the build's 0.8): a training item that shares half
its shingles with a bench item is close enough to leak it.

What is compared is the *input side* of an item, the text a model is shown when it is
evaluated (:func:`overlap_text`): an MCQ's stem with its lettered options, the case of a
report task.  The same function serves the bench index, the sampler (bench items must not
be near duplicates of each other) and the candidate rows, so "overlap" means the same thing
everywhere.  A candidate row also overlaps when it carries a bench item's id (a bench item
corrected by reviewers may no longer match its corpus original by text) or embeds one of
the bench's images byte for byte (the same figure under another question is still a leak).

Not detected (documented limits): translations of a bench item, paraphrases below the
threshold, and bench images that were re-encoded.

Command line: ``spinemed bench check-overlap BENCH CANDIDATE`` and ``spinemed bench
decontaminate``; library: :func:`check_overlap`, :func:`write_decontaminated_corpus`.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemed.build.dedup import Deduper
from spinemed.hub import DatasetFolderWriter, dataset_info_yaml, write_dataset_card, write_manifest
from spinemed.schema import BENCH_CONFIGS, TASKS, features_for

from .folders import folder_configs, folder_manifest, iter_dataset_rows, read_folder_rows, row_image_digests

DEFAULT_THRESHOLD = 0.5
INDEX_FORMAT = "spinebench-index/1"
INDEX_FILE = "bench_index.json"
_REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_CARD_TEMPLATE = _REPO_ROOT / "dataset_cards" / "spinemed-450k.md"

# How an overlap was found, strongest first.
STATUSES = ("exact", "near", "same_id", "same_image")

# Columns of non-SpineMed datasets that hold what a model is asked (checked one by one).
_PROMPT_COLUMNS = ("question", "prompt", "instruction", "input", "query", "problem", "case", "text", "context")
_USER_ROLES = {"user", "human"}


# --------------------------------------------------------------------------------------
# What is compared
# --------------------------------------------------------------------------------------


def overlap_text(row: Mapping[str, Any]) -> str:
    """The text of a SpineMed / SpineBench row that decides overlap: what the model is shown.

    mcq: the stem and the lettered options, as the chat prompt renders them
    (``spinemed.build.generate.render_messages``); open_qa: the question; consultation and
    report: the case.  Raises ValueError for a row without a SpineMed task.
    """
    task = row.get("task")
    if task == "mcq":
        options = "\n".join(f"{o['label']}. {o['text']}" for o in row.get("options") or [])
        return f"{row.get('question', '')}\n{options}".strip()
    if task == "open_qa":
        return str(row.get("question", ""))
    if task in ("consultation", "report"):
        return str(row.get("case", ""))
    raise ValueError(f"row {row.get('id')!r}: task {task!r} is not a SpineMed task {TASKS}")


def probe_texts(row: Mapping[str, Any]) -> list[str]:
    """Texts of any dataset row to compare against the bench.

    SpineMed rows give their :func:`overlap_text`.  Other rows give each user turn of a chat
    column (`messages`/`conversations`, OpenAI or ShareGPT style), each prompt-like string
    column (question, prompt, instruction, input, ...; an MCQ `question` is joined with its
    `options`/`choices`), or, when none of these exist, all their strings joined.
    """
    if row.get("task") in TASKS:
        return [overlap_text(row)]
    probes: list[str] = []
    for column in ("messages", "conversations", "conversation", "dialogue"):
        turns = row.get(column)
        if isinstance(turns, list):
            for turn in turns:
                if not isinstance(turn, Mapping):
                    continue
                role = str(turn.get("role", turn.get("from", ""))).lower()
                if role in _USER_ROLES:
                    text = _content_text(turn.get("content", turn.get("value")))
                    if text.strip():
                        probes.append(text)
    for column in _PROMPT_COLUMNS:
        value = row.get(column)
        if isinstance(value, str) and value.strip():
            if column == "question":
                value = _with_options(value, row.get("options", row.get("choices")))
            probes.append(value)
    if not probes:
        strings = [s for s in _strings(row) if s.strip()]
        if strings:
            probes.append("\n".join(strings))
    return list(dict.fromkeys(probes))  # drop repeats, keep order


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("text"))
    return ""


def _with_options(question: str, options: Any) -> str:
    if isinstance(options, Mapping):
        lines = [f"{k}. {v}" for k, v in sorted(options.items())]
    elif isinstance(options, list) and options:
        if all(isinstance(o, Mapping) and "text" in o for o in options):
            lines = [f"{o.get('label', chr(65 + i))}. {o['text']}" for i, o in enumerate(options)]
        else:
            lines = [f"{chr(65 + i)}. {o}" for i, o in enumerate(options)]
    else:
        return question
    return question + "\n" + "\n".join(lines)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        if "bytes" in value and set(value) <= {"bytes", "path"}:
            return  # an undecoded image
        for sub in value.values():
            yield from _strings(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _strings(sub)


# --------------------------------------------------------------------------------------
# Bench index
# --------------------------------------------------------------------------------------


@dataclass
class BenchIndex:
    """The bench's texts (MinHash index), ids and image hashes, queried without inserting."""

    deduper: Deduper
    ids: set[str]
    images: dict[str, str]  # sha256 -> bench id
    info: dict[str, Any] = field(default_factory=dict)  # name, version, content_hash, source

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, threshold: float = DEFAULT_THRESHOLD,
                  info: Mapping[str, Any] | None = None) -> BenchIndex:
        dd = Deduper(threshold=threshold)
        ids: set[str] = set()
        images: dict[str, str] = {}
        for row in rows:
            row_id = str(row["id"])
            ids.add(row_id)
            dd.check(row_id, overlap_text(row))  # a bench near-duplicate of another maps to it
            for digest in row_image_digests(row):
                images.setdefault(digest, row_id)
        return cls(dd, ids, images, dict(info or {}))

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, *, threshold: float = DEFAULT_THRESHOLD) -> BenchIndex:
        """Index a SpineBench release folder (its `mcq` and `report` configs)."""
        manifest = folder_manifest(folder)
        configs = [c for c in folder_configs(manifest) if c in BENCH_CONFIGS]
        if not configs:
            raise ValueError(f"{str(folder)!r} is not a SpineBench folder: it has no {BENCH_CONFIGS} config")
        columns = {"mcq": ["id", "task", "question", "options", "images"], "report": ["id", "task", "case", "images"]}
        rows = (r for c in configs for r in read_folder_rows(folder, c, manifest=manifest, columns=columns[c]))
        info = {"name": manifest.get("name"), "version": manifest.get("version"),
                "content_hash": manifest.get("content_hash"), "source": str(folder)}
        return cls.from_rows(rows, threshold=threshold, info=info)

    @classmethod
    def load(cls, path: str | os.PathLike, *, threshold: float | None = None) -> BenchIndex:
        """Load an index saved with :meth:`save`, or a bare saved Deduper index (text only)."""
        path = Path(path)
        dd = Deduper.load(path, threshold=threshold)
        meta_file = path / INDEX_FILE
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("format") != INDEX_FORMAT:
                raise ValueError(f"{meta_file}: format {meta.get('format')!r}, expected {INDEX_FORMAT!r}")
            return cls(dd, set(meta["ids"]), dict(meta["images"]), {**meta.get("info", {}), "source": str(path)})
        return cls(dd, set(dd._keys), {}, {"source": str(path)})

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        self.deduper.save(path)
        meta = {"format": INDEX_FORMAT, "info": {k: v for k, v in self.info.items() if k != "source"},
                "ids": sorted(self.ids), "images": dict(sorted(self.images.items()))}
        (path / INDEX_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @property
    def threshold(self) -> float:
        return self.deduper.threshold

    def match(self, probes: Iterable[str], *, row_id: str | None = None,
              image_digests: Iterable[str] = ()) -> dict[str, Any] | None:
        """The strongest overlap of one candidate row ({status, bench_id, similarity}) or None."""
        best: dict[str, Any] | None = None
        top_similarity = 0.0
        for i, text in enumerate(probes):
            res = self.deduper.check(f"candidate-{i}", text, add=False)
            top_similarity = max(top_similarity, res.similarity)
            if res.status == "unique":
                continue
            found = {"status": res.status, "bench_id": res.duplicate_of, "similarity": round(float(res.similarity), 4)}
            if best is None or (STATUSES.index(found["status"]), -found["similarity"]) < (
                STATUSES.index(best["status"]), -best["similarity"]):
                best = found
        if best is not None:
            return best
        if row_id is not None and row_id in self.ids:
            return {"status": "same_id", "bench_id": row_id, "similarity": round(top_similarity, 4)}
        for digest in image_digests:
            if digest in self.images:
                return {"status": "same_image", "bench_id": self.images[digest], "similarity": round(top_similarity, 4)}
        return None


def load_bench_index(bench: Any, *, threshold: float = DEFAULT_THRESHOLD) -> BenchIndex:
    """A BenchIndex from a SpineBench folder, a saved index folder, a Hub repo id, or an index."""
    if isinstance(bench, BenchIndex):
        if bench.threshold != threshold:
            raise ValueError(f"bench index was built at threshold {bench.threshold}, asked for {threshold}")
        return bench
    path = Path(bench)
    if (path / "dedup.json").is_file():
        return BenchIndex.load(path, threshold=threshold)
    if (path / "manifest.json").is_file():
        return BenchIndex.from_folder(path, threshold=threshold)
    if path.exists():
        raise ValueError(f"{str(path)!r} is neither a SpineBench folder (manifest.json) "
                         "nor a saved bench index (dedup.json)")
    if isinstance(bench, str) and bench.count("/") == 1 and not bench.startswith((".", "/")):
        from huggingface_hub import snapshot_download

        try:
            local = snapshot_download(bench, repo_type="dataset", allow_patterns=["README.md", "manifest.json", "data/*"])
        except Exception as exc:  # offline, unknown repo, no access: say what was tried
            raise FileNotFoundError(f"bench {bench!r} is not a local folder, and fetching it as a Hub dataset repo "
                                    f"failed ({type(exc).__name__}: {exc})") from None
        return BenchIndex.from_folder(local, threshold=threshold)
    raise FileNotFoundError(f"bench {str(bench)!r} not found (a SpineBench folder, a saved index or a Hub repo id)")


# --------------------------------------------------------------------------------------
# Overlap check
# --------------------------------------------------------------------------------------


@dataclass
class OverlapReport:
    """Result of :func:`check_overlap`.  `items` lists each overlapping candidate row:
    candidate_id, bench_id, similarity (estimated Jaccard; 1.0 for exact), status (exact |
    near | same_id | same_image), config, split."""

    bench: dict[str, Any]
    candidate: str
    threshold: float
    n_checked: int
    n_overlapping: int
    items: list[dict[str, Any]]
    by_config: dict[str, dict[str, int]]
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.n_overlapping == 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole report."""
        return {
            "bench": self.bench,
            "candidate": self.candidate,
            "threshold": self.threshold,
            "n_checked": self.n_checked,
            "n_overlapping": self.n_overlapping,
            "clean": self.clean,
            "by_config": self.by_config,
            "by_status": dict(Counter(i["status"] for i in self.items)),
            "items": self.items,
            "seconds": self.seconds,
        }

    def describe(self, limit: int = 20) -> str:
        b = self.bench
        head = (f"overlap of {self.candidate} with {b.get('name') or 'bench'} {b.get('version') or ''} "
                f"(threshold {self.threshold}): {self.n_overlapping} of {self.n_checked:,} rows overlap"
                f" -> {'CLEAN' if self.clean else 'CONTAMINATED'}  ({self.seconds:.1f} s)")
        lines = [head]
        for config, c in self.by_config.items():
            lines.append(f"  {config}: {c['checked']:,} checked, {c['overlapping']} overlapping")
        for item in self.items[:limit]:
            lines.append(f"  {item['config']}/{item['split']} {item['candidate_id']} ~ {item['bench_id']}  "
                         f"{item['status']} {item['similarity']:.2f}")
        if len(self.items) > limit:
            lines.append(f"  ... {len(self.items) - limit} more (use --json or --out for all)")
        return "\n".join(lines)


def check_overlap(
    bench: Any,
    candidate: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    configs: Iterable[str] | None = None,
    splits: Iterable[str] | None = None,
) -> OverlapReport:
    """Report which rows of `candidate` overlap SpineBench.

    bench: a SpineBench folder, a saved bench index (:meth:`BenchIndex.save`, or a bare
    `Deduper.save` folder) or a Hub repo id of a SpineBench release.
    candidate: a dataset folder or Hub repo id (read with `datasets.load_dataset`, streaming,
    offline for a folder when HF_HUB_OFFLINE is set), or a `datasets` object.
    configs / splits: restrict the candidate (default: all configs and splits).
    """
    start = time.perf_counter()
    index = load_bench_index(bench, threshold=threshold)
    items: list[dict[str, Any]] = []
    by_config: dict[str, dict[str, int]] = {}
    n = 0
    for config, split, i, row in iter_dataset_rows(candidate, configs=configs, splits=splits):
        n += 1
        stats = by_config.setdefault(config, {"checked": 0, "overlapping": 0})
        stats["checked"] += 1
        row_id = str(row["id"]) if row.get("id") is not None else f"{config}/{split}/{i}"
        hit = index.match(probe_texts(row), row_id=row_id, image_digests=row_image_digests(row))
        if hit:
            stats["overlapping"] += 1
            items.append({"candidate_id": row_id, **hit, "config": config, "split": split})
    name = str(candidate) if isinstance(candidate, (str, os.PathLike)) else type(candidate).__name__
    return OverlapReport(bench={k: index.info.get(k) for k in ("name", "version", "content_hash", "source")},
                         candidate=name, threshold=index.threshold, n_checked=n, n_overlapping=len(items),
                         items=items, by_config=by_config, seconds=round(time.perf_counter() - start, 2))


# --------------------------------------------------------------------------------------
# The decontaminated corpus release
# --------------------------------------------------------------------------------------

_REMOVAL_LABELS = {
    "exact": "exact duplicate of a bench item",
    "near": "near duplicate of a bench item",
    "same_id": "bench item (same id, text corrected by reviewers)",
    "same_image": "uses a bench image",
}


def write_decontaminated_corpus(
    bench: Any,
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    version: str | None = None,
    repo_id: str = "spinemed/SpineMed-450k",
    card_template: str | os.PathLike = CORPUS_CARD_TEMPLATE,
    rows_per_shard: int = 5000,
    progress=print,
) -> dict[str, Any]:
    """Write the SpineMed-450k release: the corpus build without the bench items and their near
    duplicates (same Hub layout, card and manifest; removed counts in the card's accounting).

    Returns a summary: counts kept/removed per config and reason, the removed rows, paths.
    """
    start = time.perf_counter()
    progress = progress or (lambda _m: None)
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    if corpus_dir.resolve() == out_dir.resolve():
        raise ValueError("the release folder must differ from the corpus build folder")
    index = load_bench_index(bench, threshold=threshold)
    manifest = folder_manifest(corpus_dir)
    card_info = _card_yaml(corpus_dir)
    configs = {t: features_for(t) for t in TASKS}
    writer = DatasetFolderWriter(out_dir, configs, split=manifest["split"], rows_per_shard=rows_per_shard,
                                 default_config=manifest.get("default_config") or "mcq")
    removed: list[dict[str, Any]] = []
    kept = Counter()
    try:
        for config in folder_configs(manifest):
            if config not in configs:
                raise ValueError(f"{str(corpus_dir)!r}: config {config!r} is not a SpineMed-450k config {TASKS}")
            for row in read_folder_rows(corpus_dir, config, manifest=manifest):
                hit = index.match([overlap_text(row)], row_id=row["id"], image_digests=row_image_digests(row))
                if hit:
                    removed.append({"id": row["id"], "config": config, **hit})
                    continue
                writer.add(config, row)
                kept[config] += 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    stats = writer.stats()
    corpus_rows = manifest["counts"]["num_rows"]
    if corpus_rows != sum(kept.values()) + len(removed):  # a bug, not bad input
        raise RuntimeError(f"decontamination lost rows: {corpus_rows} in, "
                           f"{sum(kept.values())} kept + {len(removed)} removed")

    reasons = Counter(_REMOVAL_LABELS[r["status"]] for r in removed)
    removed_by_config = Counter(r["config"] for r in removed)
    accounting = dict((manifest.get("build") or {}).get("accounting") or {})
    accounting.setdefault("source_records", 0)
    accounting.setdefault("duplicates", {"exact": 0, "near": 0})
    accounting.update({
        "items_removed_as_spinebench_overlap": len(removed),
        "items_in_this_release": sum(kept.values()),
        "spinebench_overlap_removed_by_reason": dict(sorted(reasons.items())),
        "spinebench_overlap_removed_by_config": {c: removed_by_config.get(c, 0) for c in TASKS},
    })
    bench_info = index.info
    bench_tag = f"{bench_info.get('name') or 'spinebench'} {bench_info.get('version') or ''}".strip()
    versions = dict(manifest.get("versions") or {})
    versions["decontaminated_against"] = f"{bench_tag} (content {str(bench_info.get('content_hash') or 'unknown')[:16]})"
    release_version = version or manifest["version"]
    decontamination = {
        "bench": {k: bench_info.get(k) for k in ("name", "version", "content_hash")},
        "threshold": index.threshold,
        "method": "Deduper (MinHash LSH, CJK-aware shingles) over spinemed.bench.decontam.overlap_text; "
                  "plus same item id and same image bytes",
        "corpus": {"name": manifest.get("name"), "version": manifest.get("version"),
                   "content_hash": manifest.get("content_hash")},
        "removed": len(removed),
        "removed_by_reason": dict(sorted(reasons.items())),
        "removed_by_config": dict(sorted(removed_by_config.items())),
        "removed_items": removed,
    }
    extra = {"accounting": accounting, "versions": versions, "license": card_info.get("license", "other"),
             "name": manifest.get("name"), "version": release_version, "repo_id": repo_id,
             "dataset_info": dataset_info_yaml(out_dir, configs, split=manifest["split"])}
    write_dataset_card(out_dir, card_template, pretty_name=card_info.get("pretty_name", "SpineMed-450k"),
                       stats=stats, extra=extra)
    out_manifest = write_manifest(out_dir, name=manifest.get("name", "spinemed-450k"), version=release_version,
                                  versions=versions, stats=stats,
                                  extra={"accounting": accounting, "decontamination": decontamination})
    summary = {
        "out": str(out_dir),
        "corpus": str(corpus_dir),
        "bench": {k: bench_info.get(k) for k in ("name", "version", "content_hash")},
        "threshold": index.threshold,
        "rows_in": corpus_rows,
        "rows_kept": {t: kept[t] for t in TASKS if t in kept},
        "rows_out": sum(kept.values()),
        "removed": len(removed),
        "removed_by_reason": dict(sorted(reasons.items())),
        "removed_by_config": dict(sorted(removed_by_config.items())),
        "content_hash": out_manifest["content_hash"],
        "seconds": round(time.perf_counter() - start, 2),
    }
    progress(format_decontamination(summary))
    return summary


def format_decontamination(summary: Mapping[str, Any]) -> str:
    b = summary["bench"]
    lines = [f"SpineMed-450k release without {b.get('name') or 'bench'} {b.get('version') or ''} items -> {summary['out']}"
             f"  ({summary['seconds']} s)",
             f"rows: {summary['rows_in']} in = {summary['rows_out']} released + {summary['removed']} removed "
             f"(threshold {summary['threshold']})"]
    for reason, n in summary["removed_by_reason"].items():
        lines.append(f"  removed: {n} x {reason}")
    lines.append("  released per config: " + ", ".join(f"{c}={n}" for c, n in summary["rows_kept"].items()))
    return "\n".join(lines)


def _card_yaml(folder: Path) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    try:
        return DatasetCard.load(folder / "README.md").data.to_dict()
    except Exception:  # the card is informational here; the manifest was verified
        return {}


__all__ = [
    "DEFAULT_THRESHOLD",
    "BenchIndex",
    "OverlapReport",
    "check_overlap",
    "format_decontamination",
    "load_bench_index",
    "overlap_text",
    "probe_texts",
    "write_decontaminated_corpus",
]
