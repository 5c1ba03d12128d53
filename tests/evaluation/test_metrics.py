"""Every metric against its reference implementation: scikit-learn (AUROC, AUPRC, Brier) to 1e-9, a statsmodels
GLM (calibration intercept, slope, in-the-large) to 1e-6, and net benefit against its formula worked by hand."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from carelake.errors import UserError
from carelake.evaluation import (
    NotEstimable,
    auprc,
    auroc,
    bootstrap,
    brier,
    calibration_in_the_large,
    net_benefit,
    recalibration,
    scaled_brier,
    treat_all_net_benefit,
)


def _cohort(n: int, prevalence: float, seed: int, *, overfit: float = 1.3) -> tuple[npt.NDArray, npt.NDArray]:
    """Outcomes drawn from true risks, and a model's risks that are too extreme (slope 1/overfit), rounded to 0.001
    as a report would show them, so there are many ties."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    true_lp = logit(prevalence) + 1.2 * x
    y = (rng.random(n) < expit(true_lp)).astype(float)
    predicted = np.round(expit(overfit * true_lp + 0.2 + rng.normal(scale=0.3, size=n)), 3)
    return y, predicted


CASES = [(200, 0.3, 1), (5_000, 0.1, 2), (20_000, 0.02, 3), (1_000, 0.5, 4)]


@pytest.mark.parametrize(("n", "prevalence", "seed"), CASES)
def test_discrimination_and_brier_equal_scikit_learn(n: int, prevalence: float, seed: int) -> None:
    y, p = _cohort(n, prevalence, seed)
    assert len(np.unique(p)) < n  # ties, the hard case for both curves
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert auprc(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-9)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    null = brier_score_loss(y, np.full_like(p, y.mean()))
    assert scaled_brier(y, p) == pytest.approx(1 - brier_score_loss(y, p) / null, abs=1e-9)


@pytest.mark.parametrize(("n", "prevalence", "seed"), CASES)
def test_calibration_equals_a_statsmodels_glm(n: int, prevalence: float, seed: int) -> None:
    y, p = _cohort(n, prevalence, seed)
    lp = logit(np.clip(p, 1e-12, 1 - 1e-12))
    glm = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
    fit = recalibration(y, p)
    assert fit.intercept == pytest.approx(glm.params[0], abs=1e-6)
    assert fit.slope == pytest.approx(glm.params[1], abs=1e-6)
    citl = sm.GLM(y, np.ones((n, 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-12)
    assert calibration_in_the_large(y, p) == pytest.approx(citl.params[0], abs=1e-6)


def test_recalibration_recovers_a_known_miscalibration() -> None:
    """Risks made too extreme by a factor 1.3 on the logit scale: the slope comes back near 1 / 1.3."""
    rng = np.random.default_rng(7)
    lp = rng.normal(-1.0, 1.0, 200_000)
    y = (rng.random(lp.size) < expit(lp)).astype(float)
    fit = recalibration(y, expit(1.3 * lp))
    assert fit.slope == pytest.approx(1 / 1.3, abs=0.01)
    assert recalibration(y, expit(lp)).slope == pytest.approx(1.0, abs=0.01)
    assert calibration_in_the_large(y, expit(lp - 0.5)) == pytest.approx(0.5, abs=0.02)  # risks too low: above 0


def test_net_benefit_worked_by_hand() -> None:
    # Ten persons, three with the outcome. At pt = 0.2 the model acts on risks >= 0.2: persons 0, 1, 3, 4, 6
    # -> TP = 2 (0 and 1), FP = 3 (3, 4, 6): NB = 2/10 - 3/10 * 0.2/0.8 = 0.2 - 0.075 = 0.125.
    # At pt = 0.5 it acts on 0 and 3 only: TP = 1, FP = 1: NB = 0.1 - 0.1 * 1 = 0.
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    p = [0.9, 0.2, 0.1, 0.5, 0.3, 0.1, 0.25, 0.05, 0.0, 0.15]
    assert net_benefit(y, p, [0.2, 0.5]) == pytest.approx([0.125, 0.0], abs=1e-15)
    # Treat all: 0.3 - 0.7 * 0.25 = 0.125 at 0.2, and 0.3 - 0.7 = -0.4 at 0.5.
    assert treat_all_net_benefit(y, [0.2, 0.5]) == pytest.approx([0.125, -0.4], abs=1e-15)


def test_what_cannot_be_estimated_says_so() -> None:
    only_negatives = ([0, 0, 0], [0.1, 0.2, 0.3])
    for metric in (auroc, auprc, scaled_brier, recalibration, calibration_in_the_large):
        with pytest.raises(NotEstimable, match="no persons with the outcome"):
            metric(*only_negatives)
    assert brier(*only_negatives) == pytest.approx((0.01 + 0.04 + 0.09) / 3)  # Brier needs no second class
    with pytest.raises(NotEstimable, match="separate the outcomes"):
        recalibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])  # perfectly separated: no finite slope
    with pytest.raises(NotEstimable, match="every person has the same risk"):
        recalibration([0, 1, 1], [0.4, 0.4, 0.4])


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "2 outcomes but 1 predicted risks"),
        ([0, 2], [0.5, 0.5], "outcomes must be 0 or 1"),
        ([0, 1], [0.5, 1.5], "must lie in \\[0, 1\\]"),
        ([0, 1], [0.5, float("nan")], "missing values"),
    ],
)
def test_bad_inputs_are_user_errors(y: list[float], p: list[float], message: str) -> None:
    with pytest.raises(UserError, match=message):
        auroc(y, p)
    with pytest.raises(UserError, match="strictly between 0 and 1"):
        net_benefit([0, 1], [0.2, 0.8], [0.0, 0.5])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    y, p = _cohort(2_000, 0.2, 11)
    first = bootstrap(auroc, y, p, resamples=300, seed=5)
    assert first == bootstrap(auroc, y, p, resamples=300, seed=5)
    assert first.low < first.estimate < first.high and first.left_out == 0
    assert first.estimate == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    # The spread of the AUROC over resamples is its standard error: about 0.01 to 0.02 at this size.
    assert 0.02 < first.high - first.low < 0.09
    wider = bootstrap(auroc, y[:300], p[:300], resamples=300, seed=5)
    assert wider.high - wider.low > first.high - first.low


def test_bootstrap_of_rare_events_leaves_out_draws_with_one_class() -> None:
    y = np.zeros(60)
    y[0] = 1.0
    p = np.linspace(0.01, 0.6, 60)[::-1]
    interval = bootstrap(auroc, y, p, resamples=200, seed=1)
    assert 0 < interval.left_out < 200 * 0.5  # about (59/60)^60 = 37% of draws hold no event
    y[0] = 0.0
    y[1] = 1.0
    with pytest.raises(UserError, match="at least one resample"):
        bootstrap(auroc, y, p, resamples=0)
