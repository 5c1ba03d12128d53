"""Results tables for attrition, shaped like circe-be's results schema so OHDSI tools can read them.

cohort_inclusion: rule names; cohort_inclusion_result: events (mode 0) or best event per person (mode 1) per
bit-mask of satisfied rules; cohort_inclusion_stats: per rule, who meets it and who is gained by it;
cohort_summary_stats: base and final counts; cohort_censor_stats: persons lost to the censor window.
"""

from __future__ import annotations

from carelake.omop.schema import table_by_name
from carelake.warehouse import Column, TableSchema, Warehouse

__all__ = ["RESULTS_TABLES", "ensure_results_tables"]


def _t(name: str, *cols: tuple[str, str]) -> TableSchema:
    return TableSchema(name, tuple(Column(n, "bigint" if k == "bigint" else "varchar") for n, k in cols))


RESULTS_TABLES: tuple[TableSchema, ...] = (
    _t(
        "cohort_inclusion",
        ("cohort_definition_id", "bigint"),
        ("rule_sequence", "bigint"),
        ("name", "varchar"),
        ("description", "varchar"),
    ),
    _t(
        "cohort_inclusion_result",
        ("cohort_definition_id", "bigint"),
        ("inclusion_rule_mask", "bigint"),
        ("person_count", "bigint"),
        ("mode_id", "bigint"),
    ),
    _t(
        "cohort_inclusion_stats",
        ("cohort_definition_id", "bigint"),
        ("rule_sequence", "bigint"),
        ("person_count", "bigint"),
        ("gain_count", "bigint"),
        ("person_total", "bigint"),
        ("mode_id", "bigint"),
    ),
    _t(
        "cohort_summary_stats",
        ("cohort_definition_id", "bigint"),
        ("base_count", "bigint"),
        ("final_count", "bigint"),
        ("mode_id", "bigint"),
    ),
    _t("cohort_censor_stats", ("cohort_definition_id", "bigint"), ("lost_count", "bigint")),
)


def ensure_results_tables(wh: Warehouse) -> None:
    """Create the results schema, the CDM cohort table and the attrition tables where missing (idempotent).

    In one transaction: a run stopped among the creates leaves none of them (the fault tests stop it there)."""
    cohort = table_by_name("cohort")
    assert cohort is not None
    with wh.transaction():
        wh.create_schema(wh.results_schema)
        existing = set(wh.list_tables(wh.results_schema))
        for table in (cohort.schema, *RESULTS_TABLES):
            if table.name not in existing:
                wh.create_table(wh.results_schema, table)
