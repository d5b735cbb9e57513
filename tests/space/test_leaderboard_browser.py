"""The leaderboard as a person reads it, in Debian's chromium (playwright, no browser download), at a desktop
window (1280x900) and a phone (390x844).

At both widths: the first ranked row is on the first screen; Rank, Model and Total stay in view after the table
is scrolled to its right edge; rows scored on another benchmark edition are not in the ranked table (they are in
their own, behind the Benchmark selector); Chinese text renders with real glyphs; chat lines wrap and no label
sits over the first message; the chart gives way to a compact table on the phone.  Screenshots of every tab at
both widths go to docs/space_screenshots/ (SPINEMED_SPACE_SCREENSHOTS=DIR writes them elsewhere).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_space_browser import CHROMIUM, CHROMIUM_ARGS, HOSTILE, _seed_results, _wait_for_page_load_refresh  # noqa: E402
from test_space_fixtures import sample_dirs  # noqa: E402

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (apt-get install chromium)")

SHOTS = Path(os.environ.get("SPINEMED_SPACE_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "docs" / "space_screenshots")
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
TABS = ("Leaderboard", "Submit", "Explorer", "Chat", "About")

# Geometry of the table after scrolling it to its right edge: where the pinned cells of the first row are, and
# whether they are what the browser shows at their centre (not covered by the scrolled cells).
_PINNED_JS = """() => {
  const root = document.querySelector('#leaderboard-table');
  const view = root.querySelector('.virtual-table-viewport');
  root.querySelector('.virtual-row').scrollIntoView({block: 'center'});  // elementFromPoint sees the screen only
  view.scrollLeft = view.scrollWidth;
  return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
    const frame = view.getBoundingClientRect();
    const row = root.querySelector('.virtual-row');
    const cells = [...row.querySelectorAll('[role=gridcell]')].slice(0, 3).map(c => {
      const r = c.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 12));
      return {text: c.innerText.trim(), left: r.left, right: r.right, shown: c.contains(hit)};
    });
    done({scrollLeft: view.scrollLeft, overflow: view.scrollWidth - view.clientWidth,
          viewLeft: frame.left, viewRight: frame.right, cells});
  })));
}"""

# Chinese text drawn with the notice's own font: two different characters must give different pixels (a missing
# glyph draws the same empty box for both) and a width.
_CJK_JS = """() => {
  const notice = document.querySelector('.spinemed-notice p') || document.querySelector('.spinemed-notice');
  const font = getComputedStyle(notice).font;
  const draw = ch => {
    const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.font = font.replace(/\\d+(\\.\\d+)?px/, '40px'); g.fillText(ch, 4, 48);
    return [g.measureText(ch).width, Array.from(g.getImageData(0, 0, 64, 64).data).join(',')];
  };
  const [w1, p1] = draw('仅'), [w2, p2] = draw('脊');
  const ink = p1.split(',').some(v => v !== '0');
  return {text: notice.innerText, width: w1, differ: p1 !== p2, ink};
}"""


def _open_tab(page, name: str) -> None:
    """Click a tab; on a phone the last tabs sit behind Gradio's "More tabs" menu."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.locator(".overflow-dropdown button", has_text=name).first.click()


def _first_screen_ok(page, height: int) -> None:
    """The first ranked row (rank 1) is fully on the first screen, with the page not scrolled."""
    box = page.evaluate("""() => {
      const row = document.querySelector('#leaderboard-table .virtual-row');
      const r = row.getBoundingClientRect();
      return {top: r.top, bottom: r.bottom, text: row.innerText, scrollY: window.scrollY};
    }""")
    assert box["scrollY"] == 0 and box["text"].split()[0] == "1" and "Gemini-2.5-Pro" in box["text"], box
    assert 0 < box["top"] and box["bottom"] <= height, box


def _wait_for_rows(page, present: str, absent: str) -> None:
    """Until the drawn rows show `present` and none shows `absent` (the table after a change of edition)."""
    page.wait_for_function("""([present, absent]) => {
      const rows = [...document.querySelectorAll('#leaderboard-table .virtual-row')].map(r => r.innerText);
      return rows.some(t => t.includes(present)) && !rows.some(t => t.includes(absent));
    }""", arg=[present, absent], timeout=30_000)


def _choose_edition(page, label_part: str) -> None:
    page.locator("#leaderboard-edition input").click()
    page.get_by_role("option").filter(has_text=label_part).first.click()


