"""Counter-based random numbers: every number a simulation uses is a pure function of
``(seed, path, step, slot)``.

- :mod:`pivotmc.random.philox`: the Philox4x32-10 block cipher and 53-bit uniforms from its words;
- :mod:`pivotmc.random.normal`: the inverse normal CDF (AS241) every executor uses;
- :mod:`pivotmc.random.layout`: which counter feeds which number (the slot layout, versioned),
  the seed's key, and the helpers that draw a slot for given paths and steps.

The names below are the package's public interface (``pivotmc.random`` is the same package).
"""

from __future__ import annotations

from pivotmc.random.layout import (  # noqa: F401
    LEARNING_PATH0,
    N_STEP_PAIRS,
    N_STEP_SLOTS,
    PER_PATH_STEP,
    RNG_LAYOUT_VERSION,
    SLOT_BTC_JUMP_COUNT,
    SLOT_BTC_JUMP_SIZE,
    SLOT_CAPEX_OVERRUN,
    SLOT_LEAD_TIME,
    SLOT_LEASE_RENEWAL,
    SLOT_POWER_SPIKE_COUNT,
    SLOT_POWER_SPIKE_SIZE0,
    SLOT_POWER_SPIKE_TIME0,
    SLOT_TENANT_DEFAULT,
    SLOT_Z_BTC,
    SLOT_Z_FEES,
    SLOT_Z_HASHRATE,
    SLOT_Z_LEASE,
    SLOT_Z_POWER,
    seed_key,
    step_uniforms,
    uniform_pair,
    uniform_slot,
)
from pivotmc.random.philox import (  # noqa: F401
    PHILOX_M0,
    PHILOX_M1,
    PHILOX_W0,
    PHILOX_ROUNDS,
    PHILOX_W1,
    UNIFORM_BITS,
    philox4x32,
    uniform_from_words,
)
from pivotmc.random.normal import (  # noqa: F401
    AS241_A,
    AS241_B,
    AS241_C,
    AS241_CONST1,
    AS241_CONST2,
    AS241_D,
    AS241_E,
    AS241_F,
    AS241_SPLIT1,
    AS241_SPLIT2,
    ndtri,
)

__all__ = [
    "AS241_A",
    "AS241_B",
    "AS241_C",
    "AS241_CONST1",
    "AS241_CONST2",
    "AS241_D",
    "AS241_E",
    "AS241_F",
    "AS241_SPLIT1",
    "AS241_SPLIT2",
    "LEARNING_PATH0",
    "N_STEP_PAIRS",
    "N_STEP_SLOTS",
    "PER_PATH_STEP",
    "PHILOX_M0",
    "PHILOX_M1",
    "PHILOX_ROUNDS",
    "PHILOX_W0",
    "PHILOX_W1",
    "RNG_LAYOUT_VERSION",
    "SLOT_BTC_JUMP_COUNT",
    "SLOT_BTC_JUMP_SIZE",
    "SLOT_CAPEX_OVERRUN",
    "SLOT_LEAD_TIME",
    "SLOT_LEASE_RENEWAL",
    "SLOT_POWER_SPIKE_COUNT",
    "SLOT_POWER_SPIKE_SIZE0",
    "SLOT_POWER_SPIKE_TIME0",
    "SLOT_TENANT_DEFAULT",
    "SLOT_Z_BTC",
    "SLOT_Z_FEES",
    "SLOT_Z_HASHRATE",
    "SLOT_Z_LEASE",
    "SLOT_Z_POWER",
    "UNIFORM_BITS",
    "ndtri",
    "philox4x32",
    "seed_key",
    "step_uniforms",
    "uniform_from_words",
    "uniform_pair",
    "uniform_slot",
]
