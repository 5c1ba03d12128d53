"""The truth is learnable: a plain logistic regression on simple index-date features comes within 0.05 of the
AUROC of the true probabilities (the Bayes-optimal ranking), for each stated problem, on 20,000 persons."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import rankdata

from carelake.synth import simulate_chunk, truth_table
from carelake.synth.model import FRAILTY_SD, ckd4_risk, ckd4_risk_without_frailty

F = NDArray[np.float64]


def auroc(score: F, y: NDArray[np.bool_]) -> float:
    """Mann-Whitney AUROC with ties counted half."""
    ranks = rankdata(score)
    pos = int(y.sum())
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def fit_logistic(x: F, y: NDArray[np.bool_]) -> tuple[F, F, F]:
    """L2-penalised (tiny) logistic regression by L-BFGS; returns (weights, intercept first; feature means; sds)."""
    mean, sd = x.mean(0), x.std(0)
    xs = np.column_stack([np.ones(len(x)), (x - mean) / sd])
    t = y.astype(np.float64)

    def loss(w: F) -> tuple[float, F]:
        z = xs @ w
        p = expit(z)
        nll = np.sum(np.logaddexp(0, z) - t * z) + 1e-3 * w @ w
        return float(nll), xs.T @ (p - t) + 2e-3 * w

    w = minimize(loss, np.zeros(xs.shape[1]), jac=True, method="L-BFGS-B").x
    return np.asarray(w, dtype=np.float64), mean, sd


@pytest.fixture(scope="module")
def data() -> dict[str, F]:
    s, ev = simulate_chunk(99, 0, 20_000)
    truth = truth_table(s, ev, np.arange(1, s.n + 1)).to_pydict()
    rng = np.random.default_rng(0)
    cols = {k: np.asarray([np.nan if v is None else v for v in vals], dtype=np.float64) for k, vals in truth.items()
            if k not in ("person_source_value", "index_date", "death_date")}  # fmt: skip
    # What an analyst sees at the index date: measured (noisy) labs, recorded conditions.
    cols["egfr_measured"] = cols["egfr"] + rng.normal(0, 3, s.n)
    cols["hba1c_measured"] = cols["hba1c"] + rng.normal(0, 0.3, s.n)
    return cols


@pytest.mark.parametrize(
    ("problem", "outcome", "features", "population"),
    [
        ("p_hf_hosp_1y", "hf_hosp_1y", ["age", "female", "t2d", "htn", "hf", "egfr_measured"], None),
        ("p_death_1y", "death_1y", ["age", "female", "t2d", "htn", "hf", "egfr_measured"], None),
        ("p_ckd4_3y", "ckd4_3y", ["age", "egfr_measured", "hba1c_measured", "htn", "hf", "treated_canagliflozin"],
         "ckd_at_risk"),
    ],
)  # fmt: skip
def test_logistic_regression_near_bayes(
    data: dict[str, F], problem: str, outcome: str, features: list[str], population: str | None
) -> None:
    keep = np.ones(len(data["age"]), dtype=bool) if population is None else data[population] == 1
    y = data[outcome][keep] == 1
    x = np.column_stack([data[f][keep] for f in features])
    x = np.column_stack([x, np.maximum(data["age"][keep] - 60, 0), np.maximum(60 - data["egfr_measured"][keep], 0)])
    half = np.arange(len(y)) % 2 == 0
    assert y[half].sum() >= 20 and y[~half].sum() >= 20, (problem, y.sum())
    bayes = auroc(data[problem][keep][~half], y[~half])
    w, mean, sd = fit_logistic(x[half], y[half])  # fitted on one half, scored on the other
    model = auroc(((x[~half] - mean) / sd) @ w[1:], y[~half])
    print(f"{problem}: n={int((~half).sum())} events={int(y[~half].sum())} bayes={bayes:.3f} logistic={model:.3f}")
    assert bayes > 0.7, (problem, bayes)
    assert model > bayes - 0.05, (problem, bayes, model)


def test_ckd4_bound_without_the_frailty(data: dict[str, F]) -> None:
    """The frailty-free risk is the truth averaged over u: the quadrature equals a fine trapezoid, the population's
    mean risk is the same, and ranking by it loses what u told (its AUROC sits below the truth's)."""
    s, _ = simulate_chunk(99, 0, 2_000)
    known = s.decline_mean / np.exp(s.frailty)
    u = np.linspace(-8 * FRAILTY_SD, 8 * FRAILTY_SD, 2001)
    w = np.exp(-0.5 * (u / FRAILTY_SD) ** 2)
    fine = ckd4_risk(s.egfr[:, None], known[:, None] * np.exp(u)[None, :], s.treated[:, None]) @ (w / w.sum())
    np.testing.assert_allclose(ckd4_risk_without_frailty(s.egfr, known, s.treated), fine, atol=1e-9)
    keep = data["ckd_at_risk"] == 1
    y = data["ckd4_3y"][keep] == 1
    bound, truth = data["p_ckd4_3y_no_frailty"][keep], data["p_ckd4_3y"][keep]
    assert abs(bound.mean() - truth.mean()) < 0.01
    assert auroc(truth, y) - 0.03 < auroc(bound, y) < auroc(truth, y) - 0.005
