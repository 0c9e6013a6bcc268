"""Errors and warnings as the one line the ``pivotmc`` command prints for each."""

from __future__ import annotations

__all__ = ["one_line", "os_error", "warning_line"]


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def os_error(exc: OSError) -> str:
    """A file that cannot be read or written, in one sentence."""
    where = f" {exc.filename!r}" if exc.filename else ""
    return f"cannot use{where}: {(exc.strerror or one_line(exc)).rstrip('.')}."


def warning_line(message, category, filename, lineno, line=None) -> str:
    return f"pivotmc: warning: {' '.join(str(message).split())}\n"
