"""A chunk's persons and events as OMOP CDM 5.4 tables (Arrow), named and typed like the CDM's CSV files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from carelake.synth.codes import CONDITIONS, DRUGS, INGREDIENTS, MEASURES, PROCEDURES, VISITS
from carelake.synth.events import COND_KEYS, DRUG_KEYS, MEAS_KEYS, PROC_KEYS, Events
from carelake.synth.model import State
from carelake.synth.output import strings

__all__ = ["COLUMNS", "ERA_GAP", "Ids", "eras", "omop_tables"]

EHR = 32817  # type concept: EHR
ERA_GAP = 30  # OHDSI era persistence window: records of one concept less than 30 days apart form one era
RACE_CONCEPTS = np.array([8527, 8516, 8515, 0])
RACE_NAMES = ["White", "Black or African American", "Asian", "Unknown"]
_VISIT_CONCEPT = np.array([v[0] for v in VISITS.values()])
_VISIT_CLASS = [v[1] for v in VISITS.values()]

COLUMNS: dict[str, list[str]] = {
    "PERSON": [
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
        "day_of_birth",
        "race_concept_id",
        "ethnicity_concept_id",
        "person_source_value",
        "gender_source_value",
        "race_source_value",
        "ethnicity_source_value",
    ],
    "OBSERVATION_PERIOD": [
        "observation_period_id",
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
        "period_type_concept_id",
    ],
    "VISIT_OCCURRENCE": [
        "visit_occurrence_id",
        "person_id",
        "visit_concept_id",
        "visit_start_date",
        "visit_end_date",
        "visit_type_concept_id",
        "visit_source_value",
    ],
    "CONDITION_OCCURRENCE": [
        "condition_occurrence_id",
        "person_id",
        "condition_concept_id",
        "condition_start_date",
        "condition_type_concept_id",
        "visit_occurrence_id",
        "condition_source_value",
        "condition_source_concept_id",
    ],
    "DRUG_EXPOSURE": [
        "drug_exposure_id",
        "person_id",
        "drug_concept_id",
        "drug_exposure_start_date",
        "drug_exposure_end_date",
        "drug_type_concept_id",
        "days_supply",
        "visit_occurrence_id",
        "drug_source_value",
    ],
    "MEASUREMENT": [
        "measurement_id",
        "person_id",
        "measurement_concept_id",
        "measurement_date",
        "measurement_type_concept_id",
        "value_as_number",
        "unit_concept_id",
        "visit_occurrence_id",
        "measurement_source_value",
        "unit_source_value",
    ],
    "OBSERVATION": [
        "observation_id",
        "person_id",
        "observation_concept_id",
        "observation_date",
        "observation_type_concept_id",
        "value_as_number",
        "visit_occurrence_id",
        "observation_source_value",
        "unit_source_value",
    ],
    "PROCEDURE_OCCURRENCE": [
        "procedure_occurrence_id",
        "person_id",
        "procedure_concept_id",
        "procedure_date",
        "procedure_type_concept_id",
        "visit_occurrence_id",
        "procedure_source_value",
        "procedure_source_concept_id",
    ],
    "DEATH": ["person_id", "death_date", "death_type_concept_id"],
    "CONDITION_ERA": [
        "condition_era_id",
        "person_id",
        "condition_concept_id",
        "condition_era_start_date",
        "condition_era_end_date",
        "condition_occurrence_count",
    ],
    "DRUG_ERA": [
        "drug_era_id",
        "person_id",
        "drug_concept_id",
        "drug_era_start_date",
        "drug_era_end_date",
        "drug_exposure_count",
        "gap_days",
    ],
}

I64 = NDArray[np.int64]


class Ids:
    """Running id counters across chunks, so every table's ids are unique and dense in the whole output."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}
        self.chunk: dict[str, I64] = {}

    def take(self, kind: str, n: int) -> I64:
        start = self.next.get(kind, 1)
        self.next[kind] = start + n
        self.chunk[kind] = np.arange(start, start + n, dtype=np.int64)
        return self.chunk[kind]

    def assign(self, ev: Events) -> None:
        """Ids for one chunk's events; OMOP rows and FHIR resources share them."""
        self.take("visit", len(ev.visit_person))
        self.take("condition", len(ev.cond_person))
        self.take("drug", len(ev.drug_person))
        self.take("measurement", len(ev.meas_person))
        self.take("procedure", len(ev.proc_person))


def _date(days: I64) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.date32())


