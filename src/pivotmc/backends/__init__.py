"""The registry of backends: one model, several executors that must agree.

Each backend runs a contiguous range of paths of a lowered :class:`~pivotmc.model.plan.Plan`
and returns a :class:`ChunkResult`. Backends are imported lazily, so a backend
whose dependencies are missing costs nothing until it is asked for. Tests run
every available backend against ``reference`` from this one table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from pivotmc.backends.accumulate import ExactSum
from pivotmc.errors import BackendUnavailableError, ParameterTypeError, ValidationError
from pivotmc.model.factors import KEPT_FACTORS

__all__ = ["Backend", "Capabilities", "Executor", "NO_POLICY_MESSAGE", "policy_kernel_arrays", "ChunkResult", "KeptPaths", "BACKENDS", "get_backend", "available_backends", "KEPT_FACTORS"]


@dataclass
class KeptPaths:
    """Trajectories of the kept paths of one chunk (paths with global index < keep_paths)."""

    paths: np.ndarray  # (m,) global path indices
    factors: dict[str, np.ndarray]  # name -> (m, n_steps)
    cash_flow: np.ndarray  # (n_strategies, m, n_steps), USD per step

    @classmethod
    def allocate(
        cls, first_path: int, n_paths: int, keep_paths: int, n_strategies: int, n_steps: int
    ) -> tuple[KeptPaths, np.ndarray]:
        """Empty trajectories for the kept paths of a chunk.

        Returns the container and the factors stacked as one array
        ``(len(KEPT_FACTORS), m, n_steps)`` (the container's ``factors`` are
        views of it), which is what compiled kernels write into.
        """
        n_kept = int(np.clip(keep_paths - first_path, 0, n_paths))
        stacked = np.empty((len(KEPT_FACTORS), n_kept, n_steps))
        kept = cls(
            paths=np.arange(first_path, first_path + n_kept, dtype=np.int64),
            factors={name: stacked[i] for i, name in enumerate(KEPT_FACTORS)},
            cash_flow=np.empty((n_strategies, n_kept, n_steps)),
        )
        return kept, stacked


@dataclass
class ChunkResult:
    """What a backend returns for paths ``first_path .. first_path + n_paths - 1``."""

    first_path: int
    npv: np.ndarray  # (n_strategies, n_paths), USD
    cash_flow_sum: ExactSum  # (n_strategies, n_steps), exact sums of undiscounted cash flows
    kept: KeptPaths
    switch_decision: np.ndarray | None = None  # (n_paths,) int16: decision date the switch converts at, -1 never
    switch_action: np.ndarray | None = None  # (n_paths,) int8: what it converts to (plan.switch_actions), -1 never


#: What an executor says when asked to value the switch without its exercise policy.
NO_POLICY_MESSAGE = (
    "the plan values switch but no exercise policy was given: pass policy=pivotmc.policy.switch.learn(scenario)."
)


def policy_kernel_arrays(plan, policy) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The switch policy as compiled kernels apply it, checked to fit ``plan`` (which values switch).

    Returns ``policy.kernel_arrays()`` as contiguous arrays: centre and scale (dates, features) and
    coefficients (actions, dates, terms) as float64, terms (terms, features) as int64, with
    ``features = len(plan.switch_features)``. A policy of one action may give its coefficients as
    (dates, terms); it may know fewer actions than the plan (the first ones).

    Raises
    ------
    ValidationError
        No policy, one on another basis than the polynomial the kernels evaluate, or one of other
        decision dates, features or actions.
    """
    if policy is None:
        raise ValidationError(NO_POLICY_MESSAGE)
    if getattr(policy.stopping, "basis", "polynomial") != "polynomial":
        raise ValidationError("compiled backends evaluate switch policies on a polynomial basis only.")
    centre, scale, coef, terms = policy.kernel_arrays()
    coef = np.asarray(coef)
    if coef.ndim == 2:  # one action: the conversion to host
        coef = coef[None]
    centre, scale, coef = (np.ascontiguousarray(a, dtype=np.float64) for a in (centre, scale, coef))
    terms = np.ascontiguousarray(terms, dtype=np.int64)
    dates, k = plan.decision_steps.size, len(plan.switch_features)
    n_actions = len(plan.switch_actions)
    if (
        centre.shape != (dates, k) or scale.shape != (dates, k) or coef.ndim != 3
        or not 1 <= coef.shape[0] <= n_actions or coef.shape[1] != dates or coef.shape[2] < 1
        or terms.shape != (coef.shape[2], k)
    ):  # fmt: skip
        raise ValidationError(
            f"this switch policy does not fit the scenario ({dates} decision dates, {k} features, "
            f"{n_actions} actions: {', '.join(plan.switch_actions)}): learn one for it (pivotmc.policy.switch.learn)."
        )
    return centre, scale, coef, terms


