"""pivotmc benchmark suite: path-steps per second of every backend, against two yardsticks.

Usage::

    python benchmarks/run.py                  # all cases at the default sizes; table on stdout, JSON file
    python benchmarks/run.py --paths 200000 --reference-paths 20000 --daily-paths 50000 --repeats 3
    python benchmarks/run.py --no-daily --backends cpu --json out.json

Cases: the default scenario's static strategies (mine, host, hybrid; 15 years,
monthly steps), the same with daily steps (``--no-daily`` leaves it out), and
the switch case (``--no-switch`` leaves it out). The first two have a row for

* ``numpy-analyst``: the model written by hand in plain numpy
  (``benchmarks/numpy_baseline.py``), the "x analyst" column's yardstick;
* ``reference``: the reference backend, the "x reference" column's yardstick;
* every other backend that can run here.

The two numpy rows run fewer paths (``--reference-paths``, and a smaller
number in the daily case) because they are slow and their path-steps per
second do not depend on the number of paths once it is large.

The switch case values all four strategies of the default scenario, switch
included, learning its exercise policy afresh in every timed run, and reports
each backend's time over the time of the plain (static) run of the same paths
and backend, measured alongside: the cost of the real option. Each row is
timed ``--repeats`` times after a warm-up call and quotes the median. A
compiled backend's first-call compile time (its warm-up call minus a timed
call of the same size) is reported on its own. Its "floor" is its time
divided by the time its kernel module takes to draw just the same random
numbers: 1 would mean the model itself costs nothing.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
try:
    import pivotmc
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent / "src"))
    import pivotmc
if str(HERE) not in sys.path:  # the baseline sits next to this file, also when the tests import it
    sys.path.insert(0, str(HERE))
import numpy as np  # noqa: E402

import numpy_baseline  # noqa: E402
from pivotmc import random as rng  # noqa: E402
from pivotmc.backends import BACKENDS, available_backends  # noqa: E402
from pivotmc.model.plan import lower  # noqa: E402
from pivotmc.model.scenario import Scenario  # noqa: E402

ANALYST = "numpy-analyst"
REFERENCE = "reference"
DEFAULT_JSON = HERE / "results" / "latest.json"
#: Per backend: the module, function and default-block attribute that draw only its
#: random numbers. Looked up at run time, so a renamed or removed function costs
#: only the floor column.
FLOOR_KERNELS = {
    "cpu": ("pivotmc.backends._cpu_kernels", "step_uniforms_only", "pivotmc.backends.cpu"),
}
#: Paths of a compiled backend's warm-up call: enough to touch every code path,
#: few enough that the call is almost all compilation.
WARMUP_PATHS = 1000
COLUMNS = ("case", "backend", "paths", "steps", "seconds", "path-steps/s", "x reference", "x analyst", "floor", "x plain")
#: The strategies a plain run values (the numpy baseline's).
STATIC = ("mine", "host", "hybrid")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def thread_count() -> int:
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:  # pragma: no cover - numba is a base dependency
        return 1


def numba_version() -> str | None:
    try:
        import numba

        return numba.__version__
    except ImportError:  # pragma: no cover
        return None


def timed(call: Callable[[int], object], repeats: int) -> list[float]:
    """Wall-clock seconds of ``call(r)`` for r = 0 .. repeats - 1 (r seeds the run)."""
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        call(r)
        times.append(time.perf_counter() - start)
    return times


def floor_kernel(backend: str) -> tuple[Callable | None, int, str | None]:
    """The function drawing only ``backend``'s random numbers, its block size, and its dotted name."""
    spec = FLOOR_KERNELS.get(backend)
    if spec is None:
        return None, 0, None
    module_name, function_name, backend_module = spec
    try:
        function = getattr(importlib.import_module(module_name), function_name, None)
        block = int(getattr(importlib.import_module(backend_module), "DEFAULT_BLOCK_PATHS", 256))
    except ImportError:
        return None, 0, None
    if function is None:
        return None, 0, None
    return function, block, f"{module_name}.{function_name}"


