"""Observed and predicted risk by age group and sex: PatientLevelPrediction's demographicSummary.

Age groups are PLP's five-year bands ("Age group: 0-4", ...); one row per (age group, sex) present, with the
persons, persons with the outcome and the distribution of their predicted risks, so a reader sees where the model
over- or under-predicts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.errors import UserError
from carelake.evaluation.checks import Outcomes, checked
from carelake.evaluation.distribution import describe

__all__ = ["DEMOGRAPHIC_COLUMNS", "age_group", "demographic_summary"]

DEMOGRAPHIC_COLUMNS = (
    "ageGroup",
    "genGroup",
    "PersonCountAtRisk",
    "PersonCountWithOutcome",
    "averagePredictedProbability",
    "StDevPredictedProbability",
    "MinPredictedProbability",
    "P25PredictedProbability",
    "P50PredictedProbability",
    "P75PredictedProbability",
    "MaxPredictedProbability",
)


def age_group(age_years: npt.ArrayLike) -> list[str]:
    """PLP's label of each age: 'Age group: 40-44'."""
    low = (np.floor(np.asarray(age_years, dtype=np.float64) / 5) * 5).astype(int)
    return [f"Age group: {a}-{a + 4}" for a in low]


def demographic_summary(y: Outcomes, p: Outcomes, ages: npt.ArrayLike, sexes: npt.ArrayLike) -> pa.Table:
    """One row per (age group, sex) present, in that order; `ages` in years and `sexes` as labels, per person."""
    ys, ps = checked(y, p)
    groups = np.array(age_group(ages), dtype=object)
    sex = np.array([str(s) for s in np.asarray(sexes, dtype=object).ravel()], dtype=object)
    if groups.size != ys.size or sex.size != ys.size:
        raise UserError(f"{groups.size} ages and {sex.size} sexes for {ys.size} persons")
    order = sorted({(int(g.split(": ")[1].split("-")[0]), g, s) for g, s in zip(groups, sex, strict=True)})
    rows: dict[str, list[object]] = {c: [] for c in DEMOGRAPHIC_COLUMNS}
    for _, g, s in order:
        members = (groups == g) & (sex == s)
        stats = describe(ps[members], (0.0, 0.25, 0.5, 0.75, 1.0))
        stats["P50PredictedProbability"] = stats.pop("MedianPredictedProbability")
        values = {
            "ageGroup": g,
            "genGroup": s,
            "PersonCountAtRisk": int(members.sum()),
            "PersonCountWithOutcome": int(ys[members].sum()),
            **stats,
        }
        for c in DEMOGRAPHIC_COLUMNS:
            rows[c].append(values[c])
    types = {
        "ageGroup": pa.string(),
        "genGroup": pa.string(),
        "PersonCountAtRisk": pa.int64(),
        "PersonCountWithOutcome": pa.int64(),
    }
    return pa.table({c: pa.array(v, types.get(c, pa.float64())) for c, v in rows.items()})
