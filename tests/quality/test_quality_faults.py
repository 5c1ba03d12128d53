"""Fault injection: each fault in Synthea27Nj is caught by the right check and nothing else newly fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from quality_helpers import clean_duckdb_run, load_sample, outcome

from carelake.omop.schema import table_by_name
from carelake.quality import QualityRun, run_checks
from carelake.warehouse import Warehouse
from engines import engines

ENGINES = engines(spark="never: a sample load per fault; the suite runs on Spark in test_quality_checks")

# fault -> (SQL in canonical DuckDB dialect with {cdm}, checks that must newly fail, checks that may as a logical
# consequence of the same fault). "COPY table SET col = value, ..." copies the table's first row with changes.
# The catalogue's lab value ranges (e.g. serum creatinine, mg/dL) sit on OBSERVATION concepts.
# A fault on one record must cross the check's threshold, so (b) touches 40 visits.
FAULTS: dict[str, tuple[list[str], set[str], set[str]]] = {
    "birth_after_death": (
        [
            "INSERT INTO {cdm}.person SELECT 9001, gender_concept_id, 2010, 6, 1, TIMESTAMP '2010-06-01', "
            "race_concept_id, ethnicity_concept_id, location_id, provider_id, care_site_id, 'fault-a', "
            "gender_source_value, gender_source_concept_id, race_source_value, race_source_concept_id, "
            "ethnicity_source_value, ethnicity_source_concept_id FROM {cdm}.person WHERE person_id = 1",
            "INSERT INTO {cdm}.death SELECT 9001, DATE '2005-01-01', TIMESTAMP '2005-01-01', death_type_concept_id, "
            "cause_concept_id, cause_source_value, cause_source_concept_id FROM {cdm}.death WHERE person_id = 7",
            "INSERT INTO {cdm}.observation_period SELECT 9001, 9001, DATE '2010-06-01', DATE '2010-07-01', "
            "period_type_concept_id FROM {cdm}.observation_period WHERE person_id = 1",
        ],
        {
            "field_plausibleafterbirth_death_death_date",
            "field_plausibleafterbirth_death_death_datetime",
            "field_plausibletemporalafter_death_death_date",
            "field_plausibletemporalafter_death_death_datetime",
        },
        {  # a person born after death can only be observed after death
            "field_plausiblebeforedeath_observation_period_observation_period_start_date",
            "field_plausiblebeforedeath_observation_period_observation_period_end_date",
            "field_plausibleduringlife_observation_period_observation_period_start_date",
            "field_plausibleduringlife_observation_period_observation_period_end_date",
        },
    ),
    "visit_ends_before_start": (
        [
            "UPDATE {cdm}.visit_occurrence SET visit_end_date = visit_start_date - INTERVAL 1 DAY, "
            "visit_end_datetime = visit_start_datetime - INTERVAL 1 DAY WHERE visit_occurrence_id IN "
            "(SELECT visit_occurrence_id FROM {cdm}.visit_occurrence ORDER BY visit_occurrence_id LIMIT 40)"
        ],
        {
            "field_plausiblestartbeforeend_visit_occurrence_visit_start_date",
            "field_plausiblestartbeforeend_visit_occurrence_visit_start_datetime",
            "field_plausibletemporalafter_visit_occurrence_visit_end_date",
            "field_plausibletemporalafter_visit_occurrence_visit_end_datetime",
        },
        set(),
    ),
    "event_outside_observation": (
        [
            "UPDATE {cdm}.drug_exposure SET drug_exposure_start_date = d.e + INTERVAL 1 DAY, "
            "drug_exposure_end_date = d.e + INTERVAL 1 DAY, drug_exposure_start_datetime = d.e + INTERVAL 1 DAY, "
            "drug_exposure_end_datetime = d.e + INTERVAL 1 DAY "
            "FROM (SELECT MIN(x.drug_exposure_id) AS id, MIN(o.observation_period_end_date) AS e "
            "FROM {cdm}.drug_exposure x JOIN {cdm}.observation_period o ON x.person_id = o.person_id "
            "WHERE x.person_id = 1) d WHERE drug_exposure_id = d.id"
        ],
        {"field_withinobservationperiod_drug_exposure_drug_exposure_start_date"},
        set(),
    ),
    "measurement_out_of_range": (
        [
            "INSERT INTO {cdm}.concept SELECT 37392176, 'Creatinine [Mass/volume] in Serum or Plasma', domain_id, "
            "vocabulary_id, concept_class_id, standard_concept, 'fault-d', valid_start_date, valid_end_date, "
            "invalid_reason FROM {cdm}.concept WHERE concept_id = (SELECT MIN(measurement_concept_id) FROM "
            "{cdm}.measurement)",
            "COPY observation SET observation_id = 99000001, observation_concept_id = 37392176, "
            "value_as_number = 5000, unit_concept_id = 8840, unit_source_value = 'mg/dL'",
        ],
        {"concept_plausiblevaluehigh_observation_observation_concept_id_37392176_8840"},
        set(),
    ),
    "non_standard_concept": (
        [
            "UPDATE {cdm}.condition_occurrence SET condition_concept_id = (SELECT MIN(concept_id) FROM {cdm}.concept "
            "WHERE domain_id = 'Condition' AND standard_concept IS NULL) WHERE condition_occurrence_id = "
            "(SELECT MIN(condition_occurrence_id) FROM {cdm}.condition_occurrence)"
        ],
        {"field_isstandardvalidconcept_condition_occurrence_condition_concept_id"},
        set(),
    ),
    "missing_required_field": (
        [
            "ALTER TABLE {cdm}.visit_occurrence ALTER COLUMN visit_type_concept_id DROP NOT NULL",
            "UPDATE {cdm}.visit_occurrence SET visit_type_concept_id = NULL WHERE visit_occurrence_id = "
            "(SELECT MIN(visit_occurrence_id) FROM {cdm}.visit_occurrence)",
        ],
        {"field_isrequired_visit_occurrence_visit_type_concept_id"},
        {"field_measurevaluecompleteness_visit_occurrence_visit_type_concept_id"},  # threshold 0 for required fields
    ),
}

_CLEAN: dict[str, QualityRun] = {}


def _copy_row(spec: str, schema: str = "cdm") -> str:
    """INSERT ... SELECT copying the first row of a table with some columns replaced (portable SQL)."""
    table, assignments = spec.removeprefix("COPY ").split(" SET ", 1)
    changes = dict(a.split(" = ", 1) for a in assignments.split(", "))
    spec_table = table_by_name(table)
    assert spec_table is not None
    cols = [c.name for c in spec_table.schema.columns]
    pk = spec_table.schema.primary_key[0]
    select = ", ".join(changes.get(c, c) for c in cols)
    return (
        f"INSERT INTO {schema}.{table} ({', '.join(cols)}) SELECT {select} FROM {schema}.{table} "
        f"WHERE {pk} = (SELECT MIN({pk}) FROM {schema}.{table})"
    )


def _clean(sample_dir: Path) -> QualityRun:
    if "run" not in _CLEAN:
        _CLEAN["run"] = clean_duckdb_run(sample_dir)
    return _CLEAN["run"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("backend", ENGINES)
def test_fault_is_caught_by_the_right_check(warehouse: Warehouse, sample_dir: Path, fault: str) -> None:
    statements, expected, implied = FAULTS[fault]
    load_sample(warehouse, sample_dir)
    for sql in statements:
        warehouse.execute(
            _copy_row(sql, warehouse.cdm_schema)
            if sql.startswith("COPY ")
            else sql.replace("{cdm}", warehouse.cdm_schema)
        )
    before = {k: v[0] for k, v in outcome(_clean(sample_dir)).items()}
    after = {k: v[0] for k, v in outcome(run_checks(warehouse)).items()}
    newly_failing = {k for k, s in after.items() if s in ("failed", "error") and before[k] not in ("failed", "error")}
    assert expected <= newly_failing, f"{fault}: not caught by {expected - newly_failing}"
    assert newly_failing <= expected | implied, f"{fault}: also failing {newly_failing - expected - implied}"
