"""What an analyst types on the command line: numbers, seeds, and ``section.key=value`` settings."""

from __future__ import annotations

import math
import re
import tomllib

from pivotmc.errors import ValidationError

__all__ = ["number", "count", "seed", "parse_assignment", "typed_value", "grid_arg"]

# Numbers as an analyst types them: 100000, 100_000, 100,000 and 1e5 are the same count.
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+(_\d+)*)?(\.\d*)?([eE][+-]?\d+)?")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def number(text: str) -> float:
    """A finite number from what an analyst types; ValueError (argparse's cue) otherwise."""
    raw = text.strip()
    if raw.lower() in _NON_FINITE:
        raise ValueError("not a finite number")
    if not raw or not _NUMBER.fullmatch(raw) or not any(c.isdigit() for c in raw):
        raise ValueError("not a number")
    value = float(raw.replace("_", "").replace(",", ""))
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def count(text: str) -> int:
    """A whole number (100000, 100_000, 100,000 or 1e5)."""
    value = number(text)
    if not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def seed(text: str) -> int:
    """A seed: a whole number written out in digits (a float such as 1e19 would lose digits)."""
    raw = text.strip().replace("_", "").replace(",", "")
    if not raw.isdigit():
        raise ValueError("not a whole number")
    return int(raw)


count.__name__ = "whole number"  # how argparse names the type in its message
seed.__name__ = "seed (a whole number)"
number.__name__ = "finite number"


def parse_assignment(text: str, flag: str = "--set") -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    raw = raw.strip()
    if not sep or not name.strip() or not raw:
        raise ValidationError(f"{flag} expects section.key=value, got {text!r}.")
    return name.strip(), typed_value(raw)


def typed_value(raw: str) -> object:
    """A value as an analyst types it: a number (written as :func:`number` reads it), else TOML, else a bare word."""
    try:
        value = number(raw)
    except ValueError:
        if raw.lower() in _NON_FINITE:
            return float(raw)  # NaN and inf reach the scenario's range check, which refuses them by name
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            return raw  # a bare word, e.g. markup=equilibrium
    return int(value) if re.fullmatch(r"[+-]?[\d_,]+", raw) else value


def grid_arg(text: str) -> tuple[str, list]:
    name, sep, raw = text.partition("=")
    if not sep or not raw.strip():
        raise ValidationError(f"--grid expects section.key=v1,v2,..., got {text!r}.")
    return name.strip(), [parse_assignment(f"{name}={v}", "--grid")[1] for v in raw.split(",")]
