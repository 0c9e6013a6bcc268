"""Runs streamed to Zarr, in this process and on a real two-process Dask cluster: same numbers, resume, refusal."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_harness import invoke

import pivotmc
from pivotmc import Scenario
from pivotmc.errors import ValidationError

SRC = Path(__file__).resolve().parents[2] / "src"
# Three years with exit values: the switch converts on some paths (about one in six) at several
# dates, so its per-path decisions, shares and option value are all exercised. Few learning paths
# keep the policy quick to learn; it is learned once per process.
# The two-way switch (without cloud, which with exit values would take every path at once).
EXITS = {f"terminal.{s}": 6.0 for s in ("mine", "host", "hybrid", "switch")}
TWO_WAY = ["mine", "host", "hybrid", "switch"]
SHORT = Scenario.default().with_overrides(
    {"simulation.horizon_years": 3.0, "switch.learning_paths": 2000, "strategies.evaluate": TWO_WAY, **EXITS}
)
# Eight years without exit values: the three-way switch converts to cloud on some paths, never on the others.
THREE_WAY = Scenario.default().with_overrides({"simulation.horizon_years": 8.0, "switch.learning_paths": 2000})
HAS_EXTRA = all(importlib.util.find_spec(m) is not None for m in ("zarr", "dask", "distributed"))
needs_extra = pytest.mark.skipif(not HAS_EXTRA, reason='needs the dask extra: pip install "pivotmc[dask]"')


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two single-threaded worker processes for the whole module."""
    if not HAS_EXTRA:
        pytest.skip('needs the dask extra: pip install "pivotmc[dask]"')
    from distributed import Client, LocalCluster

    # Compile (or load) the cpu kernels here first, so the workers find them cached on disk.
    pivotmc.simulate(SHORT, n_paths=10)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
    ) as cluster:
        with Client(cluster) as connected:
            yield connected


@pytest.fixture(scope="module")
def reference():
    """The in-process cpu result every store run must equal bit for bit."""
    ds = pivotmc.simulate(SHORT, n_paths=700, seed=11, keep_paths=9)
    # The switch variables are worth comparing: some paths convert, at more than one date, and not all.
    converting = ds["switch_decision"].values >= 0
    assert 0 < converting.mean() < 1 and np.count_nonzero(ds["switch_share"].values) > 1
    assert "option_value" in ds
    return ds


def assert_same_result(stored, expected) -> None:
    assert set(stored.data_vars) == set(expected.data_vars)
    for name in expected.data_vars:
        got, want = stored[name].values, expected[name].values
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), name
        assert stored[name].attrs == expected[name].attrs, name
    assert set(stored.coords) == set(expected.coords)
    for name in expected.coords:
        np.testing.assert_array_equal(stored[name].values, expected[name].values, err_msg=name)
        assert stored[name].dtype == expected[name].dtype and stored[name].attrs == expected[name].attrs, name
    drop = {"created"}
    assert {k: v for k, v in stored.attrs.items() if k not in drop} == {
        k: v for k, v in expected.attrs.items() if k not in drop
    }


def store_contents(path) -> dict:
    """Every array and attribute of a store, the chunk bookkeeping included (creation time aside)."""
    import zarr

    contents = {}

    def walk(group, prefix: str) -> None:
        contents[prefix + "@attrs"] = {k: v for k, v in group.attrs.items() if k != "created"}
        for name, array in group.arrays():
            contents[prefix + name] = array[...]
            contents[prefix + name + "@attrs"] = dict(array.attrs)
        for name, child in group.groups():
            walk(child, prefix + name + "/")

    walk(zarr.open_group(str(path), mode="r"), "")
    return contents


