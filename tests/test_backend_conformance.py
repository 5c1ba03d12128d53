"""The backend conformance kit: every engine keeps every promise, and a backend that breaks one is named."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pytest

from carelake.warehouse import (
    BackendCheck,
    BackendConformanceError,
    TableSchema,
    Warehouse,
    backend_checks,
    check_backend,
    connect,
    parse_url,
)
from carelake.warehouse.duckdb import DuckDBWarehouse


@pytest.mark.parametrize("check", backend_checks(), ids=lambda c: c.name)
def test_every_backend_passes(warehouse: Warehouse, check: BackendCheck) -> None:
    assert check_backend(warehouse, (check,)) == [check.name]
    assert warehouse.list_tables("carelake_conformance") == []  # its schema is gone again


def test_the_kit_leaves_the_cdm_alone(tmp_path: Path) -> None:
    wh = connect(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_schema(wh.cdm_schema)
    assert check_backend(wh) == [c.name for c in backend_checks()]
    assert wh.fetch_scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'carelake_%'") == 0


class _DropsLastRow(DuckDBWarehouse):
    """A backend with a real defect: its bulk insert loses the last row of every write."""

    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        rows = pa.Table.from_batches(list(batches), schema=table.arrow_schema)
        return super()._bulk_insert(qualified, table, rows.slice(0, max(0, rows.num_rows - 1)).to_batches())


class _CommitsOnRollback(DuckDBWarehouse):
    """A backend whose rollback commits: a failed load would leave half its rows."""

    def _rollback(self) -> None:
        self._commit()


@pytest.mark.parametrize(("cls", "broken"), [(_DropsLastRow, "types_round_trip"), (_CommitsOnRollback, "rollback")])
def test_a_broken_backend_is_named(cls: type[DuckDBWarehouse], broken: str) -> None:
    wh = cls(parse_url("duckdb:///:memory:"))
    with pytest.raises(BackendConformanceError) as info:
        check_backend(wh)
    assert info.value.check == broken
