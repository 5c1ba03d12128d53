"""Calibration at a horizon: the slope and the Kaplan-Meier risk by group against lifelines to 1e-6; ICI, slope and
observed risk behave as they must on risks whose truth is known (exact, too high, too spread)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carelake.evaluation.survival import survival_data
from carelake.evaluation.survival.calibration import (
    censor_at,
    horizon_calibration,
    kaplan_meier_at,
    risk_groups,
)
from carelake.evaluation.survival.likelihood import held_out_log_likelihood
from carelake.models.cox import CoxPH, survival_target

lifelines = pytest.importorskip("lifelines", reason="lifelines (test dependency) is not installed")

SUPPORT = Path(__file__).parents[1] / "data" / "support"
TOL = 1e-6


def _weibull(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weibull event times with a known linear predictor, uniform censoring; returns time, event, lp and the scale."""
    rng = np.random.default_rng(seed)
    lp = rng.normal(0, 0.8, n)
    scale, shape = 1000.0, 1.3
    event_time = scale * (rng.exponential(size=n) * np.exp(-lp)) ** (1 / shape)
    censor = rng.uniform(200, 3000, n)
    return np.minimum(event_time, censor), event_time <= censor, lp, scale


def _true_risk(lp: np.ndarray, t: float, scale: float = 1000.0, shape: float = 1.3) -> np.ndarray:
    return np.asarray(-np.expm1(-((t / scale) ** shape) * np.exp(lp)))


def test_slope_equals_lifelines_cox_on_the_cloglog() -> None:
    table = np.genfromtxt(SUPPORT / "support_test.csv.gz", delimiter=",", names=True)
    t, e = table["t"], table["e"].astype(bool)
    x = np.column_stack([table[f"x{i}"] for i in range(14)])
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    beta = np.linalg.lstsq(np.column_stack([np.ones(t.size), x]), np.log(t), rcond=None)[0]
    risk = 1 / (1 + np.exp(-(-0.5 - 0.8 * (x @ beta[1:]) / np.std(x @ beta[1:]))))
    horizon = 365.0
    got = horizon_calibration(survival_data(t, e), risk, horizon)
    cut = censor_at(survival_data(t, e), horizon)
    frame = pd.DataFrame({"z": np.log(-np.log1p(-risk)), "t": cut.time, "e": cut.event.astype(int)})
    ref = lifelines.CoxPHFitter().fit(frame, "t", "e", fit_options={"precision": 1e-12})
    assert got.slope == pytest.approx(float(ref.params_["z"]), abs=TOL)
    assert got.slope_se == pytest.approx(float(ref.standard_errors_["z"]), abs=TOL)
    km = lifelines.KaplanMeierFitter().fit(t, e)
    assert got.observed == pytest.approx(1 - float(km.survival_function_at_times(horizon).iloc[0]), abs=TOL)


def test_risk_groups_are_lifelines_kaplan_meier_per_group() -> None:
    time, event, lp, _ = _weibull(4000, 1)
    risk = _true_risk(lp, 730.0)
    groups = risk_groups(survival_data(time, event), risk, 730.0, n_groups=5)
    assert [g.group for g in groups] == [1, 2, 3, 4, 5] and sum(g.persons for g in groups) == 4000
    edges = np.quantile(risk, [0.2, 0.4, 0.6, 0.8])
    label = np.searchsorted(edges, risk, side="left") + 1
    for g in groups:
        inside = label == g.group
        km = lifelines.KaplanMeierFitter().fit(time[inside], event[inside])
        at = float(km.survival_function_at_times(730.0).iloc[0])
        ci = km.confidence_interval_survival_function_
        row = ci[ci.index <= 730.0].iloc[-1]
        assert g.observed == pytest.approx(1 - at, abs=TOL)
        assert (g.lower, g.upper) == pytest.approx((1 - row.iloc[1], 1 - row.iloc[0]), abs=TOL)
        assert g.predicted == pytest.approx(float(risk[inside].mean()), abs=1e-12)
        assert g.events == int((event[inside] & (time[inside] <= 730)).sum())


def test_true_risks_are_calibrated_and_distorted_ones_are_not() -> None:
    time, event, lp, _ = _weibull(20000, 2)
    s = survival_data(time, event)
    exact = horizon_calibration(s, _true_risk(lp, 730.0), 730.0)
    assert exact.slope == pytest.approx(1.0, abs=0.05)
    assert exact.ici < 0.01 and exact.e50 <= exact.e90
    assert exact.observed == pytest.approx(exact.predicted, abs=0.01)
    too_high = horizon_calibration(s, np.minimum(2 * _true_risk(lp, 730.0), 0.999), 730.0)
    assert too_high.ici > 5 * exact.ici and too_high.predicted > too_high.observed + 0.1
    too_spread = horizon_calibration(s, _true_risk(1.6 * lp, 730.0), 730.0)
    assert too_spread.slope == pytest.approx(1 / 1.6, abs=0.06)
    assert too_spread.ici > 2 * exact.ici


def test_kaplan_meier_at_without_events_has_no_interval() -> None:
    s = survival_data([5.0, 9.0, 12.0], [0, 0, 1])
    surv, lo, hi = kaplan_meier_at(s, 10.0)
    assert surv == 1.0 and np.isnan(lo) and np.isnan(hi)
    calm = horizon_calibration(s, [0.1, 0.2, 0.3], 10.0)
    assert np.isnan(calm.slope) and calm.observed == 0.0
    same = horizon_calibration(survival_data([5.0, 9.0, 12.0], [1, 0, 1]), [0.2, 0.2, 0.2], 10.0)
    assert np.isnan(same.slope) and np.isnan(same.ici) and same.predicted == pytest.approx(0.2)


def test_held_out_likelihood_at_the_fit_is_the_models_likelihood_per_event() -> None:
    time, event, lp, _ = _weibull(2000, 4)
    x = np.column_stack([lp + np.random.default_rng(5).normal(0, 0.3, lp.size), np.ones(lp.size)])
    model = CoxPH().fit(x, survival_target(time, event))
    got = held_out_log_likelihood(time, event, model.predict(x))
    assert got == pytest.approx(model.log_likelihood_ / event.sum(), rel=1e-12)
