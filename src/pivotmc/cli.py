"""The ``pivotmc`` command line.

Exit codes: 0 success; 2 bad input (an argument, a value or a file: one line on
stderr saying what is wrong and what is allowed); 1 anything unexpected (one
line too; ``PIVOTMC_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import time
import tomllib
from typing import Sequence

from pivotmc import progress as _progress
from pivotmc.errors import ValidationError
from pivotmc.model.strategies import learned_strategy
from pivotmc.policy.switch import CACHE_DIR_ENV
from pivotmc.text import fixed, wrap

DEFAULT_PATHS = 200_000
#: Set to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "PIVOTMC_DEBUG"

# Numbers as an analyst types them: 100000, 100_000, 100,000 and 1e5 are the same count.
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+(_\d+)*)?(\.\d*)?([eE][+-]?\d+)?")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _number(text: str) -> float:
    """A finite number from what an analyst types; ValueError (argparse's cue) otherwise."""
    raw = text.strip()
    if raw.lower() in _NON_FINITE:
        raise ValueError("not a finite number")
    if not raw or not _NUMBER.fullmatch(raw) or not any(c.isdigit() for c in raw):
        raise ValueError("not a number")
    value = float(raw.replace("_", "").replace(",", ""))
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _count(text: str) -> int:
    """A whole number (100000, 100_000, 100,000 or 1e5)."""
    value = _number(text)
    if not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def _seed(text: str) -> int:
    """A seed: a whole number written out in digits (a float such as 1e19 would lose digits)."""
    raw = text.strip().replace("_", "").replace(",", "")
    if not raw.isdigit():
        raise ValueError("not a whole number")
    return int(raw)


_count.__name__ = "whole number"  # how argparse names the type in its message
_seed.__name__ = "seed (a whole number)"
_number.__name__ = "finite number"


def _parse_assignment(text: str, flag: str = "--set") -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    raw = raw.strip()
    if not sep or not name.strip() or not raw:
        raise ValidationError(f"{flag} expects section.key=value, got {text!r}.")
    return name.strip(), _typed_value(raw)


def _typed_value(raw: str) -> object:
    """A value as an analyst types it: a number (written as :func:`_number` reads it), else TOML, else a bare word."""
    try:
        value = _number(raw)
    except ValueError:
        if raw.lower() in _NON_FINITE:
            return float(raw)  # NaN and inf reach the scenario's range check, which refuses them by name
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            return raw  # a bare word, e.g. markup=equilibrium
    return int(value) if re.fullmatch(r"[+-]?[\d_,]+", raw) else value


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
    run.add_argument("--paths", type=_count, default=DEFAULT_PATHS, help=f"number of paths (default {DEFAULT_PATHS:,})")
    run.add_argument("--seed", type=_seed, default=0, help="random seed, 0 <= seed < 2**64 (default 0)")
    run.add_argument("--backend", default="auto", help="auto (default), reference, ...")
    run.add_argument("--keep-paths", type=_count, default=0, help="keep the trajectories of the first K paths in --out")
    run.add_argument(
        "--out",
        help="write the full result to this netCDF file (.nc), or stream it chunk by chunk to this Zarr store "
        "(.zarr; an interrupted run started again resumes)",
    )
    run.add_argument("--chunk-paths", type=_count, metavar="M", help="paths per chunk of a .zarr run (default 1,000,000)")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_count, metavar="N", help="run the chunks of a .zarr run on a local Dask cluster of N processes"
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
    cal.add_argument(
        "--fit-drift", action="store_true",
        help="also set btc.mu from the historical drift (by default it is printed, not applied: history is no forecast)",
    )
    cal.add_argument("--jump-intensity", type=_number, metavar="LAMBDA", help="fix the BTC jump intensity (jumps/year, 0 to 365)")
    cal.add_argument(
        "--max-jump-intensity", type=_number, metavar="LAMBDA", help="bound the BTC jump intensity above (jumps/year)"
    )
    cal.add_argument(
        "--keep-start", action="store_true",
        help="keep the base's start date and block height (default: start the day after the last date of the data)",
    )
    cal.add_argument(
        "--keep-initial", action="store_true",
        help="keep the base's values at t = 0 (default: the last observation of each column in the data)",
    )

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
    sens.add_argument("--shock", type=_number, default=0.2, help="relative shock, in (0, 1) (default 0.2)")
    sens.add_argument("--paths", type=_count, default=20_000, help="paths per scenario (default 20,000)")
    sens.add_argument("--seed", type=_seed, default=0, help="random seed shared by every scenario (default 0)")
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
    swp.add_argument("--paths", type=_count, default=20_000, help="paths per scenario (default 20,000)")
    swp.add_argument("--seed", type=_seed, default=0, help="random seed shared by every scenario (default 0)")
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

    cache = sub.add_parser(
        "cache",
        help="show or clear the learned switch policies kept between runs",
        description=(
            "A switch policy depends only on the scenario and the version of pivotmc, so it is learned once and "
            f"kept on disk (in ${CACHE_DIR_ENV}, else ~/.cache/pivotmc). Show where, or clear it."
        ),
    )
    cache.add_argument("--clear", action="store_true", help="remove every learned policy")
    return parser


def _scenario(path: str | None, assignments: Sequence[str]):
    from pivotmc.model.scenario import Scenario

    scenario = Scenario.from_toml(path) if path else Scenario.default()
    if assignments:
        scenario = scenario.with_overrides(dict(_parse_assignment(a) for a in assignments))
    return scenario


@contextlib.contextmanager
def _dask_client(args: argparse.Namespace):
    """What simulate's ``client`` gets: a local cluster's client, a scheduler address, or nothing."""
    if args.workers is None:
        yield args.scheduler
        return
    from pivotmc.run.store import local_client

    with contextlib.ExitStack() as stack:
        with _progress.activity(f"Starting a local Dask cluster of {args.workers} processes"):
            client = stack.enter_context(local_client(args.workers))
        yield client


def _check_run_arguments(args: argparse.Namespace) -> None:
    """The checks simulate starts with, made before the switch policy is learned, so that bad input fails at once."""
    from pivotmc import random as rng
    from pivotmc.backends import BACKENDS, get_backend
    from pivotmc.run.arguments import MAX_PATHS, _check_count

    n_paths = _check_count("n_paths", args.paths, 1, MAX_PATHS)
    _check_count("keep_paths", args.keep_paths, 0, n_paths)
    rng.seed_key(args.seed)
    if args.backend != "auto" and args.backend not in BACKENDS:
        get_backend(args.backend)  # raises its usual error for an unknown name


def _prepare(scenario, backend: str) -> None:
    """Load (or, the first time on a machine, compile) the kernels the command will run, saying so while it lasts."""
    from pivotmc.backends import get_backend

    names = {get_backend(backend).name}
    if learned_strategy(scenario.strategies.evaluate) is not None:
        names.add("cpu")  # the learner of the switch policy, where it runs
    for name in sorted(names):
        runner = get_backend(name)
        if runner.capabilities.compiles:
            with _progress.activity(f"Loading the {name} kernels (compiled once per machine, then cached)"):
                runner.prepare()


def _learn_switch(scenario) -> tuple[float, bool] | None:
    """Learn the switch policy ahead of the run, which then finds it cached.

    Returns the seconds taken and whether the policy was in the cache already, or None if switch is not valued.

    So the run's own time (and its path-steps per second) is reported apart from the learning.
    """
    if learned_strategy(scenario.strategies.evaluate) is None:
        return None
    from pivotmc.policy.switch import is_cached, learn

    cached = is_cached(scenario)
    started = time.perf_counter()
    with _progress.bar("Learning the switch policy", unit=" paths") as bar:
        learn(scenario, progress=bar)
    return time.perf_counter() - started, cached


def _cmd_run(args: argparse.Namespace) -> int:
    from pivotmc import format_summary, simulate, summarize
    from pivotmc.run.io import is_store, result_path, save

    scenario = _scenario(args.scenario, args.set)
    store = args.out if args.out and is_store(args.out) else None
    if args.out and store is None:
        result_path(args.out)  # a bad name must not cost a whole run
    store_only = [name for name in ("chunk_paths", "workers", "scheduler", "overwrite") if getattr(args, name)]
    if store is None and store_only:
        flag = "--" + store_only[0].replace("_", "-")
        raise ValidationError(f"{flag} applies only to a run streamed to a Zarr store: add --out results.zarr.")
    _check_run_arguments(args)
    first_done: list[int] = []  # paths a resumed run found already in the store
    learning_s = None

    with _dask_client(args) as client:
        if client is None:
            _prepare(scenario, args.backend)
        learning_s = _learn_switch(scenario)
        started = time.perf_counter()
        with _progress.bar("Simulating", unit=" paths") as bar:

            def progress(done: int, total: int) -> None:
                if not first_done:
                    first_done.append(done)
                bar(done, total)

            ds = simulate(
                scenario, n_paths=args.paths, seed=args.seed, backend=args.backend, keep_paths=args.keep_paths,
                progress=progress if store or _progress.interactive() else None,
                store=store, chunk_paths=args.chunk_paths, client=client, overwrite=args.overwrite,
            )
        elapsed = time.perf_counter() - started
    if store is not None:
        from pivotmc.run.store import read_for_summary

        ds = read_for_summary(store)  # npv (read once) and the switch's shares: the lazy result would be assembled from its chunks
    print(format_summary(summarize(ds)))
    steps = scenario.n_steps
    found = first_done[0] if first_done else 0
    computed = args.paths - found
    notes = []
    if computed:
        notes.append(f"{computed:,} paths x {steps} steps in {elapsed:.2f} s ({computed * steps / elapsed:,.0f} path-steps/s).")
    if found:
        notes.append(f"Resumed: {found:,} of the {args.paths:,} paths were already in the store.")
    if learning_s is not None:
        seconds, cached = learning_s
        learned = f"learned on {scenario.switch.learning_paths:,} other paths"
        notes.append(f"Switch policy ({learned}) read from the cache (pivotmc cache --clear forgets it)." if cached
                     else f"Switch policy {learned} in {seconds:.2f} s, and cached for the next runs of this scenario.")
    print("\n" + "\n".join(line for note in notes for line in wrap(note)))
    if store is not None:
        print(f"Result written to {store}.")
    elif args.out:
        print(f"Result written to {save(ds, args.out)}.")
    return 0


def _cmd_scenario(args: argparse.Namespace) -> int:
    sys.stdout.write(_scenario(None, args.set).to_toml())
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from pivotmc import format_summary, summarize
    from pivotmc.run.io import is_store, load

    if is_store(args.result):
        from pivotmc.run.store import read_for_summary

        ds = read_for_summary(args.result)  # only what the summary needs: npv and the switch's shares, not the trajectories
    else:
        ds = load(args.result)
    print(format_summary(summarize(ds)))
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from pivotmc.policy.switch import cache_dir, clear_cache

    folder = cache_dir()
    if args.clear:
        removed = clear_cache()
        print(f"Removed {removed} learned switch polic{'y' if removed == 1 else 'ies'} from {folder}.")
        return 0
    files = sorted(folder.glob("switch-policy-*.npz")) if folder.is_dir() else []
    size = sum(f.stat().st_size for f in files)
    print(f"{folder}: {len(files)} learned switch polic{'y' if len(files) == 1 else 'ies'}, {fixed(size / 1024, 0)} KiB.")
    print(f"Set {CACHE_DIR_ENV} to use another folder; pivotmc cache --clear empties it.")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from pivotmc.calibration.calibrate import calibrate

    base = _scenario(args.base, [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _progress.activity("Fitting the market models to the history"):
                result = calibrate(
                    args.data, base, fees_unit=args.fees_unit, fit_markup=args.fit_markup, fit_drift=args.fit_drift,
                    jump_intensity=args.jump_intensity, max_jump_intensity=args.max_jump_intensity,
                    set_start=not args.keep_start, set_initial=not args.keep_initial,
                )
        finally:  # one line each, like the errors, rather than Python's source-line format
            for w in caught:
                sys.stderr.write(_warning_line(w.message, w.category, w.filename, w.lineno))
    print(result)
    if args.out:
        try:
            Path(args.out).write_text(result.to_toml(), encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot write {args.out!r}: {exc.strerror or exc}.") from None
        print(f"\nCalibrated scenario written to {args.out}.")
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from pivotmc.run.io import result_path, save
    from pivotmc.analysis.studies import format_sensitivity, sensitivity

    out = result_path(args.out) if args.out else None
    scenario = _scenario(args.scenario, [])
    _prepare(scenario, args.backend)
    with _progress.bar("Sensitivity: scenarios simulated", unit=" cases") as bar:
        ds = sensitivity(scenario, args.param, rel_shock=args.shock, n_paths=args.paths,
                         seed=args.seed, backend=args.backend, progress=bar)
    print(format_sensitivity(ds), end="")
    if out:
        print(f"Result written to {save(ds, out)}.")
    return 0


def _grid_arg(text: str) -> tuple[str, list]:
    name, sep, raw = text.partition("=")
    if not sep or not raw.strip():
        raise ValidationError(f"--grid expects section.key=v1,v2,..., got {text!r}.")
    return name.strip(), [_parse_assignment(f"{name}={v}", "--grid")[1] for v in raw.split(",")]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from pivotmc.run.io import result_path, save
    from pivotmc.analysis.studies import format_sweep, sweep

    out = result_path(args.out) if args.out else None
    grid = dict(_grid_arg(g) for g in args.grid)
    scenario = _scenario(args.scenario, [])
    _prepare(scenario, args.backend)
    with _progress.bar("Sweep: scenarios simulated", unit=" cases") as bar:
        ds = sweep(scenario, grid, n_paths=args.paths, seed=args.seed, backend=args.backend, progress=bar)
    print(format_sweep(ds), end="")
    if out:
        print(f"Result written to {save(ds, out)}.")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pivotmc.run.io import load
    from pivotmc.analysis.report import write_report

    sens = load(args.sensitivity) if args.sensitivity else None
    ds = load(args.result)
    with _progress.activity("Drawing the figures and writing the report"):
        path = write_report(ds, args.output, sensitivity=sens)
    print(f"Report written to {path}.")
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _os_error(exc: OSError) -> str:
    """A file that cannot be read or written, in one sentence."""
    where = f" {exc.filename!r}" if exc.filename else ""
    return f"cannot use{where}: {(exc.strerror or _one_line(exc)).rstrip('.')}."


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"pivotmc: warning: {' '.join(str(message).split())}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pivotmc`` command."""
    import warnings

    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": _cmd_run, "scenario": _cmd_scenario, "summarize": _cmd_summarize, "calibrate": _cmd_calibrate,
                "sensitivity": _cmd_sensitivity, "sweep": _cmd_sweep, "report": _cmd_report, "cache": _cmd_cache}
    shown = warnings.formatwarning
    warnings.formatwarning = _warning_line  # one line each, like the errors, rather than Python's source-line format
    try:
        return handlers[args.command](args)
    except (ValidationError, ImportError) as exc:  # bad input, or an optional extra not installed
        print(f"pivotmc: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0
    except OSError as exc:  # a file that is missing, unreadable or unwritable
        print(f"pivotmc: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pivotmc: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault of pivotmc's, not of the input: still one line, unless asked for more
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"pivotmc: internal error: {type(exc).__name__}: {_one_line(exc)} (set {DEBUG_ENV}=1 to see where)",
              file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
