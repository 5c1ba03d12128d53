"""Concordance: does the model give the person whose event comes first the higher risk?

A pair is comparable when one person's event comes strictly before the other's follow-up ends, or both end at the
same time and only the first has the event (an event outranks a censoring at the same time). Pairs whose risks tie
count half. Tied event times (both events at the same time) are not comparable. These are scikit-survival's rules;
ties in risk are exact equality here (scikit-survival's default tolerance is 1e-8).

Harrell's C weights every comparable pair alike, so it depends on the censoring in the test data. Uno's C weights
a pair by 1 / G(T_i)^2, G the censoring distribution estimated on the training persons, and considers only events
before a horizon tau: it estimates the population's concordance up to tau whatever the censoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival.data import Survival, scores
from carelake.evaluation.survival.product_limit import censoring_distribution

__all__ = ["Concordance", "harrell_c", "uno_c"]

F = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Concordance:
    """The index, and its pairs: concordant, discordant, tied in risk, and comparable pairs with tied times."""

    c: float
    concordant: int
    discordant: int
    tied_risk: int
    tied_time: int
    estimator: str


class _Counter:
    """Counts of inserted risk ranks below a rank (a Fenwick tree): O(log n) to add or ask."""

    def __init__(self, size: int) -> None:
        self.tree = np.zeros(size + 1, dtype=np.int64)

    def add(self, rank: int) -> None:
        i = rank + 1
        while i < self.tree.size:
            self.tree[i] += 1
            i += i & -i

    def below(self, rank: int) -> int:
        """How many inserted ranks are < rank."""
        total, i = 0, rank
        while i > 0:
            total += int(self.tree[i])
            i -= i & -i
        return total


def _pairs(s: Survival, risk: F, weight: F, estimator: str) -> Concordance:
    ranks: npt.NDArray[np.int64] = np.unique(risk, return_inverse=True)[1].astype(np.int64)
    order = np.lexsort((~s.event, -s.time))  # latest time first; within a time, events before censorings
    later = _Counter(int(ranks.max()) + 1)
    n_later = 0
    num = den = 0.0
    concordant = discordant = tied_risk = tied_time = 0
    neg = -s.time[order]
    i = 0
    while i < order.size:
        group = order[i : int(np.searchsorted(neg, neg[i], side="right"))]
        i += group.size
        censored = group[~s.event[group]]
        c_ranks = np.sort(ranks[censored])
        for j in group[s.event[group]]:
            r = int(ranks[j])
            below_later = later.below(r)
            tie_later = later.below(r + 1) - below_later
            below_same = int(np.searchsorted(c_ranks, r, side="left"))
            tie_same = int(np.searchsorted(c_ranks, r, side="right")) - below_same
            comparable = n_later + c_ranks.size
            con, tie = below_later + below_same, tie_later + tie_same
            num += weight[j] * (con + 0.5 * tie)
            den += weight[j] * comparable
            concordant += con
            tied_risk += tie
            discordant += comparable - con - tie
            tied_time += c_ranks.size
        for j in group:
            later.add(int(ranks[j]))
        n_later += group.size
    if concordant + discordant + tied_risk == 0:
        raise NotEstimable(f"{estimator} is not estimable: no comparable pairs (no event before another's follow-up)")
    if den == 0:
        raise NotEstimable(f"{estimator} is not estimable: every comparable pair has zero weight")
    return Concordance(num / den, concordant, discordant, tied_risk, tied_time, estimator)


def harrell_c(s: Survival, risk: npt.ArrayLike) -> Concordance:
    """Harrell's C over all comparable pairs; `risk`: higher means an earlier event."""
    return _pairs(s, scores(risk, len(s)), np.ones(len(s)), "Harrell's C")


def uno_c(train: Survival, test: Survival, risk: npt.ArrayLike, tau: float | None = None) -> Concordance:
    """Uno's C up to `tau` (default: no truncation), censoring weights estimated on `train`."""
    r = scores(risk, len(test))
    g = censoring_distribution(train)
    anchor = test.event & (test.time < tau) if tau is not None else test.event.copy()
    weight = np.zeros(len(test))
    at = g.at(test.time[anchor])
    if (at == 0).any():
        raise NotEstimable("Uno's C is not estimable: the censoring distribution reaches 0 before an event time",
                           hint="choose a horizon tau before the last censoring")  # fmt: skip
    weight[anchor] = 1.0 / at**2
    name = "Uno's C" if tau is None else f"Uno's C (tau {tau:g})"
    return _pairs(test, r, weight, name)
