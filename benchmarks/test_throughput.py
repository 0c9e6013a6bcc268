"""Path-steps per second of every backend and of the numpy baseline, case by case (see suite.py)."""

from __future__ import annotations

import pytest

import numpy_baseline
import pivotmc
import suite
from pivotmc.model.plan import lower


def _numpy_warm_up(scenario, backend: str) -> None:
    """The numpy models compile nothing: a year of a few paths loads their code as well as the horizon would."""
    short = scenario.with_overrides({"simulation.horizon_years": min(1.0, scenario.simulation.horizon_years)})
    if backend == suite.ANALYST:
        numpy_baseline.run(lower(short), 100, seed=0)
    else:
        pivotmc.simulate(short, n_paths=100, backend=backend)


def test_static(case, runner, settings, measure, warm_up):
    """A plain run of the case's static strategies."""
    scenario = settings.scenario(case)
    plan = lower(scenario)
    n = settings.paths(case, runner)
    if runner == suite.ANALYST:
        _numpy_warm_up(scenario, runner)
        target = lambda seed: numpy_baseline.run(plan, n, seed=seed)  # noqa: E731
    else:
        if runner == suite.REFERENCE:
            _numpy_warm_up(scenario, runner)
        else:
            warm = min(n, suite.WARMUP_PATHS)
            warm_up(lambda: pivotmc.simulate(scenario, n_paths=warm, backend=runner), runner)
        target = lambda seed: pivotmc.simulate(scenario, n_paths=n, seed=seed, backend=runner)  # noqa: E731
    measure(target, case=case, backend=runner, role="run", paths=n, steps=plan.n_steps,
            strategies=plan.n_strategies)  # fmt: skip


def test_draws_only(case, runner, settings, measure, warm_up):
    """The floor: drawing the same random numbers as the plain run of the case, and nothing else."""
    scenario = settings.scenario(case)
    n = settings.paths(case, runner)
    draw = suite.draws_only(runner, n, scenario.n_steps)
    if draw is None:
        pytest.skip(f"no kernel drawing {runner}'s random numbers alone ({suite.FLOOR_KERNELS[runner]})")
    warm_up(suite.draws_only(runner, min(n, suite.WARMUP_PATHS), scenario.n_steps))
    measure(lambda seed: draw(), case=case, backend=runner, role="draws", paths=n, steps=scenario.n_steps,
            strategies=0)  # fmt: skip


def test_switch(runner, variant, settings, measure, warm_up, policy_cache):
    """All five strategies, the policy learned afresh in each timed run; the same without cloud; or the plain run."""
    with_switch = variant != "plain"
    scenario = settings.scenario("switch", static=not with_switch, cloud=variant != "nocloud")
    n = settings.paths("switch", runner)
    warm = min(n, suite.WARMUP_PATHS)
    policy_cache.clear_cache()
    warm_up(lambda: pivotmc.simulate(scenario, n_paths=warm, backend=runner),
            None if runner == suite.REFERENCE else runner)  # fmt: skip
    plan = lower(scenario)
    measure(
        lambda seed: pivotmc.simulate(scenario, n_paths=n, seed=seed, backend=runner),
        case="switch", backend=runner, role={"switch": "run"}.get(variant, variant), paths=n, steps=plan.n_steps,
        strategies=plan.n_strategies,
        # Learning is part of the cost: forget the policy, in memory and on disk, before every round.
        before_round=policy_cache.clear_cache if with_switch else None,
        learning_paths=scenario.switch.learning_paths if with_switch else None,
    )  # fmt: skip
