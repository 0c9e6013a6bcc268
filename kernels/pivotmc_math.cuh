/*
 * Elementary functions of the model kernels, the CUDA twins of the ones in
 * pivotmc/backends/_cpu_kernels.py (fast_exp, fast_log, Python's min/max).
 *
 * Why not the CUDA math library's exp and log: the cpu backend evaluates
 * these two with its own polynomials, and the same polynomials here, with the
 * same constants and operation order, round identically on any IEEE double
 * machine.  A path then takes the same branches on both backends (economic
 * curtailment compares two computed prices), and the per-step cash flows
 * agree far below the 2**-16 USD quantum of the exact sums.  Built without
 * contraction (nvcc/NVRTC --fmad=false, g++ -ffp-contract=off), since one
 * fused multiply-add in a Horner chain changes the last bits.
 *
 * The coefficient expressions are exact rationals that every compiler folds
 * to the correctly rounded double, as Python does for 1.0 / math.factorial(i).
 *
 * Same constraints as pivotmc_rng.cuh: no includes, built-in types only.
 */
#ifndef PIVOTMC_MATH_CUH
#define PIVOTMC_MATH_CUH

#include "pivotmc_rng.cuh"

#define PIVOTMC_LN2_HI 6.93147180369123816490e-01 /* low bits zero: n * LN2_HI is exact */
#define PIVOTMC_LN2_LO 1.90821492927058770002e-10
#define PIVOTMC_INV_LN2 1.44269504088896338700e00
#define PIVOTMC_SQRT2 1.4142135623730951

/* Python's min(a, b) and max(a, b), which Numba reproduces: the first
   argument unless the second compares strictly smaller (larger). */
PIVOTMC_DEVICE double pivotmc_min(double a, double b)
{
    return b < a ? b : a;
}

PIVOTMC_DEVICE double pivotmc_max(double a, double b)
{
    return b > a ? b : a;
}

/* e**x for -708 <= x <= 709 (clamped there): Taylor series to r**13 on
   |r| <= ln2 / 2 after removing n ln2, then the exponent bits. */
PIVOTMC_DEVICE double pivotmc_fast_exp(double x)
{
    x = pivotmc_min(pivotmc_max(x, -708.0), 709.0);
    const double n = floor(x * PIVOTMC_INV_LN2 + 0.5);
    const double r = (x - n * PIVOTMC_LN2_HI) - n * PIVOTMC_LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 1.0 / 2.0;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const double scale = __longlong_as_double(((long long)n + 1023LL) << 52);
    return p * scale;
}

/* Natural log of a positive normal double: exponent plus the atanh series
   2 (s + s**3/3 + ... + s**21/21), s = (m - 1) / (m + 1), m in [sqrt2/2, sqrt2]. */
PIVOTMC_DEVICE double pivotmc_fast_log(double x)
{
    const long long bits = __double_as_longlong(x);
    double e = (double)((bits >> 52) - 1023LL);
    double m = __longlong_as_double((bits & 0x000FFFFFFFFFFFFFLL) | (1023LL << 52));
    if (m > PIVOTMC_SQRT2) {
        m = m * 0.5;
        e = e + 1.0;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double p = 2.0 / 21.0;
    p = p * s2 + 2.0 / 19.0;
    p = p * s2 + 2.0 / 17.0;
    p = p * s2 + 2.0 / 15.0;
    p = p * s2 + 2.0 / 13.0;
    p = p * s2 + 2.0 / 11.0;
    p = p * s2 + 2.0 / 9.0;
    p = p * s2 + 2.0 / 7.0;
    p = p * s2 + 2.0 / 5.0;
    p = p * s2 + 2.0 / 3.0;
    p = p * s2 + 2.0;
    return e * PIVOTMC_LN2_HI + (s * p + e * PIVOTMC_LN2_LO);
}

#endif /* PIVOTMC_MATH_CUH */
