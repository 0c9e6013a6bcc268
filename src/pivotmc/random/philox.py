"""Philox4x32-10 (Salmon et al., SC'11) in numpy, and 53-bit uniforms from its words.

The block cipher behind every random number of pivotmc (see :mod:`pivotmc.random.layout`
for which counter feeds which number): vectorised over arrays of counters, processed in
cache-sized blocks.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

# --------------------------------------------------------------------------
# Philox4x32-10
# --------------------------------------------------------------------------

PHILOX_M0: int = 0xD2511F53
PHILOX_M1: int = 0xCD9E8D57
PHILOX_W0: int = 0x9E3779B9
PHILOX_W1: int = 0xBB67AE85
PHILOX_ROUNDS: int = 10
#: Bits of a uniform: ``(2 k + 1) 2**-UNIFORM_BITS`` with ``k`` the top ``UNIFORM_BITS - 1`` bits of a 64-bit word.
UNIFORM_BITS: int = 53

_MASK32 = 0xFFFFFFFF
_U64_MASK32 = np.uint64(_MASK32)
_U64_32 = np.uint64(32)
_U64_M0 = np.uint64(PHILOX_M0)
_U64_M1 = np.uint64(PHILOX_M1)
_U64_1 = np.uint64(1)
_U64_LO_SHIFT = np.uint64(64 - UNIFORM_BITS)  # the low word's bits below the uniform's
_U64_HI_SHIFT = np.uint64(UNIFORM_BITS - 32)  # the high word's place above them
_UNIFORM_SCALE = 2.0**-UNIFORM_BITS

# Arrays are processed in blocks of this many elements so that the five
# working buffers of the round loop (5 x 8 bytes per element) stay in the
# per-core L2 cache; measured faster than whole-array passes above ~1e5.
_BLOCK = 1 << 14


def _key_schedule(k0: Any, k1: Any) -> list[tuple[Any, Any]]:
    """Round keys of Philox4x32-10 as uint64 values holding 32-bit words.

    `k0` and `k1` are uint64 scalars or arrays; so are the round keys.
    """
    sched = []
    w0 = np.uint64(PHILOX_W0)
    w1 = np.uint64(PHILOX_W1)
    for _ in range(PHILOX_ROUNDS):
        sched.append((k0, k1))
        # uint64 arithmetic does not wrap at 32 bits, hence the mask.
        k0 = (k0 + w0) & _U64_MASK32
        k1 = (k1 + w1) & _U64_MASK32
    return sched


def _philox_rounds(
    x0: NDArray[np.uint64],
    x1: NDArray[np.uint64],
    x2: NDArray[np.uint64],
    x3: NDArray[np.uint64],
    tmp: NDArray[np.uint64],
    sched: list[tuple[Any, Any]],
) -> tuple[NDArray[np.uint64], ...]:
    """Apply the ten rounds in place on 1-D uint64 buffers of equal length.

    The buffers are recycled between rounds (the product overwrites the
    multiplicand it no longer needs), so the loop allocates nothing; the
    returned tuple is a permutation of the input buffers.
    """
    for k0, k1 in sched:
        # Both factors are < 2**32, so the uint64 product is exact and its
        # halves are mulhi / mullo of the 32-bit multiplication.
        np.multiply(x0, _U64_M0, out=x0)
        np.multiply(x2, _U64_M1, out=x2)
        # new x0 = mulhi(M1, x2) ^ x1 ^ k0, built in x1's buffer
        np.right_shift(x2, _U64_32, out=tmp)
        np.bitwise_xor(x1, tmp, out=x1)
        np.bitwise_xor(x1, k0, out=x1)
        # new x2 = mulhi(M0, x0) ^ x3 ^ k1, built in x3's buffer
        np.right_shift(x0, _U64_32, out=tmp)
        np.bitwise_xor(x3, tmp, out=x3)
        np.bitwise_xor(x3, k1, out=x3)
        # new x1 = mullo(M1, x2), new x3 = mullo(M0, x0)
        np.bitwise_and(x2, _U64_MASK32, out=x2)
        np.bitwise_and(x0, _U64_MASK32, out=x0)
        x0, x1, x2, x3 = x1, x2, x3, x0
    return x0, x1, x2, x3


_Word = Any  # 1-D uint array of the common length, or an integer scalar


def _philox_blocks(
    c: tuple[_Word, _Word, _Word, _Word],
    k0: _Word,
    k1: _Word,
    n: int,
    sink: Callable[[slice, tuple[NDArray[np.uint64], ...]], None],
) -> None:
    """Run Philox4x32-10 over ``n`` counters, one cache-sized block at a time.

    Parameters
    ----------
    c : tuple
        Counter words: each a 1-D integer array of length `n` or a scalar,
        all holding values in ``[0, 2**32)``.
    k0, k1 : array or scalar
        Key words, likewise.
    n : int
        Number of counters.
    sink : callable
        Called as ``sink(sl, (x0, x1, x2, x3))`` for each block, with ``sl``
        the block's slice of ``range(n)`` and the output words in uint64
        scratch buffers that the sink may overwrite but must not keep.

    Notes
    -----
    Consuming the words block by block lets callers write their final
    result (uint32 words, or uniforms) straight from cache, without
    materialising four full-size uint64 arrays.
    """
    if n == 0:
        return
    keys_scalar = np.ndim(k0) == 0 and np.ndim(k1) == 0
    if keys_scalar:
        sched_all = _key_schedule(np.uint64(k0), np.uint64(k1))
    blk = min(n, _BLOCK)
    bufs = [np.empty(blk, dtype=np.uint64) for _ in range(5)]
    for start in range(0, n, blk):
        stop = min(start + blk, n)
        m = stop - start
        b = [buf[:m] for buf in bufs]
        for src, dst in zip(c, b):
            dst[...] = src[start:stop] if np.ndim(src) else src
        if keys_scalar:
            sched = sched_all
        else:
            ka = np.empty(m, dtype=np.uint64)
            kb = np.empty(m, dtype=np.uint64)
            ka[...] = k0[start:stop] if np.ndim(k0) else k0
            kb[...] = k1[start:stop] if np.ndim(k1) else k1
            sched = _key_schedule(ka, kb)
        sink(slice(start, stop), _philox_rounds(b[0], b[1], b[2], b[3], b[4], sched))


def philox4x32(
    c0: ArrayLike,
    c1: ArrayLike,
    c2: ArrayLike,
    c3: ArrayLike,
    k0: ArrayLike,
    k1: ArrayLike,
) -> tuple[NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32]]:
    """Philox4x32-10 block function, vectorised over broadcast arguments.

    This is the generator of Salmon et al. (2011) as specified by Random123
    (and used by cuRAND's Philox): ten rounds with multipliers
    ``0xD2511F53``, ``0xCD9E8D57`` and key increments (Weyl constants)
    ``0x9E3779B9``, ``0xBB67AE85`` added between rounds.

    Parameters
    ----------
    c0, c1, c2, c3 : array_like of uint32
        Counter words.  Each is converted to ``np.uint32``; they broadcast
        against each other and against the key words.
    k0, k1 : array_like of uint32
        Key words, converted and broadcast likewise.

    Returns
    -------
    x0, x1, x2, x3 : ndarray of uint32
        The four output words, each of the broadcast shape.

    Notes
    -----
    Arrays are processed in cache-sized blocks with all rounds done in place
    on uint64 buffers; the 32x32->64 bit products give mulhi and mullo
    directly.
    """
    args = [np.asarray(a, dtype=np.uint32) for a in (c0, c1, c2, c3, k0, k1)]
    shape = np.broadcast_shapes(*(a.shape for a in args))
    n = int(np.prod(shape, dtype=np.int64))
    # 0-d inputs stay scalars; others become flat views (copies only when
    # broadcasting actually expands them).
    flat = [np.broadcast_to(a, shape).reshape(-1) if a.ndim else a[()] for a in args]
    outs = tuple(np.empty(n, dtype=np.uint32) for _ in range(4))

    def sink(sl: slice, words: tuple[NDArray[np.uint64], ...]) -> None:
        for o, w in zip(outs, words):
            np.copyto(o[sl], w, casting="unsafe")

    _philox_blocks((flat[0], flat[1], flat[2], flat[3]), flat[4], flat[5], n, sink)
    return tuple(o.reshape(shape) for o in outs)  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Uniforms
# --------------------------------------------------------------------------


def _words_to_uniform(hi: NDArray[np.uint64], lo: NDArray[np.uint64], out: NDArray[np.float64]) -> None:
    """Write the lattice uniforms of uint64 buffers holding 32-bit words.

    Both `hi` and `lo` are used as scratch and overwritten.
    """
    # (top 52 bits of hi:lo) * 2 + 1 == (hi:lo >> 11) | 1, an odd integer
    # below 2**53, hence exactly representable as a double; the scaling by
    # a power of two is exact too.
    np.left_shift(hi, _U64_HI_SHIFT, out=hi)
    np.right_shift(lo, _U64_LO_SHIFT, out=lo)
    np.bitwise_or(hi, lo, out=hi)
    np.bitwise_or(hi, _U64_1, out=hi)
    np.multiply(hi, _UNIFORM_SCALE, out=out)


def uniform_from_words(hi: ArrayLike, lo: ArrayLike) -> NDArray[np.float64]:
    """Open-interval uniform from a 64-bit word ``hi << 32 | lo``.

    With ``k`` the top 52 bits of the word, the result is
    ``u = (2 k + 1) * 2**-53``.

    Parameters
    ----------
    hi, lo : array_like of uint32
        High and low 32-bit halves of the word; they broadcast.

    Returns
    -------
    ndarray of float64
        Uniforms in the open interval (0, 1).

    Notes
    -----
    The values form the lattice of odd multiples of ``2**-53``:

    * every value is an exact double (an odd integer below ``2**53`` times a
      power of two), so no rounding can push it to 0 or 1;
    * the extremes are ``2**-53`` and ``1 - 2**-53``, so ``log(u)`` and
      ``log(1 - u)`` are always finite and inversion never yields infinities;
    * the lattice is symmetric about 1/2: complementing all 64 bits maps
      ``k`` to ``2**52 - 1 - k`` and hence ``u`` to exactly ``1 - u``
      (itself exact), so normals obtained by an antisymmetric inverse CDF are
      exactly antisymmetric and the sample has no rounding bias in sign.
    """
    h, lw = np.broadcast_arrays(np.asarray(hi, dtype=np.uint32), np.asarray(lo, dtype=np.uint32))
    h = h.astype(np.uint64)
    lw = lw.astype(np.uint64)
    out = np.empty(h.shape, dtype=np.float64)
    _words_to_uniform(h, lw, out)
    return out


