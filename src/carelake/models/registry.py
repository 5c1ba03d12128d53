"""The models a study file can name, as scikit-learn estimators, seeded so a rerun gives the same model.

- `lasso_logistic`: L1-penalised logistic regression (PLP's default model); `C` is the inverse penalty.
- `elastic_net_logistic`: L1 and L2 mixed by `l1_ratio`.
- `gradient_boosting`: LightGBM trees (`learning_rate`, `num_leaves`, `n_estimators`, `min_child_samples`, ...).

All take the sparse covariate matrix as it is. The logistic models first divide each column by its largest absolute
value on the training persons (PLP normalises the same way), so one penalty means the same for a count, a lab value
and a 0/1 flag. The lasso is fitted by liblinear, the elastic net by SAGA (which leaves the intercept unpenalised).
LightGBM runs deterministically on one thread per fit, so results do not depend on the machine's core count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lightgbm import LGBMClassifier
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from carelake.errors import ConfigError

__all__ = ["DEFAULT_GRIDS", "MODEL_TYPES", "PARAMETERS", "make_model"]


def _scaled(model: LogisticRegression) -> ClassifierMixin:
    pipeline: ClassifierMixin = Pipeline([("scale", MaxAbsScaler()), ("logistic", model)])
    return pipeline


def _lasso(params: Mapping[str, Any], seed: int) -> ClassifierMixin:
    # liblinear's coordinate descent: on covariate matrices about 100 times faster than SAGA to the same optimum.
    # It penalises the intercept as a column of `intercept_scaling`; at 100 that penalty is negligible.
    return _scaled(LogisticRegression(
        l1_ratio=1.0, solver="liblinear", C=float(params.get("C", 0.1)), intercept_scaling=100.0,
        max_iter=int(params.get("max_iter", 2000)), tol=float(params.get("tol", 1e-5)), random_state=seed,
    ))  # fmt: skip


def _elastic_net(params: Mapping[str, Any], seed: int) -> ClassifierMixin:
    return _scaled(LogisticRegression(
        l1_ratio=float(params.get("l1_ratio", 0.5)), solver="saga", C=float(params.get("C", 0.1)),
        max_iter=int(params.get("max_iter", 2000)), tol=float(params.get("tol", 1e-5)), random_state=seed,
    ))  # fmt: skip


_LIGHTGBM = {"learning_rate", "num_leaves", "n_estimators", "min_child_samples", "max_depth", "subsample",
             "colsample_bytree", "reg_alpha", "reg_lambda"}  # fmt: skip


def _gradient_boosting(params: Mapping[str, Any], seed: int) -> ClassifierMixin:
    settings: dict[str, Any] = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, **params}
    return LGBMClassifier(**settings, random_state=seed, deterministic=True, force_row_wise=True, n_jobs=1,
                          verbose=-1)  # fmt: skip


MODEL_TYPES: dict[str, Callable[[Mapping[str, Any], int], ClassifierMixin]] = {
    "lasso_logistic": _lasso,
    "elastic_net_logistic": _elastic_net,
    "gradient_boosting": _gradient_boosting,
}
# The parameters each model takes (a grid key not listed is a typo, refused).
PARAMETERS: dict[str, set[str]] = {
    "lasso_logistic": {"C", "max_iter", "tol"},
    "elastic_net_logistic": {"C", "l1_ratio", "max_iter", "tol"},
    "gradient_boosting": _LIGHTGBM,
}
DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "lasso_logistic": {"C": [0.03, 0.1, 0.3, 1.0]},
    "elastic_net_logistic": {"C": [0.1, 1.0], "l1_ratio": [0.5]},
    "gradient_boosting": {"learning_rate": [0.05, 0.1], "num_leaves": [15, 31]},
}


def make_model(model_type: str, params: Mapping[str, Any], seed: int) -> ClassifierMixin:
    """The estimator a study file's model entry names, with `params`, seeded."""
    factory = MODEL_TYPES.get(model_type)
    if factory is None:
        raise ConfigError(f"unknown model type {model_type!r}", hint=f"use one of {', '.join(MODEL_TYPES)}")
    unknown = sorted(set(params) - PARAMETERS[model_type])
    if unknown:
        raise ConfigError(f"{model_type} has no parameter {', '.join(unknown)}",
                          hint=f"its parameters are {', '.join(sorted(PARAMETERS[model_type]))}")  # fmt: skip
    return factory(params, seed)
