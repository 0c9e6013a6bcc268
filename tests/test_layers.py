"""The package's layout: stages import one way (the import-linter contracts in pyproject.toml), no
module imports itself through others, and modules stay small enough to hold one idea."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pivotmc"
MAX_LINES = 500


def test_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_import_cycles():
    graph = grimp.build_graph("pivotmc", cache_dir=None)
    modules = sorted(m for m in graph.modules if m != "pivotmc")
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == "pivotmc":
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_summaries_figures_and_reports_take_strategy_facts_from_the_model():
    """What a strategy is, and the option value, are declared in pivotmc.model; the switch's policy is not needed."""
    graph = grimp.build_graph("pivotmc", cache_dir=None)
    for module in ("pivotmc.analysis.summary", "pivotmc.analysis.plots", "pivotmc.analysis.report"):
        upstream = graph.find_upstream_modules(module)
        assert not {m for m in upstream if m.startswith("pivotmc.policy")}, module
        assert "pivotmc.model.strategies" in upstream and "pivotmc.model.outcomes" in upstream, module


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_modules_hold_one_idea_each():
    sizes = {p.relative_to(PACKAGE).as_posix(): _lines(p) for p in PACKAGE.rglob("*.py")}
    over = {name for name, n in sizes.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {sorted(over)}"


@pytest.mark.parametrize("stage", ["model", "random", "backends", "policy", "run", "analysis", "calibration"])
def test_tests_mirror_the_package(stage):
    assert (PACKAGE / stage).is_dir() and (ROOT / "tests" / stage).is_dir()
