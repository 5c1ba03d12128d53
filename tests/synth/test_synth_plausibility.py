"""Population figures within the ranges docs/simulator.md states (US sources), on 20,000 persons."""

from __future__ import annotations

import numpy as np
import pytest

from carelake.synth import simulate_chunk
from carelake.synth.events import COND_KEYS, Events
from carelake.synth.model import INDEX, State


@pytest.fixture(scope="module")
def population() -> tuple[State, Events]:
    return simulate_chunk(2024, 0, 20_000)


def test_age_and_sex(population: tuple[State, Events]) -> None:
    s, _ = population
    assert 0.49 < s.female.mean() < 0.52
    assert 0.20 < (s.age < 18).mean() < 0.24
    assert 0.15 < (s.age >= 65).mean() < 0.19
    assert 37 < s.age.mean() < 42


@pytest.mark.parametrize(
    ("condition", "low", "high"),
    [("t2d", 0.08, 0.13), ("htn", 0.28, 0.48), ("hf", 0.01, 0.035)],
)
def test_adult_prevalence_at_index(population: tuple[State, Events], condition: str, low: float, high: float) -> None:
    s, _ = population
    assert low < getattr(s, condition)[s.age >= 18].mean() < high


def test_recorded_conditions(population: tuple[State, Events]) -> None:
    s, ev = population

    def share(key: str, among: np.ndarray) -> float:
        people = np.unique(ev.cond_person[ev.cond_key == COND_KEYS.index(key)])
        return float(np.isin(np.nonzero(among)[0], people).mean())

    adult = s.age >= 18
    assert 0.08 < share("ckd3", adult) < 0.20
    assert 0.01 < share("ckd4", adult) < 0.05
    assert 0.12 < share("depression", s.young) < 0.30
    assert 0.10 < share("anxiety", s.young) < 0.30


def test_visits_and_deaths(population: tuple[State, Events]) -> None:
    s, ev = population
    person_years = ((s.obs_end - s.obs_start) / 365.25).sum()
    rates = [(ev.visit_kind == k).sum() / person_years for k in range(3)]
    assert 1.5 < rates[0] < 4.5  # outpatient
    assert 0.2 < rates[1] < 0.6  # emergency
    assert 0.05 < rates[2] < 0.15  # inpatient
    after = ((s.obs_end - np.maximum(s.obs_start, INDEX)) / 365.25).sum()
    assert 6.0 < (s.death >= 0).sum() / after * 1000 < 14.0
