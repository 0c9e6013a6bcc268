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

/* PIVOTMC_LN2_HI, _LN2_LO, _INV_LN2, _SQRT2, _EXP_COEF0 .. 13 and _LOG_COEF0 .. 10 are -D options made from
   pivotmc.backends.fastmath, which the Numba kernels use too (pivotmc.backends.cuda.math_defines()). */
#ifndef PIVOTMC_EXP_COEF13
#error "compile with pivotmc.backends.cuda.compile_options() (or math_defines()): the constants come from pivotmc.backends.fastmath"
#endif

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
    double p = PIVOTMC_EXP_COEF13;
    p = p * r + PIVOTMC_EXP_COEF12;
    p = p * r + PIVOTMC_EXP_COEF11;
    p = p * r + PIVOTMC_EXP_COEF10;
    p = p * r + PIVOTMC_EXP_COEF9;
    p = p * r + PIVOTMC_EXP_COEF8;
    p = p * r + PIVOTMC_EXP_COEF7;
    p = p * r + PIVOTMC_EXP_COEF6;
    p = p * r + PIVOTMC_EXP_COEF5;
    p = p * r + PIVOTMC_EXP_COEF4;
    p = p * r + PIVOTMC_EXP_COEF3;
    p = p * r + PIVOTMC_EXP_COEF2;
    p = p * r + PIVOTMC_EXP_COEF1;
    p = p * r + PIVOTMC_EXP_COEF0;
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
    double p = PIVOTMC_LOG_COEF10;
    p = p * s2 + PIVOTMC_LOG_COEF9;
    p = p * s2 + PIVOTMC_LOG_COEF8;
    p = p * s2 + PIVOTMC_LOG_COEF7;
    p = p * s2 + PIVOTMC_LOG_COEF6;
    p = p * s2 + PIVOTMC_LOG_COEF5;
    p = p * s2 + PIVOTMC_LOG_COEF4;
    p = p * s2 + PIVOTMC_LOG_COEF3;
    p = p * s2 + PIVOTMC_LOG_COEF2;
    p = p * s2 + PIVOTMC_LOG_COEF1;
    p = p * s2 + PIVOTMC_LOG_COEF0;
    return e * PIVOTMC_LN2_HI + (s * p + e * PIVOTMC_LN2_LO);
}

#endif /* PIVOTMC_MATH_CUH */
