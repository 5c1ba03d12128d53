"""Real clinical data (SUPPORT, MIT): death within a year. carelake's models beside plain scikit-learn on the same
split, and carelake's metrics beside scikit-learn's and statsmodels' on the same predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.preprocessing import StandardScaler

from carelake.evaluation import auroc, brier, recalibration
from carelake.models import fit_with_cv
from carelake.models.risk import risk_model

DATA = Path(__file__).parents[1] / "data" / "support"


def _part(name: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.genfromtxt(DATA / f"support_{name}.csv.gz", delimiter=",", names=True)
    x = np.column_stack([table[f"x{i}"] for i in range(14)])
    known = (table["e"] == 1) | (table["t"] > 365)  # censored before a year: outcome unknown, left out (as PLP)
    y = ((table["e"] == 1) & (table["t"] <= 365)).astype(float)
    return x[known], y[known]


@pytest.fixture(scope="module")
def support() -> dict[str, np.ndarray]:
    x_train, y_train = _part("train")
    x_test, y_test = _part("test")
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _sklearn_baseline(d: dict[str, np.ndarray]) -> np.ndarray:
    scaler = StandardScaler().fit(d["x_train"])
    model = LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(d["x_train"]), d["y_train"])
    return np.asarray(model.predict_proba(scaler.transform(d["x_test"]))[:, 1])


@pytest.mark.parametrize("model_type", ["lasso_logistic", "gradient_boosting"])
def test_support_beside_plain_scikit_learn(support: dict[str, np.ndarray], model_type: str) -> None:
    d = support
    assert d["y_test"].size > 1500 and 0.3 < d["y_test"].mean() < 0.8
    grid = {"C": [0.1, 1.0]} if model_type == "lasso_logistic" else {"num_leaves": [7, 15], "n_estimators": [150]}
    fitted = fit_with_cv(model_type, sp.csr_matrix(d["x_train"]), d["y_train"], grid=grid, folds=3, seed=1)
    ours = risk_model(fitted, np.arange(14)).predict(sp.csr_matrix(d["x_test"]))
    theirs = _sklearn_baseline(d)
    y = d["y_test"]
    a_ours, a_theirs = auroc(y, ours), roc_auc_score(y, theirs)
    b_ours, b_theirs = brier(y, ours), brier_score_loss(y, theirs)
    slope = recalibration(y, ours).slope
    print(f"SUPPORT {model_type}: AUROC {a_ours:.4f} vs {a_theirs:.4f}, Brier {b_ours:.4f} vs {b_theirs:.4f}, "
          f"slope {slope:.3f} vs {recalibration(y, theirs).slope:.3f}")  # fmt: skip
    assert a_ours > a_theirs - 0.01 and b_ours < b_theirs + 0.005  # at least as good as the plain model
    assert 0.8 < slope < 1.2
    # The same predictions measured by the references.
    assert a_ours == pytest.approx(roc_auc_score(y, ours), abs=1e-9)
    assert b_ours == pytest.approx(brier_score_loss(y, ours), abs=1e-9)
    logit = np.log(ours / (1 - ours))
    glm = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
    assert slope == pytest.approx(glm.params[1], abs=1e-6)
