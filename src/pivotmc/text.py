"""Plain-text tables and the numbers in them, one format for everything pivotmc prints.

Numbers carry thousands separators and a column's numbers share their decimals:
the fewest that show each value exactly (:func:`exact_cells`, for parameter
values), or two significant figures of the column's standard errors
(:func:`error_decimals`, for Monte Carlo estimates); a fitted estimate, whose
scale varies row to row, has four significant figures (:func:`significant`). A
missing value (NaN) is :data:`DASH`; an estimate and its standard error read
``value ± se``, with the ``±`` of a column aligned (:func:`pm_cells`).
:func:`table` lays cells out under a header and a rule, at most
:data:`TEXT_WIDTH` columns wide: a wider table continues below in blocks of
columns. Group rows and notes that run across a table are wrapped to the same
width (:class:`Span`, :func:`wrap`).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

__all__ = [
    "DASH", "TEXT_WIDTH", "Span", "error_decimals", "exact_cells", "exact_decimals", "fixed", "paired_cells",
    "percent", "pm", "pm_cells", "rewrap", "se_decimals", "significant", "table", "wrap",
]

#: Width of the plain-text tables and notes, in characters.
TEXT_WIDTH = 100
#: What a missing value (NaN) prints as.
DASH = "-"
#: The most decimals a standard error is shown with, however small it is.
_MOST_DECIMALS = 8


# --------------------------------------------------------------------------- #
# Numbers
# --------------------------------------------------------------------------- #
def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def fixed(value: float, decimals: int, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals and thousands separators (``+`` before a positive one if ``signed``); DASH for NaN."""
    if not _finite(value):
        return DASH
    return f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"


def percent(share: float, decimals: int = 1) -> str:
    """A share (0.123) as a percentage (``12.3%``); DASH for NaN."""
    return DASH if not _finite(share) else f"{100.0 * share:,.{decimals}f}%"


