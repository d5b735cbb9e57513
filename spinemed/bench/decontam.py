"""Decontamination: SpineBench items, their near duplicates and their siblings never reach training data.

A candidate row overlaps SpineBench when any of these holds (strongest first, the order of
:data:`STATUSES`):

* ``exact`` / ``near``: its *input side* (:func:`overlap_text`: an MCQ's stem with its
  lettered options, the case of a report task; user turns or prompt columns of other
  datasets, :func:`probe_texts`) is an exact or near duplicate of a bench item's.  This is
  the corpus dedup machinery (:class:`spinemed.corpus.dedup.Deduper`: normalised-text hash,
  MinHash LSH over CJK-aware shingles) at a lower threshold (default 0.5 against the build's
  0.8).  The same function serves the bench index, the sampler (bench items must not be near
  duplicates of each other) and the candidates, so "overlap" means the same thing everywhere.
* ``same_id``: it carries a bench item's id (a bench item corrected by reviewers may no
  longer match its corpus original by text).
* ``same_source``: it was generated from the same source record as a bench item
  (``provenance.record_id``).  One passage or case yields several rows (an MCQ, an open-QA
  item, a consultation, a report, in one or two languages); a bench MCQ's open-QA sibling
  states the bench answer in its own words while its prompt looks nothing like the bench
  question, so prompt comparison alone lets the answer through.  Only rows that carry
  SpineMed provenance can match this way.
* ``contains_answer``: its full text (every string of the row: all chat turns, question,
  answer, explanation, case, report; metadata such as ids and provenance left out) contains
  a bench item's *answer key* (:func:`answer_key_text`: MCQ stem + the text of the correct
  option(s); report case + reference report) at n-gram containment >= the answer threshold
  (default 0.6).  Containment is ``|G(key) & G(row)| / |G(key)|`` over the 5-gram sets of
  the dedup's normalised CJK-aware tokens (English word 5-grams, Chinese character 5-grams;
  :func:`answer_grams`), looked up in an inverted index.  Containment rather than
  Jaccard, because a leaking row usually embeds the bench content in a longer text (a
  dialogue, an explanation quoting the source sentence), which dilutes Jaccard but not
  containment.  5-grams are specific enough that shared clinical phrases rarely add up to
  60% of an item by chance; answer keys shorter than 5 tokens are left to the other checks.
  Generated MCQs from one document share a long question template, so another MCQ of the
  same document with the same correct option can pass the threshold: it is removed too, on
  the conservative side.  This also catches rows of other datasets that quote a bench item
  with its answer.
* ``same_image``: it embeds one of the bench's images byte for byte (the same figure under
  another question is still a leak).

Not detected (documented limits): translations and paraphrases of a bench item that come from
another source record and fall below both thresholds, and bench images that were re-encoded.

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

from spinemed.config import default_repo
from spinemed.corpus.dedup import Deduper, shingle_hashes
from spinemed.fileio import atomic_write_json
from spinemed.hub import DatasetFolderWriter, dataset_info_yaml, is_repo_id, write_dataset_card, write_manifest
from spinemed.paths import checkout_path
from spinemed.progress import Progress
from spinemed.schema import BENCH_CONFIGS, REPORT_PARTS, TASKS, features_for
from spinemed.text import normalize_text, tokens_of  # what the dedup reads text with, so both checks read alike

from .folders import folder_configs, folder_manifest, iter_dataset_rows, read_folder_rows, row_image_digests

DEFAULT_THRESHOLD = 0.5
# Share of a bench item's answer-key 5-grams a candidate must contain to be a leak.
DEFAULT_ANSWER_THRESHOLD = 0.6
ANSWER_NGRAM = 5
INDEX_FORMAT = "spinebench-index/2"
INDEX_FILE = "bench_index.json"
CORPUS_CARD_TEMPLATE = checkout_path("dataset_cards", "spinemed-450k.md")

# How an overlap was found, strongest first.
STATUSES = ("exact", "near", "same_id", "same_source", "contains_answer", "same_image")

# Columns of non-SpineMed datasets that hold what a model is asked (checked one by one).
_PROMPT_COLUMNS = ("question", "prompt", "instruction", "input", "query", "problem", "case", "text", "context")
_USER_ROLES = {"user", "human"}
# Columns that describe a row rather than say anything a model could learn the answer from.
_METADATA_COLUMNS = frozenset({"id", "task", "language", "modality", "images", "subfield", "subfield_group", "levels",
                               "level_source", "provenance", "generation", "pipeline_version", "deid_version", "kind",
                               "bench_version", "verification"})


# --------------------------------------------------------------------------------------
# What is compared
# --------------------------------------------------------------------------------------


def overlap_text(row: Mapping[str, Any]) -> str:
    """The text of a SpineMed / SpineBench row that decides overlap: what the model is shown.

    mcq: the stem and the lettered options, as the chat prompt renders them
    (``spinemed.corpus.generate.render_messages``); open_qa: the question; consultation and
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


