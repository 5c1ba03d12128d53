"""The warehouse interface behaves the same on DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from carelake.errors import ConfigError
from carelake.warehouse import Column, PrimaryKeyViolation, TableSchema, Warehouse, parse_url

TABLE = TableSchema(
    name="sample",
    columns=(
        Column("sample_id", "bigint", nullable=False),
        Column("label", "varchar", length=20),
        Column("day", "date"),
        Column("taken_at", "timestamp"),
        Column("value", "double"),
    ),
    primary_key=("sample_id",),
    row_key=("sample_id",),
)


def _batch(ids: list[int], label: str) -> pa.RecordBatch:
    n = len(ids)
    return pa.RecordBatch.from_pydict(
        {
            "sample_id": ids,
            "label": [label] * n,
            "day": [dt.date(2020, 1, 1 + i % 28) for i in ids],
            "taken_at": [dt.datetime(2020, 1, 1, 12, 30, i % 60) for i in ids],
            "value": [i / 2 for i in ids],
        },
        schema=TABLE.arrow_schema,
    )


@pytest.fixture
def ready(warehouse: Warehouse) -> Warehouse:
    warehouse.create_schema(warehouse.cdm_schema)
    warehouse.create_table(warehouse.cdm_schema, TABLE)
    return warehouse


def _rows(wh: Warehouse) -> list[dict[str, object]]:
    return wh.fetch_arrow(
        f"SELECT sample_id, label, day, taken_at, value FROM {wh.cdm_schema}.sample ORDER BY sample_id"
    ).to_pylist()


def test_round_trip_keeps_types(ready: Warehouse) -> None:
    assert ready.write_table(ready.cdm_schema, TABLE, [_batch([1, 2], "a")]) == 2
    rows = _rows(ready)
    assert rows[1] == {
        "sample_id": 2,
        "label": "a",
        "day": dt.date(2020, 1, 3),
        "taken_at": dt.datetime(2020, 1, 1, 12, 30, 2),
        "value": 1.0,
    }


def test_sql_is_written_once_and_transpiled(ready: Warehouse) -> None:
    ready.write_table(ready.cdm_schema, TABLE, [_batch([1, 2, 3], "a")])
    # DuckDB-flavoured SQL (date_diff, ::) that each engine must run after transpiling.
    got = ready.fetch_arrow(
        f"SELECT SUM(date_diff('day', DATE '2020-01-01', day)) AS d, COUNT(*)::BIGINT AS n "
        f"FROM {ready.cdm_schema}.sample"
    ).to_pylist()
    assert got == [{"d": 1 + 2 + 3, "n": 3}]


def test_upsert_replaces_rows_by_key_so_reloads_are_idempotent(ready: Warehouse) -> None:
    ready.write_table(ready.cdm_schema, TABLE, [_batch([1, 2, 3], "old")], mode="upsert")
    ready.write_table(ready.cdm_schema, TABLE, [_batch([3, 4], "new")], mode="upsert")
    ready.write_table(ready.cdm_schema, TABLE, [_batch([3, 4], "new")], mode="upsert")
    assert [(r["sample_id"], r["label"]) for r in _rows(ready)] == [
        (1, "old"),
        (2, "old"),
        (3, "new"),
        (4, "new"),
    ]


def test_replace_leaves_only_new_rows(ready: Warehouse) -> None:
    ready.write_table(ready.cdm_schema, TABLE, [_batch([1, 2, 3], "old")])
    ready.write_table(ready.cdm_schema, TABLE, [_batch([7], "new")], mode="replace")
    assert [r["sample_id"] for r in _rows(ready)] == [7]


def test_failed_transaction_leaves_warehouse_as_it_was(ready: Warehouse) -> None:
    ready.write_table(ready.cdm_schema, TABLE, [_batch([1], "kept")])

    def batches() -> object:
        yield _batch([2, 3], "lost")
        raise ValueError("input broke mid-way")

    with pytest.raises(ValueError, match="mid-way"), ready.transaction():
        ready.write_table(ready.cdm_schema, TABLE, [_batch([9], "lost")], mode="replace")
        ready.write_table(ready.cdm_schema, TABLE, batches(), mode="upsert")  # type: ignore[arg-type]
    assert [(r["sample_id"], r["label"]) for r in _rows(ready)] == [(1, "kept")]


def test_duplicate_primary_key_is_refused_on_every_engine(ready: Warehouse) -> None:
    ready.write_table(ready.cdm_schema, TABLE, [_batch([1], "kept")])
    with pytest.raises(PrimaryKeyViolation) as info:
        ready.write_table(ready.cdm_schema, TABLE, [_batch([5, 6], "x"), _batch([6], "y")], mode="replace")
    assert info.value.key == "6"
    assert [r["sample_id"] for r in _rows(ready)] == [1]


def test_urls_are_checked_before_connecting() -> None:
    assert parse_url("duckdb:///x/y.duckdb").path is not None
    pg = parse_url("postgresql://me@db:5433/omop?schema=cdm54&results=res")
    assert (pg.backend, pg.cdm_schema, pg.results_schema, pg.dsn) == (
        "postgres",
        "cdm54",
        "res",
        "postgresql://me@db:5433/omop",
    )
    assert parse_url("spark://local?master=local[1]").options == {"master": "local[1]"}
    assert parse_url("duckdb:///x.duckdb?memory_limit=2GB&fhir=raw").fhir_schema == "raw"
    for bad in ("mysql://x/y", "duckdb://host/x", "postgresql://x/y?schema=a;drop", "duckdb:///x?memory=1GB"):
        with pytest.raises(ConfigError):
            parse_url(bad)


def test_duckdb_settings_from_the_url() -> None:
    from carelake.warehouse import connect

    wh = connect("duckdb:///:memory:?memory_limit=300MB&threads=1")
    assert wh.fetch_scalar("SELECT current_setting('threads')") == 1
    assert "MiB" in str(wh.fetch_scalar("SELECT current_setting('memory_limit')"))
    with pytest.raises(ConfigError, match="memory_limit"):
        connect("duckdb:///:memory:?memory_limit=lots")
