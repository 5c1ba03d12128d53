"""LOWESS against statsmodels' (the same reference algorithm as R's lowess) to 1e-9, and E-avg/E90/E-max from it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from statsmodels.nonparametric.smoothers_lowess import lowess as statsmodels_lowess

from carelake.evaluation import NotEstimable, calibration_errors
from carelake.evaluation.smoothing import lowess


@pytest.mark.parametrize(("n", "digits"), [(40, None), (700, 2), (6_000, 3), (30_000, None)])
def test_lowess_equals_statsmodels(n: int, digits: int | None) -> None:
    rng = np.random.default_rng(n)
    p = expit(rng.normal(-1.5, 1.0, n))
    if digits:
        p = np.round(p, digits)  # tied risks, as rounded model outputs have
    y = (rng.random(n) < p).astype(float)
    # Fitting at every point (delta 0) costs n local fits; the default step (1% of the range) about a hundred.
    for delta in (0.0, 0.01 * np.ptp(p)) if n <= 6_000 else (0.01 * np.ptp(p),):
        want = statsmodels_lowess(y, p, frac=2 / 3, it=0, delta=delta)
        got = lowess(p, y, delta=delta)
        assert np.array_equal(got[:, 0], want[:, 0])
        assert np.max(np.abs(got[:, 1] - want[:, 1])) < 1e-9


def test_calibration_errors_as_val_prob_computes_them() -> None:
    rng = np.random.default_rng(12)
    lp = rng.normal(-1.0, 1.0, 20_000)
    y = (rng.random(lp.size) < expit(lp)).astype(float)
    for p in (expit(lp), expit(1.6 * lp)):  # calibrated, then too extreme
        curve = statsmodels_lowess(y, p, frac=2 / 3, it=0, delta=0.01 * np.ptp(p))
        gaps = np.abs(p - np.interp(p, curve[:, 0], curve[:, 1]))
        got = calibration_errors(y, p)
        assert got.e_avg == pytest.approx(gaps.mean(), abs=1e-9)
        assert got.e90 == pytest.approx(np.quantile(gaps, 0.9), abs=1e-9)
        assert got.e_max == pytest.approx(gaps.max(), abs=1e-9)
    assert calibration_errors(y, expit(lp)).e_avg < 0.01 < calibration_errors(y, expit(1.6 * lp)).e_avg
    with pytest.raises(NotEstimable, match="same risk"):
        calibration_errors([0, 1, 0], [0.3, 0.3, 0.3])
