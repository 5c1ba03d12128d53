"""Conformance kit for checks, in the spirit of scikit-learn's `parametrize_with_checks`.

`check_conformance(case)` builds a tiny CDM in an in-memory DuckDB and asserts that the check passes on clean
data, fails once `case.violate` has run, is not applicable on an empty table, and reports an error (not a
crash) when its SQL is broken. Built-in recipes cover common check types; a user's check brings its own
violating statements. `parametrize_with_checks(cases)` turns that into one pytest case per (check, step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from carelake.quality.catalogue import Check
from carelake.quality.generate import generate_checks
from carelake.quality.runner import CheckResult, run_checks
from carelake.warehouse import Warehouse, connect

__all__ = ["STEPS", "ConformanceCase", "builtin_cases", "check_conformance", "parametrize_with_checks", "tiny_cdm"]

STEPS = ("clean_passes", "violation_fails", "empty_table_not_applicable", "broken_sql_errors")

_TINY = [
    "INSERT INTO cdm.concept VALUES "
    "(8507, 'MALE', 'Gender', 'Gender', 'Gender', 'S', 'M', DATE '1970-01-01', DATE '2099-12-31', NULL), "
    "(8532, 'FEMALE', 'Gender', 'Gender', 'Gender', 'S', 'F', DATE '1970-01-01', DATE '2099-12-31', NULL), "
    "(8527, 'White', 'Race', 'Race', 'Race', 'S', '5', DATE '1970-01-01', DATE '2099-12-31', NULL), "
    "(38003564, 'Not Hispanic', 'Ethnicity', 'Ethnicity', 'Ethnicity', 'S', 'N', DATE '1970-01-01', "
    "DATE '2099-12-31', NULL), "
    "(32817, 'EHR', 'Type Concept', 'Type Concept', 'Type Concept', 'S', '32817', DATE '1970-01-01', "
    "DATE '2099-12-31', NULL), "
    "(9201, 'Inpatient Visit', 'Visit', 'Visit', 'Visit', 'S', 'IP', DATE '1970-01-01', DATE '2099-12-31', NULL), "
    "(201826, 'Type 2 diabetes', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '44054006', DATE '1970-01-01', "
    "DATE '2099-12-31', NULL), "
    "(45576876, 'Diabetes (ICD10)', 'Condition', 'ICD10CM', 'ICD10 code', NULL, 'E11', DATE '1970-01-01', "
    "DATE '2099-12-31', NULL)",
    "INSERT INTO cdm.person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, "
    "birth_datetime, race_concept_id, ethnicity_concept_id) VALUES "
    "(1, 8507, 1980, 5, 17, TIMESTAMP '1980-05-17', 8527, 38003564)",
    "INSERT INTO cdm.observation_period VALUES (1, 1, DATE '2000-01-01', DATE '2020-12-31', 32817)",
    "INSERT INTO cdm.visit_occurrence (visit_occurrence_id, person_id, visit_concept_id, visit_start_date, "
    "visit_end_date, visit_type_concept_id) VALUES (1, 1, 9201, DATE '2010-01-01', DATE '2010-01-03', 32817)",
    "INSERT INTO cdm.condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
    "condition_start_date, condition_end_date, condition_type_concept_id, visit_occurrence_id) VALUES "
    "(1, 1, 201826, DATE '2010-01-01', DATE '2010-01-20', 32817, 1)",
]


@dataclass(frozen=True)
class ConformanceCase:
    """A check, SQL (DuckDB, schema `cdm`) that makes the tiny CDM violate it, and setup run before every step."""

    check: Check
    violate: Sequence[str]
    setup: Sequence[str] = ()

    @property
    def id(self) -> str:
        return self.check.check_id


def tiny_cdm() -> Warehouse:
    """An in-memory DuckDB CDM with one person, one observation period, one visit and one condition."""
    from carelake.omop.schema import create_cdm

    wh = connect("duckdb:///:memory:")
    create_cdm(wh)
    for sql in _TINY:
        wh.execute(sql)
    return wh


def _find(check_id: str) -> Check:
    for c in generate_checks():
        if c.check_id == check_id:
            return c
    raise KeyError(check_id)


_RECIPES: dict[str, list[str]] = {
    "field_isrequired_condition_occurrence_condition_concept_id": [
        # A second, valid row: a field that is NULL everywhere is "not populated", hence not applicable (DQD).
        "INSERT INTO cdm.condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
        "condition_start_date, condition_type_concept_id) VALUES (2, 1, 201826, DATE '2010-01-01', 32817)",
        "ALTER TABLE cdm.condition_occurrence ALTER COLUMN condition_concept_id DROP NOT NULL",
        "UPDATE cdm.condition_occurrence SET condition_concept_id = NULL WHERE condition_occurrence_id = 1",
    ],
    "field_isstandardvalidconcept_condition_occurrence_condition_concept_id": [
        "UPDATE cdm.condition_occurrence SET condition_concept_id = 45576876"
    ],
    "field_isforeignkey_condition_occurrence_person_id": ["UPDATE cdm.condition_occurrence SET person_id = 42"],
    "field_plausiblestartbeforeend_condition_occurrence_condition_start_date": [
        "UPDATE cdm.condition_occurrence SET condition_end_date = DATE '2009-01-01'"
    ],
    "field_plausibleafterbirth_condition_occurrence_condition_start_date": [
        "UPDATE cdm.condition_occurrence SET condition_start_date = DATE '1979-01-01'"
    ],
    "field_withinobservationperiod_condition_occurrence_condition_start_date": [
        "UPDATE cdm.condition_occurrence SET condition_start_date = DATE '2021-06-01', "
        "condition_end_date = DATE '2021-06-02'"
    ],
    "field_fkdomain_condition_occurrence_condition_concept_id": [
        "UPDATE cdm.condition_occurrence SET condition_concept_id = 9201"
    ],
    "concept_plausiblegender_condition_occurrence_condition_concept_id_26662": [
        "UPDATE cdm.person SET gender_concept_id = 8532"
    ],
}
_SETUP: dict[str, list[str]] = {  # concept-level checks are not applicable until their concept occurs
    "concept_plausiblegender_condition_occurrence_condition_concept_id_26662": [
        "INSERT INTO cdm.concept VALUES (26662, 'Testicular hypofunction', 'Condition', 'SNOMED', 'Clinical Finding', "
        "'S', '48130008', DATE '1970-01-01', DATE '2099-12-31', NULL)",
        "UPDATE cdm.condition_occurrence SET condition_concept_id = 26662",
    ],
}


def builtin_cases() -> list[ConformanceCase]:
    """Conformance cases for a representative built-in check of several check types."""
    return [ConformanceCase(_find(k), sql, _SETUP.get(k, ())) for k, sql in _RECIPES.items()]


def _companions(check: Check) -> list[Check]:
    """cdmTable, cdmField and measureValueCompleteness of the check's table: DQD grades applicability on them."""
    names = ("cdmTable", "cdmField", "measureValueCompleteness")
    return [c for c in generate_checks() if c.table == check.table and c.name in names and c.check_id != check.check_id]


