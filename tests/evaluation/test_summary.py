"""The headline table (PLP's metric names) and the per-subgroup table: values, gaps, and stated non-estimability."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import brier_score_loss, roc_auc_score

from carelake.errors import UserError
from carelake.evaluation.summary import evaluation_statistics, subgroup_statistics


def _population(n: int = 6_000, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    age = rng.integers(18, 95, n)
    lp = -3.0 + 0.04 * (age - 50) + 0.4 * (sex == "male")
    y = (rng.random(n) < expit(lp)).astype(float)
    return y, expit(lp + rng.normal(scale=0.3, size=n)), sex, age


def test_headline_figures_with_plp_names() -> None:
    y, p, _, _ = _population()
    rows = {r["metric"]: r for r in evaluation_statistics(y, p, resamples=200, seed=3).to_pylist()}
    assert rows["populationSize"]["value"] == y.size and rows["outcomeCount"]["value"] == y.sum()
    assert rows["AUROC"]["value"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert rows["brier score"]["value"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert rows["95% lower AUROC"]["value"] < rows["AUROC"]["value"] < rows["95% upper AUROC"]["value"]
    assert rows["calibrationInLarge observed risk"]["value"] == pytest.approx(y.mean())
    assert 0.6 < rows["weak calibration gradient"]["value"] < 1.2
    assert all(r["note"] is None for name, r in rows.items() if "95%" not in name)


def test_subgroups_give_every_metric_and_its_gap_to_the_whole() -> None:
    y, p, sex, age = _population()
    band = np.where(age < 40, "18-39", np.where(age < 65, "40-64", "65+"))
    table = subgroup_statistics(y, p, {"sex": sex, "age band": band})
    whole = {r["metric"]: r["value"] for r in evaluation_statistics(y, p).to_pylist()}
    rows = table.to_pylist()
    assert {(r["subgroup"], r["level"]) for r in rows} == {
        ("sex", "female"), ("sex", "male"), ("age band", "18-39"), ("age band", "40-64"), ("age band", "65+"),
    }  # fmt: skip
    for subgroup in ("sex", "age band"):
        sizes = [r["value"] for r in rows if r["subgroup"] == subgroup and r["metric"] == "populationSize"]
        assert sum(sizes) == y.size
    for r in rows:
        if r["metric"] == "AUROC" and r["subgroup"] == "sex":
            members = sex == r["level"]
            assert r["value"] == pytest.approx(roc_auc_score(y[members], p[members]), abs=1e-9)
            assert r["gap"] == pytest.approx(r["value"] - whole["AUROC"], abs=1e-12)


def test_a_subgroup_with_one_class_is_not_estimable_not_a_crash() -> None:
    y, p, sex, _ = _population(400, 8)
    site = np.where(np.arange(y.size) < 380, "A", "B")
    y[380:] = 0.0  # site B has no events
    rows = [r for r in subgroup_statistics(y, p, {"site": site}).to_pylist() if r["level"] == "B"]
    auc = next(r for r in rows if r["metric"] == "AUROC")
    assert auc["value"] is None and auc["gap"] is None
    assert "no persons with the outcome (0 of 20)" in auc["note"]
    assert next(r for r in rows if r["metric"] == "brier score")["value"] is not None  # Brier needs one class only
    with pytest.raises(UserError, match="gives 3 levels for 400 persons"):
        subgroup_statistics(y, p, {"sex": sex[:3]})
