"""The ``pivotmc`` command line.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from typing import Sequence

from .errors import ValidationError

DEFAULT_PATHS = 50_000


def _parse_assignment(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValidationError(f"--set expects section.key=value, got {text!r}.")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word, e.g. markup=equilibrium
    return name.strip(), value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pivotmc",
        description=(
            "Monte Carlo valuation of a Bitcoin-mining site that can keep mining, convert to AI/HPC "
            "hosting, or split: NPV distributions of each strategy over correlated market paths."
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
    run.add_argument("--paths", type=int, default=DEFAULT_PATHS, help=f"number of paths (default {DEFAULT_PATHS:,})")
    run.add_argument("--seed", type=int, default=0, help="random seed, 0 <= seed < 2**64 (default 0)")
    run.add_argument("--backend", default="auto", help="auto (default), reference, ...")
    run.add_argument("--keep-paths", type=int, default=0, help="keep the trajectories of the first K paths in --out")
    run.add_argument("--out", help="write the full result to this netCDF file (.nc)")
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
    summ.add_argument("result", help="result file (.nc)")
    return parser


def _scenario(path: str | None, assignments: Sequence[str]):
    from .scenario import Scenario

    scenario = Scenario.from_toml(path) if path else Scenario.default()
    if assignments:
        scenario = scenario.with_overrides(dict(_parse_assignment(a) for a in assignments))
    return scenario


def _cmd_run(args: argparse.Namespace) -> int:
    from . import format_summary, simulate, summarize
    from .io import result_path, save

    scenario = _scenario(args.scenario, args.set)
    if args.out:
        result_path(args.out)  # a bad name must not cost a whole run
    started = time.perf_counter()
    ds = simulate(scenario, n_paths=args.paths, seed=args.seed, backend=args.backend, keep_paths=args.keep_paths)
    elapsed = time.perf_counter() - started
    print(format_summary(summarize(ds)))
    steps = scenario.n_steps
    print(
        f"\n{args.paths:,} paths x {steps} steps on backend {ds.attrs['backend']!r} in {elapsed:.2f} s "
        f"({args.paths * steps / elapsed:,.0f} path-steps/s); seed {args.seed}."
    )
    if args.out:
        print(f"Result written to {save(ds, args.out)}.")
    return 0


def _cmd_scenario(args: argparse.Namespace) -> int:
    sys.stdout.write(_scenario(None, args.set).to_toml())
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from . import format_summary, summarize
    from .io import load

    print(format_summary(summarize(load(args.result))))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pivotmc`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": _cmd_run, "scenario": _cmd_scenario, "summarize": _cmd_summarize}
    try:
        return handlers[args.command](args)
    except ValidationError as exc:
        print(f"pivotmc: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
