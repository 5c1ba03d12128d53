"""The Cox model against lifelines (Efron, and its ridge penalty) and statsmodels (Breslow) on SUPPORT, the guard for
constant and collinear columns, sparse input, both solvers, and a likelihood with no finite maximum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from carelake.errors import UserError
from carelake.models.cox import CoxPH, ModelFitError, survival_target

lifelines = pytest.importorskip("lifelines", reason="lifelines (test dependency) is not installed")

SUPPORT = Path(__file__).parents[1] / "data" / "support"
TIMES = np.array([30.0, 180.0, 365.0, 1000.0])


@pytest.fixture(scope="module")
def support() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SUPPORT's DeepSurv training split: 14 covariates, days to death, ties among the days."""
    table = np.genfromtxt(SUPPORT / "support_train.csv.gz", delimiter=",", names=True)
    return np.column_stack([table[f"x{i}"] for i in range(14)]), table["t"], table["e"]


def _lifelines(x: np.ndarray, t: np.ndarray, e: np.ndarray, penalizer: float = 0.0) -> object:
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(t=t, e=e)
    return lifelines.CoxPHFitter(penalizer=penalizer).fit(df, "t", "e", fit_options={"precision": 1e-12})


def test_efron_equals_lifelines(support: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, t, e = support
    assert len(np.unique(t[e == 1])) < (e == 1).sum()  # tied event days: Efron's correction matters
    ours = CoxPH().fit(x, survival_target(t, e))
    ref = _lifelines(x, t, e)
    np.testing.assert_allclose(ours.coef_, ref.params_.to_numpy(), atol=1e-8, rtol=0)
    assert ours.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-6)
    df = pd.DataFrame(x[:200], columns=[f"x{i}" for i in range(14)])
    expected = ref.predict_survival_function(df, times=TIMES).T.to_numpy()
    np.testing.assert_allclose(ours.predict_survival(x[:200], TIMES), expected, atol=1e-8, rtol=0)


