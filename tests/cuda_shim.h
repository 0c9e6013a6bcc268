/*
 * Host shim: compiles CUDA kernel sources as plain C++ so that they can be
 * checked against the numpy backend on machines without a GPU.
 *
 * Only what the project's kernels use is provided.  Blocks and threads run
 * one after another, so kernels relying on __syncthreads or shared memory
 * cooperation cannot be run this way (keep reductions out of such kernels).
 * Warp-level exchanges cannot either: kernels compiled here see
 * __CUDA_ARCH__ undefined and must then treat each thread as its own warp
 * (kernels/pivotmc_model.cu does, through PIVOTMC_WARP_LANES).  atomicAdd is
 * a plain addition, which is what it amounts to when threads run in turn.
 *
 * Build with -ffp-contract=off: the GPU build uses --fmad=false, and both
 * must evaluate a*b + c with two roundings to reproduce numpy bit for bit.
 */
#ifndef PIVOTMC_CUDA_SHIM_H
#define PIVOTMC_CUDA_SHIM_H

#include <cmath>
#include <cstring>

#ifdef __CUDACC__
#error "cuda_shim.h is for host C++ compilers only"
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define PIVOTMC_DEVICE inline

struct pivotmc_shim_dim3 {
    unsigned int x, y, z;
};

/* Thread-local so that independent ctypes calls from several Python threads
   do not see each other's indices. */
static thread_local pivotmc_shim_dim3 threadIdx;
static thread_local pivotmc_shim_dim3 blockIdx;
static thread_local pivotmc_shim_dim3 blockDim;
static thread_local pivotmc_shim_dim3 gridDim;

inline unsigned int __umulhi(unsigned int a, unsigned int b)
{
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}

inline double __longlong_as_double(long long bits)
{
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

inline long long __double_as_longlong(double d)
{
    long long bits;
    std::memcpy(&bits, &d, sizeof bits);
    return bits;
}

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value)
{
    const unsigned long long old = *address;
    *address = old + value;
    return old;
}

inline int __ffs(int x)
{
    return x == 0 ? 0 : __builtin_ctz((unsigned int)x) + 1;
}

using std::exp;
using std::expm1;
using std::fabs;
using std::floor;
using std::log;
using std::pow;
using std::rint;
using std::sqrt;

/* Serial equivalent of kernel<<<grid, block>>>(args...). */
template <typename Kernel, typename... Args>
void pivotmc_shim_launch(pivotmc_shim_dim3 grid, pivotmc_shim_dim3 block, Kernel kernel, Args... args)
{
    gridDim = grid;
    blockDim = block;
    for (unsigned int bz = 0; bz < grid.z; ++bz)
        for (unsigned int by = 0; by < grid.y; ++by)
            for (unsigned int bx = 0; bx < grid.x; ++bx) {
                blockIdx = {bx, by, bz};
                for (unsigned int tz = 0; tz < block.z; ++tz)
                    for (unsigned int ty = 0; ty < block.y; ++ty)
                        for (unsigned int tx = 0; tx < block.x; ++tx) {
                            threadIdx = {tx, ty, tz};
                            kernel(args...);
                        }
            }
}

#endif /* PIVOTMC_CUDA_SHIM_H */
