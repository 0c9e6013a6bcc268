"""The strategy table: every list of strategies, and every per-strategy number of the plan, comes from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import pivotmc
from pivotmc import Scenario
from pivotmc.model.plan import lower
from pivotmc.model.scenario import StrategySettings, TerminalSettings
from pivotmc.model.strategies import (
    LEARNED_STRATEGY,
    STATIC_STRATEGIES,
    STRATEGIES,
    STRATEGY_SPECS,
    learned_actions,
    learned_strategy,
    spec,
    static_strategies,
    tie_reason,
)

DEFAULT = Scenario.default()


def test_the_lists_of_strategies_are_the_table_s() -> None:
    assert STRATEGIES == tuple(s.name for s in STRATEGY_SPECS) == pivotmc.STRATEGIES
    assert STATIC_STRATEGIES == tuple(s.name for s in STRATEGY_SPECS if s.static)
    assert [s.name for s in STRATEGY_SPECS if s.learned] == [LEARNED_STRATEGY]
    assert LEARNED_STRATEGY not in STATIC_STRATEGIES
    # The scenario offers exactly these, in this order, and values them all by default.
    choices = next(f for f in dataclasses.fields(StrategySettings) if f.name == "evaluate").metadata["choices"]
    assert tuple(choices) == STRATEGIES == DEFAULT.strategies.evaluate


def test_every_strategy_names_parameters_the_scenario_has() -> None:
    terminal = {f"{TerminalSettings.section}.{f.name}" for f in dataclasses.fields(TerminalSettings)}
    assert {s.exit_multiple for s in STRATEGY_SPECS} == terminal  # one exit multiple each, and no other
    for s in STRATEGY_SPECS:
        DEFAULT.value(s.exit_multiple)
        if isinstance(s.converted, str):
            assert 0.0 <= DEFAULT.value(s.converted) <= 1.0
        else:
            assert 0.0 <= s.converted <= 1.0
        assert s.long_name and s.long_name != s.name


@pytest.mark.parametrize("evaluate", [STRATEGIES, ("hybrid", "mine"), ("switch", "host"), ("host",)])
def test_the_plan_reads_shares_exit_multiples_and_the_learned_strategy_from_the_table(evaluate) -> None:
    overrides = {"strategies.evaluate": list(evaluate), "strategies.hybrid_fraction": 0.3}
    overrides.update({s.exit_multiple: float(i + 2) for i, s in enumerate(STRATEGY_SPECS)})
    scenario = DEFAULT.with_overrides(overrides)
    plan = lower(scenario)
    assert plan.strategies == evaluate
    expected_share = {"mine": 0.0, "host": 1.0, "hybrid": 0.3, "switch": 0.0, "cloud": 0.0}  # switch starts mining
    np.testing.assert_array_equal(plan.conversion_share, [expected_share[n] for n in evaluate])
    np.testing.assert_array_equal(plan.cloud_share, [float(n == "cloud") for n in evaluate])
    np.testing.assert_array_equal(plan.exit_multiple, [scenario.value(f"terminal.{n}") for n in evaluate])
    assert plan.conversion_share.dtype == plan.exit_multiple.dtype == np.float64
    assert plan.switch_index == (evaluate.index("switch") if "switch" in evaluate else -1)
    # The learned strategy's exit multiple is there for learning its policy, valued or not.
    assert plan.switch_exit_multiple == scenario.terminal.switch


def test_lookups_and_unknown_names() -> None:
    assert spec("host").static and spec("switch").learned and spec("wait") is None
    assert learned_strategy(["mine", "switch"]) == "switch"
    assert learned_strategy(["mine", "host"]) is None and learned_strategy(["a", "b"]) is None
    assert static_strategies(["switch", "host", "hybrid", "mine"]) == ["mine", "host"]  # table order
    assert static_strategies(["cloud", "switch", "mine"]) == ["mine", "cloud"]


def test_the_switch_chooses_among_the_whole_site_conversions_the_run_values() -> None:
    assert learned_actions(["mine", "host", "hybrid", "switch"]) == ("host",)
    assert learned_actions(["switch", "cloud"]) == ("host", "cloud")
    assert lower(DEFAULT).switch_actions == ("host", "cloud") and lower(DEFAULT).switch_features[-1] == "gpu_price"
    two_way = lower(DEFAULT.with_overrides({"strategies.evaluate": ["mine", "host", "switch"]}))
    assert two_way.switch_actions == ("host",) and "gpu_price" not in two_way.switch_features
    assert static_strategies(["hybrid", "switch", "x"]) == []
    assert spec("mine").mines and not spec("mine").converts_at_start
    assert spec("host").converts_at_start and not spec("host").mines
    assert spec("hybrid").mines and spec("hybrid").converts_at_start  # its share is the scenario's
    assert spec("switch").mines and not spec("switch").converts_at_start


def test_ties_are_explained_where_the_learned_strategy_copies_a_static_one() -> None:
    never = "switch equals mine on the paths on which it never converts"
    at_start = "switch equals host on the paths on which it converts to host at the start"
    assert tie_reason("switch", "mine") == tie_reason("mine", "switch") == never
    assert tie_reason("host", "switch") == tie_reason("switch", "host") == at_start
    for a, b in [("mine", "host"), ("hybrid", "switch"), ("mine", "mine"), ("switch", "x"), ("a", "b")]:
        assert tie_reason(a, b) is None
