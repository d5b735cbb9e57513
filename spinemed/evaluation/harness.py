"""SpineBench inside the harnesses people already run: `spinemed bench export-harness OUT`.

Writes two things from one SpineBench (a folder or a Hub id, checked like ``spinemed eval``
checks it):

* ``OUT/lmms_eval/spinebench/``: an lmms-eval task folder (pass it with ``--include_path``):
  tasks ``spinebench_text_mcq`` (P1) and ``spinebench_image_mcq`` (P2), the group
  ``spinebench_mcq`` (their count-weighted mean: the kit's ``closed_qa``), a shared
  ``_default_template_yaml`` and ``utils.py``.  The YAML points lmms-eval's ``dataset_path``
  at the bench (the local folder, or the Hub id with its revision) with ``dataset_name: mcq``
  and ``test_split: test``, as ``datasets.load_dataset`` reads a SpineBench.  ``utils.py``
  renders each item with the kit's own evaluation prompts (copied into ``prompts/<version>/``
  and checked against their hash) and extracts and scores answers with
  :func:`spinemed.scoring.score_items`, so an lmms-eval run scores exactly as ``spinemed eval``
  scores the same outputs.  It needs ``spinemed`` installed next to lmms-eval.
* ``OUT/vlmevalkit/SpineBench_text_MCQ.tsv`` and ``SpineBench_image_MCQ.tsv``: VLMEvalKit-style
  MCQ tables (``index``, ``question``, ``A``..``E``, ``answer``, ``image`` as base64, a JSON
  list of base64 strings when an item has several, ``category`` = sub-field, ``l2-category`` =
  source type, ``language``, ``id``, and ``prompt``: the SpineBench prompt of the item).
  Answers with several letters (``AC``) are kept as such; VLMEvalKit's single-letter matching
  counts them wrong, so score its predictions with ``spinemed.scoring`` for SpineBench figures.

Report items are not exported: P3 needs the SpineBench judge, which ``spinemed eval`` runs.
A ``manifest.json`` records the bench identity (name, version, items hash), the prompt version
and hash and the kit version, so a harness score can be traced to what it measured.
"""

from __future__ import annotations

import base64
import csv
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemed import __version__ as KIT_VERSION
from spinemed.evaluation.benchmark import Benchmark, load_benchmark
from spinemed.evaluation.prompts import DEFAULT_PROMPT_VERSION, PROMPT_FILES, load_eval_prompts
from spinemed.fileio import atomic_write_json, atomic_write_text
from spinemed.schema import MCQ_KINDS

__all__ = ["HARNESS_TASKS", "HarnessExport", "export_harness", "format_export"]

TASK_FOLDER = Path("lmms_eval") / "spinebench"
TSV_FOLDER = Path("vlmevalkit")
GROUP = "spinebench_mcq"
HARNESS_TASKS = {"text_mcq": "spinebench_text_mcq", "image_mcq": "spinebench_image_mcq"}
TSV_FILES = {"text_mcq": "SpineBench_text_MCQ.tsv", "image_mcq": "SpineBench_image_MCQ.tsv"}
OPTION_LETTERS = "ABCDE"


@dataclass
class HarnessExport:
    """What :func:`export_harness` wrote."""

    out: Path
    task_dir: Path
    tsv_files: dict[str, Path]
    counts: dict[str, int]
    dataset_path: str
    bench: dict[str, Any] = field(default_factory=dict)
    prompt: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # kinds not exported, with their item counts


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


