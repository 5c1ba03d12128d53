"""The survival models a study file can name, how their hyper-parameters are chosen, and their saved form.

- `cox`: Cox proportional hazards with a ridge penalty `alpha` (models/cox.py), on columns divided by their largest
  absolute value on the training persons (as the logistic models are), so one penalty means the same for a count, a
  lab value and a 0/1 flag.
- `boosted_cox`: gradient-boosted trees on the Cox partial likelihood (models/cox_boost.py).

Every grid point is scored over folds of the training persons (stratified by event) by the held-out partial
log-likelihood per event, a proper score (as log loss is for the classifiers); Harrell's C of each fold is kept for
the report. The best point is refitted on all training persons. `SurvivalRisk` is the saved form: the score model
(a `LinearRisk` with intercept 0, or LightGBM's text) and Breslow's baseline cumulative hazard, from which survival
at any time follows, S(t | x) = exp(-H0(t) exp(f(x))).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from carelake.errors import ConfigError
from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import Survival, harrell_c
from carelake.evaluation.survival.likelihood import held_out_log_likelihood
from carelake.models.cox import CoxPH, survival_target
from carelake.models.cox_boost import CoxBoost
from carelake.models.risk import LinearRisk, RiskModel, TreeRisk
from carelake.models.selection import grid_points

__all__ = [
    "SURVIVAL_DEFAULT_GRIDS",
    "SURVIVAL_MODEL_TYPES",
    "SURVIVAL_PARAMETERS",
    "CompetingRisk",
    "SurvivalCvResult",
    "SurvivalFitted",
    "SurvivalRisk",
    "fit_survival_with_cv",
    "make_survival_model",
    "survival_risk",
]

F = npt.NDArray[np.float64]
Ids = npt.NDArray[np.int64]


def _cox(params: Mapping[str, Any], _seed: int) -> BaseEstimator:
    ties: Literal["efron", "breslow"] = "breslow" if params.get("ties") == "breslow" else "efron"
    cox = CoxPH(alpha=float(params.get("alpha", 0.01)), ties=ties,
                max_iter=int(params.get("max_iter", 200)), tol=float(params.get("tol", 1e-10)))  # fmt: skip
    pipeline: BaseEstimator = Pipeline([("scale", MaxAbsScaler()), ("cox", cox)])
    return pipeline


def _boosted(params: Mapping[str, Any], seed: int) -> BaseEstimator:
    return CoxBoost(**{k: v for k, v in params.items()}, random_state=seed)


SURVIVAL_MODEL_TYPES: dict[str, Callable[[Mapping[str, Any], int], BaseEstimator]] = {
    "cox": _cox,
    "boosted_cox": _boosted,
}
SURVIVAL_PARAMETERS: dict[str, set[str]] = {
    "cox": {"alpha", "ties", "max_iter", "tol"},
    "boosted_cox": {"n_estimators", "learning_rate", "num_leaves", "min_child_samples", "reg_lambda", "subsample",
                    "colsample_bytree"},
}  # fmt: skip
SURVIVAL_DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "cox": {"alpha": [0.001, 0.01, 0.1]},
    "boosted_cox": {"learning_rate": [0.05], "num_leaves": [7, 15], "n_estimators": [200]},
}


def make_survival_model(model_type: str, params: Mapping[str, Any], seed: int) -> BaseEstimator:
    """The survival estimator a study file's model entry names, with `params`, seeded."""
    factory = SURVIVAL_MODEL_TYPES.get(model_type)
    if factory is None:
        raise ConfigError(f"unknown survival model {model_type!r}", hint=f"use {' or '.join(SURVIVAL_MODEL_TYPES)}")
    unknown = sorted(set(params) - SURVIVAL_PARAMETERS[model_type])
    if unknown:
        raise ConfigError(f"{model_type} has no parameter {', '.join(unknown)}",
                          hint=f"its parameters are {', '.join(sorted(SURVIVAL_PARAMETERS[model_type]))}")  # fmt: skip
    return factory(params, seed)


