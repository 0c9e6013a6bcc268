"""Constants of the kernels' own exp and log, shared by the Numba kernels and, as ``-D`` options, the CUDA ones.

libm calls keep LLVM from vectorising a loop, and five exponentials per
path-step would dominate the kernel; the kernels use a straight-line
polynomial and a bit cast instead, accurate to about one ulp over the range
the model uses. Both executors evaluate the same polynomials, in Horner form
from the highest coefficient, so their results agree bit for bit.
"""

from __future__ import annotations

import math

__all__ = ["LN2_HI", "LN2_LO", "INV_LN2", "SQRT2", "EXP_MIN_ARG", "EXP_MAX_ARG", "EXP_COEF", "LOG_COEF", "constants"]

#: ln 2 with its low bits zeroed, so that n * LN2_HI is exact; LN2_LO is the rest.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
SQRT2 = 1.4142135623730951
#: exp clamps its argument to this range, where the result and its exponent bits stay normal.
EXP_MIN_ARG = -708.0
EXP_MAX_ARG = 709.0
#: e**r by its Taylor series to r**13 (error below 1e-17 on |r| <= ln2/2), lowest power first.
EXP_COEF = tuple(1.0 / math.factorial(i) for i in range(14))
#: log m = s * (2 + 2/3 s**2 + ... + 2/21 s**20), s = (m - 1)/(m + 1): the atanh series, lowest power first.
LOG_COEF = tuple(2.0 / (2 * i + 1) for i in range(11))


def constants() -> dict[str, float | tuple[float, ...]]:
    """Every constant by its C name, the polynomials as tuples (for :mod:`pivotmc.backends.kernel_constants`)."""
    return {
        "LN2_HI": LN2_HI, "LN2_LO": LN2_LO, "INV_LN2": INV_LN2, "SQRT2": SQRT2,
        "EXP_MIN_ARG": EXP_MIN_ARG, "EXP_MAX_ARG": EXP_MAX_ARG, "EXP_COEF": EXP_COEF, "LOG_COEF": LOG_COEF,
    }  # fmt: skip
