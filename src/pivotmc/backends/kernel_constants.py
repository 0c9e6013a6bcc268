"""Every constant the compiled kernels share with Python, each taken from the module that owns it.

The Numba kernels (:mod:`pivotmc.backends._cpu_kernels`) import them as globals, which Numba
freezes into the compiled code; the CUDA kernels (``kernels/``) get them as ``-D`` options made
here and refuse to compile without them (an ``#error`` in each source). No kernel source types a
copy of any of them.

===================================  ======================================================
Owner                                Constants (C names, ``PIVOTMC_`` left out)
===================================  ======================================================
:mod:`pivotmc.random`                the slot layout, Philox's constants and rounds, the
                                     uniform's bits, AS241's region bounds and coefficients
:mod:`pivotmc.backends.fastmath`     the kernels' own exp and log
:mod:`pivotmc.model.units`           months a year, hours a day and a year, PH per EH
:mod:`pivotmc.model.plan`            ``TINY_YEARS``; positions ``P_*`` and ``T_*`` in the packed
                                     plan and ``N_SCALARS``, its number of scalars; ``F_*`` of
                                     the switch's features (``SWITCH_FEATURES`` then
                                     ``CLOUD_FEATURES``), their number for the two-way and for
                                     the three-way switch
:mod:`pivotmc.backends`              rows ``KEPT_*`` of the kept trajectories
:mod:`pivotmc.model.factors`         ``N_FACTORS``, positions ``FACTOR_*``, the shocks' ``SHOCK_SLOTS``
:mod:`pivotmc.backends.accumulate`   the exact sums' ``QUANTUM``, ``Q_LIMIT`` and ``LIMB_BITS``
this module                          ``MAX_STRATEGIES``, ``WARP_SIZE`` (and the growth table's size)
===================================  ======================================================

Integers become C literals of the width they need, floats their exact ``repr``, and tuples of
coefficients two options: ``NAME``, the list ``PIVOTMC_COEF(c0)PIVOTMC_COEF(c1)...`` (one option
without commas, which nvcc would split at), and ``NAME_COUNT``, their number.
"""

from __future__ import annotations

__all__ = [
    "MAX_STRATEGIES",
    "GROWTH_TABLE_SIZE",
    "WARP_SIZE",
    "rng_constants",
    "math_constants",
    "model_constants",
    "factor_constants",
    "constants",
    "options",
    "rng_defines",
    "math_defines",
    "layout_defines",
]

#: Strategies valued at once: their accumulators live in registers (CUDA) or workspace rows (Numba).
MAX_STRATEGIES = 8
#: Lease escalator factors tabulated by whole contract year (longer than any horizon, 50 years);
#: beyond the table the kernels call pow.
GROWTH_TABLE_SIZE = 128
#: Threads of a CUDA warp: the kernels' exact sums add a warp's lanes together.
WARP_SIZE = 32

Value = int | float | tuple[float, ...]