_UTILS = '''\
"""lmms-eval hooks for SpineBench, written by `spinemed bench export-harness` (do not edit: re-export).

Prompts are the kit's SpineBench evaluation prompts (prompts/{version}/, checked against their
hash); extraction and scoring are spinemed.scoring's, so the scores equal `spinemed eval`'s on
the same outputs.  Needs `pip install spinemed` in the environment that runs lmms-eval.
"""

from __future__ import annotations

import functools
from pathlib import Path

try:
    from spinemed.evaluation.prompts import load_eval_prompts
    from spinemed.scoring import score_items
except ImportError as exc:  # pragma: no cover - the hint is the point
    raise ImportError("the SpineBench lmms-eval task needs the SpineMed kit: pip install spinemed") from exc

HERE = Path(__file__).resolve().parent
PROMPT_VERSION = {version!r}
PROMPT_SHA256 = {sha256!r}


@functools.cache
def _prompts():
    prompts = load_eval_prompts(PROMPT_VERSION, HERE / "prompts")
    if prompts.sha256 != PROMPT_SHA256:
        raise RuntimeError(f"{{HERE / 'prompts' / PROMPT_VERSION}}: the prompt files were changed (hash "
                           f"{{prompts.sha256[:12]}}, exported {{PROMPT_SHA256[:12]}}); export the task again")
    return prompts


def _item(doc):
    """The row as the scorer reads it (images left out)."""
    return {{k: v for k, v in doc.items() if k != "images"}}


def _of_kind(dataset, kind):
    return dataset.filter(lambda row: row["kind"] == kind)


def text_mcq_docs(dataset):
    return _of_kind(dataset, "text_mcq")


def image_mcq_docs(dataset):
    return _of_kind(dataset, "image_mcq")


def doc_to_visual(doc):
    return [img.convert("RGB") for img in doc.get("images") or []]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return _prompts().render(_item(doc), len(doc.get("images") or []))


def doc_to_messages(doc, lmms_eval_specific_kwargs=None):
    """One user turn, the images before the text, as `spinemed eval` sends it."""
    content = [{{"type": "image", "url": img}} for img in doc_to_visual(doc)]
    content.append({{"type": "text", "text": doc_to_text(doc)}})
    return [{{"role": "user", "content": content}}]


def score(doc, output):
    """spinemed.scoring's record of one item: extracted answer, reference, correct, status, score."""
    return score_items([_item(doc)], [output], levels=False)[0]


def process_results(doc, results):
    s = score(doc, results[0] if results else None)
    return {{"accuracy": {{"id": doc["id"], "score": s.score, "extracted": s.extracted, "reference": s.reference,
                          "status": s.status}}}}


def aggregate_accuracy(results):
    """Percent correct (0-100), as spinemed's P1 / P2."""
    return sum(r["score"] for r in results) / len(results) if results else 0.0
'''


def _template_yaml(dataset_path: str, revision: str | None, max_new_tokens: int, meta: Mapping[str, Any]) -> str:
    lines = [
        "# Written by `spinemed bench export-harness`; shared by the SpineBench tasks of this folder.",
        f"dataset_path: {_yaml_str(dataset_path)}",
        "dataset_name: mcq",
    ]
    if revision:
        lines += ["dataset_kwargs:", f"  revision: {_yaml_str(revision)}"]
    lines += [
        "test_split: test",
        "output_type: generate_until",
        "doc_to_visual: !function utils.doc_to_visual",
        "doc_to_text: !function utils.doc_to_text",
        "doc_to_messages: !function utils.doc_to_messages",
        'doc_to_target: "answer"',
        "process_results: !function utils.process_results",
        "metric_list:",
        "  - metric: accuracy",
        "    aggregation: !function utils.aggregate_accuracy",
        "    higher_is_better: true",
        "generation_kwargs:",
        f"  max_new_tokens: {max_new_tokens}",
        "  temperature: 0",
        "  do_sample: false",
        "metadata:",
        "  version: 1.0",
        *(f"  {k}: {_yaml_str(str(v))}" for k, v in meta.items()),
    ]
    return "\n".join(lines) + "\n"


def _task_yaml(task: str, docs_fn: str, what: str) -> str:
    return (f"# {what}\ntask: {task}\ninclude: _default_template_yaml\nprocess_docs: !function utils.{docs_fn}\n")


def _group_yaml() -> str:
    tasks = "".join(f"  - {t}\n" for t in HARNESS_TASKS.values())
    return ("# SpineBench closed questions: the count-weighted mean of P1 and P2 (the kit's closed_qa).\n"
            f"group: {GROUP}\ntask:\n{tasks}aggregate_metric_list:\n  - metric: accuracy\n    aggregation: mean\n"
            "    weight_by_size: true\nmetadata:\n  version: 1.0\n")


def _tsv_rows(bench: Benchmark, kind: str, prompts) -> list[dict[str, str]]:
    rows = []
    for item in (i for i in bench.items if i["kind"] == kind):
        options = {str(o["label"]).upper(): str(o["text"]) for o in item.get("options") or []}
        extra = sorted(set(options) - set(OPTION_LETTERS))
        if extra:
            raise ValueError(f"item {item['id']!r}: option labels {extra} do not fit the TSV's A..E columns")
        images = [base64.b64encode(b).decode("ascii") for b in bench.images[item["id"]]]
        row = {"index": str(len(rows)), "id": item["id"], "question": str(item.get("question") or ""),
               **{letter: options.get(letter, "") for letter in OPTION_LETTERS},
               "answer": str(item["answer"]), "category": str(item.get("subfield") or ""),
               "l2-category": str(item.get("source_type") or ""), "language": str(item.get("language") or ""),
               "prompt": prompts.render(item, len(images))}
        if kind == "image_mcq":
            row["image"] = images[0] if len(images) == 1 else json.dumps(images)
        rows.append(row)
    return rows


