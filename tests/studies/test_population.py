"""The study population against PLP's rules recomputed in plain Python from the cohort and observation rows, on
repeated target entries (every respiratory infection of 3,000 simulated persons), under several settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from carelake.studies import Population, TimeAtRisk, load_study
from carelake.studies.cohorts import prepare_cohorts
from carelake.studies.population import study_population
from carelake.warehouse import Warehouse, connect
from simulated import STUDIES, load_simulated


@pytest.fixture(scope="module")
def wh(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = load_simulated(connect(f"duckdb:///{tmp_path_factory.mktemp('pop') / 'wh.duckdb'}"), simulated)
    sf = load_study(STUDIES / "respiratory.yaml")
    target, outcome = prepare_cohorts(w, sf)
    yield w, target.cohort_id, outcome.cohort_id
    w.close()


def _expected(w: Warehouse, target: int, outcome: int, s: Population) -> tuple[list[tuple[Any, ...]], list[int]]:
    """PLP's createStudyPopulation, row by row: (person, start, tar_start, tar_end, outcome count), and attrition."""
    rows = w.fetch_arrow(
        f"SELECT subject_id, cohort_start_date, cohort_end_date FROM results.cohort WHERE cohort_definition_id = "
        f"{target} ORDER BY 1, 2, 3"
    ).to_pylist()
    periods: dict[int, list[tuple[dt.date, dt.date]]] = {}
    for p in w.fetch_arrow("SELECT * FROM cdm.observation_period").to_pylist():
        periods.setdefault(p["person_id"], []).append((p["observation_period_start_date"],
                                                       p["observation_period_end_date"]))  # fmt: skip
    events: dict[int, list[dt.date]] = {}
    for o in w.fetch_arrow(
        f"SELECT subject_id, cohort_start_date FROM results.cohort WHERE cohort_definition_id = {outcome}"
    ).to_pylist():
        events.setdefault(o["subject_id"], []).append(o["cohort_start_date"])
    tar = s.time_at_risk
    kept, counts, seen = [], [len(rows)], set()
    for r in rows:
        pid, start, end = r["subject_id"], r["cohort_start_date"], r["cohort_end_date"]
        op = next((a, b) for a, b in periods[pid] if a <= start <= b)
        to_end = (end - start).days
        tar_start = tar.start + (to_end if tar.start_anchor == "cohort end" else 0)
        tar_end = min(tar.end + (to_end if tar.end_anchor == "cohort end" else 0), (op[1] - start).days)
        days = [(d - start).days for d in events.get(pid, [])]
        n = sum(tar_start <= d <= tar_end for d in days)
        first = pid not in seen
        seen.add(pid)
        kept.append(
            {
                "row": (pid, start, tar_start, tar_end, n),
                "first": first,
                "washout": (start - op[0]).days >= s.washout_days,
                "prior": any(-s.prior_outcome_lookback_days < d < tar_start for d in days),
                "tar": (tar_end - tar_start + 1 >= s.min_time_at_risk_days) or (s.include_all_outcomes and n > 0),
            }
        )
    steps = [("first", s.first_exposure_only), ("washout", s.washout_days > 0), ("prior", s.remove_prior_outcome),
             ("tar", s.require_time_at_risk)]  # fmt: skip
    for key, on in steps:
        if on:
            kept = [k for k in kept if k[key] is True] if key != "prior" else [k for k in kept if not k["prior"]]
            counts.append(len(kept))
    return [k["row"] for k in kept], counts


SETTINGS = [
    Population(washout_days=365, remove_prior_outcome=True, prior_outcome_lookback_days=365,
               time_at_risk=TimeAtRisk(start=1, start_anchor="cohort end", end=365), min_time_at_risk_days=300),
    Population(first_exposure_only=True, remove_prior_outcome=False, include_all_outcomes=False,
               time_at_risk=TimeAtRisk(start=0, end=30, end_anchor="cohort end"), min_time_at_risk_days=20),
    Population(washout_days=0, require_time_at_risk=False, time_at_risk=TimeAtRisk(start=-30, end=730)),
]  # fmt: skip


@pytest.mark.parametrize("settings", SETTINGS, ids=["washout-prior-endanchor", "first-only-short", "no-tar-rule"])
def test_population_follows_plps_rules(wh: tuple[Warehouse, int, int], settings: Population) -> None:
    w, target, outcome = wh
    got = study_population(w, target, outcome, settings)
    want_rows, want_counts = _expected(w, target, outcome, settings)
    rows = got.rows.to_pylist()
    assert [(r["person_id"], r["cohort_start_date"], r["tar_start"], r["tar_end"], r["outcome_count"]) for r in rows] \
        == want_rows  # fmt: skip
    assert [a.rows for a in got.attrition] == want_counts
    assert got.attrition[0].description == "Original cohorts" and got.attrition[0].rows > 1000
    assert [r["label"] for r in rows] == [int(r[4] > 0) for r in want_rows]
    assert 0 < sum(r["label"] for r in rows) < len(rows)  # both classes: the rules were exercised, not vacuous
    assert len({a.rows for a in got.attrition}) == len(got.attrition)  # every step removed someone
    for r in rows:
        if r["outcome_count"]:
            assert r["tar_start"] <= r["days_to_event"] <= r["tar_end"]
        else:
            assert r["days_to_event"] is None
