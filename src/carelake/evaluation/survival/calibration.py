"""Calibration of predicted risks at a horizon t, where follow-up is censored: are risks of 20% by t borne out?

- `risk_groups`: persons grouped by predicted risk (deciles by default); per group the mean prediction beside the
  Kaplan-Meier risk 1 - S(t) with its 95% interval (Greenwood's variance on the log(-log) scale, lifelines' and R's
  "log-log" interval), so censoring before t is handled as the survival curve handles it.
- `horizon_calibration`: the calibration slope, a Cox regression of follow-up censored at t on the complementary
  log-log of the predicted risk, log(-log(1 - F(t|x))) (1 for a calibrated model: for a Cox model that term is the
  linear predictor plus log H0(t)); and the integrated calibration index of Austin, Harrell and van Klaveren (Stat Med
  2020): the observed risk as a smooth function of the prediction, from a Cox regression on a restricted cubic spline
  of that term (knots at its 10th, 50th and 90th percentiles), and ICI, E50 and E90 the mean, median and 90th
  percentile of |predicted - observed|.
Both Cox regressions use Efron's ties and Breslow's baseline, the fits of evaluation/survival/likelihood.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from carelake.errors import ModelFitError
from carelake.evaluation.survival.data import Survival, scores
from carelake.evaluation.survival.dynamic_auc import check_horizons
from carelake.evaluation.survival.likelihood import RiskSets, breslow_baseline, newton, partial_likelihood

__all__ = [
    "HorizonCalibration",
    "RiskGroup",
    "censor_at",
    "horizon_calibration",
    "kaplan_meier_at",
    "quantile_groups",
    "risk_groups",
]

F = npt.NDArray[np.float64]
_EDGE = 1e-10  # predicted risks are clipped to [_EDGE, 1 - _EDGE] before the log(-log)


@dataclass(frozen=True)
class RiskGroup:
    """One risk group at a horizon: persons, events by t, censored before t, mean predicted and observed risk."""

    group: int
    persons: int
    events: int
    censored: int
    predicted: float
    observed: float
    lower: float
    upper: float


@dataclass(frozen=True)
class HorizonCalibration:
    """Calibration at one horizon: slope (with its standard error), mean predicted and observed (Kaplan-Meier) risk,
    and ICI, E50, E90 of |predicted - observed|."""

    horizon: float
    slope: float
    slope_se: float
    predicted: float
    observed: float
    ici: float
    e50: float
    e90: float
    reason: str = ""  # why a figure above is NaN


def censor_at(s: Survival, horizon: float) -> Survival:
    """Follow-up stopped at the horizon: later events count as censored at t."""
    return Survival(np.minimum(s.time, horizon), s.event & (s.time <= horizon))


def kaplan_meier_at(s: Survival, horizon: float, level: float = 0.95) -> tuple[float, float, float]:
    """S(t) and its log(-log) interval from Greenwood's variance (NaN bounds where S(t) is 0 or 1)."""
    times, d = np.unique(s.time[s.event & (s.time <= horizon)], return_counts=True)
    at_risk = s.time.size - np.searchsorted(np.sort(s.time), times, side="left")
    surv = float(np.prod(1.0 - d / at_risk)) if times.size else 1.0
    if not 0.0 < surv < 1.0:
        return surv, float("nan"), float("nan")
    with np.errstate(divide="ignore"):
        greenwood = float(np.sum(d / (at_risk * (at_risk - d)))) if np.all(at_risk > d) else float("inf")
    z = float(norm.ppf(0.5 + level / 2))
    se = np.sqrt(greenwood) / abs(np.log(surv))
    lo, hi = surv ** np.exp(z * se), surv ** np.exp(-z * se)
    return surv, float(lo), float(hi)


def quantile_groups(risk: F, n_groups: int) -> npt.NDArray[np.int64]:
    """Group 1..k by quantile of risk (persons with equal risk share a group; fewer groups if risks repeat)."""
    edges = np.unique(np.quantile(risk, np.linspace(0, 1, n_groups + 1)[1:-1]))
    return np.asarray(np.searchsorted(edges, risk, side="left") + 1, dtype=np.int64)


