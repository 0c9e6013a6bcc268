"""Running the ``pivotmc`` command in-process from tests."""

from __future__ import annotations

from pivotmc.cli import main


def invoke(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the command; argparse usage errors exit through SystemExit, the rest return."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
