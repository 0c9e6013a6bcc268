"""What a person waiting at a terminal sees: progress bars drawn by tqdm on stderr.

The library's long operations take a ``progress(done, total)`` callback and
draw nothing themselves; the command line passes the callbacks made here.
A bar appears only when stderr is an interactive terminal and the wait has
lasted :data:`DELAY_S` seconds (a bar that flashes by is noise), and it is
erased when the wait ends. Piped or redirected output gets nothing extra.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Callable, Iterator, TextIO

__all__ = ["DELAY_S", "DELAY_ENV", "bar", "activity", "interactive"]

#: Seconds before anything is drawn.
DELAY_S = 1.5
#: Overrides DELAY_S (seconds); the tests set it to 0 to see a bar on a quick run.
DELAY_ENV = "PIVOTMC_PROGRESS_DELAY"
#: How often an open bar is redrawn while nothing reports progress (its clock keeps moving).
_TICK_S = 0.25

Callback = Callable[[int, int], None]


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, DELAY_S)))
    except ValueError:
        return DELAY_S


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr) is a terminal a person watches."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed, or replaced by an object without isatty
        return False


def _size(stream: TextIO) -> tuple[int, int]:
    """Columns and rows of the terminal; 80 x 24 where it reports none (a fresh pseudo-terminal reports 0 x 0)."""
    try:
        columns, rows = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        columns, rows = 0, 0
    return (columns if columns > 0 else 80), (rows if rows > 0 else 24)


class _Bar:
    """A tqdm bar fed by ``(done, total)`` calls and redrawn by a ticker thread between them.

    With a known total the bar is made at the first call, starting from the
    work already done (a resumed run), so its rate and ETA count this run's work.
    """

    def __init__(self, description: str, unit: str, stream: TextIO, known_total: bool) -> None:
        self._options = dict(
            desc=description, unit=unit, unit_scale=False, file=stream, delay=_delay(), leave=False,
            mininterval=0.1, bar_format=None if known_total else "{desc}: {elapsed}",
        )
        self._options["ncols"], self._options["nrows"] = _size(stream)
        self._lock = threading.Lock()
        self._tqdm = None if known_total else self._make(total=None, initial=0)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="pivotmc-progress", daemon=True)
        self._ticker.start()

    def _make(self, total: int | None, initial: int):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, **self._options)

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if self._tqdm is None:
                self._tqdm = self._make(total=total, initial=done)
                return
            if self._tqdm.total != total:
                self._tqdm.total = total
            self._tqdm.update(done - self._tqdm.n)

    def _tick(self) -> None:
        while not self._stop.wait(_TICK_S):
            with self._lock:
                if self._tqdm is not None:
                    self._tqdm.update(0)

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        with self._lock:
            if self._tqdm is not None:
                self._tqdm.close()


def _noop(done: int, total: int) -> None:
    return None


@contextlib.contextmanager
def _drawn(description: str, unit: str, stream: TextIO | None, known_total: bool) -> Iterator[Callback]:
    """A :class:`_Bar` on an interactive ``stream`` (default stderr), closed on exit; elsewhere a callback doing nothing."""
    stream = sys.stderr if stream is None else stream
    if not interactive(stream):
        yield _noop
        return
    drawn = _Bar(description, unit, stream, known_total)
    try:
        yield drawn
    finally:
        drawn.close()


def bar(description: str, unit: str = " paths", stream: TextIO | None = None) -> contextlib.AbstractContextManager[Callback]:
    """A ``progress(done, total)`` callback drawing a bar with counts, rate and ETA, erased on exit.

    Where ``stream`` (default stderr) is not a terminal the callback does nothing.
    """
    return _drawn(description, unit, stream, known_total=True)


def activity(description: str, stream: TextIO | None = None) -> contextlib.AbstractContextManager[Callback]:
    """Say what is happening, with the time elapsed, during a wait of unknown length (e.g. compilation)."""
    return _drawn(description, "", stream, known_total=False)
