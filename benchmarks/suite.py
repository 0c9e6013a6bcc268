"""What the benchmark suite measures and how it reports it; shared by conftest.py, run.py and the tests.

Three cases, each a scenario of :data:`pivotmc.testing.CASES` picked by name:

* ``monthly``: ``default`` (15 years, monthly steps), its static strategies (mine, host,
  hybrid), the ones the numpy baseline writes out;
* ``daily``: ``daily``, the same with daily steps;
* ``switch``: ``default`` with all five strategies, the switch policy (three-way: mine,
  host or cloud) learned afresh in every timed run, beside a plain (static) run of the
  same paths, the cost of the option, and beside the same run without ``cloud`` (four
  strategies, the two-way switch learned afresh), the cost of selling compute.

Each timed run is one pytest-benchmark round. The table derives, per case and backend, the
path-steps per second and their ratio to the ``reference`` row ("x reference") and to the
``numpy-analyst`` row ("x analyst"); for compiled backends the floor, the run's time over
the time of drawing the same random numbers alone; for the switch case, "x plain", the
time with switch over the plain run's, and "x no cloud", the time over that of the run
without cloud. Every figure is a median over the rounds.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import importlib
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
try:
    import pivotmc
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent / "src"))
    import pivotmc

from pivotmc.model.scenario import Scenario  # noqa: E402

ANALYST = "numpy-analyst"
REFERENCE = "reference"
#: The strategies a plain run values (the numpy baseline's).
STATIC = ("mine", "host", "hybrid")
#: The strategies of the switch case's run without cloud.
WITHOUT_CLOUD = ("mine", "host", "hybrid", "switch")
#: Paths of a compiled backend's warm-up call: enough to touch every code path,
#: few enough that the call is almost all compilation.
WARMUP_PATHS = 1000
COLUMNS = ("case", "backend", "paths", "steps", "seconds", "path-steps/s", "x reference", "x analyst", "floor", "x plain",
           "x no cloud")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class BenchCase:
    """A case of the suite: a scenario of the table of cases, and the options that size it."""

    table_name: str  # key of pivotmc.testing.CASES
    static: bool  # values the static strategies only
    paths: str  # option (attribute name) with the compiled backends' paths
    numpy_paths: str  # option with the paths of the numpy rows (at most ``paths``)


BENCH_CASES = {
    "monthly": BenchCase("default", True, "paths", "reference_paths"),
    "daily": BenchCase("daily", True, "daily_paths", "daily_reference_paths"),
    "switch": BenchCase("default", False, "switch_paths", "switch_reference_paths"),
}

#: The suite's command-line options: (flag, keyword arguments of argparse's add_argument).
OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--paths", {"type": int, "default": 1_000_000, "help": "paths of the compiled backends, monthly case"}),
    ("--reference-paths", {"type": int, "default": 50_000,
                           "help": "paths of the reference and numpy-analyst rows, monthly case"}),
    ("--daily-paths", {"type": int, "default": 1_000_000, "help": "paths of the compiled backends, daily case"}),
    ("--daily-reference-paths", {"type": int, "default": 5_000,
                                 "help": "paths of the reference and numpy-analyst rows, daily case"}),
    ("--no-daily", {"action": "store_true", "help": "leave out the daily case"}),
    ("--switch-paths", {"type": int, "default": 1_000_000, "help": "paths of the compiled backends, switch case"}),
    ("--switch-reference-paths", {"type": int, "default": 5_000, "help": "paths of the reference row, switch case"}),
    ("--switch-learning-paths", {"type": int, "default": None,
                                 "help": "paths that learn the switch policy (switch.learning_paths; None keeps the scenario's)"}),
    ("--no-switch", {"action": "store_true", "help": "leave out the switch case"}),
    ("--repeats", {"type": int, "default": 3, "help": "timed runs (rounds) per row; the table quotes the median"}),
    ("--backends", {"default": None,
                    "help": "comma-separated backends besides reference (None: every one available here)"}),
)  # fmt: skip
COUNTS = ("paths", "reference_paths", "daily_paths", "daily_reference_paths", "switch_paths",
          "switch_reference_paths", "switch_learning_paths", "repeats")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Settings:
    """The options, checked and resolved."""

    values: dict[str, Any]
    backends: tuple[str, ...]

    @classmethod
    def from_options(cls, options: argparse.Namespace | Any) -> Settings:
        """Settings from parsed options; ``ValueError`` with one line when one is wrong."""
        from pivotmc.backends import BACKENDS, available_backends

        values = {dest: getattr(options, dest) for dest in (flag[2:].replace("-", "_") for flag, _ in OPTIONS)}
        for name in COUNTS:
            if values[name] is not None and values[name] < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {values[name]}")
        if values["backends"] is None:
            backends = [b for b in available_backends() if b != REFERENCE]
        else:
            backends = [b.strip() for b in values["backends"].split(",") if b.strip() and b.strip() != REFERENCE]
        unknown = [b for b in backends if b not in BACKENDS]
        if unknown:
            raise ValueError(f"--backends: unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
        return cls(values, tuple(dict.fromkeys(backends)))

    @property
    def repeats(self) -> int:
        return int(self.values["repeats"])

    def cases(self) -> list[str]:
        skip = {"daily": self.values["no_daily"], "switch": self.values["no_switch"]}
        return [name for name in BENCH_CASES if not skip.get(name, False)]

    def compiled_paths(self, case: str) -> int:
        return int(self.values[BENCH_CASES[case].paths])

    def numpy_paths(self, case: str) -> int:
        """Paths of the numpy rows (reference, numpy-analyst): slow, and as fast per path-step at fewer paths."""
        return min(int(self.values[BENCH_CASES[case].numpy_paths]), self.compiled_paths(case))

    def paths(self, case: str, backend: str) -> int:
        return self.numpy_paths(case) if backend in (ANALYST, REFERENCE) else self.compiled_paths(case)

    def scenario(self, case: str, static: bool | None = None, cloud: bool = True) -> Scenario:
        """The case's scenario; ``static`` (default: the case's own choice) keeps the static strategies only;
        ``cloud=False`` leaves cloud out of a run with switch (:data:`WITHOUT_CLOUD`)."""
        # Imported here: pivotmc.testing brings hypothesis, whose pytest plugin pytest wants to load first.
        from pivotmc.testing import case as case_scenario

        spec = BENCH_CASES[case]
        overrides: dict[str, Any] = {}
        if self.values["switch_learning_paths"] is not None:
            overrides["switch.learning_paths"] = self.values["switch_learning_paths"]
        if spec.static if static is None else static:
            overrides["strategies.evaluate"] = list(STATIC)
        elif not cloud:
            overrides["strategies.evaluate"] = list(WITHOUT_CLOUD)
        return case_scenario(spec.table_name, overrides)


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The times of one benchmark: ``role`` is ``run``, ``draws`` (random numbers alone) or ``plain``."""

    case: str
    backend: str
    role: str
    paths: int
    steps: int
    strategies: int
    times: tuple[float, ...]
    learning_paths: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --------------------------------------------------------------------------- #
