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
_METRICS: tuple[tuple[str, Callable[[Array, Array], float]], ...] = (
    ("AUROC", auroc),
    ("AUPRC", auprc),
    ("brier score", brier),
    ("brier score scaled", scaled_brier),
    ("calibrationInLarge intercept", calibration_in_the_large),
    ("weak calibration intercept", lambda y, p: recalibration(y, p).intercept),
    ("weak calibration gradient", lambda y, p: recalibration(y, p).slope),
    ("Eavg", lambda y, p: calibration_errors(y, p).e_avg),
    ("E90", lambda y, p: calibration_errors(y, p).e90),
    ("Emax", lambda y, p: calibration_errors(y, p).e_max),
)


def evaluation_statistics(y: Outcomes, p: Outcomes, *, resamples: int = 0, seed: int = 0) -> pa.Table:
    """The figures of one evaluation; with `resamples`, the AUROC's 95% bootstrap interval too."""
    ys, ps = checked(y, p)
    rows: list[tuple[str, float | None, str | None]] = [
        ("populationSize", float(ys.size), None),
        ("outcomeCount", float(ys.sum()), None),
        ("calibrationInLarge mean prediction", float(ps.mean()), None),
        ("calibrationInLarge observed risk", float(ys.mean()), None),
    ]
    for name, metric in _METRICS:
        rows.append((name, *_estimate(metric, ys, ps)))
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
    whole = {name: _estimate(metric, ys, ps)[0] for name, metric in _METRICS}
    rows: list[dict[str, object]] = []
    for subgroup, labels in subgroups.items():
        levels = np.asarray(labels, dtype=object).ravel()
        if levels.size != ys.size:
            raise UserError(f"subgroup {subgroup!r} gives {levels.size} levels for {ys.size} persons")
        for level in sorted({str(v) for v in levels}):
            members = np.array([str(v) == level for v in levels])
            rows.append(_row(subgroup, level, "populationSize", float(members.sum()), None, None))
            rows.append(_row(subgroup, level, "outcomeCount", float(ys[members].sum()), None, None))
            for name, metric in _METRICS:
                value, note = _estimate(metric, ys[members], ps[members])
                base = whole[name]
                gap = None if value is None or base is None else value - base
                rows.append(_row(subgroup, level, name, value, gap, note))
    return pa.Table.from_pylist(rows, SUBGROUP_SCHEMA)


def _estimate(metric: Callable[[Array, Array], float], y: Array, p: Array) -> tuple[float | None, str | None]:
    try:
        return float(metric(y, p)), None
    except NotEstimable as e:
        return None, str(e)


def _row(
    subgroup: str, level: str, metric: str, value: float | None, gap: float | None, note: str | None
) -> dict[str, object]:
    return {"subgroup": subgroup, "level": level, "metric": metric, "value": value, "gap": gap, "note": note}
