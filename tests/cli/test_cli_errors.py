"""Every command line mistake ends in exit code 2 and one line on stderr: never a traceback, never a partial run.

Hypothesis drives the command line with malformed arguments, values and files; each example is refused before
anything is simulated, so these run in-process and fast.
"""

from __future__ import annotations

import contextlib
import io
import math
import string
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pivotmc.cli import main

SIMULATING = ("run", "sensitivity", "sweep")


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_refused(argv: list[str]) -> str:
    code, out, err = invoke(argv)
    lines = err.splitlines()
    assert code == 2, (argv, code, err)
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("pivotmc"), (argv, err)
    assert "Traceback" not in err and out == "", (argv, out, err)
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Files that are not what the commands read."""
    folder = tmp_path_factory.mktemp("not-results")
    made = {
        "toml": folder / "scenario.toml",
        "garbage": folder / "garbage.nc",
        "empty": folder / "empty.nc",
        "plain_netcdf": folder / "plain.nc",
        "netcdf3": folder / "old.nc",
        "csv": folder / "data.csv",
        "binary_toml": folder / "binary.toml",
        "bad_toml": folder / "bad.toml",
    }
    made["toml"].write_text("[btc]\nsigma = 0.5\n")
    made["garbage"].write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
    made["empty"].write_bytes(b"")
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(made["plain_netcdf"], engine="h5netcdf")
    # As earlier versions of pivotmc wrote results: netCDF-3, through scipy.
    xr.Dataset({"npv": ("path", np.zeros(3))}, attrs={"pivotmc_version": "0.0.9", "n_paths": 3}).to_netcdf(
        made["netcdf3"], engine="scipy"
    )
    made["csv"].write_text("date,btc_price\n2024-01-01,40000\n")
    made["binary_toml"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    made["bad_toml"].write_text("[btc\nsigma = \n")
    made["missing"] = folder / "missing.nc"
    made["folder"] = folder / "a-folder"
    made["folder"].mkdir()
    return made


# -- values an analyst might type wrongly -------------------------------------------------------------------- #
NOT_COUNTS = ["", " ", "abc", "NaN", "nan", "inf", "-inf", "1.5", "1e-3", "0x10", "1e400", "ten", "1,5", "--", "½", "٣x"]
NOT_NUMBERS = ["", "abc", "NaN", "nan", "inf", "-Infinity", "1e400", "0.2.1", "20%", "0x1", "--"]


def not_a_number() -> st.SearchStrategy[str]:
    def is_number(text: str) -> bool:
        try:
            return math.isfinite(float(text.replace("_", "").replace(",", "")))
        except ValueError:
            return False

    return st.one_of(st.sampled_from(NOT_NUMBERS), st.text(string.ascii_letters + "%$#!?", min_size=1, max_size=8)).filter(
        lambda t: not is_number(t) and not t.startswith("-")
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=st.sampled_from(SIMULATING), value=st.one_of(st.sampled_from(NOT_COUNTS), not_a_number()))
def test_a_count_that_is_not_a_whole_number(command: str, value: str) -> None:
    extra = ["--grid", "btc.sigma=0.5"] if command == "sweep" else []
    line = assert_refused([command, *extra, "--paths", value])
    assert "--paths" in line


@settings(max_examples=40, deadline=None)
@given(command=st.sampled_from(SIMULATING), paths=st.sampled_from(["0", "-5", "-1e3", str(2**32 + 1)]))
def test_a_count_out_of_range(command: str, paths: str) -> None:
    extra = ["--grid", "btc.sigma=0.5"] if command == "sweep" else []
    line = assert_refused([command, *extra, "--paths", paths])
    assert "paths" in line


@settings(max_examples=40, deadline=None)
@given(command=st.sampled_from(SIMULATING), seed=st.sampled_from(["-1", "1.5", "1e3", "abc", str(2**64), "NaN"]))
def test_a_bad_seed(command: str, seed: str) -> None:
    extra = ["--grid", "btc.sigma=0.5"] if command == "sweep" else []
    line = assert_refused([command, *extra, "--paths", "10", "--seed", seed])
    assert "seed" in line


@settings(max_examples=80, deadline=None)
@given(
    command=st.sampled_from(["run", "scenario"]),
    section=st.sampled_from(["btc", "hosting", "site", "mining", "nosuch", "", "btc.sigma"]),
    key=st.text(string.ascii_lowercase + "_", min_size=1, max_size=12),
    value=st.sampled_from(["0.5", "1e5", "100_000", "abc", "NaN", ""]),
)
def test_an_unknown_parameter(command: str, section: str, key: str, value: str) -> None:
    from pivotmc import Scenario

    known = Scenario.default().to_dict()
    if section in known and key in known[section]:
        key = key + "_x"  # keep it unknown
    extra = ["--paths", "10"] if command == "run" else []
    assert_refused([command, "--set", f"{section}.{key}={value}", *extra])


@settings(max_examples=60, deadline=None)
@given(
    command=st.sampled_from(["run", "scenario"]),
    name=st.sampled_from(["btc.sigma", "btc.price", "site.grid_mw", "hosting.lease_rate", "simulation.horizon_years",
                          "mining.refresh_years", "simulation.steps_per_year"]),
    value=st.sampled_from(["NaN", "nan", "inf", "-inf", "-1e400", "abc", "-5", "[1, 2]", '"text"', "true"]),
)
def test_a_parameter_value_out_of_range_or_of_the_wrong_type(command: str, name: str, value: str) -> None:
    extra = ["--paths", "10"] if command == "run" else []  # refused before any path is drawn; small if not
    line = assert_refused([command, "--set", f"{name}={value}", *extra])
    assert name in line


def test_spellings_of_numbers_are_read_alike(capsys) -> None:
    """1e5, 100_000, 100,000 and 100000 are the same value, in --set as in counts."""
    from pivotmc import Scenario

    outputs = set()
    for spelling in ("100000", "1e5", "100_000", "100,000", "1.0e5"):
        code, out, err = invoke(["scenario", "--set", f"site.grid_mw={spelling}"])
        assert code == 0, err
        assert Scenario.from_toml_string(out).site.grid_mw == 100_000
        outputs.add(out)
    assert len(outputs) == 1
    from pivotmc.cli.values import count

    assert {count(s) for s in ("100000", "1e5", "100_000", "100,000")} == {100_000}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["summarize", "report"]),
    which=st.sampled_from(["toml", "garbage", "empty", "plain_netcdf", "netcdf3", "csv", "missing", "folder",
                           "binary_toml"]),
)
def test_a_file_that_is_not_a_result(files, command: str, which: str, tmp_path_factory) -> None:
    argv = [command, str(files[which])]
    if command == "report":
        argv += ["-o", str(files["folder"] / "out.html")]
    assert_refused(argv)


@pytest.mark.parametrize("command", ["summarize", "report"])
def test_a_result_of_an_earlier_version_says_how_to_make_a_new_one(files, command: str) -> None:
    argv = [command, str(files["netcdf3"])] + (["-o", str(files["folder"] / "out.html")] if command == "report" else [])
    line = assert_refused(argv)
    assert "old.nc" in line and "netCDF-3" in line and "--out" in line


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["run", "sensitivity", "sweep", "calibrate"]),
    which=st.sampled_from(["garbage", "missing", "folder", "binary_toml", "bad_toml", "plain_netcdf"]),  # empty TOML: defaults
)
def test_a_file_that_is_not_a_scenario(files, command: str, which: str) -> None:
    if command == "calibrate":
        argv = ["calibrate", str(files["csv"]), "--base", str(files[which])]
    else:
        argv = [command, str(files[which]), "--paths", "10"]
        if command == "sweep":
            argv += ["--grid", "btc.sigma=0.5"]
    assert_refused(argv)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["garbage", "empty", "missing", "folder", "binary_toml", "toml"]))
def test_calibrate_given_something_that_is_not_data(files, which: str) -> None:
    assert_refused(["calibrate", str(files[which])])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["btc.sigmaa", "btc.sgima", "hosting.lease", "hostng.lease_rate", "sigma", "btc.", ".sigma",
                          "btc.sigma.x", "correlation.btc_btc", "correlation.nope_fees"]),
)
def test_a_misspelt_sensitivity_parameter_names_the_nearest(name: str) -> None:
    line = assert_refused(["sensitivity", "--param", name, "--paths", "10"])
    if name in ("btc.sigmaa", "btc.sgima"):
        assert "did you mean 'sigma'" in line


@settings(max_examples=60, deadline=None)
@given(grid=st.sampled_from(["btc.sigma", "btc.sigma=", "=0.3", "btc.sigmaa=0.3,0.5", "btc.sigma=0.3,,0.5",
                             "btc.sigma=0.3,abc", "btc.sigma=NaN", "btc.sigma=-1", "nosuch.key=1"]))
def test_a_malformed_grid(grid: str) -> None:
    assert_refused(["sweep", "--grid", grid, "--paths", "10"])


@settings(max_examples=40, deadline=None)
@given(shock=st.sampled_from(["0", "-0.2", "1", "1.5", "NaN", "inf", "abc", "20%"]))
def test_a_shock_outside_zero_one(shock: str) -> None:
    line = assert_refused(["sensitivity", "--param", "btc.sigma", "--shock", shock, "--paths", "10"])
    assert "shock" in line


@settings(max_examples=60, deadline=None)
@given(
    command=st.sampled_from(["run", "scenario", "summarize", "calibrate", "sensitivity", "sweep", "report", "cache"]),
    flag=st.text(string.ascii_lowercase + "-", min_size=1, max_size=10).map(lambda t: "--zz" + t),
)
def test_an_unknown_option(command: str, flag: str) -> None:
    line = assert_refused([command, flag])
    assert "pivotmc" in line


@settings(max_examples=30, deadline=None)
@given(backend=st.sampled_from(["gpu", "CPU", "numba", "", "cudaa", "reference "]))
def test_an_unknown_backend(backend: str) -> None:
    line = assert_refused(["run", "--backend", backend, "--paths", "10"])
    assert "backend" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--out", "result.csv", "--paths", "10"],
        ["run", "--keep-paths", "20", "--paths", "10"],
        ["run", "--chunk-paths", "5", "--paths", "10"],
        ["run", "--workers", "2", "--paths", "10"],
        ["sensitivity", "--out", "sens.txt", "--paths", "10"],
        ["sweep", "--grid", "btc.sigma=0.5", "--out", "grid.zarr", "--paths", "10"],
        ["report", "nothing.nc"],
        ["calibrate", "data.csv", "--jump-intensity", "3", "--max-jump-intensity", "5"],
        ["calibrate", "data.csv", "--jump-intensity", "NaN"],
        ["nosuchcommand"],
    ],
)
def test_more_mistakes(argv: list[str], tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data.csv").write_text("date,btc_price\n2024-01-01,40000\n2024-01-02,41000\n")
    assert_refused(argv)
