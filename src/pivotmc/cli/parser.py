"""The ``pivotmc`` command's parser: its commands, their arguments and help."""

from __future__ import annotations

import argparse

from pivotmc.cli.values import count, number, seed
from pivotmc.policy.switch import CACHE_DIR_ENV

__all__ = ["DEFAULT_PATHS", "build_parser"]

DEFAULT_PATHS = 200_000


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pivotmc",
        description=(
            "Monte Carlo valuation of a Bitcoin-mining site that can keep mining, convert to AI/HPC "
            "hosting, split, or mine and convert when it pays (switch): NPV distributions of each strategy "
            "over correlated market paths."
        ),
        epilog="Start with `pivotmc run`, then `pivotmc scenario > my.toml`, edit, and `pivotmc run my.toml`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="simulate a scenario and print the NPV summary",
        description="Simulate a scenario (the built-in default if none is given) and print the NPV summary of each strategy.",
    )
    run.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    run.add_argument("--paths", type=count, default=DEFAULT_PATHS, help=f"number of paths (default {DEFAULT_PATHS:,})")
    run.add_argument("--seed", type=seed, default=0, help="random seed, 0 <= seed < 2**64 (default 0)")
    run.add_argument("--backend", default="auto", help="auto (default), reference, ...")
    run.add_argument("--keep-paths", type=count, default=0, help="keep the trajectories of the first K paths in --out")
    run.add_argument(
        "--out",
        help="write the full result to this netCDF file (.nc), or stream it chunk by chunk to this Zarr store "
        "(.zarr; an interrupted run started again resumes)",
    )
    run.add_argument("--chunk-paths", type=count, metavar="M", help="paths per chunk of a .zarr run (default 1,000,000)")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=count, metavar="N", help="run the chunks of a .zarr run on a local Dask cluster of N processes"
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="run the chunks of a .zarr run on this Dask scheduler")
    run.add_argument("--overwrite", action="store_true", help="start the .zarr store afresh, whatever run it holds")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a scenario parameter, e.g. --set btc.sigma=0.7 (repeatable)",
    )

    scen = sub.add_parser(
        "scenario",
        help="print the default scenario as commented TOML",
        description="Print the default scenario as commented TOML, a starting point for your own: pivotmc scenario > my.toml",
    )
    scen.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a parameter")

    summ = sub.add_parser("summarize", help="print the NPV summary of a saved result", description="Print the NPV summary of a result saved with --out.")
    summ.add_argument("result", help="result file (.nc) or Zarr store (.zarr)")

    cal = sub.add_parser(
        "calibrate",
        help="fit the market models to history and write the calibrated scenario",
        description=(
            "Fit the market models to a CSV of history (a date column and any of btc_price, hashrate, fees, "
            "power_price, lease_rate, gpu_price), print the estimates with standard errors, and with --out write the "
            "calibrated scenario as commented TOML."
        ),
    )
    cal.add_argument("data", help="CSV file with a date column (YYYY-MM-DD)")
    cal.add_argument("--out", help="write the calibrated scenario (defaults overridden by the fit) to this TOML file")
    cal.add_argument("--base", help="scenario TOML the fit starts from (default: the built-in default scenario)")
    cal.add_argument("--fees-unit", choices=("block", "day"), help="whether the fees column is BTC per block or per day")
    cal.add_argument("--fit-markup", action="store_true", help="also set hashrate.markup from the fitted intercept")
    cal.add_argument(
        "--fit-drift", action="store_true",
        help="also set btc.mu from the historical drift (by default it is printed, not applied: history is no forecast)",
    )
    cal.add_argument("--jump-intensity", type=number, metavar="LAMBDA", help="fix the BTC jump intensity (jumps/year, 0 to 365)")
    cal.add_argument(
        "--max-jump-intensity", type=number, metavar="LAMBDA", help="bound the BTC jump intensity above (jumps/year)"
    )
    cal.add_argument(
        "--keep-start", action="store_true",
        help="keep the base's start date and block height (default: start the day after the last date of the data)",
    )
    cal.add_argument(
        "--keep-initial", action="store_true",
        help="keep the base's values at t = 0 (default: the last observation of each column in the data)",
    )

    sens = sub.add_parser(
        "sensitivity",
        help="change in mean NPV when each parameter moves down and up (tornado data)",
        description=(
            "Shock each parameter down to v - SHOCK |v| and up to v + SHOCK |v| on common random numbers and print "
            "the change in every strategy's mean NPV with its paired standard error. Whole-unit parameters move by "
            "whole units; a shock cut short at a bound is marked. Without --param, every non-zero continuous "
            "parameter is shocked."
        ),
    )
    sens.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    sens.add_argument("--param", action="append", metavar="SECTION.KEY", help="parameter to shock (repeatable)")
    sens.add_argument("--shock", type=number, default=0.2, help="relative shock, in (0, 1) (default 0.2)")
    sens.add_argument("--paths", type=count, default=20_000, help="paths per scenario (default 20,000)")
    sens.add_argument("--seed", type=seed, default=0, help="random seed shared by every scenario (default 0)")
    sens.add_argument("--backend", default="auto", help="auto (default), cpu, reference, ...")
    sens.add_argument("--out", help="write the full result to this netCDF file (.nc), e.g. for pivotmc report")

    swp = sub.add_parser(
        "sweep",
        help="mean NPV over a grid of parameter values, on common random numbers",
        description=(
            "Simulate every combination of the --grid values and the scenario as given (the base case) on common "
            "random numbers, and print mean NPVs, changes from the base case with paired standard errors, and "
            "P(A > B) for every pair of strategies."
        ),
    )
    swp.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    swp.add_argument("--grid", action="append", required=True, metavar="SECTION.KEY=V1,V2,...",
                     help="a parameter and its values, e.g. --grid btc.sigma=0.3,0.5,0.7 (repeatable)")
    swp.add_argument("--paths", type=count, default=20_000, help="paths per scenario (default 20,000)")
    swp.add_argument("--seed", type=seed, default=0, help="random seed shared by every scenario (default 0)")
    swp.add_argument("--backend", default="auto", help="auto (default), cpu, reference, ...")
    swp.add_argument("--out", help="write the result to this netCDF file (.nc)")

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a saved result",
        description="Write one HTML page (images embedded, no network needed): summary, figures, scenario, provenance.",
    )
    rep.add_argument("result", help="result file (.nc) saved with pivotmc run --out (use --keep-paths for fan charts)")
    rep.add_argument("-o", "--output", required=True, help="the HTML file to write")
    rep.add_argument("--sensitivity", help="a result of pivotmc sensitivity --out, for tornado charts")

    cache = sub.add_parser(
        "cache",
        help="show or clear the learned switch policies kept between runs",
        description=(
            "A switch policy depends only on the scenario and the version of pivotmc, so it is learned once and "
            f"kept on disk (in ${CACHE_DIR_ENV}, else ~/.cache/pivotmc). Show where, or clear it."
        ),
    )
    cache.add_argument("--clear", action="store_true", help="remove every learned policy")
    return parser
