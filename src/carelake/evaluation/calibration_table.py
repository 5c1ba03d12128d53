"""Calibration by strata of predicted risk: PatientLevelPrediction's calibrationSummary.

Persons are cut into `strata` groups at the quantiles of their risk (R's default quantile definition, type 7, as
PLP computes them; a cut point repeated by ties is kept once), each group right-closed (a, b] like R's `cut`. Per
group: persons, persons with the outcome, the observed incidence and the distribution of the predicted risks.
The calibration plot draws observed incidence against average predicted risk.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from carelake.errors import UserError
from carelake.evaluation.checks import Outcomes, checked
from carelake.evaluation.distribution import describe

__all__ = ["CALIBRATION_COLUMNS", "calibration_summary"]

CALIBRATION_COLUMNS = (
    "predictionThreshold", "PersonCountAtRisk", "PersonCountWithOutcome", "averagePredictedProbability",
    "StDevPredictedProbability", "MinPredictedProbability", "P25PredictedProbability", "MedianPredictedProbability",
    "P75PredictedProbability", "MaxPredictedProbability", "observedIncidence",
)  # fmt: skip


def calibration_summary(y: Outcomes, p: Outcomes, strata: int = 10) -> pa.Table:
    """One row per stratum of predicted risk, lowest first; `predictionThreshold` is its lower cut (0 first)."""
    if strata < 2:
        raise UserError(f"{strata} calibration strata: at least 2 are needed", hint="10 (deciles) is usual")
    ys, ps = checked(y, p)
    cuts = np.unique(np.quantile(ps, np.arange(1, strata) / strata, method="linear"))
    # Right-closed groups: a risk equal to a cut point belongs to the group below it.
    group = np.searchsorted(cuts, ps, side="left")
    lower = np.r_[0.0, cuts]
    rows: dict[str, list[float | int | None]] = {name: [] for name in CALIBRATION_COLUMNS}
    for g in np.unique(group):
        risk, outcome = ps[group == g], ys[group == g]
        values: dict[str, float | int | None] = {
            "predictionThreshold": float(lower[g]),
            "PersonCountAtRisk": int(risk.size),
            "PersonCountWithOutcome": int(outcome.sum()),
            **describe(risk, (0.0, 0.25, 0.5, 0.75, 1.0)),
            "observedIncidence": float(outcome.mean()),
        }
        for name, value in values.items():
            rows[name].append(value)
    return pa.table(
        {
            name: pa.array(values, pa.int64() if name.startswith("PersonCount") else pa.float64())
            for name, values in rows.items()
        }
    )
