"""Cumulative/dynamic AUC: at horizon t, do persons with the event by t (cases) outrank those still event-free
after t (controls)?

Cases weigh 1 / G(T_i) (G: the censoring distribution, estimated on the training persons), controls 1; ties in risk
count half. The mean over the horizons weighs each by the drop in the test persons' Kaplan-Meier survival there,
divided by the whole drop (scikit-survival's definition; Uno et al. 2007, Hung and Chiang 2010). A risk may be one
score per person or one per person and horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival.data import Survival, scores
from carelake.evaluation.survival.product_limit import censoring_distribution, kaplan_meier_curve

__all__ = ["DynamicAuc", "check_horizons", "cumulative_dynamic_auc"]

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DynamicAuc:
    times: F
    auc: F
    mean: float


def check_horizons(test: Survival, times: npt.ArrayLike) -> F:
    """Horizons sorted, each within the test persons' follow-up [first time, last time)."""
    t = np.sort(np.asarray(times, dtype=np.float64).ravel())
    if t.size == 0:
        raise UserError("no horizons", hint="give at least one time at which to evaluate")
    lo, hi = float(test.time.min()), float(test.time.max())
    outside = t[(t < lo) | (t >= hi)]
    if outside.size:
        raise UserError(
            f"horizon {outside[0]:g} lies outside the test persons' follow-up ({lo:g} to before {hi:g})",
            hint="evaluate at times the test persons were followed",
        )
    return t


def _weighted_auc(case_risk: F, case_weight: F, control_risk: F) -> float:
    ordered = np.sort(control_risk)
    below = np.searchsorted(ordered, case_risk, side="left")
    ties = np.searchsorted(ordered, case_risk, side="right") - below
    return float(np.sum(case_weight * (below + 0.5 * ties)) / (case_weight.sum() * ordered.size))


def cumulative_dynamic_auc(train: Survival, test: Survival, risk: npt.ArrayLike, times: npt.ArrayLike) -> DynamicAuc:
    horizons = check_horizons(test, times)
    r = scores(risk, len(test))
    if r.ndim == 1:
        r = np.broadcast_to(r[:, None], (len(test), horizons.size))
    elif r.shape != (len(test), horizons.size):
        raise UserError(f"risks of shape {r.shape}", hint=f"give ({len(test)},) or ({len(test)}, {horizons.size})")
    g = censoring_distribution(train)
    weight = np.zeros(len(test))
    with np.errstate(divide="ignore"):  # G reaches 0 only after the last censoring: checked below, where used
        weight[test.event] = 1.0 / g.at(test.time[test.event])
    auc = np.empty(horizons.size)
    for k, t in enumerate(horizons):
        case = test.event & (test.time <= t)
        control = test.time > t
        if not case.any():
            raise NotEstimable(f"AUC at {t:g} is not estimable: no event by then")
        if not np.isfinite(weight[case]).all():
            raise NotEstimable(f"AUC at {t:g} is not estimable: the censoring distribution reaches 0 before an "
                               "event by then", hint="choose a horizon before the last censoring")  # fmt: skip
        auc[k] = _weighted_auc(r[case, k], weight[case], r[control, k])
    if horizons.size == 1:
        return DynamicAuc(horizons, auc, float(auc[0]))
    s = kaplan_meier_curve(test).at(horizons)
    drop = -np.diff(np.r_[1.0, s])
    return DynamicAuc(horizons, auc, float(np.sum(auc * drop) / (1.0 - s[-1])))
