"""Evaluating predicted cumulative incidence when a competing event (death, most often) can pre-empt the outcome.

Follow-up ends with a cause: 0 censored, 1 the event of interest, 2 a competing event.
- `wolbers_c`: the concordance of Wolbers et al. (Epidemiology 2009). A pair is comparable when one person has the
  event of interest first, or the other had a competing event at any time, which pre-empts the outcome for good.
  Ties in risk count 1/2. Pairs tied in time are not comparable unless the other is censored or competing, as for
  Harrell's C.
- `competing_auc`: the cumulative/dynamic AUC at t of Blanche, Dartigues and Jacqmin-Gadda (Stat Med 2013),
  "definition 2". Cases have the event of interest by t; controls are everyone else: event-free after t, or a
  competing event by t. IPCW weights use the censoring distribution G of the training part: 1/G(T) for events of
  either cause by t, 1/G(t) for those followed past t.
- `competing_brier`: the IPCW Brier score of F_1(t | x) with the same weights (Schoop et al. 2011).
With no competing event they are Harrell's C, the cumulative/dynamic AUC and the Brier score of 1 - S, and the
tests hold them to exactly that.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival.data import Survival, scores
from carelake.evaluation.survival.product_limit import censoring_distribution

__all__ = ["causes", "competing_auc", "competing_brier", "wolbers_c"]

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741
_CHUNK = 512


def causes(values: npt.ArrayLike, n: int) -> I:
    """One cause per person: 0 censored, 1 the event of interest, 2 a competing event."""
    c = np.asarray(values).ravel()
    if c.size != n or not np.isin(c, (0, 1, 2)).all():
        raise UserError("give one cause per person: 0 censored, 1 the event of interest, 2 a competing event",
                        hint="code follow-up's end as 0, 1 or 2")  # fmt: skip
    return c.astype(np.int64)


def _censoring(train_time: F, train_cause: I) -> Survival:
    """The training part's follow-up with censoring as the 'event' G is estimated from (either cause ends it)."""
    return Survival(train_time, train_cause > 0)


def wolbers_c(time: npt.ArrayLike, cause: npt.ArrayLike, risk: npt.ArrayLike, tau: float | None = None) -> float:
    """Wolbers' C of `risk` (higher: the event of interest sooner) up to `tau` (default: all of follow-up)."""
    t = np.asarray(time, dtype=np.float64)
    c = causes(cause, t.size)
    r = scores(risk, t.size)
    cases = np.flatnonzero((c == 1) & (t <= (np.inf if tau is None else tau)))
    concordant = 0.0
    pairs = 0
    for start in range(0, cases.size, _CHUNK):
        i = cases[start : start + _CHUNK]
        ti, ri = t[i][:, None], r[i][:, None]
        comparable = (t[None, :] > ti) | ((t[None, :] == ti) & (c[None, :] == 0)) | (c[None, :] == 2)
        concordant += float(np.sum(comparable & (r[None, :] < ri)) + 0.5 * np.sum(comparable & (r[None, :] == ri)))
        pairs += int(comparable.sum())
    if pairs == 0:
        raise NotEstimable("Wolbers' C is not estimable: no comparable pairs (no event of interest)")
    return concordant / pairs


def _weights(train_time: F, train_cause: I, t: F, c: I, horizon: float) -> F:
    if horizon >= float(t.max()):
        raise NotEstimable(f"not estimable at {horizon:g}: it lies beyond the follow-up (the last at {t.max():g})",
                           hint="evaluate at times the persons were followed")  # fmt: skip
    g = censoring_distribution(_censoring(train_time, train_cause))
    by = (t <= horizon) & (c > 0)
    g_t = np.ones(t.size)
    g_t[by] = g.at(t[by])  # G only where a weight needs it: later follow-up may lie beyond its support
    with np.errstate(divide="ignore"):
        w = np.where(by, 1.0 / g_t, 0.0) + np.where(t > horizon, 1.0 / g.at(np.array([horizon]))[0], 0.0)
    if not np.isfinite(w).all():
        raise NotEstimable(f"not estimable at {horizon:g}: the censoring distribution reaches 0 before an event by "
                           "then", hint="choose a horizon before the last censoring")  # fmt: skip
    return np.asarray(w, dtype=np.float64)


def _inputs(
    train_time: npt.ArrayLike,
    train_cause: npt.ArrayLike,
    time: npt.ArrayLike,
    cause: npt.ArrayLike,
    incidence: npt.ArrayLike,
    horizon: float,
) -> tuple[F, I, F, F]:
    """Test times, causes, predicted incidences (checked to lie in [0, 1]) and IPCW weights at the horizon."""
    tt, t = np.asarray(train_time, dtype=np.float64), np.asarray(time, dtype=np.float64)
    tc, c = causes(train_cause, tt.size), causes(cause, t.size)
    f = scores(incidence, t.size, "predicted incidences")
    if (f < 0).any() or (f > 1).any():
        raise UserError("predicted incidences must lie in [0, 1]", hint="pass F_1(t | x), not scores")
    return t, c, f, _weights(tt, tc, t, c, horizon)


def competing_auc(
    train_time: npt.ArrayLike,
    train_cause: npt.ArrayLike,
    time: npt.ArrayLike,
    cause: npt.ArrayLike,
    incidence: npt.ArrayLike,
    horizon: float,
) -> float:
    """AUC at `horizon` of predicted incidence F_1(horizon | x) (Blanche's definition 2 of controls)."""
    t, c, f, w = _inputs(train_time, train_cause, time, cause, incidence, horizon)
    case = (c == 1) & (t <= horizon)
    control = (t > horizon) | ((c == 2) & (t <= horizon))
    if not case.any() or not control.any():
        raise NotEstimable(f"AUC at {horizon:g} is not estimable: {'no' if not case.any() else 'only'} events of "
                           "interest by then")  # fmt: skip
    order = np.argsort(f[control], kind="stable")
    ctrl_f, ctrl_w = f[control][order], w[control][order]
    cum = np.r_[0.0, np.cumsum(ctrl_w)]
    below = cum[np.searchsorted(ctrl_f, f[case], side="left")]
    tied = cum[np.searchsorted(ctrl_f, f[case], side="right")] - below
    return float(np.sum(w[case] * (below + 0.5 * tied)) / (w[case].sum() * ctrl_w.sum()))


def competing_brier(
    train_time: npt.ArrayLike,
    train_cause: npt.ArrayLike,
    time: npt.ArrayLike,
    cause: npt.ArrayLike,
    incidence: npt.ArrayLike,
    horizon: float,
) -> float:
    """The IPCW Brier score at `horizon` of predicted incidence F_1(horizon | x)."""
    t, c, f, w = _inputs(train_time, train_cause, time, cause, incidence, horizon)
    happened = ((c == 1) & (t <= horizon)).astype(np.float64)
    return float(np.mean(w * (happened - f) ** 2))
