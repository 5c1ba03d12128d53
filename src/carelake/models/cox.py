"""Cox proportional hazards with a ridge penalty, on the sparse covariate matrix, following scikit-learn's contract.

The partial likelihood handles tied event times by Efron's method (default) or Breslow's. The objective is
log PL(beta) - n * alpha / 2 * ||beta||^2, lifelines' for the same alpha on the same columns (lifelines first
standardises them; pass standardised columns to compare). Everything is matrix-vector products with X, so the
gradient costs O(nnz) whatever the number of covariates: Newton steps with the exact Hessian while the covariates
are few, L-BFGS on the gradient when they are many.

The guard lifelines lacks: a constant column is dropped (its coefficient is 0), and without a penalty exactly
collinear columns are found by a pivoted QR of their covariance and dropped too, each named in `dropped_` with the
reason. A likelihood with no finite maximum (a covariate that separates events from survivors) is refused with the
advice to add a penalty, never returned as a huge coefficient.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import qr
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from carelake.errors import ModelFitError, UserError
from carelake.evaluation.survival import Survival, survival_data
from carelake.evaluation.survival.likelihood import (
    RiskSets,
    breslow_baseline,
    no_maximum,
    partial_likelihood,
)
from carelake.evaluation.survival.likelihood import newton as newton_maximum

__all__ = ["CoxPH", "ModelFitError", "as_matrix", "read_target", "survival_target"]

F = npt.NDArray[np.float64]
Matrix = Any  # a dense array or a scipy sparse matrix
NEWTON_MAX_FEATURES = 400  # above this, the p x p Hessian costs more than L-BFGS's extra iterations


def survival_target(time: npt.ArrayLike, event: npt.ArrayLike) -> F:
    """The `y` survival models take: one row per person, (time, event 0/1)."""
    s = survival_data(time, event)
    return np.column_stack([s.time, s.event.astype(np.float64)])


def read_target(y: npt.ArrayLike) -> Survival:
    """A survival model's `y` back as follow-up, refused when it is malformed or holds no event."""
    target = np.asarray(y, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != 2:
        raise UserError("y must have two columns: time and event", hint="build it with survival_target")
    s = survival_data(target[:, 0], target[:, 1])
    if not s.event.any():
        raise ModelFitError("no events: a survival model has nothing to fit", hint="check the outcome cohort")
    return s


def as_matrix(X: Matrix, n_features: int | None = None) -> Any:  # noqa: N803 (scikit-learn's names)
    """Covariates as float CSR (sparse in) or a float array (dense in), with the fitted width if given."""
    x = sp.csr_matrix(X, dtype=np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    if n_features is not None and x.shape[1] != n_features:
        raise UserError(f"{x.shape[1]} columns for a model of {n_features}", hint="align the covariates")
    return x


class CoxPH(BaseEstimator):  # type: ignore[misc]
    """Ridge-penalised Cox model. `y`: `survival_target(time, event)`. `predict` gives the linear predictor (higher:
    earlier event); `predict_survival(X, times)` gives S(t | x) from Breslow's baseline hazard. `solver` "auto"
    takes Newton up to NEWTON_MAX_FEATURES covariates and L-BFGS above."""

    def __init__(
        self,
        alpha: float = 0.0,
        ties: Literal["efron", "breslow"] = "efron",
        max_iter: int = 200,
        tol: float = 1e-10,
        solver: Literal["auto", "newton", "lbfgs"] = "auto",
    ) -> None:
        self.alpha = alpha
        self.ties = ties
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver

    def _guard(self, x: Any) -> tuple[npt.NDArray[np.int64], dict[int, str]]:
        """Columns to keep, and the reason each dropped one went."""
        n = x.shape[0]
        mean = np.asarray(x.mean(axis=0)).ravel()
        sq = np.asarray(x.multiply(x).mean(axis=0) if sp.issparse(x) else (x * x).mean(axis=0)).ravel()
        var = np.maximum(sq - mean**2, 0.0)
        dropped = {int(j): "constant: the same value for every person" for j in np.flatnonzero(var <= 1e-12 * (1 + sq))}
        keep = np.flatnonzero(var > 1e-12 * (1 + sq))
        if self.alpha == 0 and keep.size > 1:
            sub = x[:, keep]
            gram = np.asarray((sub.T @ sub).todense() if sp.issparse(sub) else sub.T @ sub) / n
            cov = gram - np.outer(mean[keep], mean[keep])
            scale = np.sqrt(np.diag(cov))
            _, r, piv = qr(cov / np.outer(scale, scale), pivoting=True)
            rank = int(np.sum(np.abs(np.diag(r)) > 1e-9 * abs(r[0, 0])))
            for j in sorted(keep[piv[rank:]]):
                dropped[int(j)] = "collinear with other columns (a linear combination of them)"
            keep = np.sort(keep[piv[:rank]])
        return keep.astype(np.int64), dropped

    def fit(self, X: Matrix, y: npt.ArrayLike) -> CoxPH:  # noqa: N803 (scikit-learn's names)
        if self.ties not in ("efron", "breslow"):
            raise UserError(f"ties {self.ties!r}", hint="use efron or breslow")
        if self.solver not in ("auto", "newton", "lbfgs"):
            raise UserError(f"solver {self.solver!r}", hint="use auto, newton or lbfgs")
        s = read_target(y)
        x = as_matrix(X)
        if x.shape[0] != len(s):
            raise UserError(f"{x.shape[0]} rows of covariates for {len(s)} persons", hint="one row per person")
        keep, self.dropped_ = self._guard(x)
        sub = x[:, keep]
        risk = RiskSets(s.time, s.event, self.ties)
        n, p = sub.shape
        newton = self.solver == "newton" or (self.solver == "auto" and p <= NEWTON_MAX_FEATURES)
        if newton:
            beta, self.n_iter_ = newton_maximum(sub, risk, self.alpha, self.max_iter, self.tol)
        else:
            beta = self._lbfgs(sub, risk, n)
        coef = np.zeros(x.shape[1])
        coef[keep] = beta
        self.coef_ = coef
        self.n_features_in_ = x.shape[1]
        # Breslow's baseline cumulative hazard at the event times, for a linear predictor of 0.
        eta = np.asarray(sub @ beta, dtype=np.float64).ravel()
        self.baseline_time_ = risk.event_times
        self.baseline_cumulative_hazard_ = breslow_baseline(risk, eta)
        self.log_likelihood_ = partial_likelihood(sub, risk, beta, n, 0.0, False)[0]
        # The coefficients' covariance: the inverse of the (penalised) information at the fit, as lifelines reports
        # it; left out above NEWTON_MAX_FEATURES, where the p x p matrix is what the L-BFGS path avoids.
        self.covariance_: F | None = None
        if p <= NEWTON_MAX_FEATURES:
            info = partial_likelihood(sub, risk, beta, n, self.alpha, True)[2]
            assert info is not None
            cov = np.full((x.shape[1], x.shape[1]), np.nan)
            cov[np.ix_(keep, keep)] = np.linalg.inv(info)
            self.covariance_ = cov
        return self

    def schoenfeld_residuals(self, X: Matrix, y: npt.ArrayLike) -> tuple[F, F, npt.NDArray[np.int64]]:  # noqa: N803
        """(event times, residuals x_i - E[x | t_i] per event and kept covariate, the kept covariates' indices),
        the expectation Efron's average over the tied events' reduced risk sets."""
        s = read_target(y)
        x = as_matrix(X, self.n_features_in_)
        keep = np.array([j for j in range(self.n_features_in_) if j not in self.dropped_], dtype=np.int64)
        sub = x[:, keep]
        dense = np.asarray(sub.toarray() if sp.issparse(sub) else sub, dtype=np.float64)
        risk = RiskSets(s.time, s.event, self.ties)
        eta = dense @ self.coef_[keep]
        w = np.exp(eta - eta.max())
        s0, t0 = risk.sums(w)
        inside = risk.bin >= 0
        groups = sp.csr_matrix((w[inside], (risk.bin[inside], np.flatnonzero(inside))), shape=(s0.size, len(s)))
        s1 = np.asarray(groups @ dense)[::-1].cumsum(0)[::-1]
        ev = np.flatnonzero(s.event)
        t1 = np.asarray(sp.csr_matrix((w[ev], (risk.event_bin, ev)), shape=(s0.size, len(s))) @ dense)
        pb = risk.pair_bin
        share = (s1[pb] - risk.phi[:, None] * t1[pb]) / ((s0[pb] - risk.phi * t0[pb]) * risk.d[pb])[:, None]
        means = np.zeros_like(s1)
        np.add.at(means, pb, share)
        return s.time[ev], dense[ev] - means[risk.event_bin], keep

    def schoenfeld_test(
        self,
        X: Matrix,  # noqa: N803 (scikit-learn's names)
        y: npt.ArrayLike,
        transform: Literal["km", "rank", "identity", "log"] = "km",
    ) -> list[dict[str, Any]]:
        """The proportional-hazards check per covariate (Grambsch and Therneau's score test on scaled Schoenfeld
        residuals, the one-degree-of-freedom form lifelines and R's cox.zph report): does the covariate's effect
        drift with g(time)? g: 1 - Kaplan-Meier (R's default), the rank of the event (tied times share the average
        rank; lifelines numbers tied events in its own row order), time, or log time. On the training data."""
        from scipy.stats import chi2, rankdata

        from carelake.evaluation.survival import kaplan_meier_curve

        if self.covariance_ is None:
            raise UserError(f"no Schoenfeld test above {NEWTON_MAX_FEATURES} covariates", hint="use fewer covariates")
        t_ev, resid, keep = self.schoenfeld_residuals(X, y)
        s = read_target(y)
        cov = self.covariance_[np.ix_(keep, keep)]
        deaths = float(t_ev.size)
        scaled = deaths * resid @ cov
        if transform == "km":
            g = 1.0 - kaplan_meier_curve(s).at(t_ev)
        elif transform == "rank":
            g = np.asarray(rankdata(t_ev), dtype=np.float64)
        elif transform == "identity":
            g = t_ev
        elif transform == "log":
            g = np.log(t_ev)
        else:
            raise UserError(f"transform {transform!r}", hint="use km, rank, identity or log")
        centred = g - g.mean()
        stat = (centred @ scaled) ** 2 / (deaths * np.diag(cov) * float(centred @ centred))
        out: list[dict[str, Any]] = []
        for k, j in enumerate(keep.tolist()):
            out.append({"covariate": j, "statistic": float(stat[k]), "p": float(chi2.sf(stat[k], 1)),
                        "transform": transform})  # fmt: skip
        return out

    def hazard_ratios(self, names: list[str] | None = None, level: float = 0.95) -> list[dict[str, Any]]:
        """Per covariate: coefficient, hazard ratio, standard error, Wald z and p, and the interval at `level`
        (for the coefficient and the hazard ratio). A dropped column has no estimate and says why."""
        if self.covariance_ is None:
            raise UserError(f"no standard errors above {NEWTON_MAX_FEATURES} covariates",
                            hint="report hazard ratios of a model on fewer covariates")  # fmt: skip
        from scipy.stats import norm

        z_crit = float(norm.ppf(0.5 + level / 2))
        se = np.sqrt(np.diag(self.covariance_))
        out: list[dict[str, Any]] = []
        for j, (b, e) in enumerate(zip(self.coef_.tolist(), se.tolist(), strict=True)):
            name = names[j] if names else f"x{j}"
            if j in self.dropped_:
                out.append({"covariate": name, "note": f"dropped: {self.dropped_[j]}"})
                continue
            z = b / e
            out.append({
                "covariate": name, "coef": b, "hazard_ratio": float(np.exp(b)), "se": e, "z": z,
                "p": float(2 * norm.sf(abs(z))), "coef_lower": b - z_crit * e, "coef_upper": b + z_crit * e,
                "hr_lower": float(np.exp(b - z_crit * e)), "hr_upper": float(np.exp(b + z_crit * e)), "note": "",
            })  # fmt: skip
        return out

    def _lbfgs(self, x: Any, risk: RiskSets, n: int) -> F:
        def objective(beta: F) -> tuple[float, F]:
            ll, grad, _, _ = partial_likelihood(x, risk, beta, n, self.alpha, False)
            return -ll / n, -grad / n

        res = minimize(objective, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                       options={"maxiter": 50 * self.max_iter, "gtol": 1e-9, "ftol": 1e-15})  # fmt: skip
        beta = np.asarray(res.x, dtype=np.float64)
        if not res.success and np.max(np.abs(res.jac)) > 1e-5:
            raise ModelFitError(f"Cox model did not converge (L-BFGS: {res.message})",
                                hint="add or raise the penalty (alpha)")  # fmt: skip
        if np.max(np.abs(beta)) > 50:
            raise no_maximum()
        self.n_iter_ = int(res.nit)
        return beta

    def predict(self, X: Matrix) -> F:  # noqa: N803
        """The linear predictor x'beta: a risk score, higher for an earlier event."""
        return np.asarray(as_matrix(X, self.n_features_in_) @ self.coef_, dtype=np.float64).ravel()

    def cumulative_baseline_hazard(self, times: npt.ArrayLike) -> F:
        t = np.asarray(times, dtype=np.float64)
        k = np.searchsorted(self.baseline_time_, t, side="right") - 1
        return np.where(k >= 0, self.baseline_cumulative_hazard_[np.maximum(k, 0)], 0.0)

    def predict_survival(self, X: Matrix, times: npt.ArrayLike) -> F:  # noqa: N803
        """S(t | x) = exp(-H0(t) exp(x'beta)), one row per person and one column per time."""
        h0 = self.cumulative_baseline_hazard(np.atleast_1d(np.asarray(times, dtype=np.float64)))
        return np.exp(-np.exp(self.predict(X))[:, None] * h0[None, :])
