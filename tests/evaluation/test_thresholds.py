"""The threshold table against scikit-learn's confusion matrix at every threshold, with PLP's column names."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.metrics import confusion_matrix, f1_score

from carelake.errors import UserError
from carelake.evaluation import NotEstimable
from carelake.evaluation.thresholds import THRESHOLD_COLUMNS, default_thresholds, threshold_summary


def _risks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lp = rng.normal(-1.5, 1.1, n)
    y = (rng.random(n) < expit(lp)).astype(float)
    return y, np.round(expit(lp + rng.normal(scale=0.4, size=n)), 2)  # rounded: many persons share a risk


def test_counts_and_rates_equal_scikit_learn_at_every_threshold() -> None:
    y, p = _risks(3_000, 3)
    table = threshold_summary(y, p)
    assert tuple(table.column_names) == THRESHOLD_COLUMNS
    assert 10 < table.num_rows <= 100
    for row in table.to_pylist():
        t = row["predictionThreshold"]
        assert t in set(p.tolist())  # default thresholds are observed risks
        tn, fp, fn, tp = confusion_matrix(y, p >= t, labels=[0, 1]).ravel()
        assert (row["truePositiveCount"], row["falsePositiveCount"]) == (tp, fp)
        assert (row["trueNegativeCount"], row["falseNegativeCount"]) == (tn, fn)
        assert row["positiveCount"] + row["negativeCount"] == y.size and row["trueCount"] == y.sum()
        assert row["sensitivity"] == pytest.approx(tp / (tp + fn), abs=1e-12)
        assert row["specificity"] == pytest.approx(tn / (tn + fp), abs=1e-12)
        assert row["f1Score"] == pytest.approx(f1_score(y, p >= t, zero_division=0.0), abs=1e-12)
        if tp + fp:
            assert row["positivePredictiveValue"] == pytest.approx(tp / (tp + fp), abs=1e-12)
        want = expit(logit(min(max(t, 1e-12), 1 - 1e-12)) - logit(y.mean()))
        assert row["preferenceThreshold"] == pytest.approx(want, abs=1e-12)
    thresholds = table.column("predictionThreshold").to_pylist()
    assert thresholds == sorted(thresholds, reverse=True)


def test_undefined_rates_are_null_not_errors() -> None:
    y = [1, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.4, 0.3, 0.1]
    rows = threshold_summary(y, p, [0.95, 0.5, 0.0]).to_pylist()
    top, middle, bottom = rows
    # Above every risk nobody is flagged: no PPV, no FDR, no diagnostic odds ratio.
    assert (top["positiveCount"], top["positivePredictiveValue"], top["diagnosticOddsRatio"]) == (0, None, None)
    assert top["specificity"] == 1.0 and top["sensitivity"] == 0.0
    # At 0.5: TP 1 (0.9), FP 1 (0.8), FN 1 (0.4), TN 2.
    assert (middle["truePositiveCount"], middle["falsePositiveCount"], middle["falseNegativeCount"]) == (1, 1, 1)
    assert middle["diagnosticOddsRatio"] == pytest.approx(2.0) and middle["accuracy"] == pytest.approx(0.6)
    assert middle["positiveLikelihoodRatio"] == pytest.approx(0.5 / (1 / 3))
    # At 0: everyone flagged, so no NPV and no negative likelihood ratio.
    assert (bottom["positiveCount"], bottom["negativePredictiveValue"]) == (5, None)


def test_default_thresholds_and_bad_input() -> None:
    assert default_thresholds([0.2, 0.2, 0.7]).tolist() == [0.7, 0.2]
    with pytest.raises(UserError, match="in \\[0, 1\\]"):
        threshold_summary([0, 1], [0.2, 0.8], [1.5])
    with pytest.raises(NotEstimable, match="threshold summary"):
        threshold_summary([1, 1], [0.2, 0.8])
