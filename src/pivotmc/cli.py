"""The ``pivotmc`` command line.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from typing import Callable, Sequence, TextIO

from .errors import ValidationError

DEFAULT_PATHS = 200_000
#: A run shorter than this prints no progress bar: a bar that flashes by is noise.
PROGRESS_DELAY_S = 1.5
#: Overrides PROGRESS_DELAY_S (seconds); the tests set it to 0 to see the bar on a quick run.
PROGRESS_DELAY_ENV = "PIVOTMC_PROGRESS_DELAY"


def _parse_assignment(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValidationError(f"--set expects section.key=value, got {text!r}.")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word, e.g. markup=equilibrium
    return name.strip(), value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pivotmc",
        description=(
            "Monte Carlo valuation of a Bitcoin-mining site that can keep mining, convert to AI/HPC "
            "hosting, or split: NPV distributions of each strategy over correlated market paths."
        ),
        epilog="Start with `pivotmc run`, then `pivotmc scenario > my.toml`, edit, and `pivotmc run my.toml`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="simulate a scenario and print the NPV summary",
        description="Simulate a scenario (the built-in default if none is given) and print the NPV summary of each strategy.",
    )
    run.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    run.add_argument("--paths", type=int, default=DEFAULT_PATHS, help=f"number of paths (default {DEFAULT_PATHS:,})")
    run.add_argument("--seed", type=int, default=0, help="random seed, 0 <= seed < 2**64 (default 0)")
    run.add_argument("--backend", default="auto", help="auto (default), reference, ...")
    run.add_argument("--keep-paths", type=int, default=0, help="keep the trajectories of the first K paths in --out")
    run.add_argument("--out", help="write the full result to this netCDF file (.nc)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a scenario parameter, e.g. --set btc.sigma=0.7 (repeatable)",
    )

    scen = sub.add_parser(
        "scenario",
        help="print the default scenario as commented TOML",
        description="Print the default scenario as commented TOML, a starting point for your own: pivotmc scenario > my.toml",
    )
    scen.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a parameter")

    summ = sub.add_parser("summarize", help="print the NPV summary of a saved result", description="Print the NPV summary of a result saved with --out.")
    summ.add_argument("result", help="result file (.nc)")
    return parser


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _ProgressBar:
    """``simulate``'s progress callback drawing one line, redrawn in place, on a terminal.

    Nothing is drawn before ``delay_s`` has passed, so quick runs look exactly as
    they would without it; :meth:`close` erases the line, leaving the terminal as
    it was before the run.
    """

    def __init__(self, stream: TextIO, delay_s: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.stream = stream
        self.delay_s = delay_s
        self.clock = clock
        self.started = clock()
        self.drawn = 0  # length of the line on screen, 0 when none

    def __call__(self, done: int, total: int) -> None:
        elapsed = self.clock() - self.started
        if elapsed < self.delay_s:
            return
        eta = _clock(elapsed * (total - done) / done) if done else "?"
        text = f"{100 * done // max(total, 1):3d}%  {done:,}/{total:,} paths  elapsed {_clock(elapsed)}  ETA {eta}"
        # Overflowing the width would wrap, and a carriage return cannot redraw a wrapped line.
        room = self._columns() - 1 - len(text) - 3
        if room >= 10:
            filled = min(30, room) * done // max(total, 1)
            text = f"[{'#' * filled}{'.' * (min(30, room) - filled)}] {text}"
        line = text[: self._columns() - 1]
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = max(self.drawn, len(line))

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns if columns > 0 else 80  # a fresh pseudo-terminal reports 0


def _progress_bar() -> _ProgressBar | None:
    """A progress bar on stderr if it is an interactive terminal, else None (pipes and logs stay clean)."""
    stream = sys.stderr
    try:
        if stream is None or not stream.isatty():
            return None
    except (AttributeError, ValueError):  # closed or replaced by an object without isatty
        return None
    try:
        delay_s = float(os.environ.get(PROGRESS_DELAY_ENV, PROGRESS_DELAY_S))
    except ValueError:
        delay_s = PROGRESS_DELAY_S
    return _ProgressBar(stream, delay_s)


def _scenario(path: str | None, assignments: Sequence[str]):
    from .scenario import Scenario

    scenario = Scenario.from_toml(path) if path else Scenario.default()
    if assignments:
        scenario = scenario.with_overrides(dict(_parse_assignment(a) for a in assignments))
    return scenario


def _cmd_run(args: argparse.Namespace) -> int:
    from . import format_summary, simulate, summarize
    from .io import result_path, save

    scenario = _scenario(args.scenario, args.set)
    if args.out:
        result_path(args.out)  # a bad name must not cost a whole run
    bar = _progress_bar()
    started = time.perf_counter()
    try:
        ds = simulate(
            scenario, n_paths=args.paths, seed=args.seed, backend=args.backend, keep_paths=args.keep_paths, progress=bar
        )
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started
    print(format_summary(summarize(ds)))
    steps = scenario.n_steps
    print(
        f"\n{args.paths:,} paths x {steps} steps on backend {ds.attrs['backend']!r} in {elapsed:.2f} s "
        f"({args.paths * steps / elapsed:,.0f} path-steps/s); seed {args.seed}."
    )
    if args.out:
        print(f"Result written to {save(ds, args.out)}.")
    return 0


def _cmd_scenario(args: argparse.Namespace) -> int:
    sys.stdout.write(_scenario(None, args.set).to_toml())
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from . import format_summary, summarize
    from .io import load

    print(format_summary(summarize(load(args.result))))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pivotmc`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": _cmd_run, "scenario": _cmd_scenario, "summarize": _cmd_summarize}
    try:
        return handlers[args.command](args)
    except ValidationError as exc:
        print(f"pivotmc: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