# The floor: drawing a backend's random numbers alone
# --------------------------------------------------------------------------- #
#: Per backend: the function that draws only its random numbers, by dotted name. Looked up
#: at run time, so that a renamed or moved kernel costs the floor column, not the benchmark.
FLOOR_KERNELS = {
    "cpu": "pivotmc.backends._cpu_kernels.step_uniforms_only",
    "cuda": "pivotmc.backends.cuda.time_draws_only",
}


def _cpu_block() -> int:
    from pivotmc.backends import cpu

    return int(cpu.DEFAULT_BLOCK_PATHS)


#: How each backend's function is called for the paths 0 .. paths - 1 of ``steps`` steps under ``key``.
_FLOOR_CALLS: dict[str, Callable[..., object]] = {
    "cpu": lambda function, key, paths, steps: function(key[0], key[1], 0, paths, steps, _cpu_block()),
    "cuda": lambda function, key, paths, steps: function(key, paths, steps),
}


def draws_only(backend: str, paths: int, steps: int) -> Callable[[], object] | None:
    """A call that draws ``backend``'s random numbers of ``paths`` x ``steps`` alone; None where there is none."""
    from pivotmc import random as rng

    dotted = FLOOR_KERNELS.get(backend)
    if dotted is None:
        return None
    module, _, name = dotted.rpartition(".")
    try:
        function = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    if function is None:
        return None
    call, key = _FLOOR_CALLS[backend], rng.seed_key(0)
    return lambda: call(function, key, paths, steps)