def assert_same_contents(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key in left:
        if isinstance(left[key], np.ndarray):  # bytes: NaN (never converting, no boundary) equals NaN
            assert left[key].tobytes() == right[key].tobytes() and left[key].dtype == right[key].dtype, key
        else:
            assert left[key] == right[key], key


def assert_same_store(a, b) -> None:
    assert_same_contents(store_contents(a), store_contents(b))


# ---------------------------------------------------------------------------
# Same numbers
# ---------------------------------------------------------------------------


@needs_extra
@pytest.mark.parametrize("chunk_paths", [64, 250, 700, 10_000])
def test_store_in_process_equals_the_in_memory_result(tmp_path, reference, chunk_paths) -> None:
    stored = pivotmc.simulate(
        SHORT, n_paths=700, seed=11, keep_paths=9, store=tmp_path / "r.zarr", chunk_paths=chunk_paths
    )
    assert_same_result(stored, reference)


@needs_extra
def test_one_path_per_chunk(tmp_path) -> None:
    expected = pivotmc.simulate(SHORT, n_paths=13, seed=2, keep_paths=5)
    stored = pivotmc.simulate(SHORT, n_paths=13, seed=2, keep_paths=5, store=tmp_path / "r.zarr", chunk_paths=1)
    assert_same_result(stored, expected)


@needs_extra
@pytest.mark.parametrize("chunk_paths", [50, 333])
def test_store_on_a_cluster_equals_the_in_memory_result(tmp_path, client, reference, chunk_paths) -> None:
    from distributed import get_task_stream

    with get_task_stream(client) as tasks:
        stored = pivotmc.simulate(
            SHORT, n_paths=700, seed=11, keep_paths=9, store=tmp_path / "r.zarr", chunk_paths=chunk_paths, client=client
        )
    assert_same_result(stored, reference)
    # The chunks really were spread over both worker processes.
    assert len({t["worker"] for t in tasks.data if "pivotmc-chunk" in t["key"]}) == 2


@needs_extra
def test_cluster_and_in_process_stores_are_identical(tmp_path, client) -> None:
    args = dict(n_paths=700, seed=11, keep_paths=9, chunk_paths=100)
    pivotmc.simulate(SHORT, store=tmp_path / "here.zarr", **args)
    pivotmc.simulate(SHORT, store=tmp_path / "there.zarr", client=client.scheduler.address, **args)
    assert_same_store(tmp_path / "here.zarr", tmp_path / "there.zarr")


@needs_extra
def test_switch_decisions_are_written_per_chunk_as_int16(tmp_path, reference) -> None:
    import zarr

    path = tmp_path / "r.zarr"
    pivotmc.simulate(SHORT, n_paths=700, seed=11, keep_paths=9, store=path, chunk_paths=250)
    root = zarr.open_group(str(path), mode="r")
    decision = root["switch_decision"]
    assert decision.dtype == np.int16 and decision.chunks == (250,)
    assert root["switch_time"].chunks == (250,)
    # Small variables are whole arrays; the option value names the strategy it is compared with.
    assert root["switch_share"].shape == reference["switch_share"].shape
    assert dict(root["option_value"].attrs).items() >= reference["option_value"].attrs.items()


@needs_extra
@pytest.mark.parametrize(
    "strategies", [("mine", "host", "hybrid"), ("hybrid", "switch"), ("switch", "host"), ("cloud", "switch", "mine")]
)
def test_store_equals_memory_for_any_set_of_strategies(tmp_path, strategies) -> None:
    base = THREE_WAY if "cloud" in strategies else SHORT
    scenario = base.with_overrides({"strategies.evaluate": list(strategies)})
    expected = pivotmc.simulate(scenario, n_paths=300, seed=3, keep_paths=2)
    assert ("switch_decision" in expected) == ("switch" in strategies)
    assert ("option_value" in expected) == ("switch" in strategies and {"mine", "host", "cloud"} & set(strategies) != set())
    if "cloud" in strategies:
        assert list(expected["action"].values) == ["host", "cloud"] and (expected["switch_action"].values == 1).any()
    stored = pivotmc.simulate(scenario, n_paths=300, seed=3, keep_paths=2, store=tmp_path / "r.zarr", chunk_paths=128)
    assert_same_result(stored, expected)


@needs_extra
def test_resume_refuses_chunks_of_another_switch_policy(tmp_path, monkeypatch) -> None:
    import zarr

    import pivotmc.policy.switch
    import pivotmc.run.store

    args = dict(n_paths=300, seed=2, chunk_paths=100)
    path = tmp_path / "r.zarr"
    pivotmc.simulate(SHORT, store=path, **args)
    root = zarr.open_group(str(path), mode="r+")
    root["_chunks"]["done"][1] = 0
    root["_chunks"]["finished"][...] = 0
    # A learner whose arithmetic differs (another machine, say) finds another policy.
    own = pivotmc.policy.switch.learn(SHORT)
    coefficients = own.stopping.coefficients.copy()
    coefficients[0, 0] += 1.0
    other = dataclasses.replace(own, stopping=dataclasses.replace(own.stopping, coefficients=coefficients))
    with monkeypatch.context() as patch:
        patch.setattr(pivotmc.run.store, "policy_for", lambda plan: other)
        with pytest.raises(ValidationError, match="another switch policy") as info:
            pivotmc.simulate(SHORT, store=path, **args)
    assert "overwrite=True" in str(info.value)
    assert root["_chunks"]["done"][1] == 0  # nothing was computed
    # With the policy its chunks followed, the run resumes.
    assert_same_result(pivotmc.simulate(SHORT, store=path, **args), pivotmc.simulate(SHORT, n_paths=300, seed=2))


@needs_extra
def test_a_finished_store_learns_nothing(tmp_path, monkeypatch) -> None:
    import pivotmc.policy.switch

    path = tmp_path / "r.zarr"
    first = pivotmc.simulate(SHORT, n_paths=200, seed=2, store=path, chunk_paths=100)

    def learn(*args, **kwargs):
        raise AssertionError("a finished run learned the switch policy again")

    monkeypatch.setattr(pivotmc.policy.switch, "learn", learn)
    assert_same_result(pivotmc.simulate(SHORT, n_paths=200, seed=2, store=path, chunk_paths=100), first)


@needs_extra
def test_progress_reports_every_chunk(tmp_path, client) -> None:
    calls = []
    pivotmc.simulate(
        SHORT, n_paths=500, seed=1, store=tmp_path / "r.zarr", chunk_paths=120, client=client,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, 500) and calls[-1] == (500, 500)
    assert len(calls) == 1 + 5
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@needs_extra
def test_store_is_lazy_and_opens_again(tmp_path, reference) -> None:
    import xarray as xr

    from pivotmc.run.io import load
    from pivotmc.run.store import open_store, read_for_summary, read_npv

    path = tmp_path / "r.zarr"
    stored = pivotmc.simulate(SHORT, n_paths=700, seed=11, keep_paths=9, store=path, chunk_paths=250)
    assert stored["npv"].chunks is not None  # dask-backed: nothing of size paths was loaded to return it
    assert_same_result(open_store(path), reference)
    assert_same_result(load(path), reference)
    npv = read_npv(path)
    assert list(npv.data_vars) == ["npv"]
    assert npv["npv"].values.tobytes() == reference["npv"].values.tobytes()
    # What summarize needs, read without the per-path decisions: the same summary, switch lines included.
    small = read_for_summary(path)
    assert set(small.data_vars) == {"npv", "switch_share", "switch_action_share"}
    xr.testing.assert_identical(pivotmc.summarize(small), pivotmc.summarize(reference))


# ---------------------------------------------------------------------------
# Resume
# ---------------------------------------------------------------------------

CHILD = """
import sys
import pivotmc

scenario = pivotmc.Scenario.from_toml_string(sys.stdin.read())
def progress(done, total):
    print(done, flush=True)
pivotmc.simulate(scenario, n_paths=int(sys.argv[1]), seed=5, keep_paths=30, store=sys.argv[2],
                 chunk_paths=int(sys.argv[3]), progress=progress)
print("finished", flush=True)
"""


@needs_extra
def test_resume_after_sigkill_computes_only_missing_chunks(tmp_path) -> None:
    import zarr

    from pivotmc.run.store import open_store

    n_paths, chunk_paths = 24_000, 400
    n_chunks = n_paths // chunk_paths
    path = tmp_path / "killed.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(n_paths), str(path), str(chunk_paths)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(), text=True,
    )
    proc.stdin.write(SHORT.to_toml())
    proc.stdin.close()
    for line in proc.stdout:
        if int(line) >= n_paths // 5:
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait(timeout=120) == -signal.SIGKILL
    proc.stdout.close()

    state = zarr.open_group(str(path), mode="r")["_chunks"]
    done = state["done"][:].astype(bool)
    assert 0 < done.sum() < n_chunks, "the kill did not land mid-way"
    assert not state["finished"][()]
    with pytest.raises(ValidationError, match="incomplete"):
        open_store(path)

    # A completed chunk is never written again: its files keep their identity.
    def npv_file(i: int) -> os.stat_result:
        return os.stat(path / "npv" / f"0.{i}")

    before = {i: (npv_file(i).st_ino, npv_file(i).st_mtime_ns) for i in np.flatnonzero(done)}
    calls = []
    resumed = pivotmc.simulate(
        SHORT, n_paths=n_paths, seed=5, keep_paths=30, store=path, chunk_paths=chunk_paths,
        progress=lambda d, t: calls.append(d),
    )
    assert calls[0] == done.sum() * chunk_paths
    assert len(calls) - 1 == n_chunks - done.sum()
    assert before == {i: (npv_file(i).st_ino, npv_file(i).st_mtime_ns) for i in before}

    whole = tmp_path / "whole.zarr"
    pivotmc.simulate(SHORT, n_paths=n_paths, seed=5, keep_paths=30, store=whole, chunk_paths=chunk_paths)
    assert_same_store(path, whole)
    assert_same_result(resumed, pivotmc.simulate(SHORT, n_paths=n_paths, seed=5, keep_paths=30))

    # Once finished, the same call computes nothing.
    calls.clear()
    pivotmc.simulate(SHORT, n_paths=n_paths, seed=5, keep_paths=30, store=path, chunk_paths=chunk_paths,
                     progress=lambda d, t: calls.append(d))
    assert calls == [n_paths]


