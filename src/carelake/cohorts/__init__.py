"""Cohorts from OHDSI Circe (ATLAS) definitions, compiled to SQL and run in the warehouse.

`generate(wh, {id: definition})` writes `<results>.cohort` rows plus attrition tables; `compile_cohort` returns
the SQL for review or for running elsewhere; `parse_expression` gives the validated, typed definition.
"""

from __future__ import annotations

from carelake.cohorts.errors import CohortDefinitionError
from carelake.cohorts.generate import CohortResult, GenerationReport, RuleStats, compile_cohort, generate
from carelake.cohorts.model import CohortExpression
from carelake.cohorts.parse import parse_expression
from carelake.cohorts.results import RESULTS_TABLES, ensure_results_tables

__all__ = [
    "RESULTS_TABLES",
    "CohortDefinitionError",
    "CohortExpression",
    "CohortResult",
    "GenerationReport",
    "RuleStats",
    "compile_cohort",
    "ensure_results_tables",
    "generate",
    "parse_expression",
]
