"""The benchmark suite on pytest-benchmark: its options, its rows, and the table printed at the end.

``pytest benchmarks/`` (or ``python benchmarks/run.py``, which adds the JSON file) times
every case of suite.py; the options of :data:`suite.OPTIONS` size it. After pytest-benchmark's
own statistics, the summary prints the table of derived columns (see suite.py); with
``--benchmark-json`` the file gets it too, under ``"pivotmc"``.
"""

from __future__ import annotations

import os
import time

import pytest

import suite

SETTINGS = pytest.StashKey[suite.Settings]()
MEASUREMENTS = pytest.StashKey[list]()
COMPILE_SECONDS = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pivotmc", "pivotmc benchmark suite (sizes, cases, backends)")
    for flag, kwargs in suite.OPTIONS:
        group.addoption(flag, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS] = suite.Settings.from_options(config.option)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[MEASUREMENTS] = []
    config.stash[COMPILE_SECONDS] = {}


def _rows(function: str, settings: suite.Settings) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """The parameters of each benchmark function, as the options ask."""
    cases = settings.cases()
    static_cases = [c for c in cases if c != "switch"]
    if function == "test_static":
        return ("case", "runner"), [(c, b) for c in static_cases for b in (suite.ANALYST, suite.REFERENCE, *settings.backends)]
    if function == "test_draws_only":
        return ("case", "runner"), [(c, b) for c in static_cases for b in settings.backends if b in suite.FLOOR_KERNELS]
    if function == "test_switch":
        runners = (suite.REFERENCE, *settings.backends) if "switch" in cases else ()
        return ("runner", "variant"), [(b, v) for b in runners for v in ("plain", "switch", "nocloud")]
    return (), []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names, rows = _rows(metafunc.function.__name__, metafunc.config.stash[SETTINGS])
    if rows:  # else left unparametrised, and deselected below
        metafunc.parametrize(names, rows, ids=["-".join(row) for row in rows])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SETTINGS]
    left_out = [item for item in items if _rows(item.originalname, settings)[0] and not hasattr(item, "callspec")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> suite.Settings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def policy_cache(tmp_path_factory):
    """A cache of learned switch policies of the suite's own: clearing it never touches the user's."""
    from pivotmc.policy import switch

    before = os.environ.get(switch.CACHE_DIR_ENV)
    os.environ[switch.CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("policy-cache"))
    yield switch
    if before is None:
        os.environ.pop(switch.CACHE_DIR_ENV, None)
    else:
        os.environ[switch.CACHE_DIR_ENV] = before


@pytest.fixture(scope="session")
def warm_up(pytestconfig: pytest.Config):
    """``warm_up(call, backend)`` runs ``call`` untimed; a compiled backend's first-call compile time is kept.

    The compile time is the first call minus a second one of the same size.
    """
    compile_seconds = pytestconfig.stash[COMPILE_SECONDS]

    def run(call, backend: str | None = None) -> None:
        started = time.perf_counter()
        call()
        if backend is not None and backend not in compile_seconds:
            first = time.perf_counter() - started
            started = time.perf_counter()
            call()
            compile_seconds[backend] = max(first - (time.perf_counter() - started), 0.0)

    return run


@pytest.fixture
def measure(benchmark, settings: suite.Settings, pytestconfig: pytest.Config):
    """``measure(target, ...)`` times ``target(seed)`` for ``--repeats`` rounds, seeds 0, 1, ..., and records it.

    ``before_round`` runs before each round, untimed.
    """

    def run(target, *, case: str, backend: str, role: str, paths: int, steps: int, strategies: int,
            before_round=None, learning_paths: int | None = None) -> None:  # fmt: skip
        seeds = iter(range(settings.repeats))

        def setup():
            if before_round is not None:
                before_round()
            return (next(seeds),), {}

        benchmark.group = case
        benchmark.extra_info.update(case=case, backend=backend, role=role, paths=paths, steps=steps,
                                    strategies=strategies, path_steps=paths * steps)  # fmt: skip
        benchmark.pedantic(target, setup=setup, rounds=settings.repeats, iterations=1, warmup_rounds=0)
        if benchmark.stats:  # nothing was timed under --benchmark-disable
            pytestconfig.stash[MEASUREMENTS].append(
                suite.Measurement(case, backend, role, paths, steps, strategies, tuple(benchmark.stats.stats.data),
                                  learning_paths)
            )  # fmt: skip

    return run


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    output_json["pivotmc"] = suite.report(config.stash[SETTINGS], config.stash[MEASUREMENTS],
                                          config.stash[COMPILE_SECONDS])  # fmt: skip


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    measurements = config.stash.get(MEASUREMENTS, [])
    if not measurements:
        return
    write = terminalreporter.write_line
    terminalreporter.section("pivotmc: path-steps per second")
    for line in suite.header(config.stash[SETTINGS]):
        write(line)
    write("")
    for line in suite.format_table(suite.derive_rows(measurements)).splitlines():
        write(line)
    compile_seconds = config.stash[COMPILE_SECONDS]
    if compile_seconds:
        write("")
        write(f"First-call compile time (warm-up call minus a second call of the same size, up to "
              f"{suite.WARMUP_PATHS:,} paths):")  # fmt: skip
        for backend, seconds in compile_seconds.items():
            write(f"  {backend}: {seconds:.2f} s")