@needs_extra
def test_resume_on_the_cluster(tmp_path, client) -> None:
    import zarr

    args = dict(n_paths=700, seed=11, keep_paths=9, chunk_paths=100)
    path = tmp_path / "r.zarr"
    pivotmc.simulate(SHORT, store=path, **args)
    root = zarr.open_group(str(path), mode="r+")
    # As a kill would leave it: two chunks unflagged (one half-written), the means not finished.
    root["_chunks"]["done"][2] = 0
    root["_chunks"]["done"][5] = 0
    root["npv"][:, 500:550] = np.nan
    root["switch_decision"][500:550] = 3
    root["switch_time"][200:300] = -1.0
    root["switch_share"][...] = np.nan
    root["option_value"][...] = np.nan
    root["_chunks"]["finished"][...] = 0
    calls = []
    stored = pivotmc.simulate(SHORT, store=path, client=client, progress=lambda d, t: calls.append(d), **args)
    assert calls == [500, 600, 700]
    assert_same_result(stored, pivotmc.simulate(SHORT, n_paths=700, seed=11, keep_paths=9))


@needs_extra
def test_a_layout_cut_short_is_laid_out_again(tmp_path) -> None:
    import shutil

    path = tmp_path / "r.zarr"
    pivotmc.simulate(SHORT, n_paths=100, seed=1, store=path, chunk_paths=40)
    shutil.rmtree(path / "_chunks")
    (path / ".zmetadata").unlink()
    stored = pivotmc.simulate(SHORT, n_paths=100, seed=1, store=path, chunk_paths=40)
    assert_same_result(stored, pivotmc.simulate(SHORT, n_paths=100, seed=1))


