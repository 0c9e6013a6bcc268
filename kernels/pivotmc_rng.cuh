/*
 * Device-side counter-based random numbers: the CUDA twin of pivotmc.random.
 *
 * Every value must equal what pivotmc.random computes on the CPU for the same
 * (seed, path, step, slot), so that a path simulated on the GPU can be
 * recomputed and checked on the CPU.  Anything below that changes the
 * numbers (constants, counter layout, uniform mapping, ndtri arithmetic)
 * must change in pivotmc/rng.py too, together with the layout version.
 *
 * Layout, version 3 (see the pivotmc.random module docstring for the slot table)
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
 * PIVOTMC_LEARNING_PATH0, PIVOTMC_RNG_LAYOUT_VERSION), Philox's constants (PIVOTMC_PHILOX_*), the bits of a
 * uniform (PIVOTMC_UNIFORM_BITS) and AS241's region bounds and coefficients (PIVOTMC_AS241_*) come from
 * pivotmc.random, their one source, as -D options: pivotmc.backends.cuda.rng_defines(), part of
 * compile_options(). */
#if !defined(PIVOTMC_RNG_LAYOUT_VERSION) || !defined(PIVOTMC_PHILOX_ROUNDS) || !defined(PIVOTMC_AS241_A_COUNT)
#error "compile with pivotmc.backends.cuda.compile_options() (or rng_defines()): the random-number layout comes from pivotmc.random"
#endif

/* A list of coefficients arrives as one -D option PIVOTMC_COEF(c0)PIVOTMC_COEF(c1)... (nvcc splits option
   values at commas) with its length in NAME_COUNT; {NAME} is then an array initialiser. */
#define PIVOTMC_COEF(c) c,

/* The polynomial sum of coef[i] * x**i by Horner's rule from the highest coefficient, the order of
   pivotmc.random.normal and of the Numba kernels: acc = coef[N - 1], then acc = acc * x + coef[i] for
   i = N - 2 .. 0.  Unrolled on the GPU, so that the coefficients become immediates. */
template <int N>
PIVOTMC_DEVICE double pivotmc_horner(const double (&coef)[N], double x)
{
    double acc = coef[N - 1];
PIVOTMC_UNROLL
    for (int i = N - 2; i >= 0; --i) {
        acc = acc * x + coef[i];
    }
    return acc;
}

/* ------------------------------------------------------------------------
 * Philox4x32-10
 * ---------------------------------------------------------------------- */

/* x[0..3] holds the counter on entry and the output words on return. */
PIVOTMC_DEVICE void pivotmc_philox4x32(unsigned int x[4], unsigned int k0, unsigned int k1)
{
PIVOTMC_UNROLL
    for (int round = 0; round < PIVOTMC_PHILOX_ROUNDS; ++round) {
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
    const unsigned long long odd = (w >> (64 - PIVOTMC_UNIFORM_BITS)) | 1ull;
    return (double)odd * (1.0 / (double)(1ull << PIVOTMC_UNIFORM_BITS));
}

/* ------------------------------------------------------------------------
 * Inverse normal CDF, Wichura AS241 (PPND16)
 *
 * Same coefficients, region bounds, branches and operation order as
 * pivotmc.random.ndtri, whose constants arrive as -D options: the bounds
 * PIVOTMC_AS241_SPLIT1, _CONST1, _SPLIT2, _CONST2 and the polynomials
 * PIVOTMC_AS241_A .. _F (with their lengths _A_COUNT ..).  Horner from the
 * highest coefficient, numerator / denominator, the tail evaluated on
 * p = min(u, 1 - u) and then signed.  Only log (and, in principle, sqrt) may
 * round differently between math libraries.
 * ---------------------------------------------------------------------- */

/* The central branch, exact where |u - 1/2| <= PIVOTMC_AS241_SPLIT1 and finite
   elsewhere in (0, 1): kernels may evaluate it everywhere and overwrite the tail lanes. */
PIVOTMC_DEVICE double pivotmc_ndtri_central(double u)
{
    const double a[PIVOTMC_AS241_A_COUNT] = {PIVOTMC_AS241_A};
    const double b[PIVOTMC_AS241_B_COUNT] = {PIVOTMC_AS241_B};
    const double q = u - 0.5;
    const double r = PIVOTMC_AS241_CONST1 - q * q;
    const double num = pivotmc_horner(a, r);
    const double den = pivotmc_horner(b, r);
    return q * (num / den);
}

PIVOTMC_DEVICE bool pivotmc_ndtri_is_tail(double u)
{
    const double q = u - 0.5;
    return !(q <= PIVOTMC_AS241_SPLIT1 && q >= -PIVOTMC_AS241_SPLIT1);
}

/* The tail branches (|u - 1/2| > PIVOTMC_AS241_SPLIT1), and the values at 0, 1 and outside. */
PIVOTMC_DEVICE double pivotmc_ndtri_tail(double u)
{
    /* Tested on u, not q: below 2**-54, u - 0.5 already rounds to -0.5. */
    if (u > 0.0 && u < 1.0) {
        const bool lower = u < 0.5;
        const double p = lower ? u : 1.0 - u;
        const double r = sqrt(-log(p));
        double val;
        if (r <= PIVOTMC_AS241_SPLIT2) {
            const double c[PIVOTMC_AS241_C_COUNT] = {PIVOTMC_AS241_C};
            const double d[PIVOTMC_AS241_D_COUNT] = {PIVOTMC_AS241_D};
            const double s = r - PIVOTMC_AS241_CONST2;
            val = pivotmc_horner(c, s) / pivotmc_horner(d, s);
        } else {
            const double e[PIVOTMC_AS241_E_COUNT] = {PIVOTMC_AS241_E};
            const double f[PIVOTMC_AS241_F_COUNT] = {PIVOTMC_AS241_F};
            const double s = r - PIVOTMC_AS241_SPLIT2;
            val = pivotmc_horner(e, s) / pivotmc_horner(f, s);
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
