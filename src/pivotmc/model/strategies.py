"""The strategies, declared once: how each splits the site between mining and a conversion (leasing
the building to a tenant, ``host``, or selling compute from GPUs it owns, ``cloud``), or that a
learned policy decides when and to which to convert it, which of them the option to wait is measured
against, how tables and figures name them, and where the scenario keeps their exit multiples.

Everything else reads this table: :data:`STRATEGIES` and the scenario's choices, the plan's
per-strategy arrays (the shares of the grid converted to each use at t = 0, the exit multiple,
the position of the learned strategy), the option value and the summaries, figures and report.
The executors implement two kinds of strategy: a fixed split of the grid from t = 0, and the one
learned strategy, which mines until its policy converts the whole site to one of the
conversions (:data:`CONVERSIONS`) valued as static strategies of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = [
    "StrategySpec",
    "STRATEGY_SPECS",
    "STRATEGIES",
    "STATIC_STRATEGIES",
    "LEARNED_STRATEGY",
    "spec",
    "learned_strategy",
    "static_strategies",
    "conversion_shares",
    "CONVERSIONS",
    "learned_actions",
    "exit_multiples",
    "tie_reason",
]


@dataclass(frozen=True)
class StrategySpec:
    """One strategy.

    Attributes
    ----------
    name : str
        As results, scenarios and the command line name it.
    long_name : str
        What it does, in a few words, for tables, figures and reports.
    converted : float or str
        Share of the grid capacity converted to hosting at t = 0, the rest mining: a number,
        or the scenario parameter that holds it (``"strategies.hybrid_fraction"``).
    exit_multiple : str
        The scenario parameter that holds its exit multiple of final-year EBITDA.
    learned : bool
        It starts as ``converted`` says and converts the whole site at the decision date
        its learned policy picks (the switch). At most one strategy is learned.
    static : bool
        One of the choices the learned strategy defers, made once at t = 0: the option to
        wait is the learned strategy's mean NPV over the best of them.
    converts_to : str
        What its converted share becomes (one of :data:`CONVERSIONS`): ``"host"``, a
        building leased to a tenant, or ``"cloud"``, GPUs the site owns selling compute.
    """

    name: str
    long_name: str
    converted: float | str
    exit_multiple: str
    learned: bool = False
    static: bool = False
    converts_to: str = "host"

    def conversion_share(self, scenario: Any) -> float:
        """The share of the grid converted at t = 0 under ``scenario`` (a :class:`~pivotmc.model.scenario.Scenario`)."""
        if isinstance(self.converted, str):
            return float(scenario.value(self.converted))
        return float(self.converted)

    @property
    def converts_at_start(self) -> bool:
        """Whether some of the site is converted at t = 0 (a share set by the scenario counts)."""
        return isinstance(self.converted, str) or self.converted > 0.0

    @property
    def mines(self) -> bool:
        """Whether some of the site mines for a while (a share set by the scenario counts)."""
        return self.learned or isinstance(self.converted, str) or self.converted < 1.0


#: Every strategy, in the order results list them.
STRATEGY_SPECS: tuple[StrategySpec, ...] = (
    StrategySpec("mine", "keep mining on the whole site", 0.0, "terminal.mine", static=True),
    StrategySpec("host", "convert the whole site to hosting now", 1.0, "terminal.host", static=True),
    StrategySpec("hybrid", "convert part of the site now, mine the rest", "strategies.hybrid_fraction", "terminal.hybrid"),
    StrategySpec("switch", "mine, convert the whole site later if it pays", 0.0, "terminal.switch", learned=True),
    StrategySpec("cloud", "convert the whole site and sell compute now", 1.0, "terminal.cloud", static=True, converts_to="cloud"),
)
#: The uses a converted share can have, in the order of the learned strategy's actions.
CONVERSIONS: tuple[str, ...] = ("host", "cloud")


def _check(specs: tuple[StrategySpec, ...]) -> None:
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"strategy names repeat: {names}")  # pragma: no cover - the table above
    if sum(s.learned for s in specs) > 1:
        raise ValueError("at most one strategy follows a learned policy")  # pragma: no cover - the table above
    if any(s.converts_to not in CONVERSIONS for s in specs):
        raise ValueError("a strategy converts to an unknown use")  # pragma: no cover - the table above
    if any(s.learned and s.static for s in specs):
        raise ValueError("the learned strategy is not one the option is measured against")  # pragma: no cover


_check(STRATEGY_SPECS)
_BY_NAME = {s.name: s for s in STRATEGY_SPECS}
#: Names of the strategies, in result order.
STRATEGIES: tuple[str, ...] = tuple(s.name for s in STRATEGY_SPECS)
#: The strategies the option to wait is measured against: the better of them by mean NPV.
STATIC_STRATEGIES: tuple[str, ...] = tuple(s.name for s in STRATEGY_SPECS if s.static)
#: The strategy that follows a learned policy (the real option).
LEARNED_STRATEGY: str = next(s.name for s in STRATEGY_SPECS if s.learned)


def spec(name: str) -> StrategySpec | None:
    """The declaration of the strategy called ``name``; None for a name pivotmc does not declare."""
    return _BY_NAME.get(str(name))


def learned_strategy(names: Sequence[str]) -> str | None:
    """The strategy among ``names`` that follows a learned policy, or None."""
    return next((str(n) for n in names if (s := spec(n)) is not None and s.learned), None)


def static_strategies(names: Sequence[str]) -> list[str]:
    """The strategies among ``names`` that the option to wait is measured against, in table order."""
    present = {str(n) for n in names}
    return [n for n in STATIC_STRATEGIES if n in present]


def conversion_shares(scenario: Any, names: Sequence[str], to: str = "host") -> np.ndarray:
    """(strategies,) share of the grid each of ``names`` converts to use ``to`` (a :data:`CONVERSIONS`) at t = 0."""
    return np.array(
        [_BY_NAME[n].conversion_share(scenario) if _BY_NAME[n].converts_to == to else 0.0 for n in names], dtype=np.float64
    )


def learned_actions(names: Sequence[str]) -> tuple[str, ...]:
    """The conversions the learned strategy may choose among ``names``: those a static strategy of the run
    converts the whole site to (``host`` always, when a learned strategy is valued), in :data:`CONVERSIONS` order.

    The option to wait is measured against the static strategies valued, so the learned strategy chooses among
    the same conversions: without ``cloud`` in the run it is the two-way switch (mine or host).
    """
    present = {str(n) for n in names}
    chosen = {
        s.converts_to for s in STRATEGY_SPECS if s.static and s.name in present and s.converted == 1.0
    }
    return tuple(c for c in CONVERSIONS if c == "host" or c in chosen)


def exit_multiples(scenario: Any, names: Sequence[str]) -> np.ndarray:
    """(strategies,) exit multiple of final-year EBITDA of each of ``names`` under ``scenario``."""
    return np.array([float(scenario.value(_BY_NAME[n].exit_multiple)) for n in names], dtype=np.float64)


def tie_reason(a: str, b: str) -> str | None:
    """Why strategies ``a`` and ``b`` can have equal NPVs on a path, in words; None if they need not.

    The learned strategy equals a static split on the paths on which it keeps the split it
    starts with (it never converts), and the whole-site conversion on those on which it
    converts at the first decision date (at the start).
    """
    sa, sb = spec(a), spec(b)
    if sa is None or sb is None or sa.learned == sb.learned:
        return None
    learned, other = (sa, sb) if sa.learned else (sb, sa)
    if isinstance(other.converted, str) or isinstance(learned.converted, str):
        return None
    if other.converted == learned.converted:
        return f"{learned.name} equals {other.name} on the paths on which it never converts"
    if other.converted == 1.0:
        return f"{learned.name} equals {other.name} on the paths on which it converts to {other.converts_to} at the start"
    return None
