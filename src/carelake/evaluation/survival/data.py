"""Follow-up as the survival metrics take it: one time (event or censoring) and one event flag per person."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError

__all__ = ["Survival", "scores", "survival_data"]

F = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Survival:
    """Times (> 0: days or years, the caller's unit) and whether each ended in the event (else censored)."""

    time: F
    event: B

    def __len__(self) -> int:
        return int(self.time.size)


def survival_data(time: npt.ArrayLike, event: npt.ArrayLike) -> Survival:
    """Checked follow-up, or a UserError naming what is wrong and how to fix it."""
    t = np.asarray(time, dtype=np.float64).ravel()
    raw = np.asarray(event).ravel()
    if t.shape != raw.shape:
        raise UserError(f"{t.size} times but {raw.size} event flags", hint="give one time and one flag per person")
    if t.size == 0:
        raise UserError("no persons", hint="give at least one follow-up time")
    if np.isnan(t).any():
        raise UserError("missing follow-up times", hint="drop or complete them before evaluating")
    if (t <= 0).any():
        bad = int(np.flatnonzero(t <= 0)[0])
        raise UserError(
            f"follow-up time {t[bad]:g} (person {bad}) is zero or below",
            hint="time runs from the start of time at risk; an event on day 0 is counted on day 1",
        )
    if raw.dtype != np.bool_ and not np.isin(raw.astype(np.float64), (0.0, 1.0)).all():
        raise UserError("event flags must be 0/1 or true/false", hint="1: the event ended follow-up, 0: censored")
    return Survival(t, raw.astype(bool))


def scores(values: npt.ArrayLike, n: int, what: str = "risk scores") -> F:
    """One finite number per person."""
    s = np.asarray(values, dtype=np.float64)
    if s.shape[0] != n:
        raise UserError(f"{s.shape[0]} {what} for {n} persons", hint="give one per person, in the same order")
    if not np.isfinite(s).all():
        raise UserError(f"{what} must be finite numbers", hint="drop or impute persons with missing predictions")
    return s
