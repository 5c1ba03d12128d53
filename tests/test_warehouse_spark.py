"""Temporary tables and SQL writes on the Spark backend behave as on DuckDB: read-your-writes, rollback, cleanup."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from carelake.errors import WarehouseError
from carelake.warehouse import Column, TableSchema, connect

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

ITEMS = TableSchema("items", (Column("id", "bigint"), Column("label", "varchar")))


def test_spark_temporary_tables_and_sql_writes(tmp_path: Path) -> None:
    wh = connect(f"spark://local?path={tmp_path / 'spark'}")
    try:
        wh.create_schema("results")
        wh.create_table("results", ITEMS)
        wh.execute("DROP TABLE IF EXISTS cl_tmp")
        wh.execute("CREATE TEMPORARY TABLE cl_tmp (id BIGINT NOT NULL, label VARCHAR)")
        wh.execute("INSERT INTO cl_tmp (label, id) SELECT 'a', 1 UNION ALL SELECT 'b', 2")
        wh.execute("INSERT INTO cl_tmp (id) VALUES (3)")
        wh.execute("CREATE TEMPORARY TABLE cl_tmp2 AS SELECT id * 10 AS id, label FROM cl_tmp WHERE id > 1")
        assert wh.fetch_arrow("SELECT id, label FROM cl_tmp2 ORDER BY id").to_pylist() == [
            {"id": 20, "label": "b"},
            {"id": 30, "label": None},
        ]
        with wh.transaction():
            wh.execute('INSERT INTO "results".items SELECT id, label FROM cl_tmp')
            wh.execute('DELETE FROM "results".items WHERE id = 2')
            # The transaction reads its own writes (row_count too, like COUNT(*)); nothing is on disk before commit.
            assert wh.fetch_scalar('SELECT SUM(id) FROM "results".items') == 4
            assert wh.row_count("results", "items") == 2
            live = tmp_path / "spark" / "results" / "items"
            assert sum(pq.ParquetFile(p).metadata.num_rows for p in live.glob("*.parquet")) == 0
        assert wh.row_count("results", "items") == 2
        with pytest.raises(RuntimeError), wh.transaction():
            wh.execute('DELETE FROM "results".items')
            assert wh.fetch_scalar('SELECT COUNT(*) FROM "results".items') == 0
            raise RuntimeError("roll back")
        assert wh.fetch_scalar('SELECT COUNT(*) FROM "results".items') == 2
        wh.execute("DELETE FROM cl_tmp WHERE label IS NULL")
        assert wh.fetch_scalar("SELECT COUNT(*) FROM cl_tmp") == 2
        wh.execute("DROP TABLE IF EXISTS cl_tmp2")
        assert wh.list_tables("results") == ["items"]
    finally:
        wh.close()
    assert not any((tmp_path / "spark" / ".scratch").glob("*/*"))


def test_spark_tables_made_and_dropped_by_sql(tmp_path: Path) -> None:
    """CREATE TABLE AS (canonical and native), DROP TABLE and DROP SCHEMA CASCADE act on the Parquet folders."""
    root = tmp_path / "spark"
    wh = connect(f"spark://local?path={root}")
    try:
        wh.create_schema("stage")
        with wh.transaction():
            wh.create_table("stage", ITEMS)
            wh.execute("INSERT INTO stage.items VALUES (1, 'a'), (2, 'b')")
            # Reads the staged rows; a column of bare NULLs becomes text, as on DuckDB.
            wh.execute("CREATE TABLE stage.copy AS SELECT id * 10 AS id, label, NULL AS note FROM stage.items")
            wh.execute_native("CREATE TABLE `stage`.`native` AS SELECT id FROM stage.copy WHERE id > 10")
            assert wh.row_count("stage", "copy") == 2
            with pytest.raises(WarehouseError, match="already exists"):
                wh.execute("CREATE TABLE stage.copy AS SELECT 1 AS id")
            wh.execute("CREATE TABLE IF NOT EXISTS stage.copy AS SELECT 1 AS id")
            wh.execute("INSERT INTO stage.copy (id) SELECT id FROM stage.native")
        assert wh.list_tables("stage") == ["copy", "items", "native"]
        assert wh.fetch_arrow("SELECT id, label, note FROM stage.copy ORDER BY id").to_pylist() == [
            {"id": 10, "label": "a", "note": None},
            {"id": 20, "label": "b", "note": None},
            {"id": 20, "label": None, "note": None},
        ]
        wh.execute_native("DROP TABLE IF EXISTS `stage`.`native`")
        wh.execute("DROP TABLE stage.copy")
        assert wh.list_tables("stage") == ["items"]
        assert not (root / "stage" / "copy").exists()
    finally:
        wh.close()
    # A new connection finds what the last one left; DROP SCHEMA CASCADE removes the folder with the tables.
    again = connect(f"spark://local?path={root}")
    try:
        assert again.row_count("stage", "items") == 2
        again.execute("DROP SCHEMA IF EXISTS stage CASCADE")
        assert again.list_tables("stage") == []
        assert not (root / "stage").exists()
        again.execute("DROP SCHEMA IF EXISTS stage CASCADE")
    finally:
        again.close()
