"""A queued model request in a real browser (Debian chromium + playwright): a visitor requests an
evaluation on the Submit tab, the request shows PENDING, the worker runs once (here, in the test),
the queue then shows FINISHED and the model's row appears on the leaderboard.

The model is a simulated OpenAI-compatible endpoint (tests/tools/simserver.py), which this Space
is configured to accept (SPINEMED_QUEUE_ENDPOINTS); the worker judges its reports with the same
server.  Set SPINEMED_SPACE_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_browser import CHROMIUM, CHROMIUM_ARGS, _wait_for_page_load_refresh  # noqa: E402
from test_space_fixtures import keep_screenshots, sample_dirs  # noqa: E402
from tools.simserver import SimServer  # noqa: E402

from spinemed.scoring import DIMENSIONS  # noqa: E402

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)")

NAME = "org/Queued-7B"


def _responder(body):
    if body["messages"][0]["role"] == "system":  # the report judge
        return json.dumps({d: {"score": 4, "reason": "ok"} for d in DIMENSIONS})
    return "Answer: A\n\nDisc herniation at L4-L5."


def test_a_queued_model_request_goes_pending_to_finished_and_its_row_appears(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from spinemed.space.app import create_app
    from spinemed.space.config import SpaceConfig
    from spinemed.space.queue import FINISHED, RequestsFolder, WorkerConfig, run_worker
    from spinemed.space.store import ResultsStore

    config = SpaceConfig(bench=str(sample_dirs()[1]), allow_unregistered=True, results_dir=tmp_path / "results",
                         requests_dir=tmp_path / "requests", queue_endpoints=True, cache_dir=tmp_path / "cache")
    demo, kwargs = create_app(config)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **kwargs)
    shots = []
    try:
        with SimServer(latency_s=0.0, responder=_responder) as sim, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="domcontentloaded")
            page.locator("#leaderboard-table").get_by_text("Gemini-2.5-Pro", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
            _wait_for_page_load_refresh(page, playwright)
            assert NAME not in page.locator("#leaderboard-table").inner_text()

            page.get_by_role("tab", name="Submit").click()
            page.locator("#queue-model").locator("input, textarea").first.fill(f"openai:sim@{sim.base_url}")
            page.get_by_label("Leaderboard name (default: the model id)").fill(NAME)
            page.locator("#queue-submit").click()
            page.locator("#queue-message h3", has_text="Queued").wait_for(timeout=30_000)
            queue_table = page.locator("#queue-table")
            queue_table.get_by_text("PENDING", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
            assert sim.base_url not in page.locator("#queue-table").inner_text()  # the endpoint's address stays private
            shots.append(tmp_path / "queue-pending.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            # The worker (normally `spinemed space worker` elsewhere), once.
            worker = WorkerConfig(bench=str(sample_dirs()[1]), work_dir=tmp_path / "runs", allow_unregistered=True,
                                  judge=f"openai:sim@{sim.base_url}", eval_options={"bootstrap": 0, "max_new_tokens": 16})
            [done] = run_worker(RequestsFolder(tmp_path / "requests"), ResultsStore(tmp_path / "results"), worker, once=True)
            assert done["status"] == FINISHED, done["reason"]

            page.locator("#queue-refresh").click()
            queue_table.get_by_text("FINISHED", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
            assert queue_table.get_by_text("PENDING", exact=True).filter(visible=True).count() == 0
            shots.append(tmp_path / "queue-finished.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            page.get_by_role("tab", name="Leaderboard").click()
            table = page.locator("#leaderboard-table")
            table.get_by_text(NAME, exact=True).filter(visible=True).first.wait_for(timeout=30_000)
            shots.append(tmp_path / "leaderboard-with-queued-row.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            browser.close()
    finally:
        demo.close()
    keep_screenshots(shots)
