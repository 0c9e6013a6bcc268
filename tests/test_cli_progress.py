"""`pivotmc run` draws a progress bar on an interactive stderr, and nothing extra anywhere else."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pivotmc.cli import PROGRESS_DELAY_ENV, _ProgressBar

SRC = Path(__file__).resolve().parents[1] / "src"
# Two years on the reference backend: a fraction of a second, with no compilation to wait for.
RUN = [sys.executable, "-m", "pivotmc.cli", "run", "--paths", "3000", "--backend", "reference",
       "--set", "simulation.horizon_years=2"]

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def _env(delay: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop(PROGRESS_DELAY_ENV, None)
    if delay is not None:
        env[PROGRESS_DELAY_ENV] = delay
    return env


def _run_on_terminal(delay: str | None) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; return (exit code, stdout, what the terminal got)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(RUN, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=_env(delay))
    finally:
        os.close(slave)  # the child holds its own copy; ours would keep the terminal open forever
    received = bytearray()
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # Linux: EIO once every writer has closed the slave side
                break
            if not data:
                break
            received += data
    finally:
        os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, received.decode()


def test_bar_is_drawn_on_a_terminal_and_erased_at_the_end() -> None:
    code, out, terminal = _run_on_terminal("0")
    assert code == 0, terminal
    assert "3,000 paths" in out and "\r" not in out
    assert "\r" in terminal
    assert "100%" in terminal and "3,000/3,000 paths" in terminal
    assert "elapsed" in terminal and "ETA" in terminal
    assert "[" in terminal and "#" in terminal
    # Cleared: the last redraw blanks the line and returns the cursor to its start.
    last = terminal.rsplit("\r", 2)
    assert terminal.endswith("\r") and last[-2].strip() == ""


def test_quick_run_on_a_terminal_draws_nothing() -> None:
    code, out, terminal = _run_on_terminal(None)
    assert code == 0, terminal
    assert terminal == ""
    assert "3,000 paths" in out


def test_no_bar_when_stderr_is_a_pipe() -> None:
    proc = subprocess.run(RUN, capture_output=True, text=True, env=_env("0"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "\r" not in proc.stdout


def test_bar_line_fits_and_counts() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = _ProgressBar(stream, delay_s=1.5, clock=lambda: now[0])
    bar(0, 1000)
    now[0] = 1.0
    bar(500, 1000)
    assert stream.getvalue() == ""  # still under the delay
    now[0] = 2.0
    bar(500, 1000)
    drawn = stream.getvalue()
    assert drawn.startswith("\r[") and " 50%  500/1,000 paths  elapsed 0:02  ETA 0:02" in drawn
    assert len(drawn) - 1 <= 79
    now[0] = 4000.0
    bar(1000, 1000)
    assert "100%" in stream.getvalue() and "elapsed 1:06:40  ETA 0:00" in stream.getvalue()
    bar.close()
    *drawn_lines, blank, after = stream.getvalue().split("\r")
    assert after == "" and blank == " " * max(len(line) for line in drawn_lines)
