"""Table 1 of a cohort, aggregated in the warehouse: each person described at their first cohort entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carelake.features.settings import DEMOGRAPHIC_NAMES
from carelake.omop.domains import event_domain
from carelake.warehouse import Warehouse, date_add, quote

__all__ = ["AGE_BANDS", "Category", "Measurement", "Table1", "table1"]

AGE_BANDS = ((0, 17), (18, 34), (35, 49), (50, 64), (65, 79), (80, 200))


@dataclass(frozen=True)
class Category:
    """Persons in one category (a sex, an age band, a prior condition, ...)."""

    section: str
    label: str
    concept_id: int
    count: int


@dataclass(frozen=True)
class Measurement:
    """The last value per person in the window before index, summarised over persons."""

    concept_id: int
    label: str
    n: int
    mean: float
    sd: float | None
    median: float
    q1: float
    q3: float


@dataclass
class Table1:
    cohort_id: int
    persons: int
    records: int
    age_mean: float | None
    age_sd: float | None
    categories: list[Category] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)


def _first_entries(results: str, cohort_id: int) -> str:
    return (
        "SELECT subject_id AS person_id, MIN(cohort_start_date) AS index_date "
        f"FROM {results}.cohort WHERE cohort_definition_id = {int(cohort_id)} GROUP BY subject_id"
    )


def _name(row: dict[str, Any]) -> str:
    cid = int(row["concept_id"] or 0)
    return str(row.get("concept_name") or DEMOGRAPHIC_NAMES.get(cid) or (f"concept {cid}" if cid else "unknown"))


def table1(wh: Warehouse, cohort_id: int, *, window_days: int = 365, top: int = 20) -> Table1:
    """Demographics, top prior conditions and drugs, and measurement summaries in `window_days` before index."""
    cdm, results = quote(wh.cdm_schema), quote(wh.results_schema)
    first = _first_entries(results, cohort_id)
    base = f"({first}) f JOIN {cdm}.person p ON p.person_id = f.person_id"
    age = "(EXTRACT(YEAR FROM f.index_date) - p.year_of_birth)"
    head = wh.fetch_arrow(
        f"SELECT COUNT(*) AS persons, AVG({age}) AS age_mean, STDDEV_SAMP({age}) AS age_sd FROM {base}"
    ).to_pylist()[0]
    records = int(
        wh.fetch_scalar(f"SELECT COUNT(*) FROM {results}.cohort WHERE cohort_definition_id = {int(cohort_id)}")
    )
    out = Table1(
        cohort_id,
        int(head["persons"]),
        records,
        None if head["age_mean"] is None else float(head["age_mean"]),
        None if head["age_sd"] is None else float(head["age_sd"]),
    )
    bands = " ".join(f"WHEN {age} BETWEEN {lo} AND {hi} THEN {i}" for i, (lo, hi) in enumerate(AGE_BANDS))
    for r in wh.fetch_arrow(
        f"SELECT CASE {bands} END AS band, COUNT(*) AS n FROM {base} GROUP BY 1 ORDER BY 1"
    ).to_pylist():
        if r["band"] is not None:
            lo, hi = AGE_BANDS[int(r["band"])]
            label = f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
            out.categories.append(Category("age band", label, 0, int(r["n"])))
    for section, column in (
        ("sex", "gender_concept_id"),
        ("race", "race_concept_id"),
        ("ethnicity", "ethnicity_concept_id"),
    ):
        for r in wh.fetch_arrow(
            f"SELECT p.{column} AS concept_id, c.concept_name, COUNT(*) AS n FROM {base} "
            f"LEFT JOIN {cdm}.concept c ON c.concept_id = p.{column} GROUP BY 1, 2 ORDER BY 3 DESC, 1"
        ).to_pylist():
            out.categories.append(Category(section, _name(r), int(r["concept_id"] or 0), int(r["n"])))
    start = date_add("f.index_date", -window_days)
    for section, events in (
        ("prior condition", event_domain("condition_occurrence")),
        ("prior drug", event_domain("drug_exposure")),
    ):
        table, concept, date = events.table, events.concept, events.start_date
        for r in wh.fetch_arrow(
            f"SELECT e.{concept} AS concept_id, MIN(c.concept_name) AS concept_name, COUNT(DISTINCT f.person_id) AS n "
            f"FROM ({first}) f JOIN {cdm}.{table} e ON e.person_id = f.person_id "
            f"LEFT JOIN {cdm}.concept c ON c.concept_id = e.{concept} "
            f"WHERE e.{concept} <> 0 AND e.{date} <= f.index_date AND e.{date} >= {start} "
            f"GROUP BY e.{concept} ORDER BY 3 DESC, 1 LIMIT {int(top)}"
        ).to_pylist():
            out.categories.append(Category(section, _name(r), int(r["concept_id"]), int(r["n"])))
    last = (
        "SELECT f.person_id, m.measurement_concept_id AS concept_id, m.value_as_number AS v, ROW_NUMBER() OVER "
        "(PARTITION BY f.person_id, m.measurement_concept_id ORDER BY m.measurement_date DESC, m.measurement_id DESC) "
        f"AS rn FROM ({first}) f JOIN {cdm}.measurement m ON m.person_id = f.person_id "
        "WHERE m.measurement_concept_id <> 0 AND m.value_as_number IS NOT NULL "
        f"AND m.measurement_date <= f.index_date AND m.measurement_date >= {start}"
    )
    for r in wh.fetch_arrow(
        "SELECT x.concept_id, MIN(c.concept_name) AS concept_name, COUNT(*) AS n, AVG(x.v) AS mean, "
        "STDDEV_SAMP(x.v) AS sd, QUANTILE_CONT(x.v, 0.5) AS median, QUANTILE_CONT(x.v, 0.25) AS q1, "
        f"QUANTILE_CONT(x.v, 0.75) AS q3 FROM ({last}) x LEFT JOIN {cdm}.concept c ON c.concept_id = x.concept_id "
        f"WHERE x.rn = 1 GROUP BY x.concept_id ORDER BY 3 DESC, 1 LIMIT {int(top)}"
    ).to_pylist():
        out.measurements.append(
            Measurement(
                int(r["concept_id"]),
                _name(r),
                int(r["n"]),
                float(r["mean"]),
                None if r["sd"] is None else float(r["sd"]),
                float(r["median"]),
                float(r["q1"]),
                float(r["q3"]),
            )
        )
    return out
