"""The executors' one interface: what the registry, the orchestrators and the learner rely on."""

from __future__ import annotations

import inspect

import pytest

import pivotmc
from pivotmc.backends import BACKENDS, Capabilities, Executor, get_backend
from pivotmc.errors import ValidationError

RUN_CHUNK = ["plan", "key", "first_path", "n_paths", "keep_paths", "block_paths", "policy"]
LEARNING = ["plan", "key", "first_path", "n_paths", "block_paths"]


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_executor_has_the_interface_it_declares(name):
    module = BACKENDS[name].load()  # importing never needs the executor's optional dependencies
    assert isinstance(module, Executor)
    assert isinstance(module.CAPABILITIES, Capabilities)
    assert list(inspect.signature(module.run_chunk).parameters) == RUN_CHUNK
    learning = getattr(module, "switch_learning_data", None)
    assert (learning is not None) == module.CAPABILITIES.learning
    if learning is not None:
        assert list(inspect.signature(learning).parameters) == LEARNING
    assert callable(getattr(module, "prepare", None)) == module.CAPABILITIES.compiles


def test_an_executor_that_does_not_learn_says_so():
    learners = [name for name, b in BACKENDS.items() if b.load().CAPABILITIES.learning]
    assert {"reference", "cpu"} <= set(learners)
    others = [b for b in BACKENDS.values() if not b.load().CAPABILITIES.learning]
    for backend in others:
        with pytest.raises(ValidationError, match="does not simulate the switch policy's learning paths"):
            backend.switch_learning_data(None, (0, 0), 0, 1)


def test_both_entry_points_give_the_same_run(tmp_path):
    pytest.importorskip("zarr")
    scenario = pivotmc.Scenario.default().with_overrides({"simulation.horizon_years": 2.0})
    memory = pivotmc.simulate(scenario, n_paths=300, seed=5, backend="reference")
    stored = pivotmc.simulate_to_store(scenario, tmp_path / "r.zarr", n_paths=300, seed=5, backend="reference",
                                       chunk_paths=128)
    assert memory.npv.values.tobytes() == stored.npv.values.tobytes()
    assert get_backend("reference").name == stored.attrs["backend"]
