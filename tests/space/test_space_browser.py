"""What a person sees: the Space in Debian's chromium, driven by playwright (no browser download).

Loads the page at 1280 px wide, checks that the leaderboard renders (paper rows, the consistency
flags, rows of another benchmark edition kept out of the paper's table, the summary columns in view
without scrolling), that the explorer shows an item's image, and saves screenshots.  Set
SPINEMED_SPACE_SCREENSHOTS=DIR to keep them.  The layout at desktop and phone widths, the pinned
columns and the hostile model name are checked in test_leaderboard_browser.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_fixtures import keep_screenshots, prediction_lines, run_meta, sample_dirs, write_jsonl  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = "<img src=x onerror=window.__pwned=1> **bold** [link](http://example.invalid)"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)")


def _seed_results(tmp_path: Path) -> Path:
    """A results folder holding one accepted submission and one operator results file with a hostile name."""
    from spinemed.space.app import SpaceState
    from spinemed.space.bench import SpaceBench
    from spinemed.space.config import SpaceConfig
    from spinemed.space.store import ResultsStore

    results = tmp_path / "results"
    bench = SpaceBench.load(sample_dirs()[1], allow_unregistered=True)
    state = SpaceState(SpaceConfig(results_dir=results, cache_dir=tmp_path / "cache", bootstrap=200), bench=bench,
                       store=ResultsStore(results))
    rows = prediction_lines(bench)
    assert "Accepted" in state.submit(str(write_jsonl(tmp_path / "p.jsonl", rows)), "org/SpineLM-7B", 7, "open", "medical", meta_file=run_meta(tmp_path / "run.meta.json", None))
    # An operator's results file (not a submission) whose model name tries to inject markup.
    first = next((results / "submissions").glob("*/results.json"))
    payload = json.loads(first.read_text())
    payload.pop("submission")
    payload["model"].update(name=HOSTILE, id="hostile", backend="openai")
    (results / "hostile.json").write_text(json.dumps(payload), encoding="utf-8")
    return results


_BUSY = ".eta-bar, .pending, .translucent"  # Gradio's progress markers on components waiting for an event


def _wait_for_page_load_refresh(page, playwright) -> None:
    """The app reloads the results on page load (demo.load): let that event start and finish, so the
    checks and the screenshot see the settled table, not its loading overlay."""
    try:
        page.locator(_BUSY).first.wait_for(state="attached", timeout=5_000)
    except playwright.TimeoutError:
        pass  # already over
    page.wait_for_function(f"() => !document.querySelector({_BUSY!r})", timeout=30_000)


def test_leaderboard_renders_in_a_real_browser(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from spinemed.space.app import create_app
    from spinemed.space.bench import SpaceBench
    from spinemed.space.config import SpaceConfig

    image_item = next(i for i in SpaceBench.load(sample_dirs()[1], allow_unregistered=True).items if i["kind"] == "image_mcq")
    config = SpaceConfig(bench=str(sample_dirs()[1]), allow_unregistered=True, results_dir=_seed_results(tmp_path),
                         cache_dir=tmp_path / "cache")
    demo, kwargs = create_app(config)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **kwargs)
    shots = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="domcontentloaded")
            table = page.locator("#leaderboard-table")
            table.locator(".virtual-row").filter(has_text="Gemini-2.5-Pro").first.wait_for(timeout=30_000)
            _wait_for_page_load_refresh(page, playwright)
            text = table.inner_text()
            for expected in ("SpineGPT", "Medgemma-27B", "Qwen2.5-VL-7B", "paper (reported)",
                             "published total 87.44 ≠ 87.79 recomputed", "Total", "Rank", "closed QA only, as published"):
                assert expected in text, expected
            # The submission and the hostile results file are on the fixture bench: not in the paper's table
            # (tests/space/test_leaderboard_browser.py opens their own table and checks the payload stays text).
            assert "org/SpineLM-7B" not in text and "onerror" not in text
            assert page.evaluate("window.__pwned") is None and dialogs == []
            assert page.get_by_text("Research demo, not a medical device").first.is_visible()
            # Readable at a 1280 px wide window: the summary columns are in view without scrolling sideways,
            # and the whole table shows without an inner vertical scroll bar.
            geometry = page.evaluate("""() => {
                const root = document.querySelector('#leaderboard-table');
                const view = root.querySelector('.virtual-table-viewport') || root;
                const head = [...root.querySelectorAll('th')].find(th => th.innerText.includes('Consistency check'));
                const box = head.getBoundingClientRect(), frame = view.getBoundingClientRect();
                const rows = [...view.querySelectorAll('.virtual-body [role=row]')].map(row => row.innerText);
                return {left: box.left, right: box.right, viewLeft: frame.left, viewRight: frame.right,
                        scrollLeft: view.scrollLeft, scrollHeight: view.scrollHeight, clientHeight: view.clientHeight,
                        rows: rows.length, firstRows: rows.slice(0, 2)};
            }""")
            assert geometry["scrollLeft"] == 0 and geometry["viewLeft"] <= geometry["left"]
            assert geometry["right"] <= geometry["viewRight"], geometry
            assert geometry["scrollHeight"] <= geometry["clientHeight"], geometry
            assert geometry["rows"] == 10
            assert "Gemini-2.5-Pro" in geometry["firstRows"][0], geometry["firstRows"]
            shots.append(tmp_path / "leaderboard.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            # The explorer: search for an image item; its text and image show up.
            page.get_by_role("tab", name="Explorer").click()
            explorer = page.locator("#explorer-table")

            def visible_cells(text):
                return explorer.get_by_text(text, exact=True).filter(visible=True)

            visible_cells("Text MCQ").first.wait_for(timeout=30_000)
            page.get_by_label("Text contains").fill(image_item["id"])
            visible_cells("Image MCQ").first.wait_for(timeout=30_000)
            page.locator("#explorer-images img").first.wait_for(timeout=30_000)
            assert visible_cells("Text MCQ").count() == 0 and visible_cells(image_item["id"]).count() == 1
            assert image_item["question"] in page.locator("#explorer-item").inner_text()
            shots.append(tmp_path / "explorer.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
            browser.close()
    finally:
        demo.close()
    keep_screenshots(shots)
