"""The inputs every metric takes, checked once: outcomes 0/1, risks in [0, 1], the same length, no missing values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from carelake.errors import CarelakeError, UserError

__all__ = ["NotEstimable", "Outcomes", "checked", "require_both_classes"]

Outcomes = npt.ArrayLike | Sequence[float]


class NotEstimable(CarelakeError):
    """A metric has no value on these data (one class only, too few persons): reported as such, never as a number."""


def checked(y: Outcomes, p: Outcomes) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(outcomes, risks) as float arrays, or a UserError saying which input is wrong and how."""
    ys = np.asarray(y, dtype=np.float64).ravel()
    ps = np.asarray(p, dtype=np.float64).ravel()
    if ys.shape != ps.shape:
        raise UserError(f"{ys.size} outcomes but {ps.size} predicted risks", hint="give one risk per person")
    if ys.size == 0:
        raise NotEstimable("no persons")
    if np.isnan(ys).any() or np.isnan(ps).any():
        raise UserError("missing values among the outcomes or the risks", hint="drop or impute them before evaluating")
    if not np.isin(ys, (0.0, 1.0)).all():
        raise UserError("outcomes must be 0 or 1", hint=f"found {sorted(set(ys.tolist()) - {0.0, 1.0})[:5]}")
    if (ps < 0).any() or (ps > 1).any():
        raise UserError("predicted risks must lie in [0, 1]", hint="pass probabilities, not scores or logits")
    return ys, ps


def require_both_classes(y: npt.NDArray[np.float64], metric: str) -> None:
    """`metric` needs persons with and without the outcome."""
    events = int(y.sum())
    if events == 0 or events == y.size:
        kind = "no" if events == 0 else "only"
        raise NotEstimable(f"{metric} is not estimable: {kind} persons with the outcome ({events} of {y.size})")
