"""The multi-state estimator reduces to Kaplan-Meier (two states) and to lifelines' Aalen-Johansen (competing risks)
exactly, and recovers the occupation probabilities of a known Markov illness-death process."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from carelake.errors import UserError
from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import kaplan_meier_curve, survival_data
from carelake.models.multistate import Transition, fit_multistate

lifelines = pytest.importorskip("lifelines", reason="lifelines (test dependency) is not installed")


def test_two_states_give_kaplan_meier() -> None:
    rng = np.random.default_rng(1)
    t = np.ceil(rng.exponential(20, 500))
    c = np.ceil(rng.uniform(1, 40, 500))
    time, event = np.minimum(t, c), t <= c
    moves = [Transition(i, float(time[i]), 0, 1) for i in np.flatnonzero(event)]
    fit = fit_multistate(("alive", "dead"), np.zeros(500, dtype=np.int64), time, moves, absorbing=(1,))
    grid = np.arange(0, time.max(), 0.5)
    km = kaplan_meier_curve(survival_data(time, event)).at(grid)
    np.testing.assert_allclose(fit.occupation_at(grid)[:, 0], km, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.occupation_at(grid).sum(axis=1), 1.0, atol=1e-12)


def test_competing_risks_give_lifelines_aalen_johansen() -> None:
    rng = np.random.default_rng(2)
    n = 800
    t1, t2, c = rng.exponential(30, n), rng.exponential(50, n), rng.uniform(5, 60, n)
    time = np.minimum(np.minimum(t1, t2), c)
    cause = np.where(time == c, 0, np.where(t1 < t2, 1, 2))
    moves = [Transition(i, float(time[i]), 0, int(cause[i])) for i in np.flatnonzero(cause)]
    fit = fit_multistate(("event-free", "cause 1", "cause 2"), np.zeros(n, dtype=np.int64), time, moves, (1, 2))
    for k in (1, 2):
        ref = lifelines.AalenJohansenFitter(calculate_variance=False).fit(time, cause, event_of_interest=k)
        table = ref.cumulative_density_
        grid = table.index.to_numpy()[1:]
        np.testing.assert_allclose(fit.occupation_at(grid)[:, k], table.iloc[1:, 0].to_numpy(), rtol=0, atol=1e-10)


def test_an_illness_death_process_is_recovered() -> None:
    """Healthy -> ill -> dead and healthy -> dead with constant hazards: P(0, t) = expm(Q t)."""
    q = np.array([[-0.15, 0.10, 0.05], [0.0, -0.20, 0.20], [0.0, 0.0, 0.0]])
    rng = np.random.default_rng(3)
    n = 20000
    start = np.where(rng.random(n) < 0.8, 0, 1)
    censor = rng.uniform(2, 12, n)
    moves, end = [], np.empty(n)
    for i in range(n):
        state, t = int(start[i]), 0.0
        while state != 2:
            rates = np.clip(q[state], 0, None)
            wait = rng.exponential(1 / rates.sum())
            if t + wait > censor[i]:
                break
            t += wait
            nxt = int(rng.choice(3, p=rates / rates.sum()))
            moves.append(Transition(i, t, state, nxt))
            state = nxt
        end[i] = t if state == 2 else censor[i]
    fit = fit_multistate(("healthy", "ill", "dead"), start, end, moves, absorbing=(2,))
    p0 = np.array([0.8, 0.2, 0.0])
    for t in (1.0, 3.0, 6.0):
        np.testing.assert_allclose(fit.occupation_at(t)[0], p0 @ expm(q * t), atol=0.012)
    assert (1, 2) in fit.cumulative_hazard and fit.cumulative_hazard[(1, 2)][-1] > 0


def test_impossible_moves_are_refused() -> None:
    with pytest.raises(UserError, match="does not follow from state 0"):
        fit_multistate(("a", "b", "c"), np.zeros(2, dtype=np.int64), np.array([5.0, 5.0]),
                       [Transition(0, 1.0, 1, 2)], absorbing=(2,))  # fmt: skip
    with pytest.raises(NotEstimable, match="not known after 5"):
        fit_multistate(("a", "b"), np.zeros(1, dtype=np.int64), np.array([5.0]), []).occupation_at(6.0)
    with pytest.raises(UserError, match="follow-up ends at 5"):
        fit_multistate(("a", "b"), np.zeros(1, dtype=np.int64), np.array([5.0]), [Transition(0, 6.0, 0, 1)])


def test_nobody_moving_leaves_everyone_where_they_started() -> None:
    fit = fit_multistate(("a", "b", "dead"), np.array([0, 0, 1]), np.array([4.0, 6.0, 8.0]), [], absorbing=(2,))
    np.testing.assert_allclose(fit.occupation_at([0.0, 5.0]), [[2 / 3, 1 / 3, 0.0]] * 2)
