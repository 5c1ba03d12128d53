"""The saved forms score exactly as the fitted estimators, contributions add up to the log-odds, and a matrix
extracted elsewhere is aligned by covariate id."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logit

from carelake.models import fit_with_cv
from carelake.models.risk import LinearRisk, TreeRisk, align, risk_model


def _design(n: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    binary = (rng.random((n, 30)) < 0.15).astype(float)
    lab = rng.normal(100, 20, (n, 1)) * (rng.random((n, 1)) < 0.7)  # a lab value, absent (0) for 30%
    x = np.hstack([binary, lab])
    eta = -3.0 + binary[:, :5] @ np.array([1.0, -0.8, 0.6, 1.2, 0.5]) + 0.02 * (lab[:, 0] - 100) * (lab[:, 0] > 0)
    return sp.csr_matrix(x), (rng.random(n) < expit(eta)).astype(float)


def test_linear_saved_form_equals_the_pipeline_and_decomposes() -> None:
    x, y = _design(3000, 1)
    fitted = fit_with_cv("lasso_logistic", x, y, grid={"C": [0.3]}, folds=3, seed=1)
    ids = np.arange(100, 131, dtype=np.int64)
    risk = risk_model(fitted, ids)
    assert isinstance(risk, LinearRisk)
    want = fitted.estimator.predict_proba(x)[:, 1]
    np.testing.assert_allclose(risk.predict(x), want, rtol=0, atol=1e-12)
    contrib = risk.contributions(x)
    np.testing.assert_allclose(np.asarray(contrib.sum(axis=1)).ravel() + risk.intercept, logit(want), atol=1e-9)
    assert abs(risk.coefficients[-1]) < 1.0 < abs(risk.coefficients[3])  # on the lab's own scale, not the scaled one


def test_tree_saved_form_equals_lightgbm_and_shap_adds_up() -> None:
    x, y = _design(3000, 2)
    fitted = fit_with_cv("gradient_boosting", x, y, grid={"num_leaves": [7], "n_estimators": [60]}, folds=3, seed=1)
    risk = risk_model(fitted, np.arange(31, dtype=np.int64))
    assert isinstance(risk, TreeRisk)
    np.testing.assert_allclose(risk.predict(x), fitted.estimator.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    again = TreeRisk(risk.model_type, risk.params, risk.covariate_ids, risk.text)  # as loaded from model.txt
    assert np.array_equal(again.predict(x), risk.predict(x))
    raw = risk.logit(x)
    shap = risk.contributions(x)
    assert shap.shape == x.shape
    bias = raw - np.asarray(shap.sum(axis=1)).ravel()
    np.testing.assert_allclose(bias, bias[0], atol=1e-9)  # TreeSHAP: the rest is the same expected value for all
    assert risk.importance().argmax() in (0, 3, 30)


def test_align_by_covariate_id() -> None:
    x = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    got = align(x, np.array([10, 20, 30]), np.array([30, 40, 10]))
    assert got.toarray().tolist() == [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
