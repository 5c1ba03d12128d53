"""The generating model: persons' state at the index date, their history before it and their future after it.

Everything is vectorized over a chunk of persons. Hazards after the index date use the state *at* the index date, so
the probabilities in the truth table are exact for the data written (docs/simulator.md gives the equations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, gammaincc

__all__ = [
    "END",
    "GOMPERTZ_B",
    "INDEX",
    "LOOKBACK",
    "State",
    "ckd4_risk",
    "ckd4_risk_without_frailty",
    "simulate_state",
    "survival",
]

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741
B = NDArray[np.bool_]

INDEX = int(np.datetime64("2021-01-01", "D").astype(np.int64))  # days since 1970-01-01
END = int(np.datetime64("2024-12-31", "D").astype(np.int64))
LOOKBACK = 5  # years of history at most before the index date
YEARS = np.arange(-LOOKBACK, 5)  # annual check-up slots relative to the index date
GOMPERTZ_B = 0.085  # mortality log-hazard per year of age (doubling in ~8 years)
DECLINE_SHAPE = 2.0  # gamma shape of one year's eGFR decline
CANAGLIFLOZIN_EFFECT = 0.6  # multiplies the mean eGFR decline (SGLT2 inhibitor, CREDENCE-like)
FRAILTY_SD = 0.3  # sd of the unobserved log-scale frailty u in the mean eGFR decline

# Age bands (years) and shares, US Census 2020 (ACS) rounded.
AGE_BANDS = np.array([[0, 18], [18, 35], [35, 50], [50, 65], [65, 80], [80, 95]], dtype=np.float64)
AGE_SHARES = np.array([0.221, 0.222, 0.191, 0.192, 0.130, 0.044])


@dataclass
class State:
    """Per-person arrays for one chunk; names follow docs/simulator.md."""

    n: int
    female: B
    birth: I  # days since epoch
    age: F  # years at the index date
    race: I  # 0 white, 1 black, 2 asian, 3 other/unknown
    hispanic: B
    bmi: F
    t2d: B  # at the index date
    htn: B
    hf: B
    t2d_onset: I  # days; meaningful where the condition exists (at index or incident later), else -1 sentinel
    htn_onset: I
    hf_onset: I
    hba1c: F  # at index
    egfr: F  # latent eGFR at index
    decline_mean: F  # mean annual eGFR decline without treatment
    treated: B  # canagliflozin started at the index date
    egfr_path: F  # (n, len(YEARS)) latent eGFR at each annual slot
    hf_rate: F  # HF hospitalizations per year after index
    mort_eta: F  # Gompertz log-hazard at the index date
    death: I  # day of death, or -1
    obs_start: I
    obs_end: I
    young: B  # 12-25 at index: PHQ-9 / GAD-7 screening
    mood: F  # latent depression severity
    worry: F  # latent anxiety severity
    wearable: B
    frailty: F  # u: unobserved, in no record; the mean decline without it is decline_mean / exp(u)
    extra: dict[str, F] = field(default_factory=dict)


def _days(years: F | float) -> I:
    return np.asarray(np.round(np.asarray(years) * 365.25), dtype=np.int64)


def ckd4_risk(egfr: F, decline_mean: F, treated: B | bool, years: float = 3.0, bound: float = 30.0) -> F:
    """P(latent eGFR < `bound` at `years` after index): yearly declines are Gamma(k, m/k), so their sum is
    Gamma(k·years, m/k). `bound` 30 is CKD stage 4 or worse, 15 end-stage renal disease."""
    m = decline_mean * np.where(treated, CANAGLIFLOZIN_EFFECT, 1.0)
    margin = np.maximum(egfr - bound, 0.0)
    return np.asarray(gammaincc(DECLINE_SHAPE * years, margin / (m / DECLINE_SHAPE)), dtype=np.float64)


def ckd4_risk_without_frailty(egfr: F, decline_known: F, treated: B | bool, years: float = 3.0) -> F:
    """`ckd4_risk` averaged over the unobserved frailty u ~ N(0, FRAILTY_SD) (Gauss-Hermite, 40 nodes).

    The risk for someone who knew every latent quantity but u: no model fitted to records can know more, so its
    AUROC bounds theirs (the records add noise to eGFR and HbA1c, and the eGFR at index is often a year old)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    egfr_, known = np.asarray(egfr)[:, None], np.asarray(decline_known)[:, None]
    risk = ckd4_risk(egfr_, known * np.exp(FRAILTY_SD * nodes[None, :]), np.asarray(treated)[:, None], years)
    return np.asarray(risk @ weights, dtype=np.float64)


def survival(eta: F, t: F | float) -> F:
    """Gompertz survival from the index date: S(t) = exp(-e^η (e^{bt} - 1) / b)."""
    return np.asarray(np.exp(-np.exp(eta) * np.expm1(GOMPERTZ_B * np.asarray(t)) / GOMPERTZ_B), dtype=np.float64)


