"""The Cox partial likelihood, its gradient and information, and Newton's method on it: one implementation shared by
the Cox model (models/cox.py), the held-out likelihood that chooses hyper-parameters, and the Cox regressions that
measure calibration at a horizon (evaluation/survival/calibration.py).

Ties by Efron's method or Breslow's. Everything is matrix-vector products with X, so the gradient costs O(nnz).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from carelake.errors import ModelFitError

__all__ = ["RiskSets", "breslow_baseline", "held_out_log_likelihood", "newton", "no_maximum", "partial_likelihood"]

F = npt.NDArray[np.float64]


class RiskSets:
    """The partial likelihood's pieces that do not depend on beta: persons binned by event time."""

    def __init__(self, time: F, event: npt.NDArray[np.bool_], ties: str) -> None:
        self.event = event
        event_times, d = np.unique(time[event], return_counts=True)
        self.event_times, self.d = event_times, d.astype(np.float64)
        # Bin of a person: the latest event time at or before their own (-1: before every event, in no risk set).
        self.bin = np.searchsorted(event_times, time, side="right") - 1
        # The event time of each event, as a bin.
        self.event_bin = np.searchsorted(event_times, time[event])
        # Efron: the l-th of d tied events sees the tied persons' weight reduced by l/d; Breslow: not at all.
        self.pair_bin = np.repeat(np.arange(event_times.size), d)
        start = np.r_[0, np.cumsum(d)[:-1]]
        within = np.arange(self.pair_bin.size) - np.repeat(start, d)
        self.phi = within / np.repeat(self.d, d) if ties == "efron" else np.zeros(self.pair_bin.size)

    def sums(self, w: F) -> tuple[F, F]:
        """S0 at each event time (weight of the risk set) and T0 (weight of the tied events)."""
        in_set = self.bin >= 0
        per_bin = np.bincount(self.bin[in_set], weights=w[in_set], minlength=self.event_times.size)
        s0 = np.asarray(per_bin[::-1].cumsum()[::-1], dtype=np.float64)
        t0 = np.bincount(self.event_bin, weights=w[self.event], minlength=self.event_times.size).astype(np.float64)
        return s0, t0

    def log_likelihood(self, eta: F) -> tuple[float, F, F, F]:
        """log PL of linear predictors `eta` (unpenalised), and what its derivatives reuse: the shifted weights
        exp(eta - max), S0 and Efron's denominators."""
        shift = eta.max()
        w = np.exp(eta - shift)
        s0, t0 = self.sums(w)
        denom = s0[self.pair_bin] - self.phi * t0[self.pair_bin]
        return float(eta[self.event].sum() - np.sum(np.log(denom) + shift)), w, s0, denom


def partial_likelihood(
    x: Any, risk: RiskSets, beta: F, n: int, alpha: float, hessian: bool
) -> tuple[float, F, F | None, F]:
    """(penalised log PL, its gradient, its information matrix (minus the Hessian) if asked, the linear predictor)."""
    eta = np.asarray(x @ beta, dtype=np.float64).ravel()
    ll, w, s0, denom = risk.log_likelihood(eta)
    ll -= 0.5 * n * alpha * float(beta @ beta)
    a = np.bincount(risk.pair_bin, weights=1.0 / denom, minlength=s0.size)
    b = np.bincount(risk.pair_bin, weights=risk.phi / denom, minlength=s0.size)
    big_a = np.cumsum(a)  # a person in bin j is in the risk sets of event times 0..j
    coef_all = np.where(risk.bin >= 0, w * big_a[np.maximum(risk.bin, 0)], 0.0)
    coef_tied = np.zeros(n)
    coef_tied[risk.event] = w[risk.event] * b[risk.event_bin]
    weights = coef_all - coef_tied
    grad = np.asarray(x.T @ (risk.event.astype(np.float64) - weights), dtype=np.float64).ravel() - n * alpha * beta
    if not hessian:
        return ll, grad, None, eta
    h = np.asarray((x.T @ sp.diags(weights) @ x).toarray() if sp.issparse(x) else (x.T * weights) @ x, dtype=np.float64)
    # Minus the outer products of the weighted means: S1 and T1 at each event time, expanded to Efron's pairs.
    in_set = risk.bin >= 0
    groups = sp.csr_matrix((w[in_set], (risk.bin[in_set], np.flatnonzero(in_set))), shape=(s0.size, n))
    s1 = np.asarray((groups @ x).todense() if sp.issparse(x) else groups @ x)[::-1].cumsum(0)[::-1]
    ev = np.flatnonzero(risk.event)
    tied = sp.csr_matrix((w[ev], (risk.event_bin, ev)), shape=(s0.size, n))
    t1 = np.asarray((tied @ x).todense() if sp.issparse(x) else tied @ x)
    num = (s1[risk.pair_bin] - risk.phi[:, None] * t1[risk.pair_bin]) / denom[:, None]
    h = h - num.T @ num
    h[np.diag_indices_from(h)] += n * alpha
    return ll, grad, h, eta


