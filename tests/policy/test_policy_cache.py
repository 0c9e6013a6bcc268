"""Learned switch policies are kept on disk, keyed by the scenario and the code, and shared safely between processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pivotmc import Scenario, switch
from pivotmc.backends import get_backend
from cli_harness import invoke

SMALL = Scenario.default().with_overrides({"switch.learning_paths": 2000, "simulation.horizon_years": 3})
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(switch.CACHE_DIR_ENV, str(folder))
    switch._CACHE.clear()
    yield folder
    switch._CACHE.clear()


def _same(a: switch.SwitchPolicy, b: switch.SwitchPolicy) -> None:
    assert a.stopping.terms == b.stopping.terms and a.stopping.basis == b.stopping.basis
    for name in ("centre", "scale", "coefficients"):
        assert getattr(a.stopping, name).tobytes() == getattr(b.stopping, name).tobytes()
    for name in ("boundary_hashprice", "boundary_lease_rate", "boundary_power_price", "boundary_gpu_price"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    assert (a.actions, a.features, a.in_sample_gain, a.learning_paths, a.learning_seed, a.learner) == (
        b.actions, b.features, b.in_sample_gain, b.learning_paths, b.learning_seed, b.learner)


def _forbid_learning(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("the policy was learned again")

    monkeypatch.setattr(get_backend("cpu").load(), "switch_learning_data", fail)


def test_a_second_learning_reads_the_first_from_disk(cache, monkeypatch) -> None:
    assert not switch.is_cached(SMALL)
    first = switch.learn(SMALL)
    assert switch.is_cached(SMALL)
    assert len(list(cache.glob("switch-policy-*.npz"))) == 1
    switch._CACHE.clear()  # as a new process would start
    _forbid_learning(monkeypatch)
    _same(switch.learn(SMALL), first)


def test_the_key_is_the_scenario_and_the_code(cache, monkeypatch) -> None:
    switch.learn(SMALL)
    other = SMALL.with_overrides({"hosting.lease_rate": 150.0})
    assert not switch.is_cached(other)
    switch._CACHE.clear()
    monkeypatch.setattr(switch, "_CODE_DIGEST", "another version of the code")
    assert not switch.is_cached(SMALL)


def test_a_corrupt_entry_is_learned_again_and_replaced(cache) -> None:
    first = switch.learn(SMALL)
    (entry,) = cache.glob("switch-policy-*.npz")
    entry.write_bytes(b"not a policy")
    switch._CACHE.clear()
    _same(switch.learn(SMALL), first)
    with np.load(entry, allow_pickle=False) as f:
        assert "coefficients" in f.files


def test_cache_false_neither_reads_nor_writes(cache) -> None:
    switch.learn(SMALL, cache=False)
    assert not cache.exists() or not list(cache.glob("*.npz"))


def test_learning_in_pieces_for_progress_gives_the_same_policy(cache, monkeypatch) -> None:
    whole = switch.learn(SMALL, cache=False)
    switch._CACHE.clear()
    monkeypatch.setattr(switch, "_LEARNING_CHUNK", 700)
    calls: list[tuple[int, int]] = []
    pieces = switch.learn(SMALL, cache=False, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 2000), (700, 2000), (1400, 2000), (2000, 2000)]
    _same(pieces, whole)


def test_processes_learning_at_once_share_one_entry(cache) -> None:
    code = (
        "import sys; from pivotmc import Scenario, switch;"
        "s = Scenario.default().with_overrides({'switch.learning_paths': 2000, 'simulation.horizon_years': 3});"
        "p = switch.learn(s); sys.stdout.write(p.stopping.coefficients.tobytes().hex())"
    )
    env = {"PYTHONPATH": str(SRC), switch.CACHE_DIR_ENV: str(cache)}
    import os

    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, **env}) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode()[-500:] for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert len(list(cache.glob("switch-policy-*.npz"))) == 1
    assert not list(cache.glob(".switch-policy-*"))  # no temporary file left behind
    _same(switch.learn(SMALL), switch._read_policy(next(cache.glob("switch-policy-*.npz"))))


def test_cache_command_shows_and_clears(cache, capsys) -> None:
    switch.learn(SMALL)
    code, out, err = invoke(["cache"], capsys)
    assert code == 0 and err == ""
    assert str(cache) in out and "1 learned switch policy" in out
    code, out, err = invoke(["cache", "--clear"], capsys)
    assert code == 0 and "Removed 1 learned switch policy" in out
    assert not list(cache.glob("*.npz")) and not switch._CACHE
