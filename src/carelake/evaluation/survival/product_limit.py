"""Product-limit estimates as step functions: Kaplan-Meier of the event (survival) and of censoring (for inverse
weights), and Aalen-Johansen cumulative incidence of one cause among competing ones.

The censoring distribution G is the product-limit estimate with the roles swapped. At a time with both events and
censorings, the events leave the risk set first (the usual rule, and scikit-survival's), so
G(t) = prod over u <= t of (1 - c(u) / (r(u) - d(u))). Both curves are right-continuous: G(t) counts censoring at t.

With competing causes, the cumulative incidence of cause k is F_k(t) = sum over u <= t of S(u-) d_k(u) / r(u),
S the Kaplan-Meier curve of any event: 1 - KM of one cause alone would count persons who died of another cause as
still at risk of it, and overstate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival.data import Survival, survival_data

__all__ = ["StepFunction", "censoring_distribution", "cumulative_incidence", "kaplan_meier_curve"]

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StepFunction:
    """Value `value[k]` on [time[k], time[k+1]); its start (1 for a survival curve, 0 for an incidence) before the
    first time; a survival curve is undefined after the last time unless it reached 0 there."""

    time: F
    value: F
    name: str
    known: bool = False  # known after the last time too (a cumulative incidence stays where it ended)

    def at(self, t: npt.ArrayLike) -> F:
        x = np.asarray(t, dtype=np.float64)
        if not self.known and self.time.size and self.value[-1] > 0 and (x > self.time[-1]).any():
            raise NotEstimable(
                f"the {self.name} is not known after day {self.time[-1]:g}, the last follow-up it was estimated on "
                f"(asked at {float(x.max()):g})"
            )
        k = np.searchsorted(self.time, x, side="right") - 1
        return np.where(k >= 0, self.value[np.maximum(k, 0)], 0.0 if self.known else 1.0)


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


def cumulative_incidence(time: npt.ArrayLike, cause: npt.ArrayLike, of: int) -> StepFunction:
    """Aalen-Johansen F_of(t); `cause` per person: 0 censored, 1, 2, ... the cause that ended follow-up."""
    c = np.asarray(cause).ravel()
    if not np.issubdtype(c.dtype, np.integer) or (c < 0).any():
        raise UserError("causes must be whole numbers: 0 for censored, 1, 2, ... for each cause",
                        hint="code the competing events as integers")  # fmt: skip
    if of < 1:
        raise UserError(f"cause {of}: causes are numbered from 1", hint="0 means censored")
    s = survival_data(time, c > 0)
    times, inverse = np.unique(s.time, return_inverse=True)
    at_risk = np.bincount(inverse, minlength=times.size).astype(np.float64)[::-1].cumsum()[::-1]
    events = np.bincount(inverse, weights=s.event.astype(np.float64), minlength=times.size)
    mine = np.bincount(inverse, weights=(c == of).astype(np.float64), minlength=times.size)
    before = np.r_[1.0, np.cumprod(1.0 - events / at_risk)[:-1]]  # S(u-)
    value = np.cumsum(before * mine / at_risk).astype(np.float64)
    # Incidence only rises; after the last time it stays (it is known: nobody is left to add to it).
    return StepFunction(np.asarray(times, dtype=np.float64), value, f"cumulative incidence of cause {of}", known=True)