# ---------------------------------------------------------------------------
# Refusal and overwrite
# ---------------------------------------------------------------------------


@needs_extra
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"seed": 12}, ["seed 11 there, 12 here"]),
        ({"n_paths": 701}, ["n_paths"]),
        ({"chunk_paths": 99}, ["chunk_paths"]),
        ({"keep_paths": 0}, ["keep_paths"]),
        ({"scenario": SHORT.with_overrides({"btc.sigma": 0.9})}, ["another scenario"]),
        ({"backend": "reference"}, ["backend"]),
    ],
)
def test_another_run_is_refused_and_the_store_untouched(tmp_path, change, words) -> None:
    path = tmp_path / "r.zarr"
    args = dict(scenario=SHORT, n_paths=700, seed=11, keep_paths=9, chunk_paths=100)
    pivotmc.simulate(store=path, **args)
    before = store_contents(path)
    with pytest.raises(ValidationError, match="overwrite=True") as info:
        pivotmc.simulate(store=path, **{**args, **change})
    for word in words:
        assert word in str(info.value)
    assert_same_contents(before, store_contents(path))


@needs_extra
def test_overwrite_replaces_the_run(tmp_path) -> None:
    path = tmp_path / "r.zarr"
    pivotmc.simulate(SHORT, n_paths=300, seed=1, store=path, chunk_paths=100)
    stored = pivotmc.simulate(SHORT, n_paths=200, seed=2, keep_paths=3, store=path, chunk_paths=64, overwrite=True)
    assert_same_result(stored, pivotmc.simulate(SHORT, n_paths=200, seed=2, keep_paths=3))


