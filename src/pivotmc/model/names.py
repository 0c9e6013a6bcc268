"""Dotted parameter names, ``"section.key"``: reading one, setting one, and the nearest known name.

The correlation matrix is named as a whole (``"correlation.matrix"``) or by the pair of factors
of one of its entries (``"correlation.btc_fees"``), which names both symmetric entries.
"""

from __future__ import annotations

from typing import Any, Mapping

from pivotmc.errors import ValidationError
from pivotmc.model.factors import FACTORS

__all__ = ["split_dotted", "suggest", "set_dotted"]


def split_dotted(data: Mapping[str, Mapping[str, Any]], dotted: Any) -> tuple[str, str]:
    """``(section, key)`` of a known parameter name, else ValidationError naming the nearest."""
    if not isinstance(dotted, str) or dotted.count(".") != 1:
        raise ValidationError(f"parameter name {dotted!r} must be written 'section.key', e.g. 'btc.sigma'.")
    section, key = dotted.split(".")
    if section not in data:
        raise ValidationError(
            f"unknown scenario section in {dotted!r}{suggest(section, list(data))}; the sections are: {', '.join(data)}."
        )
    if section == "correlation" and key != "matrix":
        a, _, b = key.partition("_")
        if a not in FACTORS or b not in FACTORS or a == b:
            raise ValidationError(
                f"unknown correlation pair {dotted!r}; write 'correlation.A_B' with A, B among {', '.join(FACTORS)}."
            )
        return section, key
    if key not in data[section]:
        known = list(data[section])
        raise ValidationError(f"unknown parameter {dotted}{suggest(key, known)}; [{section}] has: {', '.join(known)}.")
    return section, key


def suggest(key: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name nearest ``key``, or nothing where none is near."""
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def set_dotted(data: dict[str, dict[str, Any]], dotted: Any, value: Any) -> None:
    """Set the parameter named ``dotted`` in nested dictionaries ``{section: {key: value}}``, in place.

    A correlation pair sets both symmetric entries of the matrix.
    """
    section, key = split_dotted(data, dotted)
    if section == "correlation" and key != "matrix":
        a, _, b = key.partition("_")
        m = [list(r) for r in data["correlation"]["matrix"]]
        i, j = FACTORS.index(a), FACTORS.index(b)
        m[i][j] = m[j][i] = value
        data["correlation"]["matrix"] = m
        return
    data[section][key] = value
