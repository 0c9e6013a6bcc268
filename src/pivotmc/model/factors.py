"""The market factors, each declared once: what every list of factors in pivotmc derives from.

A :class:`Factor` is a market variable driven by one normal shock a step; the
shocks are correlated by the scenario's correlation matrix, whose rows and
columns follow :data:`MARKET_FACTORS`. A :class:`DerivedVariable` is computed
from the factors (hashprice) and is kept with them. Both are
:class:`KeptVariable` s: trajectories a run records for its kept paths, with
the units and names of the result's variables and what figures need.

What derives from here: ``FACTORS`` (the correlation keys, exported by
``pivotmc``), the size of correlation matrices, the executors' correlation
step and the random slots of the shocks, ``KEPT_FACTORS`` (the rows of the
kept trajectories in every executor and the variables of a result), the
variables' units and long names, the figures' titles and axes, and the
calibration's history columns and the parameters their last observations set.
Each executor still writes a factor's dynamics itself; the shock of factor
``name`` is at position ``FactorIndex[name]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pivotmc import random as rng

__all__ = [
    "KeptVariable",
    "Factor",
    "DerivedVariable",
    "MARKET_FACTORS",
    "DERIVED_VARIABLES",
    "FACTORS",
    "N_FACTORS",
    "FactorIndex",
    "SHOCK_SLOTS",
    "KEPT_VARIABLES",
    "KEPT_FACTORS",
    "FAN_CHART_VARIABLES",
    "factor",
]


@dataclass(frozen=True, kw_only=True)
class KeptVariable:
    """A trajectory recorded for kept paths, and how results and figures present it.

    Attributes
    ----------
    variable : str
        Name of the result's variable, dimensions ``(kept_path, time)``.
    units, long_name : str
        Its ``units`` and ``long_name`` attributes.
    kept_row : int
        Its row in the kept trajectories (every executor writes rows in this
        order) and so its place among a result's variables.
    title, axis_units : str
        A figure's title and the units written on its axis, in words.
    log_axis : bool
        Figures draw it on a logarithmic axis.
    fan_chart : int or None
        Its panel among the default fan charts (``plots.fan_charts``, the
        report); ``None``: not drawn unless asked for.
    """

    variable: str
    units: str
    long_name: str
    kept_row: int
    title: str
    axis_units: str
    log_axis: bool = False
    fan_chart: int | None = None


@dataclass(frozen=True, kw_only=True)
class Factor(KeptVariable):
    """A market factor: driven by one normal shock a step, correlated with the others.

    Attributes
    ----------
    name : str
        Its key in ``FACTORS`` and in correlation pairs (``correlation.btc_fees``).
    section : str
        The scenario section of its parameters.
    slot : int
        The per-step random slot of its shock, before correlation (a
        ``pivotmc.random.SLOT_Z_*``).
    initial : str
        The parameter that holds its value at t = 0.
    column : str
        The column of its history that calibration reads; the last
        observation sets ``initial``.
    """

    name: str
    section: str
    slot: int
    initial: str
    column: str


@dataclass(frozen=True, kw_only=True)
class DerivedVariable(KeptVariable):
    """A kept variable computed from the factors, with no shock of its own.

    Attributes
    ----------
    formula : str
        How it is computed, in words.
    """

    formula: str


#: Market factors in the order of the correlation matrix.
MARKET_FACTORS: tuple[Factor, ...] = (
    Factor(
        name="btc", section="btc", slot=rng.SLOT_Z_BTC, initial="btc.price", column="btc_price",
        variable="btc_price", units="USD", long_name="BTC price", kept_row=0,
        title="BTC price", axis_units="USD", log_axis=True, fan_chart=0,
    ),
    Factor(
        name="fees", section="fees", slot=rng.SLOT_Z_FEES, initial="fees.initial_btc", column="fees",
        variable="fees", units="BTC/block", long_name="transaction fees per block", kept_row=2,
        title="Transaction fees", axis_units="BTC per block",
    ),
    Factor(
        name="hashrate", section="hashrate", slot=rng.SLOT_Z_HASHRATE, initial="hashrate.initial_ehs", column="hashrate",
        variable="hashrate", units="EH/s", long_name="network hashrate", kept_row=1,
        title="Network hashrate", axis_units="EH/s",
    ),
    Factor(
        name="power", section="power", slot=rng.SLOT_Z_POWER, initial="power.price", column="power_price",
        variable="power_price", units="USD/MWh", long_name="site spot power price", kept_row=3,
        title="Site spot power price", axis_units="USD/MWh", fan_chart=2,
    ),
    Factor(
        name="lease", section="hosting", slot=rng.SLOT_Z_LEASE, initial="hosting.lease_rate", column="lease_rate",
        variable="lease_rate", units="USD/kW-month",
        long_name="market AI-hosting lease rate per kW of critical IT load", kept_row=4,
        title="AI-hosting lease rate", axis_units="USD per kW of IT load per month", fan_chart=3,
    ),
    Factor(
        name="gpu", section="gpu", slot=rng.SLOT_Z_GPU, initial="gpu.price", column="gpu_price",
        variable="gpu_price", units="USD/GPU-hour", long_name="market GPU rental price per GPU-hour (H100-equivalent)",
        kept_row=6, title="GPU rental price", axis_units="USD per GPU-hour", fan_chart=4,
    ),
)  # fmt: skip

#: Kept variables computed from the factors.
DERIVED_VARIABLES: tuple[DerivedVariable, ...] = (
    DerivedVariable(
        variable="hashprice", units="USD/PH/day", long_name="hashprice", kept_row=5,
        title="Hashprice", axis_units="USD per PH/s per day", fan_chart=1,
        formula="blocks_per_day (subsidy + fees) btc_price / (1000 hashrate)",
    ),
)  # fmt: skip

#: Names of the market factors, in the order of the correlation matrix.
FACTORS: tuple[str, ...] = tuple(f.name for f in MARKET_FACTORS)
N_FACTORS: int = len(MARKET_FACTORS)
#: Position of each factor's shock (``F.btc``): compiled kernels read the members as constants.
FactorIndex = IntEnum("FactorIndex", [(name, i) for i, name in enumerate(FACTORS)])
#: The random slot of each factor's shock, in factor order.
SHOCK_SLOTS: tuple[int, ...] = tuple(f.slot for f in MARKET_FACTORS)
#: Every kept variable, in the order of its rows.
KEPT_VARIABLES: tuple[KeptVariable, ...] = tuple(sorted((*MARKET_FACTORS, *DERIVED_VARIABLES), key=lambda v: v.kept_row))
#: Names of the kept trajectories, in the order of their rows and of a result's variables.
KEPT_FACTORS: tuple[str, ...] = tuple(v.variable for v in KEPT_VARIABLES)
#: The variables of the default fan charts, panel by panel.
FAN_CHART_VARIABLES: tuple[str, ...] = tuple(
    v.variable for v in sorted((v for v in KEPT_VARIABLES if v.fan_chart is not None), key=lambda v: v.fan_chart)
)


def factor(name: str) -> Factor:
    """The factor called ``name`` (a key of :data:`FACTORS`)."""
    return MARKET_FACTORS[FACTORS.index(name)]


def _check(market: tuple[Factor, ...], derived: tuple[DerivedVariable, ...]) -> None:
    """A declaration's own consistency, checked on import: a mistake here would be a silent one elsewhere."""
    kept = sorted((*market, *derived), key=lambda v: v.kept_row)
    names = [v.variable for v in kept]
    slots = [f.slot for f in market]
    panels = sorted(v.fan_chart for v in kept if v.fan_chart is not None)
    problems = {
        "factor names must be unique": len({f.name for f in market}) != len(market),
        "kept variable names must be unique": len(set(names)) != len(names),
        "kept rows must number 0 .. n - 1": [v.kept_row for v in kept] != list(range(len(kept))),
        "fan-chart panels must number 0 .. n - 1": panels != list(range(len(panels))),
        "each shock needs a per-step slot of its own": len(set(slots)) != len(slots)
        or not all(0 <= s < rng.N_STEP_SLOTS for s in slots),
        "calibration columns must be unique": len({f.column for f in market}) != len(market),
    }
    wrong = [what for what, failed in problems.items() if failed]
    if wrong:
        raise RuntimeError("the factor declaration is inconsistent: " + "; ".join(wrong) + ".")


_check(MARKET_FACTORS, DERIVED_VARIABLES)
