"""pivotmc benchmark suite: path-steps per second of each backend on the default scenario.

Usage::

    python benchmarks/run.py                 # default cases, table on stdout, JSON in benchmarks/results/
    python benchmarks/run.py --paths 20000 --repeats 3 --json out.json

Each case is timed ``--repeats`` times after one warm-up run (which also pays
any compilation); the table quotes the median. Ratios are to the ``reference``
backend measured in the same process, so they are comparable across machines
even where absolute times are not.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import pivotmc
from pivotmc.backends import available_backends
from pivotmc.scenario import Scenario


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_case(scenario: Scenario, backend: str, paths: int, repeats: int) -> list[float]:
    pivotmc.simulate(scenario, n_paths=min(paths, 1000), seed=0, backend=backend)  # warm-up / compile
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        pivotmc.simulate(scenario, n_paths=paths, seed=r, backend=backend)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=100_000, help="paths per timed run of the reference (default 100,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case; the median is reported")
    parser.add_argument("--backends", default=",".join(available_backends()), help="comma-separated backends")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    args = parser.parse_args(argv)

    scenario = Scenario.default()
    steps = scenario.n_steps
    rows = []
    for backend in args.backends.split(","):
        times = time_case(scenario, backend, args.paths, args.repeats)
        median = statistics.median(times)
        rows.append({
            "backend": backend,
            "paths": args.paths,
            "steps": steps,
            "strategies": len(scenario.strategies.evaluate),
            "seconds_median": median,
            "seconds_all": times,
            "path_steps_per_s": args.paths * steps / median,
        })
    reference = next((r["path_steps_per_s"] for r in rows if r["backend"] == "reference"), None)
    for row in rows:
        row["ratio_to_reference"] = row["path_steps_per_s"] / reference if reference else None

    header = f"{'backend':<10} {'paths':>10} {'steps':>6} {'seconds':>9} {'path-steps/s':>14} {'x reference':>12}"
    print(f"pivotmc {pivotmc.__version__} on {cpu_model()}, Python {platform.python_version()}; default scenario, all strategies")
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['ratio_to_reference']:.2f}" if row["ratio_to_reference"] else "-"
        print(f"{row['backend']:<10} {row['paths']:>10,} {row['steps']:>6} {row['seconds_median']:>9.3f} "
              f"{row['path_steps_per_s']:>14,.0f} {ratio:>12}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"cpu": cpu_model(), "python": sys.version, "pivotmc": pivotmc.__version__, "rows": rows}, indent=2))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
