"""The study population: which target-cohort rows enter a study, their time at risk and outcome, and the attrition.

PatientLevelPrediction's createStudyPopulation, step for step. The warehouse joins each target row to its
observation period and to the outcome cohort, and returns one row of facts per target row (days of prior
observation, the time-at-risk window, outcomes inside it, a prior outcome); the steps then apply in PLP's order:
first exposure only, washout, prior outcome, time at risk. Each step records how many rows, persons and outcomes
remain, so the report can show the attrition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from carelake.evaluation.survival import Survival
from carelake.studies.spec import Population, TimeAtRisk
from carelake.warehouse import Warehouse, quote

__all__ = [
    "Attrition",
    "StudyPopulation",
    "competing_follow_up",
    "first_days",
    "follow_up",
    "population_sql",
    "study_population",
    "survival_population",
]

_FACTS = "cl_sp_facts"


@dataclass(frozen=True)
class Attrition:
    """After one step: its description (PLP's wording), rows, distinct persons and rows with the outcome."""

    description: str
    rows: int
    persons: int
    outcomes: int


@dataclass(frozen=True)
class StudyPopulation:
    """The rows kept, in (person, cohort start, cohort end) order, with PLP's population columns, and the attrition.

    `rows` columns: person_id, cohort_start_date, cohort_end_date, days_from_obs_start, tar_start, tar_end,
    time_at_risk, outcome_count, days_to_event (first outcome in the window, null without one), label (0/1).
    """

    target_id: int
    outcome_id: int
    rows: pa.Table
    attrition: tuple[Attrition, ...]

    @property
    def labels(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.rows.column("label").to_numpy(), dtype=np.float64)


def _tar(days: int, anchor: str, to_cohort_end: str = "t.days_to_cohort_end") -> str:
    """A time-at-risk bound in days from index, as SQL; `to_cohort_end`: the query's days from start to end."""
    return f"{int(days)} + {to_cohort_end}" if anchor == "cohort end" else str(int(days))


def population_sql(wh: Warehouse, target_id: int, outcome_id: int, settings: Population) -> list[str]:
    """The statements that leave one row of facts per target row in a session table (canonical SQL)."""
    cdm, results = quote(wh.cdm_schema), quote(wh.results_schema)
    tar = settings.time_at_risk
    start = _tar(tar.start, tar.start_anchor)
    end = _tar(tar.end, tar.end_anchor)
    lookback = int(settings.prior_outcome_lookback_days)
    target = (
        "SELECT c.subject_id AS person_id, c.cohort_start_date, c.cohort_end_date, "
        "DATE_DIFF('day', op.observation_period_start_date, c.cohort_start_date) AS days_from_obs_start, "
        "DATE_DIFF('day', c.cohort_start_date, op.observation_period_end_date) AS days_to_obs_end, "
        "DATE_DIFF('day', c.cohort_start_date, c.cohort_end_date) AS days_to_cohort_end "
        f"FROM {results}.cohort c LEFT JOIN {cdm}.observation_period op ON op.person_id = c.subject_id "
        "AND c.cohort_start_date >= op.observation_period_start_date "
        "AND c.cohort_start_date <= op.observation_period_end_date "
        f"WHERE c.cohort_definition_id = {int(target_id)}"
    )
    # The window ends at the end of observation (PLP truncates tarEnd at daysToObsEnd).
    windowed = (
        f"SELECT t.*, {start} AS tar_start, CASE WHEN {end} > t.days_to_obs_end THEN t.days_to_obs_end "
        f"ELSE {end} END AS tar_end FROM ({target}) t"
    )
    days = "DATE_DIFF('day', w.cohort_start_date, o.cohort_start_date)"
    inside = f"o.subject_id IS NOT NULL AND {days} >= w.tar_start AND {days} <= w.tar_end"
    before = f"o.subject_id IS NOT NULL AND {days} > -{lookback} AND {days} < w.tar_start"
    facts = (
        "SELECT w.person_id, w.cohort_start_date, w.cohort_end_date, w.days_from_obs_start, w.days_to_obs_end, "
        "w.tar_start, w.tar_end, "
        f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END) AS outcome_count, "
        f"MIN(CASE WHEN {inside} THEN {days} END) AS days_to_event, "
        f"MAX(CASE WHEN {before} THEN 1 ELSE 0 END) AS prior_outcome "
        f"FROM ({windowed}) w LEFT JOIN {results}.cohort o ON o.subject_id = w.person_id "
        f"AND o.cohort_definition_id = {int(outcome_id)} "
        "GROUP BY w.person_id, w.cohort_start_date, w.cohort_end_date, w.days_from_obs_start, w.days_to_obs_end, "
        "w.tar_start, w.tar_end"
    )
    return [f"DROP TABLE IF EXISTS {_FACTS}", f"CREATE TEMPORARY TABLE {_FACTS} AS {facts}"]


