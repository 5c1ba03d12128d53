"""One model's evaluation on the test part, the training part and the cross-validation folds, as PLP's tables.

Each table gets an `evaluation` column first (Test, Train, CV, as PLP's evaluationType), so one CSV holds all three.
Figures that cannot be estimated (one class in the test part, say) are stated in the table's note, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.evaluation import (
    NotEstimable,
    calibration_summary,
    evaluation_statistics,
    net_benefit,
    prediction_distribution,
    subgroup_statistics,
    threshold_summary,
    treat_all_net_benefit,
)
from carelake.evaluation.demographics import demographic_summary
from carelake.evaluation.smoothing import lowess
from carelake.studies.spec import Evaluation

__all__ = ["PartData", "evaluate_parts"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PartData:
    """One evaluation part: outcomes, risks, ages and sexes, and each subgroup's level per person."""

    name: str
    y: Array
    p: Array
    ages: Array
    sexes: npt.NDArray[np.object_]
    subgroups: Mapping[str, npt.NDArray[np.object_]]


def _tagged(name: str, table: pa.Table) -> pa.Table:
    return table.add_column(0, "evaluation", pa.array([name] * table.num_rows, pa.string()))


def _decision_curve(y: Array, p: Array, settings: Evaluation) -> pa.Table:
    dc = settings.decision_curve
    t = np.round(np.arange(dc.start, dc.stop + dc.step / 2, dc.step), 10)
    t = t[(t > 0) & (t < 1)]
    return pa.table(
        {
            "threshold": pa.array(t),
            "netBenefit": pa.array(net_benefit(y, p, t)),
            "treatAll": pa.array(treat_all_net_benefit(y, t)),
            "treatNone": pa.array(np.zeros(t.size)),
        }
    )


def _smooth_calibration(y: Array, p: Array, points: int = 100) -> pa.Table:
    """The LOWESS calibration curve (observed against predicted), thinned to about `points` points for drawing."""
    curve = lowess(p, y)  # rows (x, smoothed y), ascending x
    keep = np.unique(np.linspace(0, p.size - 1, min(points, p.size)).astype(int))
    return pa.table({"predicted": pa.array(curve[keep, 0]), "observed": pa.array(np.clip(curve[keep, 1], 0, 1))})


def evaluate_parts(parts: list[PartData], settings: Evaluation, seed: int) -> tuple[dict[str, pa.Table], list[str]]:
    """PLP's five tables for each part; subgroups, the decision curve and the smoothed calibration for the first
    (the part the report leads with); and notes on what was not estimable."""
    tables: dict[str, list[pa.Table]] = {}
    notes: list[str] = []

    def add(name: str, part: str, build: Callable[..., pa.Table], *args: object, **kwargs: object) -> None:
        try:
            table = build(*args, **kwargs)
        except NotEstimable as e:
            notes.append(f"{part}: {name} not estimable: {e}")
            return
        tables.setdefault(name, []).append(_tagged(part, table))

    primary = parts[0].name  # Test (development) or Validation (external): bootstrap, subgroups and curves
    for part in parts:
        y, p = part.y, part.p
        resamples = settings.bootstrap if part.name == primary else 0
        add("evaluationStatistics", part.name, evaluation_statistics, y, p, resamples=resamples, seed=seed)
        add("thresholdSummary", part.name, threshold_summary, y, p, settings.thresholds)
        add("calibrationSummary", part.name, calibration_summary, y, p, settings.calibration_strata)
        add("predictionDistribution", part.name, prediction_distribution, y, p)
        add("demographicSummary", part.name, demographic_summary, y, p, part.ages, part.sexes)
        if part.name == primary:
            add("subgroupStatistics", part.name, subgroup_statistics, y, p, part.subgroups)
            add("decisionCurve", part.name, _decision_curve, y, p, settings)
            add("calibrationCurve", part.name, _smooth_calibration, y, p)
    return {name: pa.concat_tables(ts) for name, ts in tables.items()}, notes
