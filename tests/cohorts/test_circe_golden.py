"""circe-be's own cohort-generation tests, rebuilt: same CDM rows, same variants, same expected cohorts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from circe_fixtures import GEN, VOCABULARY, Case, cases, create_relaxed_cdm, expected, load_rows, read

from carelake.cohorts import CohortDefinitionError, generate, parse_expression
from carelake.warehouse import Warehouse, quote

CASES = cases()


def _normal(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (k, v.isoformat() if isinstance(v, dt.date) else int(v) if isinstance(v, int) else v)
        for k, v in sorted(row.items())
    )


def _actual(wh: Warehouse, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    rows = wh.fetch_arrow(f"SELECT {', '.join(columns)} FROM {quote(wh.results_schema)}.{table}").to_pylist()
    return sorted(_normal(r) for r in rows)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case, warehouse: Warehouse) -> None:
    create_relaxed_cdm(warehouse)
    load_rows(warehouse, read(VOCABULARY))
    load_rows(warehouse, read(GEN / case.prep))
    for _cohort_id, definition in case.invalid.items():
        with pytest.raises(CohortDefinitionError):
            parse_expression(definition)
    report = generate(warehouse, case.cohorts)
    assert not report.failed
    for table, rows in expected(case).items():
        columns = sorted(rows[0])
        want = sorted(_normal({k: r[k] for k in columns}) for r in rows)
        assert _actual(warehouse, table, columns) == want, table