def significant(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits (an estimate whose scale varies row to row); DASH for NaN."""
    return DASH if not _finite(value) else f"{value:.{digits}g}"


def exact_decimals(values: Iterable[float], most: int = 4) -> int:
    """The fewest decimals, at most ``most``, that show every finite value exactly (0.5, 140 and 3.25 need 2)."""
    finite = [float(v) for v in values if _finite(v)]
    for d in range(most + 1):
        # Relative 1e-12 absorbs binary rounding (0.1 + 0.2) but not a real last digit (99,999,999.9 needs one decimal).
        if all(abs(round(v, d) - v) <= 1e-12 * max(1.0, abs(v)) for v in finite):
            return d
    return most


def exact_cells(values: Sequence[float], most: int = 4) -> list[str]:
    """``values`` in one shared format: :func:`exact_decimals` decimals, thousands separators; DASH for NaN."""
    decimals = exact_decimals(values, most)
    return [fixed(v, decimals) for v in values]


def se_decimals(se: float, floor: int = 1, cap: int = _MOST_DECIMALS) -> int:
    """Decimals that show a standard error to two significant figures, at least ``floor`` and at most ``cap``.

    ``floor`` where ``se`` is 0 or NaN: nothing to show.
    """
    if not _finite(se) or se <= 0.0:
        return floor
    return int(min(cap, max(floor, math.ceil(-math.log10(se)) + 1)))


def error_decimals(ses: Iterable[float], floor: int = 1, cap: int = 4, by: str = "largest") -> int:
    """Decimals shared by a column of estimates: two significant figures of one of its standard errors.

    ``by="largest"`` reads the largest standard error, so that a change that is
    deterministic (its standard error a rounding residue) does not ask for every
    decimal up to ``cap``; ``by="smallest"`` the smallest, so that every
    standard error of the column shows two figures. Standard errors that are 0
    or NaN are left out; ``floor`` where none is left.
    """
    if by not in ("largest", "smallest"):
        raise ValueError(f"by must be 'largest' or 'smallest', got {by!r}")
    positive = [float(s) for s in ses if _finite(s) and s > 0.0]
    if not positive:
        return floor
    return se_decimals(max(positive) if by == "largest" else min(positive), floor, cap)


def pm(value: float, se: float, decimals: int, signed: bool = False) -> str:
    """``value ± se``, both with ``decimals`` decimals; DASH where the value is NaN, ``?`` for an unknown error."""
    if not _finite(value):
        return DASH
    return f"{fixed(value, decimals, signed)} ± {fixed(se, decimals) if _finite(se) else '?'}"


def paired_cells(parts: Sequence[tuple[str, str] | None], sep: str = " ± ") -> list[str]:
    """Cells of one width made of two parts each, the left parts and the right parts each aligned right.

    ``None`` is a missing cell (DASH). A pair whose right part is empty prints
    its left part alone, aligned with the other left parts.
    """
    shown = [part for part in parts if part is not None]
    width_left = max((len(a) for a, _ in shown), default=0)
    width_right = max((len(b) for _, b in shown), default=0)
    width = width_left + (width_right + len(sep) if width_right else 0)
    return [
        DASH.rjust(width) if part is None
        else part[0].rjust(width_left) + (f"{sep}{part[1].rjust(width_right)}" if part[1] else "").ljust(width - width_left)
        for part in parts
    ]


def pm_cells(values: Sequence[float], ses: Sequence[float], decimals: int, signed: bool = False) -> list[str]:
    """``value ± se`` cells of one width with their ``±`` aligned.

    DASH where the value is NaN, ``0`` alone for an exact ``0 ± 0`` (nothing
    changed on any path), ``?`` for an unknown standard error.
    """
    parts: list[tuple[str, str] | None] = []
    for v, s in zip(values, ses):
        if not _finite(v):
            parts.append(None)
        elif v == 0.0 and s == 0.0:
            parts.append(("0", ""))
        else:
            parts.append((fixed(v, decimals, signed), fixed(s, decimals) if _finite(s) else "?"))
    return paired_cells(parts)


# --------------------------------------------------------------------------- #
# Notes and tables
# --------------------------------------------------------------------------- #
def wrap(text: str, indent: str = "", width: int = TEXT_WIDTH) -> list[str]:
    """``text`` in lines of at most ``width``, the first after ``indent``, the others under it and two further in.

    Lines break at spaces only: a word longer than the width (a long path) stays whole.
    """
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=" " * (len(indent) + 2),
                         break_on_hyphens=False, break_long_words=False) or [""]


def rewrap(lines: Iterable[str], width: int = TEXT_WIDTH) -> list[str]:
    """``lines`` with each one longer than ``width`` wrapped by :func:`wrap`, under its own leading spaces."""
    out: list[str] = []
    for line in lines:
        text = line.lstrip(" ")
        out += [line] if len(line) <= width or not text else wrap(text, indent=line[: len(line) - len(text)], width=width)
    return out


@dataclass(frozen=True)
class Span:
    """The last cell of a row that runs from its column to the table's right edge, wrapped to the table's width.

    A reason or a note in place of the rest of a row (``["  up", Span("skipped: ...")]``).
    Its text does not widen its column. A row that is a plain ``str`` is a group
    row: a :class:`Span` from the first column.
    """

    text: str


Row = Union[Sequence[Union[str, Span]], str]


def _blocks(widths: list[int], fixed_columns: int, room: int) -> list[list[int]]:
    """The columns after the fixed ones, in blocks that fit ``room`` beside the fixed ones (each at least one)."""
    fixed_width = sum(widths[:fixed_columns]) + 2 * max(fixed_columns - 1, 0)
    blocks: list[list[int]] = [[]]
    used = fixed_width
    for c in range(fixed_columns, len(widths)):
        if blocks[-1] and used + 2 + widths[c] > room:
            blocks.append([])
            used = fixed_width
        blocks[-1].append(c)
        used += 2 + widths[c]
    return blocks


def table(
    header: Sequence[str],
    rows: Sequence[Row],
    align: str | None = None,
    fixed_columns: int = 1,
    width: int = TEXT_WIDTH,
    indent: str = "",
) -> list[str]:
    """Rows of cells aligned under a header and a rule of dashes, each line at most ``width`` characters.

    Parameters
    ----------
    header : sequence of str
        One title a column.
    rows : sequence
        Each a sequence of one ``str`` a column (fewer where it ends in a
        :class:`Span`), or a ``str``: a group row, printed across the table.
    align : str, optional
        One ``l`` (left) or ``r`` (right) a column; by default the first
        column aligns left and the others right.
    fixed_columns : int
        A table wider than ``width`` continues below in blocks of columns,
        each repeating the first ``fixed_columns`` columns and every group row.
    width : int
        The most characters a line holds, ``indent`` included.
    indent : str
        Put before every line.

    Returns
    -------
    list of str
        The lines, without trailing spaces; blocks are separated by an empty line.
    """
    n_col = len(header)
    align = align or "l" + "r" * (n_col - 1)
    if len(align) != n_col or set(align) - {"l", "r"}:
        raise ValueError(f"align needs one 'l' or 'r' for each of the {n_col} columns, got {align!r}")
    split = [_split(row, n_col) for row in rows]
    widths = [max(len(text) for text in [header[c], *(cells[c] for cells, _ in split if c < len(cells))])
              for c in range(n_col)]
    fixed_columns = min(fixed_columns, n_col)

    def line(cells: Sequence[str], span: Span | None, columns: list[int]) -> list[str]:
        shown = [cells[c].ljust(widths[c]) if align[c] == "l" else cells[c].rjust(widths[c])
                 for c in columns if c < len(cells)]
        if span is None:
            return [(indent + "  ".join(shown)).rstrip()]
        return wrap(span.text, indent=indent + "".join(text + "  " for text in shown), width=width)

    lines: list[str] = []
    for number, block in enumerate(_blocks(widths, fixed_columns, width - len(indent))):
        columns = list(range(fixed_columns)) + block
        if number:
            lines.append("")
        lines += line(header, None, columns)
        lines.append(indent + "  ".join("-" * widths[c] for c in columns))
        for cells, span in split:
            lines += line(cells, span, columns)
    return lines


def _split(row: Row, n_col: int) -> tuple[Sequence[str], Span | None]:
    """A row's cells and its closing span, checked against the number of columns."""
    if isinstance(row, str):
        return [], Span(row)
    cells, span = (row[:-1], row[-1]) if row and isinstance(row[-1], Span) else (row, None)
    if any(not isinstance(cell, str) for cell in cells) or len(cells) > n_col or (span is None and len(cells) < n_col):
        raise ValueError(f"a row needs {n_col} str cells, or fewer and a Span last; got {row!r}")
    return cells, span
