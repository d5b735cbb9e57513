"""Progress of the long steps (source reading, LLM stages, eval, judge, decontamination, overlap).

One helper, :func:`progress`, for every long loop of the kit, so each caller adds a few lines:

* on a terminal: a tqdm bar with the rate and the ETA (and failures in its postfix);
* elsewhere (a log file, CI, a pipe): plain lines on stderr, at most one every ``every_s``
  seconds or at each tenth of the total, and always one at the end, e.g.
  ``eval: 40/120 items (33%), 2.5 items/s, ETA 0:00:32, 1 failed``;
* nothing at all when quiet (``--quiet`` of the commands: :func:`set_quiet`).

Output goes to stderr so it never mixes with a command's result on stdout (``--json``).  A total
that is not known up front (the build's LLM stages plan their requests window by window) grows
with :meth:`Progress.add_total`; the lines then say "so far".
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["Progress", "add_quiet_argument", "is_quiet", "progress", "quiet", "set_quiet"]

_QUIET = False


def set_quiet(value: bool) -> None:
    """Silence (True) or allow (False) every progress display of this process (``--quiet``)."""
    global _QUIET
    _QUIET = bool(value)


def is_quiet() -> bool:
    return _QUIET


@contextlib.contextmanager
def quiet(value: bool = True) -> Iterator[None]:
    """:func:`set_quiet` for a block, restored afterwards (tests, library callers)."""
    old = _QUIET
    set_quiet(value)
    try:
        yield
    finally:
        set_quiet(old)


def add_quiet_argument(parser) -> None:
    """The ``--quiet`` flag of a command with long steps (``spinemed.cli.main`` applies it)."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress output (by default a bar with rate and ETA on a terminal, else a log line "
                             "on stderr every 10 s or 10%%)")


def _clock_text(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts done (and failed) units of one step and shows them; see the module docstring.

    Use as a context manager (or call :meth:`close`): the final line / the bar's last state is
    shown on exit.  `stream` defaults to ``sys.stderr`` at creation; `tty` defaults to
    ``stream.isatty()``; `clock` is injectable for tests.
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "item", stream: IO[str] | None = None,
                 tty: bool | None = None, every_s: float = 10.0, every_frac: float = 0.10, settle_s: float = 2.0,
                 enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, failed_label: str = "failed"):
        self.total, self.desc, self.unit, self.failed_label = total, desc, unit, failed_label
        self.done = self.failed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (not _QUIET) if enabled is None else enabled
        self.every_s, self.every_frac, self.clock = every_s, every_frac, clock
        self.settle_s = settle_s  # no tenth lines before this: a step done in a second prints only its final line
        self.start = self._last_time = clock()
        self._last_step = 0  # the last tenth (every_frac) a line was printed for
        self._closed = False
        self._growing = False  # add_total was used: the total is what is planned so far
        self._bar: Any = None
        if self.enabled and (tty if tty is not None else _isatty(self.stream)):
            from tqdm.auto import tqdm  # a dependency of datasets

            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=self.stream, dynamic_ncols=True, leave=True)

    # -- counting ------------------------------------------------------------------------

    def add_total(self, n: int) -> None:
        """Grow the total by `n` (work planned as the step goes)."""
        self.total = (self.total or 0) + n
        self._growing = True
        if self.total:  # tenths count against the new total
            self._last_step = int(self.done / self.total / self.every_frac)
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, n: int = 1, *, failed: int = 0) -> None:
        """`n` more units done, `failed` of them failures (failures count as done)."""
        self.done += n
        self.failed += failed
        if not self.enabled:
            return
        if self._bar is not None:
            if failed:
                self._bar.set_postfix_str(f"{self.failed} {self.failed_label}", refresh=False)
            self._bar.update(n)
            return
        if self.total and self.done >= self.total and not self._growing:
            return  # the end: close() prints the final line
        now = self.clock()
        step = int(self.done / self.total / self.every_frac) if self.total else 0
        if now - self._last_time >= self.every_s or (step > self._last_step and now - self.start >= self.settle_s):
            self._line(now)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        elif self.done or self.total:
            self._line(self.clock(), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the plain lines -----------------------------------------------------------------

    def line(self, now: float | None = None, *, final: bool = False) -> str:
        """The text of one log line at `now` (what non-TTY output prints)."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        units = f"{self.unit}s"
        if self.total:
            so_far = " of those planned so far" if self._growing and not final else ""
            head = f"{self.desc}: {self.done}/{self.total} {units} ({100 * self.done / self.total:.0f}%{so_far})"
        else:
            head = f"{self.desc}: {self.done} {units}"
        parts = [head, f"{rate:.1f} {units}/s"]
        if final:
            parts.append(f"done in {_clock_text(elapsed)}")
        elif self.total and self.done and self.total > self.done and not self._growing:
            parts.append(f"ETA {_clock_text((self.total - self.done) / rate)}")
        if self.failed:
            parts.append(f"{self.failed} {self.failed_label}")
        return ", ".join(parts)

    def _line(self, now: float, final: bool = False) -> None:
        self._last_time = now
        if self.total:
            self._last_step = int(self.done / self.total / self.every_frac)
        print(self.line(now, final=final), file=self.stream, flush=True)


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or file-like object without isatty
        return False


def progress(total: int | None, desc: str, **kwargs: Any) -> Progress:
    """A :class:`Progress` for `total` units of step `desc` (see :class:`Progress` for the options)."""
    return Progress(total, desc, **kwargs)
