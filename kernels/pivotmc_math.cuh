/*
 * Elementary functions of the model kernels, the CUDA twins of the ones in
 * pivotmc/backends/_cpu_kernels/numerics.py (fast_exp, fast_log, Python's min/max).
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
 * Same constraints as pivotmc_rng.cuh: no includes, built-in types only.
 */
#ifndef PIVOTMC_MATH_CUH
#define PIVOTMC_MATH_CUH

#include "pivotmc_rng.cuh"

/* PIVOTMC_LN2_HI, _LN2_LO, _INV_LN2, _SQRT2, _EXP_MIN_ARG, _EXP_MAX_ARG and the polynomials _EXP_COEF and
   _LOG_COEF (with their lengths _EXP_COEF_COUNT, _LOG_COEF_COUNT; see PIVOTMC_COEF in pivotmc_rng.cuh) are -D
   options made from pivotmc.backends.fastmath, which the Numba kernels use too
   (pivotmc.backends.cuda.math_defines()). */
#if !defined(PIVOTMC_EXP_COEF_COUNT) || !defined(PIVOTMC_LOG_COEF_COUNT) || !defined(PIVOTMC_EXP_MAX_ARG)
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

/* e**x for PIVOTMC_EXP_MIN_ARG <= x <= PIVOTMC_EXP_MAX_ARG (clamped there): Taylor series on
   |r| <= ln2 / 2 after removing n ln2, then the exponent bits. */
PIVOTMC_DEVICE double pivotmc_fast_exp(double x)
{
    const double coef[PIVOTMC_EXP_COEF_COUNT] = {PIVOTMC_EXP_COEF};
    x = pivotmc_min(pivotmc_max(x, PIVOTMC_EXP_MIN_ARG), PIVOTMC_EXP_MAX_ARG);
    const double n = floor(x * PIVOTMC_INV_LN2 + 0.5);
    const double r = (x - n * PIVOTMC_LN2_HI) - n * PIVOTMC_LN2_LO;
    const double p = pivotmc_horner(coef, r);
    const double scale = __longlong_as_double(((long long)n + 1023LL) << 52);
    return p * scale;
}

/* Natural log of a positive normal double: exponent plus the atanh series
   2 (s + s**3/3 + s**5/5 + ...), s = (m - 1) / (m + 1), m in [sqrt2/2, sqrt2]. */
PIVOTMC_DEVICE double pivotmc_fast_log(double x)
{
    const double coef[PIVOTMC_LOG_COEF_COUNT] = {PIVOTMC_LOG_COEF};
    const long long bits = __double_as_longlong(x);
    double e = (double)((bits >> 52) - 1023LL);
    double m = __longlong_as_double((bits & 0x000FFFFFFFFFFFFFLL) | (1023LL << 52));
    if (m > PIVOTMC_SQRT2) {
        m = m * 0.5;
        e = e + 1.0;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    const double p = pivotmc_horner(coef, s2);
    return e * PIVOTMC_LN2_HI + (s * p + e * PIVOTMC_LN2_LO);
}

#endif /* PIVOTMC_MATH_CUH */
