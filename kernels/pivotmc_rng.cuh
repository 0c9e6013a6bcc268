/*
 * Device-side counter-based random numbers: the CUDA twin of pivotmc.random.
 *
 * Every value must equal what pivotmc.random computes on the CPU for the same
 * (seed, path, step, slot), so that a path simulated on the GPU can be
 * recomputed and checked on the CPU.  Anything below that changes the
 * numbers (constants, counter layout, uniform mapping, ndtri arithmetic)
 * must change in pivotmc/rng.py too, together with the layout version.
 *
 * Layout, version 2 (see the pivotmc.random module docstring for the slot table)
 *   key     (k0, k1) = (seed & 0xffffffff, seed >> 32)
 *   counter (c0, c1, c2, c3) = (path low 32 bits, path high 32 bits,
 *                               step or PIVOTMC_PER_PATH_STEP, pair)
 *   slot 2*pair     = uniform(hi = x0, lo = x1)
 *   slot 2*pair + 1 = uniform(hi = x2, lo = x3)
 *   normals are pivotmc_ndtri(uniform), one slot each.
 *   paths   a run's paths are 0 .. n_paths - 1; the switch policy's learning
 *           paths start at PIVOTMC_LEARNING_PATH0 (under their own key).
 *
 * Constraints: the file is compiled by nvcc, by NVRTC (CuPy RawModule) and,
 * for tests, as plain C++ through tests/cuda_shim.h.  NVRTC offers no
 * standard headers, hence no includes and only built-in types.  Floating
 * point parity with numpy also needs builds without fused multiply-add
 * contraction (nvcc/NVRTC --fmad=false, g++ -ffp-contract=off).
 */
#ifndef PIVOTMC_RNG_CUH
#define PIVOTMC_RNG_CUH

/* Host C++ builds (the test shim) may predefine PIVOTMC_DEVICE. */
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#ifndef PIVOTMC_DEVICE
#define PIVOTMC_DEVICE __device__ __forceinline__
#endif
#define PIVOTMC_UNROLL _Pragma("unroll")
#else
#ifndef PIVOTMC_DEVICE
#define PIVOTMC_DEVICE inline
#endif
#define PIVOTMC_UNROLL
#endif

/* The random-number layout (PIVOTMC_SLOT_*, PIVOTMC_N_STEP_PAIRS, PIVOTMC_PER_PATH_STEP,
 * PIVOTMC_LEARNING_PATH0, PIVOTMC_PHILOX_*, PIVOTMC_RNG_LAYOUT_VERSION) comes from pivotmc.random, its one
 * source, as -D options: pivotmc.backends.cuda.rng_defines(), part of compile_options(). */
#ifndef PIVOTMC_RNG_LAYOUT_VERSION
#error "compile with pivotmc.backends.cuda.compile_options() (or rng_defines()): the random-number layout comes from pivotmc.random"
#endif

/* ------------------------------------------------------------------------
 * Philox4x32-10
 * ---------------------------------------------------------------------- */

/* x[0..3] holds the counter on entry and the output words on return. */
PIVOTMC_DEVICE void pivotmc_philox4x32(unsigned int x[4], unsigned int k0, unsigned int k1)
{
PIVOTMC_UNROLL
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(PIVOTMC_PHILOX_M0, x[0]);
        const unsigned int lo0 = PIVOTMC_PHILOX_M0 * x[0];
        const unsigned int hi1 = __umulhi(PIVOTMC_PHILOX_M1, x[2]);
        const unsigned int lo1 = PIVOTMC_PHILOX_M1 * x[2];
        x[0] = hi1 ^ x[1] ^ k0;
        x[1] = lo1;
        x[2] = hi0 ^ x[3] ^ k1;
        x[3] = lo0;
        /* unsigned arithmetic wraps mod 2**32, as the key schedule requires;
           the bump after the last round is dead and optimised away. */
        k0 += PIVOTMC_PHILOX_W0;
        k1 += PIVOTMC_PHILOX_W1;
    }
}

/* ------------------------------------------------------------------------
 * Uniforms on the open lattice (2k + 1) * 2**-53
 * ---------------------------------------------------------------------- */

PIVOTMC_DEVICE double pivotmc_uniform(unsigned int hi, unsigned int lo)
{
    /* The odd integer is below 2**53 and the scale a power of two, so both
       the conversion and the product are exact: no rounding to 0 or 1 and
       bitwise agreement with the numpy version on any backend. */
    const unsigned long long w = ((unsigned long long)hi << 32) | lo;
    const unsigned long long odd = (w >> 11) | 1ull;
    return (double)odd * 1.1102230246251565404236316680908203125e-16; /* 2**-53 */
}