def answer_key_text(row: Mapping[str, Any]) -> str:
    """A bench item's prompt with its answer: the text a leaking training row would contain.

    mcq: the stem and the text of the correct option(s) (distractors are left out: a row that
    states the question and its answer leaks the item whatever the distractors); report: the
    case and the reference report; open_qa: question and answer; consultation: the case and
    the assistant turns.  Raises ValueError for a row without a SpineMed task.
    """
    task = row.get("task")
    if task == "mcq":
        correct = set(str(row.get("answer") or ""))
        texts = [str(o["text"]) for o in row.get("options") or [] if o.get("label") in correct]
        return "\n".join([str(row.get("question", "")), *texts]).strip()
    if task == "report":
        report = row.get("report") or {}
        return "\n".join([str(row.get("case", "")), *(str(report.get(p) or "") for p in REPORT_PARTS)]).strip()
    if task == "open_qa":
        return f"{row.get('question', '')}\n{row.get('answer', '')}".strip()
    if task == "consultation":
        turns = [_content_text(m.get("content")) for m in row.get("messages") or [] if m.get("role") == "assistant"]
        return "\n".join([str(row.get("case", "")), *turns]).strip()
    raise ValueError(f"row {row.get('id')!r}: task {task!r} is not a SpineMed task {TASKS}")


def full_text(row: Mapping[str, Any]) -> str:
    """Every string a model could learn from in a row of any dataset (all chat turns, question,
    options, answer, explanation, case, report, ...), without ids, provenance and other
    metadata columns; searched for bench answer keys."""
    return "\n".join(s for key, value in row.items() if key not in _METADATA_COLUMNS
                     for s in _strings(value) if s.strip())


def answer_grams(text: str) -> set[int]:
    """The 5-gram set answer-key containment is computed over: hashes of the dedup's CJK-aware
    token 5-grams (English words, Chinese characters); empty for a text of fewer than 5 tokens."""
    tokens = tokens_of(normalize_text(text))
    return set(shingle_hashes(tokens, ANSWER_NGRAM)) if len(tokens) >= ANSWER_NGRAM else set()


# --------------------------------------------------------------------------------------
# Bench index
# --------------------------------------------------------------------------------------


