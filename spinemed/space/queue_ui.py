"""The Submit tab: request a model evaluation (the queue) or upload a run's predictions, and the queue view.

:class:`QueueFront` is the logic (testable without gradio): it validates a request with the rules
of uploaded submissions (name, size, access, domain, rate limits; :mod:`spinemed.space.submissions`)
and the queue's own (:func:`spinemed.space.queue.new_request`), and stores it PENDING in the
requests folder or Hub dataset the worker reads.  :func:`build_submit_tab` is the page.
"""

# No `from __future__ import annotations`: Gradio reads the handlers' `gr.Request` annotations at run time.

import logging
from collections.abc import Callable, Sequence
from typing import Any

from . import leaderboard as lb
from .queue import QUEUE_HEADERS, QueueError, RequestsFolder, new_request, open_requests, queue_rows
from .safety import md_code, md_escape
from .submissions import SubmissionRejected, validate_meta

__all__ = ["QueueFront", "build_submit_tab"]

log = logging.getLogger(__name__)

_OFF = ("This Space takes no model requests: its operator has not set up a requests queue "
        "(`--requests DIR` / `SPINEMED_REQUESTS_DIR`, or `SPINEMED_REQUESTS_REPO`, and a running `spinemed space worker`). "
        "You can still upload your own run's predictions below.")


class QueueFront:
    """The Space's side of the requests queue: new requests and the queue table."""

    def __init__(self, state: Any, queue: RequestsFolder | None = None, *, hub_api: Any = None):
        self.state = state
        cfg = state.config
        self.allow_endpoints = bool(cfg.queue_endpoints)
        self.error = ""
        if queue is None and (cfg.requests_dir or cfg.requests_repo):
            try:
                queue = open_requests(cfg.requests_dir, cfg.requests_repo, api=hub_api, token=cfg.hf_token)
            except Exception as exc:  # the Hub unreachable: the rest of the Space still runs
                self.error = f"{type(exc).__name__}: {exc}"
                log.error("requests queue not available: %s", self.error)
        self.queue = queue

    @property
    def enabled(self) -> bool:
        return self.queue is not None and self.state.bench is not None

    def intro_md(self) -> str:
        if self.queue is None:
            return _OFF + (f"\n\n(The queue failed to open: {md_escape(self.error, 300)})" if self.error else "")
        if self.state.bench is None:
            return "Model requests are closed: this Space has no SpineBench loaded to evaluate on."
        what = "a Hub model id (`ORG/NAME`)" + (" or an OpenAI-compatible endpoint (`openai:MODEL@URL`)"
                                                if self.allow_endpoints else "")
        return (f"Enter {what} and a revision. The request joins the queue as **PENDING**; the evaluation worker runs "
                f"it over {md_escape(self.state.bench.label)} with the kit's own prompts and scorer (and the report "
                "judge when configured), then it is **FINISHED** and its row is on the leaderboard, or **FAILED** "
                "with the reason.")

    def request(self, model: str, revision: str, name: str, params_b: Any, access: str, domain: str, *,
                client: str | None = None) -> str:
        """Queue one evaluation; returns the Markdown message (never raises for bad input)."""
        if not self.enabled:
            return "### Model requests are closed\n\n" + self.intro_md()
        state = self.state
        try:
            with state._lock:
                shown = [e.model for e in state.entries if e.source != lb.SOURCES[0]]
            try:  # the model first: the name defaults to its id
                req = new_request(model, revision, name=name, allow_endpoints=self.allow_endpoints)
            except QueueError as exc:
                raise SubmissionRejected([str(exc)]) from None
            meta = validate_meta(req["name"], params_b, access, domain, "", existing=shown,
                                 reserved=[e.model for e in state.paper])
            req.update(name=meta.name, params_b=meta.params_b, access=meta.access, domain=meta.domain)
            state.rate.check(meta.name, client)
            try:
                stored = self.queue.add(req)
            except QueueError as exc:
                raise SubmissionRejected([str(exc)]) from None
            state.rate.record(meta.name, client)
        except SubmissionRejected as exc:
            return "### Request not queued\n\n" + "\n".join(f"- {md_escape(p, 400)}" for p in exc.problems)
        return (f"### Queued: {md_code(stored['model'])} at revision {md_code(stored['revision'])}\n\n"
                f"Request `{stored['id']}` is **PENDING**. It appears on the leaderboard as {md_code(stored['name'])} "
                "once the worker has evaluated it; the queue below shows its progress.")

    def frame(self):
        """The queue table (newest first); empty when the queue is off."""
        import pandas as pd

        if self.queue is None:
            return pd.DataFrame(columns=QUEUE_HEADERS)
        try:
            requests, problems = self.queue.read_all()
        except Exception as exc:
            log.warning("cannot read the requests queue: %s", exc)
            return pd.DataFrame(columns=QUEUE_HEADERS)
        for p in problems:
            log.warning("requests queue: %s", p)
        return pd.DataFrame(queue_rows(requests), columns=QUEUE_HEADERS)

    def sync_results(self) -> list[str]:
        """Fetch the results of FINISHED requests that a worker elsewhere committed to the Hub results
        repo and this Space's folder lacks yet (the store otherwise syncs only at start-up)."""
        store = self.state.store
        if self.queue is None or store.api is None:
            return []
        requests, _ = self.queue.read_all()
        missing = [r["submission_id"] for r in requests if r.get("status") == "FINISHED" and r.get("submission_id")
                   and not (store.root / "submissions" / str(r["submission_id"])).exists()]
        return store.sync_from_hub() if missing else []

    def summary_md(self) -> str:
        frame = self.frame()
        if frame.empty:
            return "The queue is empty." if self.queue is not None else ""
        counts = frame["Status"].value_counts()
        return "Queue: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("PENDING", "RUNNING", "FINISHED", "FAILED")) + "."