def test_leaderboard_reads_well_at_desktop_and_phone_widths(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from spinemed.space.app import create_app
    from spinemed.space.config import SpaceConfig

    config = SpaceConfig(bench=str(sample_dirs()[1]), allow_unregistered=True, results_dir=_seed_results(tmp_path),
                         cache_dir=tmp_path / "cache")
    demo, kwargs = create_app(config)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **kwargs)
    shots: list[Path] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for where, (width, height) in VIEWPORTS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url, wait_until="domcontentloaded")
                table = page.locator("#leaderboard-table")
                table.locator(".virtual-row").first.wait_for(timeout=30_000)
                _wait_for_page_load_refresh(page, playwright)

                _first_screen_ok(page, height)
                text = table.inner_text()
                # The paper's edition: its rows, ranked; rows on the fixture bench (another edition) are not here.
                assert "Gemini-2.5-Pro" in text and "closed QA only, as published" in text
                assert "org/SpineLM-7B" not in text and "onerror" not in text
                # Headers break between words only.
                heads = page.evaluate("() => [...document.querySelectorAll('#leaderboard-table th')].map(th => th.innerText)")
                assert "Consistency check" in [" ".join(h.split()) for h in heads], heads

                if where == "desktop":
                    # Widen the table past the window: the provenance and dimension columns.
                    page.get_by_text("Search, sort, filters and columns").click()
                    for group in ("Report dimensions", "Provenance"):
                        page.get_by_label(group, exact=True).check()
                    table.get_by_text("Prompt hash").first.wait_for(timeout=30_000)
                pinned = page.evaluate(_PINNED_JS)
                assert pinned["overflow"] > 200 and pinned["scrollLeft"] >= pinned["overflow"] - 1, pinned
                for cell in pinned["cells"]:
                    assert pinned["viewLeft"] - 1 <= cell["left"] and cell["right"] <= pinned["viewRight"] + 1, pinned
                    assert cell["shown"], pinned["cells"]
                assert [c["text"] for c in pinned["cells"]][:2] == ["1", "Gemini-2.5-Pro"], pinned
                page.screenshot(path=str(_shot(shots, f"leaderboard-scrolled-{where}")))
                page.evaluate("() => { document.querySelector('#leaderboard-table .virtual-table-viewport').scrollLeft = 0; }")

                # The chart on a desktop; its numbers as a compact table on a phone.
                plot_shown = page.locator(".spinemed-wide-only").first.is_visible()
                compact_shown = page.locator("#leaderboard-compare").is_visible()
                assert (plot_shown, compact_shown) == ((True, False) if where == "desktop" else (False, True))
                page.screenshot(path=str(_shot(shots, f"leaderboard-{where}")), full_page=True)

                # Chinese renders with glyphs (fonts-noto-cjk), not boxes.
                cjk = page.evaluate(_CJK_JS)
                assert "仅供科研演示" in cjk["text"] and cjk["width"] > 0 and cjk["differ"] and cjk["ink"], cjk

                # The fixture bench's rows are in their own table, behind the selector, never among the paper's.
                _choose_edition(page, "unregistered build")
                rows = table.locator(".virtual-row")  # the drawn rows (a hidden sizing row repeats the first one)
                _wait_for_rows(page, "org/SpineLM-7B", "Gemini-2.5-Pro")
                hostile_row = rows.filter(has_text="onerror").first.evaluate("e => e.textContent")
                assert HOSTILE in hostile_row, hostile_row  # literal text: no markup, no autolink
                assert table.locator("a[href*='example.invalid']").count() == 0
                assert table.locator("a[href='https://huggingface.co/org/SpineLM-7B']").count() >= 1  # Hub ids link
                assert table.locator("img[src='x']").count() == 0 and page.evaluate("window.__pwned") is None
                # A row's details: where its numbers come from.
                rows.filter(has_text="org/SpineLM-7B").first.locator("[role=gridcell]").nth(2).click()
                page.locator("#leaderboard-details").get_by_text("Prompt version").wait_for(timeout=30_000)
                details = page.locator("#leaderboard-details").inner_text()
                assert "not recorded" in details and "report not judged" in details, details
                _choose_edition(page, "paper release")
                _wait_for_rows(page, "Gemini-2.5-Pro", "org/SpineLM-7B")

                for tab in TABS[1:]:
                    _open_tab(page, tab)
                    page.wait_for_timeout(400)
                    if tab == "Chat":
                        _check_chat(page, width)
                    page.screenshot(path=str(_shot(shots, f"{tab.lower()}-{where}")), full_page=True)
                page.close()
            browser.close()
    finally:
        demo.close()
    for shot in shots:
        assert shot.stat().st_size > 5_000, shot


def _check_chat(page, width: int) -> None:
    """A long line wraps inside its bubble, and nothing (no label) sits over the first message."""
    long_line = "L4-L5 " + "spondylolisthesis" * 8 + " 腰椎间盘突出症伴神经根受压" * 6
    box = page.locator("#spinemed-chat").locator("..").locator("..").locator("textarea").first
    if not box.count():
        box = page.locator("textarea").last
    box.fill(long_line)
    box.press("Enter")
    first = page.locator("#spinemed-chat .message").first
    first.wait_for(timeout=30_000)
    page.locator("#spinemed-chat .message").nth(1).wait_for(timeout=30_000)
    geometry = page.evaluate("""() => {
      const chat = document.querySelector('#spinemed-chat');
      [...chat.querySelectorAll('*')].forEach(e => { if (e.scrollHeight > e.clientHeight) e.scrollTop = 0; });
      const msgs = [...chat.querySelectorAll('.message')];
      const m = msgs[0].getBoundingClientRect();
      // Labels and the floating buttons outside the messages must not sit over the first message.
      const labels = [...chat.querySelectorAll('label, [data-testid=block-label], button')]
        .filter(l => !l.closest('.message') && !l.closest('.message-buttons-left, .message-buttons-right, .message-buttons'))
        .map(l => l.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
      const overlaps = labels.filter(r => r.left < m.right && m.left < r.right && r.top < m.bottom && m.top < r.bottom);
      return {right: Math.max(...msgs.map(x => x.getBoundingClientRect().right)),
              wider: msgs.filter(x => x.scrollWidth > x.clientWidth + 1).length, overlaps: overlaps.length,
              page: document.documentElement.scrollWidth};
    }""")
    assert geometry["wider"] == 0 and geometry["right"] <= width and geometry["page"] <= width, geometry
    assert geometry["overlaps"] == 0, geometry
    page.wait_for_timeout(1_500)  # the answer's progress timer fades out before the screenshot


def _shot(shots: list[Path], name: str) -> Path:
    shots.append(SHOTS / f"{name}.png")
    return shots[-1]
