"""Bitcoin's deterministic issuance: block subsidy by height and per time step."""

from __future__ import annotations

import numpy as np

from pivotmc.model.scenario import ProtocolSettings
from pivotmc.model.units import DAYS_PER_YEAR

__all__ = ["block_subsidy_btc", "subsidy_between_btc", "step_subsidy_btc", "SATOSHI_PER_BTC"]

SATOSHI_PER_BTC = 100_000_000


def block_subsidy_btc(height: int | float, protocol: ProtocolSettings | None = None) -> float:
    """Subsidy of the block at ``height`` in BTC.

    As Bitcoin Core's ``GetBlockSubsidy``: the initial subsidy in satoshis,
    right-shifted once per completed halving interval (so the truncation of
    late halvings is reproduced), zero after 64 halvings.
    """
    protocol = protocol or ProtocolSettings()
    halvings = int(height) // protocol.halving_interval
    if halvings >= 64:
        return 0.0
    initial_sat = int(round(protocol.initial_subsidy_btc * SATOSHI_PER_BTC))
    return (initial_sat >> halvings) / SATOSHI_PER_BTC


def step_subsidy_btc(protocol: ProtocolSettings, steps_per_year: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Blocks and total subsidy of each time step.

    Step ``k`` covers the (fractional) block heights
    ``[h_k, h_{k+1})`` with ``h_k = start_height + blocks_per_day * 365.25 * k / steps_per_year``.
    Its subsidy is the sum of the subsidy of each of its blocks; a step that
    straddles a halving is pro-rated by the share of its blocks on each side.

    Returns
    -------
    blocks : ndarray, shape (n_steps,)
        Blocks mined in each step.
    subsidy : ndarray, shape (n_steps,)
        Total subsidy of each step in BTC.
    """
    blocks_per_step = protocol.blocks_per_day * DAYS_PER_YEAR / steps_per_year
    blocks = np.full(n_steps, blocks_per_step)
    subsidy = np.empty(n_steps)
    for k in range(n_steps):
        lo = protocol.start_height + blocks_per_step * k
        hi = protocol.start_height + blocks_per_step * (k + 1)
        subsidy[k] = subsidy_between_btc(lo, hi, protocol)
    return blocks, subsidy


def subsidy_between_btc(lo: float, hi: float, protocol: ProtocolSettings) -> float:
    """Total subsidy of the (fractional) block heights ``[lo, hi)`` in BTC.

    Each halving era the range touches (one unless it straddles a halving)
    contributes its share of the blocks at that era's subsidy.
    """
    interval = protocol.halving_interval
    total = 0.0
    edge = lo
    while edge < hi:
        era_end = (np.floor(edge / interval) + 1) * interval
        piece_end = min(hi, era_end)
        total += (piece_end - edge) * block_subsidy_btc(edge, protocol)
        edge = piece_end
    return total
