"""spinemed.progress: log lines with done/total, rate and ETA off a terminal, a bar on one, nothing when quiet;
and the commands' --quiet."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from spinemed.progress import Progress, is_quiet, quiet

sys.path.insert(0, str(Path(__file__).parent / "eval"))


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _bar(total, **kw):
    stream, clock = io.StringIO(), Clock()
    return Progress(total, "eval", stream=stream, tty=False, clock=clock, enabled=True, **kw), stream, clock


def test_plain_lines_give_done_total_rate_and_eta_every_tenth_and_at_the_end():
    bar, stream, clock = _bar(100, unit="item")
    for n in range(100):
        clock.t += 0.5  # 2 items/s
        bar.update(failed=int(n % 25 == 0))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # 10%, 20%, ... 90% and the final line (100% is left to it)
    assert lines[0] == "eval: 10/100 items (10%), 2.0 items/s, ETA 0:00:45, 1 failed"
    assert lines[4] == "eval: 50/100 items (50%), 2.0 items/s, ETA 0:00:25, 2 failed"
    assert lines[-1] == "eval: 100/100 items (100%), 2.0 items/s, done in 0:00:50, 4 failed"
    assert (bar.done, bar.failed) == (100, 4)
    bar.close()  # closing twice prints nothing more
    assert len(stream.getvalue().splitlines()) == 10


def test_plain_lines_also_come_every_few_seconds():
    bar, stream, clock = _bar(1000, every_s=10.0)
    for _ in range(50):
        clock.t += 1.0  # 1 item/s: 5% after 50 s, no tenth crossed
        bar.update()
    assert [re.sub(r", ETA.*", "", line) for line in stream.getvalue().splitlines()] == [
        f"eval: {n}/1000 items ({n // 10}%), 1.0 items/s" for n in (10, 20, 30, 40, 50)]
    assert stream.getvalue().splitlines()[-1].endswith("ETA 0:15:50")


def test_a_growing_total_says_so_and_gives_no_eta():
    bar, stream, clock = _bar(None, unit="request", every_s=1.0)
    bar.add_total(4)
    for _ in range(3):
        clock.t += 1.0
        bar.update()
    bar.add_total(4)
    clock.t += 1.0
    bar.update(failed=1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "eval: 1/4 requests (25% of those planned so far), 1.0 requests/s"
    assert lines[-1] == "eval: 4/8 requests (50%), 1.0 requests/s, done in 0:00:04, 1 failed"


def test_unknown_total_counts_and_rates():
    bar, stream, clock = _bar(None, unit="row")
    clock.t = 4.0
    bar.update(8)
    bar.close()
    assert stream.getvalue() == "eval: 8 rows, 2.0 rows/s, done in 0:00:04\n"


def test_quiet_prints_nothing_but_still_counts():
    stream = io.StringIO()
    with quiet():
        assert is_quiet()
        bar = Progress(10, "judge", stream=stream, tty=False)
        for _ in range(10):
            bar.update(failed=1)
        bar.close()
    assert not is_quiet() and stream.getvalue() == "" and (bar.done, bar.failed) == (10, 10)


def test_a_terminal_gets_a_tqdm_bar_with_rate_and_eta():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    with Progress(4, "build generate", unit="item", stream=stream, enabled=True) as bar:
        for _ in range(4):
            bar.update(failed=1)
    text = stream.getvalue()
    assert "build generate" in text and "4/4" in text and "item/s" in text and "4 failed" in text


@pytest.mark.parametrize("flag", [[], ["--quiet"]])
def test_eval_cli_progress_on_stderr_and_quiet(tmp_path, capsys, flag):
    from test_eval_support import sample_bench, sample_corpus

    from spinemed.cli import main

    code = main(["eval", "--bench", str(sample_bench()), "--model", "baseline:retrieval", "--corpus", str(sample_corpus()),
                 "--out", str(tmp_path / "run"), "--allow-unregistered", "--no-plots", "--bootstrap", "0", *flag])
    captured = capsys.readouterr()
    assert code == 0 and "per-item table" in captured.out
    progress_lines = [line for line in captured.err.splitlines() if line.startswith("eval: ")]
    if flag:
        assert progress_lines == [] and not is_quiet()  # quiet ends with the command
    else:
        assert progress_lines[-1].startswith("eval: 15/15 items (100%)") and "done in" in progress_lines[-1]


@pytest.mark.parametrize("flag", [[], ["--quiet"]])
def test_build_cli_progress_counts_match_the_summary_and_quiet(tmp_path, capsys, flag):
    import json

    from spinemed.cli import main

    assert main(["build", "--out", str(tmp_path / "corpus"), "--limit", "12", "--json", *flag]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    lines = [line for line in captured.err.splitlines() if line.startswith("build ")]
    if flag:
        assert lines == []
        return
    finals = {line.split(":")[0]: line for line in lines if "done in" in line}
    assert set(finals) >= {"build sources", "build generate", "build classify", "build pcm"}
    assert finals["build sources"].startswith("build sources: 12 records,")
    acc = summary["accounting"]
    done, total = map(int, re.match(r"build generate: (\d+)/(\d+) items", finals["build generate"]).groups())
    assert done == total == acc["items_planned"]
    assert acc["items_quarantined"] and finals["build generate"].endswith(f", {acc['items_quarantined']} quarantined")
    assert acc["source_defects"] and finals["build sources"].endswith(f", {acc['source_defects']} source defect(s)")


def test_a_step_done_within_seconds_prints_only_its_final_line():
    bar, stream, clock = _bar(300, unit="row")
    with bar:
        for _ in range(300):
            clock.t += 0.001  # 0.3 s in all: no tenth lines, just the summary
            bar.update()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "300/300 rows" in lines[0], lines
