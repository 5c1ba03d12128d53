"""Kaplan-Meier curves as step functions: of the event (survival) and of censoring (for inverse weights).

The censoring distribution G is the product-limit estimate with the roles swapped. At a time with both events and
censorings, the events leave the risk set first (the usual rule, and scikit-survival's), so
G(t) = prod over u <= t of (1 - c(u) / (r(u) - d(u))). Both curves are right-continuous: G(t) counts censoring at t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival.data import Survival

__all__ = ["StepFunction", "censoring_distribution", "kaplan_meier_curve"]

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StepFunction:
    """Value `value[k]` on [time[k], time[k+1]); 1 before the first time; undefined after the last unless 0."""

    time: F
    value: F
    name: str

    def at(self, t: npt.ArrayLike) -> F:
        x = np.asarray(t, dtype=np.float64)
        if self.time.size and self.value[-1] > 0 and (x > self.time[-1]).any():
            raise NotEstimable(
                f"the {self.name} is not known after day {self.time[-1]:g}, the last follow-up it was estimated on "
                f"(asked at {float(x.max()):g})"
            )
        k = np.searchsorted(self.time, x, side="right") - 1
        return np.where(k >= 0, self.value[np.maximum(k, 0)], 1.0)


def _counts(s: Survival) -> tuple[F, F, F, F]:
    """Unique times, persons at risk just before each, events and censorings at each."""
    times, inverse = np.unique(s.time, return_inverse=True)
    events = np.bincount(inverse, weights=s.event.astype(np.float64), minlength=times.size).astype(np.float64)
    total = np.bincount(inverse, minlength=times.size).astype(np.float64)
    at_risk = np.asarray(total[::-1].cumsum()[::-1], dtype=np.float64)
    return np.asarray(times, dtype=np.float64), at_risk, events, total - events


def kaplan_meier_curve(s: Survival) -> StepFunction:
    times, at_risk, events, _ = _counts(s)
    return StepFunction(times, np.cumprod(1.0 - events / at_risk).astype(np.float64), "survival curve")


def censoring_distribution(s: Survival) -> StepFunction:
    """G(t) = P(not censored by t), estimated on `s` (the training persons, for inverse weights on test persons)."""
    times, at_risk, events, censored = _counts(s)
    left = at_risk - events
    factor = 1.0 - np.divide(censored, left, out=np.zeros_like(left), where=left > 0)
    return StepFunction(times, np.cumprod(factor).astype(np.float64), "censoring distribution")
