"""SQL for one Circe criteria: rows (person_id, event_id, start_date, end_date, visit_occurrence_id, sort_date,
domain_concept_id) from its CDM table, after codeset, `First` and attribute filters.

Like circe-be, the codeset join and the `First` ordinal are applied in an inner query, so "first" means the first
event of the codeset, before attribute filters (an attribute filter can then drop that first event).
"""

from __future__ import annotations

from collections.abc import Callable

from carelake.cohorts.domains import DOMAINS, Attr, JoinKind
from carelake.cohorts.model import (
    ConceptList,
    ConceptSetSelection,
    Criteria,
    DateRange,
    FilterValue,
    NumericRange,
    TextFilter,
    UserDefinedPeriod,
)
from carelake.cohorts.sqlutil import date_range, numeric_range, text_filter
from carelake.warehouse import date_add, date_literal, id_list

__all__ = ["CODESETS", "criteria_sql"]

# The temporary table holding (codeset_id, concept_id) for the cohort being generated.
CODESETS = "cl_codesets"

_JOINS: dict[JoinKind, str] = {
    "person": "JOIN {cdm}.person P ON C.person_id = P.person_id",
    "visit": "JOIN {cdm}.visit_occurrence V ON C.visit_occurrence_id = V.visit_occurrence_id "
    "AND C.person_id = V.person_id",
    "provider": "LEFT JOIN {cdm}.provider PR ON C.provider_id = PR.provider_id",
    "care_site": "JOIN {cdm}.care_site CS ON C.care_site_id = CS.care_site_id",
}


def in_codeset(expr: str, codeset_id: int, *, exclude: bool = False) -> str:
    neg = "NOT " if exclude else ""
    return f"{expr} {neg}IN (SELECT concept_id FROM {CODESETS} WHERE codeset_id = {codeset_id})"


def _clause(name: str, attr: Attr, value: FilterValue) -> str | None:
    if isinstance(value, ConceptSetSelection):
        return in_codeset(attr.expr, value.codeset_id, exclude=value.is_exclusion)
    if isinstance(value, ConceptList):
        if not value.concept_ids:
            return None
        return f"{attr.expr} {'NOT IN' if value.exclude else 'IN'} ({id_list(value.concept_ids)})"
    if isinstance(value, DateRange):
        return date_range(attr.expr, value)
    if isinstance(value, NumericRange):
        return numeric_range(attr.expr, value, integer=attr.kind == "int")
    if isinstance(value, TextFilter):
        return text_filter(attr.expr, value)
    if isinstance(value, bool):
        return attr.expr if value else None
    raise AssertionError(f"unhandled filter {name}")  # UserDefinedPeriod is applied in the inner query


def criteria_sql(criteria: Criteria, cdm: str, nested: Callable[[Criteria, str], str] | None = None) -> str:
    """The criteria's event rows. `nested` wraps them with the criteria's own CorrelatedCriteria, if any."""
    domain = DOMAINS[criteria.kind]
    start, end = domain.start, domain.end
    inner_where: list[str] = []
    period = criteria.filter("UserDefinedPeriod")
    if isinstance(period, UserDefinedPeriod):
        # The user's dates replace the period's, and must fall inside it.
        if period.start_date:
            lit = date_literal(period.start_date)
            inner_where.append(f"{lit} >= {domain.start} AND {lit} <= {domain.end}")
            start = lit
        if period.end_date:
            lit = date_literal(period.end_date)
            inner_where.append(f"{lit} >= {domain.start} AND {lit} <= {domain.end}")
            end = lit
    if criteria.date_adjustment is not None:
        adj = criteria.date_adjustment
        base_start = end if adj.start_with == "END_DATE" else start
        base_end = start if adj.end_with == "START_DATE" else end
        start, end = date_add(base_start, adj.start_offset), date_add(base_end, adj.end_offset)

    raw: list[str] = []
    joins: list[JoinKind] = []
    outer_where: list[str] = []
    for name, value in criteria.filters:
        if name == domain.source_attr and isinstance(value, ConceptSetSelection):
            assert domain.source_col is not None
            inner_where.append(in_codeset(f"t.{domain.source_col}", value.codeset_id))
            continue
        attr = domain.attrs[name]
        if attr.kind == "user_period":
            continue
        clause = _clause(name, attr, value)
        if clause is None:
            continue
        outer_where.append(clause)
        raw.extend(c for c in attr.raw if c not in raw)
        if attr.join and attr.join not in joins:
            joins.append(attr.join)

    visit = f"t.{domain.visit}" if domain.visit else "CAST(NULL AS BIGINT)"
    concept = f"t.{domain.concept_col}" if domain.concept_col else "CAST(NULL AS BIGINT)"
    cols = [
        "t.person_id",
        f"t.{domain.id_col} AS event_id",
        f"{concept} AS domain_concept_id",
        f"{visit} AS visit_occurrence_id",
        f"{start} AS start_date",
        f"{end} AS end_date",
        *(f"t.{c}" for c in raw if c != "visit_occurrence_id"),
    ]
    if criteria.first:
        order = ", ".join(f"t.{c}" for c in domain.order)
        cols.append(f"ROW_NUMBER() OVER (PARTITION BY t.person_id ORDER BY {order}) AS ordinal")
        outer_where.insert(0, "C.ordinal = 1")
    source = domain.source_sql.format(cdm=cdm) if domain.source_sql else f"{cdm}.{domain.table}"
    if criteria.codeset_id is not None and domain.concept_col and domain.has_codeset:
        inner_where.insert(0, in_codeset(f"t.{domain.concept_col}", criteria.codeset_id))
    inner = f"SELECT {', '.join(cols)}\n  FROM {source} t"
    if inner_where:
        inner += "\n  WHERE " + "\n    AND ".join(inner_where)
    sql = (
        f"-- {criteria.kind} ({criteria.path})\n"
        "SELECT C.person_id, C.event_id, C.start_date, C.end_date, C.visit_occurrence_id, "
        "C.start_date AS sort_date, C.domain_concept_id\n"
        f"FROM (\n  {inner}\n) C"
    )
    for j in joins:
        sql += "\n" + _JOINS[j].format(cdm=cdm)
    if outer_where:
        sql += "\nWHERE " + "\n  AND ".join(outer_where)
    if criteria.correlated is not None and not criteria.correlated.is_empty and nested is not None:
        sql = nested(criteria, sql)
    return sql
