"""Unit conversions of the model, in one place for every executor (the CUDA kernels get them as ``-D`` options)."""

from __future__ import annotations

__all__ = ["DAYS_PER_YEAR", "HOURS_PER_DAY", "HOURS_PER_YEAR", "MONTHS_PER_YEAR", "PH_PER_EH"]

#: Julian year: the day count behind every per-year to per-day conversion.
DAYS_PER_YEAR = 365.25
HOURS_PER_DAY = 24.0
HOURS_PER_YEAR = DAYS_PER_YEAR * HOURS_PER_DAY
#: Lease rates are quoted per kW-month, lead times and downtimes in months.
MONTHS_PER_YEAR = 12.0
#: Hashrate is simulated in EH/s, hashprice quoted per PH/s.
PH_PER_EH = 1000.0
