"""Run cohort definitions in a warehouse and report what came out (rows, persons, attrition)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carelake.cohorts.compiler import Target, compile_statements
from carelake.cohorts.errors import CohortDefinitionError
from carelake.cohorts.model import CohortExpression
from carelake.cohorts.parse import parse_expression
from carelake.cohorts.results import ensure_results_tables
from carelake.warehouse import DEFAULT_URL, Warehouse, WarehouseURL, quote, resolve

__all__ = ["CohortResult", "GenerationReport", "RuleStats", "compile_cohort", "generate"]

log = logging.getLogger(__name__)

Definition = Mapping[str, Any] | str | Path


@dataclass(frozen=True)
class RuleStats:
    """One inclusion rule's attrition (mode 0, all events): events meeting it, and events only it removes."""

    sequence: int
    name: str
    person_count: int
    gain_count: int


@dataclass
class CohortResult:
    cohort_id: int
    records: int = 0
    persons: int = 0
    base_count: int = 0
    final_count: int = 0
    rules: list[RuleStats] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class GenerationReport:
    cohorts: dict[int, CohortResult] = field(default_factory=dict)

    @property
    def failed(self) -> dict[int, str]:
        return {k: v.error for k, v in self.cohorts.items() if v.error is not None}


def _statements(expr: CohortExpression, cohort_id: int, cdm: str, results: str) -> list[str]:
    return compile_statements(expr, Target(cohort_id, cdm, results))


def compile_cohort(
    definition: Definition | CohortExpression,
    cohort_id: int,
    warehouse: str | WarehouseURL | Warehouse = DEFAULT_URL,
    *,
    cdm_schema: str | None = None,
    results_schema: str | None = None,
) -> str:
    """The SQL script that (re)generates `cohort_id` from a Circe definition on `warehouse`.

    `warehouse` is a connected warehouse, a URL or an engine name; nothing connects. The schemas default to the
    warehouse's.
    """
    cls, url = resolve(warehouse)
    expr = definition if isinstance(definition, CohortExpression) else parse_expression(definition)
    cdm, results = quote(cdm_schema or url.cdm_schema), quote(results_schema or url.results_schema)
    return ";\n\n".join(cls.render(s) for s in _statements(expr, cohort_id, cdm, results)) + ";\n"


def _collect(wh: Warehouse, cohort_id: int, result: CohortResult) -> None:
    r = quote(wh.results_schema)
    row = wh.fetch_arrow(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT subject_id) AS p FROM {r}.cohort "
        f"WHERE cohort_definition_id = {cohort_id}"
    ).to_pylist()[0]
    result.records, result.persons = int(row["n"]), int(row["p"])
    summary = wh.fetch_arrow(
        f"SELECT base_count, final_count FROM {r}.cohort_summary_stats "
        f"WHERE cohort_definition_id = {cohort_id} AND mode_id = 0"
    ).to_pylist()
    if summary:
        result.base_count, result.final_count = int(summary[0]["base_count"]), int(summary[0]["final_count"])
    rules = wh.fetch_arrow(
        f"SELECT s.rule_sequence, i.name, s.person_count, s.gain_count FROM {r}.cohort_inclusion_stats s "
        f"JOIN {r}.cohort_inclusion i ON i.cohort_definition_id = s.cohort_definition_id "
        f"AND i.rule_sequence = s.rule_sequence WHERE s.cohort_definition_id = {cohort_id} AND s.mode_id = 0 "
        "ORDER BY s.rule_sequence"
    ).to_pylist()
    result.rules = [
        RuleStats(int(x["rule_sequence"]), str(x["name"]), int(x["person_count"]), int(x["gain_count"])) for x in rules
    ]


def generate(
    wh: Warehouse,
    definitions: Mapping[int, Definition | CohortExpression],
    *,
    stop_on_error: bool = True,
) -> GenerationReport:
    """Generate each cohort into `<results>.cohort`, replacing that cohort id's rows, with attrition tables.

    Every definition is parsed before anything runs, so a typo in the tenth fails fast. Each cohort commits on its
    own; with `stop_on_error=False` a failing cohort is rolled back and reported, and the others still run.
    """
    report = GenerationReport()
    parsed: dict[int, CohortExpression] = {}
    for cohort_id, definition in definitions.items():
        try:
            parsed[cohort_id] = definition if isinstance(definition, CohortExpression) else parse_expression(definition)
        except CohortDefinitionError as exc:
            if stop_on_error:
                raise CohortDefinitionError(exc.path, f"cohort {cohort_id}: {exc.reason}") from exc
            report.cohorts[cohort_id] = CohortResult(cohort_id, error=str(exc))
    ensure_results_tables(wh)
    cdm, results = quote(wh.cdm_schema), quote(wh.results_schema)
    for cohort_id, expr in parsed.items():
        result = CohortResult(cohort_id)
        report.cohorts[cohort_id] = result
        started = time.perf_counter()
        try:
            with wh.transaction():
                for statement in _statements(expr, cohort_id, cdm, results):
                    wh.execute(statement)
            _collect(wh, cohort_id, result)
        except Exception as exc:  # any failure: roll back this cohort, report it, go on with the rest
            if stop_on_error:
                raise
            result.error = f"{type(exc).__name__}: {exc}"
            log.warning("cohort %s failed: %s", cohort_id, result.error)
        result.seconds = time.perf_counter() - started
    return report
