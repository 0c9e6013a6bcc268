"""Philox4x32-10, the inverse normal and vectorisable exp and log, as Numba functions.

The same arithmetic as :mod:`pivotmc.random` and :mod:`pivotmc.backends.fastmath`
(and the CUDA kernels), written so that a loop over lanes around a call is
straight-line code that LLVM vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pivotmc import random as rng
from pivotmc.backends import fastmath
from pivotmc.backends._cpu_kernels.jit import JIT as _JIT

# Every constant below comes from its one Python source (see pivotmc.backends.kernel_constants).
_M0 = np.uint64(rng.PHILOX_M0)
_M1 = np.uint64(rng.PHILOX_M1)
_W0 = np.uint64(rng.PHILOX_W0)
_W1 = np.uint64(rng.PHILOX_W1)
MASK32 = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)
_UNIFORM_SHIFT = np.uint64(64 - (rng.UNIFORM_BITS - 1))  # k: the top UNIFORM_BITS - 1 bits of the word
_UNIFORM_SCALE = 2.0**-rng.UNIFORM_BITS

# AS241 (pivotmc.random.normal): region bounds and coefficients.
SPLIT1 = rng.AS241_SPLIT1
_CONST1, _SPLIT2, _CONST2 = rng.AS241_CONST1, rng.AS241_SPLIT2, rng.AS241_CONST2
_A = np.array(rng.AS241_A)
_B = np.array(rng.AS241_B)
_C = np.array(rng.AS241_C)
_D = np.array(rng.AS241_D)
_E = np.array(rng.AS241_E)
_F = np.array(rng.AS241_F)


@njit(inline="always", **_JIT)
def _philox_round(c0, c1, c2, c3, k0, k1):
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (p1 >> S32) ^ c1 ^ k0, p1 & MASK32, (p0 >> S32) ^ c3 ^ k1, p0 & MASK32


@njit(inline="always", **_JIT)
def _bump(k0, k1):
    return (k0 + _W0) & MASK32, (k1 + _W1) & MASK32


@njit(inline="always", **_JIT)
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 values holding 32-bit words.

    The round count is a compile-time constant, so LLVM unrolls the rounds and
    a loop over lanes around a call becomes straight-line integer code that it
    vectorises.
    """
    for _ in range(rng.PHILOX_ROUNDS - 1):
        c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
        k0, k1 = _bump(k0, k1)
    return _philox_round(c0, c1, c2, c3, k0, k1)


@njit(inline="always", **_JIT)
def uniform(hi, lo):
    """Open-interval uniform (2k + 1) 2^-53 from the top 52 bits of hi:lo (rng.UNIFORM_BITS = 53)."""
    k = ((hi << S32) | lo) >> _UNIFORM_SHIFT
    return (2.0 * np.float64(k) + 1.0) * _UNIFORM_SCALE


@njit(inline="always", **_JIT)
def _horner(coef, x):
    acc = coef[coef.size - 1]
    for i in range(coef.size - 2, -1, -1):
        acc = acc * x + coef[i]
    return acc


@njit(inline="always", **_JIT)
def ndtri_central(u):
    """AS241 central branch; exact where |u - 1/2| <= 0.425, finite elsewhere in (0, 1)."""
    q = u - 0.5
    r = _CONST1 - q * q
    return q * (_horner(_A, r) / _horner(_B, r))


@njit(**_JIT)
def ndtri_tail(u):
    """AS241 tail branches for |u - 1/2| > 0.425."""
    lower = u < 0.5
    p = u if lower else 1.0 - u
    r = math.sqrt(-math.log(p))
    if r <= _SPLIT2:
        val = _horner(_C, r - _CONST2) / _horner(_D, r - _CONST2)
    else:
        val = _horner(_E, r - _SPLIT2) / _horner(_F, r - _SPLIT2)
    return -val if lower else val


@njit(inline="always", **_JIT)
def ndtri(u):
    if abs(u - 0.5) <= SPLIT1:
        return ndtri_central(u)
    return ndtri_tail(u)


@njit(inline="always", **_JIT)
def count_below(cdf, u):
    """Number of table entries below u: a Poisson count by inversion."""
    c = 0
    while c < cdf.size and cdf[c] < u:
        c += 1
    return c


@njit(**_JIT)
def philox_words(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of arrays of counters (for tests against the numpy generator)."""
    n = c0.size
    out = np.empty((4, n), dtype=np.uint64)
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    for j in range(n):
        x0, x1, x2, x3 = philox(np.uint64(c0[j]), np.uint64(c1[j]), np.uint64(c2[j]), np.uint64(c3[j]), key0, key1)
        out[0, j] = x0
        out[1, j] = x1
        out[2, j] = x2
        out[3, j] = x3
    return out


# --------------------------------------------------------------------------- #
# Vectorisable exp and log
# --------------------------------------------------------------------------- #
# Straight-line polynomials and a bit cast (see pivotmc.backends.fastmath), which LLVM vectorises.
_LN2_HI, _LN2_LO, _INV_LN2, _SQRT2 = fastmath.LN2_HI, fastmath.LN2_LO, fastmath.INV_LN2, fastmath.SQRT2
_EXP_MIN_ARG, _EXP_MAX_ARG = fastmath.EXP_MIN_ARG, fastmath.EXP_MAX_ARG
_EXP_COEF = np.array(fastmath.EXP_COEF)
_LOG_COEF = np.array(fastmath.LOG_COEF)
_MANTISSA = np.int64((1 << 52) - 1)
_EXP_BIAS = np.int64(1023)


@njit(inline="always", **_JIT)
def fast_exp(x):
    """e**x for -708 <= x <= 709 (arguments are clamped to that range)."""
    x = min(max(x, _EXP_MIN_ARG), _EXP_MAX_ARG)
    n = math.floor(x * _INV_LN2 + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _horner(_EXP_COEF, r)
    scale = np.int64((np.int64(n) + _EXP_BIAS) << 52).view(np.float64)
    return p * scale


@njit(inline="always", **_JIT)
def fast_log(x):
    """Natural log of a positive normal float."""
    bits = np.float64(x).view(np.int64)
    e = np.float64((bits >> 52) - _EXP_BIAS)
    m = np.int64((bits & _MANTISSA) | (_EXP_BIAS << 52)).view(np.float64)  # in [1, 2)
    if m > _SQRT2:
        m = m * 0.5
        e = e + 1.0
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    return e * _LN2_HI + (s * _horner(_LOG_COEF, s2) + e * _LN2_LO)

