"""Tests of the CUDA random-number header (kernels/pivotmc_rng.cuh) without a GPU.

kernels/rng_check.cu is compiled as C++ with g++ through the host shim
tests/cuda_shim.h (see cuda_harness.py) and compared with pivotmc.random.
Floating-point contraction is disabled (g++ ``-ffp-contract=off``, as nvcc
and NVRTC get ``--fmad=false``), because a fused multiply-add rounds once
where numpy rounds twice and the backends must agree bit for bit. Every
kernel's compilation (nvcc PTX, NVRTC) is tested in test_cuda.py; that the
layout and the AS241 coefficients reach the kernels from pivotmc.random alone,
with no copy in a kernel source, in tests/backends/test_kernel_constants.py.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cuda_harness import GXX_FLAGS, TESTS, build_shim, ulp_distance

from pivotmc import random as rng

SHIM_SOURCE = TESTS / "cuda_shim_rng.cpp"

# Random123 known-answer vectors for philox4x32-10 (as in test_rng.py).
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]  # fmt: skip

# Outside the tails ndtri uses only +, *, / and must agree bit for bit.  In
# the tails it calls log, which may round differently in the C library, in
# numpy's SIMD loops and in CUDA's libdevice (1 ulp apart at most); the
# cancellation in r - 1.6 turns that into up to 5 ulp of the normal
# (measured: glibc against numpy's AVX-512 log, 5e7 values in (0, 0.075)).
MAX_TAIL_NORMAL_ULP = 8


# --------------------------------------------------------------------------
# The header against pivotmc.random (compilation of every kernel: test_cuda.py)
# --------------------------------------------------------------------------


def test_kernels_refuse_to_compile_without_the_layout(tmp_path, gxx):
    proc = subprocess.run([gxx, *GXX_FLAGS, "-o", str(tmp_path / "x.so"), str(SHIM_SOURCE)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode != 0 and "rng_defines" in proc.stderr


# --------------------------------------------------------------------------
# Host build through the shim
# --------------------------------------------------------------------------


class ShimLibrary:
    """ctypes front end of the host build of kernels/rng_check.cu."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        u32p = np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS")
        u64p = np.ctypeslib.ndpointer(np.uint64, flags="C_CONTIGUOUS")
        f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
        lib.run_pivotmc_rng_check.restype = None
        lib.run_pivotmc_rng_check.argtypes = [
            u64p, u32p, u32p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_longlong, u32p, f64p, f64p,
        ]  # fmt: skip
        lib.run_pivotmc_ndtri_check.restype = None
        lib.run_pivotmc_ndtri_check.argtypes = [f64p, ctypes.c_longlong, f64p]
        self._lib = lib

    def rng_check(self, path, step, pair, key):
        path = np.ascontiguousarray(path, dtype=np.uint64)
        n = path.shape[0]
        step = np.ascontiguousarray(np.broadcast_to(np.asarray(step, dtype=np.uint32), (n,)))
        pair = np.ascontiguousarray(np.broadcast_to(np.asarray(pair, dtype=np.uint32), (n,)))
        words = np.empty((n, 4), dtype=np.uint32)
        uniforms = np.empty((n, 2), dtype=np.float64)
        normals = np.empty((n, 2), dtype=np.float64)
        self._lib.run_pivotmc_rng_check(path, step, pair, key[0], key[1], n, words, uniforms, normals)
        return words, uniforms, normals

    def ndtri(self, u):
        u = np.ascontiguousarray(u, dtype=np.float64)
        z = np.empty_like(u)
        self._lib.run_pivotmc_ndtri_check(u, u.shape[0], z)
        return z


@pytest.fixture(scope="module")
def shim(tmp_path_factory, gxx):
    out = tmp_path_factory.mktemp("cuda_shim") / "libpivotmc_rng_check.so"
    return ShimLibrary(build_shim(SHIM_SOURCE, out))


def _assert_normals_close(z: np.ndarray, ref: np.ndarray, u: np.ndarray, what: str) -> None:
    """Bitwise in the central region, within MAX_TAIL_NORMAL_ULP in the tails."""
    central = np.abs(u - 0.5) <= rng.AS241_SPLIT1
    tail = ~central
    assert np.count_nonzero(central) > 100 and np.count_nonzero(tail) > 100, "both regions must be covered"
    assert z[central].tobytes() == ref[central].tobytes()
    ulp = ulp_distance(z[tail], ref[tail])
    max_ulp = int(ulp.max())
    print(f"{what}: normals max ulp difference {max_ulp} over {ulp.size} tail values, "
          f"{np.count_nonzero(ulp)} differ; central region bitwise ({np.count_nonzero(central)} values)")
    assert max_ulp <= MAX_TAIL_NORMAL_ULP
    if max_ulp == 0:
        assert z.tobytes() == ref.tobytes()


