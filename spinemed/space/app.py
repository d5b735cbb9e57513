"""The Gradio 6 app: leaderboard, submissions, benchmark explorer, SpineGPT chat.

``build_app(SpaceState.from_config(cfg))`` returns the ``gr.Blocks``; ``launch_kwargs(state)``
the arguments for ``launch()`` (Gradio 6 takes theme/css there, not in ``Blocks``).  Every
handler is a method of :class:`SpaceState`, so tests call the same code the page calls, and
``gradio_client`` reaches them under the API names given here (``/leaderboard``, ``/chart``,
``/refresh``, ``/submit``, ``/explore``, ``/show_item``, ``/chat``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from spinemed.llm.base import LLMError
from spinemed.scoring import BENCHMARK_COUNTS, SCORER_VERSION
from spinemed.text import detect_language

from . import leaderboard as lb
from .bench import KIND_LABELS, LANGUAGE_LABELS, MODALITY_LABELS, BenchmarkError, SpaceBench, subfield_label
from .chat import (
    NOT_FOR_CLINICAL_USE,
    ChatBackend,
    ChatInputError,
    NotConfiguredBackend,
    build_chat_backend,
    on_zero_gpu,
    turns_from_gradio,
)
from .config import Judge, SpaceConfig
from .queue_ui import QueueFront, build_submit_tab
from .safety import cell_text, md_escape
from .store import ResultsStore
from .submissions import (
    RateLimiter,
    SubmissionLimits,
    SubmissionRejected,
    accepted_markdown,
    parse_predictions,
    predictions_digest,
    read_run_meta,
    rescore,
    resolve_provenance,
    validate_meta,
)

__all__ = ["SpaceState", "build_app", "client_id", "create_app", "launch_kwargs"]

log = logging.getLogger(__name__)

TITLE = "SpineMed · SpineBench leaderboard and SpineGPT demo"
EXPLORER_PAGE = 200  # rows shown in the explorer table at once
CSS = """
.spinemed-notice {border-left: 4px solid #d97706; padding: 8px 12px; background: rgba(217,119,6,0.08); border-radius: 6px;}
.spinemed-status {font-size: 0.9em; opacity: 0.85;}
/* Headers wrap between words only, never inside one ("Consisten-cy"). */
#leaderboard-table th, #leaderboard-table th * {word-break: keep-all; overflow-wrap: normal; hyphens: none;}
/* The compact comparison table replaces the figure on narrow screens, where the figure's text gets too small. */
.spinemed-narrow-only {display: none !important;}
/* Chat: long lines wrap inside the bubble instead of running off a phone screen. */
#spinemed-chat .message, #spinemed-chat .message * {overflow-wrap: anywhere; word-break: break-word;}
@media (max-width: 640px) {
  .spinemed-wide-only {display: none !important;}
  .spinemed-narrow-only {display: block !important;}
  .spinemed-title h1 {font-size: 1.15rem !important; margin: 0 !important;}
  .spinemed-notice p {font-size: 0.75rem !important; line-height: 1.3 !important;}
  .spinemed-notice {padding: 2px 8px !important;}
}
"""
_LEFT2, _LEFT3 = lb.ALL_COLUMNS[0].width, lb.ALL_COLUMNS[0].width + lb.ALL_COLUMNS[1].width
CSS += f"""
/* Rank, Model and Total stay in place when the table scrolls sideways.  Gradio draws the body as absolutely placed
   rows as wide as the viewport, so a sticky cell had nowhere to stick once the row scrolled away (which is why
   pinned_columns alone does not pin): rows are made as wide as their cells, and the first three cells sticky at the
   offsets of the fixed widths of the first two columns (leaderboard.ALL_COLUMNS). */
#leaderboard-table .virtual-row {{width: max-content !important; min-width: 100%;}}
#leaderboard-table tr > :nth-child(-n+3), #leaderboard-table .virtual-row > :nth-child(-n+3) {{
  position: sticky !important; z-index: 3; background: var(--background-fill-primary);}}
#leaderboard-table thead tr > :nth-child(-n+3) {{z-index: 4;}}
#leaderboard-table tr > :nth-child(1), #leaderboard-table .virtual-row > :nth-child(1) {{left: 0;}}
#leaderboard-table tr > :nth-child(2), #leaderboard-table .virtual-row > :nth-child(2) {{left: {_LEFT2}px;}}
#leaderboard-table tr > :nth-child(3), #leaderboard-table .virtual-row > :nth-child(3) {{
  left: {_LEFT3}px; box-shadow: 2px 0 0 var(--border-color-primary);}}
