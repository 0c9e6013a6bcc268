"""The reference executor's cloud economics: a GPU fleet selling compute, in plain numpy, vectorised over paths.

The step function ``cloud_step`` runs beside ``lease_step`` (see :mod:`pivotmc.backends.reference_steps`),
with the same construction; its arithmetic order is the specification the compiled executors follow.
"""

from __future__ import annotations

import numpy as np

from pivotmc import random as rng
from pivotmc.model.plan import TINY_YEARS, Plan
from pivotmc.model.units import HOURS_PER_YEAR

__all__ = ["Cloud", "aging_years", "cloud_step"]


def aging_years(a: np.ndarray, b: np.ndarray, bought: np.ndarray, aging: float) -> np.ndarray:
    """Integral over ``[a, b]`` (0 if ``b <= a``) of ``exp(-aging (t - bought))``: a fleet's aging factor, bought at ``bought``."""
    length = np.maximum(b - a, 0.0)
    if aging == 0.0:
        return length
    return np.exp(-aging * (a - bought)) * (-np.expm1(-aging * length) / aging)


class Cloud:
    """The cloud conversion of a block of paths: construction, the GPU fleet and its compute contracts.

    Construction is the host's (decision, the path's lead time, capex spent
    evenly). The fleet is bought at commissioning (``decision + lead_time``) and
    refreshed every ``plan.cloud_life`` years; ``bought`` is the purchase date
    of the fleet in use (NaN before commissioning) and ``paid`` its price per
    GPU. The contracted GPUs run on one contract at a time, ``(c_start,
    c_end, c_price)``: the first is signed at the decision at G then and runs
    from commissioning; a NaN price means signed at the first fleet market
    price observed at or after its start (see :mod:`pivotmc.model.plan`).
    """

    def __init__(self, plan: Plan, lead_time: np.ndarray) -> None:
        n = lead_time.size
        self.lead_time = lead_time
        self.decision = np.zeros(n)
        self.commission = self.decision + lead_time
        self.bought = np.full(n, np.nan)
        self.paid = np.zeros(n)
        self.spent = np.zeros(n)
        self.c_start = self.commission.copy()
        self.c_end = self.c_start + plan.cloud_contract_term
        self.c_price = np.full(n, plan.gpu_price0)

    def convert(self, plan: Plan, which: np.ndarray, decision: float, gpu_price: np.ndarray) -> None:
        """Decide at time ``decision`` to convert the paths ``which`` to cloud, contracting at ``gpu_price``."""
        self.decision[which] = decision
        self.commission[which] = decision + self.lead_time[which]
        self.bought[which] = np.nan
        self.paid[which] = 0.0
        self.spent[which] = 0.0
        self.c_start[which] = self.commission[which]
        self.c_end[which] = self.c_start[which] + plan.cloud_contract_term
        self.c_price[which] = gpu_price


