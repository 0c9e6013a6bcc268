"""The table of cases of pivotmc.testing takes every branch of the model between its scenarios.

The executor agreement tests (tests/backends) run every case, so a branch no case takes would be
compared between executors only by the generated scenarios' luck. The switch's own branches are
checked beside the kernels' (tests/backends/test_cuda.py, ``test_cases_cover_the_switch``).
"""

from __future__ import annotations

import pytest

from pivotmc.model.scenario import STRATEGIES, Scenario
from pivotmc.testing import CASES, case

SCENARIOS = {name: case(name) for name in CASES}


def _some(predicate) -> bool:
    return any(predicate(s) for s in SCENARIOS.values())


def test_every_case_is_valid_and_the_default_is_the_default() -> None:
    assert SCENARIOS["default"] == Scenario.default()
    for name, overrides in CASES.items():
        assert overrides or name == "default", f"{name} repeats the default"
    assert len({s.to_toml() for s in SCENARIOS.values()}) == len(CASES), "two cases are the same scenario"


def test_cases_take_every_branch() -> None:
    branches = {
        "monthly steps": lambda s: s.simulation.steps_per_year == 12,
        "weekly steps": lambda s: s.simulation.steps_per_year == 52,
        "daily steps": lambda s: s.simulation.steps_per_year == 365,
        "a horizon past two halvings": lambda s: s.simulation.horizon_years > 8.0,
        "monthly power spikes": lambda s: s.power.spike_intensity > 0 and s.simulation.steps_per_year == 12,
        "weekly power spikes": lambda s: s.power.spike_intensity > 0 and s.simulation.steps_per_year == 52,
        "a PPA": lambda s: s.power.ppa_fraction > 0,
        "a demand-response credit": lambda s: s.mining.demand_response_credit > 0,
        "mining without curtailment": lambda s: not s.mining.curtailment,
        "the site paying the tenant's power": lambda s: not s.hosting.power_passthrough,
        "frequent tenant defaults": lambda s: s.hosting.default_hazard >= 1.0,
        "re-lets without downtime": lambda s: s.hosting.release_months == 0.0,
        "renewals and re-lets both": lambda s: 0.0 < s.hosting.renewal_probability < 1.0,
        "construction without lead time": lambda s: s.hosting.lead_time_max_months == 0.0,
        "a fixed lead time": lambda s: 0.0 < s.hosting.lead_time_min_months == s.hosting.lead_time_max_months,
        "a random lead time": lambda s: s.hosting.lead_time_min_months < s.hosting.lead_time_max_months,
        "frequent BTC jumps": lambda s: s.btc.jump_intensity >= 10.0,
        "a hybrid fraction other than the default": lambda s: s.strategies.hybrid_fraction != 0.5,
        "one static strategy alone": lambda s: s.strategies.evaluate in (("mine",), ("host",), ("hybrid",)),
        "strategies out of their usual order": lambda s: list(s.strategies.evaluate)
        != [x for x in STRATEGIES if x in s.strategies.evaluate],
    }
    for strategy in STRATEGIES:
        branches[f"valuing {strategy}"] = lambda s, x=strategy: x in s.strategies.evaluate
        branches[f"an exit multiple for {strategy}"] = (
            lambda s, x=strategy: getattr(s.terminal, x) > 0 and x in s.strategies.evaluate
        )
    missing = [branch for branch, taken in branches.items() if not _some(taken)]
    assert not missing, f"no case takes: {missing}"


def test_an_unknown_case_is_refused_with_the_names() -> None:
    with pytest.raises(KeyError, match="unknown case 'dayly'.*daily"):
        case("dayly")
    assert case("daily", {"strategies.evaluate": ["mine"]}).strategies.evaluate == ("mine",)
