"""Offline baselines: answers without model weights, through the same extraction and scorer.

* ``retrieval``: BM25 over the SpineMed-450k training split.  An MCQ is answered like the
  classic IR solver (Clark et al., 2016): for every option, query ``question + option`` and
  keep the best document score; the option with the highest score wins, and a tie or no match
  at all is an explicit refusal (never a guess).  A report task gets the training report whose
  case is nearest to the bench case (same language preferred).
* ``random``: a seeded uniform option letter per item (the seed and the item id fix it, so
  reruns and resumed runs agree); reports: a seeded random training report.
* ``majority``: the option letter most frequent among the training MCQ answers (the next one
  when the item lacks that letter); reports: the most typical training report (highest
  cosine similarity to the centroid of all training reports).

Baselines write free text (``"Answer: B"``, a report with section headings): it goes through
``spinemed.choices`` and the scorer like any model's output; nothing is special-cased.

Bench decontamination: the corpus rows used by a baseline never include SpineBench items or
their near duplicates.  Rows that :func:`spinemed.bench.decontam.check_overlap` reports
(MinHash, Jaccard >= 0.5, the corpus dedup machinery) are dropped before indexing, so even the
un-decontaminated corpus folder gives honest numbers; the count is recorded in the results.

Tokens are CJK-aware (the corpus dedup's tokeniser: one token per Han character, one per run
of other letters/digits) plus Han character bigrams, which carry most of the meaning in Chinese.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from scipy import sparse

from spinemed.bench.decontam import check_overlap
from spinemed.hub import is_repo_id, load_manifest
from spinemed.schema import LANGUAGES, REPORT_SECTION_TITLES
from spinemed.text import normalize_text, tokens_of

__all__ = ["BASELINES", "BM25Index", "TrainingCorpus", "load_training_corpus", "tokenize"]

BASELINES = ("retrieval", "random", "majority")
DECONTAMINATION_THRESHOLD = 0.5  # Jaccard, the SpineBench decontamination threshold

_CORPUS_COLUMNS = {
    "mcq": ("id", "task", "language", "question", "options", "answer", "explanation"),
    "open_qa": ("id", "task", "language", "question", "answer"),
    "consultation": ("id", "task", "language", "case", "messages"),
    "report": ("id", "task", "language", "case", "report"),
}


def _is_wide(token: str) -> bool:
    return len(token) == 1 and unicodedata.east_asian_width(token) in "WF"


def tokenize(text: str) -> list[str]:
    """CJK-aware BM25 terms: the dedup tokens plus a bigram for every pair of adjacent Han/kana characters."""
    toks = tokens_of(normalize_text(text))
    out = list(toks)
    out += [a + b for a, b in zip(toks, toks[1:]) if _is_wide(a) and _is_wide(b)]
    return out


class BM25Index:
    """Okapi BM25 over a list of documents as one sparse matrix (query = sum of term columns).

    ``W[d, t] = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))`` with the
    non-negative idf ``log(1 + (N - n_t + 0.5) / (n_t + 0.5))``; a query's score vector is the
    sum of the columns of its distinct terms, so scoring all documents is one sparse column sum.
    """

    def __init__(self, docs: Sequence[str], *, k1: float = 1.5, b: float = 0.75):
        if not docs:
            raise ValueError("BM25Index: no documents to index")
        self.vocab: dict[str, int] = {}
        rows, cols, vals, lengths = [], [], [], []
        for d, text in enumerate(docs):
            counts = Counter(tokenize(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                rows.append(d)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
                vals.append(tf)
        n_docs = len(docs)
        tf = sparse.csr_matrix((np.array(vals, dtype=np.float64), (rows, cols)), shape=(n_docs, len(self.vocab)))
        df = np.bincount(np.array(cols, dtype=np.int64), minlength=len(self.vocab))
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        dl = np.array(lengths, dtype=np.float64)
        norm = k1 * (1 - b + b * dl / max(dl.mean(), 1e-9))
        coo = tf.tocoo()
        weights = idf[coo.col] * coo.data * (k1 + 1) / (coo.data + norm[coo.row])
        self.matrix = sparse.csc_matrix((weights, (coo.row, coo.col)), shape=tf.shape)
        self.n_docs = n_docs

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros when no term is known)."""
        cols = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not cols:
            return np.zeros(self.n_docs)
        return np.asarray(self.matrix[:, cols].sum(axis=1)).ravel()


# --------------------------------------------------------------------------------------
# Training corpus
# --------------------------------------------------------------------------------------


@dataclass
class TrainingCorpus:
    """The text of a SpineMed-450k training split, minus rows overlapping the benchmark."""

    source: str
    name: str
    version: str
    content_hash: str
    mcq_docs: list[str]  # every row as retrievable text (MCQ rows: question + correct option + explanation)
    doc_ids: list[str]  # row id of each document
    mcq_answers: list[str]  # answer letters of the training MCQs
    reports: list[dict[str, Any]]  # {"id", "language", "case", "report"}
    n_rows: int
    skipped: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "rows_read": self.n_rows,
            "documents_indexed": len(self.mcq_docs),
            "reports_indexed": len(self.reports),
            "decontamination": self.skipped,
        }