def _counters(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counters covering path words above 2**32, the per-path step and edge values."""
    g = np.random.default_rng(20240611)
    path = g.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    path[: n // 4] = g.integers(0, 2**20, size=n // 4, dtype=np.uint64)
    step = g.integers(0, 4000, size=n, dtype=np.uint32)
    step[::7] = rng.PER_PATH_STEP
    pair = g.integers(0, 12, size=n, dtype=np.uint32)
    pair[::11] = 0xFFFFFFFF
    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**63, 2**64 - 1], dtype=np.uint64)
    path[: edges.size] = edges
    kat_path = np.array([c[0] | (c[1] << 32) for c, _, _ in KAT], dtype=np.uint64)
    path[-len(KAT) :] = kat_path
    step[-len(KAT) :] = [c[2] for c, _, _ in KAT]
    pair[-len(KAT) :] = [c[3] for c, _, _ in KAT]
    return path, step, pair


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_host_shim_known_answers(shim, ctr, key, expected):
    path = np.array([ctr[0] | (ctr[1] << 32)], dtype=np.uint64)
    words, uniforms, _ = shim.rng_check(path, ctr[2], ctr[3], key)
    assert tuple(int(w) for w in words[0]) == expected
    ref = rng.uniform_from_words([expected[0], expected[2]], [expected[1], expected[3]])
    assert uniforms[0].tobytes() == ref.tobytes()


@pytest.mark.parametrize("seed", [0, 0x0123456789ABCDEF, 2**64 - 1])
def test_host_shim_matches_numpy_generator(shim, seed):
    key = rng.seed_key(seed)
    path, step, pair = _counters(3000)
    words, uniforms, normals = shim.rng_check(path, step, pair, key)

    lo = (path & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (path >> np.uint64(32)).astype(np.uint32)
    ref_words = np.stack(rng.philox4x32(lo, hi, step, pair, key[0], key[1]), axis=1)
    np.testing.assert_array_equal(words, ref_words)

    ref_uniforms = np.stack(
        [rng.uniform_from_words(ref_words[:, 0], ref_words[:, 1]),
         rng.uniform_from_words(ref_words[:, 2], ref_words[:, 3])],
        axis=1,
    )  # fmt: skip
    assert uniforms.tobytes() == ref_uniforms.tobytes()
    # The layout helper against the public layout API, one (step, pair) group.
    sel = (step == step[0]) & (pair == pair[0])
    assert np.count_nonzero(sel) > 10
    u_even, u_odd = rng.uniform_pair(key, path[sel], int(step[0]), int(pair[0]))
    assert uniforms[sel, 0].tobytes() == u_even.tobytes()
    assert uniforms[sel, 1].tobytes() == u_odd.tobytes()

    _assert_normals_close(normals, rng.ndtri(ref_uniforms), ref_uniforms, f"seed {seed:#x}")


def test_host_shim_ndtri_tails_and_specials(shim):
    g = np.random.default_rng(7)
    k = g.integers(0, 2**52, size=4000, dtype=np.uint64)
    lattice = ((k << np.uint64(1)) | np.uint64(1)).astype(np.float64) * 2.0**-53
    # Far tail (r > 5 for u < exp(-25)), the region boundaries and the lattice extremes.
    deep = np.exp(-g.uniform(20.0, 36.7, size=2000))
    deep = np.round(deep * 2.0**53) * 2.0**-53  # onto the lattice where it is exact
    deep = deep[deep > 0]
    edges = np.array(
        [2.0**-53, 1 - 2.0**-53, 0.075, 0.925, 0.5, 0.5 - 2.0**-53, np.exp(-25.0), 2.0**-54, 1e-300],
    )
    u = np.concatenate([lattice, deep, edges])
    u = np.concatenate([u, 1.0 - u])
    assert np.count_nonzero(np.minimum(u, 1 - u) < np.exp(-25.0)) > 500
    _assert_normals_close(shim.ndtri(u), rng.ndtri(u), u, "ndtri tails")

    specials = np.array([0.0, 1.0, -0.0, -1e-300, 1.5, -2.0, np.nan, np.inf, -np.inf])
    zs = shim.ndtri(specials)
    with np.errstate(invalid="ignore"):  # numpy evaluates the central formula on inf/NaN too
        refs = rng.ndtri(specials)
    np.testing.assert_array_equal(zs, refs)
    assert np.signbit(zs[0]) and np.isinf(zs[0]) and np.isinf(zs[1]) and not np.signbit(zs[1])


def test_host_shim_normals_are_antisymmetric(shim):
    # Complementing all 64 bits maps u to exactly 1 - u; the header must keep
    # ndtri(1 - u) == -ndtri(u) bit for bit, like its numpy twin.
    g = np.random.default_rng(11)
    k = g.integers(0, 2**52, size=5000, dtype=np.uint64)
    u = ((k << np.uint64(1)) | np.uint64(1)).astype(np.float64) * 2.0**-53
    z = shim.ndtri(u)
    zc = shim.ndtri(1.0 - u)
    assert z.tobytes() == (-zc).tobytes()