def test_ridge_equals_lifelines_on_standardised_columns(support: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, t, e = support
    z = (x - x.mean(0)) / x.std(0, ddof=1)  # lifelines penalises the standardised coefficients
    ours = CoxPH(alpha=0.05).fit(z, survival_target(t, e))
    ref = _lifelines(z, t, e, penalizer=0.05)
    np.testing.assert_allclose(ours.coef_, ref.params_.to_numpy(), atol=1e-8, rtol=0)
    assert np.abs(ours.coef_).sum() < np.abs(CoxPH().fit(z, survival_target(t, e)).coef_).sum()


def test_breslow_equals_statsmodels(support: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    from statsmodels.duration.hazard_regression import PHReg

    x, t, e = support
    ours = CoxPH(ties="breslow").fit(x, survival_target(t, e))
    ref = PHReg(t, x, status=e, ties="breslow").fit(tol=1e-12)
    np.testing.assert_allclose(ours.coef_, ref.params, atol=1e-6, rtol=0)
    assert ours.log_likelihood_ == pytest.approx(ref.llf, abs=1e-6)


def test_sparse_input_and_both_solvers_agree(support: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, t, e = support
    z = (x - x.mean(0)) / x.std(0)
    y = survival_target(t, e)
    newton = CoxPH(alpha=0.01, solver="newton").fit(z, y)
    np.testing.assert_allclose(CoxPH(alpha=0.01, solver="newton").fit(sp.csr_matrix(z), y).coef_, newton.coef_,
                               atol=1e-10, rtol=0)  # fmt: skip
    np.testing.assert_allclose(CoxPH(alpha=0.01, solver="lbfgs").fit(sp.csr_matrix(z), y).coef_, newton.coef_,
                               atol=1e-5, rtol=0)  # fmt: skip


def test_constant_and_collinear_columns_are_dropped_and_named(
    support: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, t, e = support
    y = survival_target(t, e)
    base = CoxPH().fit(x[:, :5], y)
    extra = np.column_stack([x[:, :5], np.ones(len(t)), x[:, 1] - 2.0 * x[:, 3], x[:, 2]])
    guarded = CoxPH().fit(extra, y)
    assert guarded.dropped_[5].startswith("constant")
    # Of a set of collinear columns one is dropped, whichever the pivoting picks; the fit is the same.
    assert sum(r.startswith("collinear") for r in guarded.dropped_.values()) == 2
    np.testing.assert_allclose(guarded.predict(extra), base.predict(x[:, :5]), atol=1e-8)


def test_separation_and_bad_input_are_refused() -> None:
    rng = np.random.default_rng(3)
    t = rng.exponential(10, 200) + 1
    e = np.ones(200)
    x = (t < np.median(t)).astype(float)[:, None]  # the covariate orders every event: no finite maximum
    with pytest.raises(ModelFitError, match="no finite maximum"):
        CoxPH().fit(x, survival_target(t, e))
    assert np.isfinite(CoxPH(alpha=0.1).fit(x, survival_target(t, e)).coef_).all()  # a penalty makes it finite
    with pytest.raises(ModelFitError, match="no events"):
        CoxPH().fit(x, survival_target(t, np.zeros(200)))
    with pytest.raises(UserError, match="two columns"):
        CoxPH().fit(x, t)
    with pytest.raises(UserError, match="zero or below"):
        survival_target(np.r_[0.0, t[1:]], e)


def test_hazard_ratios_and_intervals_equal_lifelines(support: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, t, e = support
    for alpha, cols in ((0.0, x), (0.05, (x - x.mean(0)) / x.std(0, ddof=1))):
        ours = CoxPH(alpha=alpha).fit(cols, survival_target(t, e)).hazard_ratios()
        ref = _lifelines(cols, t, e, penalizer=alpha).summary
        for key, column in (("se", "se(coef)"), ("z", "z"), ("coef_lower", "coef lower 95%"),
                            ("coef_upper", "coef upper 95%"), ("hr_lower", "exp(coef) lower 95%"),
                            ("hr_upper", "exp(coef) upper 95%")):  # fmt: skip
            np.testing.assert_allclose([r[key] for r in ours], ref[column].to_numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose([r["p"] for r in ours], ref["p"].to_numpy(), rtol=1e-5, atol=1e-12)
    with_constant = CoxPH().fit(np.column_stack([x[:, :3], np.ones(len(t))]), survival_target(t, e))
    rows = with_constant.hazard_ratios(["x0", "x1", "x2", "one"])
    assert rows[3] == {"covariate": "one", "note": "dropped: constant: the same value for every person"}
    assert rows[0]["hr_lower"] < rows[0]["hazard_ratio"] < rows[0]["hr_upper"]


@pytest.mark.parametrize("transform", ["km", "identity", "log"])
def test_schoenfeld_test_equals_lifelines(support: tuple[np.ndarray, np.ndarray, np.ndarray], transform: str) -> None:
    from lifelines.statistics import proportional_hazard_test

    x, t, e = support
    names = [f"x{i}" for i in range(14)]
    df = pd.DataFrame(x, columns=names).assign(t=t, e=e)
    ref = proportional_hazard_test(_lifelines(x, t, e), df, time_transform=transform).summary
    ref = ref.loc[names] if not isinstance(ref.index, pd.MultiIndex) else ref.droplevel(1).loc[names]
    ours = CoxPH().fit(x, survival_target(t, e)).schoenfeld_test(x, survival_target(t, e), transform)
    np.testing.assert_allclose([r["statistic"] for r in ours], ref["test_statistic"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose([r["p"] for r in ours], ref["p"].to_numpy(), rtol=1e-5, atol=1e-300)
    assert min(r["p"] for r in ours) < 1e-3  # SUPPORT's hazards are not all proportional: the check has teeth
