"""Achilles-style characterization, stored in the results schema as achilles_results / achilles_results_dist.

Analysis ids and names come from the vendored Achilles catalogue (achilles_analysis_details.csv); records per
person per domain, which Achilles lacks, uses carelake ids 90000 + the domain's analysis block (e.g. 90400).
Counts are stored whole; `export` drops cells below the minimum cell count.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import Any

from carelake.omop.domains import event_domain
from carelake.privacy.disclosure import DisclosureRule, disclosure_rule
from carelake.quality.sql import resolve_schemas
from carelake.warehouse import Warehouse

__all__ = ["BLOCKS", "analysis_names", "export", "run_achilles"]

# Event table -> its Achilles analysis block (200 visits, 400 conditions, ...); columns come from omop/domains.py.
BLOCKS: dict[str, int] = {
    "visit_occurrence": 200,
    "condition_occurrence": 400,
    "procedure_occurrence": 600,
    "drug_exposure": 700,
    "observation": 800,
    "measurement": 1800,
}
_STRATA = ", ".join(f"stratum_{i} VARCHAR" for i in range(1, 6))
_DIST_COLS = ", ".join(
    ["count_value", *(f"{s}_value" for s in ("min", "max", "avg", "stdev", "median", "p10", "p25", "p75", "p90"))]
)


@cache
def analysis_names() -> dict[int, str]:
    text = resources.files("carelake.quality").joinpath("spec/achilles_analysis_details.csv").read_text("utf-8-sig")
    names = {int(r["ANALYSIS_ID"]): r["ANALYSIS_NAME"] for r in csv.DictReader(io.StringIO(text))}
    for table, block in BLOCKS.items():
        names[90000 + block] = f"Number of {table} records per person (carelake)"
    return names


def _counts(analysis: int, strata: list[str], source: str) -> str:
    cols = ", ".join([*(f"CAST({s} AS VARCHAR)" for s in strata), *(["NULL"] * (5 - len(strata)))])
    group = f" GROUP BY {', '.join(strata)}" if strata else ""
    return f"INSERT INTO @results.achilles_results SELECT {analysis}, {cols}, COUNT(*) FROM {source}{group}"


def _dist(analysis: int, value: str, source: str) -> str:
    stats = f"COUNT(*), MIN({value}), MAX({value}), AVG(CAST({value} AS DOUBLE)), STDDEV_SAMP({value}), " + ", ".join(
        f"QUANTILE_CONT({value}, {q})" for q in (0.5, 0.1, 0.25, 0.75, 0.9)
    )
    return (
        f"INSERT INTO @results.achilles_results_dist SELECT {analysis}, NULL, NULL, NULL, NULL, NULL, {stats} "
        f"FROM {source}"
    )


def _statements(warehouse: Warehouse) -> list[str]:
    tables = {t.lower() for t in warehouse.list_tables(warehouse.cdm_schema)}
    per_person = "(SELECT DISTINCT person_id FROM @cdm.observation_period) op"
    first_op = (
        "(SELECT person_id, MIN(observation_period_start_date) AS s, "
        "MIN(observation_period_end_date) AS e FROM @cdm.observation_period GROUP BY person_id) fo"
    )
    length = "DATE_DIFF('day', CAST(fo.s AS DATE), CAST(fo.e AS DATE))"
    out = [
        _counts(1, [], "@cdm.person"),
        _counts(2, ["gender_concept_id"], "@cdm.person"),
        _counts(3, ["year_of_birth"], "@cdm.person"),
        _counts(4, ["race_concept_id"], "@cdm.person"),
        _counts(5, ["ethnicity_concept_id"], "@cdm.person"),
        _dist(105, length, first_op),
        _counts(
            108,
            ["bucket"],
            f"(SELECT CAST(FLOOR(CAST({length} AS DOUBLE) / 30) AS INTEGER) AS bucket FROM {first_op}) b",
        ),
        _counts(113, ["n"], "(SELECT person_id, COUNT(*) AS n FROM @cdm.observation_period GROUP BY person_id) x"),
    ]
    for table, block in BLOCKS.items():
        if table not in tables:
            continue
        concept, date = event_domain(table).concept, event_domain(table).start_date
        src = f"@cdm.{table}"
        month = f"(EXTRACT(YEAR FROM {date}) * 100 + EXTRACT(MONTH FROM {date}))"
        out += [
            _counts(block, ["c"], f"(SELECT DISTINCT person_id, {concept} AS c FROM {src}) x"),
            _counts(block + 1, [concept], src),
            _counts(block + 20, ["m"], f"(SELECT CAST({month} AS INTEGER) AS m FROM {src}) x"),
            _dist(
                block + 3, "x.n", f"(SELECT person_id, COUNT(DISTINCT {concept}) AS n FROM {src} GROUP BY person_id) x"
            ),
            _dist(
                90000 + block,
                "COALESCE(x.n, 0)",
                f"{per_person} LEFT JOIN (SELECT person_id, COUNT(*) AS n FROM {src} GROUP BY person_id) x "
                "ON op.person_id = x.person_id",
            ),
        ]
    return out


def run_achilles(wh: Warehouse) -> None:
    """(Re)build achilles_results and achilles_results_dist in the results schema."""
    wh.create_schema(wh.results_schema)
    with wh.transaction():
        for table, extra in (
            ("achilles_results", ""),
            (
                "achilles_results_dist",
                ", min_value DOUBLE, max_value DOUBLE, avg_value DOUBLE, stdev_value DOUBLE, "
                "median_value DOUBLE, p10_value DOUBLE, p25_value DOUBLE, p75_value DOUBLE, p90_value DOUBLE",
            ),
        ):
            wh.execute(resolve_schemas(f"DROP TABLE IF EXISTS @results.{table}", wh))
            wh.execute(
                resolve_schemas(
                    f"CREATE TABLE @results.{table} (analysis_id INTEGER, {_STRATA}, count_value BIGINT{extra})",
                    wh,
                )
            )
        for sql in _statements(wh):
            wh.execute(resolve_schemas(sql, wh))


def export(wh: Warehouse, min_cell_count: int | DisclosureRule | None = None) -> dict[str, Any]:
    """Results for the dashboard, with concept names, dropping every cell the disclosure rule withholds."""
    rule = disclosure_rule(min_cell_count)
    rows = wh.fetch_arrow(
        resolve_schemas(
            "SELECT r.analysis_id, r.stratum_1, r.stratum_2, r.count_value, c.concept_name "
            "FROM @results.achilles_results r LEFT JOIN @cdm.concept c "
            "ON c.concept_id = CASE WHEN r.analysis_id IN (2, 4, 5, 200, 201, 400, 401, 600, 601, 700, 701, 800, "
            "801, 1800, 1801) THEN CAST(r.stratum_1 AS BIGINT) END "
            f"WHERE {rule.sql_shown('r.count_value')} ORDER BY r.analysis_id, r.count_value DESC",
            wh,
        )
    ).to_pylist()
    dist = wh.fetch_arrow(
        resolve_schemas(
            f"SELECT analysis_id, {_DIST_COLS} FROM @results.achilles_results_dist "
            f"WHERE {rule.sql_shown('count_value')} ORDER BY analysis_id",
            wh,
        )
    ).to_pylist()
    names = analysis_names()
    return {
        "minCellCount": rule.min_cell_count,
        "analyses": {str(k): v for k, v in names.items()},
        "results": rows,
        "distributions": dist,
    }
