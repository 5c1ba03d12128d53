"""A survival study's multi-state analysis: stage transitions of the target's persons and where they are over time.

The study file names the stages in order (the first is where the target's persons start) with the cohort whose
start enters each later one, and an absorbing state (death). The warehouse gives, per study-population row, the day
(from the index) each state's cohort first starts; follow-up is the survival study's (from the start of time at
risk to its end or the end of observation). A person starts in the last state entered before follow-up begins,
then moves to each later stage on the day its cohort starts (to the furthest, where several start the same day; a
stage entered after a further one is ignored: stages only progress), and to the absorbing state on the day it
starts (a stage recorded that same day is passed over). `models.multistate` estimates the transition hazards and
state occupation (Aalen-Johansen); the tables are disclosure-checked like every other.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from carelake.evaluation import NotEstimable
from carelake.models.multistate import MultiStateFit, Transition, fit_multistate
from carelake.studies.analysis import MultiStateResult
from carelake.studies.cohorts import StudyCohort
from carelake.studies.population import first_days, study_population, survival_population
from carelake.studies.spec import Study
from carelake.warehouse import Warehouse

__all__ = ["CURVE_STEP", "run_multistate"]

CURVE_STEP = 30  # days between the rows of the occupation table


def _paths(
    entries: np.ndarray, tar_start: np.ndarray, end: np.ndarray, absorbing: int
) -> tuple[np.ndarray, np.ndarray, list[Transition], int]:
    """Each row's starting state, end of follow-up and moves, from the days each state began (columns: stages 1..,
    then the absorbing state); and how many recorded entries were passed over."""
    n, k = entries.shape
    start = np.zeros(n, dtype=np.int64)
    stop = end.astype(np.float64).copy()
    moves: list[Transition] = []
    passed = 0
    for i in range(n):
        time = entries[i] - tar_start[i] + 1  # follow-up time of each entry (day 1: the first day at risk)
        before = [j + 1 for j in range(k - 1) if np.isfinite(time[j]) and time[j] < 1]
        state = max(before, default=0)
        death = time[k - 1] if np.isfinite(time[k - 1]) and 1 <= time[k - 1] <= stop[i] else np.inf
        later = sorted((float(time[j]), j + 1) for j in range(k - 1)
                       if np.isfinite(time[j]) and 1 <= time[j] <= stop[i] and time[j] < death)  # fmt: skip
        passed += sum(1 for j in range(k - 1) if time[j] == death)  # a stage recorded on the day of death
        for t, g in later:
            if g <= state or (moves and moves[-1].person == i and moves[-1].time == t and moves[-1].target >= g):
                passed += 1
                continue
            if moves and moves[-1].person == i and moves[-1].time == t:  # a further stage the same day
                last = moves.pop()
                moves.append(Transition(i, t, last.source, g))
            else:
                moves.append(Transition(i, t, state, g))
            state = g
        if np.isfinite(death):
            moves.append(Transition(i, float(death), state, absorbing))
            stop[i] = death
        start[i] = max(before, default=0)
    return start, stop, moves, passed


def run_multistate(wh: Warehouse, study: Study, cohorts: list[StudyCohort]) -> MultiStateResult:
    """The multi-state analysis the study file declares (its `multistate:` key)."""
    spec = study.multistate
    assert spec is not None
    target = cohorts[0]
    stage_cohorts = [c for c in cohorts if c.role == "state"]
    absorbing = next(c for c in cohorts if c.role == "absorbing")
    states = (*(s.name for s in spec.states), absorbing.name)
    horizons = tuple(spec.horizons) if spec.horizons is not None else study.horizons
    population = survival_population(study_population(wh, target.cohort_id, absorbing.cohort_id, study.population))
    result = MultiStateResult(states, None, horizons, population)
    rows = population.rows
    if rows.num_rows == 0:
        result.notes.append("multi-state: no persons in the study population")
        return result
    entries = first_days(wh, population, [c.cohort_id for c in stage_cohorts] + [absorbing.cohort_id])
    tar_start = np.asarray(rows.column("tar_start").to_numpy(), dtype=np.float64)
    at_risk = np.asarray(rows.column("time_at_risk").to_numpy(), dtype=np.float64)
    start, stop, moves, passed = _paths(entries, tar_start, at_risk, len(states) - 1)
    result.passed_over = passed
    if passed:  # how many goes to results.json through the disclosure rule, not into the note
        result.notes.append("multi-state: some stage records were passed over (a stage recorded after a further one, "
                            "or on the day of death)")  # fmt: skip
    fit = fit_multistate(states, start, stop, moves, absorbing=(len(states) - 1,))
    result.fit = fit
    result.tables = _tables(fit, start, stop, moves, horizons, result.notes)
    return result


def _in_state(start: np.ndarray, stop: np.ndarray, moves: list[Transition], k: int, times: np.ndarray) -> np.ndarray:
    """Persons observed in each state at each time (entered at or before t, not yet left, follow-up not ended; the
    last state, absorbing, holds everyone who reached it)."""
    out = np.zeros((times.size, k))
    by_person: dict[int, list[Transition]] = {}
    for m in moves:
        by_person.setdefault(m.person, []).append(m)
    for i in range(start.size):
        state, since = int(start[i]), 0.0
        for move in by_person.get(i, []):
            out[(times >= since) & (times < move.time), state] += 1
            state, since = move.target, move.time
        absorbed = state == k - 1  # the dead stay dead: counted from then on
        out[(times >= since) & ((times <= float(stop[i])) | absorbed), state] += 1
    return out


def _tables(
    fit: MultiStateFit,
    start: np.ndarray,
    stop: np.ndarray,
    moves: list[Transition],
    horizons: tuple[int, ...],
    notes: list[str],
) -> dict[str, pa.Table]:
    k = len(fit.states)
    last = min(float(fit.last_follow_up), float(max(horizons)))
    grid = np.unique(np.r_[np.arange(0, last + 1, CURVE_STEP), [h for h in horizons if h <= fit.last_follow_up]])
    beyond = [h for h in horizons if h > fit.last_follow_up]
    if beyond:
        notes.append(f"multi-state: not estimable at {', '.join(map(str, beyond))} days: follow-up ends at "
                     f"{fit.last_follow_up:g}")  # fmt: skip
    try:
        occupation = fit.occupation_at(grid)
    except NotEstimable as e:  # pragma: no cover - the grid stops at the last follow-up
        notes.append(f"multi-state: {e.message}")
        return {}
    counts = _in_state(start, stop, moves, k, grid)
    horizon_set = set(horizons)
    occ_rows = [
        {"time": int(t), "horizon": int(t) in horizon_set, "state": fit.states[s],
         "probability": float(occupation[j, s]), "inState": int(counts[j, s])}
        for j, t in enumerate(grid) for s in range(k)
    ]  # fmt: skip
    trans_rows = []
    for (h, g), c in sorted(fit.counts.items()):
        hazard = fit.cumulative_hazard[(h, g)]
        row = {"from": fit.states[h], "to": fit.states[g], "transitions": int(c.sum())}
        for t in horizons:
            j = int(np.searchsorted(fit.times, t, side="right")) - 1
            row[f"cumulativeHazard{t}"] = float(hazard[j]) if j >= 0 and t <= fit.last_follow_up else None
        trans_rows.append(row)
    return {
        "stateOccupation": pa.Table.from_pylist(occ_rows),
        "transitions": pa.Table.from_pylist(trans_rows)
        if trans_rows
        else pa.table({"from": pa.array([], pa.string())}),
    }