# --------------------------------------------------------------------------- #
# The table
# --------------------------------------------------------------------------- #
def derive_rows(measurements: list[Measurement]) -> list[dict[str, Any]]:
    """One row per (case, backend) run, with the ratios the table prints, in case order then backend order."""
    by_key = {(m.case, m.backend, m.role): m for m in measurements}
    runs = [m for m in measurements if m.role == "run"]
    backend_order = {ANALYST: 0, REFERENCE: 1}
    for m in runs:
        backend_order.setdefault(m.backend, len(backend_order))
    case_order = {name: i for i, name in enumerate(BENCH_CASES)}
    runs.sort(key=lambda m: (case_order.get(m.case, len(case_order)), backend_order[m.backend]))

    def rate(m: Measurement | None) -> float | None:
        return None if m is None else m.paths * m.steps / m.median

    rows = []
    for m in runs:
        draws, plain = by_key.get((m.case, m.backend, "draws")), by_key.get((m.case, m.backend, "plain"))
        no_cloud = by_key.get((m.case, m.backend, "nocloud"))
        reference, analyst = rate(by_key.get((m.case, REFERENCE, "run"))), rate(by_key.get((m.case, ANALYST, "run")))
        rows.append({
            "case": m.case, "backend": m.backend, "paths": m.paths, "steps": m.steps, "strategies": m.strategies,
            "seconds_median": m.median, "seconds_all": list(m.times), "path_steps_per_s": rate(m),
            "ratio_to_reference": None if reference is None else rate(m) / reference,
            "ratio_to_analyst": None if analyst is None else rate(m) / analyst,
            "floor_seconds_median": None if draws is None else draws.median,
            "floor_ratio": None if draws is None else m.median / draws.median,
            "plain_seconds_median": None if plain is None else plain.median,
            "ratio_to_plain": None if plain is None else m.median / plain.median,
            "no_cloud_seconds_median": None if no_cloud is None else no_cloud.median,
            "ratio_to_no_cloud": None if no_cloud is None else m.median / no_cloud.median,
            "learning_paths": m.learning_paths,
        })  # fmt: skip
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:,.2f}"

    cells = [COLUMNS] + [
        (
            row["case"], row["backend"], f"{row['paths']:,}", f"{row['steps']:,}", f"{row['seconds_median']:.3f}",
            f"{row['path_steps_per_s']:,.0f}", ratio(row["ratio_to_reference"]), ratio(row["ratio_to_analyst"]),
            ratio(row["floor_ratio"]), ratio(row["ratio_to_plain"]), ratio(row.get("ratio_to_no_cloud")),
        )
        for row in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


LEGEND = (
    "x reference / x analyst: path-steps per second over the reference / numpy-analyst row of the same case.",
    "floor: seconds over the seconds to draw only the same random numbers.",
    "x plain (switch case): seconds with switch, its policy learned afresh, over a static run of the same paths.",
    "x no cloud (switch case): seconds of the five strategies over those of the same run without cloud.",
)


# --------------------------------------------------------------------------- #
# The machine
# --------------------------------------------------------------------------- #
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The CPU, thread count and versions every set of figures is read with."""
    import numba
    import numpy as np

    return {
        "pivotmc": pivotmc.__version__, "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "threads": int(numba.get_num_threads()), "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "platform": platform.platform(),
    }  # fmt: skip


def header(settings: Settings) -> list[str]:
    m = machine()
    default = settings.scenario("monthly")
    return [
        f"pivotmc {m['pivotmc']} on {m['cpu']}, {m['threads']} threads (os.cpu_count {m['cpu_count']}); "
        f"Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}",
        f"Default scenario, {len(default.strategies.evaluate)} strategies, {default.simulation.horizon_years:g} years; "
        f"median of {settings.repeats} run(s) after a warm-up.",
        *LEGEND,
    ]


def report(settings: Settings, measurements: list[Measurement], compile_seconds: dict[str, float]) -> dict[str, Any]:
    """The suite's own section of the JSON file: machine, cases, compile times and the derived rows."""
    cases = []
    for name in settings.cases():
        scenario = settings.scenario(name)
        entry = {"case": name, "table_case": BENCH_CASES[name].table_name,
                 "strategies": list(scenario.strategies.evaluate),
                 "steps_per_year": scenario.simulation.steps_per_year,
                 "horizon_years": scenario.simulation.horizon_years, "steps": scenario.n_steps,
                 "paths": settings.compiled_paths(name), "numpy_paths": settings.numpy_paths(name)}
        if "switch" in scenario.strategies.evaluate:
            entry.update(learning_paths=scenario.switch.learning_paths,
                         decisions_per_year=scenario.switch.decisions_per_year)
        cases.append(entry)
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **machine(),
        "repeats": settings.repeats,
        "backends": list(settings.backends),
        "cases": cases,
        "compile_seconds": compile_seconds,
        "floor_kernels": {b: FLOOR_KERNELS[b] for b in settings.backends if b in FLOOR_KERNELS},
        "rows": derive_rows(measurements),
    }  # fmt: skip
