"""The switch strategy: keep mining, holding the option to convert the whole site.

At each decision date (``switch.decisions_per_year``, the first at t = 0) a
path that still mines may convert: the ``host`` economics start at that date
(the ASIC fleet is sold at salvage, construction takes the path's lead time
and its capex, the lease is signed at the market rate of the date, then
defaults, renewals and re-lets run as for ``host``), or it keeps mining.

The exercise policy is learned by least-squares Monte Carlo (Longstaff and
Schwartz) on ``switch.learning_paths`` paths of their own (see
:data:`pivotmc.random.LEARNING_PATH0`), then applied inside the kernels to every
path of the run, so the reported value is that of a fixed, non-anticipating
policy on paths it never saw: low-biased, with an honest standard error.

What is learned
---------------
For each learning path and decision date ``d`` the backend records the state
at ``d`` (logs of hashprice, lease rate and power price) and the realised gain
``G_d``: the NPV of converting at ``d`` minus that of mining to the horizon.
That gain is not known at ``d`` (it is made of future cash flows), so the
regression estimates, backwards over the dates, the *advantage* of converting
now over following the policy later, ``E[G_d - G_later | state]``, on a
polynomial of the scaled state, and the policy converts where it is positive
(:func:`pivotmc.policy.lsm.learn_policy` with ``exercise_known=False``). Time enters
through one regression per date.
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
from pivotmc.model.plan import SWITCH_FEATURES, Plan, lower
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
        Per decision date, the scaling of the features and the coefficients of
        the estimated advantage of converting (polynomial basis).
    in_sample_gain : float
        Mean gain over mining (NPV at t = 0, USD) of the policy on its own
        learning paths: biased upwards, for diagnostics only.
    learning_paths, learning_seed : int
        Where it was learned.
    learner : str
        The backend that simulated the learning paths.
    boundary_hashprice, boundary_lease_rate : ndarray (dates, BOUNDARY_POINTS)
        The exercise boundary: at each date, for hashprices at the learning
        paths' quantiles :data:`BOUNDARY_QUANTILES`, the lowest lease rate at
        which converting is optimal (NaN where no lease rate in a wide range
        makes it so), with the power price at its median of that date.
    boundary_power_price : ndarray (dates,)
        That median power price.
    """

    stopping: StoppingPolicy
    in_sample_gain: float
    learning_paths: int
    learning_seed: int
    learner: str
    boundary_hashprice: np.ndarray
    boundary_lease_rate: np.ndarray
    boundary_power_price: np.ndarray

    @property
    def boundary_gpu_price(self) -> np.ndarray:
        return np.full_like(self.boundary_lease_rate, np.nan)

    def digest(self) -> str:
        """SHA-256 of what the kernels apply (the arrays of :meth:`kernel_arrays`): equal digests, equal decisions."""
        h = hashlib.sha256()
        for array in self.kernel_arrays():
            h.update(str((array.dtype.str, array.shape)).encode())
            h.update(array.tobytes())
        return h.hexdigest()

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(centre, scale, coefficients, terms) as contiguous arrays for compiled kernels.

        Rows of ``coefficients`` that are NaN mean "never convert at this date".
        """
        p = self.stopping
        return (
            np.ascontiguousarray(p.centre, dtype=np.float64),
            np.ascontiguousarray(p.scale, dtype=np.float64),
            np.ascontiguousarray(p.coefficients, dtype=np.float64),
            np.ascontiguousarray(np.array(p.terms, dtype=np.int64).reshape(len(p.terms), len(SWITCH_FEATURES))),
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
    gains = np.concatenate([g for _, g in parts], axis=-1)[0]  # host only until the learner chooses among actions
    df = (1.0 + plan.scenario.simulation.discount_rate) ** (-plan.decision_times)
    stopping, in_sample = learn_policy(
        features, gains / df[:, None], df, basis="polynomial", degree=settings.degree, exercise_known=False
    )
    hashprice, lease, power = exercise_boundary(stopping, features)
    return SwitchPolicy(
        stopping=stopping,
        in_sample_gain=in_sample,
        learning_paths=settings.learning_paths,
        learning_seed=settings.learning_seed,
        learner=name,
        boundary_hashprice=hashprice,
        boundary_lease_rate=lease,
        boundary_power_price=power,
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
        "exercise_known": np.array(p.exercise_known), "in_sample_gain": np.array(policy.in_sample_gain),
        "learning_paths": np.array(policy.learning_paths), "learning_seed": np.array(policy.learning_seed, dtype=np.uint64),
        "learner": np.array(policy.learner), "boundary_hashprice": policy.boundary_hashprice,
        "boundary_lease_rate": policy.boundary_lease_rate, "boundary_power_price": policy.boundary_power_price,
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
            stopping=stopping, in_sample_gain=float(a["in_sample_gain"]), learning_paths=int(a["learning_paths"]),
            learning_seed=int(a["learning_seed"]), learner=str(a["learner"]),
            boundary_hashprice=a["boundary_hashprice"], boundary_lease_rate=a["boundary_lease_rate"],
            boundary_power_price=a["boundary_power_price"],
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
    """Refuse a policy that cannot decide for ``plan``: another type, or other decision dates or features.

    A policy learned for another scenario with the same dates is accepted: it is applied as it is, so the
    value is that of this policy on this scenario (a lower bound for the value of the scenario's own optimum).
    """
    if not isinstance(policy, SwitchPolicy):
        raise ParameterTypeError(f"switch_policy must be a pivotmc.policy.switch.SwitchPolicy, got {type(policy).__name__}.")
    dates, features = policy.stopping.centre.shape
    if dates != plan.decision_steps.size or features != len(SWITCH_FEATURES) or policy.stopping.basis != "polynomial":
        raise ValidationError(
            f"this switch policy decides at {dates} dates on {features} features; the scenario has "
            f"{plan.decision_steps.size} decision dates and {len(SWITCH_FEATURES)} features: learn one for it."
        )


def exercise_boundary(stopping: StoppingPolicy, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowest lease rate at which converting is optimal, on a grid of hashprices per date.

    ``features`` are the learning paths' (dates, paths, 3) logs of hashprice,
    lease rate and power price. Returns ``(hashprice, lease_rate, power)``
    with shapes (dates, BOUNDARY_POINTS), (dates, BOUNDARY_POINTS), (dates,).
    """
    n_dates = features.shape[0]
    x = np.asarray(features, dtype=np.float64)
    hashprice = np.empty((n_dates, BOUNDARY_POINTS))
    lease = np.full((n_dates, BOUNDARY_POINTS), np.nan)
    power = np.empty(n_dates)
    for d in range(n_dates):
        log_hp = np.quantile(x[d, :, 0], BOUNDARY_QUANTILES)
        lo, hi = np.quantile(x[d, :, 1], [0.001, 0.999])
        grid = np.linspace(lo - math.log(4.0), hi + math.log(4.0), _LEASE_GRID)
        log_power = float(np.median(x[d, :, 2]))
        hashprice[d] = np.exp(log_hp)
        power[d] = math.exp(log_power)
        for i, h in enumerate(log_hp):
            state = np.column_stack([np.full(grid.size, h), grid, np.full(grid.size, log_power)])
            adv = stopping.advantage(d, state)
            good = adv > 0.0
            if not good.any():
                continue
            first = int(np.argmax(good))
            if first == 0:
                lease[d, i] = math.exp(grid[0])
                continue
            a0, a1 = adv[first - 1], adv[first]
            w = a0 / (a0 - a1) if a1 != a0 else 1.0
            lease[d, i] = math.exp(grid[first - 1] + w * (grid[first] - grid[first - 1]))
    return hashprice, lease, power