@dataclass(frozen=True)
class Capabilities:
    """What an executor can do beyond valuing paths, declared by its module as ``CAPABILITIES``."""

    #: Simulates the switch policy's learning paths: ``switch_learning_data(plan, key, first_path, n_paths, block_paths)``.
    learning: bool
    #: Compiles its kernels ahead of a run with ``prepare()``, so that the wait can be announced.
    compiles: bool


@runtime_checkable
class Executor(Protocol):
    """The interface of an executor module (reference, cpu, cuda): the model on a range of paths."""

    CAPABILITIES: Capabilities

    def unavailable_reason(self) -> str | None: ...

    def run_chunk(
        self, plan, key: tuple[int, int], first_path: int, n_paths: int, keep_paths: int = 0,
        block_paths: int | None = None, policy=None,
    ) -> ChunkResult: ...


@dataclass(frozen=True)
class Backend:
    """A registered executor.

    ``module`` (an :class:`Executor`) is imported on first use; it provides
    ``run_chunk(plan, key, first_path, n_paths, keep_paths, block_paths, policy)
    -> ChunkResult``, ``unavailable_reason() -> str | None`` and its
    :class:`Capabilities`, with ``switch_learning_data`` where it learns and
    ``prepare`` where it compiles.
    """

    name: str
    module: str
    description: str
    priority: int  # "auto" picks the available backend with the highest priority
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def load(self) -> Executor:
        if "module" not in self._cache:
            self._cache["module"] = importlib.import_module(self.module, __name__)
        return self._cache["module"]

    def unavailable_reason(self) -> str | None:
        """``None`` if the backend can run here, else one sentence saying what is missing."""
        try:
            module = self.load()
        except ImportError as exc:
            return f"backend {self.name!r} cannot be imported: {exc}."
        return module.unavailable_reason()

    @property
    def capabilities(self) -> Capabilities:
        return self.load().CAPABILITIES

    def run_chunk(
        self, plan, key: tuple[int, int], first_path: int, n_paths: int, keep_paths: int = 0,
        block_paths: int | None = None, policy=None,
    ) -> ChunkResult:
        """Simulate paths ``first_path .. first_path + n_paths - 1`` of ``plan`` (see :class:`Executor`)."""
        return self.load().run_chunk(plan, key, first_path, n_paths, keep_paths, block_paths, policy)

    def switch_learning_data(self, plan, key: tuple[int, int], first_path: int, n_paths: int, block_paths=None):
        """The switch policy's learning data for a range of learning paths (executors with ``capabilities.learning``)."""
        if not self.capabilities.learning:
            raise ValidationError(f"backend {self.name!r} does not simulate the switch policy's learning paths.")
        return self.load().switch_learning_data(plan, key, first_path, n_paths, block_paths)

    def prepare(self) -> None:
        """Load the compiled kernels, compiling them first where none are cached (no-op for an executor that does not compile)."""
        if self.capabilities.compiles:
            self.load().prepare()


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("reference", ".reference", "plain numpy, vectorised over paths: the truth the others are tested against", 0),
        Backend("cpu", ".cpu", "fused Numba kernels, parallel over blocks of paths", 10),
        Backend("cuda", ".cuda", "CUDA C kernels through CuPy, one GPU thread per path", 20),
    )
}


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name, b in BACKENDS.items() if b.unavailable_reason() is None]


def get_backend(name: str) -> Backend:
    """Resolve a backend name (or ``"auto"``) to a runnable :class:`Backend`.

    Raises
    ------
    ValidationError
        Unknown name.
    BackendUnavailableError
        Known backend that cannot run here; the message says what is missing.
    """
    if not isinstance(name, str):
        raise ParameterTypeError(f"backend must be a name, got {type(name).__name__} {name!r}.")
    if name == "auto":
        ranked = sorted(BACKENDS.values(), key=lambda b: -b.priority)
        for backend in ranked:
            if backend.unavailable_reason() is None:
                return backend
        raise BackendUnavailableError("no backend can run here.")  # pragma: no cover - reference always runs
    if name not in BACKENDS:
        raise ValidationError(f"unknown backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}.")
    backend = BACKENDS[name]
    reason = backend.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(reason)
    return backend
