"""The inverse normal CDF every executor uses: Wichura's AS241 (PPND16), accurate to ~1e-16.

Its coefficients and region bounds are given to the Numba kernels as globals and to the CUDA
kernels as ``-D`` options, so that all executors evaluate the same rational functions in the
same order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# --------------------------------------------------------------------------
# Inverse normal CDF (Wichura 1988, AS241 PPND16)
# --------------------------------------------------------------------------

#: The central region is ``|u - 1/2| <= AS241_SPLIT1``, rational in ``r = AS241_CONST1 - q**2`` (0.425 squared).
AS241_SPLIT1 = 0.425
AS241_CONST1 = 0.180625
#: The tails, in ``r = sqrt(-log(p))``: rational in ``r - AS241_CONST2`` up to ``AS241_SPLIT2``,
#: in ``r - AS241_SPLIT2`` beyond.
AS241_SPLIT2 = 5.0
AS241_CONST2 = 1.6

# Numerator (A) and denominator (B) of the central region, lowest power first.
AS241_A = (
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
)
AS241_B = (
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
)
# Intermediate tail, r <= AS241_SPLIT2.
AS241_C = (
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
)
AS241_D = (
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
# Far tail, r > AS241_SPLIT2.
AS241_E = (
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
AS241_F = (
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)


def _horner(coef: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate ``sum(coef[i] * x**i)``."""
    acc = np.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc *= x
        acc += c
    return acc


def _ratio(num: tuple[float, ...], den: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate the rational function ``num(x) / den(x)``."""
    return _horner(num, x) / _horner(den, x)


def ndtri(u: ArrayLike) -> NDArray[np.float64]:
    """Inverse of the standard normal CDF, Wichura's algorithm AS241.

    Parameters
    ----------
    u : array_like of float
        Probabilities.

    Returns
    -------
    ndarray of float64
        ``z`` with ``Phi(z) = u``, same shape as `u`; ``-inf`` at 0, ``+inf``
        at 1 and NaN outside ``[0, 1]`` or for NaN input.

    Notes
    -----
    PPND16 of Wichura (1988), Applied Statistics 37, 477-484: a rational
    approximation of degree 7/7 in ``0.180625 - q**2`` for
    ``|q| = |u - 1/2| <= 0.425``, and otherwise in ``r = sqrt(-log(p))`` with
    ``p = min(u, 1 - u)``, one for ``r <= 5`` and one for ``r > 5``, giving
    about 1e-16 relative accuracy.  Each region is evaluated on its own
    mask.

    The tail value is computed from ``p`` and then given the sign of ``q``,
    and the central value is ``q`` times an even function of ``q``.  Hence
    when ``1 - u`` is exact (as for every uniform of
    :func:`uniform_from_words`) ``ndtri(1 - u) == -ndtri(u)`` bit for bit.
    """
    ua = np.asarray(u, dtype=np.float64)
    shape = ua.shape
    x = ua.reshape(-1)
    out = np.empty_like(x)
    q = x - 0.5

    # Most uniforms fall in the central region: evaluating it on every element and
    # overwriting the tails is cheaper than gathering and scattering the centre.
    central = np.abs(q) <= AS241_SPLIT1
    np.multiply(q, _ratio(AS241_A, AS241_B, AS241_CONST1 - q * q), out=out)

    # Tested on u itself: for u < 2**-54, u - 0.5 rounds to -0.5.
    tail = ~central & (x > 0.0) & (x < 1.0)
    if tail.any():
        xt = x[tail]
        lower = xt < 0.5
        p = np.where(lower, xt, 1.0 - xt)
        r = np.sqrt(-np.log(p))
        mid = r <= AS241_SPLIT2
        val = np.empty_like(r)
        if mid.any():
            val[mid] = _ratio(AS241_C, AS241_D, r[mid] - AS241_CONST2)
        far = ~mid
        if far.any():
            val[far] = _ratio(AS241_E, AS241_F, r[far] - AS241_SPLIT2)
        np.negative(val, out=val, where=lower)
        out[tail] = val

    rest = ~(central | tail)
    if rest.any():
        xr = x[rest]
        out[rest] = np.where(xr == 0.0, -np.inf, np.where(xr == 1.0, np.inf, np.nan))
    return out.reshape(shape)