def build_submit_tab(state: Any, front: QueueFront, after: tuple[Callable, Sequence, Sequence],
                     client_id: Callable[[Any], str | None]) -> None:
    """The Submit tab (inside the app's ``gr.Blocks``): the model request form and queue, then the
    predictions upload.  `after` = (fn, inputs, outputs) run after a change (the leaderboard
    refresh); `client_id`: who is asking, from the Gradio request (the app's rate-limit key)."""
    import gradio as gr

    with gr.Tab("Submit", id="submit"):
        gr.Markdown("### Request an evaluation\n\n" + front.intro_md())
        with gr.Row():
            with gr.Column(scale=3):
                q_model = gr.Textbox("", label="Model", max_length=300, elem_id="queue-model",
                                     placeholder="my-org/SpineLM-7B" + ("  or  openai:MODEL@URL" if front.allow_endpoints else ""))
                q_revision = gr.Textbox("", label="Revision (branch, tag or commit; default main)", max_length=64,
                                        elem_id="queue-revision")
                q_name = gr.Textbox("", label="Leaderboard name (default: the model id)", max_length=80)
            with gr.Column(scale=2):
                q_params = gr.Number(label="Size (billions of parameters; 0 = unknown)", value=0, minimum=0)
                q_access = gr.Radio(list(lb.ACCESS), value="open", label="Access")
                q_domain = gr.Radio(list(lb.DOMAINS), value="general", label="Domain")
        q_button = gr.Button("Request evaluation", variant="primary", interactive=front.enabled, elem_id="queue-submit")
        q_message = gr.Markdown(elem_id="queue-message")
        with gr.Row():
            q_summary = gr.Markdown(front.summary_md(), elem_id="queue-summary")
            q_refresh = gr.Button("Refresh queue", scale=0, elem_id="queue-refresh")
        q_table = gr.Dataframe(value=front.frame(), interactive=False, wrap=True, max_height=320, label="Requests queue",
                               elem_id="queue-table",
                               column_widths=["100px", "220px", "140px", "180px", "180px", "180px", "420px"])

        def do_request(model, revision, name, size_b, access, domain, request: gr.Request):
            message = front.request(model, revision, name, size_b, access, domain, client=client_id(request))
            return message, front.frame(), front.summary_md()

        def do_queue():
            front.sync_results()  # then `after` reloads the leaderboard with the new rows
            return front.frame(), front.summary_md()

        q_button.click(do_request, [q_model, q_revision, q_name, q_params, q_access, q_domain], [q_message, q_table, q_summary],
                       api_name="request_eval", concurrency_limit=1)
        q_refresh.click(do_queue, None, [q_table, q_summary], api_name="queue").then(*after, api_visibility="private")

        gr.Markdown(
            "### Upload a run's predictions\n\n"
            "Upload the `predictions.jsonl` that `spinemed eval` writes (one line per benchmark item: `id`, `kind`, "
            "`output`, `status`) and the `predictions.meta.json` next to it, which records the model revision, the "
            "prompt version and hash and the generation settings (or type those in). The Space checks every line against "
            "the benchmark it serves and **recomputes all scores** with the `spinemed` scorer and its own judge; answers "
            "or scores claimed in the file are ignored. A rejected upload stores nothing.\n\n"
            + (state.bench.summary_md() if state.bench else state._no_bench_md())
        )
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="predictions.jsonl", file_types=[".jsonl", ".json", ".txt"], type="filepath")
                meta_upload = gr.File(label="run metadata: predictions.meta.json (recommended)", file_types=[".json"],
                                      type="filepath")
            with gr.Column():
                name = gr.Textbox("", label="Model name", placeholder="my-org/SpineLM-7B", max_length=80)
                revision = gr.Textbox("", label="Revision (commit, tag or dated snapshot; or from the metadata)", max_length=64)
                params = gr.Number(label="Size (billions of parameters; 0 = unknown)", value=0, minimum=0)
                s_access = gr.Radio(list(lb.ACCESS), value="open", label="Access")
                s_domain = gr.Radio(list(lb.DOMAINS), value="general", label="Domain")
        with gr.Accordion("Provenance without predictions.meta.json", open=False):
            prompt_version = gr.Textbox("", label="Prompt version (spinemed eval --prompt-version)", placeholder="v1")
            prompt_hash = gr.Textbox("", label="Prompt hash (results.json: prompt.hash)", max_length=64)
            generation = gr.Textbox("", label="Generation settings", placeholder="temperature=0, max_new_tokens=1024")
        submit = gr.Button("Submit", variant="primary", interactive=state.bench is not None)
        outcome = gr.Markdown()

        def do_submit(file, model_name, size_b, access, domain, model_revision, meta_file, p_version, p_hash, gen,
                      request: gr.Request):
            return state.submit(file, model_name, size_b, access, domain, model_revision, meta_file, p_version, p_hash, gen,
                                client=client_id(request))

        submit.click(do_submit, [upload, name, params, s_access, s_domain, revision, meta_upload, prompt_version, prompt_hash,
                                 generation], outcome, api_name="submit", concurrency_limit=1).then(*after, api_visibility="private")
