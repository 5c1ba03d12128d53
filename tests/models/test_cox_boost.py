"""Boosted Cox: its loss derivatives against the Cox model's partial likelihood and finite differences, recovery of a
non-linear true hazard, reruns, and survival curves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from carelake.evaluation.survival import harrell_c, survival_data
from carelake.evaluation.survival.likelihood import RiskSets, partial_likelihood
from carelake.models.cox import CoxPH, survival_target
from carelake.models.cox_boost import CoxBoost, _Loss


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A hazard with a threshold and an interaction (what a linear Cox model misses), censoring at random."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    log_hazard = 1.2 * (x[:, 0] > 0.5) + 0.8 * x[:, 1] * x[:, 2] - 0.6 * np.abs(x[:, 3])
    event_time = np.ceil(30 * rng.exponential(np.exp(-log_hazard)))  # whole days: ties
    censor = np.ceil(rng.uniform(1, 90, n))
    return x, np.minimum(event_time, censor), event_time <= censor, log_hazard


def test_loss_derivatives_are_the_partial_likelihoods() -> None:
    _, t, e, _ = _data(400, 1)
    f = np.random.default_rng(2).normal(0, 0.5, 400)
    grad, hess = _Loss(t, e).gradient(f)
    # The Cox model's likelihood in f itself (covariates: the identity), with Breslow's ties.
    ll, g, info, _ = partial_likelihood(sp.identity(400, format="csr"), RiskSets(t, e, "breslow"), f, 400, 0.0, True)
    assert info is not None
    np.testing.assert_allclose(grad, -g, atol=1e-12)
    np.testing.assert_allclose(hess, np.diag(info), atol=1e-12)
    h = 1e-6  # and the gradient is the slope of the negative log partial likelihood
    for i in (0, 7, 123):
        up, down = f.copy(), f.copy()
        up[i] += h
        down[i] -= h
        lu = partial_likelihood(sp.identity(400, format="csr"), RiskSets(t, e, "breslow"), up, 400, 0.0, False)[0]
        ld = partial_likelihood(sp.identity(400, format="csr"), RiskSets(t, e, "breslow"), down, 400, 0.0, False)[0]
        assert -(lu - ld) / (2 * h) == pytest.approx(grad[i], abs=1e-6)
    assert np.isfinite(ll)


def test_recovers_a_non_linear_hazard_a_linear_cox_misses() -> None:
    x, t, e, _ = _data(6000, 3)
    xt, tt, et, truth = _data(3000, 4)
    test = survival_data(tt, et)
    best = harrell_c(test, truth).c
    boost = CoxBoost(n_estimators=300, learning_rate=0.05, num_leaves=7).fit(x, survival_target(t, e))
    linear = CoxPH().fit(x, survival_target(t, e))
    c_boost, c_linear = harrell_c(test, boost.predict(xt)).c, harrell_c(test, linear.predict(xt)).c
    assert c_boost > best - 0.02, (c_boost, best)
    assert c_boost > c_linear + 0.03, (c_boost, c_linear)
    again = CoxBoost(n_estimators=300, learning_rate=0.05, num_leaves=7).fit(x, survival_target(t, e))
    np.testing.assert_array_equal(again.predict(xt), boost.predict(xt))  # seeded, one thread: the same trees
    shap = boost.contributions(xt[:200])
    np.testing.assert_allclose(shap.sum(1), boost.predict(xt[:200]), atol=1e-9)  # contributions add up to f(x)
    assert np.argmax(np.abs(shap[:, :-1]).mean(0)) in (0, 1, 2)  # the hazard's own covariates lead, not noise
    s = boost.predict_survival(xt[:100], [10, 30, 60, 89])
    assert ((s >= 0) & (s <= 1)).all() and (np.diff(s, axis=1) <= 0).all()
    # Calibrated in the large: the mean predicted 30-day risk is close to the Kaplan-Meier risk on the test persons.
    from carelake.evaluation.survival import kaplan_meier_curve

    observed = 1 - kaplan_meier_curve(test).at([30.0])[0]
    assert abs((1 - boost.predict_survival(xt, [30.0])).mean() - observed) < 0.02
