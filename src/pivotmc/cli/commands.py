"""The commands of ``pivotmc``: each takes the parsed arguments, prints what it has to say and returns
the exit code (0). Bad input raises :class:`~pivotmc.errors.ValidationError`, which
:func:`pivotmc.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Callable, Sequence

from pivotmc import progress as _progress
from pivotmc.cli.messages import warning_line
from pivotmc.cli.values import grid_arg, parse_assignment
from pivotmc.errors import ValidationError
from pivotmc.model.strategies import learned_strategy
from pivotmc.policy.switch import CACHE_DIR_ENV
from pivotmc.text import fixed, wrap

__all__ = ["HANDLERS"]


def _scenario(path: str | None, assignments: Sequence[str]):
    from pivotmc.model.scenario import Scenario

    scenario = Scenario.from_toml(path) if path else Scenario.default()
    if assignments:
        scenario = scenario.with_overrides(dict(parse_assignment(a) for a in assignments))
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
                sys.stderr.write(warning_line(w.message, w.category, w.filename, w.lineno))
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


def _cmd_sweep(args: argparse.Namespace) -> int:
    from pivotmc.run.io import result_path, save
    from pivotmc.analysis.studies import format_sweep, sweep

    out = result_path(args.out) if args.out else None
    grid = dict(grid_arg(g) for g in args.grid)
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


#: Each command's function, by the command's name.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run, "scenario": _cmd_scenario, "summarize": _cmd_summarize, "calibrate": _cmd_calibrate,
    "sensitivity": _cmd_sensitivity, "sweep": _cmd_sweep, "report": _cmd_report, "cache": _cmd_cache,
}
