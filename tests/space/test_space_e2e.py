"""End to end: the Space launched on 127.0.0.1 and driven with gradio_client, as a user's script would.

The chat model is an OpenAI-compatible server on loopback that streams server-sent events and
says whether the request carried an image, so the test sees the upload travel from the client
through Gradio and the backend to the endpoint, and the answer stream back in pieces.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_fixtures import prediction_lines, run_meta, sample_dirs, write_jsonl  # noqa: E402

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from spinemed.space.app import create_app  # noqa: E402
from spinemed.space.bench import SpaceBench  # noqa: E402
from spinemed.space.config import SpaceConfig  # noqa: E402
from spinemed.space.leaderboard import edition_of  # noqa: E402


class _StreamingChat(BaseHTTPRequestHandler):
    """POST /v1/chat/completions -> SSE pieces: 'images=<n>', ' lang=<zh|en>', ' echo=<last user text>'."""

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        parts = user if isinstance(user, list) else [{"type": "text", "text": user}]
        n_images = sum(p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/") for p in parts)
        text = " ".join(p.get("text", "") for p in parts if p.get("type") == "text")
        lang = "zh" if "中文" in body["messages"][0]["content"] else "en"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in (f"images={n_images}", f" lang={lang}", f" echo={text}"):
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StreamingChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _launch(config: SpaceConfig):
    demo, kwargs = create_app(config)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **kwargs)
    return demo, url


def test_space_end_to_end_with_gradio_client(tmp_path, chat_server):
    bench_dir = sample_dirs()[1]
    config = SpaceConfig(bench=str(bench_dir), allow_unregistered=True, results_dir=tmp_path / "results",
                         cache_dir=tmp_path / "cache", model=f"openai:sim@{chat_server}", bootstrap=200)
    bench = SpaceBench.load(bench_dir, allow_unregistered=True)
    image_item = next(i for i in bench.items if i["kind"] == "image_mcq")
    edition = edition_of(bench.bench.describe())
    image = tmp_path / "mri.png"
    bench.images(image_item["id"])[0].save(image)

    demo, url = _launch(config)
    try:
        assert url.startswith("http://127.0.0.1:")
        client = Client(url, verbose=False)
        assert {"/leaderboard", "/chart", "/submit", "/explore", "/show_item", "/chat"} <= set(
            client.view_api(return_format="dict", print_info=False)["named_endpoints"])

        # Chat with an image: it reaches the endpoint, and the answer streams back in pieces.
        job = client.submit({"text": "Which level is affected?", "files": [handle_file(str(image))]}, api_name="/chat")
        final = job.result(timeout=60)
        assert final == "images=1 lang=en echo=Which level is affected?"
        assert [o for o in job.outputs() if o] [-1] == final and len([o for o in job.outputs() if o]) >= 2
        zh = client.predict({"text": "腰椎哪个节段？", "files": []}, api_name="/chat")
        assert zh == "images=0 lang=zh echo=腰椎哪个节段？"

        # An invalid predictions file: a clear message, nothing stored.
        rows = prediction_lines(bench)
        bad = write_jsonl(tmp_path / "bad.jsonl", rows[1:] + [{**rows[1], "output": 42}])
        message = client.predict(handle_file(str(bad)), "org/bad-model", 7, "open", "general", "", None, api_name="/submit")
        assert "Submission rejected: nothing was stored" in message
        assert "appears again" in message and "have no prediction" in message and "must be a string" in message
        assert not any((tmp_path / "results" / "submissions").iterdir())

        # A valid one: rescored, stored, on the leaderboard.
        good = write_jsonl(tmp_path / "good.jsonl", rows)
        meta = handle_file(str(run_meta(tmp_path / "predictions.meta.json", bench)))
        message = client.predict(handle_file(str(good)), "org/SpineLM-7B", 7, "open", "medical", "", meta, api_name="/submit")
        assert message.startswith("### Accepted") and "| 100.00 | 100.00 | 100.00 |" in message
        # Another model from the same client at once: the per-client rate limit, keyed by the request's address.
        other = write_jsonl(tmp_path / "other.jsonl", prediction_lines(bench, {rows[0]["id"]: "Answer: Z"}))
        message = client.predict(handle_file(str(other)), "org/Other-7B", 7, "open", "general", "", meta, api_name="/submit")
        assert "rate limit: this client already has 1 accepted submission" in message
        # The fixture bench is its own edition: the row is in that table, not in the paper's.
        assert client.predict("spinelm", api_name="/leaderboard")["data"] in ([], [[]])
        table = client.predict("spinelm", edition, api_name="/leaderboard")
        headers = table["headers"]
        (row,) = table["data"]
        assert row[headers.index("Model")] == "[org/SpineLM-7B](https://huggingface.co/org/SpineLM-7B)"
        assert row[headers.index("Type")] == "submission (rescored)" and row[headers.index("Rank")] == "—"
        assert row[headers.index("Closed QA")] == 100.0

        # The explorer: filter, then open an image item.
        frame, _, summary = client.predict([], ["zh"], ["image"], [], "", api_name="/explore")
        assert frame["data"] and all(r[2] == "中文" for r in frame["data"]) and "items match" in summary
        markdown, gallery = client.predict(image_item["id"], api_name="/show_item")
        assert image_item["answer"] in markdown and len(gallery) == image_item["n_images"]
    finally:
        demo.close()

    # A restart over the same results folder still shows the accepted submission.
    demo, url = _launch(config)
    try:
        table = Client(url, verbose=False).predict("spinelm", edition, api_name="/leaderboard")
        assert [r[table["headers"].index("Model")] for r in table["data"]] == [
            "[org/SpineLM-7B](https://huggingface.co/org/SpineLM-7B)"]
    finally:
        demo.close()
