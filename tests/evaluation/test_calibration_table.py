"""The calibration strata: PLP's columns, every person in exactly one stratum, and each stratum's figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from carelake.errors import UserError
from carelake.evaluation.calibration_table import CALIBRATION_COLUMNS, calibration_summary


def test_deciles_of_a_well_calibrated_model_track_the_diagonal() -> None:
    rng = np.random.default_rng(5)
    risk = expit(rng.normal(-2.0, 1.0, 50_000))
    y = (rng.random(risk.size) < risk).astype(float)
    table = calibration_summary(y, risk)
    assert tuple(table.column_names) == CALIBRATION_COLUMNS and table.num_rows == 10
    rows = table.to_pylist()
    assert sum(r["PersonCountAtRisk"] for r in rows) == risk.size
    assert sum(r["PersonCountWithOutcome"] for r in rows) == y.sum()
    cuts = np.quantile(risk, np.arange(1, 10) / 10)  # R's type 7 is numpy's default
    assert [r["predictionThreshold"] for r in rows] == pytest.approx([0.0, *cuts])
    for r in rows:
        assert r["PersonCountAtRisk"] == pytest.approx(5_000, abs=1)
        assert r["observedIncidence"] == pytest.approx(r["averagePredictedProbability"], abs=0.015)
        assert r["MinPredictedProbability"] <= r["MedianPredictedProbability"] <= r["MaxPredictedProbability"]


def test_a_stratum_worked_by_hand() -> None:
    # Risks 0.1 .. 0.8; quartile cuts (type 7) at 0.275, 0.45, 0.625: groups {0.1, 0.2}, {0.3, 0.4}, {0.5, 0.6},
    # {0.7, 0.8}; outcomes 0 0 | 0 1 | 1 0 | 1 1.
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    y = [0, 0, 0, 1, 1, 0, 1, 1]
    rows = calibration_summary(y, p, strata=4).to_pylist()
    assert [r["predictionThreshold"] for r in rows] == pytest.approx([0.0, 0.275, 0.45, 0.625])
    assert [r["PersonCountWithOutcome"] for r in rows] == [0, 1, 1, 2]
    assert [r["observedIncidence"] for r in rows] == [0.0, 0.5, 0.5, 1.0]
    assert rows[1]["averagePredictedProbability"] == pytest.approx(0.35)
    assert rows[1]["StDevPredictedProbability"] == pytest.approx(np.std([0.3, 0.4], ddof=1))
    assert rows[3]["P25PredictedProbability"] == pytest.approx(0.725)


def test_ties_merge_strata_and_a_lone_person_has_no_spread() -> None:
    p = [0.2] * 9 + [0.9]
    rows = calibration_summary([0] * 8 + [1, 1], p).to_pylist()
    assert [r["PersonCountAtRisk"] for r in rows] == [9, 1]  # every cut inside the tie collapses into one
    assert rows[1]["StDevPredictedProbability"] is None
    with pytest.raises(UserError, match="at least 2"):
        calibration_summary([0, 1], [0.1, 0.9], strata=1)
