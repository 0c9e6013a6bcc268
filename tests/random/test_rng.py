"""Tests of the counter-based random numbers (pivotmc.random)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from pivotmc import random as rng
from pivotmc.random import (
    N_STEP_PAIRS,
    PER_PATH_STEP,
    RNG_LAYOUT_VERSION,
    SLOT_CAPEX_OVERRUN,
    SLOT_LEAD_TIME,
    SLOT_POWER_SPIKE_SIZE0,
    SLOT_POWER_SPIKE_TIME0,
    SLOT_Z_BTC,
    SLOT_Z_FEES,
    ndtri,
    philox4x32,
    seed_key,
    step_uniforms,
    uniform_from_words,
    uniform_pair,
    uniform_slot,
)

TWO_M53 = 2.0**-53

# Random123 known-answer vectors for philox4x32-10: counter, key, output.
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]  # fmt: skip


def lattice_from_words(words: np.ndarray) -> np.ndarray:
    """Uniforms of 64-bit words via uniform_from_words."""
    w = np.asarray(words, dtype=np.uint64)
    return uniform_from_words((w >> np.uint64(32)).astype(np.uint32), (w & np.uint64(0xFFFFFFFF)).astype(np.uint32))


# --------------------------------------------------------------------------
# Philox
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_philox_known_answers(ctr, key, expected):
    out = philox4x32(*ctr, *key)
    assert all(o.dtype == np.uint32 for o in out)
    assert tuple(int(o) for o in out) == expected


def test_philox_known_answers_vectorised():
    ctr = np.array([k[0] for k in KAT], dtype=np.uint32).T
    key = np.array([k[1] for k in KAT], dtype=np.uint32).T
    expected = np.array([k[2] for k in KAT], dtype=np.uint32).T
    out = philox4x32(*ctr, *key)
    for o, e in zip(out, expected):
        np.testing.assert_array_equal(o, e)


def test_philox_broadcasting_matches_elementwise():
    c0 = np.arange(6, dtype=np.uint32).reshape(2, 3)
    c3 = np.array([7, 8, 9], dtype=np.uint32)
    out = philox4x32(c0, 0xFFFFFFFF, 5, c3, 11, 12)
    assert all(o.shape == (2, 3) for o in out)
    for i in range(2):
        for j in range(3):
            single = philox4x32(int(c0[i, j]), 0xFFFFFFFF, 5, int(c3[j]), 11, 12)
            assert tuple(int(o[i, j]) for o in out) == tuple(int(s) for s in single)


def test_philox_array_keys_match_scalar_keys():
    c = np.arange(50, dtype=np.uint32)
    k0 = np.array([3, 0xFFFFFFFF], dtype=np.uint32)[:, None]
    out = philox4x32(c, 1, 2, 3, k0, 0x12345678)
    for row, k in enumerate((3, 0xFFFFFFFF)):
        ref = philox4x32(c, 1, 2, 3, k, 0x12345678)
        for o, r in zip(out, ref):
            np.testing.assert_array_equal(o[row], r)


def test_philox_independent_of_block_size(monkeypatch):
    c = np.arange(1000, dtype=np.uint32)
    ref = philox4x32(c, 3, 4, 5, 6, 7)
    monkeypatch.setattr(rng.philox, "_BLOCK", 7)
    got = philox4x32(c, 3, 4, 5, 6, 7)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r, g)


def test_philox_empty():
    out = philox4x32(np.array([], dtype=np.uint32), 0, 0, 0, 0, 0)
    assert all(o.shape == (0,) for o in out)


# --------------------------------------------------------------------------
# Uniforms
# --------------------------------------------------------------------------


def test_uniform_extremes_are_exact():
    assert uniform_from_words(0, 0)[()] == TWO_M53
    assert uniform_from_words(0xFFFFFFFF, 0xFFFFFFFF)[()] == 1.0 - TWO_M53
    # the low 12 bits are below the resolution and must not matter
    assert uniform_from_words(0, 0xFFF)[()] == TWO_M53
    assert uniform_from_words(0, 0x1000)[()] == 3 * TWO_M53


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_uniform_formula_bounds_and_complement(words):
    w = np.array(words, dtype=np.uint64)
    u = lattice_from_words(w)
    expected = [(2 * (x >> 12) + 1) * TWO_M53 for x in words]
    np.testing.assert_array_equal(u, expected)
    assert np.all((u > 0.0) & (u < 1.0))
    # odd multiple of 2**-53, exactly
    k = u * 2.0**53
    assert np.all(k == np.floor(k)) and np.all(k % 2 == 1)
    # complementing all 64 bits gives exactly 1 - u
    np.testing.assert_array_equal(lattice_from_words(~w), 1.0 - u)
    assert np.all(u + lattice_from_words(~w) == 1.0)


# --------------------------------------------------------------------------
# ndtri
# --------------------------------------------------------------------------


def ndtri_grid() -> np.ndarray:
    """Dense probabilities covering all three AS241 regions and both tails."""
    rs = np.random.default_rng(20240601)
    tiny = np.ldexp(1.0, -np.arange(1, 54))  # 2**-1 .. 2**-53
    mant = 1.0 + np.arange(1, 64) / 64.0
    tails = np.ldexp(mant[None, :], -np.arange(2, 55)[:, None]).ravel()
    words = rs.integers(0, 2**64, size=200_000, dtype=np.uint64, endpoint=False)
    u = np.concatenate(
        [
            tiny,
            tails[tails < 0.5],
            np.linspace(1e-9, 1 - 1e-9, 100_001),
            0.5 + np.linspace(-1e-3, 1e-3, 2001),
            np.array([0.075, 0.0749999, 0.0750001, np.exp(-25.0), np.exp(-25.0) * 1.0001]),
            lattice_from_words(words),
        ]
    )
    return np.concatenate([u, 1.0 - u])


def test_ndtri_matches_scipy():
    u = ndtri_grid()
    z = ndtri(u)
    ref = scipy.special.ndtri(u)
    assert np.all(np.isfinite(z))
    big = np.abs(ref) > 1e-3
    rel = np.abs(z[big] - ref[big]) / np.abs(ref[big])
    assert rel.max() <= 1e-14, rel.max()
    assert np.abs(z[~big] - ref[~big]).max() <= 1e-16


def test_ndtri_extreme_lattice_values():
    z_min = ndtri(TWO_M53)[()]
    assert z_min == pytest.approx(scipy.special.ndtri(TWO_M53), rel=1e-14)
    assert -8.3 < z_min < -8.2
    assert ndtri(1.0 - TWO_M53)[()] == -z_min


def test_ndtri_antisymmetric_bitwise():
    rs = np.random.default_rng(7)
    words = rs.integers(0, 2**64, size=100_000, dtype=np.uint64, endpoint=False)
    words = np.concatenate([words, np.array([0, 1 << 12, 2**64 - 1], dtype=np.uint64)])
    u = lattice_from_words(words)
    z = ndtri(u)
    z_c = ndtri(lattice_from_words(~words))
    np.testing.assert_array_equal(z_c.view(np.uint64), (-z).view(np.uint64))
    np.testing.assert_array_equal(ndtri(1.0 - u).view(np.uint64), (-z).view(np.uint64))


def test_ndtri_special_values_and_shape():
    z = ndtri(np.array([[0.0, 1.0], [-0.1, np.nan]]))
    assert z.shape == (2, 2)
    assert z[0, 0] == -np.inf and z[0, 1] == np.inf
    assert np.isnan(z[1, 0]) and np.isnan(z[1, 1])
    assert ndtri(0.5)[()] == 0.0
    assert ndtri(np.array([])).shape == (0,)


def test_ndtri_monotone():
    # Steps far above the ulp-level rounding noise, and across each region
    # boundary (|q| = 0.425 and r = 5), where the rational forms switch.
    tail = np.ldexp(1.0, -np.arange(53, 3, -1))  # 2**-53 .. 2**-4, ascending
    u = np.concatenate([tail, np.linspace(0.07, 0.93, 8601), 1.0 - tail[::-1]])
    z = ndtri(u)
    assert np.all(np.diff(z) > 0.0)


# --------------------------------------------------------------------------
# seed_key
# --------------------------------------------------------------------------


def test_seed_key_split():
    assert seed_key(0) == (0, 0)
    assert seed_key(0x299F31D0A4093822) == (0xA4093822, 0x299F31D0)
    assert seed_key(2**64 - 1) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert seed_key(np.uint64(2**64 - 1)) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert seed_key(np.int32(5)) == (5, 0)
    assert all(type(k) is int for k in seed_key(np.int64(2**40)))


@pytest.mark.parametrize(
    ("seed", "exc"),
    [
        (-1, ValueError),
        (2**64, ValueError),
        (np.int64(-3), ValueError),
        (1.0, TypeError),
        (np.float64(2.0), TypeError),
        (True, TypeError),
        (np.bool_(False), TypeError),
        ("42", TypeError),
        (None, TypeError),
    ],
)
def test_seed_key_rejects(seed, exc):
    with pytest.raises(exc, match="seed"):
        seed_key(seed)


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------


def test_layout_constants():
    assert RNG_LAYOUT_VERSION == 3
    assert PER_PATH_STEP == 0xFFFFFFFF
    assert N_STEP_PAIRS == 6
    step_slots = [
        rng.SLOT_Z_BTC, rng.SLOT_Z_FEES, rng.SLOT_Z_HASHRATE, rng.SLOT_Z_POWER, rng.SLOT_Z_LEASE,
        rng.SLOT_BTC_JUMP_COUNT, rng.SLOT_BTC_JUMP_SIZE, rng.SLOT_POWER_SPIKE_COUNT,
        rng.SLOT_TENANT_DEFAULT, rng.SLOT_LEASE_RENEWAL, rng.SLOT_Z_GPU, rng.SLOT_CLOUD_DEFAULT,
    ]  # fmt: skip
    assert step_slots == list(range(2 * N_STEP_PAIRS))
    # Spike i: size in slot 16 + 2i, arrival time in 17 + 2i, the two halves of pair 8 + i.
    assert (SLOT_POWER_SPIKE_SIZE0, SLOT_POWER_SPIKE_TIME0) == (16, 17)
    assert (SLOT_LEAD_TIME, SLOT_CAPEX_OVERRUN) == (0, 1)


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_counter_and_word_mapping(ctr, key, expected):
    # path = c1:c0, step = c2, pair = c3, seed = k1:k0; slot 2*pair takes
    # (x0 hi, x1 lo) and slot 2*pair+1 takes (x2 hi, x3 lo).
    path = np.array([ctr[1] << 32 | ctr[0]], dtype=np.uint64)
    seed = key[1] << 32 | key[0]
    u_even, u_odd = uniform_pair(seed_key(seed), path, ctr[2], ctr[3])
    assert u_even[0] == uniform_from_words(expected[0], expected[1])[()]
    assert u_odd[0] == uniform_from_words(expected[2], expected[3])[()]
    assert uniform_slot(seed_key(seed), path, ctr[2], 2 * ctr[3] + 1)[0] == u_odd[0]


def test_step_uniforms_rows_are_slots():
    key = seed_key(123456789)
    path = np.arange(2**32 - 5, 2**32 + 5, dtype=np.uint64)  # crosses the c1 word
    u = step_uniforms(key, path, 17)
    assert u.shape == (12, path.size) and u.dtype == np.float64
    for slot in range(12):
        np.testing.assert_array_equal(u[slot], uniform_slot(key, path, 17, slot))


def test_scalar_and_shaped_paths():
    key = seed_key(9)
    grid = np.arange(12, dtype=np.uint64).reshape(3, 4)
    u = step_uniforms(key, grid, 2)
    assert u.shape == (12, 3, 4)
    assert u[:, 1, 2].tolist() == step_uniforms(key, 6, 2).tolist()
    assert uniform_slot(key, 6, 2, 3).shape == ()
    # Python ints and signed arrays index the same paths as uint64 arrays
    np.testing.assert_array_equal(step_uniforms(key, [0, 5], 1), step_uniforms(key, np.array([0, 5], np.uint64), 1))


def test_argument_validation():
    key = seed_key(1)
    with pytest.raises(ValueError, match="step"):
        step_uniforms(key, [0], PER_PATH_STEP)
    with pytest.raises(ValueError, match="step"):
        uniform_pair(key, [0], -1, 0)
    with pytest.raises(ValueError, match="path"):
        step_uniforms(key, np.array([-1]), 0)
    with pytest.raises(TypeError, match="path"):
        step_uniforms(key, np.array([0.5]), 0)
    with pytest.raises(TypeError, match="slot"):
        uniform_slot(key, [0], 0, 1.0)
    with pytest.raises(TypeError, match="key"):
        uniform_pair(5, [0], 0, 0)
    with pytest.raises(ValueError, match="key"):
        uniform_pair((0, 2**32), [0], 0, 0)


# --------------------------------------------------------------------------
# Purity: a value depends on (seed, path, step, slot) only
# --------------------------------------------------------------------------


def test_purity_pieces_permutation_and_blocks(monkeypatch):
    key = seed_key(2024)
    n = 3 * rng.philox._BLOCK + 17  # several blocks, ragged end
    path = np.arange(n, dtype=np.uint64) + np.uint64(10**12)
    whole = step_uniforms(key, path, 5)

    perm = np.random.default_rng(0).permutation(n)
    np.testing.assert_array_equal(step_uniforms(key, path[perm], 5), whole[:, perm])

    pieces = np.concatenate([step_uniforms(key, p, 5) for p in np.array_split(path, 7)], axis=1)
    np.testing.assert_array_equal(pieces, whole)

    monkeypatch.setattr(rng.philox, "_BLOCK", 1000)
    np.testing.assert_array_equal(step_uniforms(key, path, 5), whole)

    for i in (0, 1, n // 2, n - 1):
        alone = step_uniforms(key, int(path[i]), 5)
        np.testing.assert_array_equal(alone, whole[:, i])


@given(
    seed=st.integers(0, 2**64 - 1),
    paths=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=20, unique=True),
    step=st.integers(0, PER_PATH_STEP),
    slot=st.integers(0, 40),
)
@settings(max_examples=60, deadline=None)
def test_purity_property(seed, paths, step, slot):
    key = seed_key(seed)
    p = np.array(paths, dtype=np.uint64)
    together = uniform_slot(key, p, step, slot)
    reversed_ = uniform_slot(key, p[::-1], step, slot)[::-1]
    np.testing.assert_array_equal(together, reversed_)
    assert uniform_slot(key, int(p[-1]), step, slot)[()] == together[-1]


def test_streams_differ():
    n = 10_000
    path = np.arange(n, dtype=np.uint64)
    key = seed_key(77)
    base = uniform_slot(key, path, 3, 0)
    others = {
        "slot": uniform_slot(key, path, 3, 1),
        "pair": uniform_slot(key, path, 3, 2),
        "spike": uniform_slot(key, path, 3, SLOT_POWER_SPIKE_SIZE0),
        "spike-time": uniform_slot(key, path, 3, SLOT_POWER_SPIKE_TIME0),
        "step": uniform_slot(key, path, 4, 0),
        "per-path": uniform_slot(key, path, PER_PATH_STEP, 0),
        "path": uniform_slot(key, path + np.uint64(1), 3, 0),
        "path-high": uniform_slot(key, path + np.uint64(2**32), 3, 0),
        "seed": uniform_slot(seed_key(78), path, 3, 0),
        "seed-high": uniform_slot(seed_key(77 + 2**32), path, 3, 0),
    }
    for name, other in others.items():
        # equal 53-bit values by chance have probability ~n * 2**-52
        assert not np.any(other == base), name
    assert np.unique(base).size == n


# --------------------------------------------------------------------------
# Statistics (fixed seed, so each test is deterministic)
# --------------------------------------------------------------------------

N_STAT = 1_000_000


@pytest.fixture(scope="module")
def uniforms_1e6():
    """1e6 uniforms: the ten step slots of 1e5 paths at one step."""
    return step_uniforms(seed_key(31337), np.arange(N_STAT // 10, dtype=np.uint64), 11)


def test_uniform_mean_and_variance(uniforms_1e6):
    u = uniforms_1e6.ravel()
    n = u.size
    # tolerance: 4 standard errors; Var(U) = 1/12, fourth central moment 1/80
    assert abs(u.mean() - 0.5) <= 4.0 * np.sqrt(1.0 / 12.0 / n)
    se_var = np.sqrt((1.0 / 80.0 - (1.0 / 12.0) ** 2) / n)
    assert abs(u.var() - 1.0 / 12.0) <= 4.0 * se_var
    assert u.min() > 0.0 and u.max() < 1.0


def test_uniform_slots_each_unbiased(uniforms_1e6):
    m = uniforms_1e6.shape[1]
    # tolerance: 4 standard errors of the mean of m uniforms, per slot
    assert np.all(np.abs(uniforms_1e6.mean(axis=1) - 0.5) <= 4.0 * np.sqrt(1.0 / 12.0 / m))


def test_normal_mean_and_variance(uniforms_1e6):
    z = ndtri(uniforms_1e6.ravel())
    n = z.size
    # tolerance: 4 standard errors; SE(mean) = 1/sqrt(n), SE(var) = sqrt(2/n)
    assert abs(z.mean()) <= 4.0 / np.sqrt(n)
    assert abs(z.var() - 1.0) <= 4.0 * np.sqrt(2.0 / n)


def test_chi_square_uniformity(uniforms_1e6):
    u = uniforms_1e6.ravel()
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    assert counts.size == 100
    stat = scipy.stats.chisquare(counts).statistic
    # significance 1e-4 (99 degrees of freedom): reject only if p < 1e-4
    assert stat <= scipy.stats.chi2.isf(1e-4, df=99)


def test_slot_and_step_correlation():
    n = N_STAT
    key = seed_key(4242)
    path = np.arange(n, dtype=np.uint64)
    z_btc, z_fees = (ndtri(u) for u in uniform_pair(key, path, 0, 0))
    assert SLOT_Z_BTC == 0 and SLOT_Z_FEES == 1
    z_next = ndtri(uniform_slot(key, path, 1, SLOT_Z_BTC))
    # tolerance: 4 standard errors of a sample correlation, 1/sqrt(n)
    for other in (z_fees, z_next):
        assert abs(np.corrcoef(z_btc, other)[0, 1]) <= 4.0 / np.sqrt(n)