@dataclass(frozen=True)
class SurvivalCvResult:
    """One grid point: its parameters, and each fold's held-out log-likelihood per event and Harrell's C."""

    params: dict[str, Any]
    fold_log_likelihood: tuple[float, ...]
    fold_c: tuple[float, ...]

    @property
    def mean_log_likelihood(self) -> float:
        return float(np.mean(self.fold_log_likelihood))


@dataclass(frozen=True)
class SurvivalFitted:
    """The refitted model, the parameters chosen and the cross-validation behind the choice."""

    model_type: str
    estimator: BaseEstimator
    params: dict[str, Any]
    cv: tuple[SurvivalCvResult, ...]


def fit_survival_with_cv(
    model_type: str,
    x: sp.csr_matrix | F,
    follow_up: Survival,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    folds: int = 3,
    seed: int = 42,
) -> SurvivalFitted:
    """Choose the grid point with the highest mean held-out partial log-likelihood, then refit it on all of x."""
    points = grid_points(grid if grid else SURVIVAL_DEFAULT_GRIDS[model_type])
    event = follow_up.event
    events = int(event.sum())
    if min(events, event.size - events) < folds:
        raise NotEstimable(  # no counts in the message: it reaches results.json, past the disclosure rule
            f"{folds}-fold cross-validation needs at least {folds} persons with the event and {folds} without; the "
            "training part has fewer"
        )
    y = survival_target(follow_up.time, event)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, event))
    results: list[SurvivalCvResult] = []
    for params in points:
        lls, cs = [], []
        for train, valid in splits:
            model = make_survival_model(model_type, params, seed).fit(x[train], y[train])
            score = np.asarray(model.predict(x[valid]), dtype=np.float64)
            lls.append(held_out_log_likelihood(follow_up.time[valid], event[valid], score))
            cs.append(harrell_c(Survival(follow_up.time[valid], event[valid]), score).c)
        results.append(SurvivalCvResult(params, tuple(lls), tuple(cs)))
    chosen = max(range(len(results)), key=lambda i: results[i].mean_log_likelihood)  # the first of equals
    best = results[chosen]
    if not np.isfinite(best.mean_log_likelihood):
        raise ConfigError(f"no grid point of {model_type} gave a finite cross-validated likelihood")
    final = make_survival_model(model_type, best.params, seed).fit(x, y)
    return SurvivalFitted(model_type, final, best.params, tuple(results))


