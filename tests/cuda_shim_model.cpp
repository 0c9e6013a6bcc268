/*
 * Host build of kernels/pivotmc_model.cu and kernels/math_check.cu for
 * tests/backends/test_cuda.py.  The layout defines (-DPIVOTMC_P_... and
 * -DPIVOTMC_N_STRATEGIES) come from pivotmc.backends.cuda.layout_defines().
 *
 * run_pivotmc_simulate takes the grid and block sizes and then exactly the
 * kernel's arguments, so the Python side can hand it the argument list it
 * would give CuPy.
 */
#include "cuda_shim.h"

#include "../kernels/pivotmc_model.cu"
#include "../kernels/math_check.cu"

extern "C" void run_pivotmc_simulate(
    unsigned int grid, unsigned int block,
    const double* scalars, const double* steps, const double* chol,
    const double* jump_cdf, int n_jump_cdf, const double* spike_cdf, int n_spike_cdf,
    const double* share, const double* exit_multiple,
    const double* growth_pow, int n_growth, const double* p_default_full,
    int switch_index, const int* decision_date, const double* centre, const double* scale, const double* coef,
    const int* terms, int n_terms,
    unsigned int k0, unsigned int k1, unsigned long long first_path, long long n_paths, int n_steps,
    long long n_kept, int n_replicas,
    double* npv_out, unsigned long long* sums_hi, unsigned long long* sums_lo,
    double* kept_factors, double* kept_cf, short* switch_out, unsigned long long* overflow)
{
    pivotmc_shim_launch(pivotmc_shim_dim3{grid, 1, 1}, pivotmc_shim_dim3{block, 1, 1}, pivotmc_simulate,
                        scalars, steps, chol, jump_cdf, n_jump_cdf, spike_cdf, n_spike_cdf, share, exit_multiple,
                        growth_pow, n_growth, p_default_full, switch_index, decision_date, centre, scale, coef,
                        terms, n_terms, k0, k1, first_path, n_paths, n_steps, n_kept, n_replicas, npv_out, sums_hi,
                        sums_lo, kept_factors, kept_cf, switch_out, overflow);
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
