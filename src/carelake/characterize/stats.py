"""The small arithmetic after the warehouse has aggregated: exact Poisson intervals, SMDs, Kaplan-Meier."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2, norm

__all__ = ["KaplanMeier", "incidence_rate", "kaplan_meier", "poisson_ci", "smd_binary", "smd_continuous"]


def poisson_ci(events: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count: chi-square quantiles, so 0 events still gets an upper bound."""
    alpha = 1 - confidence
    lower = 0.0 if events == 0 else float(chi2.ppf(alpha / 2, 2 * events)) / 2
    upper = float(chi2.ppf(1 - alpha / 2, 2 * events + 2)) / 2
    return lower, upper


def incidence_rate(
    events: int, person_days: float, per: float = 1000.0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Rate per `per` person-years with its exact interval; NaN when there is no time at risk."""
    years = person_days / 365.25
    if years <= 0:
        return math.nan, math.nan, math.nan
    lo, hi = poisson_ci(events, confidence)
    return events / years * per, lo / years * per, hi / years * per


def smd_binary(p1: float, p2: float) -> float:
    """Standardized difference of two proportions (pooled Bernoulli variance); 0 when both are 0 or 1."""
    pooled = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    return 0.0 if pooled == 0 else (p1 - p2) / math.sqrt(pooled)


def smd_continuous(m1: float, s1: float, m2: float, s2: float) -> float:
    pooled = (s1**2 + s2**2) / 2
    return 0.0 if pooled == 0 else (m1 - m2) / math.sqrt(pooled)


@dataclass(frozen=True)
class KaplanMeier:
    """Survival after each distinct event time, with Greenwood pointwise bands (clipped to [0, 1])."""

    time: NDArray[np.float64]
    at_risk: NDArray[np.int64]
    events: NDArray[np.int64]
    survival: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def kaplan_meier(times: NDArray[np.float64], observed: NDArray[np.bool_], confidence: float = 0.95) -> KaplanMeier:
    """Product-limit estimate; censoring at a time counts the subject as at risk at that time (the usual rule)."""
    t = np.asarray(times, dtype=np.float64)
    e = np.asarray(observed, dtype=bool)
    event_times = np.unique(t[e])
    order = np.sort(t)
    at_risk = (len(t) - np.searchsorted(order, event_times, side="left")).astype(np.int64)
    d = np.array([int(np.sum(e & (t == u))) for u in event_times], dtype=np.int64)
    survival: NDArray[np.float64] = np.cumprod(1.0 - d / at_risk).astype(np.float64)
    # Once everyone left has the event, S = 0 and Greenwood's sum is infinite; the band collapses to 0 there.
    safe = np.where(at_risk > d, at_risk - d, 1)
    terms = np.where(at_risk > d, d / (at_risk * safe), 0.0)
    var = np.where(survival > 0, survival**2 * np.cumsum(terms), 0.0)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    half = z * np.sqrt(var)
    return KaplanMeier(
        event_times, at_risk, d, survival, np.clip(survival - half, 0, 1), np.clip(survival + half, 0, 1)
    )
