"""The correlation of the fitted shocks, which becomes the scenario's ``correlation.matrix``.

Each model's standardised shocks are correlated pairwise over the intervals
(same start and end dates) two series share; pairwise estimates that do not
form a valid matrix are moved to the nearest one with a unit diagonal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pivotmc.calibration.fit import fmt, warn
from pivotmc.calibration.overrides import OVERRIDE_DIGITS
from pivotmc.model.scenario import FACTORS

__all__ = ["MIN_COMMON_INTERVALS", "correlate", "correlation_overrides", "shock_frame"]

#: Fewest shared intervals for a correlation to be estimated rather than left at 0.
MIN_COMMON_INTERVALS = 10


def shock_frame(starts: np.ndarray, ends: np.ndarray, z: np.ndarray) -> pd.DataFrame:
    """A model's shocks by the interval each belongs to; intervals without one are left out."""
    keep = np.isfinite(z)
    return pd.DataFrame({"start": starts[keep], "end": ends[keep], "z": z[keep]})


def correlate(shocks: dict[str, pd.DataFrame], log: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise correlation over the intervals (same start and end dates) two factors share."""
    names = [f for f in FACTORS if f in shocks]
    corr = np.eye(len(names))
    nobs = np.zeros((len(names), len(names)), dtype=np.int64)
    for i, a in enumerate(names):
        nobs[i, i] = len(shocks[a])
        for j in range(i):
            b = names[j]
            joined = shocks[a].merge(shocks[b], on=["start", "end"], suffixes=("_a", "_b"))
            n = len(joined)
            nobs[i, j] = nobs[j, i] = n
            if n < MIN_COMMON_INTERVALS:
                warn(f"{a} and {b} share {n} intervals; their correlation is left at 0.", log)
                continue
            corr[i, j] = corr[j, i] = float(np.corrcoef(joined["z_a"], joined["z_b"])[0, 1])
    # Pairwise estimates need not form a valid matrix: take the nearest one with a unit diagonal.
    values, vectors = np.linalg.eigh(corr)
    if values[0] < 0.0:
        fixed = vectors @ np.diag(np.maximum(values, 0.0)) @ vectors.T
        d = np.sqrt(np.diag(fixed))
        fixed = fixed / np.outer(d, d)
        warn(
            f"the pairwise correlations do not form a positive semi-definite matrix (smallest eigenvalue {values[0]:.3g}); "
            f"they were moved to the nearest one (largest change {np.abs(fixed - corr).max():.3g}).",
            log,
        )
        corr = fixed
    corr = 0.5 * (corr + corr.T)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names), pd.DataFrame(nobs, index=names, columns=names)


def correlation_overrides(corr: pd.DataFrame, nobs: pd.DataFrame, span: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The whole matrix (0 for every pair with a factor not in the data) and its note for the TOML."""
    full = np.eye(len(FACTORS))
    index = [FACTORS.index(f) for f in corr.index]
    full[np.ix_(index, index)] = corr.to_numpy()
    rounded = np.round(full, OVERRIDE_DIGITS)
    if np.linalg.eigvalsh(rounded)[0] < -1e-10:  # rounding must not make the matrix invalid
        rounded = full
    matrix = tuple(tuple(float(v) for v in row) for row in rounded)
    pairs = []
    names = list(corr.index)
    for i, a in enumerate(names):
        for b in names[:i]:
            r, n = float(corr.loc[a, b]), int(nobs.loc[a, b])
            se = (1.0 - r * r) / math.sqrt(n - 3) if n > 3 else math.nan
            pairs.append(f"{b}-{a} {r:.3f} (s.e. {fmt(se)}, {n} intervals)")
    note = "; ".join(pairs) + f"; factors not in the data left uncorrelated; {span}"
    return {"correlation.matrix": matrix}, {"correlation.matrix": note}

