"""A fitted model as a risk model that is safe to save and to load: numbers and text, never a pickle.

`LinearRisk` holds an intercept and one coefficient per covariate on the covariates' own scale (the training
scaler folded in); `TreeRisk` holds LightGBM's text model. Both score a covariate matrix, give each person's
contributions (coefficient x value for linear models, TreeSHAP for trees, on the log-odds scale), a global
importance, and are keyed by covariate id, so a matrix extracted elsewhere is aligned by id, not by position.
The study report and `carelake predict` both score through these, so a saved model scores exactly as it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from lightgbm import Booster, LGBMClassifier
from scipy.special import expit
from sklearn.pipeline import Pipeline

from carelake.errors import ConfigError
from carelake.models.selection import Fitted

__all__ = ["LinearRisk", "RiskModel", "TreeRisk", "align", "risk_model"]

Array = npt.NDArray[np.float64]
Ids = npt.NDArray[np.int64]


def align(x: sp.csr_matrix, have: Ids, want: Ids) -> sp.csr_matrix:
    """The columns of `x` (covariate ids `have`) rearranged to ids `want`; an id `x` lacks is a column of zeros."""
    have, want = np.asarray(have, dtype=np.int64), np.asarray(want, dtype=np.int64)
    if have.size == want.size and np.array_equal(have, want):
        return sp.csr_matrix(x)
    pos = {int(c): j for j, c in enumerate(have)}
    src = np.array([pos.get(int(c), -1) for c in want], dtype=np.int64)
    present = np.nonzero(src >= 0)[0]
    pick = sp.csr_matrix((np.ones(present.size), (src[present], present)), shape=(have.size, want.size))
    return sp.csr_matrix(sp.csr_matrix(x) @ pick)


@dataclass(frozen=True)
class LinearRisk:
    """risk = expit(intercept + x . coefficients)."""

    model_type: str
    params: dict[str, Any]
    covariate_ids: Ids
    intercept: float
    coefficients: Array

    def logit(self, x: sp.csr_matrix) -> Array:
        return np.asarray(self.intercept + sp.csr_matrix(x) @ self.coefficients, dtype=np.float64).ravel()

    def predict(self, x: sp.csr_matrix) -> Array:
        return np.asarray(expit(self.logit(x)), dtype=np.float64)

    def contributions(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Per person and covariate: coefficient x value (log-odds; with the intercept they sum to the logit)."""
        return sp.csr_matrix(sp.csr_matrix(x).multiply(self.coefficients[None, :]))

    def importance(self) -> Array:
        return np.abs(self.coefficients)

    def to_json(self) -> dict[str, Any]:
        nonzero = np.nonzero(self.coefficients)[0]
        return {
            "intercept": self.intercept,
            "coefficients": [
                {"covariate_id": int(self.covariate_ids[j]), "coefficient": float(self.coefficients[j])}
                for j in nonzero
            ],
        }


@dataclass(frozen=True)
class TreeRisk:
    """A LightGBM model, kept as LightGBM's own text format (read by LightGBM's parser, nothing executed)."""

    model_type: str
    params: dict[str, Any]
    covariate_ids: Ids
    text: str
    _booster: Booster = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_booster", Booster(model_str=self.text))

    def logit(self, x: sp.csr_matrix) -> Array:
        return np.asarray(self._booster.predict(sp.csr_matrix(x), raw_score=True), dtype=np.float64)

    def predict(self, x: sp.csr_matrix) -> Array:
        return np.asarray(self._booster.predict(sp.csr_matrix(x)), dtype=np.float64)

    def contributions(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """TreeSHAP values per person and covariate (log-odds; with the bias they sum to the logit)."""
        out = self._booster.predict(sp.csr_matrix(x, dtype=np.float64), pred_contrib=True)
        return sp.csr_matrix(out)[:, : self.covariate_ids.size]

    def importance(self) -> Array:
        """Total gain of the splits on each covariate."""
        return np.asarray(self._booster.feature_importance(importance_type="gain"), dtype=np.float64)


RiskModel = LinearRisk | TreeRisk


def risk_model(fitted: Fitted, covariate_ids: Ids) -> RiskModel:
    """The saved form of a fitted study model whose columns are `covariate_ids`."""
    est = fitted.estimator
    ids = np.asarray(covariate_ids, dtype=np.int64)
    if isinstance(est, Pipeline):
        scale = np.asarray(est.named_steps["scale"].scale_, dtype=np.float64)
        logistic = est.named_steps["logistic"]
        coef = np.asarray(logistic.coef_, dtype=np.float64).ravel() / np.where(scale == 0, 1.0, scale)
        return LinearRisk(fitted.model_type, dict(fitted.params), ids, float(logistic.intercept_[0]), coef)
    if isinstance(est, LGBMClassifier):
        return TreeRisk(fitted.model_type, dict(fitted.params), ids, est.booster_.model_to_string())
    raise ConfigError(f"no saved form for a {type(est).__name__}")
