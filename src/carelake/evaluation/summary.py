"""The headline figures of one evaluation, and the same figures per subgroup with the gap to the whole.

Rows are named as PatientLevelPrediction's evaluationStatistics names its metrics, in long form (metric, value),
so OHDSI users recognise them; a figure that cannot be estimated has no value and says why in `note`. One
deliberate difference: the scaled Brier score divides by the Brier score of predicting the observed prevalence for
everyone (the usual definition), where PLP uses the mean predicted risk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.errors import UserError
from carelake.evaluation.bootstrap import bootstrap
from carelake.evaluation.calibration import (
    CalibrationErrors,
    Recalibration,
    brier,
    calibration_errors,
    calibration_in_the_large,
    recalibration,
    scaled_brier,
)
from carelake.evaluation.checks import NotEstimable, Outcomes, checked
from carelake.evaluation.discrimination import auprc, auroc

__all__ = ["STATISTICS_SCHEMA", "SUBGROUP_SCHEMA", "evaluation_statistics", "subgroup_statistics"]

STATISTICS_SCHEMA = pa.schema([("metric", pa.string()), ("value", pa.float64()), ("note", pa.string())])
SUBGROUP_SCHEMA = pa.schema(
    [("subgroup", pa.string()), ("level", pa.string()), ("metric", pa.string()), ("value", pa.float64()),
     ("gap", pa.float64()), ("note", pa.string())]
)  # fmt: skip

Array = npt.NDArray[np.float64]
# Metrics that come from one fit (the recalibration, the smoothed curve) are computed once and give several rows.
_METRICS: tuple[tuple[tuple[str, ...], Callable[[Array, Array], tuple[float, ...]]], ...] = (
    (("AUROC",), lambda y, p: (auroc(y, p),)),
    (("AUPRC",), lambda y, p: (auprc(y, p),)),
    (("brier score",), lambda y, p: (brier(y, p),)),
    (("brier score scaled",), lambda y, p: (scaled_brier(y, p),)),
    (("calibrationInLarge intercept",), lambda y, p: (calibration_in_the_large(y, p),)),
    (("weak calibration intercept", "weak calibration gradient"), lambda y, p: _pair(recalibration(y, p))),
    (("Eavg", "E90", "Emax"), lambda y, p: _errors(calibration_errors(y, p))),
)


def _pair(fit: Recalibration) -> tuple[float, ...]:
    return fit.intercept, fit.slope


def _errors(e: CalibrationErrors) -> tuple[float, ...]:
    return e.e_avg, e.e90, e.e_max


def evaluation_statistics(y: Outcomes, p: Outcomes, *, resamples: int = 0, seed: int = 0) -> pa.Table:
    """The figures of one evaluation; with `resamples`, the AUROC's 95% bootstrap interval too."""
    ys, ps = checked(y, p)
    rows: list[tuple[str, float | None, str | None]] = [
        ("populationSize", float(ys.size), None),
        ("outcomeCount", float(ys.sum()), None),
        ("calibrationInLarge mean prediction", float(ps.mean()), None),
        ("calibrationInLarge observed risk", float(ys.mean()), None),
    ]
    for name, value, note in _estimates(ys, ps):
        rows.append((name, value, note))
        if name == "AUROC" and resamples:
            try:
                interval = bootstrap(auroc, ys, ps, resamples=resamples, seed=seed)
                note = f"{resamples} bootstrap resamples, {interval.left_out} without both classes left out"
                rows += [("95% lower AUROC", interval.low, note), ("95% upper AUROC", interval.high, note)]
            except NotEstimable as e:
                rows += [("95% lower AUROC", None, str(e)), ("95% upper AUROC", None, str(e))]
    return pa.Table.from_pylist([dict(zip(STATISTICS_SCHEMA.names, r, strict=True)) for r in rows], STATISTICS_SCHEMA)


def subgroup_statistics(y: Outcomes, p: Outcomes, subgroups: Mapping[str, npt.ArrayLike]) -> pa.Table:
    """Every metric in every level of every subgroup (sex, age band, ...), with its gap to the whole population.

    `subgroups` maps a subgroup's name to each person's level in it (same order as `y`); a level whose persons
    have one class gets its figures as not estimable, with the reason.
    """
    ys, ps = checked(y, p)
    whole = {name: value for name, value, _ in _estimates(ys, ps)}
    rows: list[dict[str, object]] = []
    for subgroup, labels in subgroups.items():
        levels = np.asarray(labels, dtype=object).ravel()
        if levels.size != ys.size:
            raise UserError(f"subgroup {subgroup!r} gives {levels.size} levels for {ys.size} persons")
        names = np.array([str(v) for v in levels])
        for level in sorted(set(names.tolist())):
            members = names == level
            rows.append(_row(subgroup, level, "populationSize", float(members.sum()), None, None))
            rows.append(_row(subgroup, level, "outcomeCount", float(ys[members].sum()), None, None))
            for name, value, note in _estimates(ys[members], ps[members]):
                base = whole[name]
                gap = None if value is None or base is None else value - base
                rows.append(_row(subgroup, level, name, value, gap, note))
    return pa.Table.from_pylist(rows, SUBGROUP_SCHEMA)


def _estimates(y: Array, p: Array) -> list[tuple[str, float | None, str | None]]:
    """(metric, value, note) for every metric; a fit that is not estimable leaves all its rows empty, with why."""
    out: list[tuple[str, float | None, str | None]] = []
    for names, metric in _METRICS:
        try:
            values: tuple[float | None, ...] = tuple(float(v) for v in metric(y, p))
            note = None
        except NotEstimable as e:
            values, note = (None,) * len(names), str(e)
        out += [(name, value, note) for name, value in zip(names, values, strict=True)]
    return out


def _row(
    subgroup: str, level: str, metric: str, value: float | None, gap: float | None, note: str | None
) -> dict[str, object]:
    return {"subgroup": subgroup, "level": level, "metric": metric, "value": value, "gap": gap, "note": note}