def time_floor(backend: str, paths: int, steps: int, repeats: int) -> list[float] | None:
    """Times of drawing the random numbers of ``paths`` x ``steps`` alone; None when that cannot be measured."""
    function, block, _ = floor_kernel(backend)
    if function is None:
        return None
    k0, k1 = rng.seed_key(0)
    try:
        function(k0, k1, 0, min(paths, WARMUP_PATHS), steps, block)  # compile outside the timing
        return timed(lambda r: function(k0, k1, 0, paths, steps, block), repeats)
    except Exception as exc:  # e.g. its signature moved on: lose the floor column, not the benchmark
        print(f"note: no floor for {backend}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return None


def bench_case(name: str, scenario: Scenario, paths: int, numpy_paths: int, backends: list[str],
               repeats: int, compile_seconds: dict[str, float]) -> list[dict]:
    """Rows of one case. Fills ``compile_seconds`` for compiled backends not yet measured."""
    plan = lower(scenario)
    steps = plan.n_steps
    rows = []

    def add(backend: str, n: int, times: list[float], floor: list[float] | None = None) -> None:
        median = statistics.median(times)
        rows.append({
            "ratio_to_plain": None,
            "case": name,
            "backend": backend,
            "paths": n,
            "steps": steps,
            "strategies": plan.n_strategies,
            "seconds_median": median,
            "seconds_all": times,
            "path_steps_per_s": n * steps / median,
            "floor_seconds_median": statistics.median(floor) if floor else None,
            "floor_ratio": median / statistics.median(floor) if floor else None,
        })

    # The numpy models compile nothing: a warm-up of one year loads their code as well as fifteen would.
    short = scenario.with_overrides({"simulation.horizon_years": min(1.0, scenario.simulation.horizon_years)})
    numpy_baseline.run(lower(short), min(numpy_paths, 100), seed=0)
    add(ANALYST, numpy_paths, timed(lambda r: numpy_baseline.run(plan, numpy_paths, seed=r), repeats))

    pivotmc.simulate(short, n_paths=min(numpy_paths, 100), backend=REFERENCE)
    add(REFERENCE, numpy_paths,
        timed(lambda r: pivotmc.simulate(scenario, n_paths=numpy_paths, seed=r, backend=REFERENCE), repeats))

    for backend in backends:
        warm = min(paths, WARMUP_PATHS)
        first = timed(lambda r: pivotmc.simulate(scenario, n_paths=warm, backend=backend), 1)[0]
        if backend not in compile_seconds:
            again = timed(lambda r: pivotmc.simulate(scenario, n_paths=warm, backend=backend), 1)[0]
            compile_seconds[backend] = max(first - again, 0.0)
        times = timed(lambda r: pivotmc.simulate(scenario, n_paths=paths, seed=r, backend=backend), repeats)
        add(backend, paths, times, time_floor(backend, paths, steps, repeats))

    by_name = {row["backend"]: row["path_steps_per_s"] for row in rows}
    for row in rows:
        row["ratio_to_reference"] = row["path_steps_per_s"] / by_name[REFERENCE]
        row["ratio_to_analyst"] = row["path_steps_per_s"] / by_name[ANALYST]
    return rows


def bench_switch(scenario: Scenario, paths: int, reference_paths: int, backends: list[str], repeats: int) -> list[dict]:
    """Rows of the switch case: every run learns the policy afresh; ``x plain`` compares with a static run."""
    import os
    import tempfile

    from pivotmc.policy import switch

    # A cache of the benchmark's own, so that clearing it never touches the user's learned policies.
    os.environ[switch.CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="pivotmc-bench-cache-")
    static = scenario.with_overrides({"strategies.evaluate": list(STATIC)})
    steps = scenario.n_steps
    rows = []

    def run(s: Scenario, n: int, backend: str, seed: int, fresh: bool) -> None:
        if fresh:
            switch.clear_cache()  # learning is part of the cost: forget the policy, in memory and on disk
        pivotmc.simulate(s, n_paths=n, seed=seed, backend=backend)

    for backend in [REFERENCE, *backends]:
        n = reference_paths if backend == REFERENCE else paths
        run(scenario, min(n, WARMUP_PATHS), backend, 0, True)
        plain, with_switch = [], []
        for r in range(repeats):  # interleaved, so that both see the same machine
            plain += timed(lambda _: run(static, n, backend, r, False), 1)
            with_switch += timed(lambda _: run(scenario, n, backend, r, True), 1)
        median = statistics.median(with_switch)
        rows.append({
            "case": "switch", "backend": backend, "paths": n, "steps": steps, "strategies": len(scenario.strategies.evaluate),
            "seconds_median": median, "seconds_all": with_switch, "path_steps_per_s": n * steps / median,
            "floor_seconds_median": None, "floor_ratio": None, "ratio_to_analyst": None,
            "plain_seconds_median": statistics.median(plain), "plain_seconds_all": plain,
            "ratio_to_plain": median / statistics.median(plain),
            "learning_paths": scenario.switch.learning_paths,
        })
    reference = rows[0]["path_steps_per_s"]
    for row in rows:
        row["ratio_to_reference"] = row["path_steps_per_s"] / reference
    return rows


def format_table(rows: list[dict]) -> str:
    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:,.2f}"

    cells = [COLUMNS] + [
        (
            row["case"], row["backend"], f"{row['paths']:,}", f"{row['steps']:,}", f"{row['seconds_median']:.3f}",
            f"{row['path_steps_per_s']:,.0f}", ratio(row["ratio_to_reference"]), ratio(row["ratio_to_analyst"]),
            ratio(row["floor_ratio"]), ratio(row.get("ratio_to_plain")),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--paths", type=int, default=1_000_000, help="paths of the compiled backends, monthly case")
    parser.add_argument("--reference-paths", type=int, default=50_000,
                        help="paths of the reference and numpy-analyst rows, monthly case")
    parser.add_argument("--daily-paths", type=int, default=1_000_000, help="paths of the compiled backends, daily case")
    parser.add_argument("--daily-reference-paths", type=int, default=5_000,
                        help="paths of the reference and numpy-analyst rows, daily case (at most --daily-paths)")
    parser.add_argument("--no-daily", action="store_true", help="leave out the daily case")
    parser.add_argument("--switch-paths", type=int, default=1_000_000, help="paths of the compiled backends, switch case")
    parser.add_argument("--switch-reference-paths", type=int, default=5_000,
                        help="paths of the reference row, switch case (at most --switch-paths)")
    parser.add_argument("--switch-learning-paths", type=int, default=Scenario.default().switch.learning_paths,
                        help="paths that learn the switch policy (switch.learning_paths)")
    parser.add_argument("--no-switch", action="store_true", help="leave out the switch case")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row; the table quotes the median")
    parser.add_argument("--backends", default=",".join(b for b in available_backends() if b != REFERENCE),
                        help="comma-separated backends besides reference (empty for none)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip() and b.strip() != REFERENCE]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    for name in ("paths", "reference_paths", "daily_paths", "daily_reference_paths", "switch_paths",
                 "switch_reference_paths", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    with_switch = Scenario.default().with_overrides({"switch.learning_paths": args.switch_learning_paths})
    default = with_switch.with_overrides({"strategies.evaluate": list(STATIC)})
    cases = [("monthly", default, args.paths, min(args.reference_paths, args.paths))]
    if not args.no_daily:
        daily = default.with_overrides({"simulation.steps_per_year": 365})
        cases.append(("daily", daily, args.daily_paths, min(args.daily_reference_paths, args.daily_paths)))

    threads = thread_count()
    print(f"pivotmc {pivotmc.__version__} on {cpu_model()}, {threads} threads (os.cpu_count {os.cpu_count()}); "
          f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba_version()}")
    print(f"Default scenario, {len(default.strategies.evaluate)} strategies, {default.simulation.horizon_years:g} years; "
          f"median of {args.repeats} run(s) after a warm-up.")
    print("x reference / x analyst: path-steps per second over the reference / numpy-analyst row of the same case.")
    print("floor: seconds over the seconds to draw only the same random numbers.")
    print("x plain (switch case): seconds with switch, its policy learned afresh, over a static run of the same paths.\n",
          flush=True)

    rows: list[dict] = []
    compile_seconds: dict[str, float] = {}
    for name, scenario, paths, numpy_paths in cases:
        rows += bench_case(name, scenario, paths, numpy_paths, backends, args.repeats, compile_seconds)
    if not args.no_switch:
        rows += bench_switch(with_switch, args.switch_paths, min(args.switch_reference_paths, args.switch_paths),
                             backends, args.repeats)
    print(format_table(rows))
    if compile_seconds:
        print(f"\nFirst-call compile time (warm-up call minus a timed call of the same size, "
              f"up to {WARMUP_PATHS:,} paths):")
        for backend, seconds in compile_seconds.items():
            print(f"  {backend}: {seconds:.2f} s")

    floors = {b: floor_kernel(b)[2] for b in backends}
    report = {
        "pivotmc": pivotmc.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "python": sys.version,
        "numpy": np.__version__,
        "numba": numba_version(),
        "platform": platform.platform(),
        "repeats": args.repeats,
        "cases": [
            {"case": name, "steps_per_year": s.simulation.steps_per_year, "horizon_years": s.simulation.horizon_years,
             "steps": s.n_steps, "paths": paths, "numpy_paths": numpy_paths}
            for name, s, paths, numpy_paths in cases
        ] + ([] if args.no_switch else [
            {"case": "switch", "steps_per_year": with_switch.simulation.steps_per_year,
             "horizon_years": with_switch.simulation.horizon_years, "steps": with_switch.n_steps,
             "paths": args.switch_paths, "numpy_paths": min(args.switch_reference_paths, args.switch_paths),
             "learning_paths": with_switch.switch.learning_paths,
             "decisions_per_year": with_switch.switch.decisions_per_year}
        ]),
        "compile_seconds": compile_seconds,
        "floor_kernels": floors,
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
