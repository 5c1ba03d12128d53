"""How the predicted risks are spread, for persons with and without the outcome: PLP's predictionDistribution.

`describe` is the one summary of a set of risks (count, mean, standard deviation, R's type-7 quantiles) that this
table and the calibration strata both use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.evaluation.checks import Outcomes, checked

__all__ = ["DISTRIBUTION_COLUMNS", "describe", "prediction_distribution"]

DISTRIBUTION_COLUMNS = (
    "class", "PersonCount", "averagePredictedProbability", "StDevPredictedProbability", "MinPredictedProbability",
    "P05PredictedProbability", "P25PredictedProbability", "MedianPredictedProbability", "P75PredictedProbability",
    "P95PredictedProbability", "MaxPredictedProbability",
)  # fmt: skip
_NAMES = {0.0: "Min", 0.05: "P05", 0.25: "P25", 0.5: "Median", 0.75: "P75", 0.95: "P95", 1.0: "Max"}


def describe(risks: npt.NDArray[np.float64], quantiles: Sequence[float]) -> dict[str, float | None]:
    """Mean, standard deviation (n - 1; None for one person) and the named quantiles of `risks` (not empty)."""
    values = np.quantile(risks, list(quantiles), method="linear")
    out: dict[str, float | None] = {
        "averagePredictedProbability": float(risks.mean()),
        "StDevPredictedProbability": float(risks.std(ddof=1)) if risks.size > 1 else None,
    }
    out |= {f"{_NAMES[q]}PredictedProbability": float(v) for q, v in zip(quantiles, values, strict=True)}
    return out


def prediction_distribution(y: Outcomes, p: Outcomes) -> pa.Table:
    """One row per outcome class present (0, then 1)."""
    ys, ps = checked(y, p)
    rows: list[dict[str, float | int | None]] = []
    for cls in (0, 1):
        risks = ps[ys == cls]
        if risks.size:
            rows.append({"class": cls, "PersonCount": int(risks.size), **describe(risks, sorted(_NAMES))})
    types = {"class": pa.int64(), "PersonCount": pa.int64()}
    return pa.table(
        {name: pa.array([r[name] for r in rows], types.get(name, pa.float64())) for name in DISTRIBUTION_COLUMNS}
    )
