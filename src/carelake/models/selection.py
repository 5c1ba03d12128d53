"""Choosing hyper-parameters on the training persons only, then refitting on all of them.

Every combination of the grid is scored by its mean AUROC over stratified folds of the training part (the test
part is never seen); the best is refitted on the whole training part. Folds and models are seeded, so the same
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
    """One grid point: its parameters, the AUROC of each fold and their mean."""

    params: dict[str, Any]
    fold_auroc: tuple[float, ...]

    @property
    def mean_auroc(self) -> float:
        return float(np.mean(self.fold_auroc))


@dataclass(frozen=True)
class Fitted:
    """The refitted model, the parameters chosen, and the cross-validation behind the choice."""

    model_type: str
    estimator: ClassifierMixin
    params: dict[str, Any]
    cv: tuple[CvResult, ...]


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
    """Choose the grid point with the best mean fold AUROC on (x, y), then refit it on all of (x, y)."""
    points = grid_points(grid if grid else DEFAULT_GRIDS[model_type])
    labels = np.asarray(y).astype(int)
    events = int(labels.sum())
    if min(events, labels.size - events) < folds:
        raise NotEstimable(
            f"{folds}-fold cross-validation needs at least {folds} persons of each class; the training part has "
            f"{events} with the outcome and {labels.size - events} without"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(labels.size), labels))
    results: list[CvResult] = []
    for params in points:
        scores = []
        for train, valid in splits:
            model = make_model(model_type, params, seed)
            model.fit(x[train], labels[train])
            scores.append(auroc(labels[valid], model.predict_proba(x[valid])[:, 1]))
        results.append(CvResult(params, tuple(scores)))
    best = max(results, key=lambda r: r.mean_auroc)  # the first of equals, in grid order
    if not np.isfinite(best.mean_auroc):
        raise ConfigError(f"no grid point of {model_type} gave a finite cross-validated AUROC")
    final = make_model(model_type, best.params, seed)
    final.fit(x, labels)
    return Fitted(model_type, final, best.params, tuple(results))