@needs_extra
def test_what_is_not_a_store_is_never_deleted(tmp_path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match="not a"):
            pivotmc.simulate(SHORT, n_paths=10, store=folder, overwrite=overwrite)
    assert (folder / "keep.txt").read_text() == "mine"
    plain = tmp_path / "file.zarr"
    plain.write_text("x")
    with pytest.raises(ValidationError, match="not a directory"):
        pivotmc.simulate(SHORT, n_paths=10, store=plain, overwrite=True)
    # An empty directory is a fine place for a new store.
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    pivotmc.simulate(SHORT, n_paths=10, store=empty)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"client": "tcp://127.0.0.1:1"}, "client"),
        ({"chunk_paths": 10}, "chunk_paths"),
        ({"overwrite": True}, "overwrite"),
    ],
)
def test_store_options_need_a_store(kwargs, word) -> None:
    with pytest.raises(ValidationError, match=word):
        pivotmc.simulate(SHORT, n_paths=10, **kwargs)


@needs_extra
@pytest.mark.parametrize("chunk_paths", [0, -5, 2.5, "many"])
def test_bad_chunk_paths(tmp_path, chunk_paths) -> None:
    with pytest.raises(ValidationError, match="chunk_paths"):
        pivotmc.simulate(SHORT, n_paths=10, store=tmp_path / "r.zarr", chunk_paths=chunk_paths)
    assert not (tmp_path / "r.zarr").exists()


@needs_extra
def test_bad_client(tmp_path) -> None:
    with pytest.raises(ValidationError, match="client"):
        pivotmc.simulate(SHORT, n_paths=10, store=tmp_path / "r.zarr", client=42)


