"""Gradient boosting on the Cox partial likelihood: LightGBM's trees with the Cox loss as a custom objective.

The trees fit the log relative hazard f(x). With Breslow's handling of ties, the negative log partial likelihood has,
per person i (w = exp f, S0_k the risk set's weight at event time k, d_k its events, K(i) the event times whose
risk set holds i):
    gradient  w_i * sum_{k in K(i)} d_k / S0_k - event_i
    hessian   w_i * sum_{k in K(i)} d_k / S0_k - w_i^2 * sum_{k in K(i)} d_k / S0_k^2
(the diagonal, as XGBoost's survival:cox uses). Both are two cumulative sums over event times, so a boosting round
costs O(n). Per-person explanations are TreeSHAP contributions to f(x), from LightGBM. Survival curves come from
Breslow's baseline hazard on the training persons' scores. Seeded and run on one thread, so a rerun gives the same
trees; the model saves as LightGBM's text, safe to load.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from carelake.errors import UserError
from carelake.evaluation.survival.likelihood import RiskSets, breslow_baseline
from carelake.models.cox import as_matrix, read_target

__all__ = ["CoxBoost"]

F = npt.NDArray[np.float64]


class _Loss:
    """Event times and risk-set bins of the training persons (Breslow), fixed across rounds."""

    def __init__(self, time: F, event: npt.NDArray[np.bool_]) -> None:
        self.sets = RiskSets(time, event, "breslow")
        self.event, self.d, self.bin = event, self.sets.d, self.sets.bin

    def gradient(self, score: F) -> tuple[F, F]:
        f = score - score.max()
        w = np.exp(f)
        s0, _ = self.sets.sums(w)
        a, b = np.cumsum(self.d / s0), np.cumsum(self.d / s0**2)
        k = np.maximum(self.bin, 0)
        inside = self.bin >= 0
        wa = np.where(inside, w * a[k], 0.0)
        grad = wa - self.event
        hess = np.maximum(wa - np.where(inside, w * w * b[k], 0.0), 1e-16)
        return grad, hess


class CoxBoost(BaseEstimator):  # type: ignore[misc]
    """Boosted Cox model. `y`: `survival_target(time, event)`. `predict` gives f(x), the log relative hazard
    (higher: earlier event); `predict_survival(X, times)` gives S(t | x)."""

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.random_state = random_state

    def fit(self, X: Any, y: npt.ArrayLike) -> CoxBoost:  # noqa: N803 (scikit-learn's names)
        s = read_target(y)
        x = as_matrix(X)
        if x.shape[0] != len(s):
            raise UserError(f"{x.shape[0]} rows of covariates for {len(s)} persons", hint="one row per person")
        loss = _Loss(s.time, s.event)

        def objective(score: F, _: lgb.Dataset) -> tuple[F, F]:
            return loss.gradient(np.asarray(score, dtype=np.float64))

        params = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }
        data = lgb.Dataset(x, label=np.zeros(x.shape[0]), free_raw_data=False)
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.n_features_in_ = x.shape[1]
        self.baseline_time_ = loss.sets.event_times
        self.baseline_cumulative_hazard_ = breslow_baseline(loss.sets, self._raw(x))
        return self

    def _raw(self, x: Any) -> F:
        return np.asarray(self.booster_.predict(x, raw_score=True), dtype=np.float64)

    def predict(self, X: Any) -> F:  # noqa: N803
        """f(x), the log relative hazard: a risk score, higher for an earlier event."""
        return self._raw(as_matrix(X, self.n_features_in_))

    def contributions(self, X: Any) -> F:  # noqa: N803
        """Per person, each covariate's TreeSHAP contribution to f(x), and the expected f last: a row sums to f(x)."""
        x = as_matrix(X, self.n_features_in_)
        out: Any = self.booster_.predict(x, pred_contrib=True)  # sparse in, sparse out
        return np.asarray(out.toarray() if sp.issparse(out) else out, dtype=np.float64)

    def predict_survival(self, X: Any, times: npt.ArrayLike) -> F:  # noqa: N803
        """S(t | x) = exp(-H0(t) exp(f(x))), one row per person and one column per time."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        k = np.searchsorted(self.baseline_time_, t, side="right") - 1
        h0 = np.where(k >= 0, self.baseline_cumulative_hazard_[np.maximum(k, 0)], 0.0)
        return np.asarray(np.exp(-np.exp(self.predict(X))[:, None] * h0[None, :]), dtype=np.float64)