/* ------------------------------------------------------------------------
 * Inverse normal CDF, Wichura AS241 (PPND16)
 *
 * Same coefficients, branches and operation order as pivotmc.random.ndtri.
 * The coefficients are pivotmc.random's, as -D options PIVOTMC_AS241_A0 .. _F7
 * (from pivotmc.backends.cuda.rng_defines(); one option each, as nvcc splits
 * option values at commas), listed eight at a time by PIVOTMC_AS241(X):
 * Horner from the highest coefficient, numerator / denominator, the tail
 * evaluated on p = min(u, 1 - u) and then signed.  Only log (and, in
 * principle, sqrt) may round differently between math libraries.
 * ---------------------------------------------------------------------- */

#define PIVOTMC_AS241(X) PIVOTMC_AS241_##X##0, PIVOTMC_AS241_##X##1, PIVOTMC_AS241_##X##2, PIVOTMC_AS241_##X##3, \
    PIVOTMC_AS241_##X##4, PIVOTMC_AS241_##X##5, PIVOTMC_AS241_##X##6, PIVOTMC_AS241_##X##7

PIVOTMC_DEVICE double pivotmc_horner8(double x, double c0, double c1, double c2, double c3,
                                      double c4, double c5, double c6, double c7)
{
    double acc = c7;
    acc = acc * x + c6;
    acc = acc * x + c5;
    acc = acc * x + c4;
    acc = acc * x + c3;
    acc = acc * x + c2;
    acc = acc * x + c1;
    acc = acc * x + c0;
    return acc;
}

/* The central branch, exact where |u - 1/2| <= 0.425 and finite elsewhere in
   (0, 1): kernels may evaluate it everywhere and overwrite the tail lanes. */
PIVOTMC_DEVICE double pivotmc_ndtri_central(double u)
{
    const double q = u - 0.5;
    const double r = 0.180625 - q * q;
    const double num = pivotmc_horner8(r, PIVOTMC_AS241(A));
    const double den = pivotmc_horner8(r, PIVOTMC_AS241(B));
    return q * (num / den);
}

PIVOTMC_DEVICE bool pivotmc_ndtri_is_tail(double u)
{
    const double q = u - 0.5;
    return !(q <= 0.425 && q >= -0.425);
}

/* The tail branches (|u - 1/2| > 0.425), and the values at 0, 1 and outside. */
PIVOTMC_DEVICE double pivotmc_ndtri_tail(double u)
{
    /* Tested on u, not q: below 2**-54, u - 0.5 already rounds to -0.5. */
    if (u > 0.0 && u < 1.0) {
        const bool lower = u < 0.5;
        const double p = lower ? u : 1.0 - u;
        const double r = sqrt(-log(p));
        double val;
        if (r <= 5.0) {
            const double s = r - 1.6;
            val = pivotmc_horner8(s, PIVOTMC_AS241(C))
                / pivotmc_horner8(s, PIVOTMC_AS241(D));
        } else {
            const double s = r - 5.0;
            val = pivotmc_horner8(s, PIVOTMC_AS241(E))
                / pivotmc_horner8(s, PIVOTMC_AS241(F));
        }
        return lower ? -val : val;
    }
    /* Never reached from pivotmc_uniform; kept so the function is total
       like its numpy twin.  Bit patterns avoid needing <math.h> macros. */
    if (u == 0.0) return __longlong_as_double((long long)0xFFF0000000000000ull); /* -inf */
    if (u == 1.0) return __longlong_as_double((long long)0x7FF0000000000000ull); /* +inf */
    return __longlong_as_double((long long)0x7FF8000000000000ull);                /* NaN */
}

PIVOTMC_DEVICE double pivotmc_ndtri(double u)
{
    return pivotmc_ndtri_is_tail(u) ? pivotmc_ndtri_tail(u) : pivotmc_ndtri_central(u);
}

/* ------------------------------------------------------------------------
 * Layout helper
 * ---------------------------------------------------------------------- */

/* Uniforms of slots 2*pair and 2*pair + 1 at (path, step); step is a step
   index or PIVOTMC_PER_PATH_STEP. */
PIVOTMC_DEVICE void pivotmc_uniform_pair(unsigned int k0, unsigned int k1, unsigned long long path,
                                         unsigned int step, unsigned int pair,
                                         double* u_even, double* u_odd)
{
    unsigned int x[4];
    x[0] = (unsigned int)path;
    x[1] = (unsigned int)(path >> 32);
    x[2] = step;
    x[3] = pair;
    pivotmc_philox4x32(x, k0, k1);
    *u_even = pivotmc_uniform(x[0], x[1]);
    *u_odd = pivotmc_uniform(x[2], x[3]);
}

#endif /* PIVOTMC_RNG_CUH */
