"""Survival metrics against scikit-survival (a test dependency only, GPL) to 1e-6, on real data and on vectors
built to hold every kind of tie: event times shared by events and censorings, and risks shared across pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carelake.errors import UserError
from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.survival import (
    brier_scores,
    censoring_distribution,
    cumulative_dynamic_auc,
    cumulative_incidence,
    harrell_c,
    integrated_brier_score,
    kaplan_meier_curve,
    survival_data,
    uno_c,
)

sksurv_metrics = pytest.importorskip("sksurv.metrics", reason="scikit-survival (test dependency) is not installed")
from sksurv.nonparametric import CensoringDistributionEstimator, kaplan_meier_estimator  # noqa: E402
from sksurv.util import Surv  # noqa: E402

SUPPORT = Path(__file__).parents[1] / "data" / "support"
TOL = 1e-6


def _support(part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = np.genfromtxt(SUPPORT / f"support_{part}.csv.gz", delimiter=",", names=True)
    x = np.column_stack([table[f"x{i}"] for i in range(14)])
    return x, table["t"], table["e"].astype(bool)


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, np.ndarray]]:
    """SUPPORT's DeepSurv split with a linear risk from a least-squares fit on the training part (real ties in days),
    and a simulated set in whole months with risks rounded to a few values (ties everywhere)."""
    x_train, t_train, e_train = _support("train")
    x_test, t_test, e_test = _support("test")
    design = np.column_stack([np.ones(len(x_train)), x_train])
    beta = np.linalg.lstsq(design, np.log(t_train), rcond=None)[0]
    risk = -(np.column_stack([np.ones(len(x_test)), x_test]) @ beta)
    rng = np.random.default_rng(7)
    n = 3000
    z = rng.normal(size=n)
    event_time = np.ceil(rng.exponential(24.0 * np.exp(-0.8 * z)))
    censor_time = np.ceil(rng.uniform(1, 60, n))
    time = np.minimum(event_time, censor_time)
    event = event_time <= censor_time
    half = n // 2
    return {
        "support": {"t_train": t_train, "e_train": e_train, "t": t_test, "e": e_test, "risk": risk},
        "tied": {"t_train": time[:half], "e_train": event[:half], "t": time[half:], "e": event[half:],
                 "risk": np.round(z[half:] + rng.normal(0, 0.5, n - half), 0)},
    }  # fmt: skip


NAMES = ["support", "tied"]


@pytest.mark.parametrize("name", NAMES)
def test_harrell_c(cases: dict[str, dict[str, np.ndarray]], name: str) -> None:
    c = cases[name]
    ours = harrell_c(survival_data(c["t"], c["e"]), c["risk"])
    ref = sksurv_metrics.concordance_index_censored(c["e"], c["t"], c["risk"])
    assert ours.c == pytest.approx(ref[0], abs=TOL)
    assert (ours.concordant, ours.discordant, ours.tied_risk, ours.tied_time) == tuple(ref[1:])
    if name == "tied":
        assert ours.tied_risk > 1000 and ours.tied_time > 10  # the vectors hold both kinds of tie


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tau_quantile", [None, 0.6])
def test_uno_c(cases: dict[str, dict[str, np.ndarray]], name: str, tau_quantile: float | None) -> None:
    c = cases[name]
    tau = None if tau_quantile is None else float(np.quantile(c["t"], tau_quantile))
    train, test = survival_data(c["t_train"], c["e_train"]), survival_data(c["t"], c["e"])
    y_train, y_test = Surv.from_arrays(c["e_train"], c["t_train"]), Surv.from_arrays(c["e"], c["t"])
    if tau is None and c["t"].max() > c["t_train"].max():
        tau = float(c["t_train"].max())  # scikit-survival needs test times within the training follow-up
    ours = uno_c(train, test, c["risk"], tau)
    ref = sksurv_metrics.concordance_index_ipcw(y_train, y_test, c["risk"], tau=tau)
    assert ours.c == pytest.approx(ref[0], abs=TOL)
    assert (ours.concordant, ours.discordant, ours.tied_risk, ours.tied_time) == tuple(ref[1:])


def _horizons(c: dict[str, np.ndarray]) -> np.ndarray:
    return np.unique(np.quantile(c["t"][c["e"]], [0.1, 0.25, 0.5, 0.75]).round())


@pytest.mark.parametrize("name", NAMES)
def test_cumulative_dynamic_auc(cases: dict[str, dict[str, np.ndarray]], name: str) -> None:
    c = cases[name]
    times = _horizons(c)
    train, test = survival_data(c["t_train"], c["e_train"]), survival_data(c["t"], c["e"])
    y_train, y_test = Surv.from_arrays(c["e_train"], c["t_train"]), Surv.from_arrays(c["e"], c["t"])
    ours = cumulative_dynamic_auc(train, test, c["risk"], times)
    auc, mean = sksurv_metrics.cumulative_dynamic_auc(y_train, y_test, c["risk"], times)
    np.testing.assert_allclose(ours.auc, auc, atol=TOL, rtol=0)
    assert ours.mean == pytest.approx(mean, abs=TOL)
    # A risk per horizon (here the score shifted by the horizon's rank: the ranking at each horizon is unchanged).
    per_time = c["risk"][:, None] + np.arange(times.size)[None, :]
    np.testing.assert_allclose(cumulative_dynamic_auc(train, test, per_time, times).auc, auc, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_brier_and_integrated_brier(cases: dict[str, dict[str, np.ndarray]], name: str) -> None:
    c = cases[name]
    times = _horizons(c)
    train, test = survival_data(c["t_train"], c["e_train"]), survival_data(c["t"], c["e"])
    y_train, y_test = Surv.from_arrays(c["e_train"], c["t_train"]), Surv.from_arrays(c["e"], c["t"])
    # Survival probabilities from the score: a proportional-hazards shape with an exponential baseline.
    scale = np.median(c["t"])
    z = (c["risk"] - c["risk"].mean()) / c["risk"].std()
    surv = np.exp(-(times[None, :] / scale) * np.exp(0.5 * z)[:, None])
    _, ref = sksurv_metrics.brier_score(y_train, y_test, surv, times)
    np.testing.assert_allclose(brier_scores(train, test, surv, times)[1], ref, atol=TOL, rtol=0)
    ibs = sksurv_metrics.integrated_brier_score(y_train, y_test, surv, times)
    assert integrated_brier_score(train, test, surv, times) == pytest.approx(ibs, abs=TOL)


@pytest.mark.parametrize("name", NAMES)
def test_product_limit_curves(cases: dict[str, dict[str, np.ndarray]], name: str) -> None:
    c = cases[name]
    s = survival_data(c["t"], c["e"])
    times, km = kaplan_meier_estimator(c["e"], c["t"])
    np.testing.assert_allclose(kaplan_meier_curve(s).at(times), km, atol=1e-12, rtol=0)
    ref = CensoringDistributionEstimator().fit(Surv.from_arrays(c["e"], c["t"]))
    grid = np.linspace(c["t"].min(), c["t"].max(), 97)
    np.testing.assert_allclose(censoring_distribution(s).at(grid), ref.predict_proba(grid), atol=1e-12, rtol=0)


def test_bad_input_is_named() -> None:
    with pytest.raises(UserError, match=r"follow-up time 0 \(person 1\) is zero or below"):
        survival_data([5, 0, 3], [1, 0, 1])
    with pytest.raises(UserError, match="3 times but 2 event flags"):
        survival_data([5, 2, 3], [1, 0])
    s = survival_data([5, 2, 3, 9], [1, 0, 1, 0])
    with pytest.raises(UserError, match="horizon 12 lies outside"):
        cumulative_dynamic_auc(s, s, [0.1, 0.2, 0.3, 0.4], [12])
    with pytest.raises(NotEstimable, match="no comparable pairs"):
        harrell_c(survival_data([4, 5, 6], [0, 0, 0]), [1, 2, 3])
    last_is_event = survival_data([5, 2, 3, 9], [0, 1, 0, 1])
    with pytest.raises(NotEstimable, match="censoring distribution is not known after day 9"):
        censoring_distribution(last_is_event).at([10])
    assert censoring_distribution(s).at([10])[0] == 0.0  # censored last: G is 0 from then on, and known
    with pytest.raises(UserError, match="must lie in"):
        brier_scores(s, s, [[1.2], [0.5], [0.5], [0.5]], [3])


def _competing(ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two causes and censoring: whole months (ties between causes and censorings) or continuous times."""
    rng = np.random.default_rng(11)
    n = 2000
    t1, t2, cens = rng.exponential(40, n), rng.exponential(60, n), rng.uniform(0, 80, n)
    time = np.minimum(np.minimum(t1, t2), cens)
    cause = np.where(time == cens, 0, np.where(time == t1, 1, 2))
    return (np.ceil(time) if ties else time), cause


