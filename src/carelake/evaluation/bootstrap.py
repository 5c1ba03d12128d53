"""Person-level bootstrap intervals: resample persons with replacement, recompute the metric, take percentiles.

A resample on which the metric is not estimable (a draw with one class, say) is left out and counted; the interval
is not estimable when fewer than half the resamples give a value. Seeded, so a rerun gives the same interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.checks import NotEstimable, Outcomes, checked

__all__ = ["Interval", "bootstrap"]

Metric = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], float]


@dataclass(frozen=True)
class Interval:
    """A metric on all persons, its percentile interval over `resamples` bootstrap draws, and the draws left out."""

    estimate: float
    low: float
    high: float
    level: float
    resamples: int
    left_out: int


def bootstrap(
    metric: Metric, y: Outcomes, p: Outcomes, *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """`metric(y, p)` with its bootstrap percentile interval at `level`."""
    if resamples < 1:
        raise UserError("the bootstrap needs at least one resample", hint="set resamples to 200 or more")
    if not 0.0 < level < 1.0:
        raise UserError(f"interval level {level} is not between 0 and 1", hint="e.g. 0.95")
    ys, ps = checked(y, p)
    estimate = metric(ys, ps)
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(resamples):
        draw = rng.integers(0, ys.size, ys.size)
        try:
            values.append(metric(ys[draw], ps[draw]))
        except NotEstimable:
            continue
    if len(values) * 2 < resamples:
        raise NotEstimable(
            f"the interval is not estimable: {resamples - len(values)} of {resamples} resamples gave none"
        )
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Interval(float(estimate), float(low), float(high), level, resamples, resamples - len(values))
