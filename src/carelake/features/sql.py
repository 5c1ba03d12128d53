"""The SQL that builds covariates in the warehouse, as (row_id, covariate_id, value, ...) rows of `cl_fe_long`.

Each domain is scanned once: per cohort row and concept, the fewest days between an event and index (events up to
`end_days` after index). A window holds the concept iff that minimum is within its start, so all four windows come
from one aggregate. The most recent measurement before index is the "last value" of every window that contains it.
"""

from __future__ import annotations

from carelake.features.settings import DEMOGRAPHICS, DOMAINS, VISIT_COUNT, WINDOWS, CovariateDomain, CovariateSettings
from carelake.warehouse import date_add

__all__ = ["ROWS", "covariate_statements"]

ROWS = "cl_fe_rows"
LONG = "cl_fe_long"
_COLS = "row_id, covariate_id, covariate_value, analysis_id, concept_id, detail, time_id"
_ANY = 1_000_000_000  # "any time prior" as a day count no record reaches


def _values(rows: list[tuple[int, int]], names: str) -> str:
    body = ", ".join(f"({a}, {b})" for a, b in rows)
    return f"(VALUES {body}) AS w({names})"


def _windows(settings: CovariateSettings, base: int) -> str:
    """(analysis_id, max_days) for the chosen windows: a concept seen `max_days` or fewer days before index."""
    rows = []
    for name in settings.windows:
        start = settings.start_days(name)
        rows.append((base + WINDOWS[name], _ANY if start is None else -start))
    return _values(rows, "analysis_id, max_days")


def _cast(expr: str, kind: str = "BIGINT") -> str:
    return f"CAST({expr} AS {kind})"


def rows_sql(results: str, cohort_id: int) -> list[str]:
    """Cohort rows numbered 0.. in (subject_id, cohort_start_date, cohort_end_date) order: the matrix rows."""
    return [
        f"DROP TABLE IF EXISTS {ROWS}",
        f"CREATE TEMPORARY TABLE {ROWS} AS SELECT "
        f"{_cast('ROW_NUMBER() OVER (ORDER BY subject_id, cohort_start_date, cohort_end_date) - 1')} AS row_id, "
        "subject_id AS person_id, cohort_start_date AS index_date, cohort_end_date AS end_date "
        f"FROM {results}.cohort WHERE cohort_definition_id = {int(cohort_id)}",
    ]


def _demographics(settings: CovariateSettings, cdm: str) -> list[str]:
    exprs = {
        "gender": ("p.gender_concept_id", "p.gender_concept_id <> 0"),
        "age_group": ("FLOOR((EXTRACT(YEAR FROM r.index_date) - p.year_of_birth) / 5)", "p.year_of_birth IS NOT NULL"),
        "race": ("p.race_concept_id", "p.race_concept_id <> 0"),
        "ethnicity": ("p.ethnicity_concept_id", "p.ethnicity_concept_id <> 0"),
        "index_year": ("EXTRACT(YEAR FROM r.index_date)", "TRUE"),
        "index_month": ("EXTRACT(MONTH FROM r.index_date)", "TRUE"),
    }
    out = []
    for name in settings.demographics:
        expr, where = exprs[name]
        aid = DEMOGRAPHICS[name]
        concept = expr if name in ("gender", "race", "ethnicity") else "0"
        out.append(
            f"INSERT INTO {LONG} ({_COLS}) SELECT r.row_id, {_cast(f'{expr} * 1000 + {aid}')}, 1.0, {aid}, "
            f"{_cast(concept)}, {_cast(expr)}, 0 FROM {ROWS} r JOIN {cdm}.person p ON p.person_id = r.person_id "
            f"WHERE {where}"
        )
    return out


def _min_days(d: CovariateDomain, cdm: str, end_days: int) -> list[str]:
    table = f"cl_fe_{d.name}"
    return [
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TEMPORARY TABLE {table} AS SELECT r.row_id, e.{d.concept} AS concept_id, "
        f"MIN(DATE_DIFF('day', e.{d.date}, r.index_date)) AS days FROM {ROWS} r "
        f"JOIN {cdm}.{d.table} e ON e.person_id = r.person_id "
        f"WHERE e.{d.concept} <> 0 AND e.{d.date} <= {date_add('r.index_date', end_days)} "
        f"GROUP BY r.row_id, e.{d.concept}",
    ]


def _occurrence(settings: CovariateSettings, d: CovariateDomain, cdm: str, has_ancestors: bool) -> list[str]:
    table = f"cl_fe_{d.name}"
    out = [
        f"INSERT INTO {LONG} ({_COLS}) SELECT m.row_id, m.concept_id * 1000 + w.analysis_id, 1.0, w.analysis_id, "
        f"m.concept_id, NULL, 0 FROM {table} m JOIN {_windows(settings, d.base)} ON m.days <= w.max_days"
    ]
    if settings.concept_groups and has_ancestors and d.group_base is not None:
        # FeatureExtraction rolls conditions up to SNOMED conditions (not "Clinical finding"), drugs to ingredients
        # and ATC classes; the concept itself counts as its own group (ancestor at level 0).
        keep = (
            "a.domain_id = 'Condition' AND a.standard_concept = 'S' AND a.concept_id <> 441840"
            if d.name == "condition"
            else "(a.concept_class_id = 'Ingredient' OR a.vocabulary_id = 'ATC')"
        )
        out.append(
            f"INSERT INTO {LONG} ({_COLS}) SELECT g.row_id, g.concept_id * 1000 + w.analysis_id, 1.0, w.analysis_id, "
            f"g.concept_id, NULL, 0 FROM (SELECT m.row_id, ca.ancestor_concept_id AS concept_id, MIN(m.days) AS days "
            f"FROM {table} m JOIN {cdm}.concept_ancestor ca ON ca.descendant_concept_id = m.concept_id "
            f"JOIN {cdm}.concept a ON a.concept_id = ca.ancestor_concept_id WHERE {keep} "
            f"GROUP BY m.row_id, ca.ancestor_concept_id) g JOIN {_windows(settings, d.group_base)} "
            "ON g.days <= w.max_days"
        )
    return out