# ---------------------------------------------------------------------------
# Without the extra
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["zarr", "dask", "distributed"])
def test_without_the_extra_store_and_client_say_what_to_install(tmp_path, monkeypatch, missing) -> None:
    from pivotmc.run.store import ExtraNotInstalledError

    for name in list(sys.modules):
        if name == missing or name.startswith(missing + "."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, missing, None)  # importing it now raises ImportError
    kwargs = {"client": "tcp://127.0.0.1:1"} if missing == "distributed" else {}
    with pytest.raises(ExtraNotInstalledError, match=r'pip install "pivotmc\[dask\]"') as info:
        pivotmc.simulate(SHORT, n_paths=10, store=tmp_path / "r.zarr", **kwargs)
    assert isinstance(info.value, ImportError) and isinstance(info.value, ValidationError)
    assert str(info.value).count(".") <= 3 and "\n" not in str(info.value)
    if missing != "dask":  # xarray itself still finds dask's files and trips over the hidden module
        assert pivotmc.simulate(SHORT, n_paths=10).sizes["path"] == 10  # everything else still works


def test_import_pulls_in_neither_zarr_nor_distributed() -> None:
    code = (
        "import sys, pivotmc, pivotmc.run.io, pivotmc.cli, pivotmc.run.store\n"
        "print(sorted(m for m in ('zarr', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------




@pytest.fixture
def short_toml(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "short.toml"
    path.write_text(SHORT.to_toml(), encoding="utf-8")
    return path


@needs_extra
def test_cli_run_on_a_scheduler_and_summarize(short_toml, client, capsys) -> None:
    argv = ["run", "short.toml", "--paths", "600", "--seed", "4", "--keep-paths", "3", "--out", "r.zarr",
            "--chunk-paths", "250", "--scheduler", client.scheduler.address]
    code, out, err = invoke(argv, capsys)
    assert code == 0, err
    assert "Result written to r.zarr." in out
    expected = pivotmc.simulate(SHORT, n_paths=600, seed=4, keep_paths=3)
    from pivotmc.run.store import open_store

    assert_same_result(open_store("r.zarr"), expected)
    code, summary, err = invoke(["summarize", "r.zarr"], capsys)
    assert code == 0, err
    assert summary == pivotmc.format_summary(pivotmc.summarize(expected)) + "\n"
    assert summary.strip() in out

    # The same command again finds everything done; another seed is refused until --overwrite.
    code, again, err = invoke(argv, capsys)
    assert code == 0, err
    assert "Resumed: 600 of the 600 paths" in again
    other_seed = [*argv[:5], "5", *argv[6:]]
    code, out, err = invoke(other_seed, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "--overwrite" in err
    code, out, err = invoke([*other_seed, "--overwrite"], capsys)
    assert code == 0, err


@needs_extra
def test_cli_run_with_local_workers(short_toml, capsys) -> None:
    code, out, err = invoke(["run", "short.toml", "--paths", "400", "--out", "w.zarr", "--chunk-paths", "150",
                             "--workers", "2"], capsys)
    assert code == 0, err
    from pivotmc.run.store import open_store

    assert_same_result(open_store("w.zarr"), pivotmc.simulate(SHORT, n_paths=400))


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["run", "--paths", "10", "--chunk-paths", "5"], "--chunk-paths"),
        (["run", "--paths", "10", "--workers", "2"], "--workers"),
        (["run", "--paths", "10", "--out", "r.nc", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
        (["run", "--paths", "10", "--out", "r.zarr", "--workers", "0"], "workers"),
    ],
)
def test_cli_store_options_need_a_store(tmp_path, monkeypatch, capsys, argv, word) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and word in err


@needs_extra
def test_cli_summarize_refuses_an_unfinished_or_absent_store(tmp_path, monkeypatch, capsys) -> None:
    import zarr

    monkeypatch.chdir(tmp_path)
    pivotmc.simulate(SHORT, n_paths=100, store="part.zarr", chunk_paths=30)
    zarr.open_group("part.zarr", mode="r+")["_chunks"]["finished"][...] = 0
    for name, word in (("part.zarr", "incomplete"), ("absent.zarr", "absent.zarr")):
        code, out, err = invoke(["summarize", name], capsys)
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and word in err