def _row_doc(row: Mapping[str, Any]) -> str:
    task = row.get("task")
    if task == "mcq":
        letters = set(str(row.get("answer") or ""))
        correct = [o["text"] for o in row.get("options") or [] if o.get("label") in letters]
        return "\n".join([str(row.get("question") or ""), *correct, str(row.get("explanation") or "")])
    if task == "open_qa":
        return f"{row.get('question') or ''}\n{row.get('answer') or ''}"
    if task == "consultation":
        return "\n".join([str(row.get("case") or ""), *(m.get("content", "") for m in row.get("messages") or [])])
    if task == "report":
        return "\n".join([str(row.get("case") or ""), *((row.get("report") or {}).values())])
    return ""


def _resolve_corpus(source: str | Path) -> tuple[Path, str]:
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return path, str(source)
    text = str(source)
    if path.exists() or not is_repo_id(text.partition("@")[0]):
        raise FileNotFoundError(f"training corpus {text!r}: no such dataset folder, and not a Hub repo id (ORG/NAME[@REV])")
    repo, _, rev = text.partition("@")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo, repo_type="dataset", revision=rev or None)), text
    except Exception as exc:
        raise FileNotFoundError(f"cannot download the training corpus {text!r}: {type(exc).__name__}: {exc}") from None


def _overlap_ids(bench, corpus_folder: Path) -> tuple[set[str], dict[str, Any]]:
    """Ids of corpus rows that are bench items or near duplicates of one (SpineBench decontamination check)."""
    report = check_overlap(bench.path, corpus_folder, threshold=DECONTAMINATION_THRESHOLD)
    ids = {str(i["candidate_id"]) for i in report.items}
    return ids, {"method": "spinemed.bench.decontam.check_overlap", "threshold": report.threshold,
                 "rows_checked": report.n_checked, "rows_skipped": len(ids)}


def load_training_corpus(source: str | Path, bench) -> TrainingCorpus:
    """Read the training split's text (no images) and drop rows overlapping `bench`.

    Raises FileNotFoundError / ValueError with the reason when the corpus cannot be used.
    """
    folder, label = _resolve_corpus(source)
    manifest = load_manifest(folder)
    if manifest.get("split") != "train":
        raise ValueError(
            f"training corpus {label!r} holds split {manifest.get('split')!r}; the baselines need the SpineMed-450k "
            "training split (is this the benchmark folder?)"
        )
    rows: list[dict[str, Any]] = []
    for shard in sorted(manifest.get("shards", []), key=lambda s: s["path"]):
        columns = _CORPUS_COLUMNS.get(shard["config"])
        if columns is None:
            continue
        path = folder / shard["path"]
        if not path.is_file():
            raise FileNotFoundError(f"training corpus {label!r}: shard {shard['path']} is missing")
        present = [c for c in columns if c in pq.read_schema(path).names]
        rows.extend(pq.read_table(path, columns=present).to_pylist())
    if not rows:
        raise ValueError(f"training corpus {label!r} has no mcq/open_qa/consultation/report rows")
    skip, info = _overlap_ids(bench, folder)
    kept = [r for r in rows if r["id"] not in skip]
    reports = [
        {"id": r["id"], "language": r.get("language") or "", "case": r.get("case") or "", "report": dict(r.get("report") or {})}
        for r in kept if r.get("task") == "report"
    ]
    return TrainingCorpus(
        source=label,
        name=str(manifest.get("name") or ""),
        version=str(manifest.get("version") or ""),
        content_hash=str(manifest.get("content_hash") or ""),
        mcq_docs=[_row_doc(r) for r in kept],
        doc_ids=[str(r["id"]) for r in kept],
        mcq_answers=[str(r.get("answer") or "") for r in kept if r.get("task") == "mcq"],
        reports=reports,
        n_rows=len(rows),
        skipped=info,
    )


def render_report(report: Mapping[str, str], language: str) -> str:
    """A report dict as text with one heading per section, in the given language."""
    lang = LANGUAGES.index(language) if language in LANGUAGES else 0
    parts = [f"## {REPORT_SECTION_TITLES[k][lang]}\n{v.strip()}" for k, v in report.items() if k in REPORT_SECTION_TITLES and v]
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------
# The baselines proper
# --------------------------------------------------------------------------------------

REFUSAL = "I cannot determine the answer: no option is supported by the training corpus."


