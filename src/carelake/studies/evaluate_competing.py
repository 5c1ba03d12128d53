"""One competing-risks model's evaluation: predicted cumulative incidence of the outcome, with the competing event
taken as pre-empting it, on the test and training parts.

    evaluationStatistics    per part: persons, outcomes, competing events, Wolbers' C (tau: the last horizon), and at
                            each horizon Blanche's AUC(t), the IPCW Brier score, the Aalen-Johansen incidence and the
                            mean predicted incidence; each row's note names the estimator
    incidenceCalibration    per part, horizon and risk decile: persons, outcomes and competing events by t, censored
                            before t, mean predicted and Aalen-Johansen incidence
    incidenceCurves         test part: Aalen-Johansen incidence of the outcome every 30 days per third of predicted
                            incidence, with persons still at risk
    subgroupStatistics      test part, per subgroup level: persons, outcomes, Wolbers' C, observed and predicted
                            incidence at the main horizon

The censoring distribution behind the weights is the training part's (censored: neither event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import cumulative_incidence
from carelake.evaluation.survival.calibration import quantile_groups
from carelake.evaluation.survival.competing import competing_auc, competing_brier, wolbers_c
from carelake.studies.evaluate_survival import CURVE_STEP, RISK_THIRDS, Rows, main_horizon, thirds

__all__ = ["COMPETING_DEFINITIONS", "CompetingPart", "evaluate_competing_parts"]

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741

COMPETING_DEFINITIONS = {
    "Wolbers' C": "Wolbers' C (2009): a pair is comparable when one has the outcome first, or the other had the "
    "competing event at any time; tied risks count 1/2; tau = {tau} days",
    "time-dependent AUC": "cumulative/dynamic AUC of predicted incidence (Blanche 2013, definition 2): cases have "
    "the outcome by t, controls are event-free after t or had the competing event by t; IPCW weights from the "
    "training part's censoring",
    "Brier score": "IPCW Brier score of the predicted incidence at t (Schoop 2011), weights as the AUC's",
    "observed incidence": "Aalen-Johansen cumulative incidence of the outcome, the competing event as competing",
    "mean predicted incidence": "mean of F_1(t | x) from the cause-specific hazards",
}


@dataclass(frozen=True)
class CompetingPart:
    """One part: times, causes (0 censored, 1 outcome, 2 competing), the outcome model's score f_1(x), predicted
    incidence of the outcome at each horizon (columns), and each subgroup's levels."""

    name: str
    time: F
    cause: I
    score: F
    incidence: F  # (persons, horizons)
    subgroups: Mapping[str, npt.NDArray[np.object_]]


def _count(cause: I, k: int | None) -> float:
    return float(cause.size if k is None else (cause == k).sum())


def _incidence(time: F, cause: I, h: float) -> float:
    """Aalen-Johansen incidence of the outcome at h (where it ended, past the group's last follow-up)."""
    if not (cause > 0).any():
        return 0.0
    return float(cumulative_incidence(time, cause, 1).at([h])[0])


def _observed(time: F, cause: I, h: float) -> float:
    """The incidence at h of a whole part or subgroup, refused beyond its follow-up."""
    if h >= float(time.max()):
        raise NotEstimable(f"not estimable at {h:g}: it lies beyond the follow-up (the last at {time.max():g})")
    return _incidence(time, cause, h)


def _mean(values: F) -> float:
    return float(values.mean())


def _statistics(rows: Rows, part: CompetingPart, train: tuple[F, I], horizons: tuple[int, ...]) -> None:
    t, c, name = part.time, part.cause, part.name
    rows.add(name, "populationSize", "persons", _count, c, None)
    rows.add(name, "outcomeCount", "persons whose follow-up ended in the outcome", _count, c, 1)
    rows.add(name, "competingCount", "persons whose follow-up ended in a competing event", _count, c, 2)
    tau = float(horizons[-1])
    rows.add(name, "Wolbers' C", COMPETING_DEFINITIONS["Wolbers' C"].format(tau=int(tau)), wolbers_c, t, c,
             part.incidence[:, -1], tau)  # fmt: skip
    for k, h in enumerate(horizons):
        f = part.incidence[:, k]
        rows.add(name, f"time-dependent AUC at {h} days", COMPETING_DEFINITIONS["time-dependent AUC"], competing_auc,
                 *train, t, c, f, float(h))  # fmt: skip
        rows.add(name, f"Brier score at {h} days", COMPETING_DEFINITIONS["Brier score"], competing_brier, *train, t,
                 c, f, float(h))  # fmt: skip
        rows.add(name, f"observed incidence at {h} days", COMPETING_DEFINITIONS["observed incidence"], _observed, t,
                 c, float(h))  # fmt: skip
        rows.add(name, f"mean predicted incidence at {h} days", COMPETING_DEFINITIONS["mean predicted incidence"],
                 _mean, f)  # fmt: skip