/* On a phone the three pinned columns get narrower, so the rest of the row still has room to scroll past. */
@media (max-width: 640px) {{
  #leaderboard-table table {{width: max-content !important; min-width: 0 !important;}}
  #leaderboard-table tr > :nth-child(1), #leaderboard-table .virtual-row > :nth-child(1) {{
    width: 50px !important; min-width: 50px !important; max-width: 50px !important;}}
  #leaderboard-table tr > :nth-child(2), #leaderboard-table .virtual-row > :nth-child(2) {{
    left: 50px; width: 118px !important; min-width: 118px !important; max-width: 118px !important;}}
  #leaderboard-table tr > :nth-child(3), #leaderboard-table .virtual-row > :nth-child(3) {{
    left: 168px; width: 64px !important; min-width: 64px !important; max-width: 64px !important;}}
}}
"""


class SpaceState:
    """What the handlers share: settings, the benchmark, the results store, the chat model."""

    def __init__(self, config: SpaceConfig, *, bench: SpaceBench | None = None, bench_error: str = "",
                 store: ResultsStore | None = None, chat: ChatBackend | None = None, judge: Any = None,
                 limits: SubmissionLimits | None = None):
        self.config = config
        self.bench = bench
        self.bench_error = bench_error
        self.store = store or ResultsStore(config.results_dir)
        self.chat = chat or NotConfiguredBackend()
        self.judge = judge
        self.limits = limits or SubmissionLimits(max_bytes=int(config.max_upload_mb * 1024 * 1024))
        self.examples_dir = Path(config.cache_dir) / "space-examples"
        self._lock = threading.Lock()
        self.paper = lb.paper_entries()
        self.rate = RateLimiter(config.rate_per_name, config.rate_per_client)
        self._rate_seeded: set[str] = set()
        self.entries: list[lb.Entry] = []
        self._signature: tuple | None = None
        self.load_problems: list[str] = []
        self.reload()

    @classmethod
    def from_config(cls, config: SpaceConfig, *, hub_api: Any = None, strict: bool = False) -> SpaceState:
        """Load everything the config names.  A benchmark that fails to load is reported on the
        page (explorer and submissions off) rather than stopping the leaderboard, unless
        `strict` (the command line: a mistyped --bench should fail at once)."""
        bench, bench_error = None, ""
        if config.bench:
            try:
                bench = SpaceBench.load(config.bench, allow_unregistered=config.allow_unregistered)
            except BenchmarkError as exc:
                if strict:
                    raise
                bench_error = str(exc)
                log.error("SpineBench not loaded: %s", exc)
        store = ResultsStore(config.results_dir, hub_repo=config.results_repo, api=hub_api, token=config.hf_token)
        restored = store.sync_from_hub()
        if restored:
            log.info("restored %d submission(s) from %s", len(restored), config.results_repo)
        chat = build_chat_backend(config.model, cache_dir=config.cache_dir, revision=config.chat_revision)
        if hasattr(chat, "load") and on_zero_gpu():  # ZeroGPU places the weights at start-up, before any GPU call
            _warm_up(chat)
        elif hasattr(chat, "load"):  # load a local model in the background: the page is up meanwhile
            threading.Thread(target=_warm_up, args=(chat,), name="space-chat-load", daemon=True).start()
        judge = Judge(config.judge, cache_dir=Path(config.cache_dir) / "judge") if config.judge else None
        return cls(config, bench=bench, bench_error=bench_error, store=store, chat=chat, judge=judge)

    # -- leaderboard ---------------------------------------------------------------------

    def reload(self, force: bool = False) -> None:
        """Re-read the results folder when it changed (paper rows are fixed)."""
        signature = self.store.signature()
        if not force and signature == self._signature:
            return
        found, problems = self.store.load()
        self._signature = signature
        entries = list(self.paper)
        for key, results in found:
            entries.append(lb.entry_from_results(results, key))
        with self._lock:
            self.entries, self.load_problems = entries, problems
        for sub in self.store.submissions():  # name limits survive a restart
            if sub.id not in self._rate_seeded and sub.submitted_at is not None:
                self._rate_seeded.add(sub.id)
                self.rate.record(sub.name, None, at=sub.submitted_at)

    def status_md(self) -> str:
        with self._lock:
            entries, problems = list(self.entries), list(self.load_problems)
        by_source = {s: sum(e.source == s for e in entries) for s in lb.SOURCES}
        parts = [f"{n} {s}" for s, n in by_source.items() if n]
        text = f"{len(entries)} rows: " + ", ".join(parts) + "."
        n_editions = len(lb.editions(entries))
        if n_editions > 1:
            text += (f" They are on {n_editions} benchmark editions; each table ranks the rows of one (choose it under "
                     "*Benchmark*), never rows of another edition or of a subset.")
        inconsistent = [e.model for e in entries if any(not c.consistent for c in e.checks)]
        if inconsistent:
            text += (f" {lb.FLAG} The published totals of {', '.join(md_escape(m) for m in inconsistent)} do not follow from their own "
                     "closed-QA and report scores with the paper's formula; the **Total** column shows the recomputed value, "
                     "the published one is kept under *Published total*.")
        if problems:
            text += f"\n\n{len(problems)} results file(s) skipped (invalid): " + "; ".join(md_escape(p, 200) for p in problems[:5])
        return text

    @property
    def served_edition(self) -> str | None:
        """The edition of the benchmark this Space scores submissions on (None without one)."""
        return lb.edition_of(self.bench.bench.describe()) if self.bench is not None else None

    def editions(self) -> list[str]:
        """Editions to choose from: those with rows, plus the served one (submissions land there)."""
        with self._lock:
            found = lb.editions(self.entries)
        served = self.served_edition
        return found + ([served] if served and served not in found else [])

    def rows(self, search: str = "", sizes: list[str] | None = None, access: list[str] | None = None,
             domains: list[str] | None = None, sources: list[str] | None = None, sort_by: str = "Total",
             descending: bool = True, edition: str | None = None) -> list[lb.Ranked]:
        """The rows of one benchmark edition (default: the paper's), ranked within it, filtered and sorted."""
        with self._lock:
            entries = list(self.entries)
        return lb.board(entries, edition, search, sizes, access, domains, sources, sort_by or "Total", bool(descending))

    def table(self, search: str = "", sizes: list[str] | None = None, access: list[str] | None = None,
              domains: list[str] | None = None, sources: list[str] | None = None, sort_by: str = "Total",
              descending: bool = True, *, edition: str | None = None, groups: list[str] | None = None, styled: bool = False):
        """:meth:`rows` as a DataFrame with the columns of `groups` (a Styler for the page when `styled`)."""
        rows = self.rows(search, sizes, access, domains, sources, sort_by, descending, edition)
        return lb.styled_frame(rows, groups) if styled else lb.board_frame(rows, groups)

    def details_at(self, keys: list[str], row: Any, row_value: list[Any] | None = None) -> str:
        """The details of the table row a visitor selected: `keys` are the shown rows' keys in the order sent to
        the page; `row_value` (the cells the page reports) settles which row it was when the visitor re-sorted the
        table in the browser, where the index no longer matches the order sent."""
        try:
            key = keys[int(row)]
        except (IndexError, TypeError, ValueError):
            key = None
        if row_value is not None and len(row_value) > 1:
            with self._lock:
                cell = {e.key: lb.model_cell(e.model) for e in self.entries}
            if key is None or cell.get(key) != row_value[1]:
                key = next((k for k in keys if cell.get(k) == row_value[1]), None)
        return self.details(key)

    def details(self, key: str | None) -> str:
        """The details view of one row (rank or why none, edition, check, provenance)."""
        with self._lock:
            entries = list(self.entries)
        entry = next((e for e in entries if e.key == key), None)
        if entry is None:
            return "Select a row of the table to see where its numbers come from."
        ranks = lb.rank_entries([e for e in entries if e.edition == entry.edition])
        return lb.details_markdown(ranks[id(entry)])

    def _by_label(self) -> dict[str, lb.Entry]:
        """Picker label -> entry; labels made unique (two runs may share a model name)."""
        with self._lock:
            entries = list(self.entries)
        out: dict[str, lb.Entry] = {}
        for e in entries:
            label, n = e.label, 2
            while label in out:
                label, n = f"{e.label} #{n}", n + 1
            out[label] = e
        return out

    def labels(self) -> list[str]:
        return list(self._by_label())

    def default_selection(self, n: int = 3) -> list[str]:
        by_label = self._by_label()
        label_of = {id(e): label for label, e in by_label.items()}
        return [label_of[id(r.entry)] for r in lb.board(list(by_label.values()))[:n] if id(r.entry) in label_of]

    def chart(self, labels: list[str] | None):
        by_label = self._by_label()
        return lb.dimension_chart([by_label[x] for x in labels or [] if x in by_label])

    def compare(self, labels: list[str] | None) -> str:
        """The chart's numbers as a compact table (shown instead of the figure on narrow screens)."""
        by_label = self._by_label()
        return lb.compare_markdown([by_label[x] for x in labels or [] if x in by_label])

    # -- submissions ---------------------------------------------------------------------

    def submit(self, file: Any, name: str, params_b: Any, access: str, domain: str, revision: str = "",
               meta_file: Any = None, prompt_version: str = "", prompt_hash: str = "", generation: Any = "", *,
               client: str | None = None) -> str:
        """Validate, rescore and store one upload; returns the Markdown message (never raises
        for bad input: a rejection stores nothing and says why).

        `meta_file`: the run's ``predictions.meta.json`` (revision, prompt version and hash,
        generation settings), or those typed in (:func:`spinemed.space.submissions.resolve_provenance`).

        `client`: who submits (from the Gradio request, see :func:`client_id`), for the
        per-client rate limit; None when called without a request.
        """
        if self.bench is None:
            return ("### Submissions are closed\n\nThis Space has no SpineBench loaded, so there is nothing to score "
                    "against. " + (f"Loading failed: {md_escape(self.bench_error, 400)}" if self.bench_error else
                                   "Start it with `--bench DIR` (or set `SPINEMED_BENCH`)."))
        try:
            with self._lock:
                shown = [e.model for e in self.entries if e.source != lb.SOURCES[0]]  # paper rows are reserved below
            meta = validate_meta(name, params_b, access, domain, revision, existing=shown,
                                 reserved=[e.model for e in self.paper])
            data = self._read_upload(file)
            rows = parse_predictions(data, self.bench, self.limits)
            run_meta = read_run_meta(self._read_upload(meta_file, "predictions.meta.json")) if meta_file else None
            provenance = resolve_provenance(self.bench, name=meta.name, revision=meta.revision, prompt_version=prompt_version,
                                            prompt_hash=prompt_hash, generation=generation, meta=run_meta)
            digest = predictions_digest(rows)
            prior = self.store.find_duplicate(digest)
            existing = prior.id if prior else self.store.find_digest(digest)
            if existing:
                # One entry per (name, revision, predictions); the same outputs under another name are a copy.
                same = prior is not None and (prior.name, prior.revision) == (meta.name, provenance.revision)
                raise SubmissionRejected([f"identical predictions were already submitted (submission {existing}"
                                          + (f", {prior.describe()}" if prior else "") + ")"
                                          + ("; one submission per model name, revision and predictions" if same else "")])
            self.rate.check(meta.name, client)
            sid = f"{_slug(meta.name)}-{digest[:12]}"
            results = rescore(self.bench, rows, meta, judge=self.judge, bootstrap=self.config.bootstrap, submission_id=sid,
                              provenance=provenance)
            try:
                outcome = self.store.save(sid, results, rows)
            except FileExistsError as exc:
                raise SubmissionRejected([str(exc)]) from None
            self._rate_seeded.add(sid)  # counted here, not again when reload() reads it back
            self.rate.record(meta.name, client)
        except SubmissionRejected as exc:
            return exc.markdown()
        except LLMError as exc:  # the judge endpoint failed for good: nothing stored
            return f"### Not stored\n\nThe report judge failed: {md_escape(exc, 300)}. Please try again later."
        self.reload(force=True)
        return accepted_markdown(results, outcome.describe())

    def _read_upload(self, file: Any, what: str = "predictions.jsonl") -> bytes:
        # gr.File(type="filepath") gives a path; gradio_client / older versions may give a dict.
        path = file.get("path") if isinstance(file, dict) else file
        if not path:
            raise SubmissionRejected([f"no file uploaded: choose your {what}"])
        p = Path(path)
        try:
            size = p.stat().st_size
        except OSError:
            raise SubmissionRejected(["the uploaded file is gone; upload it again"]) from None
        if size > self.limits.max_bytes:
            raise SubmissionRejected([f"file is {size:,} bytes; the limit is {self.limits.max_bytes:,}"])
        return p.read_bytes()

    # -- explorer ------------------------------------------------------------------------

    def explore(self, subfields: list[str] | None = None, languages: list[str] | None = None,
                modalities: list[str] | None = None, kinds: list[str] | None = None, text: str = ""):
        """(table, item ids, summary) for the filters; empty filters match everything."""
        import pandas as pd

        columns = ["ID", "Kind", "Language", "Modality", "Sub-field", "Images", "Question / case"]
        if self.bench is None:
            return pd.DataFrame(columns=columns), [], self._no_bench_md()
        found = self.bench.query(subfields, languages, modalities, kinds, text)
        shown = found[:EXPLORER_PAGE]
        frame = pd.DataFrame(
            [[r["id"], KIND_LABELS.get(r["kind"], r["kind"]), LANGUAGE_LABELS.get(r.get("language"), r.get("language")),
              MODALITY_LABELS.get(r.get("modality"), r.get("modality")), subfield_label(r.get("subfield") or ""),
              r.get("n_images", 0), cell_text(r.get("question") or r.get("case"), 140)] for r in shown],
            columns=columns,
        )
        summary = f"{len(found)} of {len(self.bench)} items match" + (f" (first {EXPLORER_PAGE} shown)" if len(found) > len(shown) else "") + "."
        return frame, [r["id"] for r in shown], summary

    def show_item(self, item_id: str | None):
        """(Markdown, images) for one item."""
        if self.bench is None:
            return self._no_bench_md(), []
        if not item_id:
            return "Pick an item in the table or the list.", []
        if item_id not in self.bench.by_id:
            return self.bench.render_item(item_id), []
        return self.bench.render_item(item_id), self.bench.images(item_id)

    def _no_bench_md(self) -> str:
        if self.bench_error:
            return f"No SpineBench loaded: {md_escape(self.bench_error, 400)}"
        return "No SpineBench loaded. Start the Space with `--bench DIR` (or set `SPINEMED_BENCH`)."

    # -- chat ------------------------------------------------------------------------------

    def respond(self, message: Any, history: list[dict[str, Any]], language: str = "auto") -> Iterator[str]:
        """The ChatInterface function: yields the growing answer (streaming)."""
        try:
            turns = turns_from_gradio(message, history)
        except ChatInputError as exc:
            yield f"Warning: {exc}"
            return
        last = turns[-1] if turns else None
        if last is None or (not last.text.strip() and not last.images):
            yield "Type a question (and attach an image if you like). 请输入问题（可附加图像）。"
            return
        lang = language if language in ("en", "zh") else detect_language(last.text)
        notice = getattr(self.chat, "loading_notice", None)
        if notice is not None and notice(lang):
            yield notice(lang)  # replaced by the answer's first piece
        answer = ""
        try:
            for piece in self.chat.stream(turns, lang):
                answer += piece
                yield answer
        except (LLMError, OSError, ValueError) as exc:
            yield (answer + "\n\n" if answer else "") + f"Warning: the model backend failed: {exc}"
            return
        if not answer.strip():
            yield "(the model returned no visible text)"

    def chat_examples(self) -> list[tuple[dict[str, Any], str]]:
        """(message, label) example prompts in English and Chinese, with benchmark images when
        a benchmark is loaded."""
        examples: list[tuple[dict[str, Any], str]] = [
            ({"text": "Low back pain radiating to the big toe with weak great-toe extension: which level and nerve root "
                      "are most likely involved, and what imaging would you order?", "files": []},
             "Sciatica: which level? (EN)"),
            ({"text": "颈椎病患者出现双手笨拙、步态不稳，应考虑哪种类型？需要做哪些检查？", "files": []}, "脊髓型颈椎病？(中文)"),
        ]
        if self.bench is not None:
            try:
                for ex in self.bench.example_images(self.examples_dir, limit=2):
                    if ex["language"] == "zh":
                        examples.append(({"text": "请描述该图像的主要发现，并写明涉及的椎体节段。", "files": [ex["path"]]},
                                         "读片：描述影像所见 (中文)"))
                    else:
                        examples.append(({"text": "Describe the findings in this image and name the vertebral levels involved.",
                                          "files": [ex["path"]]}, "Read this image (EN)"))
            except OSError as exc:
                log.warning("cannot write example images: %s", exc)
        return examples


def client_id(request: Any) -> str | None:
    """Who submits, for the per-client rate limit: the logged-in Hugging Face user when there is
    one, else the address the request came from (None without a request)."""
    if request is None:
        return None
    user = getattr(request, "username", None)
    if user:
        return f"user:{user}"
    host = getattr(getattr(request, "client", None), "host", None)
    return f"host:{host}" if host else None


def _warm_up(chat: Any) -> None:
    try:
        chat.load()
    except Exception as exc:  # shown again to the first visitor who asks; the page stays up
        log.error("chat model not loaded: %s", exc)


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return (s[:40].strip("-") or "model")


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------


def _about_md(state: SpaceState) -> str:
    n = BENCHMARK_COUNTS
    bench = md_escape(state.bench.label) if state.bench else "none loaded"
    judge = md_escape(f"{state.judge.model} at {', '.join(state.judge.urls)}") if getattr(state.judge, "model", None) else (
        "configured" if state.judge else "none: submitted reports are listed as *not judged*")
    hub = md_escape(state.store.hub_repo) + f" ({md_escape(state.store.hub_status)})" if state.store.hub_repo else "none (local results folder only)"
    return f"""
### Scoring (one implementation: `spinemed.scoring`, scorer {SCORER_VERSION})
- **P1 / P2**: accuracy on text-only / image-text multiple-choice items; the answer letter is extracted from free text
  (English and Chinese phrasing; refusals and unparsed answers count as wrong and are counted).
- **P3**: an LLM judge scores each report 1-5 on ten dimensions in five sections; P3 = 20 × the mean of the section means.
- **Total** = Σ_k N_k·P_k / Σ_k N_k over the three parts (released SpineBench: {n['text_mcq']} + {n['image_mcq']} MCQ, {n['report']} reports).
- **Level-aware scores**: precision / recall / F1 of the vertebral levels a report names versus the reference (shown × 100).
- **Ranking**: one table per benchmark edition (the paper's 574 items, the demo's sample build, a local build...):
  rows scored on another edition or on a subset are never ranked together. Rows with a Total are ranked by it; a
  row is behind another only when the other's 95% interval lies wholly above its own, so overlapping intervals
  share a rank band ("2–4") and equal totals without intervals tie. Rows without a Total (reports not judged, closed
  QA only as published) or on a subset are listed after the ranked rows, with the reason.

### The paper's table
Rows marked *paper (reported)* are copied from the SpineBench paper. Their **Total** is recomputed from the published
closed-QA and report scores; the published total is kept beside it, and the consistency check flags rows where the two
disagree (Medgemma-27B, Qwen2.5-VL-7B and SpineGPT).

### Submitting
Run `spinemed eval --bench <SpineBench> --model ... --out run/` and upload `run/predictions.jsonl` with
`run/predictions.meta.json` (model revision, prompt version and hash, generation settings) on the Submit tab.
The Space checks it against the benchmark it serves, **recomputes every score itself** (claimed answers or scores in the
file are ignored) and stores the accepted results with their provenance. Where the Space has a requests queue, you can
instead request an evaluation of a Hub model: the evaluation worker runs it and its row appears when FINISHED.

### This Space
- Benchmark: {bench}
- Report judge: {judge}
- Results repo: {hub}
- Chat model: {md_escape(getattr(state.chat, 'description', 'none'))}
"""


def _table_props(rows: list[lb.Ranked], groups: Any) -> dict[str, Any]:
    """Value, headers, datatypes and widths of the leaderboard table for a column choice (they change together)."""
    cols = lb.columns_for(groups)
    return {"value": lb.styled_frame(rows, groups), "headers": [c.header for c in cols],
            "datatype": [c.datatype for c in cols], "column_widths": [f"{c.width}px" for c in cols]}


def build_app(state: SpaceState):
    """The gr.Blocks for `state` (launch it with ``**launch_kwargs(state)``)."""
    facets = state.bench.facets() if state.bench else {"subfield": [], "language": [], "modality": [], "kind": []}
    with gr.Blocks(title=TITLE, fill_width=True) as demo:
        gr.Markdown(f"# {TITLE}", elem_classes=["spinemed-title"])
        gr.Markdown(NOT_FOR_CLINICAL_USE, elem_classes=["spinemed-notice"])

        with gr.Tab("Leaderboard", id="leaderboard"):
            first_editions = state.editions()
            # One benchmark edition per table; the selector shows only when several are served.
            edition = gr.Dropdown(first_editions, value=first_editions[0], label="Benchmark", visible=len(first_editions) > 1,
                                  elem_id="leaderboard-edition", info="Rows are ranked only against rows on the same benchmark")
            with gr.Accordion("Search, sort, filters and columns", open=False, elem_id="leaderboard-controls"):
                with gr.Row():
                    search = gr.Textbox("", label="Search models", placeholder="e.g. qwen, medical, open", scale=3)
                    sort_by = gr.Dropdown(list(lb.SORTABLE), value="Total", label="Sort by", scale=2,
                                          info="Total: ranked rows first, then rows without a rank, with the reason")
                    descending = gr.Checkbox(value=True, label="Descending", scale=1)
                groups = gr.CheckboxGroup(list(lb.COLUMN_GROUPS), value=list(lb.DEFAULT_GROUPS), label="Columns",
                                          info="Rank, Model and Total are always shown")
                with gr.Row():
                    sizes = gr.CheckboxGroup(list(lb.SIZE_BUCKETS), value=list(lb.SIZE_BUCKETS), label="Model size")
                    access = gr.CheckboxGroup(list(lb.ACCESS), value=list(lb.ACCESS), label="Access")
                    domains = gr.CheckboxGroup(list(lb.DOMAINS), value=list(lb.DOMAINS), label="Domain")
                    sources = gr.CheckboxGroup(list(lb.SOURCES), value=list(lb.SOURCES), label="Type")
            first_rows = state.rows(edition=first_editions[0])
            table = gr.Dataframe(**_table_props(first_rows, lb.DEFAULT_GROUPS), interactive=False, show_search="none",
                                 pinned_columns=lb.PINNED_COLUMNS, wrap=True, max_height=lb.TABLE_MAX_HEIGHT,
                                 elem_id="leaderboard-table", label="SpineBench leaderboard (scores in %)")
            shown_keys = gr.State([r.entry.key for r in first_rows])
            details = gr.Markdown(state.details(None), elem_id="leaderboard-details")
            status = gr.Markdown(state.status_md(), elem_classes=["spinemed-status"])

            def show_table(search, edition, groups, sizes, access, domains, sources, sort_by, descending):
                # The value only (the API's answer is the table itself); datatypes and widths follow the columns.
                rows = state.rows(search, sizes, access, domains, sources, sort_by, descending, edition)
                return lb.styled_frame(rows, groups), [r.entry.key for r in rows]

            def show_columns(search, edition, groups, sizes, access, domains, sources, sort_by, descending):
                rows = state.rows(search, sizes, access, domains, sources, sort_by, descending, edition)
                return gr.Dataframe(**_table_props(rows, groups)), [r.entry.key for r in rows]

            def show_details(keys, evt: gr.SelectData):
                row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
                return state.details_at(keys, row, getattr(evt, "row_value", None))

            table.select(show_details, shown_keys, details, api_visibility="private")

            with gr.Row():
                picker = gr.Dropdown(state.labels(), value=state.default_selection(), multiselect=True,
                                     label="Compare models (scores and report dimensions)", scale=4)
                refresh = gr.Button("Reload results", scale=1)
            plot = gr.Plot(value=state.chart(state.default_selection()), label="Scores and report dimensions",
                           elem_classes=["spinemed-wide-only"])
            compact = gr.Markdown(state.compare(state.default_selection()), elem_classes=["spinemed-narrow-only"],
                                  elem_id="leaderboard-compare")

            filters = [search, edition, groups, sizes, access, domains, sources, sort_by, descending]
            for control in filters:
                control.change(show_columns if control is groups else show_table, filters, [table, shown_keys],
                               api_name="leaderboard" if control is search else False,
                               api_visibility="public" if control is search else "private")
            picker.change(state.chart, picker, plot, api_name="chart")
            picker.change(state.compare, picker, compact, api_visibility="private")

            def do_refresh(search, edition, groups, sizes, access, domains, sources, sort_by, descending):
                state.reload()  # a no-op unless the results folder changed
                choices = state.editions()
                edition = edition if edition in choices else choices[0]
                table_, keys = show_table(search, edition, groups, sizes, access, domains, sources, sort_by, descending)
                return (table_, keys, gr.update(choices=state.labels()), state.status_md(),
                        gr.update(choices=choices, value=edition, visible=len(choices) > 1))

            def after_submit(*controls):
                # Show the table the submission landed in (the served benchmark's edition).
                controls = list(controls)
                controls[1] = state.served_edition or controls[1]
                return do_refresh(*controls)

            refresh.click(do_refresh, filters, [table, shown_keys, picker, status, edition], api_name="refresh")

        build_submit_tab(state, QueueFront(state), (after_submit, filters, [table, shown_keys, picker, status, edition]),
                         client_id)

        with gr.Tab("Explorer", id="explorer"):
            gr.Markdown("Browse SpineBench items by sub-field, language and modality. Empty filters match everything.")
            with gr.Row():
                e_sub = gr.Dropdown([(subfield_label(s), s) for s in facets["subfield"]], multiselect=True, label="Sub-field")
                e_lang = gr.Dropdown([(LANGUAGE_LABELS.get(x, x), x) for x in facets["language"]], multiselect=True, label="Language")
                e_mod = gr.Dropdown([(MODALITY_LABELS.get(x, x), x) for x in facets["modality"]], multiselect=True, label="Modality")
                e_kind = gr.Dropdown([(KIND_LABELS[x], x) for x in facets["kind"]], multiselect=True, label="Task")
                e_text = gr.Textbox("", label="Text contains")
            first_frame, first_ids, first_summary = state.explore()
            first_md, first_images = state.show_item(first_ids[0] if first_ids else None)
            e_count = gr.Markdown(first_summary)
            e_table = gr.Dataframe(value=first_frame, interactive=False, wrap=True, max_height=360, label="Items",
                                   column_widths=["190px", "100px", "90px", "110px", "260px", "70px", "480px"],
                                   elem_id="explorer-table")
            e_item = gr.Dropdown(first_ids, value=first_ids[0] if first_ids else None, label="Item", allow_custom_value=True)
            with gr.Row():
                e_detail = gr.Markdown(first_md, elem_id="explorer-item")
                e_gallery = gr.Gallery(first_images, label="Images", columns=2, height="auto", type="pil", object_fit="contain", preview=False,
                                       elem_id="explorer-images")

            def do_explore(subfields, languages, modalities, kinds, text):
                frame, ids, summary = state.explore(subfields, languages, modalities, kinds, text)
                return frame, gr.update(choices=ids, value=ids[0] if ids else None), summary

            e_filters = [e_sub, e_lang, e_mod, e_kind, e_text]
            for control in e_filters:
                control.change(do_explore, e_filters, [e_table, e_item, e_count],
                               api_name="explore" if control is e_text else False,
                               api_visibility="public" if control is e_text else "private")
            e_item.change(state.show_item, e_item, [e_detail, e_gallery], api_name="show_item")

            def pick_row(frame, evt: gr.SelectData):
                row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
                try:
                    return frame.iloc[int(row)]["ID"]
                except (IndexError, KeyError, ValueError, TypeError):
                    return gr.skip()

            e_table.select(pick_row, e_table, e_item, api_visibility="private")

        with gr.Tab("Chat", id="chat"):
            gr.Markdown(f"Model: **{md_escape(getattr(state.chat, 'description', 'none'))}**. Ask in English or Chinese "
                        "(answers follow the language of the question); attach spine images (X-ray, CT, MRI). "
                        "可用中文或英文提问（按提问语言回答），并可附加影像。")
            examples = state.chat_examples()
            gr.ChatInterface(
                state.respond,
                multimodal=True,
                # No floating label (it sat over the first message), no share button; lines wrap (CSS above).
                chatbot=gr.Chatbot(show_label=False, elem_id="spinemed-chat", height=480, buttons=["copy"]),
                textbox=gr.MultimodalTextbox(file_types=["image"], file_count="multiple", sources=["upload"],
                                             placeholder="Ask about a spine case… 请输入问题…"),
                examples=[ex for ex, _ in examples],
                example_labels=[label for _, label in examples],
                cache_examples=False,
                api_name="chat",
                fill_height=False,
                save_history=False,
                concurrency_limit=4,
            )

        with gr.Tab("About", id="about"):
            gr.Markdown(_about_md(state))

        demo.load(do_refresh, filters, [table, shown_keys, picker, status, edition], api_visibility="private")
    return demo


def launch_kwargs(state: SpaceState) -> dict[str, Any]:
    """Arguments for ``demo.launch()``: theme/css (Gradio 6 takes them here), upload limit, the
    example-image folder (served to the page), only the API link in the footer."""
    return {
        # System fonts: the default theme fetches Google Fonts, which fails offline and leaks visits.
        "theme": gr.themes.Soft(primary_hue="teal", font=["ui-sans-serif", "system-ui", "sans-serif"],
                                font_mono=["ui-monospace", "monospace"]),
        "css": CSS,
        "max_file_size": f"{max(1, int(state.config.max_upload_mb))}mb",
        "allowed_paths": [str(state.examples_dir)],
        "footer_links": ["api"],
    }


def create_app(config: SpaceConfig | None = None, *, hub_api: Any = None, strict: bool = False):
    """``(demo, launch_kwargs)`` from a config (default: environment variables, as on a Space)."""
    state = SpaceState.from_config(config or SpaceConfig.from_env(), hub_api=hub_api, strict=strict)
    demo = build_app(state)
    # A bounded queue: past max_size visitors are told the Space is busy instead of waiting without end.
    demo.queue(max_size=state.config.max_queue, default_concurrency_limit=2)
    return demo, launch_kwargs(state)