def simulate_state(rng: np.random.Generator, n: int) -> State:
    """Draw demographics, the state at the index date, trajectories, hazards and the observation window."""
    female = rng.random(n) < 0.505
    band = rng.choice(len(AGE_SHARES), size=n, p=AGE_SHARES)
    age = AGE_BANDS[band, 0] + rng.random(n) * (AGE_BANDS[band, 1] - AGE_BANDS[band, 0])
    birth = INDEX - _days(age)
    race = rng.choice(4, size=n, p=[0.616, 0.124, 0.060, 0.200]).astype(np.int64)
    hispanic = rng.random(n) < 0.187
    adult = age >= 18
    black = (race == 1).astype(np.float64)
    bmi = np.where(adult, np.exp(rng.normal(np.log(28.5), 0.18, n)), np.exp(rng.normal(np.log(20.0), 0.15, n)))

    t2d = adult & (rng.random(n) < expit(-6.2 + 0.065 * age + 0.10 * (bmi - 28.5) + 0.4 * black + 0.3 * hispanic))
    htn = adult & (rng.random(n) < expit(-4.4 + 0.07 * age + 0.06 * (bmi - 28.5) + 0.5 * black + 0.5 * t2d))
    hf = adult & (rng.random(n) < expit(-10.8 + 0.09 * age + 0.8 * t2d + 0.8 * htn))

    def onset(has: B, max_years: F) -> I:
        years_before = rng.random(n) * np.minimum(max_years, 15.0)
        return np.where(has, INDEX - _days(years_before), -1)

    t2d_onset = onset(t2d, np.maximum(age - 18, 0.1))
    htn_onset = onset(htn, np.maximum(age - 18, 0.1))
    hf_onset = onset(hf, np.maximum(age - 40, 0.1))

    hba1c = np.where(t2d, 6.0 + rng.gamma(2.0, 0.6, n), rng.normal(5.4, 0.3, n))
    egfr = np.where(
        adult, 136.0 - 0.9 * age - 9.0 * t2d - 5.0 * htn - 6.0 * hf + rng.normal(0, 12, n), rng.normal(115, 10, n)
    )
    egfr = np.clip(egfr, 8.0, 140.0)
    hidden = rng.normal(0.0, FRAILTY_SD, n)
    decline_mean = np.exp(
        np.log(0.8)
        + 0.015 * np.maximum(age - 40, 0)
        + t2d * (1.0 + 0.35 * np.maximum(hba1c - 7.0, 0))
        + 0.3 * htn
        + 0.3 * hf
        + hidden
    )
    treat_p = expit(-1.5 + 0.6 * (hba1c - 7.0) + 0.04 * (70.0 - egfr) + 0.5 * hf)
    treated = t2d & (egfr >= 30) & (rng.random(n) < treat_p)

    # Latent eGFR at the annual slots: gamma declines forward (with treatment), backward without.
    k = DECLINE_SHAPE
    fwd = rng.gamma(k, 1.0, (n, 4)) * ((decline_mean * np.where(treated, CANAGLIFLOZIN_EFFECT, 1.0)) / k)[:, None]
    back = rng.gamma(k, 1.0, (n, LOOKBACK)) * (decline_mean / k)[:, None]
    path = np.empty((n, len(YEARS)))
    path[:, LOOKBACK] = egfr
    path[:, LOOKBACK + 1 :] = egfr[:, None] - np.cumsum(fwd, axis=1)
    path[:, :LOOKBACK] = (egfr[:, None] + np.cumsum(back, axis=1))[:, ::-1]
    path = np.clip(path, 4.0, 150.0)

    low = np.maximum(60.0 - egfr, 0.0)
    hf_rate = np.exp(-6.6 + 0.03 * (age - 60) + 4.4 * hf + 0.4 * t2d + 0.4 * htn + 0.03 * low + rng.normal(0, 0.2, n))
    male = (~female).astype(np.float64)
    mort_eta = -10.4 + GOMPERTZ_B * age + 0.7 * hf + 0.35 * t2d + 0.2 * htn + 0.025 * low + 0.15 * male
    # Death by inverting the Gompertz cumulative hazard at an Exp(1) draw.
    e = rng.exponential(1.0, n)
    t_death = np.log1p(GOMPERTZ_B * e * np.exp(-mort_eta)) / GOMPERTZ_B
    death = np.where(INDEX + _days(t_death) <= END, INDEX + _days(t_death), -1)

    obs_start = np.maximum(INDEX - _days(1.0 + 4.0 * rng.random(n)), birth)
    obs_end = np.where(death >= 0, death, END)

    young = (age >= 12) & (age < 26)
    mood = rng.normal(0, 1, n) + 0.25 * female
    worry = 0.6 * mood + 0.8 * rng.normal(0, 1, n) + 0.2 * female
    wearable = adult & (rng.random(n) < 0.15)
    return State(
        n,
        female,
        birth,
        age,
        race,
        hispanic,
        bmi,
        t2d,
        htn,
        hf,
        t2d_onset,
        htn_onset,
        hf_onset,
        hba1c,
        egfr,
        decline_mean,
        treated,
        path,
        hf_rate,
        mort_eta,
        death,
        obs_start,
        obs_end,
        young,
        mood,
        worry,
        wearable,
        hidden,
    )
