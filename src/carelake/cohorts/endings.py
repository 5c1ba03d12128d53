"""How cohort episodes end and are written: exit strategies, censoring, era collapse, censor window, attrition."""

from __future__ import annotations

from carelake.cohorts.criteria import CODESETS
from carelake.cohorts.model import CohortExpression, CustomEraStrategy, DateOffsetStrategy, EndStrategy
from carelake.warehouse import date_add, date_literal

__all__ = ["censoring_sql", "end_strategy_sql", "final_insert_sql", "stats_sql"]


def _date_offset(s: DateOffsetStrategy) -> str:
    shifted = date_add("start_date" if s.date_field == "StartDate" else "end_date", s.offset)
    return (
        f"SELECT event_id, person_id, CASE WHEN {shifted} > op_end_date THEN op_end_date ELSE {shifted} END "
        "AS end_date\nFROM cl_included_events"
    )


def _custom_era(s: CustomEraStrategy, cdm: str) -> str:
    """Drug eras of the exit codeset (exposures bridged by `gap_days`); an event ends with the era it falls in."""
    start = "de.drug_exposure_start_date"
    if s.days_supply_override is not None:
        end = date_add(start, s.days_supply_override)
    else:
        end = (
            f"COALESCE(de.drug_exposure_end_date, CAST({start} + de.days_supply * INTERVAL '1' DAY AS DATE), "
            f"{date_add(start, 1)})"
        )
    target = " UNION ALL ".join(
        f"SELECT de.person_id, {start} AS start_date, {end} AS end_date FROM {cdm}.drug_exposure de "
        "JOIN (SELECT DISTINCT person_id FROM cl_included_events) pp ON de.person_id = pp.person_id "
        f"WHERE de.{col} IN (SELECT concept_id FROM {CODESETS} WHERE codeset_id = {s.drug_codeset_id})"
        for col in ("drug_concept_id", "drug_source_concept_id")
    )
    gap = s.gap_days
    # Starts are numbered; padded ends are not. At an end where as many ends as starts have passed, an era closes.
    marks = (
        f"SELECT person_id, start_date AS event_date, 0 AS event_type, "
        "ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY start_date) AS start_ordinal FROM DT\n"
        f"  UNION ALL\n  SELECT person_id, {date_add('end_date', gap)}, 1, CAST(NULL AS BIGINT) FROM DT"
    )
    return (
        f"WITH DT AS ({target}),\n"
        f"MARKS AS (\n  {marks}\n),\n"
        "ORDERED AS (SELECT person_id, event_date, event_type, "
        "MAX(start_ordinal) OVER (PARTITION BY person_id ORDER BY event_date, event_type "
        "ROWS UNBOUNDED PRECEDING) AS start_ordinal, "
        "ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, event_type) AS overall_ord FROM MARKS),\n"
        f"ERA_ENDS AS (SELECT person_id, {date_add('event_date', -gap)} AS end_date FROM ORDERED "
        "WHERE 2 * start_ordinal - overall_ord = 0),\n"
        "STARTS AS (SELECT DT.person_id, DT.start_date, MIN(EE.end_date) AS era_end_date FROM DT "
        "JOIN ERA_ENDS EE ON DT.person_id = EE.person_id AND EE.end_date >= DT.start_date "
        "GROUP BY DT.person_id, DT.start_date),\n"
        "ERAS AS (SELECT person_id, MIN(start_date) AS era_start_date, "
        f"{date_add('era_end_date', s.offset)} AS era_end_date FROM STARTS GROUP BY person_id, era_end_date)\n"
        "SELECT et.event_id, et.person_id, ERAS.era_end_date AS end_date\nFROM cl_included_events et\n"
        "JOIN ERAS ON ERAS.person_id = et.person_id\n"
        "WHERE et.start_date >= ERAS.era_start_date AND et.start_date <= ERAS.era_end_date"
    )


def end_strategy_sql(strategy: EndStrategy, cdm: str) -> str:
    if isinstance(strategy, DateOffsetStrategy):
        return _date_offset(strategy)
    return _custom_era(strategy, cdm)