def risk_groups(test: Survival, risk: npt.ArrayLike, horizon: float, n_groups: int = 10) -> list[RiskGroup]:
    """Per risk group (quantiles of predicted risk at the horizon): predicted against Kaplan-Meier observed risk."""
    r = scores(risk, len(test), "predicted risks")
    group = quantile_groups(r, n_groups)
    out = []
    for g in np.unique(group):
        inside = group == g
        part = Survival(test.time[inside], test.event[inside])
        surv, lo, hi = kaplan_meier_at(part, horizon)
        events = int((part.event & (part.time <= horizon)).sum())
        censored = int((~part.event & (part.time < horizon)).sum())
        out.append(RiskGroup(int(g), int(inside.sum()), events, censored, float(r[inside].mean()), 1.0 - surv,
                             1.0 - hi, 1.0 - lo))  # fmt: skip
    return out


def _cloglog(risk: F) -> F:
    p = np.clip(risk, _EDGE, 1.0 - _EDGE)
    return np.asarray(np.log(-np.log1p(-p)), dtype=np.float64)


def _spline(z: F) -> F:
    """Restricted cubic spline of z with 3 knots (10th, 50th, 90th percentiles): columns z and one cubic term,
    Harrell's rcs, scaled by (k3 - k1)^2."""
    k1, k2, k3 = np.quantile(z, [0.1, 0.5, 0.9])
    if not k1 < k2 < k3:
        return z[:, None]

    def cube(v: F) -> F:
        return np.asarray(np.maximum(v, 0.0) ** 3, dtype=np.float64)

    term = cube(z - k1) - cube(z - k2) * (k3 - k1) / (k3 - k2) + cube(z - k3) * (k2 - k1) / (k3 - k2)
    return np.column_stack([z, term / (k3 - k1) ** 2])


def horizon_calibration(test: Survival, risk: npt.ArrayLike, horizon: float) -> HorizonCalibration:
    """Calibration slope and ICI at `horizon` of predicted risks F(horizon | x) on the persons in `test`."""
    r = scores(risk, len(test), "predicted risks")
    check_horizons(test, [horizon])  # within follow-up, as every metric at a horizon
    s = censor_at(test, horizon)
    observed = 1.0 - kaplan_meier_at(s, horizon)[0]
    nan = float("nan")
    z = _cloglog(r)
    if not s.event.any():
        why = f"no event by {horizon:g}"
        return HorizonCalibration(horizon, nan, nan, float(r.mean()), observed, nan, nan, nan, why)
    if np.ptp(z) <= 1e-12 * (1.0 + float(np.abs(z).max())):
        why = "every person has the same predicted risk: nothing to regress on"
        return HorizonCalibration(horizon, nan, nan, float(r.mean()), observed, nan, nan, nan, why)
    sets = RiskSets(s.time, s.event, "efron")
    slope = slope_se = ici = e50 = e90 = nan
    reasons = []
    try:
        x1 = z[:, None]
        beta, _ = newton(x1, sets)
        info = partial_likelihood(x1, sets, beta, z.size, 0.0, True)[2]
        assert info is not None
        slope, slope_se = float(beta[0]), float(np.sqrt(1.0 / info[0, 0]))
    except ModelFitError as e:
        reasons.append(f"calibration slope: {e.message}")
    try:
        basis = _spline(z)
        gamma, _ = newton(basis, sets)
        eta = np.asarray(basis @ gamma, dtype=np.float64)
        h0 = breslow_baseline(sets, eta)
        k = np.searchsorted(sets.event_times, horizon, side="right") - 1
        smooth = -np.expm1(-(h0[k] if k >= 0 else 0.0) * np.exp(eta))
        gap = np.abs(r - smooth)
        ici, e50, e90 = float(gap.mean()), float(np.median(gap)), float(np.quantile(gap, 0.9))
    except ModelFitError as e:
        reasons.append(f"ICI (spline hazard regression): {e.message}")
    return HorizonCalibration(horizon, slope, slope_se, float(r.mean()), observed, ici, e50, e90, "; ".join(reasons))