@dataclass
class BenchIndex:
    """The bench's prompt texts (MinHash index), ids, image hashes, source records and answer
    keys, queried without inserting."""

    deduper: Deduper
    ids: set[str]
    images: dict[str, str]  # sha256 -> bench id
    info: dict[str, Any] = field(default_factory=dict)  # name, version, content_hash, source
    records: dict[str, str] = field(default_factory=dict)  # source record id -> bench id
    answer_keys: dict[str, str] = field(default_factory=dict)  # bench id -> answer_key_text

    def __post_init__(self) -> None:
        # Inverted index gram -> answer keys holding it: a candidate costs one lookup per gram.
        self._key_ids: list[str] = []
        self._key_sizes: list[int] = []
        self._postings: dict[int, list[int]] = {}
        for bench_id, text in sorted(self.answer_keys.items()):
            grams = answer_grams(text)
            if not grams:  # too short to measure; the other checks still apply
                continue
            k = len(self._key_ids)
            self._key_ids.append(bench_id)
            self._key_sizes.append(len(grams))
            for g in grams:
                self._postings.setdefault(g, []).append(k)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, threshold: float = DEFAULT_THRESHOLD,
                  info: Mapping[str, Any] | None = None) -> BenchIndex:
        dd = Deduper(threshold=threshold)
        ids: set[str] = set()
        images: dict[str, str] = {}
        records: dict[str, str] = {}
        answer_keys: dict[str, str] = {}
        for row in rows:
            row_id = str(row["id"])
            ids.add(row_id)
            dd.check(row_id, overlap_text(row))  # a bench near-duplicate of another maps to it
            for digest in row_image_digests(row):
                images.setdefault(digest, row_id)
            record_id = (row.get("provenance") or {}).get("record_id")
            if record_id:
                records.setdefault(str(record_id), row_id)
            answer_keys[row_id] = answer_key_text(row)
        return cls(dd, ids, images, dict(info or {}), records, answer_keys)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, *, threshold: float = DEFAULT_THRESHOLD) -> BenchIndex:
        """Index a SpineBench release folder (its `mcq` and `report` configs)."""
        manifest = folder_manifest(folder)
        configs = [c for c in folder_configs(manifest) if c in BENCH_CONFIGS]
        if not configs:
            raise ValueError(f"{str(folder)!r} is not a SpineBench folder: it has no {BENCH_CONFIGS} config")
        columns = {"mcq": ["id", "task", "question", "options", "answer", "images", "provenance"],
                   "report": ["id", "task", "case", "report", "images", "provenance"]}
        rows = (r for c in configs for r in read_folder_rows(folder, c, manifest=manifest, columns=columns[c]))
        info = {"name": manifest.get("name"), "version": manifest.get("version"),
                "content_hash": manifest.get("content_hash"), "source": str(folder)}
        return cls.from_rows(rows, threshold=threshold, info=info)

    @classmethod
    def load(cls, path: str | os.PathLike, *, threshold: float | None = None) -> BenchIndex:
        """Load an index saved with :meth:`save`, or a bare saved Deduper index (prompt text only)."""
        path = Path(path)
        dd = Deduper.load(path, threshold=threshold)
        meta_file = path / INDEX_FILE
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("format") != INDEX_FORMAT:
                raise ValueError(f"{meta_file}: format {meta.get('format')!r}, expected {INDEX_FORMAT!r} (an older "
                                 "index lacks source records and answer keys; save it again from the SpineBench "
                                 "folder with `spinemed bench check-overlap BENCH CANDIDATE --save-index DIR`)")
            return cls(dd, set(meta["ids"]), dict(meta["images"]), {**meta.get("info", {}), "source": str(path)},
                       dict(meta["records"]), dict(meta["answer_keys"]))
        return cls(dd, set(dd._keys), {}, {"source": str(path)})

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        self.deduper.save(path)
        meta = {"format": INDEX_FORMAT, "info": {k: v for k, v in self.info.items() if k != "source"},
                "ids": sorted(self.ids), "images": dict(sorted(self.images.items())),
                "records": dict(sorted(self.records.items())), "answer_keys": dict(sorted(self.answer_keys.items()))}
        atomic_write_json(path / INDEX_FILE, meta)
        return path

    @property
    def threshold(self) -> float:
        return self.deduper.threshold

    def answer_containment(self, text: str) -> tuple[str | None, float]:
        """(bench id, containment) of the answer key that `text` contains most of; (None, 0.0)
        when it shares no 5-gram with any key."""
        hits: Counter[int] = Counter()
        for g in answer_grams(text):
            hits.update(self._postings.get(g, ()))
        if not hits:
            return None, 0.0
        k, best = max(((k, n / self._key_sizes[k]) for k, n in hits.items()), key=lambda kv: (kv[1], -kv[0]))
        return self._key_ids[k], best

    def match(self, probes: Iterable[str], *, row_id: str | None = None, image_digests: Iterable[str] = (),
              record_id: str | None = None, text: str | None = None,
              answer_threshold: float = DEFAULT_ANSWER_THRESHOLD) -> dict[str, Any] | None:
        """The strongest overlap of one candidate row, or None.

        probes: its prompt texts (:func:`probe_texts`); record_id: its source record
        (``provenance.record_id``); text: its full text (:func:`full_text`) for the answer-key
        check.  Returns {status, bench_id, similarity (best prompt Jaccard estimate),
        containment (best answer-key containment)}; statuses are tried in :data:`STATUSES` order.
        """
        best: dict[str, Any] | None = None
        top_similarity = 0.0
        for i, probe in enumerate(probes):
            res = self.deduper.check(f"candidate-{i}", probe, add=False)
            top_similarity = max(top_similarity, res.similarity)
            if res.status == "unique":
                continue
            found = {"status": res.status, "bench_id": res.duplicate_of, "similarity": float(res.similarity)}
            if best is None or (STATUSES.index(found["status"]), -found["similarity"]) < (
                    STATUSES.index(best["status"]), -best["similarity"]):
                best = found
        key_id, containment = self.answer_containment(text) if text else (None, 0.0)
        if best is None and row_id is not None and row_id in self.ids:
            best = {"status": "same_id", "bench_id": row_id}
        if best is None and record_id and str(record_id) in self.records:
            best = {"status": "same_source", "bench_id": self.records[str(record_id)]}
        if best is None and key_id is not None and containment >= answer_threshold:
            best = {"status": "contains_answer", "bench_id": key_id}
        if best is None:
            best = next(({"status": "same_image", "bench_id": self.images[d]}
                         for d in image_digests if d in self.images), None)
        if best is None:
            return None
        return {**best, "similarity": round(float(best.get("similarity", top_similarity)), 4),
                "containment": round(containment, 4)}

    def match_row(self, row: Mapping[str, Any], *, row_id: str | None = None,
                  answer_threshold: float = DEFAULT_ANSWER_THRESHOLD) -> dict[str, Any] | None:
        """:meth:`match` for one row of any dataset (SpineMed, SpineBench or other)."""
        record_id = (row.get("provenance") or {}).get("record_id") if isinstance(row.get("provenance"), Mapping) else None
        return self.match(probe_texts(row), row_id=row_id if row_id is not None else row.get("id"),
                          image_digests=row_image_digests(row), record_id=record_id, text=full_text(row),
                          answer_threshold=answer_threshold)


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
    if is_repo_id(bench):
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
    candidate_id, bench_id, status (one of :data:`STATUSES`), similarity (estimated Jaccard of
    the prompt; 1.0 for exact), containment (share of the bench item's answer-key 5-grams the
    row contains), config, split."""

    bench: dict[str, Any]
    candidate: str
    threshold: float
    n_checked: int
    n_overlapping: int
    items: list[dict[str, Any]]
    by_config: dict[str, dict[str, int]]
    seconds: float = 0.0
    answer_threshold: float = DEFAULT_ANSWER_THRESHOLD

    @property
    def clean(self) -> bool:
        return self.n_overlapping == 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole report."""
        return {
            "bench": self.bench,
            "candidate": self.candidate,
            "threshold": self.threshold,
            "answer_threshold": self.answer_threshold,
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
                f"(threshold {self.threshold}, answer containment {self.answer_threshold}): "
                f"{self.n_overlapping} of {self.n_checked:,} rows overlap"
                f" -> {'CLEAN' if self.clean else 'CONTAMINATED'}  ({self.seconds:.1f} s)")
        lines = [head]
        for config, c in self.by_config.items():
            lines.append(f"  {config}: {c['checked']:,} checked, {c['overlapping']} overlapping")
        for item in self.items[:limit]:
            measure = (f"containment {item['containment']:.2f}" if item["status"] == "contains_answer"
                       else f"{item['similarity']:.2f}")
            lines.append(f"  {item['config']}/{item['split']} {item['candidate_id']} ~ {item['bench_id']}  "
                         f"{item['status']} {measure}")
        if len(self.items) > limit:
            lines.append(f"  ... {len(self.items) - limit} more (use --json or --out for all)")
        return "\n".join(lines)