def no_maximum() -> ModelFitError:
    return ModelFitError(
        "the Cox partial likelihood has no finite maximum: a covariate (or a combination) separates the "
        "persons with events from the others",
        hint="add a penalty (alpha > 0), or remove the covariate that predicts the outcome perfectly",
    )


def newton(x: Any, risk: RiskSets, alpha: float = 0.0, max_iter: int = 200, tol: float = 1e-10) -> tuple[F, int]:
    """The maximum of the penalised partial likelihood by damped Newton steps, and the steps taken; a likelihood
    without a finite maximum (separation) is refused, never returned as a huge coefficient."""
    n = x.shape[0]
    beta = np.zeros(x.shape[1])
    if beta.size == 0:  # every column dropped (constant): the null model, nothing to fit
        return beta, 0
    ll, grad, info, _ = partial_likelihood(x, risk, beta, n, alpha, True)
    stalled = 0
    for it in range(max_iter):
        assert info is not None
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as e:
            raise no_maximum() from e
        t = 1.0
        while True:  # halve the step until the likelihood rises
            cand = beta + t * step
            ll_new, g_new, info_new, _ = partial_likelihood(x, risk, cand, n, alpha, True)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            t /= 2
            if t < 1e-10:
                raise no_maximum()
        flat = abs(ll_new - ll) <= tol * (1 + abs(ll))
        moved = float(np.max(np.abs(t * step)))
        converged = flat and moved < 1e-7
        # The monotone likelihood's signature (R's "Loglik converged before variable"): the likelihood no
        # longer rises, yet full Newton steps keep going, toward an infinite coefficient.
        stalled = stalled + 1 if flat and moved > 0.1 else 0
        beta, ll, grad, info = np.asarray(cand, dtype=np.float64), ll_new, g_new, info_new
        if stalled >= 3 or np.max(np.abs(beta)) > 50:
            raise no_maximum()
        if converged:
            return beta, it + 1
    raise ModelFitError(f"Cox model did not converge in {max_iter} Newton steps",
                        hint="raise max_iter, or add a penalty (alpha > 0)")  # fmt: skip


def breslow_baseline(risk: RiskSets, eta: F) -> F:
    """Breslow's baseline cumulative hazard at `risk.event_times`, for a linear predictor of 0."""
    shift = float(eta.max())
    s0, _ = risk.sums(np.exp(eta - shift))
    return np.asarray(np.cumsum(risk.d / s0) * np.exp(-shift), dtype=np.float64)


def held_out_log_likelihood(time: F, event: npt.NDArray[np.bool_], eta: F, ties: str = "efron") -> float:
    """The partial log-likelihood of scores `eta` on persons no model saw, per event (risk sets among them):
    a proper score for choosing a survival model's hyper-parameters, as log loss is for a classifier."""
    risk = RiskSets(time, event, ties)
    if not event.any():
        return float("nan")
    return risk.log_likelihood(np.asarray(eta, dtype=np.float64))[0] / float(event.sum())
