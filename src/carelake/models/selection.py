"""Choosing hyper-parameters on the training persons only, then refitting on all of them.

Every combination of the grid is scored over stratified folds of the training part (the test part is never seen)
by its mean log loss, a proper scoring rule: it rewards discrimination and calibration together, where AUROC alone
would pick an over-penalised model whose risks are squeezed toward the mean (PLP's Cyclops likewise chooses the
prior by cross-validated likelihood). The fold AUROCs are kept for the report. The best is refitted on the whole
training part. Folds and models are seeded, so the same
data and study file give the same choice and the same model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from carelake.errors import ConfigError
from carelake.evaluation import NotEstimable, auroc
from carelake.models.registry import DEFAULT_GRIDS, make_model

__all__ = ["CvResult", "Fitted", "fit_with_cv", "grid_points"]


@dataclass(frozen=True)
class CvResult:
    """One grid point: its parameters, and the AUROC and log loss of each fold."""

    params: dict[str, Any]
    fold_auroc: tuple[float, ...]
    fold_log_loss: tuple[float, ...]

    @property
    def mean_auroc(self) -> float:
        return float(np.mean(self.fold_auroc))

    @property
    def mean_log_loss(self) -> float:
        return float(np.mean(self.fold_log_loss))


@dataclass(frozen=True)
class Fitted:
    """The refitted model, the parameters chosen, the cross-validation behind the choice, and the chosen point's
    out-of-fold risks (each training person scored by the fold model that did not see them: PLP's "CV" evaluation)."""

    model_type: str
    estimator: ClassifierMixin
    params: dict[str, Any]
    cv: tuple[CvResult, ...]
    cv_predictions: npt.NDArray[np.float64]


def _log_loss(y: npt.NDArray[np.int_], p: npt.NDArray[np.float64]) -> float:
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in a fixed order (keys sorted)."""
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in product(*(grid[k] for k in keys))]


def fit_with_cv(
    model_type: str,
    x: sp.csr_matrix | npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    folds: int = 3,
    seed: int = 42,
) -> Fitted:
    """Choose the grid point with the lowest mean fold log loss on (x, y), then refit it on all of (x, y)."""
    points = grid_points(grid if grid else DEFAULT_GRIDS[model_type])
    labels = np.asarray(y).astype(int)
    events = int(labels.sum())
    if min(events, labels.size - events) < folds:
        raise NotEstimable(
            f"{folds}-fold cross-validation needs at least {folds} persons of each class; the training part has "
            "fewer"  # no counts: the message reaches results.json, past the disclosure rule
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(labels.size), labels))
    results: list[CvResult] = []
    out_of_fold: list[npt.NDArray[np.float64]] = []
    for params in points:
        scores, losses = [], []
        oof = np.zeros(labels.size)
        for train, valid in splits:
            model = make_model(model_type, params, seed)
            model.fit(x[train], labels[train])
            oof[valid] = model.predict_proba(x[valid])[:, 1]
            scores.append(auroc(labels[valid], oof[valid]))
            losses.append(_log_loss(labels[valid], oof[valid]))
        results.append(CvResult(params, tuple(scores), tuple(losses)))
        out_of_fold.append(oof)
    chosen = min(range(len(results)), key=lambda i: results[i].mean_log_loss)  # the first of equals, in grid order
    best = results[chosen]
    if not np.isfinite(best.mean_log_loss):
        raise ConfigError(f"no grid point of {model_type} gave a finite cross-validated log loss")
    final = make_model(model_type, best.params, seed)
    final.fit(x, labels)
    return Fitted(model_type, final, best.params, tuple(results), out_of_fold[chosen])