def check_overlap(
    bench: Any,
    candidate: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    answer_threshold: float = DEFAULT_ANSWER_THRESHOLD,
    configs: Iterable[str] | None = None,
    splits: Iterable[str] | None = None,
) -> OverlapReport:
    """Report which rows of `candidate` overlap SpineBench.

    bench: a SpineBench folder, a saved bench index (:meth:`BenchIndex.save`, or a bare
    `Deduper.save` folder) or a Hub repo id of a SpineBench release.
    candidate: a dataset folder or Hub repo id (read with `datasets.load_dataset`, streaming,
    offline for a folder when HF_HUB_OFFLINE is set), or a `datasets` object.
    threshold: near-duplicate Jaccard threshold of the prompt texts; answer_threshold:
    answer-key containment at which a row counts as carrying a bench answer.
    configs / splits: restrict the candidate (default: all configs and splits).
    """
    start = time.perf_counter()
    _check_answer_threshold(answer_threshold)
    index = load_bench_index(bench, threshold=threshold)
    items: list[dict[str, Any]] = []
    by_config: dict[str, dict[str, int]] = {}
    n = 0
    # rows are streamed, so their number is not known up front: the progress shows count and rate
    with Progress(None, "overlap check", unit="row") as bar:
        for config, split, i, row in iter_dataset_rows(candidate, configs=configs, splits=splits):
            n += 1
            bar.update()
            _check_row(index, config, split, i, row, by_config, items, answer_threshold)
    name = str(candidate) if isinstance(candidate, (str, os.PathLike)) else type(candidate).__name__
    return OverlapReport(bench={k: index.info.get(k) for k in ("name", "version", "content_hash", "source")},
                         candidate=name, threshold=index.threshold, n_checked=n, n_overlapping=len(items),
                         items=items, by_config=by_config, seconds=round(time.perf_counter() - start, 2),
                         answer_threshold=answer_threshold)


