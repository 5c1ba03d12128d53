"""A cohort expression → the ordered SQL statements that generate it (circe-be's generateCohort, re-derived).

Stages, each a temporary table: codesets → primary events → qualified events (additional criteria, qualified
limit) → inclusion events (one row per satisfied rule) → included events (all rules, expression limit) → strategy
ends → cohort rows (earliest exit per event) → final cohort (eras with pad) → the cohort table, then attrition.
"""

from __future__ import annotations

from dataclasses import dataclass

from carelake.cohorts.criteria import CODESETS, criteria_sql
from carelake.cohorts.endings import censoring_sql, end_strategy_sql, final_insert_sql, stats_sql
from carelake.cohorts.groups import criteria_with_correlated, group_sql
from carelake.cohorts.model import CohortExpression, ConceptSet, ConceptSetItem, Criteria, DateOffsetStrategy
from carelake.warehouse import date_add, id_list

__all__ = ["TEMP_TABLES", "Target", "compile_statements"]

TEMP_TABLES = (
    CODESETS,
    "cl_primary_events",
    "cl_qualified_events",
    "cl_inclusion_events",
    "cl_included_events",
    "cl_strategy_ends",
    "cl_cohort_rows",
    "cl_final_cohort",
    "cl_best_events",
)


@dataclass(frozen=True)
class Target:
    """Where to read and write: CDM schema, results schema, and the cohort id to (re)generate."""

    cohort_id: int
    cdm: str
    results: str


def _item_concepts(items: list[ConceptSetItem], cdm: str) -> str | None:
    """Concepts named by `items`, with their descendants where asked (circe's include/exclude query)."""
    if not items:
        return None
    parts = [f"SELECT concept_id FROM {cdm}.concept WHERE concept_id IN ({id_list([i.concept_id for i in items])})"]
    desc = [i.concept_id for i in items if i.include_descendants]
    if desc:
        parts.append(
            f"SELECT c.concept_id FROM {cdm}.concept c JOIN {cdm}.concept_ancestor ca "
            f"ON c.concept_id = ca.descendant_concept_id AND ca.ancestor_concept_id IN ({id_list(desc)}) "
            "AND c.invalid_reason IS NULL"
        )
    return "\nUNION\n".join(parts)


def _with_mapped(items: list[ConceptSetItem], cdm: str) -> str | None:
    base = _item_concepts(items, cdm)
    mapped = _item_concepts([i for i in items if i.include_mapped], cdm)
    if base is None:
        return None
    if mapped is None:
        return base
    # Source concepts that map to the chosen standard concepts.
    return (
        f"{base}\nUNION\nSELECT cr.concept_id_1 AS concept_id FROM ({mapped}) M JOIN {cdm}.concept_relationship cr "
        "ON M.concept_id = cr.concept_id_2 AND cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL"
    )


def codeset_sql(cs: ConceptSet, cdm: str) -> str:
    include = _with_mapped([i for i in cs.items if not i.is_excluded], cdm)
    if include is None:
        return f"-- codeset {cs.id} ({cs.name}) is empty"
    exclude = _with_mapped([i for i in cs.items if i.is_excluded], cdm)
    body = f"SELECT DISTINCT I.concept_id FROM ({include}) I"
    if exclude is not None:
        body += f"\nWHERE I.concept_id NOT IN (SELECT concept_id FROM ({exclude}) E)"
    return (
        f"INSERT INTO {CODESETS} (codeset_id, concept_id)\nSELECT {cs.id} AS codeset_id, C.concept_id FROM ({body}) C"
    )


def _criteria(c: Criteria, cdm: str) -> str:
    return criteria_sql(c, cdm, lambda cr, q: criteria_with_correlated(cr, q, cdm))


def primary_events_sql(expr: CohortExpression, cdm: str) -> str:
    pc = expr.primary_criteria
    if pc.criteria_list:
        union = "\nUNION ALL\n".join(_criteria(c, cdm) for c in pc.criteria_list)
    else:  # no entry events: an empty, typed event list
        union = (
            "SELECT CAST(NULL AS BIGINT) AS person_id, CAST(NULL AS BIGINT) AS event_id, CAST(NULL AS DATE) AS "
            "start_date, CAST(NULL AS DATE) AS end_date, CAST(NULL AS BIGINT) AS visit_occurrence_id, "
            "CAST(NULL AS DATE) AS sort_date, CAST(NULL AS BIGINT) AS domain_concept_id WHERE 1 = 0"
        )
    sort = "DESC" if pc.limit == "Last" else "ASC"
    sql = (
        "SELECT P.ordinal AS event_id, P.person_id, P.start_date, P.end_date, P.op_start_date, P.op_end_date, "
        "P.visit_occurrence_id\nFROM (\n"
        "  SELECT E.person_id, E.start_date, E.end_date, "
        f"ROW_NUMBER() OVER (PARTITION BY E.person_id ORDER BY E.sort_date {sort}, E.event_id) AS ordinal, "
        "OP.observation_period_start_date AS op_start_date, OP.observation_period_end_date AS op_end_date, "
        "CAST(E.visit_occurrence_id AS BIGINT) AS visit_occurrence_id\n"
        f"  FROM (\n{union}\n) E\n"
        f"  JOIN {cdm}.observation_period OP ON E.person_id = OP.person_id "
        "AND E.start_date >= OP.observation_period_start_date AND E.start_date <= OP.observation_period_end_date\n"
        f"  WHERE {date_add('OP.observation_period_start_date', pc.prior_days)} <= E.start_date "
        f"AND {date_add('E.start_date', pc.post_days)} <= OP.observation_period_end_date\n) P"
    )
    return sql + ("\nWHERE P.ordinal = 1" if pc.limit != "All" else "")