@dataclass(frozen=True)
class SurvivalRisk:
    """A saved survival model: the score f(x) (log relative hazard) and the baseline cumulative hazard H0."""

    score_model: RiskModel
    baseline_time: F
    baseline_hazard: F

    @property
    def model_type(self) -> str:
        return self.score_model.model_type

    @property
    def params(self) -> dict[str, Any]:
        return self.score_model.params

    @property
    def covariate_ids(self) -> Ids:
        return self.score_model.covariate_ids

    def score(self, x: sp.csr_matrix) -> F:
        """f(x): higher, an earlier event."""
        return self.score_model.logit(x)

    def cumulative_baseline_hazard(self, times: npt.ArrayLike) -> F:
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        k = np.searchsorted(self.baseline_time, t, side="right") - 1
        return np.asarray(np.where(k >= 0, self.baseline_hazard[np.maximum(k, 0)], 0.0), dtype=np.float64)

    def survival(self, x: sp.csr_matrix, times: npt.ArrayLike) -> F:
        """S(t | x), one row per person and one column per time."""
        h0 = self.cumulative_baseline_hazard(times)
        return np.asarray(np.exp(-np.exp(self.score(x))[:, None] * h0[None, :]), dtype=np.float64)

    def contributions(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Per person and covariate, the share of f(x): coefficient x value, or TreeSHAP for the trees."""
        return self.score_model.contributions(x)

    def importance(self) -> F:
        return self.score_model.importance()

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_time": self.baseline_time.tolist(),
            "baseline_cumulative_hazard": self.baseline_hazard.tolist(),
        }


def survival_risk(fitted: SurvivalFitted, covariate_ids: Ids) -> SurvivalRisk:
    """The saved form of a fitted survival model whose columns are `covariate_ids`."""
    est = fitted.estimator
    ids = np.asarray(covariate_ids, dtype=np.int64)
    params = dict(fitted.params)
    if isinstance(est, Pipeline):
        scale = np.asarray(est.named_steps["scale"].scale_, dtype=np.float64)
        cox: CoxPH = est.named_steps["cox"]
        coef = np.asarray(cox.coef_, dtype=np.float64) / np.where(scale == 0, 1.0, scale)
        score: RiskModel = LinearRisk(fitted.model_type, params, ids, 0.0, coef)
        return SurvivalRisk(score, np.asarray(cox.baseline_time_), np.asarray(cox.baseline_cumulative_hazard_))
    if isinstance(est, CoxBoost):
        score = TreeRisk(fitted.model_type, params, ids, est.booster_.model_to_string())
        return SurvivalRisk(score, np.asarray(est.baseline_time_), np.asarray(est.baseline_cumulative_hazard_))
    raise ConfigError(f"no saved form for a {type(est).__name__}")


_ROWS = 4096  # persons per block when integrating the incidence (blocks of persons x event times)


@dataclass(frozen=True)
class CompetingRisk:
    """Cause-specific hazards of the event of interest and of the competing event, and the cumulative incidence
    they imply: F_k(t | x) = sum over event times u <= t of S(u- | x) dH_k(u | x), with dH_k(u | x) =
    dH0_k(u) exp(f_k(x)) and S the product limit of (1 - dH_1 - dH_2) (Aalen-Johansen's form, as riskRegression's
    product.limit: with whole-day times and many ties, exp(-H) would overstate survival and so the incidence)."""

    outcome: SurvivalRisk
    competing: SurvivalRisk

    @property
    def model_type(self) -> str:
        return self.outcome.model_type

    @property
    def params(self) -> dict[str, Any]:
        return self.outcome.params

    @property
    def covariate_ids(self) -> Ids:
        return self.outcome.covariate_ids

    @property
    def score_model(self) -> RiskModel:
        return self.outcome.score_model

    def score(self, x: sp.csr_matrix) -> F:
        return self.outcome.score(x)

    def contributions(self, x: sp.csr_matrix) -> sp.csr_matrix:
        return self.outcome.contributions(x)

    def importance(self) -> F:
        return self.outcome.importance()

    def incidence(self, x: sp.csr_matrix, times: npt.ArrayLike) -> tuple[F, F]:
        """(F_1, F_2) at `times`: one row per person and one column per time, for each cause."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        grid = np.union1d(self.outcome.baseline_time, self.competing.baseline_time)
        h1, h2 = self.outcome.cumulative_baseline_hazard(grid), self.competing.cumulative_baseline_hazard(grid)
        d1, d2 = np.diff(np.r_[0.0, h1]), np.diff(np.r_[0.0, h2])
        e1, e2 = np.exp(self.outcome.score(x)), np.exp(self.competing.score(x))
        col = np.searchsorted(grid, t, side="right") - 1
        out1, out2 = np.zeros((e1.size, t.size)), np.zeros((e1.size, t.size))
        for start in range(0, e1.size, _ROWS):
            a, b = e1[start : start + _ROWS, None], e2[start : start + _ROWS, None]
            j1, j2 = a * d1[None, :], b * d2[None, :]
            # A jump above 1 (a large Breslow step times a high score) ends survival; both causes share it in
            # proportion, so F_1 + F_2 + S stays 1.
            share = 1.0 / np.maximum(j1 + j2, 1.0)
            j1, j2 = j1 * share, j2 * share
            before = np.hstack([np.ones((a.shape[0], 1)), np.cumprod(1.0 - j1 - j2, axis=1)[:, :-1]])  # S(u-)
            f1, f2 = np.cumsum(before * j1, axis=1), np.cumsum(before * j2, axis=1)
            pad = np.zeros((a.shape[0], 1))
            out1[start : start + _ROWS] = np.hstack([pad, f1])[:, col + 1]
            out2[start : start + _ROWS] = np.hstack([pad, f2])[:, col + 1]
        return out1, out2
