"""pivotmc calibrate on the command line: the commented TOML it writes, one-line errors, the flags, GPU prices."""

from __future__ import annotations

import warnings

from pivotmc import CalibrationWarning, Scenario, calibrate
from pivotmc.cli import main

from histories import recent_history, small_frame


def test_cli_writes_the_calibrated_scenario(daily, tmp_path, capsys):
    scenario, frame, _, _ = daily
    csv = tmp_path / "history.csv"
    frame.iloc[:400][["date", "btc_price", "power_price"]].to_csv(csv, index=False)
    out = tmp_path / "calibrated.toml"
    code = main(["calibrate", str(csv), "--out", str(out)])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert "btc_merton" in printed and f"written to {out}" in printed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = calibrate(csv)
    loaded = Scenario.from_toml(out)
    assert loaded == Scenario.default().with_overrides(result.overrides)
    text = out.read_text()
    lines = text.splitlines()
    sigma = lines.index(next(line for line in lines if line.startswith("sigma = ") and "diffusion" in line))
    assert lines[sigma - 1].startswith("# fit: ") and "s.e." in lines[sigma - 1]
    assert "2026-01-01 to 2027-02-04" in lines[sigma - 1]
    fitted = [k for k in result.overrides if k not in result.set_from_data]
    assert text.count("# fit: ") == len(fitted)
    assert text.count("# set from the last observation: ") == len(result.set_from_data) == 4


def test_cli_bad_data_is_one_line_and_exit_2(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    small_frame().rename(columns={"power_price": "price"}).to_csv(csv, index=False)
    code = main(["calibrate", str(csv), "--out", str(tmp_path / "x.toml")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("pivotmc: error: unknown column 'price'") and err.count("\n") == 1
    assert not (tmp_path / "x.toml").exists()


def test_cli_judgement_flags(tmp_path, capsys):
    csv = tmp_path / "history.csv"
    recent_history("2024-06-30").to_csv(csv, index=False)
    out = tmp_path / "s.toml"
    args = ["calibrate", str(csv), "--fees-unit", "block", "--keep-start", "--fit-drift", "--out", str(out)]
    assert main(args) == 0
    printed, _ = capsys.readouterr()
    loaded = Scenario.from_toml(out)
    assert loaded.simulation.start == Scenario.default().simulation.start
    assert "btc.mu" in printed.split("Overrides: ")[1] and "(not applied)" not in printed
    assert main(["calibrate", str(csv), "--fees-unit", "block", "--keep-initial", "--out", str(out)]) == 0
    assert Scenario.from_toml(out).btc.price == Scenario.default().btc.price
    capsys.readouterr()
    for bad, message in (
        (["--max-jump-intensity", "0"], "pivotmc: error: max_jump_intensity = 0.0 is not allowed"),
        (["--jump-intensity", "2", "--max-jump-intensity", "3"], "pivotmc: error: give jump_intensity"),
    ):
        assert main(["calibrate", str(csv), "--fees-unit", "block", *bad]) == 2
        _, err = capsys.readouterr()
        assert err.startswith(message) and err.count("\n") == 1


def test_cli_reads_gpu_prices(monthly, tmp_path, capsys):
    _, frame, _, _ = monthly
    csv = tmp_path / "gpu.csv"
    frame.iloc[:60][["date", "gpu_price"]].to_csv(csv, index=False)
    out = tmp_path / "calibrated.toml"
    assert main(["calibrate", str(csv), "--out", str(out)]) == 0
    printed, _ = capsys.readouterr()
    assert "gpu: log-OU of the GPU rental price around a level drifting at a constant trend" in printed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = calibrate(csv)
    loaded = Scenario.from_toml(out)
    assert loaded == Scenario.default().with_overrides(result.overrides)
    assert loaded.gpu.price == float(f"{frame.gpu_price.iloc[59]:.6g}")  # the last observation
    lines = out.read_text().splitlines()
    section = lines[lines.index("[gpu]") :]
    section = section[: next(i for i, line in enumerate(section[1:], 1) if line.startswith("["))]
    for key in ("long_run", "trend", "speed", "sigma"):
        at = next(i for i, line in enumerate(section) if line.startswith(f"{key} = "))
        assert section[at - 1].startswith("# fit: ") and "gpu, monthly" in section[at - 1]
        assert getattr(loaded.gpu, key) == result.overrides[f"gpu.{key}"]
    at = next(i for i, line in enumerate(section) if line.startswith("price = "))
    assert section[at - 1].startswith("# set from the last observation: the last gpu_price")
