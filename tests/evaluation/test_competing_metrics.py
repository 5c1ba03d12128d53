"""Competing-risks metrics: with no competing event they are exactly Harrell's C, the cumulative/dynamic AUC and
the Brier score; with one, the true incidence scores better than a distorted one, and the cause-specific Cox
models' incidence recovers the truth of a simulated process."""

from __future__ import annotations

import numpy as np
import pytest

from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import (
    brier_scores,
    cumulative_dynamic_auc,
    cumulative_incidence,
    harrell_c,
    survival_data,
)
from carelake.evaluation.survival.competing import competing_auc, competing_brier, wolbers_c
from carelake.models.cox import CoxPH, survival_target
from carelake.models.risk import LinearRisk
from carelake.models.survival import CompetingRisk, SurvivalRisk


def _process(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exponential cause-specific hazards 0.02 e^{0.8 x} (cause 1) and 0.01 e^{-0.5 x} (cause 2), whole days."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    l1, l2 = 0.02 * np.exp(0.8 * x), 0.01 * np.exp(-0.5 * x)
    t1, t2, c = rng.exponential(1 / l1), rng.exponential(1 / l2), rng.uniform(10, 120, n)
    time = np.ceil(np.minimum(np.minimum(t1, t2), c))
    cause = np.where(c <= np.minimum(t1, t2), 0, np.where(t1 < t2, 1, 2))
    return x, time, cause, l1, l2


def _true_incidence(l1: np.ndarray, l2: np.ndarray, t: float) -> np.ndarray:
    return np.asarray(l1 / (l1 + l2) * -np.expm1(-(l1 + l2) * t))


def test_without_competing_events_they_are_the_survival_metrics() -> None:
    x, time, cause, l1, _ = _process(3000, 1)
    cause = np.where(cause == 2, 0, cause)  # competing events as censoring: a plain survival problem
    train, test = slice(0, 1500), slice(1500, None)
    risk = _true_incidence(l1, np.zeros_like(l1) + 1e-12, 40.0)
    s_train, s_test = survival_data(time[train], cause[train] == 1), survival_data(time[test], cause[test] == 1)
    assert wolbers_c(time[test], cause[test], x[test]) == pytest.approx(harrell_c(s_test, x[test]).c, abs=1e-12)
    for h in (20.0, 40.0, 60.0):
        f = risk[test]
        got = competing_auc(time[train], cause[train], time[test], cause[test], f, h)
        assert got == pytest.approx(cumulative_dynamic_auc(s_train, s_test, f, [h]).mean, abs=1e-12)
        bs = competing_brier(time[train], cause[train], time[test], cause[test], f, h)
        assert bs == pytest.approx(brier_scores(s_train, s_test, (1 - f)[:, None], [h])[1][0], abs=1e-12)


def test_true_incidence_beats_a_distorted_one() -> None:
    x, time, cause, l1, l2 = _process(6000, 2)
    tr, te = slice(0, 3000), slice(3000, None)
    truth = _true_incidence(l1, l2, 50.0)
    ignoring = -np.expm1(-l1 * 50.0)  # 1 - KM of the cause alone: overstates the incidence
    auc = competing_auc(time[tr], cause[tr], time[te], cause[te], truth[te], 50.0)
    noise = truth[te] * np.exp(np.random.default_rng(3).normal(0, 1.0, truth[te].size))
    assert auc > competing_auc(time[tr], cause[tr], time[te], cause[te], np.clip(noise, 0, 1), 50.0) + 0.03
    right = competing_brier(time[tr], cause[tr], time[te], cause[te], truth[te], 50.0)
    assert right < competing_brier(time[tr], cause[tr], time[te], cause[te], ignoring[te], 50.0)
    assert wolbers_c(time[te], cause[te], truth[te]) > 0.65
    with pytest.raises(NotEstimable, match="no comparable pairs"):
        wolbers_c(time[:5], np.zeros(5, dtype=int), x[:5])


def _cox(x: np.ndarray, time: np.ndarray, event: np.ndarray) -> SurvivalRisk:
    model = CoxPH().fit(x[:, None], survival_target(time, event))
    score = LinearRisk("cox", {}, np.array([1], dtype=np.int64), 0.0, model.coef_)
    return SurvivalRisk(score, model.baseline_time_, model.baseline_cumulative_hazard_)


def test_cause_specific_cox_recovers_the_true_incidence() -> None:
    x, time, cause, l1, l2 = _process(20000, 4)
    both = CompetingRisk(_cox(x, time, cause == 1), _cox(x, time, cause == 2))
    xm = x[:, None]
    f1, f2 = both.incidence(xm, [30.0, 90.0])
    for k, t in enumerate((30.0, 90.0)):
        assert np.mean(np.abs(f1[:, k] - _true_incidence(l1, l2, t))) < 0.01
        assert np.mean(np.abs(f2[:, k] - _true_incidence(l2, l1, t))) < 0.01
    # Without covariates it is the Aalen-Johansen estimate.
    flat = CompetingRisk(_cox(np.zeros_like(x), time, cause == 1), _cox(np.zeros_like(x), time, cause == 2))
    g1, _ = flat.incidence(np.zeros((1, 1)), [30.0, 90.0])
    aj = cumulative_incidence(time, cause, 1).at([30.0, 90.0])
    np.testing.assert_allclose(g1[0], aj, rtol=0, atol=1e-12)


def test_incidence_stays_a_probability_for_extreme_scores() -> None:
    """A Breslow jump times a very high score exceeds 1: survival ends there and both causes share the jump."""
    base = LinearRisk("cox", {}, np.array([1], dtype=np.int64), 0.0, np.array([1.0]))
    one = SurvivalRisk(base, np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.5, 0.9]))
    other = SurvivalRisk(base, np.array([1.5, 2.0]), np.array([0.1, 0.4]))
    f1, f2 = CompetingRisk(one, other).incidence(np.array([[6.0], [0.0], [-3.0]]), [1.0, 2.0, 3.0])
    assert (f1 >= 0).all() and (f1 + f2 <= 1 + 1e-12).all()
    assert f1[0, -1] + f2[0, -1] == pytest.approx(1.0)  # the extreme person has had one event or the other
    assert (np.diff(f1, axis=1) >= -1e-15).all()


def test_weights_need_the_censoring_curve_only_up_to_the_horizon() -> None:
    """The training part's last follow-up ends in an event; a test person followed longer is no obstacle."""
    train_t, train_c = np.array([2.0, 3.0, 5.0, 9.0]), np.array([0, 1, 0, 1])
    t, c = np.array([1.0, 4.0, 6.0, 12.0]), np.array([1, 2, 0, 0])
    assert 0 <= competing_brier(train_t, train_c, t, c, np.array([0.6, 0.2, 0.1, 0.1]), 5.0) < 1
    train, test = survival_data(train_t, train_c == 1), survival_data(t, c == 1)
    assert brier_scores(train, test, np.array([[0.4], [0.8], [0.9], [0.9]]), [5.0])[1][0] >= 0
    with pytest.raises(NotEstimable, match="beyond the follow-up"):
        competing_auc(train_t, train_c, t, c, np.array([0.6, 0.2, 0.1, 0.1]), 12.0)
