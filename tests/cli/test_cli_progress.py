"""Waits at a terminal say what is happening, with progress and an ETA; piped output gets nothing extra."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pivotmc import progress

SRC = Path(__file__).resolve().parents[2] / "src"
# Two years on the reference backend, switch included (its learning is the second wait), few learning paths.
RUN = [sys.executable, "-m", "pivotmc.cli", "run", "--paths", "3000", "--backend", "reference",
       "--set", "simulation.horizon_years=2", "--set", "switch.learning_paths=3000"]

needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def _env(delay: str | None, cache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PIVOTMC_CACHE_DIR": str(cache)}
    env.pop(progress.DELAY_ENV, None)
    if delay is not None:
        env[progress.DELAY_ENV] = delay
    return env


def _run_on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; return (exit code, stdout, what the terminal got)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
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
    return proc.wait(timeout=120), out, received.decode()


@needs_pty
def test_every_wait_is_named_on_a_terminal_and_erased_at_the_end(tmp_path) -> None:
    code, out, terminal = _run_on_terminal(RUN, _env("0", tmp_path))
    assert code == 0, terminal
    assert "3,000 paths" in out and "\r" not in out
    # The kernels being loaded (compiled the first time), the policy being learned, the paths being simulated:
    assert "Loading the cpu kernels" in terminal
    assert "Learning the switch policy" in terminal and "/3000" in terminal  # the end may fall within one redraw interval
    assert "Simulating" in terminal and "paths/s" in terminal
    assert "<" in terminal  # tqdm's "elapsed<remaining": the ETA
    # Erased: the last thing drawn is a blank line, and the cursor is back at its start.
    last = terminal.rsplit("\r", 2)
    assert terminal.endswith("\r") and last[-2].strip() == ""


@needs_pty
def test_a_wait_shorter_than_the_delay_draws_nothing(tmp_path) -> None:
    # A delay no wait of this run reaches, whatever the machine's load: the run is as quick as the delay is long.
    quick = list(RUN)
    quick[quick.index("--paths") + 1] = "50"
    code, out, terminal = _run_on_terminal(quick, _env("600", tmp_path))
    assert code == 0, terminal
    assert terminal == ""
    assert "50 paths" in out


def test_nothing_extra_when_stderr_is_a_pipe(tmp_path) -> None:
    proc = subprocess.run(RUN, capture_output=True, text=True, env=_env("0", tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "\r" not in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_counts_from_where_a_resumed_run_starts(monkeypatch) -> None:
    monkeypatch.setenv(progress.DELAY_ENV, "0")
    stream = _Terminal()
    with progress.bar("Simulating", stream=stream) as update:
        update(400, 1000)  # a resumed store: 400 paths were there already
        time.sleep(0.15)
        update(700, 1000)
    drawn = stream.getvalue()
    assert "400/1000" in drawn and "700/1000" in drawn and "70%" in drawn
    assert drawn.endswith("\r") and drawn.rsplit("\r", 2)[-2].strip() == ""


def test_nothing_is_drawn_before_the_delay(monkeypatch) -> None:
    monkeypatch.setenv(progress.DELAY_ENV, "30")
    stream = _Terminal()
    with progress.bar("Simulating", stream=stream) as update:
        update(0, 10)
        update(10, 10)
    with progress.activity("Loading", stream=stream):
        pass
    assert stream.getvalue() == ""


def test_activity_shows_the_time_elapsed_while_nothing_reports(monkeypatch) -> None:
    monkeypatch.setenv(progress.DELAY_ENV, "0")
    stream = _Terminal()
    with progress.activity("Compiling", stream=stream):
        time.sleep(0.8)  # the ticker redraws every quarter second
    drawn = stream.getvalue()
    assert drawn.count("Compiling: 00:00") >= 2
    assert drawn.rsplit("\r", 2)[-2].strip() == ""


def test_callbacks_do_nothing_off_a_terminal() -> None:
    stream = io.StringIO()
    with progress.bar("Simulating", stream=stream) as update:
        update(5, 10)
    assert stream.getvalue() == ""


def test_eta_counts_only_the_paths_this_run_computes(monkeypatch) -> None:
    """A resumed run starts part-way; its rate is measured from there, not from zero."""
    import tqdm.std

    now = [1000.0]
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])
    monkeypatch.setenv(progress.DELAY_ENV, "0")
    monkeypatch.setattr(progress, "_TICK_S", 3600.0)  # no redraws of the ticker's own
    stream = _Terminal()
    with progress.bar("Simulating", stream=stream) as update:
        update(500, 1000)  # half was already in the store
        now[0] += 10.0
        update(600, 1000)  # 100 paths in 10 s: the 400 left take 40 s
        assert "600/1000 [00:10<00:40" in stream.getvalue()
