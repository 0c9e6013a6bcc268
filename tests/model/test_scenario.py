"""The scenario: defaults, immutability, TOML round trips and rejection of bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pivotmc
from pivotmc import FACTORS, ParameterTypeError, Scenario, ValidationError
from pivotmc.testing import correlation_matrices, invalid_overrides, scenarios

DEFAULT = Scenario.default()
SMALL = DEFAULT.with_overrides({"simulation.horizon_years": 1.0})


# --------------------------------------------------------------------------- #
# Defaults of the model specification
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("simulation.start", dt.date(2026, 1, 1)),
        ("simulation.horizon_years", 15.0),
        ("simulation.steps_per_year", 12),
        ("simulation.discount_rate", 0.12),
        ("protocol.blocks_per_day", 144.0),
        ("protocol.start_height", 930_000),
        ("protocol.halving_interval", 210_000),
        ("protocol.initial_subsidy_btc", 50.0),
        ("btc.price", 90_000.0),
        ("btc.mu", 0.10),
        ("btc.sigma", 0.5),
        ("btc.jump_intensity", 1.0),
        ("btc.jump_mean", -0.05),
        ("btc.jump_sd", 0.15),
        ("fees.initial_btc", 0.025),
        ("fees.long_run_btc", 0.025),
        ("fees.speed", 4.0),
        ("fees.sigma", 0.8),
        ("hashrate.initial_ehs", 1100.0),
        ("hashrate.speed", 3.0),
        ("hashrate.sigma", 0.15),
        ("hashrate.growth", 0.0),
        ("hashrate.efficiency_j_per_th", 20.0),
        ("hashrate.efficiency_improvement", 0.10),
        ("hashrate.marginal_power_price", 45.0),
        ("hashrate.markup", None),
        ("power.price", 40.0),
        ("power.long_run_price", 42.0),
        ("power.speed", 2.0),
        ("power.sigma", 0.35),
        ("power.seasonality", (1.0,) * 12),
        ("power.spike_intensity", 0.0),
        ("power.ppa_fraction", 0.0),
        ("power.ppa_price", 45.0),
        ("hosting.lease_rate", 140.0),
        ("hosting.lease_trend", -0.03),
        ("hosting.lease_speed", 0.5),
        ("hosting.lease_sigma", 0.2),
        ("hosting.pue", 1.35),
        ("hosting.lead_time_min_months", 8.0),
        ("hosting.lead_time_mode_months", 10.0),
        ("hosting.lead_time_max_months", 18.0),
        ("hosting.capex_per_it_mw", 9e6),
        ("hosting.capex_overrun_sigma", 0.15),
        ("hosting.tenant_capex_share", 0.0),
        ("hosting.escalator", 0.025),
        ("hosting.term_years", 12.0),
        ("hosting.power_passthrough", True),
        ("hosting.noi_margin", 0.85),
        ("hosting.default_hazard", 0.03),
        ("hosting.release_months", 6.0),
        ("hosting.renewal_probability", 0.8),
        ("site.grid_mw", 100.0),
        ("mining.pue", 1.05),
        ("mining.efficiency_j_per_th", 17.5),
        ("mining.uptime", 0.97),
        ("mining.pool_fee", 0.02),
        ("mining.fixed_opex_per_mw_year", 40_000.0),
        ("mining.curtailment", True),
        ("mining.demand_response_credit", 0.0),
        ("mining.refresh_years", 4.0),
        ("mining.asic_price_per_th", 15.0),
        ("mining.asic_reference_hashprice", 45.0),
        ("mining.salvage_fraction", 0.3),
        ("strategies.hybrid_fraction", 0.5),
        ("terminal.mine", 0.0),
        ("terminal.host", 0.0),
        ("terminal.hybrid", 0.0),
    ],
)
def test_default_matches_model_spec(name: str, expected) -> None:
    section, key = name.split(".")
    value = getattr(getattr(DEFAULT, section), key)
    assert value == expected
    assert type(value) is type(expected)


def test_default_correlations() -> None:
    corr = DEFAULT.correlation
    assert corr.pair("btc", "fees") == corr.pair("fees", "btc") == 0.3
    assert corr.pair("btc", "lease") == corr.pair("lease", "btc") == 0.2
    assert corr.pair("btc", "hashrate") == corr.pair("hashrate", "btc") == 0.1
    assert corr.pair("lease", "gpu") == corr.pair("gpu", "lease") == 0.6
    named = {frozenset(p) for p in [("btc", "fees"), ("btc", "lease"), ("btc", "hashrate"), ("lease", "gpu")]}
    for a in FACTORS:
        assert corr.pair(a, a) == 1.0
        for b in FACTORS:
            if a != b and frozenset((a, b)) not in named:
                assert corr.pair(a, b) == 0.0


def test_default_grid_and_strategies() -> None:
    assert DEFAULT.n_steps == 180
    assert DEFAULT.simulation.dt == pytest.approx(1 / 12)
    assert DEFAULT.strategies.evaluate == pivotmc.STRATEGIES == ("mine", "host", "hybrid", "switch", "cloud")
    assert DEFAULT.switch.decisions_per_year == 4  # quarterly decisions
    assert FACTORS == ("btc", "fees", "hashrate", "power", "lease", "gpu")


@pytest.mark.parametrize(
    "name",
    [
        "simulation.horizon_years",
        "simulation.steps_per_year",
        "simulation.discount_rate",
        "btc.price",
        "btc.mu",
        "btc.sigma",
        "site.grid_mw",
        "hosting.capex_per_it_mw",
        "hosting.lease_rate",
    ],
)
def test_required_names_exist(name: str) -> None:
    section, key = name.split(".")
    assert hasattr(getattr(DEFAULT, section), key)
    assert f"\n{key} = " in DEFAULT.to_toml(comments=False).split(f"[{section}]")[1]
    # Every documented name is also accepted as an override key.
    value = getattr(getattr(DEFAULT, section), key)
    assert DEFAULT.with_overrides({name: value}) == DEFAULT


# --------------------------------------------------------------------------- #
# Value semantics
# --------------------------------------------------------------------------- #
def test_scenario_is_immutable() -> None:
    s = Scenario.default()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.btc = s.btc  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.btc.sigma = 0.9  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.correlation.matrix = ()  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        s.correlation.matrix[0][1] = 0.5  # type: ignore[index]
    assert s == Scenario.default()


def test_scenario_is_hashable_and_compares_by_value() -> None:
    a = Scenario.default()
    b = Scenario.from_toml_string(a.to_toml())
    c = a.with_overrides({"btc.sigma": 0.7})
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    assert {a: 1}[b] == 1


# --------------------------------------------------------------------------- #
# TOML
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("comments", [True, False])
def test_default_toml_round_trip(comments: bool) -> None:
    text = DEFAULT.to_toml(comments=comments)
    back = Scenario.from_toml_string(text)
    assert back == DEFAULT
    assert back.to_toml(comments=comments) == text
    assert ("#" in text) is comments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(max_horizon_years=10, steps_per_year=(12, 52, 365)), comments=st.booleans())
def test_generated_toml_round_trip(scenario: Scenario, comments: bool) -> None:
    text = scenario.to_toml(comments=comments)
    back = Scenario.from_toml_string(text)
    assert back == scenario
    assert hash(back) == hash(scenario)
    assert back.to_toml(comments=comments) == text
    # The dict form is a round trip too.
    assert Scenario.from_dict(scenario.to_dict()) == scenario


def test_toml_comments_say_what_each_section_and_parameter_is() -> None:
    lines = DEFAULT.to_toml().splitlines()
    for f in dataclasses.fields(DEFAULT):
        section = getattr(DEFAULT, f.name)
        start = lines.index(f"[{f.name}]")
        assert lines[start - 1] == "# " + section.__doc__.strip().splitlines()[0]
        for sf in dataclasses.fields(section):
            at = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{sf.name} = "))
            unit, doc = sf.metadata["unit"], sf.metadata["doc"]
            note = f"[{unit}] {doc}" if unit else doc
            # One-line settings carry their comment at the end; a matrix has it on the line above.
            assert lines[at].endswith(f" # {note}") or lines[at - 1] == f"# {sf.name}: {note}"
    # The comments after one-line settings start in one column where the settings are short.
    commented = [line for line in lines if " = " in line and " # " in line]
    short = [line for line in commented if len(line[: line.index(" # ")].rstrip()) < 44]
    assert short and {line.index(" # ") for line in short} == {44}


def test_toml_document_takes_a_header_and_notes_above_parameters() -> None:
    notes = {"btc.sigma": ["fit: 0.5 (s.e. 0.01)", "a second line"], "correlation.matrix": ["fit: the pairs"]}
    text = DEFAULT.to_toml_document(header=["calibrated to data", "from somewhere"], notes=notes).as_string()
    assert Scenario.from_toml_string(text) == DEFAULT
    lines = text.splitlines()
    assert lines[:3] == ["# calibrated to data", "# from somewhere", ""]
    sigma = lines.index(next(line for line in lines if line.startswith("sigma = ") and "diffusion" in line))
    assert lines[sigma - 2 : sigma] == ["# fit: 0.5 (s.e. 0.01)", "# a second line"]
    assert lines[lines.index("matrix = [") - 1] == "# fit: the pairs"
    # Take the header and the notes away and the scenario's own text is left.
    added = {"# " + line for lines_ in notes.values() for line in lines_}
    assert "\n".join(line for line in lines[3:] if line not in added) + "\n" == DEFAULT.to_toml()


def test_from_toml_file_fills_defaults(tmp_path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        "[btc]\nsigma = 0.7\n\n[site]\ngrid_mw = 250\n\n[hashrate]\nmarkup = 2.5\n\n"
        "[correlation]\nmatrix = [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], "
        "[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]]\n",
        encoding="utf-8",
    )
    s = Scenario.from_toml(path)
    assert s.btc.sigma == 0.7
    assert s.site.grid_mw == 250.0 and isinstance(s.site.grid_mw, float)
    assert s.hashrate.markup == 2.5
    assert s.correlation.pair("btc", "fees") == 0.0
    expected = DEFAULT.with_overrides(
        {
            "btc.sigma": 0.7,
            "site.grid_mw": 250,
            "hashrate.markup": 2.5,
            "correlation.matrix": np.eye(len(FACTORS)).tolist(),
        }
    )
    assert s == expected
    assert s.btc.price == DEFAULT.btc.price and s.hosting == DEFAULT.hosting
    assert Scenario.from_toml(str(path)) == s


def test_a_five_factor_matrix_written_before_the_gpu_factor_is_completed_with_its_defaults(tmp_path) -> None:
    path = tmp_path / "old.toml"
    path.write_text(
        "[correlation]\nmatrix = [[1, 0.5, 0, 0, 0], [0.5, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]\n",
        encoding="utf-8",
    )
    corr = Scenario.from_toml(path).correlation
    assert corr.pair("btc", "fees") == 0.5 and corr.pair("btc", "lease") == 0.0
    assert corr.pair("lease", "gpu") == DEFAULT.correlation.pair("lease", "gpu") == 0.6 and corr.pair("btc", "gpu") == 0.0


def test_empty_toml_is_the_default(tmp_path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("# nothing set\n", encoding="utf-8")
    assert Scenario.from_toml(path) == DEFAULT


# --------------------------------------------------------------------------- #
# Overrides
# --------------------------------------------------------------------------- #
def test_with_overrides_returns_new_validated_scenario() -> None:
    original = Scenario.default()
    snapshot = original.to_toml()
    changed = original.with_overrides({"btc.sigma": 0.7, "site.grid_mw": 150, "strategies.evaluate": ["host"]})
    assert changed is not original
    assert changed.btc.sigma == 0.7
    assert changed.site.grid_mw == 150.0
    assert changed.strategies.evaluate == ("host",)
    assert changed.btc.price == original.btc.price
    assert original.to_toml() == snapshot
    assert original == DEFAULT
    assert original.with_overrides({}) == original


def test_correlation_pair_override_sets_both_entries() -> None:
    s = DEFAULT.with_overrides({"correlation.btc_fees": 0.6, "correlation.power_lease": -0.25})
    m = np.array(s.correlation.matrix)
    i, j = FACTORS.index("btc"), FACTORS.index("fees")
    assert m[i, j] == m[j, i] == 0.6
    k, l_ = FACTORS.index("power"), FACTORS.index("lease")
    assert m[k, l_] == m[l_, k] == -0.25
    assert np.array_equal(m, m.T)
    # Other entries are unchanged.
    rest = np.array(DEFAULT.correlation.matrix)
    rest[i, j] = rest[j, i] = 0.6
    rest[k, l_] = rest[l_, k] = -0.25
    assert np.array_equal(m, rest)
    # The order of the pair does not matter.
    assert DEFAULT.with_overrides({"correlation.fees_btc": 0.6}).correlation.pair("btc", "fees") == 0.6


@given(correlation_matrices())
@settings(max_examples=40, deadline=None)
def test_generated_correlation_matrices_are_accepted(matrix) -> None:
    s = DEFAULT.with_overrides({"correlation.matrix": matrix})
    assert s.correlation.matrix == matrix
    assert np.linalg.eigvalsh(np.array(matrix))[0] >= 0.0


@pytest.mark.parametrize(
    ("markup", "expected"),
    [("equilibrium", None), (None, None), (2.5, 2.5), (1, 1.0), (1e-3, 1e-3)],
)
def test_markup_is_equilibrium_or_positive(markup, expected) -> None:
    s = DEFAULT.with_overrides({"hashrate.markup": markup})
    assert s.hashrate.markup == expected
    assert Scenario.from_toml_string(s.to_toml()) == s


@pytest.mark.parametrize("markup", [0, 0.0, -1.5, math.inf, math.nan])
def test_markup_rejects_non_positive(markup) -> None:
    with pytest.raises(ValidationError, match="hashrate.markup"):
        DEFAULT.with_overrides({"hashrate.markup": markup})


# --------------------------------------------------------------------------- #
# Rejection of bad input
# --------------------------------------------------------------------------- #
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # nan, inf and -inf are spelled the same in TOML
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _as_toml(overrides: dict) -> str:
    """The TOML a user would write for ``overrides`` (pair keys become the whole matrix)."""
    tables: dict[str, dict] = {}
    matrix = None
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        a, _, b = key.partition("_")
        if section == "correlation" and a in FACTORS and b in FACTORS and a != b:
            matrix = matrix or [list(r) for r in DEFAULT.correlation.matrix]
            i, j = FACTORS.index(a), FACTORS.index(b)
            matrix[i][j] = matrix[j][i] = value
            continue
        tables.setdefault(section, {})[key] = value
    if matrix is not None:
        tables.setdefault("correlation", {})["matrix"] = matrix
    return "\n".join(
        f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in keys.items()) for section, keys in tables.items()
    )


@settings(max_examples=250, deadline=None)
@given(invalid_overrides())
def test_invalid_overrides_are_rejected_with_the_name(case) -> None:
    overrides, name = case
    with pytest.raises(ValidationError) as info:
        DEFAULT.with_overrides(overrides)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=150, deadline=None)
@given(invalid_overrides())
def test_invalid_values_in_toml_are_rejected_with_the_name(case) -> None:
    overrides, name = case
    text = _as_toml(overrides)
    with pytest.raises(ValidationError) as info:
        Scenario.from_toml_string(text)
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("[btc]\nsigma = nan\n", "btc.sigma"),
        ("[btc]\nprice = -inf\n", "btc.price"),
        ("[site]\ngrid_mw = 0\n", "site.grid_mw"),
        ("[fees]\nsigma = 3.5\n", "fees.sigma"),
        ("[mining]\nuptime = 1.01\n", "mining.uptime"),
        ("[simulation]\nhorizon_years = 51\n", "simulation.horizon_years"),
        ("[simulation]\nsteps_per_year = 24\n", "simulation.steps_per_year"),
        ("[btc]\nsigmaa = 0.5\n", "btc.sigmaa"),
        ("[bitcoin]\nsigma = 0.5\n", "bitcoin"),
        ("[btc]\nsigma = \"0.5\"\n", "btc.sigma"),
        ("[mining]\ncurtailment = 1\n", "mining.curtailment"),
        ("[hosting]\nlead_time_min_months = 12\nlead_time_mode_months = 10\n", "hosting.lead_time_min_months"),
        ("[correlation]\nmatrix = [[1, 0.5], [0.5, 1]]\n", "correlation.matrix"),
        ("btc = 5\n", "[btc]"),
    ],
)
def test_bad_toml_files_are_rejected(tmp_path, text: str, name: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        Scenario.from_toml(path)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["[btc\nsigma = 0.5\n", "[btc]\nsigma = \n", "[btc]\nsigma = 0.5\nsigma = 0.6\n", "[btc]\nsigma 0.5\n"],
)
def test_malformed_toml_is_a_validation_error(tmp_path, text: str) -> None:
    import tomllib

    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match="broken.toml") as info:
        Scenario.from_toml(path)
    assert not isinstance(info.value, tomllib.TOMLDecodeError)
    with pytest.raises(ValidationError, match="not valid TOML"):
        Scenario.from_toml_string(text)


def test_missing_toml_file_is_a_validation_error(tmp_path) -> None:
    with pytest.raises(ValidationError, match="nope.toml"):
        Scenario.from_toml(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"btc.sigma": "0.5"}, "btc.sigma"),
        ({"site.grid_mw": True}, "site.grid_mw"),
        ({"mining.curtailment": 1}, "mining.curtailment"),
        ({"hosting.power_passthrough": 0.0}, "hosting.power_passthrough"),
        ({"simulation.steps_per_year": 12.5}, "simulation.steps_per_year"),
        ({"simulation.start": 20260101}, "simulation.start"),
        ({"strategies.evaluate": "mine"}, "strategies.evaluate"),
        ({"power.seasonality": 1.0}, "power.seasonality"),
        ({"correlation.matrix": "identity"}, "correlation.matrix"),
        ({"hashrate.markup": "calibrated"}, "hashrate.markup"),
    ],
)
def test_wrong_types_raise_parameter_type_error(overrides: dict, name: str) -> None:
    with pytest.raises(ParameterTypeError, match=name.replace(".", r"\.")) as info:
        DEFAULT.with_overrides(overrides)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data", ["btc.sigma=1", 5, None])
def test_from_dict_needs_a_mapping(data) -> None:
    with pytest.raises(ParameterTypeError):
        Scenario.from_dict(data)  # type: ignore[arg-type]


def test_section_must_be_a_table() -> None:
    with pytest.raises(ParameterTypeError, match=r"\[btc\]"):
        Scenario.from_dict({"btc": 0.5})


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"power.seasonality": [1.0] * 11}, "power.seasonality"),
        ({"power.seasonality": [1.0] * 11 + [0.0]}, "power.seasonality[11]"),
        ({"strategies.evaluate": []}, "strategies.evaluate"),
        ({"strategies.evaluate": ["mine", "mine"]}, "strategies.evaluate"),
        ({"strategies.evaluate": ["mine", "switch2"]}, "strategies.evaluate"),
        ({"simulation.start": "2026-13-01"}, "simulation.start"),
        ({"btcsigma": 0.5}, "btcsigma"),
        ({"btc.sigma.x": 0.5}, "btc.sigma.x"),
    ],
)
def test_other_invalid_overrides(overrides: dict, name: str) -> None:
    with pytest.raises(ValidationError) as info:
        DEFAULT.with_overrides(overrides)
    assert name in str(info.value)


def test_whole_steps_follow_the_grid() -> None:
    # 1/52 of a year is a whole step weekly but not monthly.
    weekly = DEFAULT.with_overrides({"simulation.steps_per_year": 52, "simulation.horizon_years": 3 / 52, "mining.refresh_years": 1.0})
    assert weekly.n_steps == 3
    with pytest.raises(ValidationError, match="simulation.horizon_years"):
        DEFAULT.with_overrides({"simulation.horizon_years": 3 / 52})
    with pytest.raises(ValidationError, match="mining.refresh_years"):
        DEFAULT.with_overrides({"mining.refresh_years": 1 / 52})


# --------------------------------------------------------------------------- #
# simulate() rejects bad arguments before running anything
# --------------------------------------------------------------------------- #
@pytest.fixture
def nothing_runs(monkeypatch):
    """Make any attempt to lower and run a plan fail loudly."""
    from pivotmc.run import simulate as engine

    def boom(*args, **kwargs):
        raise AssertionError("the simulation started despite bad input")

    monkeypatch.setattr(engine, "lower", boom)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_paths": 0}, "n_paths"),
        ({"n_paths": -1}, "n_paths"),
        ({"n_paths": 1.5}, "n_paths"),
        ({"n_paths": "10"}, "n_paths"),
        ({"n_paths": True}, "n_paths"),
        ({"n_paths": 10, "keep_paths": 11}, "keep_paths"),
        ({"n_paths": 10, "keep_paths": -1}, "keep_paths"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"backend": "no-such-backend"}, "no-such-backend"),
        ({"backend": 3}, "backend"),
        ({"block_paths": 0}, "block_paths"),
    ],
)
def test_simulate_rejects_bad_arguments(nothing_runs, kwargs: dict, name: str) -> None:
    kwargs = {"n_paths": 10, **kwargs}
    with pytest.raises(ValidationError) as info:
        pivotmc.simulate(SMALL, **kwargs)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)


def test_simulate_rejects_a_non_scenario(nothing_runs) -> None:
    with pytest.raises(ParameterTypeError, match="scenario"):
        pivotmc.simulate({"btc": {"sigma": 0.5}}, n_paths=10)  # type: ignore[arg-type]


def test_simulate_accepts_the_seed_range_ends() -> None:
    for seed in (0, 2**64 - 1, np.uint64(2**64 - 1)):
        ds = pivotmc.simulate(SMALL, n_paths=3, seed=seed)
        assert ds.attrs["seed"] == int(seed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_generated_scenarios_simulate_to_finite_values(scenario: Scenario) -> None:
    ds = pivotmc.simulate(scenario, n_paths=20, seed=11)
    assert ds.sizes["path"] == 20
    assert list(ds["strategy"].values) == list(scenario.strategies.evaluate)
    assert ds.sizes["time"] == scenario.n_steps
    assert np.isfinite(ds["npv"].values).all()
    assert np.isfinite(ds["cash_flow_mean"].values).all()
