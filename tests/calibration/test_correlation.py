"""The correlation of the fitted shocks and the matrix it puts into the scenario."""

from __future__ import annotations

import math

import numpy as np

import pivotmc

from histories import CORRELATION, Z_TOL, fit_history


def test_shock_correlations_are_recovered(daily):
    _, _, result, _ = daily
    assert list(result.correlation.index) == list(pivotmc.FACTORS)
    for i, a in enumerate(pivotmc.FACTORS):
        for j, b in enumerate(pivotmc.FACTORS[:i]):
            r, n = result.correlation.loc[a, b], result.correlation_nobs.loc[a, b]
            true = CORRELATION[i][j]
            assert n == 3649
            assert abs(r - true) <= Z_TOL * (1 - true**2) / math.sqrt(n - 3), (a, b, r, true)


def test_correlation_override_is_identity_for_missing_factors(daily):
    scenario, frame, _, _ = daily
    result, _ = fit_history(frame[["date", "power_price", "lease_rate"]], scenario)
    matrix = np.array(result.overrides["correlation.matrix"])
    assert list(result.correlation.index) == ["power", "lease"]
    expected = np.eye(6)  # every factor, gpu included: the pairs of a factor not in the data are 0
    expected[3, 4] = expected[4, 3] = round(result.correlation.loc["power", "lease"], 4)
    np.testing.assert_array_equal(matrix, expected)