def censoring_sql(criteria_query: str) -> str:
    """The first censoring event on or after the index date ends the episode."""
    return (
        "SELECT i.event_id, i.person_id, MIN(c.start_date) AS end_date\nFROM cl_included_events i\n"
        f"JOIN (\n{criteria_query}\n) C ON C.person_id = i.person_id AND C.start_date >= i.start_date "
        "AND C.start_date <= i.op_end_date\nGROUP BY i.event_id, i.person_id"
    )


def final_insert_sql(expr: CohortExpression, cohort_id: int, results: str) -> list[str]:
    pad = expr.era_pad
    final = (
        "CREATE TEMPORARY TABLE cl_final_cohort AS\n"
        f"SELECT person_id, MIN(start_date) AS start_date, {date_add('MAX(end_date)', -pad)} AS end_date\nFROM (\n"
        "  SELECT person_id, start_date, end_date, SUM(is_start) OVER (PARTITION BY person_id ORDER BY start_date, "
        "is_start DESC ROWS UNBOUNDED PRECEDING) AS group_idx\n  FROM (\n"
        "    SELECT person_id, start_date, end_date, CASE WHEN MAX(end_date) OVER (PARTITION BY person_id "
        "ORDER BY start_date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date THEN 0 ELSE 1 END "
        "AS is_start\n"
        f"    FROM (SELECT person_id, start_date, {date_add('end_date', pad)} AS end_date FROM cl_cohort_rows) CR\n"
        "  ) ST\n) GR\nGROUP BY person_id, group_idx"
    )
    start, end, where = "start_date", "end_date", ""
    if expr.censor_start:
        lit = date_literal(expr.censor_start)
        start = f"CASE WHEN start_date > {lit} THEN start_date ELSE {lit} END"
    if expr.censor_end:
        lit = date_literal(expr.censor_end)
        end = f"CASE WHEN end_date < {lit} THEN end_date ELSE {lit} END"
    if expr.censor_start or expr.censor_end:
        where = f"\nWHERE {start} <= {end}"
    return [
        final,
        f"DELETE FROM {results}.cohort WHERE cohort_definition_id = {cohort_id}",
        f"INSERT INTO {results}.cohort (cohort_definition_id, subject_id, cohort_start_date, cohort_end_date)\n"
        f"SELECT CAST({cohort_id} AS BIGINT), person_id, {start}, {end}\nFROM cl_final_cohort{where}",
    ]


def _quoted(text: str | None) -> str:
    return "CAST(NULL AS VARCHAR)" if text is None else "'" + text.replace("'", "''") + "'"


def _mode_sql(cohort_id: int, results: str, events: str, mode: int, rule_total: int) -> list[str]:
    full = 2**rule_total - 1
    return [
        f"DELETE FROM {results}.cohort_inclusion_result WHERE cohort_definition_id = {cohort_id} AND mode_id = {mode}",
        f"INSERT INTO {results}.cohort_inclusion_result (cohort_definition_id, inclusion_rule_mask, person_count, "
        f"mode_id)\nSELECT {cohort_id}, inclusion_rule_mask, COUNT(*), {mode}\nFROM (\n"
        "  SELECT Q.person_id, Q.event_id, CAST(SUM(COALESCE(POWER(CAST(2 AS BIGINT), I.inclusion_rule_id), 0)) "
        f"AS BIGINT) AS inclusion_rule_mask\n  FROM {events} Q\n  LEFT JOIN cl_inclusion_events I "
        "ON Q.person_id = I.person_id AND Q.event_id = I.event_id\n  GROUP BY Q.person_id, Q.event_id\n) MG\n"
        "GROUP BY inclusion_rule_mask",
        f"DELETE FROM {results}.cohort_inclusion_stats WHERE cohort_definition_id = {cohort_id} AND mode_id = {mode}",
        f"INSERT INTO {results}.cohort_inclusion_stats (cohort_definition_id, rule_sequence, person_count, "
        "gain_count, person_total, mode_id)\n"
        "SELECT ir.cohort_definition_id, ir.rule_sequence, COALESCE(T.person_count, 0), "
        f"COALESCE(SR.person_count, 0), (SELECT COUNT(*) FROM {events}), {mode}\n"
        f"FROM {results}.cohort_inclusion ir\n"
        "LEFT JOIN (SELECT I.inclusion_rule_id, COUNT(I.event_id) AS person_count "
        f"FROM {events} Q JOIN cl_inclusion_events I ON Q.person_id = I.person_id AND Q.event_id = I.event_id "
        "GROUP BY I.inclusion_rule_id) T ON ir.rule_sequence = T.inclusion_rule_id\n"
        f"LEFT JOIN {results}.cohort_inclusion_result SR ON SR.mode_id = {mode} "
        f"AND SR.cohort_definition_id = {cohort_id} "
        f"AND SR.inclusion_rule_mask = {full} - CAST(POWER(CAST(2 AS BIGINT), ir.rule_sequence) AS BIGINT)\n"
        f"WHERE ir.cohort_definition_id = {cohort_id}",
        f"DELETE FROM {results}.cohort_summary_stats WHERE cohort_definition_id = {cohort_id} AND mode_id = {mode}",
        f"INSERT INTO {results}.cohort_summary_stats (cohort_definition_id, base_count, final_count, mode_id)\n"
        f"SELECT {cohort_id}, (SELECT COUNT(*) FROM {events}), COALESCE((SELECT SUM(person_count) FROM "
        f"{results}.cohort_inclusion_result WHERE mode_id = {mode} AND cohort_definition_id = {cohort_id} "
        f"AND inclusion_rule_mask = {full}), 0), {mode}",
    ]


