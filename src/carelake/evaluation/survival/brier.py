"""The Brier score over time: the squared error of the predicted survival at each horizon, weighted for censoring.

At horizon t a person with the event by t contributes S(t|x)^2 / G(T_i), one still followed after t contributes
(1 - S(t|x))^2 / G(t), a person censored before t nothing (Graf et al. 1999). G is the censoring distribution
estimated on the training persons and, as in scikit-survival, evaluated at T_i itself (right-continuous). The
integrated score is the trapezoidal integral over the horizons divided by their span.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.survival.data import Survival, scores
from carelake.evaluation.survival.dynamic_auc import check_horizons
from carelake.evaluation.survival.product_limit import censoring_distribution

__all__ = ["brier_scores", "integrated_brier_score"]

F = npt.NDArray[np.float64]


def brier_scores(train: Survival, test: Survival, survival: npt.ArrayLike, times: npt.ArrayLike) -> tuple[F, F]:
    """(horizons, Brier score at each); `survival[i, k]`: person i's predicted P(event-free at times[k])."""
    horizons = check_horizons(test, times)
    s = scores(survival, len(test), "predicted survival probabilities")
    s = s.reshape(len(test), -1)
    if s.shape[1] != horizons.size:
        raise UserError(f"{s.shape[1]} predicted survival columns for {horizons.size} horizons",
                        hint="give one column per horizon, in increasing order of time")  # fmt: skip
    if (s < 0).any() or (s > 1).any():
        raise UserError("predicted survival probabilities must lie in [0, 1]", hint="pass S(t|x), not risk scores")
    g = censoring_distribution(train)
    g_t = g.at(horizons)
    # G is needed at the event times up to the last horizon only (a later follow-up may lie beyond its support).
    g_y = np.ones(len(test))
    used = test.event & (test.time <= horizons[-1])
    g_y[used] = g.at(test.time[used])
    with np.errstate(divide="ignore"):
        inv_t, inv_y = np.where(g_t > 0, 1.0 / g_t, 0.0), np.where(g_y > 0, 1.0 / g_y, 0.0)
    out = np.empty(horizons.size)
    for k, t in enumerate(horizons):
        case = test.event & (test.time <= t)
        control = test.time > t
        out[k] = np.mean(s[:, k] ** 2 * case * inv_y + (1.0 - s[:, k]) ** 2 * control * inv_t[k])
    return horizons, out


def integrated_brier_score(train: Survival, test: Survival, survival: npt.ArrayLike, times: npt.ArrayLike) -> float:
    horizons, bs = brier_scores(train, test, survival, times)
    if horizons.size < 2:
        raise UserError("the integrated Brier score needs at least two horizons", hint="give a grid of times")
    return float(np.trapezoid(bs, horizons) / (horizons[-1] - horizons[0]))
