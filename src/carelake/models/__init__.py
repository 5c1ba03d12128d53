"""Risk models on the sparse covariate matrix: scikit-learn estimators (L1 and elastic-net logistic regression,
LightGBM) named by a study file, with hyper-parameters chosen by cross-validation on the training persons."""

from __future__ import annotations

from carelake.models.registry import DEFAULT_GRIDS, MODEL_TYPES, PARAMETERS, make_model
from carelake.models.selection import CvResult, Fitted, fit_with_cv, grid_points

__all__ = [
    "DEFAULT_GRIDS",
    "MODEL_TYPES",
    "PARAMETERS",
    "CvResult",
    "Fitted",
    "fit_with_cv",
    "grid_points",
    "make_model",
]