def study_population(wh: Warehouse, target_id: int, outcome_id: int, settings: Population) -> StudyPopulation:
    """The study population of target cohort `target_id` for outcome cohort `outcome_id` under `settings`."""
    for statement in population_sql(wh, target_id, outcome_id, settings):
        wh.execute(statement)
    facts = wh.fetch_arrow(f"SELECT * FROM {_FACTS} ORDER BY person_id, cohort_start_date, cohort_end_date")
    wh.execute(f"DROP TABLE IF EXISTS {_FACTS}")
    return _apply(target_id, outcome_id, facts, settings)


def _int(table: pa.Table, name: str, fill: int = 0) -> npt.NDArray[np.int64]:
    return np.asarray(table.column(name).fill_null(fill).to_numpy(zero_copy_only=False), dtype=np.int64)


def _apply(target_id: int, outcome_id: int, facts: pa.Table, s: Population) -> StudyPopulation:
    person = _int(facts, "person_id")
    count = _int(facts, "outcome_count")
    keep = np.ones(facts.num_rows, dtype=bool)
    steps: list[Attrition] = []

    def record(description: str) -> None:
        steps.append(
            Attrition(description, int(keep.sum()), int(np.unique(person[keep]).size), int((count[keep] > 0).sum()))
        )

    record("Original cohorts")
    observed = facts.column("days_to_obs_end").is_valid().to_numpy(zero_copy_only=False)
    if not observed.all():
        keep &= observed
        record("Index date in an observation period")
    if s.first_exposure_only:
        first = np.ones_like(keep)
        first[1:] = person[1:] != person[:-1]  # rows are in (person, start) order
        keep &= first
        record("First exposure only")
    if s.washout_days > 0:
        keep &= _int(facts, "days_from_obs_start") >= s.washout_days
        record(f"At least {s.washout_days} days of prior observation")
    if s.remove_prior_outcome:
        keep &= _int(facts, "prior_outcome") == 0
        record("No prior outcome")
    tar_start, tar_end = _int(facts, "tar_start"), _int(facts, "tar_end")
    time_at_risk = tar_end - tar_start + 1
    if s.require_time_at_risk:
        enough = time_at_risk >= s.min_time_at_risk_days
        keep &= (enough | (count > 0)) if s.include_all_outcomes else enough
        record(f"At least {s.min_time_at_risk_days} days at risk" + (" (or the outcome)" * s.include_all_outcomes))
    index = np.nonzero(keep)[0]
    kept = facts.take(pa.array(index))
    rows = pa.table(
        {
            "person_id": kept.column("person_id").cast(pa.int64()),
            "cohort_start_date": kept.column("cohort_start_date"),
            "cohort_end_date": kept.column("cohort_end_date"),
            "days_from_obs_start": pa.array(_int(kept, "days_from_obs_start")),
            "tar_start": pa.array(tar_start[index]),
            "tar_end": pa.array(tar_end[index]),
            "time_at_risk": pa.array(time_at_risk[index]),
            "outcome_count": pa.array(count[index]),
            "days_to_event": kept.column("days_to_event").cast(pa.int64()),
            "label": pa.array((count[index] > 0).astype(np.int8)),
        }
    )
    return StudyPopulation(target_id, outcome_id, rows, tuple(steps))


def survival_population(population: StudyPopulation) -> StudyPopulation:
    """The population without rows that have no day at risk, the step recorded in the attrition."""
    keep = np.asarray(population.rows.column("time_at_risk").to_numpy(), dtype=np.int64) >= 1
    if keep.all():
        return population
    rows = population.rows.filter(pa.array(keep))
    label = np.asarray(rows.column("label").to_numpy(), dtype=np.int64)
    step = Attrition(
        "At least one day at risk (survival)",
        rows.num_rows,
        int(np.unique(rows.column("person_id").to_numpy()).size),
        int(label.sum()),
    )
    return StudyPopulation(population.target_id, population.outcome_id, rows, (*population.attrition, step))


