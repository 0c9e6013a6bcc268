/*
 * Test kernel for pivotmc_math.cuh: the elementary functions of the model on
 * given arguments, for comparison with the cpu backend's fast_exp and
 * fast_log (on a GPU through CuPy, elsewhere through the host shim).
 * Nothing here calls the CUDA math library, so its PTX holds no fused
 * multiply-add unless contraction was left on: the tests check that too.
 */
#include "pivotmc_math.cuh"

extern "C" __global__ void pivotmc_math_check(const double* x, long long n, double* exp_out, double* log_out)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        exp_out[i] = pivotmc_fast_exp(x[i]);
        log_out[i] = x[i] > 0.0 ? pivotmc_fast_log(x[i]) : 0.0;
    }
}
