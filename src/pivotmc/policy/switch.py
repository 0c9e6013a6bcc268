"""The switch strategy: keep mining, holding the option to convert the whole site.

At each decision date (``switch.decisions_per_year``, the first at t = 0) a
path that still mines may convert to one of the plan's ``switch_actions``:
``host`` (the ASIC fleet is sold at salvage, construction takes the path's
lead time and its capex, the lease is signed at the market rate of the date,
then defaults, renewals and re-lets run as for ``host``) or, in the three-way
switch, ``cloud`` (the same conversion, then a GPU fleet contracted at the GPU
price of the date, as for ``cloud``); or it keeps mining.

The exercise policy is learned by least-squares Monte Carlo (Longstaff and
Schwartz) on ``switch.learning_paths`` paths of their own (see
:data:`pivotmc.random.LEARNING_PATH0`), then applied inside the kernels to every
path of the run, so the reported value is that of a fixed, non-anticipating
policy on paths it never saw: low-biased, with an honest standard error.

What is learned
---------------
For each learning path, decision date ``d`` and action ``a`` the backend
records the state at ``d`` (logs of the plan's ``switch_features``: hashprice,
lease rate and power price, and the GPU price in the three-way switch) and the
realised gain ``G_a,d``: the NPV of converting to ``a`` at ``d`` minus that of
mining to the horizon. That gain is not known at ``d`` (it is made of future
cash flows), so one regression per action estimates, backwards over the dates,
the *advantage* of converting to it now over following the policy later,
``E[G_a,d - G_later | state]``, on a polynomial of the scaled state; the policy
takes the action with the largest estimated advantage (the first on a tie) where
it is positive (:func:`pivotmc.policy.lsm.learn_policy` with
``exercise_known=False``). Time enters through one regression per date.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pivotmc import random as rng
from pivotmc._version import __version__
from pivotmc.backends import BACKENDS
from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.policy.lsm import StoppingPolicy, learn_policy
from pivotmc.model.plan import Plan, lower
from pivotmc.model.scenario import Scenario

__all__ = [
    "SwitchPolicy", "learn", "policy_for", "check_policy", "BOUNDARY_POINTS",
    "cache_dir", "clear_cache", "is_cached", "CACHE_DIR_ENV",
]

#: Hashprice quantiles at which the exercise boundary is reported, per decision date.
BOUNDARY_QUANTILES = np.linspace(0.05, 0.95, 19)
BOUNDARY_POINTS = BOUNDARY_QUANTILES.size
_LEASE_GRID = 2001
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 8
#: Where learned policies are kept between runs; default ``$XDG_CACHE_HOME/pivotmc`` (``~/.cache/pivotmc``).
CACHE_DIR_ENV = "PIVOTMC_CACHE_DIR"
#: Learning paths per call of the backend, so that progress can be reported (results do not depend on it).
_LEARNING_CHUNK = 5_000


@dataclass(frozen=True, eq=False)
class SwitchPolicy:
    """A learned switch policy and what the result reports about it.

    Attributes
    ----------
    stopping : StoppingPolicy
        Per decision date, the scaling of the features and, per action, the
        coefficients of the estimated advantage of converting (polynomial basis).
    actions : tuple of str
        What the switch converts to, in the order of the coefficients (the plan's ``switch_actions``).
    features : tuple of str
        The state variables whose logs are the regressors, in order (the plan's ``switch_features``).
    in_sample_gain : float
        Mean gain over mining (NPV at t = 0, USD) of the policy on its own
        learning paths: biased upwards, for diagnostics only.
    learning_paths, learning_seed : int
        Where it was learned.
    learner : str
        The backend that simulated the learning paths.
    boundary_hashprice, boundary_lease_rate : ndarray (dates, BOUNDARY_POINTS)
        The exercise boundary of ``host``: at each date, for hashprices at the
        learning paths' quantiles :data:`BOUNDARY_QUANTILES`, the lowest lease
        rate at which converting to host is the policy's action (NaN where no
        lease rate in a wide range makes it so), with the other features at
        their medians of that date.
    boundary_power_price : ndarray (dates,)
        That median power price.
    boundary_gpu_price : ndarray (dates, BOUNDARY_POINTS)
        The exercise boundary of ``cloud``: at the same hashprices, the lowest
        GPU price (USD per GPU-hour) at which converting to cloud is the
        policy's action, the other features at their medians; all NaN for the
        two-way switch.
    """

    stopping: StoppingPolicy
    actions: tuple[str, ...]
    features: tuple[str, ...]
    in_sample_gain: float
    learning_paths: int
    learning_seed: int
    learner: str
    boundary_hashprice: np.ndarray
    boundary_lease_rate: np.ndarray
    boundary_power_price: np.ndarray
    boundary_gpu_price: np.ndarray

    def digest(self) -> str:
        """SHA-256 of what the kernels apply (the arrays of :meth:`kernel_arrays`): equal digests, equal decisions."""
        h = hashlib.sha256()
        for array in self.kernel_arrays():
            h.update(str((array.dtype.str, array.shape)).encode())
            h.update(array.tobytes())
        return h.hexdigest()

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(centre, scale, coefficients, terms) as contiguous arrays for compiled kernels.

        Shapes (dates, k), (dates, k), (actions, dates, n_terms), (n_terms, k),
        k = ``len(features)``. A NaN row ``coefficients[a, d]`` means "never
        convert to action a at date d".
        """
        p = self.stopping
        return (
            np.ascontiguousarray(p.centre, dtype=np.float64),
            np.ascontiguousarray(p.scale, dtype=np.float64),
            np.ascontiguousarray(p.coefficients, dtype=np.float64),
            np.ascontiguousarray(np.array(p.terms, dtype=np.int64).reshape(len(p.terms), len(self.features))),
        )


def _learner(backend: str | None):
    """The backend that simulates the learning paths: ``backend`` if given, else cpu where it runs, else reference.

    Every backend of a run applies the same learned policy, so a policy
    learned once serves them all and their results agree path by path.
    """
    for name in ((backend,) if backend is not None else ("cpu", "reference")):
        if name not in BACKENDS:
            raise ValidationError(f"unknown backend {name!r} for learning the switch policy.")
        candidate = BACKENDS[name]
        if candidate.unavailable_reason() is None and candidate.capabilities.learning:
            return name, candidate
    raise ValidationError(f"backend {name!r} cannot simulate the switch policy's learning paths here.")


def learn(
    plan: Plan | Scenario,
    backend: str | None = None,
    block_paths: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: bool = True,
) -> SwitchPolicy:
    """Learn the switch policy of a scenario (or of a plan's scenario; see the module notes).

    ``backend`` simulates the learning paths (default: ``cpu`` where it runs,
    else ``reference``; they agree to rounding). The policy depends on the
    scenario alone (its ``[switch]`` settings included), not on the run's
    seed, size or backend. It is kept in memory for the last few scenarios
    and, with ``cache``, on disk (:func:`cache_dir`), keyed by the scenario,
    the learner and the package's code, so that a scenario already learned by
    any process on the machine is not learned again. ``progress(done, total)``
    is called as the learning paths are simulated.
    """
    if isinstance(plan, Scenario):
        plan = lower(plan)
    if not isinstance(plan, Plan):
        raise ParameterTypeError(f"learn needs a pivotmc.Scenario, got {type(plan).__name__}.")
    name, runner = _learner(backend)
    cache_key = (plan.scenario, name)
    if cache_key in _CACHE:
        _CACHE.move_to_end(cache_key)
        return _CACHE[cache_key]
    disk = _cache_file(plan.scenario, name) if cache else None
    policy = _read_policy(disk) if disk is not None else None
    if policy is None:
        policy = _learn(plan, name, runner, block_paths, progress)
        if disk is not None:
            _write_policy(disk, policy)
    _CACHE[cache_key] = policy
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return policy


def is_cached(scenario: Scenario, backend: str | None = None) -> bool:
    """Whether :func:`learn` would find this scenario's policy in memory or on disk, without learning it."""
    name, _ = _learner(backend)
    if (scenario, name) in _CACHE:
        return True
    return _cache_file(scenario, name).is_file()


def _learn(plan: Plan, name: str, runner, block_paths: int | None, progress) -> SwitchPolicy:
    settings = plan.scenario.switch
    key = rng.seed_key(settings.learning_seed)
    total = settings.learning_paths
    # In pieces, to report progress; every path is independent, so the data are those of one piece.
    parts = []
    if progress is not None:
        progress(0, total)
    for first in range(0, total, _LEARNING_CHUNK):
        n = min(_LEARNING_CHUNK, total - first)
        parts.append(runner.switch_learning_data(plan, key, rng.LEARNING_PATH0 + first, n, block_paths))
        if progress is not None:
            progress(first + n, total)
    features = np.concatenate([f for f, _ in parts], axis=1)
    gains = np.concatenate([g for _, g in parts], axis=-1)  # (actions, dates, paths)
    _check_learning_data(plan, name, features, gains)
    df = (1.0 + plan.scenario.simulation.discount_rate) ** (-plan.decision_times)
    stopping, in_sample = learn_policy(
        features, gains / df[:, None], df, basis="polynomial", degree=settings.degree, exercise_known=False
    )
    hashprice, lease, power, gpu = exercise_boundary(stopping, features, plan.switch_actions, plan.switch_features)
    return SwitchPolicy(
        stopping=stopping,
        actions=plan.switch_actions,
        features=plan.switch_features,
        in_sample_gain=in_sample,
        learning_paths=settings.learning_paths,
        learning_seed=settings.learning_seed,
        learner=name,
        boundary_hashprice=hashprice,
        boundary_lease_rate=lease,
        boundary_power_price=power,
        boundary_gpu_price=gpu,
    )


def _check_learning_data(plan: Plan, name: str, features: np.ndarray, gains: np.ndarray) -> None:
    """Refuse learning data of another shape than the plan's switch needs (actions, features), clearly."""
    n_actions = gains.shape[0] if gains.ndim == 3 else 1  # (dates, paths): one action's gains
    if n_actions != len(plan.switch_actions) or features.shape[-1] != len(plan.switch_features):
        raise ValidationError(
            f"backend {name!r} reports learning data for {n_actions} action(s) on {features.shape[-1]} features; "
            f"this scenario's switch converts to {_words(plan.switch_actions)} and decides on "
            f"{_words(plan.switch_features)}: learn it with a backend that simulates them."
        )


# --------------------------------------------------------------------------
# The policy cache on disk
# --------------------------------------------------------------------------

_CODE_DIGEST: str | None = None


def cache_dir() -> Path:
    """The folder of learned policies: ``$PIVOTMC_CACHE_DIR``, else ``$XDG_CACHE_HOME/pivotmc``, else ``~/.cache/pivotmc``."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pivotmc"


def clear_cache() -> int:
    """Forget every learned policy, in memory and on disk; returns the number of files removed."""
    _CACHE.clear()
    removed = 0
    folder = cache_dir()
    if folder.is_dir():
        for path in folder.glob("switch-policy-*.npz"):
            with contextlib.suppress(OSError):  # a cache is a convenience: passed over, never an error
                path.unlink()
                removed += 1
    return removed


def _code_digest() -> str:
    """Digest of the package's version and sources: a policy learned by other code is never reused."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256(f"{__version__}|rng{rng.RNG_LAYOUT_VERSION}".encode())
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def _cache_file(scenario: Scenario, learner: str) -> Path:
    h = hashlib.sha256(_code_digest().encode())
    h.update(learner.encode())
    h.update(scenario.to_toml(comments=False).encode())
    return cache_dir() / f"switch-policy-{h.hexdigest()[:32]}.npz"


def _write_policy(path: Path, policy: SwitchPolicy) -> None:
    """Write atomically (a temporary file renamed into place), so a reader in another process sees all or nothing."""
    p = policy.stopping
    arrays = {
        "basis": np.array(p.basis), "degree": np.array(p.degree), "terms": np.array(p.terms, dtype=np.int64),
        "centre": p.centre, "scale": p.scale, "coefficients": p.coefficients,
        "actions": np.array(policy.actions, dtype=str), "features": np.array(policy.features, dtype=str),
        "exercise_known": np.array(p.exercise_known), "in_sample_gain": np.array(policy.in_sample_gain),
        "learning_paths": np.array(policy.learning_paths), "learning_seed": np.array(policy.learning_seed, dtype=np.uint64),
        "learner": np.array(policy.learner), "boundary_hashprice": policy.boundary_hashprice,
        "boundary_lease_rate": policy.boundary_lease_rate, "boundary_power_price": policy.boundary_power_price,
        "boundary_gpu_price": policy.boundary_gpu_price,
    }
    with contextlib.suppress(OSError):  # a cache is a convenience: passed over, never an error
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".switch-policy-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _read_policy(path: Path) -> SwitchPolicy | None:
    """The cached policy, or None if there is none or it cannot be read (it is then learned again)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            a = {k: f[k] for k in f.files}
        terms = tuple(tuple(int(e) for e in row) for row in a["terms"])
        stopping = StoppingPolicy(
            basis=str(a["basis"]), degree=int(a["degree"]), terms=terms, centre=a["centre"], scale=a["scale"],
            coefficients=a["coefficients"], exercise_known=bool(a["exercise_known"]),
        )
        return SwitchPolicy(
            stopping=stopping, actions=tuple(str(n) for n in a["actions"]), features=tuple(str(n) for n in a["features"]),
            in_sample_gain=float(a["in_sample_gain"]), learning_paths=int(a["learning_paths"]),
            learning_seed=int(a["learning_seed"]), learner=str(a["learner"]),
            boundary_hashprice=a["boundary_hashprice"], boundary_lease_rate=a["boundary_lease_rate"],
            boundary_power_price=a["boundary_power_price"], boundary_gpu_price=a["boundary_gpu_price"],
        )
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile):  # absent, truncated or foreign
        return None


def policy_for(plan: Plan, policy: SwitchPolicy | None = None) -> SwitchPolicy | None:
    """The exercise policy a run of ``plan`` applies: ``policy`` if given (checked to fit), else the
    scenario's own, learned (or found in the cache: :func:`learn`); None where the plan does not value switch.

    The orchestrators (:func:`pivotmc.simulate`, the store, the studies) call it once per run and pass
    the policy to every chunk.
    """
    if plan.switch_index < 0:
        return None
    if policy is None:
        return learn(plan)
    check_policy(plan, policy)
    return policy


def check_policy(plan: Plan, policy: SwitchPolicy) -> None:
    """Refuse a policy that cannot decide for ``plan``: another type, other actions, features or decision dates.

    A policy learned for another scenario with the same actions, features and dates is accepted: it is applied
    as it is, so the value is that of this policy on this scenario (a lower bound for the value of the
    scenario's own optimum).
    """
    if not isinstance(policy, SwitchPolicy):
        raise ParameterTypeError(f"switch_policy must be a pivotmc.policy.switch.SwitchPolicy, got {type(policy).__name__}.")
    if tuple(policy.actions) != plan.switch_actions:
        raise ValidationError(
            f"this switch policy chooses among {_words(('mine',) + tuple(policy.actions))}; the scenario's switch "
            f"chooses among {_words(('mine',) + plan.switch_actions)}: learn one for it."
        )
    if tuple(policy.features) != plan.switch_features:
        raise ValidationError(
            f"this switch policy decides on {_words(policy.features)}; the scenario's switch decides on "
            f"{_words(plan.switch_features)}: learn one for it."
        )
    dates, features = policy.stopping.centre.shape
    coefficients = policy.stopping.coefficients
    if (dates != plan.decision_steps.size or features != len(plan.switch_features)
            or policy.stopping.basis != "polynomial" or coefficients.shape[:2] != (len(plan.switch_actions), dates)):
        raise ValidationError(
            f"this switch policy decides at {dates} dates on {features} features; the scenario has "
            f"{plan.decision_steps.size} decision dates and {len(plan.switch_features)} features: learn one for it."
        )


def _words(names) -> str:
    """``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def exercise_boundary(
    stopping: StoppingPolicy, features: np.ndarray, actions: tuple[str, ...] = ("host",),
    names: tuple[str, ...] = ("hashprice", "lease_rate", "power_price"),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per date, on a grid of hashprices, the lowest lease rate at which host is the policy's action and the
    lowest GPU price at which cloud is.

    ``features`` are the learning paths' (dates, paths, k) logs of ``names``
    (the plan's ``switch_features``), ``actions`` the policy's. Every feature
    but hashprice and the one searched is held at its median of the date.
    Returns ``(hashprice, lease_rate, power, gpu_price)`` with shapes
    (dates, BOUNDARY_POINTS), (dates, BOUNDARY_POINTS), (dates,) and
    (dates, BOUNDARY_POINTS); ``gpu_price`` is all NaN without ``cloud``.
    """
    x = np.asarray(features, dtype=np.float64)
    n_dates = x.shape[0]
    hp_col = names.index("hashprice")
    hashprice = np.empty((n_dates, BOUNDARY_POINTS))
    lease = np.full((n_dates, BOUNDARY_POINTS), np.nan)
    gpu = np.full((n_dates, BOUNDARY_POINTS), np.nan)
    power = np.empty(n_dates)
    searched = [(actions.index("host"), names.index("lease_rate"), lease)]
    if "cloud" in actions:
        searched.append((actions.index("cloud"), names.index("gpu_price"), gpu))
    for d in range(n_dates):
        medians = np.median(x[d], axis=0)
        log_hp = np.quantile(x[d, :, hp_col], BOUNDARY_QUANTILES)
        hashprice[d] = np.exp(log_hp)
        power[d] = math.exp(float(medians[names.index("power_price")]))
        for action, col, out in searched:
            lo, hi = np.quantile(x[d, :, col], [0.001, 0.999])
            grid = np.linspace(lo - math.log(4.0), hi + math.log(4.0), _LEASE_GRID)
            # Every hashprice of the date at once: one evaluation of the policy for the whole grid.
            state = np.repeat(medians[None], log_hp.size * grid.size, axis=0)
            state[:, hp_col] = np.repeat(log_hp, grid.size)
            state[:, col] = np.tile(grid, log_hp.size)
            adv = stopping.advantages(d, state).reshape(log_hp.size, grid.size, -1)
            for i in range(log_hp.size):
                out[d, i] = _lowest(adv[i], action, grid)
    return hashprice, lease, power, gpu


def _lowest(adv: np.ndarray, action: int, grid: np.ndarray) -> float:
    """The lowest point of ``grid`` (logs) at which ``action`` is the policy's choice, given the advantages
    ``adv`` (grid points, actions) there, interpolated linearly between grid points on its margin over the best
    alternative (waiting included); NaN if none."""
    best = np.argmax(adv, axis=1)  # the rule of StoppingPolicy.choose, on advantages computed once
    good = (best == action) & (adv[np.arange(best.size), best] > 0.0)
    if not good.any():
        return math.nan
    first = int(np.argmax(good))
    if first == 0:
        return math.exp(grid[0])
    others = np.delete(adv[first - 1 : first + 1], action, axis=1)
    a0, a1 = adv[first - 1 : first + 1, action] - np.maximum(others.max(axis=1, initial=0.0), 0.0)
    w = a0 / (a0 - a1) if a1 != a0 else 1.0
    return math.exp(grid[first - 1] + w * (grid[first] - grid[first - 1]))
