"""One survival model's evaluation on the test and training parts, as tables that name their estimators.

    evaluationStatistics    per part: persons, events, Harrell's C (with a bootstrap interval on the first part),
                            Uno's C (tau: the last horizon), and at each
                            horizon the cumulative/dynamic AUC, the Brier score, the calibration slope, ICI and E90,
                            observed (Kaplan-Meier) and mean predicted risk; the integrated Brier score over the
                            horizons; each row's `note` names the estimator, tau and the handling of ties
    survivalCalibration     per part, horizon and risk decile: persons, events by t, censored before t, mean predicted
                            risk, Kaplan-Meier risk and its 95% interval
    survivalCurves          test part: Kaplan-Meier survival every 30 days per third of predicted risk, with persons
                            still at risk (the curves a reader checks a risk score by)
    timeDependentMetrics    test part: AUC and Brier score on a grid of times up to the last horizon
    subgroupStatistics      test part, per subgroup level: persons, events, Harrell's C, observed and predicted risk at
                            the main horizon (the middle one)

A figure that cannot be estimated (no event by a horizon, a horizon beyond follow-up) has no value and its note says
why; the rest is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.errors import CarelakeError, UserError
from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import (
    Survival,
    brier_scores,
    cumulative_dynamic_auc,
    harrell_c,
    integrated_brier_score,
    uno_c,
)
from carelake.evaluation.survival.calibration import (
    HorizonCalibration,
    horizon_calibration,
    kaplan_meier_at,
    risk_groups,
)

__all__ = [
    "CURVE_STEP",
    "DEFINITIONS",
    "RISK_THIRDS",
    "Rows",
    "SurvivalPart",
    "evaluate_survival_parts",
    "main_horizon",
    "thirds",
    "time_grid",
]

F = npt.NDArray[np.float64]
CURVE_STEP = 30  # days between the points of the survival curves
GRID_POINTS = 24
RISK_THIRDS = ("low", "middle", "high")

# What each figure is, as the tables' notes say it.
DEFINITIONS = {
    "Harrell's C": "Harrell's C over comparable pairs (the earlier time an event); tied risks count 1/2, pairs "
    "tied in time are not comparable unless one is an event and the other censored (scikit-survival's convention)",
    "Uno's C": "Uno's C with inverse-probability-of-censoring weights (Kaplan-Meier of the training part's "
    "censoring), tau = {tau} days; ties as Harrell's",
    "time-dependent AUC": "cumulative/dynamic AUC (Uno 2007): cases have the event by t (IPCW-weighted), controls "
    "are event-free after t; tied risks count 1/2",
    "Brier score": "IPCW Brier score (Graf 1999), censoring weights from the training part's Kaplan-Meier",
    "integrated Brier score": "the Brier score integrated over {start}-{stop} days (trapezoids on {points} times), "
    "divided by the range",
    "calibration slope": "Cox regression of follow-up censored at t on log(-log(1 - predicted risk)); 1 is "
    "calibrated; Efron's ties",
    "ICI": "integrated calibration index (Austin 2020): mean |predicted - observed| with observed from a Cox "
    "regression on a restricted cubic spline (3 knots) of log(-log(1 - predicted risk))",
    "E90": "90th percentile of |predicted - observed| (as ICI)",
    "observed risk": "Kaplan-Meier risk 1 - S(t)",
    "mean predicted risk": "mean of 1 - S(t | x)",
}


@dataclass(frozen=True)
class SurvivalPart:
    """One evaluation part: follow-up, scores f(x), predicted survival on `times`, and each subgroup's levels."""

    name: str
    follow_up: Survival
    score: F
    times: F  # increasing; holds every horizon
    survival: F  # (persons, times)
    subgroups: Mapping[str, npt.NDArray[np.object_]]

    def risk_at(self, horizon: float) -> F:
        return np.asarray(1.0 - self.survival[:, int(np.searchsorted(self.times, horizon))], dtype=np.float64)


def time_grid(horizons: tuple[int, ...]) -> F:
    """The times survival is predicted at: an even grid from the first to the last horizon, with every horizon."""
    first, last = float(horizons[0]), float(horizons[-1])
    grid = np.linspace(first, last, GRID_POINTS) if last > first else np.array([first])
    return np.unique(np.r_[np.round(grid), np.asarray(horizons, dtype=np.float64)])