def cloud_step(
    plan: Plan, cloud: Cloud, k: int, m: dict[str, np.ndarray], u: np.ndarray, capex_per_mw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``cloud`` over step k; return the step's cloud EBITDA and capex per MW of grid capacity (USD).

    In this order: construction capex (as for host); commissioning (the first
    fleet bought at its date's price); a refresh whose date falls in the step
    (the fleet sold at ``cloud_residual`` of its price, the new one bought);
    the contract (signing, term end and renewal at market, then the tenant's
    default over the time contracted, re-sold after ``cloud_release``). GPU
    purchases less resales are capex; EBITDA is revenue less non-power opex
    and the fleet's power (``cloud_power_mw`` per grid MW while it runs, at the
    blend of the PPA and the step's end spot price).
    """
    t0, t1 = plan.t_start[k], plan.t_end[k]
    by_t1 = t1 + plan.boundary_tolerance
    g = m["gpu_price"]
    n_gpu = plan.cloud_gpus_per_mw
    aging = plan.gpu_aging

    # Construction, as for host.
    spent = np.minimum((t1 - cloud.decision) / np.maximum(cloud.lead_time, TINY_YEARS), 1.0)
    capex_share = spent - cloud.spent
    cloud.spent = spent

    # Commissioning: the first fleet is bought at its date's price.
    commissions = np.isnan(cloud.bought) & (cloud.commission <= by_t1)
    cloud.paid = np.where(commissions, plan.cloud_capex_per_gpu * np.exp(plan.cloud_capex_trend * cloud.commission), cloud.paid)
    cloud.bought = np.where(commissions, cloud.commission, cloud.bought)
    gpu_capex = np.where(commissions, n_gpu * cloud.paid, 0.0)
    running = ~np.isnan(cloud.bought)
    a = np.maximum(t0, cloud.commission)
    operating = np.where(running, np.maximum(t1 - a, 0.0), 0.0)

    # A refresh in the step: the old fleet ages until it, the new one from it.
    refresh_at = cloud.bought + plan.cloud_life
    refresh = running & (refresh_at <= by_t1)
    aged = np.where(
        refresh,
        aging_years(a, refresh_at, cloud.bought, aging) + aging_years(refresh_at, t1, refresh_at, aging),
        aging_years(a, t1, cloud.bought, aging),
    )
    aged = np.where(running, aged, 0.0)
    if refresh.any():
        new_paid = plan.cloud_capex_per_gpu * np.exp(plan.cloud_capex_trend * refresh_at)
        gpu_capex = gpu_capex + np.where(refresh, n_gpu * (new_paid - plan.cloud_residual * cloud.paid), 0.0)
        cloud.paid = np.where(refresh, new_paid, cloud.paid)
        cloud.bought = np.where(refresh, refresh_at, cloud.bought)
    fleet_price = np.where(running, g * np.exp(-aging * (t1 - cloud.bought)), g)  # the fleet's market price at t1

    # The contract: signed, run, renewed at market at term end, defaulted.
    term = plan.cloud_contract_term
    cloud.c_price = np.where(np.isnan(cloud.c_price) & (cloud.c_start <= by_t1), fleet_price, cloud.c_price)
    ca = np.maximum(t0, cloud.c_start)
    cb = np.minimum(t1, cloud.c_end)
    active = cb > ca
    price_years = np.where(active, cloud.c_price * (cb - ca), 0.0)
    contracted = np.where(active, cb - ca, 0.0)
    ended = cloud.c_end <= by_t1
    if ended.any():
        cloud.c_start = np.where(ended, cloud.c_end, cloud.c_start)
        cloud.c_end = np.where(ended, cloud.c_start + term, cloud.c_end)
        cloud.c_price = np.where(ended, fleet_price, cloud.c_price)
        begins = ended & (cloud.c_start < t1)
        b2 = np.minimum(t1, cloud.c_end)
        price_years = price_years + np.where(begins, cloud.c_price * (b2 - cloud.c_start), 0.0)
        contracted = contracted + np.where(begins, b2 - cloud.c_start, 0.0)
    default = (contracted > 0.0) & (u[rng.SLOT_CLOUD_DEFAULT] < -np.expm1(-plan.cloud_hazard * contracted))
    if default.any():
        cloud.c_start = np.where(default, t1 + plan.cloud_release, cloud.c_start)
        cloud.c_end = np.where(default, cloud.c_start + term, cloud.c_end)
        cloud.c_price = np.where(default, np.where(cloud.c_start <= by_t1, fleet_price, np.nan), cloud.c_price)

    # The step's economics.
    share = plan.cloud_contracted_share
    revenue = (n_gpu * HOURS_PER_YEAR) * (
        share * plan.cloud_contract_util * price_years + (1.0 - share) * plan.cloud_spot_util * (g * aged)
    )
    blend = plan.mining_ppa_fraction * plan.ppa_price + (1.0 - plan.mining_ppa_fraction) * m["power_price"]
    ebitda = revenue * plan.cloud_margin - (plan.cloud_power_mw * HOURS_PER_YEAR) * operating * blend
    return ebitda, capex_share * capex_per_mw + gpu_capex