def rng_constants() -> dict[str, Value]:
    """Every integer, float and coefficient tuple :mod:`pivotmc.random` exports."""
    from pivotmc import random as rng

    out: dict[str, Value] = {}
    for name in rng.__all__:
        value = getattr(rng, name)
        if isinstance(value, tuple):
            out[name] = tuple(float(c) for c in value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def math_constants() -> dict[str, Value]:
    """The constants of the kernels' exp and log (:func:`pivotmc.backends.fastmath.constants`)."""
    from pivotmc.backends import fastmath

    return fastmath.constants()


def model_constants(n_strategies: int | None = None, cloud: bool | None = None) -> dict[str, Value]:
    """Units, guards, exact-sum constants, sizes and array positions of the model kernel.

    With ``n_strategies``, also ``N_STRATEGIES``, and with ``cloud``, ``CLOUD`` (1 or 0: whether the
    plan values the cloud economics, :attr:`pivotmc.model.plan.Plan.values_cloud`): the model kernel
    is compiled per plan size and with or without the cloud's code.
    """
    from pivotmc.backends import KEPT_FACTORS
    from pivotmc.backends.accumulate import LIMB_BITS, QUANTISED_LIMIT, QUANTUM
    from pivotmc.model import units
    from pivotmc.model.plan import CLOUD_FEATURES, SCALAR_FIELDS, STEP_FIELDS, SWITCH_FEATURES, TINY_YEARS

    features = SWITCH_FEATURES + CLOUD_FEATURES
    names = ("MONTHS_PER_YEAR", "HOURS_PER_DAY", "HOURS_PER_YEAR", "PH_PER_EH")
    out: dict[str, Value] = {name: getattr(units, name) for name in names}
    out.update(TINY_YEARS=TINY_YEARS, QUANTUM=QUANTUM, Q_LIMIT=QUANTISED_LIMIT, LIMB_BITS=LIMB_BITS)
    out.update(MAX_STRATEGIES=MAX_STRATEGIES, WARP_SIZE=WARP_SIZE)
    out.update(SWITCH_FEATURES=len(SWITCH_FEATURES), CLOUD_SWITCH_FEATURES=len(features))
    out.update(N_SCALARS=len(SCALAR_FIELDS))
    out.update({f"P_{name}": i for i, name in enumerate(SCALAR_FIELDS)})
    out.update({f"T_{name}": i for i, name in enumerate(STEP_FIELDS)})
    out.update({f"KEPT_{name}": i for i, name in enumerate(KEPT_FACTORS)})
    out.update({f"F_{name}": i for i, name in enumerate(features)})
    out.update(factor_constants())
    if n_strategies is not None:
        out["N_STRATEGIES"] = int(n_strategies)
    if cloud is not None:
        out["CLOUD"] = int(bool(cloud))
    return out


def factor_constants() -> dict[str, Value]:
    """The market factors (:mod:`pivotmc.model.factors`): ``N_FACTORS``, each one's position ``FACTOR_*``,
    and ``SHOCK_SLOTS``, byte f of which holds the random slot of factor f's shock (one integer, so one
    option without commas)."""
    from pivotmc.model.factors import FACTORS, SHOCK_SLOTS

    if len(SHOCK_SLOTS) > 8 or max(SHOCK_SLOTS) > 0xFF:
        raise ValueError("the cuda kernels take at most 8 factors, with shocks in slots below 256.")
    out: dict[str, Value] = {"N_FACTORS": len(FACTORS), "SHOCK_SLOTS": sum(s << (8 * f) for f, s in enumerate(SHOCK_SLOTS))}
    out.update({f"FACTOR_{name}": i for i, name in enumerate(FACTORS)})
    return out


def constants() -> dict[str, Value]:
    """Every constant the CUDA kernels receive, by C name without the prefix (all but ``N_STRATEGIES``, ``CLOUD``)."""
    return {**rng_constants(), **math_constants(), **model_constants()}


def _literal(value: int | float) -> str:
    if isinstance(value, int):
        suffix = "" if value < 2**31 else "u" if value < 2**32 else "ull"
        return f"{value}{suffix}"
    text = repr(float(value))  # repr gives the double back exactly
    return f"({text})" if text.startswith("-") else text


def options(values: dict[str, Value]) -> list[str]:
    """``-D`` options of ``values`` (see the module notes for the forms)."""
    out = []
    for name, value in values.items():
        if isinstance(value, tuple):
            items = "".join(f"PIVOTMC_COEF({_literal(float(c))})" for c in value)
            out += [f"-DPIVOTMC_{name}={items}", f"-DPIVOTMC_{name}_COUNT={len(value)}"]
        else:
            out.append(f"-DPIVOTMC_{name}={_literal(value)}")
    return out


def rng_defines() -> list[str]:
    """``-D`` options of the random numbers (pivotmc_rng.cuh), from :mod:`pivotmc.random`."""
    return options(rng_constants())


def math_defines() -> list[str]:
    """``-D`` options of the kernels' exp and log (pivotmc_math.cuh), from :mod:`pivotmc.backends.fastmath`."""
    return options(math_constants())


def layout_defines(n_strategies: int, cloud: bool = False) -> list[str]:
    """Every ``-D`` option of the model kernel for ``n_strategies`` strategies, with the cloud's code or not."""
    return options({**rng_constants(), **math_constants(), **model_constants(n_strategies, cloud)})