class Baseline:
    """Common part: the corpus (when needed), the report choice, the answer text."""

    name = ""
    needs_corpus_for_mcq = True

    def __init__(self, corpus: TrainingCorpus | None, seed: int = 0):
        self.corpus = corpus
        self.seed = seed

    def answer(self, item: Mapping[str, Any]) -> str:
        if item["kind"] == "report":
            return self.report(item)
        return self.mcq(item)

    def mcq(self, item: Mapping[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def report(self, item: Mapping[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"baseline": self.name, "seed": self.seed}
        if self.corpus is not None:
            out["corpus"] = self.corpus.describe()
        return out


def _letters(item: Mapping[str, Any]) -> list[str]:
    return [str(o["label"]) for o in item.get("options") or []]


class RandomBaseline(Baseline):
    name = "random"
    needs_corpus_for_mcq = False

    def _rng(self, item: Mapping[str, Any]) -> random.Random:
        digest = hashlib.sha256(f"spinemed-random-baseline:{self.seed}:{item['id']}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def mcq(self, item):
        return f"Answer: {self._rng(item).choice(_letters(item))}"

    def report(self, item):
        chosen = self._rng(item).choice(self.corpus.reports)
        return render_report(chosen["report"], chosen["language"])


class MajorityBaseline(Baseline):
    name = "majority"

    def __init__(self, corpus: TrainingCorpus, seed: int = 0):
        super().__init__(corpus, seed)
        singles = Counter(a for a in corpus.mcq_answers if len(a) == 1)
        if not singles:
            raise ValueError(f"training corpus {corpus.source!r} has no single-letter MCQ answers to take the majority of")
        # Most frequent first; ties broken alphabetically so the ranking is reproducible.
        self.ranking = [letter for letter, _ in sorted(singles.items(), key=lambda kv: (-kv[1], kv[0]))]
        self.letter_counts = dict(sorted(singles.items()))
        self._typical: dict[str, Any] | None = None

    def mcq(self, item):
        letters = _letters(item)
        letter = next((x for x in self.ranking if x in letters), letters[0] if letters else "A")
        return f"Answer: {letter}"

    def report(self, item):
        if self._typical is None:
            texts = [render_report(r["report"], r["language"]) for r in self.corpus.reports]
            m = BM25Index(texts).matrix.tocsr()
            norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()) + 1e-12
            unit = sparse.diags(1 / norms) @ m
            centroid = np.asarray(unit.mean(axis=0)).ravel()
            self._typical = self.corpus.reports[int(np.argmax(unit @ centroid))]
        return render_report(self._typical["report"], self._typical["language"])

    def details(self):
        return {**super().details(), "letter_ranking": self.ranking, "letter_counts": self.letter_counts}


class RetrievalBaseline(Baseline):
    name = "retrieval"

    def __init__(self, corpus: TrainingCorpus, seed: int = 0, k1: float = 1.5, b: float = 0.75):
        super().__init__(corpus, seed)
        self.k1, self.b = k1, b
        self.index = BM25Index(corpus.mcq_docs, k1=k1, b=b)
        self._case_index = BM25Index([r["case"] for r in corpus.reports], k1=k1, b=b) if corpus.reports else None
        self._report_lang = np.array([r["language"] for r in corpus.reports])

    def mcq(self, item):
        letters = _letters(item)
        texts = [str(o["text"]) for o in item.get("options") or []]
        best = np.array([self.index.scores(f"{item.get('question') or ''}\n{t}").max() for t in texts])
        if not len(best) or best.max() <= 0:
            return REFUSAL
        top = np.flatnonzero(np.isclose(best, best.max(), rtol=0, atol=1e-9))
        if len(top) > 1:  # a tie is no evidence for either option
            return REFUSAL
        return f"Answer: {letters[int(top[0])]}"

    def report(self, item):
        if self._case_index is None:
            return ""
        scores = self._case_index.scores(str(item.get("case") or ""))
        same = self._report_lang == item.get("language")
        if same.any():
            scores = np.where(same, scores, -1.0)
        chosen = self.corpus.reports[int(np.argmax(scores))]
        return render_report(chosen["report"], chosen["language"])

    def details(self):
        return {**super().details(), "bm25": {"k1": self.k1, "b": self.b}, "tokens": "dedup CJK-aware tokens + Han bigrams"}


def make_baseline(name: str, corpus: TrainingCorpus | None, seed: int = 0) -> Baseline:
    """The named baseline over `corpus` (None only for ``random`` on MCQ-only runs)."""
    if name == "random":
        return RandomBaseline(corpus, seed)
    if corpus is None:
        raise ValueError(f"baseline {name!r} needs a training corpus (--corpus DIR_OR_REPO)")
    if name == "majority":
        return MajorityBaseline(corpus, seed)
    if name == "retrieval":
        return RetrievalBaseline(corpus, seed)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def corpus_fingerprint(corpus: TrainingCorpus | None) -> dict[str, Any] | None:
    """What identifies the corpus a baseline answered from (not where it lies on disk)."""
    if corpus is None:
        return None
    return {"name": corpus.name, "version": corpus.version, "content_hash": corpus.content_hash,
            "rows_skipped": corpus.skipped.get("rows_skipped")}
