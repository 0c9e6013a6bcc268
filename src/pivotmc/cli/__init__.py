"""The ``pivotmc`` command line.

Exit codes: 0 success; 2 bad input (an argument, a value or a file: one line on
stderr saying what is wrong and what is allowed); 1 anything unexpected (one
line too; ``PIVOTMC_DEBUG=1`` shows the traceback).

:func:`main` runs the command that :mod:`~pivotmc.cli.parser` reads (the numbers and settings an
analyst types are read by :mod:`~pivotmc.cli.values`) from :mod:`~pivotmc.cli.commands`, and
prints any error as the one line :mod:`~pivotmc.cli.messages` writes.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from pivotmc.cli.commands import HANDLERS
from pivotmc.cli.messages import one_line, os_error, warning_line
from pivotmc.cli.parser import DEFAULT_PATHS, build_parser
from pivotmc.errors import ValidationError

__all__ = ["main", "DEFAULT_PATHS", "DEBUG_ENV"]

#: Set to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "PIVOTMC_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pivotmc`` command."""
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    shown = warnings.formatwarning
    warnings.formatwarning = warning_line  # one line each, like the errors, rather than Python's source-line format
    try:
        return HANDLERS[args.command](args)
    except (ValidationError, ImportError) as exc:  # bad input, or an optional extra not installed
        print(f"pivotmc: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0
    except OSError as exc:  # a file that is missing, unreadable or unwritable
        print(f"pivotmc: error: {os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pivotmc: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault of pivotmc's, not of the input: still one line, unless asked for more
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"pivotmc: internal error: {type(exc).__name__}: {one_line(exc)} (set {DEBUG_ENV}=1 to see where)",
              file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = shown
