"""Risk models on the sparse covariate matrix: scikit-learn estimators (L1 and elastic-net logistic regression,
LightGBM) named by a study file, with hyper-parameters chosen by cross-validation on the training persons; and
time-to-event models (`cox`: ridge-penalised Cox proportional hazards)."""

from __future__ import annotations

from carelake.models.cox import CoxPH, ModelFitError, survival_target
from carelake.models.registry import DEFAULT_GRIDS, MODEL_TYPES, PARAMETERS, make_model
from carelake.models.selection import CvResult, Fitted, fit_with_cv, grid_points

__all__ = [
    "DEFAULT_GRIDS",
    "MODEL_TYPES",
    "PARAMETERS",
    "CoxPH",
    "CvResult",
    "Fitted",
    "ModelFitError",
    "fit_with_cv",
    "grid_points",
    "make_model",
    "survival_target",
]