def _check_row(index: BenchIndex, config: str, split: str, i: int, row: Mapping[str, Any],
               by_config: dict[str, dict[str, int]], items: list[dict[str, Any]], answer_threshold: float) -> None:
    stats = by_config.setdefault(config, {"checked": 0, "overlapping": 0})
    stats["checked"] += 1
    row_id = str(row["id"]) if row.get("id") is not None else f"{config}/{split}/{i}"
    hit = index.match_row(row, row_id=row_id, answer_threshold=answer_threshold)
    if hit:
        stats["overlapping"] += 1
        items.append({"candidate_id": row_id, **hit, "config": config, "split": split})


def _check_answer_threshold(value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"answer_threshold must be a number in (0, 1], got {value!r}")


# --------------------------------------------------------------------------------------
# The decontaminated corpus release
# --------------------------------------------------------------------------------------

_REMOVAL_LABELS = {
    "exact": "exact duplicate of a bench item",
    "near": "near duplicate of a bench item",
    "same_id": "bench item (same id, text corrected by reviewers)",
    "same_source": "generated from the same source record as a bench item",
    "contains_answer": "contains a bench item's question and answer",
    "same_image": "uses a bench image",
}


def write_decontaminated_corpus(
    bench: Any,
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    answer_threshold: float = DEFAULT_ANSWER_THRESHOLD,
    version: str | None = None,
    repo_id: str = default_repo("SpineMed-450k"),
    card_template: str | os.PathLike = CORPUS_CARD_TEMPLATE,
    rows_per_shard: int = 5000,
    progress=print,
    redistributable_only: bool = False,
) -> dict[str, Any]:
    """Write the SpineMed-450k release: the corpus build without every row that overlaps the
    bench (near duplicates, bench ids, siblings from a bench item's source record, rows holding
    a bench answer, bench images: see the module docstring), in the same Hub layout, card and
    manifest, with the removed counts in the card's accounting.

    With `redistributable_only` (a public release), rows whose source is not redistributable
    (`provenance.redistributable` not true) are left out too and counted per licence in the
    accounting (`items_removed_as_not_redistributable`).

    Returns a summary: counts kept/removed per config and reason, the removed rows, paths.
    """
    start = time.perf_counter()
    progress = progress or (lambda _m: None)
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    if corpus_dir.resolve() == out_dir.resolve():
        raise ValueError("the release folder must differ from the corpus build folder")
    _check_answer_threshold(answer_threshold)
    index = load_bench_index(bench, threshold=threshold)
    manifest = folder_manifest(corpus_dir)
    card_info = _card_yaml(corpus_dir)
    configs = {t: features_for(t) for t in TASKS}
    writer = DatasetFolderWriter(out_dir, configs, split=manifest["split"], rows_per_shard=rows_per_shard,
                                 default_config=manifest.get("default_config") or "mcq")
    removed: list[dict[str, Any]] = []
    restricted = Counter()  # source licence -> rows left out as not redistributable
    kept = Counter()
    bar = Progress(manifest["counts"]["num_rows"], "decontaminate", unit="row")
    try:
        for config in folder_configs(manifest):
            if config not in configs:
                raise ValueError(f"{str(corpus_dir)!r}: config {config!r} is not a SpineMed-450k config {TASKS}")
            for row in read_folder_rows(corpus_dir, config, manifest=manifest):
                bar.update()
                hit = index.match_row(row, answer_threshold=answer_threshold)
                if hit:
                    removed.append({"id": row["id"], "config": config, **hit})
                    continue
                provenance = row.get("provenance") or {}
                if redistributable_only and provenance.get("redistributable") is not True:
                    restricted[str(provenance.get("license") or "(unspecified)")] += 1
                    continue
                writer.add(config, row)
                kept[config] += 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    stats = writer.stats()
    corpus_rows = manifest["counts"]["num_rows"]
    n_restricted = sum(restricted.values())
    if corpus_rows != sum(kept.values()) + len(removed) + n_restricted:  # a bug, not bad input
        raise RuntimeError(f"decontamination lost rows: {corpus_rows} in, {sum(kept.values())} kept + "
                           f"{len(removed)} removed + {n_restricted} not redistributable")

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
    if redistributable_only:
        accounting["items_removed_as_not_redistributable"] = n_restricted
        accounting["not_redistributable_removed_by_license"] = dict(sorted(restricted.items()))
    bench_info = index.info
    bench_tag = f"{bench_info.get('name') or 'spinebench'} {bench_info.get('version') or ''}".strip()
    versions = dict(manifest.get("versions") or {})
    versions["decontaminated_against"] = f"{bench_tag} (content {str(bench_info.get('content_hash') or 'unknown')[:16]})"
    release_version = version or manifest["version"]
    decontamination = {
        "bench": {k: bench_info.get(k) for k in ("name", "version", "content_hash")},
        "threshold": index.threshold,
        "answer_threshold": answer_threshold,
        "method": "Deduper (MinHash LSH, CJK-aware shingles) over spinemed.bench.decontam.overlap_text; same "
                  "item id; same source record (provenance.record_id); answer-key 5-gram containment "
                  "(spinemed.bench.decontam.answer_key_text in the row's full text); same image bytes",
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
        "answer_threshold": answer_threshold,
        "rows_in": corpus_rows,
        "rows_kept": {t: kept[t] for t in TASKS if t in kept},
        "rows_out": sum(kept.values()),
        "removed": len(removed),
        "removed_by_reason": dict(sorted(reasons.items())),
        "removed_by_config": dict(sorted(removed_by_config.items())),
        "not_redistributable_removed": n_restricted if redistributable_only else None,
        "not_redistributable_by_license": dict(sorted(restricted.items())),
        "content_hash": out_manifest["content_hash"],
        "seconds": round(time.perf_counter() - start, 2),
    }
    progress(format_decontamination(summary))
    return summary


