"""The ``pivotmc`` command line.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import itertools
import contextlib
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
            "hosting, split, or mine and convert when it pays (switch): NPV distributions of each strategy "
            "over correlated market paths."
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
    run.add_argument(
        "--out",
        help="write the full result to this netCDF file (.nc), or stream it chunk by chunk to this Zarr store "
        "(.zarr; an interrupted run started again resumes)",
    )
    run.add_argument("--chunk-paths", type=int, metavar="M", help="paths per chunk of a .zarr run (default 1,000,000)")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, metavar="N", help="run the chunks of a .zarr run on a local Dask cluster of N processes"
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="run the chunks of a .zarr run on this Dask scheduler")
    run.add_argument("--overwrite", action="store_true", help="start the .zarr store afresh, whatever run it holds")
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
    summ.add_argument("result", help="result file (.nc) or Zarr store (.zarr)")

    cal = sub.add_parser(
        "calibrate",
        help="fit the market models to history and write the calibrated scenario",
        description=(
            "Fit the market models to a CSV of history (a date column and any of btc_price, hashrate, fees, "
            "power_price, lease_rate), print the estimates with standard errors, and with --out write the "
            "calibrated scenario as commented TOML."
        ),
    )
    cal.add_argument("data", help="CSV file with a date column (YYYY-MM-DD)")
    cal.add_argument("--out", help="write the calibrated scenario (defaults overridden by the fit) to this TOML file")
    cal.add_argument("--base", help="scenario TOML the fit starts from (default: the built-in default scenario)")
    cal.add_argument("--fees-unit", choices=("block", "day"), help="whether the fees column is BTC per block or per day")
    cal.add_argument("--fit-markup", action="store_true", help="also set hashrate.markup from the fitted intercept")

    sens = sub.add_parser(
        "sensitivity",
        help="change in mean NPV when each parameter moves down and up (tornado data)",
        description=(
            "Shock each parameter down to v - SHOCK |v| and up to v + SHOCK |v| on common random numbers and print "
            "the change in every strategy's mean NPV with its paired standard error. Whole-unit parameters move by "
            "whole units; a shock cut short at a bound is marked. Without --param, every non-zero continuous "
            "parameter is shocked."
        ),
    )
    sens.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    sens.add_argument("--param", action="append", metavar="SECTION.KEY", help="parameter to shock (repeatable)")
    sens.add_argument("--shock", type=float, default=0.2, help="relative shock, in (0, 1) (default 0.2)")
    sens.add_argument("--paths", type=int, default=20_000, help="paths per scenario (default 20,000)")
    sens.add_argument("--seed", type=int, default=0, help="random seed shared by every scenario (default 0)")
    sens.add_argument("--backend", default="auto", help="auto (default), cpu, reference, ...")
    sens.add_argument("--out", help="write the full result to this netCDF file (.nc), e.g. for pivotmc report")

    swp = sub.add_parser(
        "sweep",
        help="mean NPV over a grid of parameter values, on common random numbers",
        description=(
            "Simulate every combination of the --grid values and the scenario as given (the base case) on common "
            "random numbers, and print mean NPVs, changes from the base case with paired standard errors, and "
            "P(A > B) for every pair of strategies."
        ),
    )
    swp.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    swp.add_argument("--grid", action="append", required=True, metavar="SECTION.KEY=V1,V2,...",
                     help="a parameter and its values, e.g. --grid btc.sigma=0.3,0.5,0.7 (repeatable)")
    swp.add_argument("--paths", type=int, default=20_000, help="paths per scenario (default 20,000)")
    swp.add_argument("--seed", type=int, default=0, help="random seed shared by every scenario (default 0)")
    swp.add_argument("--backend", default="auto", help="auto (default), cpu, reference, ...")
    swp.add_argument("--out", help="write the result to this netCDF file (.nc)")

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a saved result",
        description="Write one HTML page (images embedded, no network needed): summary, figures, scenario, provenance.",
    )
    rep.add_argument("result", help="result file (.nc) saved with pivotmc run --out (use --keep-paths for fan charts)")
    rep.add_argument("-o", "--output", required=True, help="the HTML file to write")
    rep.add_argument("--sensitivity", help="a result of pivotmc sensitivity --out, for tornado charts")
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
        self.first: int | None = None  # paths already done at the first call (a resumed run starts part-way)

    def __call__(self, done: int, total: int) -> None:
        if self.first is None:
            self.first = done
        elapsed = self.clock() - self.started
        if elapsed < self.delay_s:
            return
        eta = _clock(elapsed * (total - done) / (done - self.first)) if done > self.first else "?"
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


def _dask_client(args: argparse.Namespace):
    """What simulate's ``client`` gets: a local cluster's client, a scheduler address, or nothing."""
    if args.workers is not None:
        from .store import local_client

        return local_client(args.workers)
    return contextlib.nullcontext(args.scheduler)


def _check_run_arguments(args: argparse.Namespace) -> None:
    """The checks simulate starts with, made before the switch policy is learned, so that bad input fails at once."""
    from . import rng
    from .backends import BACKENDS, get_backend
    from .engine import MAX_PATHS, _check_count

    n_paths = _check_count("n_paths", args.paths, 1, MAX_PATHS)
    _check_count("keep_paths", args.keep_paths, 0, n_paths)
    rng.seed_key(args.seed)
    if args.backend != "auto" and args.backend not in BACKENDS:
        get_backend(args.backend)  # raises its usual error for an unknown name


def _learn_switch(scenario) -> float | None:
    """Learn the switch policy ahead of the run, which then finds it cached: seconds taken, None if switch is not valued.

    So the run's own time (and its path-steps per second) is reported apart from the learning.
    """
    if "switch" not in scenario.strategies.evaluate:
        return None
    from .switch import learn

    started = time.perf_counter()
    learn(scenario)
    return time.perf_counter() - started


def _cmd_run(args: argparse.Namespace) -> int:
    from . import format_summary, simulate, summarize
    from .io import is_store, result_path, save

    scenario = _scenario(args.scenario, args.set)
    store = args.out if args.out and is_store(args.out) else None
    if args.out and store is None:
        result_path(args.out)  # a bad name must not cost a whole run
    store_only = [name for name in ("chunk_paths", "workers", "scheduler", "overwrite") if getattr(args, name)]
    if store is None and store_only:
        flag = "--" + store_only[0].replace("_", "-")
        raise ValidationError(f"{flag} applies only to a run streamed to a Zarr store: add --out results.zarr.")
    _check_run_arguments(args)
    bar = _progress_bar()
    first_done: list[int] = []  # paths a resumed run found already in the store
    learning_s = None

    def progress(done: int, total: int) -> None:
        if not first_done:
            first_done.append(done)
        if bar is not None:
            bar(done, total)

    started = time.perf_counter()
    try:
        with _dask_client(args) as client:
            learning_s = _learn_switch(scenario)
            if bar is not None:
                bar.started = time.perf_counter()  # the bar's rate and delay count the run alone
            ds = simulate(
                scenario, n_paths=args.paths, seed=args.seed, backend=args.backend, keep_paths=args.keep_paths,
                progress=progress if store or bar else None,
                store=store, chunk_paths=args.chunk_paths, client=client, overwrite=args.overwrite,
            )
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - started - (learning_s or 0.0)
    if store is not None:
        from .store import read_for_summary

        ds = read_for_summary(store)  # npv (read once) and the switch's shares: the lazy result would be assembled from its chunks
    print(format_summary(summarize(ds)))
    steps = scenario.n_steps
    found = first_done[0] if first_done else 0
    computed = args.paths - found
    notes = []
    if computed:
        notes.append(
            f"{computed:,} paths x {steps} steps on backend {ds.attrs['backend']!r} in {elapsed:.2f} s "
            f"({computed * steps / elapsed:,.0f} path-steps/s); seed {args.seed}."
        )
    if found:
        notes.append(f"Resumed: {found:,} of the {args.paths:,} paths were already in the store.")
    if learning_s is not None:
        notes.append(f"Switch policy learned on {scenario.switch.learning_paths:,} other paths in {learning_s:.2f} s.")
    print("\n" + "\n".join(notes))
    if store is not None:
        print(f"Result written to {store}.")
    elif args.out:
        print(f"Result written to {save(ds, args.out)}.")
    return 0


def _cmd_scenario(args: argparse.Namespace) -> int:
    sys.stdout.write(_scenario(None, args.set).to_toml())
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from . import format_summary, summarize
    from .io import is_store, load

    if is_store(args.result):
        from .store import read_for_summary

        ds = read_for_summary(args.result)  # only what the summary needs: npv and the switch's shares, not the trajectories
    else:
        ds = load(args.result)
    print(format_summary(summarize(ds)))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from .calibrate import calibrate

    base = _scenario(args.base, [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = calibrate(args.data, base, fees_unit=args.fees_unit, fit_markup=args.fit_markup)
        finally:  # one line each, like the errors, rather than Python's source-line format
            for warning in caught:
                print(f"pivotmc: warning: {warning.message}", file=sys.stderr)
    print(result)
    if args.out:
        try:
            Path(args.out).write_text(result.to_toml(), encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot write {args.out!r}: {exc.strerror or exc}.") from None
        print(f"\nCalibrated scenario written to {args.out}.")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from .io import result_path, save
    from .studies import format_sensitivity, sensitivity

    out = result_path(args.out) if args.out else None
    ds = sensitivity(_scenario(args.scenario, []), args.param, rel_shock=args.shock, n_paths=args.paths,
                     seed=args.seed, backend=args.backend)
    print(format_sensitivity(ds), end="")
    if out:
        print(f"Result written to {save(ds, out)}.")
    return 0


def _grid_arg(text: str) -> tuple[str, list]:
    name, sep, raw = text.partition("=")
    if not sep or not raw.strip():
        raise ValidationError(f"--grid expects section.key=v1,v2,..., got {text!r}.")
    return name.strip(), [_parse_assignment(f"{name}={v}")[1] for v in raw.split(",")]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .io import result_path, save
    from .studies import format_sweep, sweep

    out = result_path(args.out) if args.out else None
    grid = dict(_grid_arg(g) for g in args.grid)
    ds = sweep(_scenario(args.scenario, []), grid, n_paths=args.paths, seed=args.seed, backend=args.backend)
    print(format_sweep(ds), end="")
    if out:
        print(f"Result written to {save(ds, out)}.")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .io import load
    from .report import write_report

    sens = load(args.sensitivity) if args.sensitivity else None
    path = write_report(load(args.result), args.output, sensitivity=sens)
    print(f"Report written to {path}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pivotmc`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": _cmd_run, "scenario": _cmd_scenario, "summarize": _cmd_summarize, "calibrate": _cmd_calibrate,
                "sensitivity": _cmd_sensitivity, "sweep": _cmd_sweep, "report": _cmd_report}
    try:
        return handlers[args.command](args)
    except (ValidationError, ImportError) as exc:  # bad input, or an optional extra not installed
        print(f"pivotmc: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
