"""pivotmc benchmark suite: path-steps per second of every backend, against two yardsticks.

Usage::

    python benchmarks/run.py                  # all cases at the default sizes; table on stdout, JSON file
    python benchmarks/run.py --paths 200000 --reference-paths 20000 --daily-paths 50000 --repeats 3
    python benchmarks/run.py --no-daily --backends cpu --json out.json
    python benchmarks/run.py -k monthly --benchmark-save=base    # any other pytest or pytest-benchmark option

It runs ``pytest benchmarks/`` (pytest-benchmark: ``pip install ".[bench]"``) with the
JSON file written (``--json``, default ``benchmarks/results/latest.json``); the cases, the
options that size them and the columns of the table are described in suite.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # suite.py sits next to this file, also when the tests import it
    sys.path.insert(0, str(HERE))
import suite  # noqa: E402

DEFAULT_JSON = HERE / "results" / "latest.json"
#: pytest-benchmark's own table: the spread of the rounds, beside the suite's table of medians.
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "--benchmark-columns=min,median,max,rounds", "--benchmark-sort=name")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every command of pivotmc
        self.exit(2, f"{self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0], allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Other options go to pytest (pytest --help; pytest-benchmark's begin with --benchmark-).",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results as JSON")
    for flag, kwargs in suite.OPTIONS:
        parser.add_argument(flag, **kwargs)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args, _ = parser.parse_known_args(argv)  # the suite's own options, checked here to fail in one line
    try:
        suite.Settings.from_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        import pytest
        import pytest_benchmark  # noqa: F401
    except ImportError:
        print('the benchmarks need pytest-benchmark: pip install ".[bench]"', file=sys.stderr)
        return 1
    args.json.parent.mkdir(parents=True, exist_ok=True)
    code = pytest.main([str(HERE), *PYTEST_ARGS, f"--benchmark-json={args.json}", *_without_json(argv)])
    return 2 if code == pytest.ExitCode.USAGE_ERROR else int(code)


def _without_json(argv: list[str]) -> list[str]:
    """``argv`` less the suite's ``--json`` option (pytest-benchmark writes the file)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
