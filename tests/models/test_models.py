"""The study models on a sparse design with a known truth: near the Bayes AUROC, the right covariates, and the
same model on a rerun; grids checked, and too few events for the folds stated, not a crash."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from carelake.errors import ConfigError
from carelake.evaluation import NotEstimable, auroc
from carelake.models import fit_with_cv, grid_points, make_model


def _design(n: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Binary covariates (a covariate matrix's shape: sparse, 5-20% prevalence), 10 of 150 with true effects."""
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.05, 0.2, 150)
    x = (rng.random((n, 150)) < prevalence).astype(float)
    beta = np.zeros(150)
    beta[:10] = rng.choice([-1.0, 1.0], 10) * rng.uniform(0.7, 1.5, 10)
    risk = expit(-2.0 + x @ beta)
    y = (rng.random(n) < risk).astype(float)
    return sp.csr_matrix(x), y, risk, beta


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    x, y, risk, beta = _design(6_000, 1)
    return {"train": (x[:4_000], y[:4_000]), "test": (x[4_000:], y[4_000:], risk[4_000:]), "beta": beta}


def test_lasso_is_near_bayes_and_finds_the_true_covariates(data: dict[str, object]) -> None:
    x, y = data["train"]  # type: ignore[misc]
    x_test, y_test, true_risk = data["test"]  # type: ignore[misc]
    fitted = fit_with_cv("lasso_logistic", x, y, grid={"C": [0.01, 0.1, 1.0]}, folds=3, seed=3)
    assert fitted.params["C"] in (0.1, 1.0) and len(fitted.cv) == 3
    assert all(len(r.fold_auroc) == 3 for r in fitted.cv)
    bayes = auroc(y_test, true_risk)
    assert auroc(y_test, fitted.estimator.predict_proba(x_test)[:, 1]) > bayes - 0.02
    coef = fitted.estimator.named_steps["logistic"].coef_.ravel()
    truth = data["beta"]  # type: ignore[assignment]
    assert np.all(np.sign(coef[:10]) == np.sign(truth[:10]))  # type: ignore[index]
    assert np.count_nonzero(coef[10:]) < 140 * 0.6  # the L1 penalty zeroes most of the noise
    again = fit_with_cv("lasso_logistic", x, y, grid={"C": [0.01, 0.1, 1.0]}, folds=3, seed=3)
    assert np.array_equal(again.estimator.named_steps["logistic"].coef_, fitted.estimator.named_steps["logistic"].coef_)
    assert [r.fold_auroc for r in again.cv] == [r.fold_auroc for r in fitted.cv]


def test_gradient_boosting_is_near_bayes_and_deterministic(data: dict[str, object]) -> None:
    x, y = data["train"]  # type: ignore[misc]
    x_test, y_test, true_risk = data["test"]  # type: ignore[misc]
    grid = {"learning_rate": [0.05], "num_leaves": [4, 8], "n_estimators": [150]}
    fitted = fit_with_cv("gradient_boosting", x, y, grid=grid, folds=3, seed=3)
    p = fitted.estimator.predict_proba(x_test)[:, 1]
    assert auroc(y_test, p) > auroc(y_test, true_risk) - 0.04
    again = fit_with_cv("gradient_boosting", x, y, grid=grid, folds=3, seed=3)
    assert np.array_equal(again.estimator.predict_proba(x_test)[:, 1], p)


def test_elastic_net_takes_its_mix() -> None:
    x, y, _, _ = _design(1_500, 2)
    model = make_model("elastic_net_logistic", {"C": 0.1, "l1_ratio": 0.3}, seed=0).fit(x, y)
    logistic = model.named_steps["logistic"]
    assert logistic.l1_ratio == 0.3 and logistic.coef_.shape == (1, 150)


def test_grids_and_their_mistakes() -> None:
    assert grid_points({"num_leaves": [15, 31], "learning_rate": [0.1]}) == [
        {"learning_rate": 0.1, "num_leaves": 15},
        {"learning_rate": 0.1, "num_leaves": 31},
    ]
    with pytest.raises(ConfigError, match="lasso_logistic has no parameter l1_ratio"):
        make_model("lasso_logistic", {"l1_ratio": 0.5}, seed=0)
    with pytest.raises(ConfigError, match="gradient_boosting has no parameter leaves"):
        make_model("gradient_boosting", {"leaves": 8}, seed=0)
    with pytest.raises(ConfigError, match="unknown model type 'random_forest'"):
        make_model("random_forest", {}, seed=0)
    x, y, _, _ = _design(200, 4)
    y[:] = 0.0
    y[:2] = 1.0
    with pytest.raises(NotEstimable, match="at least 3 persons of each class; the training part has fewer"):
        fit_with_cv("lasso_logistic", x, y, folds=3)