def _visit_ref(visit: I64, visit_ids: I64) -> pa.Array:
    return pa.array(np.where(visit >= 0, visit_ids[np.maximum(visit, 0)], 0), mask=visit < 0)


def _lookup(values: list[str], keys: I64) -> pa.Array:
    return strings(values, keys)


def eras(person: I64, concept: I64, start: I64, end: I64, gap: int = ERA_GAP) -> tuple[I64, I64, I64, I64, I64, I64]:
    """OHDSI eras: per person and concept, records (start, end) whose start is at most `gap` days after the latest
    end so far join one era. Returns per era: person, concept, start, end, record count, uncovered days (gap_days)."""
    if len(person) == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, e, e, e
    order = np.lexsort((end, start, concept, person))
    person, concept, start, end = person[order], concept[order], start[order], end[order]
    group = np.ones(len(person), dtype=bool)
    group[1:] = (person[1:] != person[:-1]) | (concept[1:] != concept[:-1])
    gid = np.cumsum(group) - 1
    # Running max of the end date within each group: offset groups so one accumulate never crosses a group boundary.
    span = int(end.max() - end.min()) + 1
    shifted = end - end.min() + gid * span
    run_end = np.maximum.accumulate(shifted) - gid * span + end.min()
    prev_end = np.empty_like(run_end)
    prev_end[1:] = run_end[:-1]
    new = group.copy()
    new[1:] |= start[1:] > prev_end[1:] + gap
    first = np.nonzero(new)[0]
    last = np.append(first[1:], len(person)) - 1
    uncovered = np.where(new, 0, np.maximum(start - prev_end - 1, 0))
    return (
        person[first],
        concept[first],
        start[first],
        run_end[last],
        np.diff(np.append(first, len(person))),
        np.add.reduceat(uncovered, first),
    )


