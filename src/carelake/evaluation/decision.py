"""Clinical usefulness: net benefit and decision curves (Vickers and Elkin, 2006).

Acting on everyone whose risk is at least a threshold pt, net benefit = TP/n - FP/n * pt / (1 - pt): true positives
found, less the false positives, weighted by the odds at which a clinician would just be willing to act. A model is
useful at pt where its net benefit beats both treating everyone and treating no one (net benefit 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.checks import Outcomes, checked

__all__ = ["net_benefit", "treat_all_net_benefit"]


def net_benefit(y: Outcomes, p: Outcomes, thresholds: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The model's net benefit at each threshold (a risk equal to the threshold counts as acting)."""
    ys, ps = checked(y, p)
    pts = _thresholds(thresholds)
    act = ps[None, :] >= pts[:, None]
    tp = (act & (ys[None, :] == 1.0)).sum(axis=1)
    fp = (act & (ys[None, :] == 0.0)).sum(axis=1)
    n = ys.size
    return np.asarray(tp / n - fp / n * pts / (1.0 - pts), dtype=np.float64)


def treat_all_net_benefit(y: Outcomes, thresholds: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Net benefit of acting on everyone: prevalence - (1 - prevalence) * pt / (1 - pt)."""
    ys = np.asarray(y, dtype=np.float64).ravel()
    ys, _ = checked(ys, np.zeros_like(ys))
    pts = _thresholds(thresholds)
    prevalence = ys.mean()
    return np.asarray(prevalence - (1.0 - prevalence) * pts / (1.0 - pts), dtype=np.float64)


def _thresholds(thresholds: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    pts = np.asarray(thresholds, dtype=np.float64).ravel()
    if pts.size == 0 or (pts <= 0).any() or (pts >= 1).any():
        raise UserError("decision-curve thresholds must lie strictly between 0 and 1", hint="e.g. 0.01 to 0.5")
    return pts