def _write_tsv(path: Path, rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), delimiter="\t", quoting=csv.QUOTE_MINIMAL,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def export_harness(bench_source: str | Path, out: str | Path, *, revision: str | None = None,
                   dataset_path: str | None = None, allow_unregistered: bool = False,
                   prompt_version: str = DEFAULT_PROMPT_VERSION, prompt_dir: str | Path | None = None,
                   max_new_tokens: int = 1024) -> HarnessExport:
    """Write the lmms-eval task folder and the VLMEvalKit TSVs for `bench_source` into `out`.

    `dataset_path` is what the lmms-eval YAML loads: by default the bench folder's absolute
    path, or the Hub id for a bench given as ``ORG/NAME[@REV]`` (with ``revision`` recorded).
    Raises BenchmarkError for a bench ``spinemed eval`` would refuse, ValueError / FileNotFoundError
    for bad prompts or items.
    """
    bench = load_benchmark(bench_source, revision=revision, allow_unregistered=allow_unregistered)
    prompts = load_eval_prompts(prompt_version, prompt_dir)
    out = Path(out)
    if dataset_path is None:
        dataset_path = bench.repo or str(Path(bench.path).resolve())
    counts = {k: sum(i["kind"] == k for i in bench.items) for k in MCQ_KINDS}
    skipped = {k: n for k, n in bench.counts.items() if k not in MCQ_KINDS and n}
    meta = {"bench_name": bench.name, "bench_version": bench.version, "bench_items_hash": bench.items_hash,
            "prompt_version": prompts.version, "prompt_sha256": prompts.sha256, "kit_version": KIT_VERSION}

    # lmms-eval: a fresh task folder (a stale prompt or task file must not survive a re-export).
    task_dir = out / TASK_FOLDER
    if task_dir.exists():
        shutil.rmtree(task_dir)
    (task_dir / "prompts" / prompts.version).mkdir(parents=True)
    for name in PROMPT_FILES.values():
        shutil.copyfile(prompts.folder / name, task_dir / "prompts" / prompts.version / name)
    atomic_write_text(task_dir / "utils.py", _UTILS.format(version=prompts.version, sha256=prompts.sha256))
    atomic_write_text(task_dir / "_default_template_yaml",
                      _template_yaml(dataset_path, None if bench.repo is None else bench.revision, max_new_tokens, meta))
    atomic_write_text(task_dir / f"{HARNESS_TASKS['text_mcq']}.yaml",
                      _task_yaml(HARNESS_TASKS["text_mcq"], "text_mcq_docs", "SpineBench text MCQ (P1), percent correct"))
    atomic_write_text(task_dir / f"{HARNESS_TASKS['image_mcq']}.yaml",
                      _task_yaml(HARNESS_TASKS["image_mcq"], "image_mcq_docs", "SpineBench image MCQ (P2), percent correct"))
    atomic_write_text(task_dir / f"{GROUP}.yaml", _group_yaml())

    # VLMEvalKit: one MCQ table per modality (text-only rows have no image column).
    base = ["index", "id", "question", *OPTION_LETTERS, "answer", "category", "l2-category", "language", "prompt"]
    tsv_files = {}
    for kind, name in TSV_FILES.items():
        path = out / TSV_FOLDER / name
        _write_tsv(path, _tsv_rows(bench, kind, prompts), base + (["image"] if kind == "image_mcq" else []))
        tsv_files[kind] = path

    export = HarnessExport(out, task_dir, tsv_files, counts, dataset_path, bench=meta | {"registered": bench.registered},
                           prompt={"version": prompts.version, "sha256": prompts.sha256}, skipped=skipped)
    atomic_write_json(out / "manifest.json", {
        "kind": "spinebench-harness-export", **meta, "registered": bench.registered, "dataset_path": dataset_path,
        "lmms_eval": {"include_path": TASK_FOLDER.as_posix(), "group": GROUP, "tasks": HARNESS_TASKS},
        "vlmevalkit": {k: (TSV_FOLDER / v).as_posix() for k, v in TSV_FILES.items()},
        "counts": counts, "not_exported": skipped,
    }, indent=2)
    return export


def format_export(export: HarnessExport) -> str:
    """What the command prints: where things are and how to run them."""
    b = export.bench
    lines = [f"SpineBench {b['bench_version']} ({'registered' if b.get('registered') else 'UNREGISTERED'}), prompts "
             f"{export.prompt['version']}: {export.counts['text_mcq']} text MCQ, {export.counts['image_mcq']} image MCQ",
             f"  lmms-eval task folder: {export.task_dir} (dataset_path {export.dataset_path})",
             *(f"  VLMEvalKit table: {p}" for p in export.tsv_files.values())]
    if export.skipped:
        lines.append("  not exported: " + ", ".join(f"{n} {k}" for k, n in export.skipped.items())
                     + " (reports need the SpineBench judge: use spinemed eval)")
    lines += ["run (with spinemed installed next to lmms-eval):",
              f"  python -m lmms_eval --model openai --model_args model_version=MODEL,base_url=URL "
              f"--tasks {GROUP} --include_path {export.task_dir} --log_samples --output_path runs/lmms"]
    return "\n".join(lines)
