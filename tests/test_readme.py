"""Every example of README.md runs as written: its Python blocks in order, its shell blocks with small path counts.

The blocks are read from README.md itself, so the document cannot drift from the code. They run in document
order in one folder, as a reader following along would: the shell writes ``my.toml`` that the Python reads.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SRC = Path(__file__).resolve().parents[1] / "src"
#: Paths per simulated scenario in the shell examples (the Python ones run as written).
SMALL_PATHS = 2000
#: Commands that need a machine or service the tests do not have: a Dask scheduler at a placeholder address.
PLACEHOLDERS = ("tcp://host",)
SIMULATING = ("run", "sensitivity", "sweep")


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m.group(1), textwrap.dedent(m.group(2))) for m in re.finditer(r"```(\w+)\n(.*?)```", text, re.S)]


def shell_commands(code: str) -> list[str]:
    """The pivotmc commands of a shell block, with small path counts; installs and the test run itself left out."""
    commands = []
    for line in code.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or any(p in line for p in PLACEHOLDERS):
            continue
        parts = [p.strip() for p in line.split("&&")]
        parts = [p for p in parts if not p.startswith("pip ") and "pytest" not in p]
        for part in parts:
            assert part.startswith("pivotmc"), f"README shell example the test cannot run: {part!r}"
            words = shlex.split(part)
            if words[1] in SIMULATING:
                if "--paths" in words:
                    i = words.index("--paths") + 1
                    words[i] = str(min(int(words[i].replace("_", "").replace(",", "")), SMALL_PATHS))
                else:
                    words += ["--paths", str(SMALL_PATHS)]
                if "--chunk-paths" in words:
                    words[words.index("--chunk-paths") + 1] = str(SMALL_PATHS // 4)
            redirect = part.split(">", 1)[1].strip() if ">" in part else None
            if redirect:
                words = words[: words.index(">")]
            commands.append(shlex.join(words) + (f" > {shlex.quote(redirect)}" if redirect else ""))
    return commands


def write_history(path: Path) -> None:
    """Three years of daily history, drawn from the model itself, in the columns `pivotmc calibrate` reads."""
    import pivotmc

    scenario = pivotmc.Scenario.default().with_overrides(
        {"simulation.steps_per_year": 365, "simulation.horizon_years": 3, "strategies.evaluate": ["mine"]}
    )
    ds = pivotmc.simulate(scenario, n_paths=1, seed=11, keep_paths=1, backend="reference").isel(kept_path=0)
    frame = pd.DataFrame({
        "date": pd.to_datetime(ds.time.values).strftime("%Y-%m-%d"),
        "btc_price": ds.btc_price.values,
        "hashrate": ds.hashrate.values,
        "fees": ds.fees.values * 144.0,  # BTC per day
        "power_price": ds.power_price.values,
        "lease_rate": ds.lease_rate.values,
    })
    frame.to_csv(path, index=False)


def test_readme_has_examples_of_each_kind() -> None:
    kinds = [lang for lang, _ in blocks(README.read_text())]
    assert kinds.count("python") >= 3 and kinds.count("bash") >= 3


def test_shell_commands_are_made_small() -> None:
    (command,) = shell_commands("pivotmc run my.toml --paths 100000000 --chunk-paths 1000000 --out r.zarr  # big\n")
    assert "--paths 2000" in command and "--chunk-paths 500" in command
    assert shell_commands("pip install . && pivotmc run\n") == ["pivotmc run --paths 2000"]
    assert shell_commands("pivotmc scenario > my.toml\n") == ["pivotmc scenario > my.toml"]


def test_every_example_runs_in_order(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    write_history(tmp_path / "history.csv")
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    shell_prelude = f'pivotmc() {{ {shlex.quote(sys.executable)} -m pivotmc.cli "$@"; }}\nset -e\n'
    namespace: dict = {"__name__": "__readme__"}
    ran = {"python": 0, "bash": 0}
    for number, (lang, code) in enumerate(blocks(README.read_text()), start=1):
        if lang == "python":
            try:
                exec(compile(code, f"README.md python block {number}", "exec"), namespace)
            except Exception as exc:  # say which block, with the error, rather than a bare traceback into exec
                pytest.fail(f"README python block {number} failed: {type(exc).__name__}: {exc}\n{code}")
        elif lang == "bash":
            for command in shell_commands(code):
                proc = subprocess.run(["bash", "-c", shell_prelude + command], capture_output=True, text=True,
                                      env=env, timeout=600)
                assert proc.returncode == 0, f"README shell block {number}: {command}\n{proc.stderr[-2000:]}"
                assert "Traceback" not in proc.stderr
        else:
            continue
        ran[lang] += 1
    assert ran["python"] >= 3 and ran["bash"] >= 3
    # What the examples promise to leave behind.
    for name in ("my.toml", "results.nc", "report.html", "sens.nc", "calibrated.toml"):
        assert (tmp_path / name).is_file(), name
    assert np.isfinite(float(namespace["ds"].npv.mean()))