def qualified_events_sql(expr: CohortExpression, cdm: str) -> str:
    sort = "DESC" if expr.qualified_limit == "Last" else "ASC"
    ac = ""
    if expr.additional_criteria is not None and not expr.additional_criteria.is_empty:
        ac = (
            f"\n  JOIN (\n{group_sql(expr.additional_criteria, 'cl_primary_events', 0, cdm)}\n  ) AC "
            "ON AC.person_id = pe.person_id AND AC.event_id = pe.event_id"
        )
    sql = (
        "SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id\nFROM (\n"
        "  SELECT pe.event_id, pe.person_id, pe.start_date, pe.end_date, pe.op_start_date, pe.op_end_date, "
        f"ROW_NUMBER() OVER (PARTITION BY pe.person_id ORDER BY pe.start_date {sort}, pe.event_id) AS ordinal, "
        f"pe.visit_occurrence_id\n  FROM cl_primary_events pe{ac}\n) QE"
    )
    # circe applies the qualified limit only when additional criteria are present.
    if expr.additional_criteria is not None and expr.qualified_limit != "All":
        sql += "\nWHERE QE.ordinal = 1"
    return sql


def included_events_sql(expr: CohortExpression) -> str:
    n = len(expr.inclusion_rules)
    sort = "DESC" if expr.expression_limit == "Last" else "ASC"
    sql = (
        "SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date\nFROM (\n"
        "  SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, "
        f"ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY start_date {sort}, event_id) AS ordinal\n  FROM (\n"
        "    SELECT Q.event_id, Q.person_id, Q.start_date, Q.end_date, Q.op_start_date, Q.op_end_date, "
        "CAST(SUM(COALESCE(POWER(CAST(2 AS BIGINT), I.inclusion_rule_id), 0)) AS BIGINT) AS inclusion_rule_mask\n"
        "    FROM cl_qualified_events Q\n"
        "    LEFT JOIN cl_inclusion_events I ON I.person_id = Q.person_id AND I.event_id = Q.event_id\n"
        "    GROUP BY Q.event_id, Q.person_id, Q.start_date, Q.end_date, Q.op_start_date, Q.op_end_date\n  ) MG"
    )
    if n:
        sql += f"\n  WHERE MG.inclusion_rule_mask = {2**n - 1}"
    sql += "\n) Results"
    if expr.expression_limit != "All":
        sql += "\nWHERE Results.ordinal = 1"
    return sql


def compile_statements(expr: CohortExpression, target: Target) -> list[str]:
    """Every statement, in order, to (re)generate `target.cohort_id` from `expr`."""
    cdm, results = target.cdm, target.results
    out = [f"DROP TABLE IF EXISTS {t}" for t in TEMP_TABLES]
    out.append(f"CREATE TEMPORARY TABLE {CODESETS} (codeset_id BIGINT NOT NULL, concept_id BIGINT NOT NULL)")
    out += [codeset_sql(cs, cdm) for cs in expr.concept_sets if any(not i.is_excluded for i in cs.items)]
    out.append(f"CREATE TEMPORARY TABLE cl_primary_events AS\n{primary_events_sql(expr, cdm)}")
    out.append(f"CREATE TEMPORARY TABLE cl_qualified_events AS\n{qualified_events_sql(expr, cdm)}")
    out.append(
        "CREATE TEMPORARY TABLE cl_inclusion_events (inclusion_rule_id BIGINT, person_id BIGINT, event_id BIGINT)"
    )
    for i, rule in enumerate(expr.inclusion_rules):
        out.append(
            "INSERT INTO cl_inclusion_events (inclusion_rule_id, person_id, event_id)\n"
            f"SELECT {i} AS inclusion_rule_id, pe.person_id, pe.event_id\nFROM cl_qualified_events pe\n"
            f"JOIN (\n{group_sql(rule.expression, 'cl_qualified_events', 0, cdm)}\n) AC "
            "ON AC.person_id = pe.person_id AND AC.event_id = pe.event_id"
        )
    out.append(f"CREATE TEMPORARY TABLE cl_included_events AS\n{included_events_sql(expr)}")
    ends = []
    if expr.end_strategy is not None:
        out.append(f"CREATE TEMPORARY TABLE cl_strategy_ends AS\n{end_strategy_sql(expr.end_strategy, cdm)}")
        ends.append("SELECT event_id, person_id, end_date FROM cl_strategy_ends")
    if not isinstance(expr.end_strategy, DateOffsetStrategy):
        # Without a fixed offset, the end of the observation period always bounds the cohort.
        ends.append("SELECT event_id, person_id, op_end_date AS end_date FROM cl_included_events")
    ends += [censoring_sql(_criteria(c, cdm)) for c in expr.censoring_criteria]
    union = "\nUNION ALL\n".join(ends)
    out.append(
        "CREATE TEMPORARY TABLE cl_cohort_rows AS\nSELECT F.person_id, F.start_date, F.end_date\nFROM (\n"
        "  SELECT I.event_id, I.person_id, I.start_date, CE.end_date, "
        "ROW_NUMBER() OVER (PARTITION BY I.person_id, I.event_id ORDER BY CE.end_date) AS ordinal\n"
        f"  FROM cl_included_events I\n  JOIN (\n{union}\n  ) CE "
        "ON I.event_id = CE.event_id AND I.person_id = CE.person_id AND CE.end_date >= I.start_date\n) F\n"
        "WHERE F.ordinal = 1"
    )
    out += final_insert_sql(expr, target.cohort_id, results)
    out += stats_sql(expr, target.cohort_id, results)
    out += [f"DROP TABLE IF EXISTS {t}" for t in TEMP_TABLES]
    return out
