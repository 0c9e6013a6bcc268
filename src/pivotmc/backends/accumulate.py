"""Exact, order-independent sums of per-path cash flows.

Per-step means over millions of paths are combined from blocks, threads,
GPU launches and Dask chunks. Floating-point sums depend on the order of
addition, so each value is first rounded to a fixed quantum of
``2**-16`` USD (about 1.5e-5 USD, far below any reported digit) and the
integers are added exactly. Integer addition is associative, so the result
is the same bit for bit however the paths are split or ordered.

Each quantised value (|x| < 2**62) is split into a high and a low 32-bit
limb; limb sums stay exact in int64 for up to 2**31 values per call and are
renormalised after each call.
"""

from __future__ import annotations

import numpy as np

from pivotmc.errors import ValidationError

__all__ = ["ExactSum", "QUANTUM_BITS", "QUANTUM", "QUANTISED_LIMIT", "LIMB_BITS", "quantise", "overflow_error"]

QUANTUM_BITS = 16
#: One unit of the exact sums, in USD^-1: values are summed as integers of 2**-16 USD.
QUANTUM = float(2**QUANTUM_BITS)
#: Largest |quantised value|: beyond it a value cannot be split into the sums' 64-bit limbs.
QUANTISED_LIMIT = 2.0**62
#: A quantised value is summed as its high limb ``q >> LIMB_BITS`` (signed) and its low limb (the rest).
LIMB_BITS = 32
_LIMIT = QUANTISED_LIMIT / QUANTUM  # largest |value| in USD that quantises without overflow
_MASK = np.int64((1 << LIMB_BITS) - 1)


def overflow_error(count: int) -> ValidationError:
    """The error for cash flows that a compiled kernel could not quantise."""
    return ValidationError(
        f"{count} cash flows are not finite or exceed 7e13 USD per step; check the scenario's units."
    )


def quantise(values: np.ndarray) -> np.ndarray:
    """Round USD amounts to integer multiples of the quantum (int64)."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * QUANTUM)
    if not np.all(np.abs(scaled) < QUANTISED_LIMIT):
        bad = np.asarray(values)[~(np.abs(scaled) < QUANTISED_LIMIT)].flat[0]
        raise ValidationError(
            f"a cash flow of {bad!r} USD is not finite or exceeds {_LIMIT:.3g} USD per step; check the scenario's units."
        )
    return scaled.astype(np.int64)


class ExactSum:
    """Exact sum of quantised values, kept as two int64 limbs per element.

    Parameters
    ----------
    shape : tuple of int
        Shape of the sums (for cash flows: ``(n_strategies, n_steps)``).
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.hi = np.zeros(shape, dtype=np.int64)
        self.lo = np.zeros(shape, dtype=np.int64)

    def add(self, values: np.ndarray, index: tuple = (...,)) -> None:
        """Add ``values`` summed over their last axis into ``self[index]``."""
        q = quantise(values)
        self.hi[index] += (q >> LIMB_BITS).sum(axis=-1)
        self.lo[index] += (q & _MASK).sum(axis=-1)
        self._normalise()

    def add_limbs(self, hi: np.ndarray, lo: np.ndarray) -> None:
        """Add limb sums computed elsewhere (a kernel, a worker)."""
        self.hi += hi
        self.lo += lo
        self._normalise()

    def merge(self, other: ExactSum) -> None:
        self.add_limbs(other.hi, other.lo)

    def _normalise(self) -> None:
        carry = self.lo >> LIMB_BITS
        self.hi += carry
        self.lo &= _MASK

    def totals(self) -> np.ndarray:
        """Exact sums as Python integers, in units of the quantum (object array)."""
        total = np.empty(self.hi.shape, dtype=object)
        for idx in np.ndindex(self.hi.shape):
            total[idx] = (int(self.hi[idx]) << LIMB_BITS) + int(self.lo[idx])
        return total

    def mean(self, count: int) -> np.ndarray:
        """Mean of the summed values over ``count`` items, correctly rounded to float64."""
        out = np.empty(self.hi.shape, dtype=np.float64)
        denominator = int(count) << QUANTUM_BITS
        for idx, total in np.ndenumerate(self.totals()):
            out[idx] = total / denominator  # int / int is correctly rounded in Python
        return out
