"""Criteria groups: correlated criteria in time windows, demographic criteria and nested groups.

Each builder returns rows (index_id, person_id, event_id) for the events of `event_table` that satisfy it; a group
counts how many of its members each event satisfies (circe-be's groupQuery / additionalCriteria templates).
`event_table` has person_id, event_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id.
"""

from __future__ import annotations

from carelake.cohorts.criteria import criteria_sql
from carelake.cohorts.model import CorrelatedCriteria, Criteria, CriteriaGroup, DemographicCriteria, Window
from carelake.cohorts.sqlutil import date_range, numeric_range
from carelake.warehouse import date_add, id_list

__all__ = ["criteria_with_correlated", "group_sql"]

_OCCURRENCE_OPS = {0: "=", 1: "<=", 2: ">="}
_COUNT_COLUMNS = {"DOMAIN_CONCEPT": "domain_concept_id", "START_DATE": "start_date", "VISIT_ID": "visit_occurrence_id"}


def _bound(days: int | None, coeff: int, index_expr: str, check_op: bool) -> str | None:
    """One edge of a window; an edge without Days is the observation period's edge (or none when ignored)."""
    if days is not None:
        return date_add(index_expr, coeff * days)
    if not check_op:
        return None
    return "P.op_start_date" if coeff == -1 else "P.op_end_date"


def _window_clauses(window: Window, *, is_end_window: bool, check_op: bool) -> list[str]:
    index_expr = "P.end_date" if window.use_index_end else "P.start_date"
    if is_end_window:
        # circe: a missing UseEventEnd on an EndWindow means the event's end (backwards compatibility).
        event_expr = "A.end_date" if window.use_event_end is None or window.use_event_end else "A.start_date"
    else:
        event_expr = "A.end_date" if window.use_event_end else "A.start_date"
    clauses = []
    low = _bound(window.start.days, window.start.coeff, index_expr, check_op)
    if low is not None:
        clauses.append(f"{event_expr} >= {low}")
    high = _bound(window.end.days, window.end.coeff, index_expr, check_op)
    if high is not None:
        clauses.append(f"{event_expr} <= {high}")
    return clauses


def _correlated_sql(cc: CorrelatedCriteria, event_table: str, index_id: int, cdm: str) -> str:
    check_op = not cc.ignore_observation_period
    clauses = ["A.person_id = P.person_id"]
    if check_op:
        clauses.append("A.start_date >= P.op_start_date AND A.start_date <= P.op_end_date")
    clauses += _window_clauses(cc.start_window, is_end_window=False, check_op=check_op)
    if cc.end_window is not None:
        clauses += _window_clauses(cc.end_window, is_end_window=True, check_op=check_op)
    if cc.restrict_visit:
        clauses.append("A.visit_occurrence_id = P.visit_occurrence_id")
    occ = cc.occurrence
    # Counting zero, or at most n, needs the events without any match: LEFT JOIN, count the matched rows.
    join = "LEFT JOIN" if occ.type == 1 or occ.count == 0 else "JOIN"
    counted = f"DISTINCT A.{_COUNT_COLUMNS[occ.count_column or 'DOMAIN_CONCEPT']}" if occ.is_distinct else "A.event_id"
    inner = criteria_sql(cc.criteria, cdm, lambda c, q: criteria_with_correlated(c, q, cdm))
    return (
        f"SELECT {index_id} AS index_id, P.person_id, P.event_id\n"
        f"FROM {event_table} P\n"
        f"{join} (\n{inner}\n) A ON " + "\n  AND ".join(clauses) + "\n"
        "GROUP BY P.person_id, P.event_id\n"
        f"HAVING COUNT({counted}) {_OCCURRENCE_OPS[occ.type]} {occ.count}"
    )


def _demographic_sql(dc: DemographicCriteria, event_table: str, index_id: int, cdm: str) -> str:
    where = []
    if dc.age is not None:
        where.append(numeric_range("YEAR(E.start_date) - P.year_of_birth", dc.age, integer=True))
    for column, ids in (
        ("gender_concept_id", dc.gender),
        ("race_concept_id", dc.race),
        ("ethnicity_concept_id", dc.ethnicity),
    ):
        if ids:
            where.append(f"P.{column} IN ({id_list(ids)})")
    if dc.occurrence_start_date is not None:
        where.append(date_range("E.start_date", dc.occurrence_start_date))
    if dc.occurrence_end_date is not None:
        where.append(date_range("E.end_date", dc.occurrence_end_date))
    sql = (
        f"SELECT {index_id} AS index_id, E.person_id, E.event_id\n"
        f"FROM {event_table} E\nJOIN {cdm}.person P ON P.person_id = E.person_id"
    )
    return sql + ("\nWHERE " + " AND ".join(where) if where else "")


def group_sql(group: CriteriaGroup, event_table: str, index_id: int, cdm: str) -> str:
    """Events of `event_table` that satisfy `group`, tagged with `index_id`."""
    if group.is_empty:
        return f"SELECT {index_id} AS index_id, person_id, event_id FROM {event_table}"
    parts: list[str] = []
    i = 0
    for cc in group.criteria_list:
        parts.append(_correlated_sql(cc, event_table, i, cdm))
        i += 1
    for dc in group.demographic_criteria_list:
        parts.append(_demographic_sql(dc, event_table, i, cdm))
        i += 1
    for g in group.groups:
        parts.append(group_sql(g, event_table, i, cdm))
        i += 1
    join = "JOIN"
    if group.type == "ALL":
        having = f"= {i}"
    elif group.type == "ANY":
        having = "> 0"
    elif group.type == "AT_LEAST":
        having = f">= {group.count}"
        join = "LEFT JOIN" if group.count == 0 else "JOIN"
    else:  # AT_MOST includes zero matches, so events without any match must stay
        having = f"<= {group.count}"
        join = "LEFT JOIN"
    union = "\nUNION ALL\n".join(f"SELECT * FROM (\n{p}\n) M{n}" for n, p in enumerate(parts))
    return (
        f"SELECT {index_id} AS index_id, E.person_id, E.event_id\n"
        f"FROM {event_table} E\n"
        f"{join} (\n{union}\n) CQ ON E.person_id = CQ.person_id AND E.event_id = CQ.event_id\n"
        "GROUP BY E.person_id, E.event_id\n"
        f"HAVING COUNT(CQ.index_id) {having}"
    )


def criteria_with_correlated(criteria: Criteria, query: str, cdm: str) -> str:
    """A criteria's rows kept only where its own CorrelatedCriteria group holds (nested criteria)."""
    assert criteria.correlated is not None
    events = (
        "(SELECT Q.person_id, Q.event_id, Q.start_date, Q.end_date, Q.visit_occurrence_id, "
        "OP.observation_period_start_date AS op_start_date, OP.observation_period_end_date AS op_end_date\n"
        f"FROM (\n{query}\n) Q\nJOIN {cdm}.observation_period OP ON Q.person_id = OP.person_id "
        "AND OP.observation_period_start_date <= Q.start_date AND OP.observation_period_end_date >= Q.start_date)"
    )
    return (
        "SELECT PE.person_id, PE.event_id, PE.start_date, PE.end_date, PE.visit_occurrence_id, PE.sort_date, "
        f"PE.domain_concept_id\nFROM (\n{query}\n) PE\nJOIN (\n{group_sql(criteria.correlated, events, 0, cdm)}\n) AC "
        "ON AC.person_id = PE.person_id AND AC.event_id = PE.event_id"
    )
