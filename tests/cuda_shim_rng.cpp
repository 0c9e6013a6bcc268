/*
 * Host build of kernels/rng_check.cu for tests/random/test_kernels_rng.py.
 */
#include "cuda_shim.h"

#include "../kernels/rng_check.cu"

/* A small grid on purpose: with fewer threads than counters the kernel's
   grid-stride loop and its bound check are exercised too. */
extern "C" void run_pivotmc_rng_check(const unsigned long long* path, const unsigned int* step,
                                      const unsigned int* pair, unsigned int k0, unsigned int k1,
                                      long long n, unsigned int* words, double* uniforms,
                                      double* normals)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{3, 1, 1}, pivotmc_shim_dim3{32, 1, 1}, pivotmc_rng_check, path,
                        step, pair, k0, k1, n, words, uniforms, normals);
}

extern "C" void run_pivotmc_ndtri_check(const double* u, long long n, double* z)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{3, 1, 1}, pivotmc_shim_dim3{32, 1, 1}, pivotmc_ndtri_check, u, n, z);
}
