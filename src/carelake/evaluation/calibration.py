"""Calibration: do the predicted risks match what happens? Brier scores, and logistic recalibration.

Recalibration fits logit P(y = 1) = a + b * logit(p) by maximum likelihood (Newton's method, a two-parameter
logistic regression): `b` is the calibration slope (below 1: risks too extreme, the usual sign of overfitting) and
`a` the calibration intercept. Calibration-in-the-large fixes the slope at 1 (logit(p) as an offset) and fits `a`
alone: above 0 the model underestimates risk on average. Risks of exactly 0 or 1 are clipped to 1e-12 from the
edge before taking logits, as they have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

from carelake.evaluation.checks import NotEstimable, Outcomes, checked, require_both_classes
from carelake.evaluation.smoothing import lowess

__all__ = [
    "CalibrationErrors",
    "Recalibration",
    "brier",
    "calibration_errors",
    "calibration_in_the_large",
    "recalibration",
    "scaled_brier",
]

_EDGE = 1e-12
_MAX_STEPS = 100
_TOLERANCE = 1e-12


def brier(y: Outcomes, p: Outcomes) -> float:
    """Mean squared difference between risk and outcome (0 is perfect; 0.25 is a coin at 50%)."""
    ys, ps = checked(y, p)
    return float(np.mean((ps - ys) ** 2))


def scaled_brier(y: Outcomes, p: Outcomes) -> float:
    """1 - Brier / Brier of predicting the prevalence for everyone: the share of the outcome's variance explained."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "scaled Brier")
    prevalence = ys.mean()
    return float(1.0 - np.mean((ps - ys) ** 2) / (prevalence * (1.0 - prevalence)))


@dataclass(frozen=True)
class Recalibration:
    """logit P(y = 1) = intercept + slope * logit(p), fitted on the evaluation persons."""

    intercept: float
    slope: float


def recalibration(y: Outcomes, p: Outcomes) -> Recalibration:
    """Calibration intercept and slope (logistic recalibration)."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "the calibration slope")
    lp = _logits(ps)
    if np.ptp(lp) == 0:
        raise NotEstimable("the calibration slope is not estimable: every person has the same risk")
    design = np.column_stack([np.ones_like(lp), lp])
    a, b = _fit_logistic(design, ys, np.zeros_like(lp), "the calibration slope")
    return Recalibration(intercept=float(a), slope=float(b))


def calibration_in_the_large(y: Outcomes, p: Outcomes) -> float:
    """The intercept with the slope fixed at 1: 0 when the mean risk, on the logit scale, matches the outcomes."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "calibration-in-the-large")
    lp = _logits(ps)
    (a,) = _fit_logistic(np.ones((lp.size, 1)), ys, lp, "calibration-in-the-large")
    return float(a)


@dataclass(frozen=True)
class CalibrationErrors:
    """How far the risks lie from the smoothed calibration curve: mean (E-avg, the ICI), 90th centile, maximum."""

    e_avg: float
    e90: float
    e_max: float


def calibration_errors(y: Outcomes, p: Outcomes) -> CalibrationErrors:
    """E-avg, E90 and E-max as rms's val.prob reports them (Austin and Steyerberg, 2019): the observed risk at each
    predicted risk from a LOWESS smooth of the outcomes (span 2/3, no robustness steps), and each person's distance
    from it."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "the calibration curve")
    if np.ptp(ps) == 0:
        raise NotEstimable("the calibration curve is not estimable: every person has the same risk")
    curve = lowess(ps, ys)
    gaps = np.abs(ps - np.interp(ps, curve[:, 0], curve[:, 1]))
    return CalibrationErrors(float(gaps.mean()), float(np.quantile(gaps, 0.9)), float(gaps.max()))


def _logits(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(logit(np.clip(p, _EDGE, 1.0 - _EDGE)), dtype=np.float64)


def _fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], offset: npt.NDArray[np.float64], what: str
) -> npt.NDArray[np.float64]:
    """Maximum-likelihood logistic regression by Newton's method (few parameters: a direct solve each step)."""
    beta = np.zeros(x.shape[1])
    for _ in range(_MAX_STEPS):
        mu = expit(x @ beta + offset)
        weights = mu * (1.0 - mu)
        hessian = x.T @ (x * weights[:, None])
        try:
            step = np.linalg.solve(hessian, x.T @ (y - mu))
        except np.linalg.LinAlgError as e:  # the weights vanished on the way to an infinite slope
            raise NotEstimable(f"{what} is not estimable: the risks separate the outcomes (no finite fit)") from e
        beta = beta + step
        if np.max(np.abs(step)) < _TOLERANCE * max(1.0, float(np.max(np.abs(beta)))):
            return beta
    raise NotEstimable(f"{what} is not estimable: the risks separate the outcomes (no finite fit)")
