"""The ``cpu`` backend: fused Numba kernels, parallel over blocks of paths.

The scenario is packed once into flat arrays (:func:`pivotmc.model.plan.pack`);
:func:`pivotmc.backends._cpu_kernels.simulate_paths` (and ``learning_paths``) do the rest. Compiled
kernels are cached on disk next to the module (Numba's ``cache=True``), so
only the first run on a machine pays the compilation.
"""

from __future__ import annotations

import numpy as np

from pivotmc.backends.accumulate import ExactSum, overflow_error
from pivotmc.backends.kernel_constants import MAX_STRATEGIES
from pivotmc.errors import ValidationError
from pivotmc.model.plan import Plan, pack
from pivotmc.model.strategies import CONVERSIONS
from pivotmc.backends import Capabilities, ChunkResult, KeptPaths, policy_kernel_arrays

__all__ = ["CAPABILITIES", "prepare", "run_chunk", "switch_learning_data", "unavailable_reason", "DEFAULT_BLOCK_PATHS"]

CAPABILITIES = Capabilities(learning=True, compiles=True)
#: Lanes per block: the per-lane state of a block stays in the L1/L2 caches.
DEFAULT_BLOCK_PATHS = 256  # lanes per block; the kernel caps it at _cpu_kernels.LANES


def unavailable_reason() -> str | None:
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a base dependency
        return "backend 'cpu' needs numba: pip install numba."
    return None


#: The switch's actions the kernels know, in the order they number them (host 0, cloud 1).
_ACTIONS = CONVERSIONS


def _actions(plan: Plan) -> tuple[int, int]:
    """The positions of host and cloud among the switch's actions (-1 for one it does not have)."""
    actions = plan.switch_actions
    if actions != _ACTIONS[: len(actions)]:  # pragma: no cover - pivotmc.model.strategies orders them so
        raise ValidationError(f"the cpu backend values a switch among {_ACTIONS}, in that order; got {actions}.")
    return tuple(actions.index(name) if name in actions else -1 for name in _ACTIONS)


def _no_policy(plan: Plan) -> tuple:
    """(centre, scale, coefficients, terms) of no policy: runs without the switch, and learning runs."""
    k = len(plan.switch_features)
    return np.zeros((0, k)), np.ones((0, k)), np.zeros((1, 0, 1)), np.zeros((0, k), dtype=np.int64)


def _policy_arrays(plan: Plan, policy) -> tuple:
    """The switch's kernel arguments: its decision steps, policy arrays, exit multiple and the positions of its
    actions (no policy when the switch is not valued).

    The coefficients are (actions, dates, terms); a policy with one action may give them as (dates, terms).
    """
    exit_multiple = float(plan.switch_exit_multiple)
    if plan.switch_index < 0:
        return (np.zeros(0, dtype=np.int64), *_no_policy(plan), exit_multiple, *_actions(plan))
    centre, scale, coef, terms = policy_kernel_arrays(plan, policy)
    return _decision_steps(plan), centre, scale, coef, terms, exit_multiple, *_actions(plan)


def _decision_steps(plan: Plan) -> np.ndarray:
    return np.ascontiguousarray(plan.decision_steps, dtype=np.int64)


def _packed(plan: Plan) -> tuple:
    """The packed plan as the kernels take it: (scalars, steps, chol, btc_jump_cdf, power_spike_cdf)."""
    from pivotmc.backends._cpu_kernels import ensure_fresh_cache

    ensure_fresh_cache()
    packed = pack(plan)
    return packed, (packed.scalars, packed.steps, packed.chol, packed.btc_jump_cdf, packed.power_spike_cdf)


def _lanes(block_paths) -> int:
    return int(block_paths or DEFAULT_BLOCK_PATHS)


def run_chunk(
    plan: Plan,
    key: tuple[int, int],
    first_path: int,
    n_paths: int,
    keep_paths: int = 0,
    block_paths: int | None = None,
    policy=None,
) -> ChunkResult:
    """Simulate paths ``first_path .. first_path + n_paths - 1`` (see the reference backend)."""
    import numba

    from pivotmc.backends._cpu_kernels import simulate_paths

    policy_arrays = _policy_arrays(plan, policy)
    packed, kernel_plan = _packed(plan)
    n_strat, n_steps = plan.n_strategies, plan.n_steps
    if n_strat > MAX_STRATEGIES:  # pragma: no cover - the scenario allows fewer
        raise ValidationError(f"the cpu backend values at most {MAX_STRATEGIES} strategies at once.")
    kept, kept_factors = KeptPaths.allocate(first_path, n_paths, keep_paths, n_strat, n_steps)
    npv = np.empty((n_strat, n_paths))
    threads = numba.config.NUMBA_NUM_THREADS
    sums_hi = np.zeros((threads, n_strat, n_steps), dtype=np.int64)
    sums_lo = np.zeros((threads, n_strat, n_steps), dtype=np.int64)
    switch_out = np.full(n_paths if plan.switch_index >= 0 else 0, -1, dtype=np.int16)
    action_out = np.full(switch_out.size, -1, dtype=np.int8)
    strategy_arrays = (
        packed.conversion_share[:n_strat], packed.cloud_share[:n_strat], packed.exit_multiple[:n_strat],
        int(plan.switch_index),
    )  # fmt: skip
    overflow = simulate_paths(
        kernel_plan, (key[0], key[1]), (first_path, n_paths, keep_paths, _lanes(block_paths)), strategy_arrays,
        policy_arrays, (npv, sums_hi, sums_lo, kept_factors, kept.cash_flow, switch_out, action_out),
    )  # fmt: skip
    if overflow:
        raise overflow_error(overflow)
    sums = ExactSum((n_strat, n_steps))
    for t in range(threads):
        sums.add_limbs(sums_hi[t], sums_lo[t])
    switch = switch_out if plan.switch_index >= 0 else None
    action = action_out if plan.switch_index >= 0 else None
    return ChunkResult(
        first_path=first_path, npv=npv, cash_flow_sum=sums, kept=kept, switch_decision=switch, switch_action=action
    )


def switch_learning_data(
    plan: Plan, key: tuple[int, int], first_path: int, n_paths: int, block_paths: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features and realised gains of the switch's learning paths: see reference.switch_learning_data."""
    from pivotmc.backends._cpu_kernels import learning_paths

    _, kernel_plan = _packed(plan)
    decision_steps = _decision_steps(plan)
    n_actions = len(plan.switch_actions)
    features = np.empty((decision_steps.size, n_paths, len(plan.switch_features)), dtype=np.float32)
    # Host's gains are always computed (a plan without the switch has no action to return them for).
    gains = np.empty((max(n_actions, 1), decision_steps.size, n_paths))
    host, cloud = _actions(plan)
    policy_arrays = (decision_steps, *_no_policy(plan), float(plan.switch_exit_multiple), host, cloud)
    learning_paths(
        kernel_plan, (key[0], key[1]), (first_path, n_paths, _lanes(block_paths)), policy_arrays, (features, gains)
    )
    return features, gains[:n_actions]


def prepare() -> None:
    """Load the compiled kernels, compiling them first if this machine has none cached (seconds to a minute).

    Every plan gives the kernels arguments of the same types, so one path of a
    one-year scenario compiles what any run needs.
    """
    from pivotmc.model.scenario import Scenario
    from pivotmc.model.plan import lower

    small = Scenario.default().with_overrides({"simulation.horizon_years": 1, "strategies.evaluate": ["mine"]})
    run_chunk(lower(small), (0, 0), 0, 1)