def _measurement_values(settings: CovariateSettings, cdm: str) -> list[str]:
    days = "DATE_DIFF('day', e.measurement_date, r.index_date)"
    within = f"e.measurement_date <= {date_add('r.index_date', settings.end_days)}"
    out = []
    if settings.measurement_values:
        unit = "COALESCE(e.unit_concept_id, 0)"
        last = (
            f"SELECT r.row_id, e.measurement_concept_id AS concept_id, {unit} AS unit_id, e.value_as_number AS v, "
            f"{days} AS days, ROW_NUMBER() OVER (PARTITION BY r.row_id, e.measurement_concept_id, {unit} "
            "ORDER BY e.measurement_date DESC, e.measurement_id DESC) AS rn "
            f"FROM {ROWS} r JOIN {cdm}.measurement e ON e.person_id = r.person_id "
            f"WHERE e.measurement_concept_id <> 0 AND e.value_as_number IS NOT NULL AND {within}"
        )
        out.append(
            f"INSERT INTO {LONG} ({_COLS}) SELECT x.row_id, "
            "x.concept_id * 1000000 + (x.unit_id % 1000) * 1000 + (w.analysis_id + 4), x.v, w.analysis_id + 4, "
            f"x.concept_id, x.unit_id, 0 FROM ({last}) x JOIN {_windows(settings, 700)} "
            "ON x.rn = 1 AND x.days <= w.max_days"
        )
    if settings.measurement_ranges:
        group = (
            "CASE WHEN e.value_as_number < e.range_low THEN 1 WHEN e.value_as_number > e.range_high THEN 3 ELSE 2 END"
        )
        ranged = (
            f"SELECT r.row_id, e.measurement_concept_id AS concept_id, {group} AS grp, MIN({days}) AS days "
            f"FROM {ROWS} r JOIN {cdm}.measurement e ON e.person_id = r.person_id "
            "WHERE e.measurement_concept_id <> 0 AND e.value_as_number IS NOT NULL AND e.range_low IS NOT NULL "
            f"AND e.range_high IS NOT NULL AND {within} GROUP BY 1, 2, 3"
        )
        out.append(
            f"INSERT INTO {LONG} ({_COLS}) SELECT x.row_id, "
            "x.concept_id * 10000 + x.grp * 1000 + (w.analysis_id + 8), 1.0, w.analysis_id + 8, x.concept_id, "
            f"x.grp, 0 FROM ({ranged}) x JOIN {_windows(settings, 700)} ON x.days <= w.max_days"
        )
    return out


def _visit_counts(settings: CovariateSettings, cdm: str) -> list[str]:
    rows = [(aid, -(settings.start_days(name) or 0)) for name, aid in VISIT_COUNT.items() if name in settings.windows]
    if not rows:
        return []
    days = "DATE_DIFF('day', v.visit_start_date, r.index_date)"
    return [
        f"INSERT INTO {LONG} ({_COLS}) SELECT r.row_id, 1000 + w.analysis_id, COUNT(*), w.analysis_id, 0, NULL, 0 "
        f"FROM {ROWS} r JOIN {cdm}.visit_occurrence v ON v.person_id = r.person_id "
        f"JOIN {_values(rows, 'analysis_id, max_days')} ON {days} <= w.max_days AND {days} >= {-settings.end_days} "
        "GROUP BY r.row_id, w.analysis_id"
    ]


def _temporal(settings: CovariateSettings, d: CovariateDomain, cdm: str) -> str:
    bins = ", ".join(f"({i + 1}, {s}, {e})" for i, (s, e) in enumerate(settings.temporal_windows))
    days = f"DATE_DIFF('day', r.index_date, e.{d.date})"
    aid = d.base + 1
    return (
        f"INSERT INTO {LONG} ({_COLS}) SELECT DISTINCT r.row_id, "
        f"(e.{d.concept} * 1000 + {aid}) * 1000 + t.time_id, 1.0, {aid}, e.{d.concept}, NULL, t.time_id "
        f"FROM {ROWS} r JOIN {cdm}.{d.table} e ON e.person_id = r.person_id "
        f"JOIN (VALUES {bins}) AS t(time_id, start_day, end_day) ON {days} >= t.start_day AND {days} <= t.end_day "
        f"WHERE e.{d.concept} <> 0"
    )


def covariate_statements(settings: CovariateSettings, cdm: str, *, has_ancestors: bool) -> list[str]:
    """Statements that fill `cl_fe_long` from `cl_fe_rows` (which `rows_sql` made)."""
    out = [
        f"DROP TABLE IF EXISTS {LONG}",
        f"CREATE TEMPORARY TABLE {LONG} (row_id BIGINT, covariate_id BIGINT, covariate_value DOUBLE, "
        "analysis_id INTEGER, concept_id BIGINT, detail BIGINT, time_id INTEGER)",
        *_demographics(settings, cdm),
    ]
    domains = [DOMAINS[n] for n in settings.domains]
    if settings.temporal_windows:
        return out + [_temporal(settings, d, cdm) for d in domains]
    for d in domains:
        out += _min_days(d, cdm, settings.end_days)
        out += _occurrence(settings, d, cdm, has_ancestors)
        out.append(f"DROP TABLE cl_fe_{d.name}")
    out += _measurement_values(settings, cdm)
    if settings.visit_counts:
        out += _visit_counts(settings, cdm)
    return out