def _result(wh: Warehouse, check: Check) -> CheckResult:
    run = run_checks(wh, [check, *_companions(check)])
    return next(r for r in run.results if r.check.check_id == check.check_id)


def check_conformance(case: ConformanceCase, steps: Iterable[str] = STEPS) -> None:
    """Assert the check behaves (see module docstring); raises AssertionError naming the failing step."""
    check = case.check
    for step in steps:
        wh = tiny_cdm()
        for sql in case.setup:
            wh.execute(sql)
        try:
            if step == "clean_passes":
                got = _result(wh, check)
                assert got.status == "passed", f"{check.check_id}: clean tiny CDM gave {got.status} ({got.error})"
            elif step == "violation_fails":
                for sql in case.violate:
                    wh.execute(sql)
                got = _result(wh, check)
                assert got.status == "failed", f"{check.check_id}: violating row gave {got.status} ({got.error})"
                assert (got.num_violated_rows or 0) >= 1
            elif step == "empty_table_not_applicable":
                wh.execute(f"DELETE FROM cdm.{check.table}")
                got = _result(wh, check)
                assert got.status == "not applicable", f"{check.check_id}: empty table gave {got.status}"
            elif step == "broken_sql_errors":
                assert check.probe is not None
                broken = dataclasses.replace(
                    check, probe=dataclasses.replace(check.probe, violated="SUM(no_such_column_xyz)")
                )
                got = _result(wh, broken)
                assert got.status == "error" and got.error, f"{check.check_id}: broken SQL gave {got.status}"
            else:
                raise ValueError(f"unknown conformance step {step!r}; steps: {', '.join(STEPS)}")
        finally:
            wh.close()


def parametrize_with_checks(cases: Iterable[ConformanceCase]) -> Callable[[Callable[..., Any]], Any]:
    """A pytest decorator with one test per (case, step); the test takes `case` and `step` arguments."""
    import pytest

    params = [pytest.param(case, step, id=f"{case.id}-{step}") for case in cases for step in STEPS]
    decorator: Callable[[Callable[..., Any]], Any] = pytest.mark.parametrize(("case", "step"), params)
    return decorator