@pytest.mark.parametrize("of", [1, 2])
def test_aalen_johansen_against_lifelines_and_scikit_survival(of: int) -> None:
    lifelines = pytest.importorskip("lifelines", reason="lifelines (test dependency) is not installed")
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    time, cause = _competing(ties=False)  # lifelines jitters tied times, so it is compared where none tie
    fit = lifelines.AalenJohansenFitter(calculate_variance=False).fit(time, cause, event_of_interest=of)
    ref = fit.cumulative_density_.iloc[:, 0]
    ours = cumulative_incidence(time, cause, of).at(ref.index.to_numpy())
    np.testing.assert_allclose(ours, ref.to_numpy(), atol=TOL, rtol=0)
    time, cause = _competing(ties=True)  # scikit-survival takes ties as they are
    grid, incidence = cumulative_incidence_competing_risks(cause, time)
    np.testing.assert_allclose(cumulative_incidence(time, cause, of).at(grid), incidence[of], atol=TOL, rtol=0)
    # The causes' incidences and the survival add up to one at every time.
    total = sum(cumulative_incidence(time, cause, k).at(grid) for k in (1, 2))
    np.testing.assert_allclose(total + kaplan_meier_curve(survival_data(time, cause > 0)).at(grid), 1.0, atol=1e-12)


def test_auc_where_the_censoring_distribution_reaches_zero_is_not_estimable() -> None:
    """Everyone left in the training part is censored at day 10, so G(10) = 0: an event on day 10 cannot be weighed.
    Horizons before it are still estimable."""
    train = survival_data([2, 4, 6, 10, 10, 10], [1, 0, 1, 0, 0, 0])
    test = survival_data([3, 5, 10, 12], [1, 0, 1, 0])
    risk = np.array([0.9, 0.2, 0.5, 0.1])
    assert cumulative_dynamic_auc(train, test, risk, [4.0]).mean == 1.0
    with pytest.raises(NotEstimable, match="censoring distribution reaches 0"):
        cumulative_dynamic_auc(train, test, risk, [11.0])