def follow_up(population: StudyPopulation) -> Survival:
    """Each row's follow-up from the start of time at risk: (days to the first outcome or to censoring, event)."""
    rows = population.rows
    start = np.asarray(rows.column("tar_start").to_numpy(), dtype=np.int64)
    at_risk = np.asarray(rows.column("time_at_risk").to_numpy(), dtype=np.int64)
    event = np.asarray(rows.column("label").to_numpy(), dtype=np.int64) == 1
    to_event = np.asarray(rows.column("days_to_event").fill_null(0).to_numpy(), dtype=np.int64) - start + 1
    return Survival(np.where(event, to_event, at_risk).astype(np.float64), event)


def first_days(
    wh: Warehouse, population: StudyPopulation, cohort_ids: list[int], window: TimeAtRisk | None = None
) -> np.ndarray:
    """Per population row and cohort: the days from the row's index to the cohort's first start for that person
    (NaN: never), in the population's row order; with `window`, the first start on or after the window opens (an
    earlier start, before index say, must not hide one inside it)."""
    results = quote(wh.results_schema)
    rows = population.rows
    out = np.full((rows.num_rows, len(cohort_ids)), np.nan)
    if not cohort_ids or rows.num_rows == 0:
        return out
    ids = ", ".join(str(int(c)) for c in cohort_ids)
    target = int(population.target_id)
    days = "DATE_DIFF('day', t.cohort_start_date, s.cohort_start_date)"
    opens = ""
    if window is not None:
        to_end = "DATE_DIFF('day', t.cohort_start_date, t.cohort_end_date)"
        start = _tar(window.start, window.start_anchor, to_end)
        opens = f" AND {days} >= {start}"
    got = wh.fetch_arrow(
        f"SELECT t.subject_id AS person_id, t.cohort_start_date, s.cohort_definition_id, MIN({days}) AS days "
        f"FROM {results}.cohort t JOIN {results}.cohort s ON s.subject_id = t.subject_id "
        f"WHERE t.cohort_definition_id = {target} AND s.cohort_definition_id IN ({ids}){opens} "
        "GROUP BY t.subject_id, t.cohort_start_date, s.cohort_definition_id"
    )
    index = {
        (int(p), d): i
        for i, (p, d) in enumerate(
            zip(rows.column("person_id").to_pylist(), rows.column("cohort_start_date").to_pylist(), strict=True)
        )
    }
    column = {int(c): j for j, c in enumerate(cohort_ids)}
    for p, d, c, days in zip(
        got.column("person_id").to_pylist(),
        got.column("cohort_start_date").to_pylist(),
        got.column("cohort_definition_id").to_pylist(),
        got.column("days").to_pylist(),
        strict=True,
    ):
        i = index.get((int(p), d))
        if i is not None:
            out[i, column[int(c)]] = float(days)
    return out


def competing_follow_up(population: StudyPopulation, competing_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, cause) per row: the outcome (cause 1) or the first competing event (cause 2) in the window, whichever
    comes first (the outcome on a tie: it was seen), else censored (0) at the window's end; times as `follow_up`."""
    rows = population.rows
    start = np.asarray(rows.column("tar_start").to_numpy(), dtype=np.float64)
    end = np.asarray(rows.column("tar_end").to_numpy(), dtype=np.float64)
    fu = follow_up(population)
    day = np.nanmin(competing_days, axis=1, initial=np.inf) if competing_days.size else np.full(len(fu), np.inf)
    day = np.where(np.isnan(day), np.inf, day)
    inside = (day >= start) & (day <= end)
    competing_time = np.where(inside, day - start + 1, np.inf)
    outcome_time = np.where(fu.event, fu.time, np.inf)
    cause = np.where(np.isfinite(outcome_time) & (outcome_time <= competing_time), 1,
                     np.where(np.isfinite(competing_time) & (competing_time < outcome_time), 2, 0))  # fmt: skip
    time = np.where(cause == 2, competing_time, fu.time)
    return time.astype(np.float64), cause.astype(np.int64)