def format_decontamination(summary: Mapping[str, Any]) -> str:
    b = summary["bench"]
    lines = [f"SpineMed-450k release without {b.get('name') or 'bench'} {b.get('version') or ''} items -> {summary['out']}"
             f"  ({summary['seconds']} s)",
             f"rows: {summary['rows_in']} in = {summary['rows_out']} released + {summary['removed']} removed"
             + (f" + {summary['not_redistributable_removed']} not redistributable"
                if summary.get("not_redistributable_removed") is not None else "") + " "
             f"(threshold {summary['threshold']}, answer containment {summary['answer_threshold']})"]
    for reason, n in summary["removed_by_reason"].items():
        lines.append(f"  removed: {n} x {reason}")
    if summary.get("not_redistributable_removed") is not None:
        lines.append(f"  left out: {summary['not_redistributable_removed']} rows whose source is not redistributable "
                     + str(summary.get("not_redistributable_by_license") or {}))
    lines.append("  released per config: " + ", ".join(f"{c}={n}" for c, n in summary["rows_kept"].items()))
    return "\n".join(lines)


def _card_yaml(folder: Path) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    try:
        return DatasetCard.load(folder / "README.md").data.to_dict()
    except Exception:  # the card is informational here; the manifest was verified
        return {}


__all__ = [
    "DEFAULT_ANSWER_THRESHOLD",
    "DEFAULT_THRESHOLD",
    "STATUSES",
    "BenchIndex",
    "OverlapReport",
    "answer_key_text",
    "check_overlap",
    "format_decontamination",
    "full_text",
    "load_bench_index",
    "overlap_text",
    "probe_texts",
    "write_decontaminated_corpus",
]