def _calibration(part: CompetingPart, horizons: tuple[int, ...], groups: int) -> list[dict[str, Any]]:
    out = []
    for k, h in enumerate(horizons):
        if h >= part.time.max():
            continue  # beyond follow-up: the statistics table says why
        f = part.incidence[:, k]
        group = quantile_groups(f, groups)
        for g in np.unique(group):
            inside = group == g
            t, c = part.time[inside], part.cause[inside]
            out.append({"evaluation": part.name, "horizon": h, "riskGroup": int(g), "PersonCount": int(inside.sum()),
                        "EventCount": int(((c == 1) & (t <= h)).sum()),
                        "CompetingCount": int(((c == 2) & (t <= h)).sum()),
                        "CensoredCount": int(((c == 0) & (t < h)).sum()), "predictedRisk": float(f[inside].mean()),
                        "observedRisk": _incidence(t, c, float(h)), "observedLower": None,
                        "observedUpper": None})  # fmt: skip
    return out


def _curves(part: CompetingPart, horizons: tuple[int, ...]) -> list[dict[str, Any]]:
    f = part.incidence[:, -1]
    third = thirds(f)
    stop = min(float(part.time.max()), float(horizons[-1]))
    out = []
    for k, label in enumerate(RISK_THIRDS):
        inside = third == k
        if not inside.any():
            continue
        t, c = part.time[inside], part.cause[inside]
        curve = cumulative_incidence(t, c, 1) if (c > 0).any() else None
        for day in np.arange(0.0, stop + 1, CURVE_STEP):
            value = float(curve.at([day])[0]) if curve is not None and day > 0 else 0.0
            out.append({"evaluation": part.name, "riskGroup": label, "time": int(day), "incidence": value,
                        "atRisk": int((t >= day).sum())})  # fmt: skip
    return out


def _subgroups(part: CompetingPart, horizons: tuple[int, ...]) -> list[dict[str, Any]]:
    h = main_horizon(horizons)
    k = horizons.index(h)
    out: list[dict[str, Any]] = []
    for subgroup, levels in part.subgroups.items():
        for level in sorted({str(v) for v in levels}):
            inside = np.asarray([str(v) == level for v in levels])
            t, c, f = part.time[inside], part.cause[inside], part.incidence[inside]
            rows = Rows([])
            rows.add(part.name, "populationSize", "persons", _count, c, None)
            rows.add(part.name, "outcomeCount", "persons whose follow-up ended in the outcome", _count, c, 1)
            rows.add(part.name, "Wolbers' C", COMPETING_DEFINITIONS["Wolbers' C"].format(tau=horizons[-1]),
                     wolbers_c, t, c, f[:, -1], float(horizons[-1]))  # fmt: skip
            rows.add(part.name, f"observed incidence at {h} days", COMPETING_DEFINITIONS["observed incidence"],
                     _observed, t, c, float(h))  # fmt: skip
            rows.add(part.name, f"mean predicted incidence at {h} days",
                     COMPETING_DEFINITIONS["mean predicted incidence"], _mean, f[:, k])  # fmt: skip
            out += [{"evaluation": r["evaluation"], "subgroup": subgroup, "level": level, "metric": r["metric"],
                     "value": r["value"], "note": r["note"]} for r in rows.rows]  # fmt: skip
    return out


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows) if rows else pa.table({"evaluation": pa.array([], pa.string())})


def evaluate_competing_parts(
    parts: list[CompetingPart], train: tuple[F, I], horizons: tuple[int, ...], calibration_groups: int
) -> tuple[dict[str, pa.Table], list[str]]:
    """The tables above (curves and subgroups for the first part); `train`: the training part's (time, cause)."""
    notes: list[str] = []
    rows = Rows(notes)
    calibration: list[dict[str, Any]] = []
    for part in parts:
        _statistics(rows, part, train, horizons)
        calibration += _calibration(part, horizons, calibration_groups)
    lead = parts[0]
    tables = {
        "evaluationStatistics": _table(rows.rows),
        "incidenceCalibration": _table(calibration),
        "incidenceCurves": _table(_curves(lead, horizons)),
        "subgroupStatistics": _table(_subgroups(lead, horizons)),
    }
    return tables, notes
