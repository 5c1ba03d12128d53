"""Temporary tables and SQL writes on the Spark backend behave as on DuckDB: read-your-writes, rollback, cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

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
            # The transaction reads its own writes; nothing is visible on disk before commit.
            assert wh.fetch_scalar('SELECT SUM(id) FROM "results".items') == 4
            assert wh.row_count("results", "items") == 0
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
