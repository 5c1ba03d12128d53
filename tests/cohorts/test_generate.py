"""generate(): replaces only the cohort ids it is given, reports counts and attrition, isolates failures."""

from __future__ import annotations

from typing import Any

from circe_fixtures import GEN, VOCABULARY, create_relaxed_cdm, load_rows, read

from carelake.cohorts import generate
from carelake.warehouse import Warehouse, quote


def _rows(wh: Warehouse) -> list[dict[str, Any]]:
    return wh.fetch_arrow(
        f"SELECT cohort_definition_id AS id, subject_id, cohort_start_date AS s FROM {quote(wh.results_schema)}.cohort "
        "ORDER BY 1, 2, 3"
    ).to_pylist()


def test_regenerating_replaces_only_that_cohort(warehouse: Warehouse) -> None:
    create_relaxed_cdm(warehouse)
    load_rows(warehouse, read(VOCABULARY))
    load_rows(warehouse, read(GEN / "inclusionRules/simpleInclusionRule_PREP.json"))
    rules = read(GEN / "inclusionRules/simpleInclusionRule.json")
    report = generate(warehouse, {7: rules, 8: rules})
    before = _rows(warehouse)
    assert {r["id"] for r in before} == {7, 8}
    assert (report.cohorts[7].records, report.cohorts[7].persons) == (1, 1)
    # Two events qualify, one passes the single rule: attrition says so.
    assert (report.cohorts[7].base_count, report.cohorts[7].final_count) == (2, 1)
    assert [(r.sequence, r.person_count, r.gain_count) for r in report.cohorts[7].rules] == [(0, 1, 1)]
    generate(warehouse, {7: rules})
    assert _rows(warehouse) == before


def test_failing_cohort_is_reported_and_others_still_run(warehouse: Warehouse) -> None:
    create_relaxed_cdm(warehouse)
    load_rows(warehouse, read(GEN / "inclusionRules/simpleInclusionRule_PREP.json"))
    good = read(GEN / "inclusionRules/simpleInclusionRule.json")
    bad = {**good, "ConceptSets": []}  # criteria now point at a codeset that does not exist
    report = generate(warehouse, {1: bad, 2: good}, stop_on_error=False)
    assert report.failed.keys() == {1}
    assert "codeset 0 is not defined" in (report.cohorts[1].error or "")
    assert report.cohorts[2].error is None
