"""A definition that cannot be compiled is rejected before any SQL runs, with the JSON path of the problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from circe_fixtures import GEN, read

from carelake.cohorts import CohortDefinitionError, compile_cohort, parse_expression
from carelake.errors import UserError

RULES = GEN / "inclusionRules" / "simpleInclusionRule.json"


def _base() -> dict[str, Any]:
    return copy.deepcopy(read(RULES))


def _rule_criteria(expr: dict[str, Any]) -> dict[str, Any]:
    criteria: dict[str, Any] = expr["InclusionRules"][0]["expression"]["CriteriaList"][0]["Criteria"]
    return criteria


def test_undefined_codeset_is_named_with_its_path() -> None:
    expr = _base()
    _rule_criteria(expr)["ConditionOccurrence"]["CodesetId"] = 7
    with pytest.raises(CohortDefinitionError) as err:
        parse_expression(expr)
    assert str(err.value) == (
        "InclusionRules[0].expression.CriteriaList[0].Criteria.ConditionOccurrence.CodesetId: codeset 7 is not defined"
    )
    assert isinstance(err.value, UserError)


def test_unknown_criteria_type() -> None:
    expr = _base()
    expr["PrimaryCriteria"]["CriteriaList"][0] = {"ConditionOccurence": {"CodesetId": 0}}
    where = r"^PrimaryCriteria\.CriteriaList\[0\]\.ConditionOccurence: unknown criteria type"
    with pytest.raises(CohortDefinitionError, match=where):
        parse_expression(expr)


def test_window_without_coeff() -> None:
    expr = _base()
    window = expr["InclusionRules"][0]["expression"]["CriteriaList"][0]["StartWindow"]
    window["Start"] = {"Days": 30}
    with pytest.raises(CohortDefinitionError, match=r"StartWindow\.Start\.Coeff: window bound has no Coeff"):
        parse_expression(expr)


def test_unknown_attribute_and_bad_occurrence() -> None:
    expr = _base()
    _rule_criteria(expr)["ConditionOccurrence"]["ConditionTypo"] = []
    with pytest.raises(CohortDefinitionError, match=r"ConditionOccurrence\.ConditionTypo: unknown attribute"):
        parse_expression(expr)
    expr = _base()
    expr["InclusionRules"][0]["expression"]["CriteriaList"][0]["Occurrence"]["Type"] = -99
    with pytest.raises(CohortDefinitionError, match=r"Occurrence\.Type: must be 0"):
        parse_expression(expr)


def test_cdm50_only_attributes_are_rejected_not_ignored() -> None:
    expr = read(GEN / "allCriteria" / "allCriteriaExpression.json")
    with pytest.raises(CohortDefinitionError, match=r"EffectiveDrugDose: not supported"):
        parse_expression(expr)


def test_definition_from_text_and_path(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8")
    assert parse_expression(text) == parse_expression(RULES) == parse_expression(json.loads(text))
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope", encoding="utf-8")
    with pytest.raises(CohortDefinitionError, match="not valid JSON"):
        parse_expression(bad)


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_compile_cohort_renders_each_dialect(dialect: str) -> None:
    sql = compile_cohort(RULES, 42, dialect, cdm_schema="my_cdm", results_schema="my_results")
    assert 'DELETE FROM "my_results".cohort WHERE cohort_definition_id = 42' in sql.replace("`", '"')
    assert '"my_cdm".condition_occurrence' in sql.replace("`", '"')