def main_horizon(horizons: tuple[int, ...]) -> int:
    """The horizon the subgroup figures and the headline calibration use: the middle one."""
    return int(horizons[len(horizons) // 2])


class Rows:
    """evaluationStatistics rows, one figure at a time; an estimate that fails becomes a row without a value."""

    def __init__(self, notes: list[str]) -> None:
        self.rows: list[dict[str, Any]] = []
        self.notes = notes

    def add(self, part: str, metric: str, note: str, compute: Callable[..., float], *args: Any) -> None:
        try:
            value: float | None = float(compute(*args))
            if value is not None and not np.isfinite(value):
                value, note = None, f"not estimable: {note}"
        except (NotEstimable, UserError) as e:
            value, note = None, f"not estimable: {e.message}"
            self.notes.append(f"{part}: {metric}: {e.message}")
        self.rows.append({"evaluation": part, "metric": metric, "value": value, "note": note})


def _count(s: Survival, events: bool) -> float:
    return float(s.event.sum() if events else len(s))


def _harrell(s: Survival, score: F) -> float:
    return harrell_c(s, score).c


def _uno(train: Survival, s: Survival, score: F, tau: float) -> float:
    return uno_c(train, s, score, tau).c


def _auc(train: Survival, s: Survival, risk: F, h: float) -> float:
    return cumulative_dynamic_auc(train, s, risk, [h]).mean


def _brier(train: Survival, s: Survival, survival: F, h: float) -> float:
    return float(brier_scores(train, s, survival, [h])[1][0])


def _observed(s: Survival, h: float) -> float:
    return 1.0 - kaplan_meier_at(s, h)[0]


def _mean(values: F) -> float:
    return float(values.mean())


def _c_interval(s: Survival, score: F, resamples: int, seed: int, bound: int) -> float:
    """A bound (0 lower, 1 upper) of the 95% person-level bootstrap percentile interval of Harrell's C; not
    estimable when fewer than half the resamples have a comparable pair."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        draw = rng.integers(0, len(s), len(s))
        try:
            values.append(harrell_c(Survival(s.time[draw], s.event[draw]), score[draw]).c)
        except (NotEstimable, UserError):
            continue
    if len(values) * 2 < resamples:
        raise NotEstimable(f"the interval is not estimable: {resamples - len(values)} of {resamples} resamples "
                           "gave none")  # fmt: skip
    return float(np.percentile(values, [2.5, 97.5])[bound])


def _statistics(
    rows: Rows, part: SurvivalPart, train: Survival, horizons: tuple[int, ...], resamples: int = 0, seed: int = 0
) -> None:
    s, name = part.follow_up, part.name
    rows.add(name, "populationSize", "persons", _count, s, False)
    rows.add(name, "outcomeCount", "persons whose follow-up ended in the event", _count, s, True)
    rows.add(name, "Harrell's C", DEFINITIONS["Harrell's C"], _harrell, s, part.score)
    if resamples:
        note = f"person-level bootstrap percentile interval, {resamples} resamples (seed {seed})"
        for bound, label in ((0, "lower"), (1, "upper")):
            rows.add(name, f"95% {label} Harrell's C", note, _c_interval, s, part.score, resamples, seed, bound)
    tau = float(horizons[-1])
    rows.add(name, "Uno's C", DEFINITIONS["Uno's C"].format(tau=int(tau)), _uno, train, s, part.score, tau)
    for h in horizons:
        risk = part.risk_at(h)
        col = int(np.searchsorted(part.times, h))
        rows.add(name, f"time-dependent AUC at {h} days", DEFINITIONS["time-dependent AUC"], _auc, train, s, risk, h)
        rows.add(name, f"Brier score at {h} days", DEFINITIONS["Brier score"], _brier, train, s,
                 part.survival[:, [col]], h)  # fmt: skip
        calibration = _calibration(s, risk, h)
        for metric, value in (("calibration slope", "slope"), ("ICI", "ici"), ("E90", "e90"),
                              ("observed risk", "observed"), ("mean predicted risk", "predicted")):  # fmt: skip
            rows.add(name, f"{metric} at {h} days", DEFINITIONS[metric], _field, calibration, value)
    if len(horizons) > 1:
        inside = (part.times >= horizons[0]) & (part.times <= horizons[-1])
        note = DEFINITIONS["integrated Brier score"].format(start=horizons[0], stop=horizons[-1], points=inside.sum())
        rows.add(name, "integrated Brier score", note, integrated_brier_score, train, s, part.survival[:, inside],
                 part.times[inside])  # fmt: skip


def _calibration(s: Survival, risk: F, horizon: int) -> HorizonCalibration | CarelakeError:
    try:
        return horizon_calibration(s, risk, float(horizon))
    except (NotEstimable, UserError) as e:
        return e


def _field(calibration: HorizonCalibration | CarelakeError, name: str) -> float:
    if isinstance(calibration, CarelakeError):
        raise calibration
    value = float(getattr(calibration, name))
    if not np.isfinite(value):
        raise NotEstimable(calibration.reason or "not estimable")
    return value


def _calibration_table(part: SurvivalPart, horizons: tuple[int, ...], groups: int) -> list[dict[str, Any]]:
    out = []
    for h in horizons:
        if h >= part.follow_up.time.max():
            continue  # beyond follow-up: the statistics table says why

        for g in risk_groups(part.follow_up, part.risk_at(h), float(h), groups):
            out.append({"evaluation": part.name, "horizon": h, "riskGroup": g.group, "PersonCount": g.persons,
                        "EventCount": g.events, "CensoredCount": g.censored, "predictedRisk": g.predicted,
                        "observedRisk": g.observed, "observedLower": g.lower, "observedUpper": g.upper})  # fmt: skip
    return out


def thirds(risk: F) -> npt.NDArray[np.int64]:
    """0, 1, 2: the low, middle and high third of predicted risk (the survival and incidence curves' groups)."""
    edges = np.quantile(risk, [1 / 3, 2 / 3])
    return np.asarray(np.searchsorted(edges, risk, side="right"), dtype=np.int64)


def _curves(part: SurvivalPart, horizons: tuple[int, ...]) -> list[dict[str, Any]]:
    s = part.follow_up
    third = thirds(part.risk_at(horizons[-1]))
    stop = min(float(s.time.max()), float(horizons[-1]))
    times = np.arange(0.0, stop + 1, CURVE_STEP)
    out = []
    for k, label in enumerate(RISK_THIRDS):
        inside = third == k
        if not inside.any():
            continue
        group = Survival(s.time[inside], s.event[inside])
        for t in times:
            surv, lo, hi = kaplan_meier_at(group, float(t)) if t > 0 else (1.0, float("nan"), float("nan"))
            out.append({"evaluation": part.name, "riskGroup": label, "time": int(t), "survival": surv,
                        "lower": lo, "upper": hi, "atRisk": int((group.time >= t).sum())})  # fmt: skip
    return out


def _time_metrics(part: SurvivalPart, train: Survival, notes: list[str]) -> list[dict[str, Any]]:
    s = part.follow_up
    usable = (part.times >= s.time.min()) & (part.times < s.time.max())
    out = []
    for k in np.flatnonzero(usable):
        t = float(part.times[k])
        try:
            auc: float | None = cumulative_dynamic_auc(train, s, 1.0 - part.survival[:, k], [t]).mean
        except NotEstimable:
            auc = None
        try:
            brier: float | None = float(brier_scores(train, s, part.survival[:, [k]], [t])[1][0])
        except NotEstimable:
            brier = None
        out.append({"evaluation": part.name, "time": int(t), "AUC": auc, "brierScore": brier})
    if not usable.all():
        notes.append(f"{part.name}: time-dependent figures shown up to {int(s.time.max())} days, the last follow-up")
    return out


def _subgroups(part: SurvivalPart, horizon: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for subgroup, levels in part.subgroups.items():
        for level in sorted({str(v) for v in levels}):
            inside = np.asarray([str(v) == level for v in levels])
            s = Survival(part.follow_up.time[inside], part.follow_up.event[inside])
            risk = part.risk_at(horizon)[inside]
            rows = Rows([])
            rows.add(part.name, "populationSize", "persons", _count, s, False)
            rows.add(part.name, "outcomeCount", "persons whose follow-up ended in the event", _count, s, True)
            rows.add(part.name, "Harrell's C", DEFINITIONS["Harrell's C"], _harrell, s, part.score[inside])
            rows.add(part.name, f"observed risk at {horizon} days", DEFINITIONS["observed risk"], _observed, s,
                     float(horizon))  # fmt: skip
            rows.add(part.name, f"mean predicted risk at {horizon} days", DEFINITIONS["mean predicted risk"], _mean,
                     risk)  # fmt: skip
            out += [{"subgroup": subgroup, "level": level, **r} for r in rows.rows]
    return [{"evaluation": r["evaluation"], "subgroup": r["subgroup"], "level": r["level"], "metric": r["metric"],
             "value": r["value"], "note": r["note"]} for r in out]  # fmt: skip


def _table(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    if not rows:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.Table.from_pylist(rows)


def evaluate_survival_parts(
    parts: list[SurvivalPart],
    train: Survival,
    horizons: tuple[int, ...],
    calibration_groups: int,
    bootstrap: int = 0,
    seed: int = 0,
) -> tuple[dict[str, pa.Table], list[str]]:
    """The tables above for each part (curves, time-dependent figures and subgroups for the first: the part the
    report leads with), and notes on what was not estimable. `train`: the training part's follow-up, whose censoring
    distribution weights Uno's C, the AUC and the Brier score. `bootstrap` resamples give the first part's Harrell's
    C an interval."""
    notes: list[str] = []
    rows = Rows(notes)
    calibration: list[dict[str, Any]] = []
    for k, part in enumerate(parts):
        _statistics(rows, part, train, horizons, bootstrap if k == 0 else 0, seed)
        calibration += _calibration_table(part, horizons, calibration_groups)
    lead = parts[0]
    tables = {
        "evaluationStatistics": _table(rows.rows, ["evaluation", "metric", "value", "note"]),
        "survivalCalibration": _table(calibration, ["evaluation", "horizon", "riskGroup"]),
        "survivalCurves": _table(_curves(lead, horizons), ["evaluation", "riskGroup", "time"]),
        "timeDependentMetrics": _table(_time_metrics(lead, train, notes), ["evaluation", "time"]),
        "subgroupStatistics": _table(_subgroups(lead, main_horizon(horizons)), ["evaluation", "subgroup", "level"]),
    }
    return tables, notes
