"""The calibration strata and the prediction distribution: PLP's columns, every person counted once, each figure."""

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


def test_prediction_distribution_per_class() -> None:
    from carelake.evaluation import DISTRIBUTION_COLUMNS, prediction_distribution

    rng = np.random.default_rng(9)
    risk = expit(rng.normal(-1.0, 1.0, 4_000))
    y = (rng.random(risk.size) < risk).astype(float)
    table = prediction_distribution(y, risk)
    assert tuple(table.column_names) == DISTRIBUTION_COLUMNS
    without, with_outcome = table.to_pylist()
    for row, members in ((without, risk[y == 0]), (with_outcome, risk[y == 1])):
        assert row["PersonCount"] == members.size
        assert row["averagePredictedProbability"] == pytest.approx(members.mean(), abs=1e-12)
        assert row["StDevPredictedProbability"] == pytest.approx(members.std(ddof=1), abs=1e-12)
        assert row["P05PredictedProbability"] == pytest.approx(np.quantile(members, 0.05), abs=1e-12)
        assert row["P95PredictedProbability"] == pytest.approx(np.quantile(members, 0.95), abs=1e-12)
    assert with_outcome["MedianPredictedProbability"] > without["MedianPredictedProbability"]
    only_one = prediction_distribution([0, 0], [0.1, 0.3]).to_pylist()
    assert [r["class"] for r in only_one] == [0]