def omop_tables(s: State, ev: Events, person_ids: I64, ids: Ids) -> dict[str, pa.Table]:
    """Build every OMOP table of the chunk; event ids come from `ids` (assigned for this chunk)."""
    pid = person_ids
    births = s.birth.astype("datetime64[D]")
    year = births.astype("datetime64[Y]").astype(np.int64) + 1970
    month = births.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (births - births.astype("datetime64[M]")).astype(np.int64) + 1
    t: dict[str, pa.Table] = {}
    t["PERSON"] = pa.table(
        {
            "person_id": pid,
            "gender_concept_id": np.where(s.female, 8532, 8507),
            "year_of_birth": year,
            "month_of_birth": month,
            "day_of_birth": day,
            "race_concept_id": RACE_CONCEPTS[s.race],
            "ethnicity_concept_id": np.where(s.hispanic, 38003563, 38003564),
            "person_source_value": pa.array([f"p{i}" for i in pid.tolist()]),
            "gender_source_value": pa.array(np.where(s.female, "female", "male").tolist()),
            "race_source_value": _lookup(RACE_NAMES, s.race),
            "ethnicity_source_value": pa.array(
                np.where(s.hispanic, "Hispanic or Latino", "Not Hispanic or Latino").tolist()
            ),
        }
    )
    t["OBSERVATION_PERIOD"] = pa.table(
        {
            "observation_period_id": pid,
            "person_id": pid,
            "observation_period_start_date": _date(s.obs_start),
            "observation_period_end_date": _date(s.obs_end),
            "period_type_concept_id": np.full(s.n, EHR),
        }
    )
    dead = s.death >= 0
    t["DEATH"] = pa.table(
        {
            "person_id": pid[dead],
            "death_date": _date(s.death[dead]),
            "death_type_concept_id": np.full(int(dead.sum()), EHR),
        }
    )
    vid = ids.chunk["visit"]
    t["VISIT_OCCURRENCE"] = pa.table(
        {
            "visit_occurrence_id": vid,
            "person_id": pid[ev.visit_person],
            "visit_concept_id": _VISIT_CONCEPT[ev.visit_kind],
            "visit_start_date": _date(ev.visit_start),
            "visit_end_date": _date(ev.visit_end),
            "visit_type_concept_id": np.full(len(vid), EHR),
            "visit_source_value": _lookup(_VISIT_CLASS, ev.visit_kind),
        }
    )
    conds = [CONDITIONS[k] for k in COND_KEYS]
    n = len(ev.cond_person)
    t["CONDITION_OCCURRENCE"] = pa.table(
        {
            "condition_occurrence_id": ids.chunk["condition"],
            "person_id": pid[ev.cond_person],
            "condition_concept_id": np.array([c.concept_id for c in conds])[ev.cond_key],
            "condition_start_date": _date(ev.cond_date),
            "condition_type_concept_id": np.full(n, EHR),
            "visit_occurrence_id": _visit_ref(ev.cond_visit, vid),
            "condition_source_value": _lookup([c.code for c in conds], ev.cond_key),
            "condition_source_concept_id": np.array([c.concept_id for c in conds])[ev.cond_key],
        }
    )
    cp, cc, cs, ce, cn, _ = eras(
        pid[ev.cond_person], t["CONDITION_OCCURRENCE"]["condition_concept_id"].to_numpy(), ev.cond_date, ev.cond_date
    )
    t["CONDITION_ERA"] = pa.table(
        {
            "condition_era_id": ids.take("condition_era", len(cp)),
            "person_id": cp,
            "condition_concept_id": cc,
            "condition_era_start_date": _date(cs),
            "condition_era_end_date": _date(ce),
            "condition_occurrence_count": cn,
        }
    )
    drugs = [DRUGS[k] for k in DRUG_KEYS]
    n = len(ev.drug_person)
    # 90 days' supply, cut at death: nothing ends after the person died.
    death = s.death[ev.drug_person]
    drug_end = np.where(death >= 0, np.minimum(ev.drug_date + 89, death), ev.drug_date + 89)
    t["DRUG_EXPOSURE"] = pa.table(
        {
            "drug_exposure_id": ids.chunk["drug"],
            "person_id": pid[ev.drug_person],
            "drug_concept_id": np.array([c.concept_id for c in drugs])[ev.drug_key],
            "drug_exposure_start_date": _date(ev.drug_date),
            "drug_exposure_end_date": _date(drug_end),
            "drug_type_concept_id": np.full(n, EHR),
            "days_supply": np.full(n, 90),  # as dispensed; only the end date is cut
            "visit_occurrence_id": _visit_ref(ev.drug_visit, vid),
            "drug_source_value": _lookup([c.code for c in drugs], ev.drug_key),
        }
    )
    ingredient = np.array([INGREDIENTS[k].concept_id for k in DRUG_KEYS])[ev.drug_key]
    dp, dc, ds, de, dn, dg = eras(pid[ev.drug_person], ingredient, ev.drug_date, drug_end)
    t["DRUG_ERA"] = pa.table(
        {
            "drug_era_id": ids.take("drug_era", len(dp)),
            "person_id": dp,
            "drug_concept_id": dc,
            "drug_era_start_date": _date(ds),
            "drug_era_end_date": _date(de),
            "drug_exposure_count": dn,
            "gap_days": dg,
        }
    )
    procs = [PROCEDURES[k] for k in PROC_KEYS]
    proc_concept = np.array([c.concept_id for c in procs])[ev.proc_key]
    t["PROCEDURE_OCCURRENCE"] = pa.table(
        {
            "procedure_occurrence_id": ids.chunk["procedure"],
            "person_id": pid[ev.proc_person],
            "procedure_concept_id": proc_concept,
            "procedure_date": _date(ev.proc_date),
            "procedure_type_concept_id": np.full(len(proc_concept), EHR),
            "visit_occurrence_id": _visit_ref(ev.proc_visit, vid),
            "procedure_source_value": _lookup([c.code for c in procs], ev.proc_key),
            "procedure_source_concept_id": proc_concept,
        }
    )
    meas = [MEASURES[k] for k in MEAS_KEYS]
    is_obs = np.array([c.domain == "Observation" for c in meas])[ev.meas_key]
    mid = ids.chunk["measurement"]  # one id space for both tables: FHIR Observation ids follow it
    for table, sel, prefix in (("MEASUREMENT", ~is_obs, "measurement"), ("OBSERVATION", is_obs, "observation")):
        k = ev.meas_key[sel]
        cols = {
            f"{prefix}_id": mid[sel],
            "person_id": pid[ev.meas_person[sel]],
            f"{prefix}_concept_id": np.array([c.concept_id for c in meas])[k],
            f"{prefix}_date": _date(ev.meas_date[sel]),
            f"{prefix}_type_concept_id": np.full(len(k), EHR),
            "value_as_number": ev.meas_value[sel],
            "visit_occurrence_id": _visit_ref(ev.meas_visit[sel], vid),
            f"{prefix}_source_value": _lookup([c.code for c in meas], k),
            "unit_source_value": _lookup([c.unit for c in meas], k),
        }
        if table == "MEASUREMENT":
            cols["unit_concept_id"] = np.array([c.unit_concept_id for c in meas])[k]
        t[table] = pa.table(cols)
    return t
