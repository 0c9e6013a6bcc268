/*
 * Test kernel for pivotmc_rng.cuh: exposes the raw Philox words, the two
 * uniforms and the two normals of arbitrary counters so that tests can
 * compare them with pivotmc.random (on a GPU through CuPy, elsewhere through
 * the C++ host shim in tests/cuda_shim.h).
 *
 * Outputs are row-major per counter: words[4*i + j], uniforms[2*i + j],
 * normals[2*i + j].  Uniforms come from pivotmc_uniform_pair, not from the
 * words, so the layout helper is checked against the words as well.
 *
 * pivotmc_ndtri_check evaluates the inverse CDF on given probabilities:
 * Philox uniforms practically never reach the far tail (u < 1.4e-11) nor
 * the lattice extremes, where math-library differences in log matter most.
 */
#include "pivotmc_rng.cuh"

extern "C" __global__ void pivotmc_rng_check(const unsigned long long* path, const unsigned int* step,
                                             const unsigned int* pair, unsigned int k0, unsigned int k1,
                                             long long n, unsigned int* words, double* uniforms,
                                             double* normals)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        unsigned int x[4];
        x[0] = (unsigned int)path[i];
        x[1] = (unsigned int)(path[i] >> 32);
        x[2] = step[i];
        x[3] = pair[i];
        pivotmc_philox4x32(x, k0, k1);
        words[4 * i + 0] = x[0];
        words[4 * i + 1] = x[1];
        words[4 * i + 2] = x[2];
        words[4 * i + 3] = x[3];

        double u_even, u_odd;
        pivotmc_uniform_pair(k0, k1, path[i], step[i], pair[i], &u_even, &u_odd);
        uniforms[2 * i + 0] = u_even;
        uniforms[2 * i + 1] = u_odd;
        normals[2 * i + 0] = pivotmc_ndtri(u_even);
        normals[2 * i + 1] = pivotmc_ndtri(u_odd);
    }
}

extern "C" __global__ void pivotmc_ndtri_check(const double* u, long long n, double* z)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        z[i] = pivotmc_ndtri(u[i]);
    }
}