def stats_sql(expr: CohortExpression, cohort_id: int, results: str) -> list[str]:
    """Attrition as circe records it: per rule-mask counts for all events (mode 0) and best event per person (1)."""
    out = [f"DELETE FROM {results}.cohort_inclusion WHERE cohort_definition_id = {cohort_id}"]
    for i, rule in enumerate(expr.inclusion_rules):
        out.append(
            f"INSERT INTO {results}.cohort_inclusion (cohort_definition_id, rule_sequence, name, description) "
            f"VALUES ({cohort_id}, {i}, {_quoted(rule.name)}, {_quoted(rule.description)})"
        )
    # The best event: the one meeting most rules; ties go to the earliest-numbered rule, then the earliest date.
    out.append(
        "CREATE TEMPORARY TABLE cl_best_events AS\nSELECT Q.person_id, Q.event_id\nFROM cl_qualified_events Q\n"
        "JOIN (\n  SELECT R.person_id, R.event_id, ROW_NUMBER() OVER (PARTITION BY R.person_id "
        "ORDER BY R.rule_count DESC, R.min_rule_id ASC, R.start_date ASC) AS rank_value\n  FROM (\n"
        "    SELECT Q.person_id, Q.event_id, COUNT(DISTINCT I.inclusion_rule_id) AS rule_count, "
        "COALESCE(MIN(I.inclusion_rule_id), 0) AS min_rule_id, Q.start_date\n    FROM cl_qualified_events Q\n"
        "    LEFT JOIN cl_inclusion_events I ON Q.person_id = I.person_id AND Q.event_id = I.event_id\n"
        "    GROUP BY Q.person_id, Q.event_id, Q.start_date\n  ) R\n"
        ") ranked ON Q.person_id = ranked.person_id AND Q.event_id = ranked.event_id\nWHERE ranked.rank_value = 1"
    )
    n = len(expr.inclusion_rules)
    out += _mode_sql(cohort_id, results, "cl_qualified_events", 0, n)
    out += _mode_sql(cohort_id, results, "cl_best_events", 1, n)
    out += [
        f"DELETE FROM {results}.cohort_censor_stats WHERE cohort_definition_id = {cohort_id}",
        f"INSERT INTO {results}.cohort_censor_stats (cohort_definition_id, lost_count)\n"
        f"SELECT {cohort_id}, (SELECT COUNT(DISTINCT person_id) FROM cl_final_cohort) - "
        f"(SELECT COUNT(DISTINCT subject_id) FROM {results}.cohort WHERE cohort_definition_id = {cohort_id})",
    ]
    return out
