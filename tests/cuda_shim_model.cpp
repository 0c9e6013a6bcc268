/*
 * Host build of kernels/pivotmc_model.cu and kernels/math_check.cu for
 * tests/backends/test_cuda.py.  The layout defines (-DPIVOTMC_P_...,
 * -DPIVOTMC_N_STRATEGIES, -DPIVOTMC_CLOUD) come from pivotmc.backends.cuda.layout_defines().
 *
 * run_pivotmc_simulate takes the grid and block sizes and then the kernel's
 * arguments, its records (structs passed by value) by address, so the Python
 * side can hand it the argument list it would give CuPy.
 */
#include "cuda_shim.h"

#include "../kernels/pivotmc_model.cu"
#include "../kernels/math_check.cu"

extern "C" void run_pivotmc_simulate(unsigned int grid, unsigned int block, const pivotmc_plan* plan,
                                     const pivotmc_policy* policy, const pivotmc_outputs* out, int n_steps,
                                     unsigned int k0, unsigned int k1, unsigned long long first_path,
                                     long long n_paths, long long n_kept, int n_replicas,
                                     const pivotmc_constants* constants)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{grid, 1, 1}, pivotmc_shim_dim3{block, 1, 1}, pivotmc_simulate, *plan,
                        *policy, *out, n_steps, k0, k1, first_path, n_paths, n_kept, n_replicas, *constants);
}

extern "C" void run_pivotmc_draws_only(unsigned int grid, unsigned int block, unsigned int k0, unsigned int k1,
                                       unsigned long long first_path, long long n_paths, int n_steps, double* out)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{grid, 1, 1}, pivotmc_shim_dim3{block, 1, 1}, pivotmc_draws_only, k0, k1,
                        first_path, n_paths, n_steps, out);
}

extern "C" void run_pivotmc_math_check(const double* x, long long n, double* exp_out, double* log_out)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{2, 1, 1}, pivotmc_shim_dim3{32, 1, 1}, pivotmc_math_check, x, n, exp_out,
                        log_out);
}
