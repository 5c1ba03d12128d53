"""Spark backend.

Spark has no transactions and Delta Lake's jars cannot be fetched offline, so every table is a folder of Parquet
files under the warehouse root (`<root>/<schema>/<table>/`), described by a sidecar `_carelake_table.json`
that lets a new process re-register it. Writes inside a transaction go to `<root>/.staging/<id>/`; commit swaps
each staged folder in with directory renames (atomic on one file system), rollback deletes the staging folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from carelake.errors import WarehouseError
from carelake.warehouse._base import PrimaryKeyViolation, Warehouse, WriteMode, quote
from carelake.warehouse._types import TableSchema
from carelake.warehouse._url import WarehouseURL

__all__ = ["SparkWarehouse"]

log = logging.getLogger(__name__)

_SIDECAR = "_carelake_table.json"
_ROWS_PER_FILE = 2_000_000
_sessions: dict[str, Any] = {}


def _session(master: str) -> Any:
    """One SparkSession per process: starting a JVM costs seconds."""
    if master not in _sessions:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
        builder = (
            SparkSession.builder.master(master)
            .appName("carelake")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.ansi.enabled", "false")
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        _sessions[master] = spark
    return _sessions[master]


@dataclass
class _Staged:
    schema: str
    table: TableSchema
    path: Path
    mode: WriteMode


class SparkWarehouse(Warehouse):
    """Spark in local mode over a folder of Parquet tables (URL `spark://local?path=DIR&master=local[2]`)."""

    dialect = "spark"
    json_type = "STRING"
    supports_transactions = False
    enforces_primary_keys = False

    def __init__(self, url: WarehouseURL) -> None:
        super().__init__(url)
        assert url.path is not None
        self.root = url.path.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.spark = _session(url.options.get("master", "local[2]"))
        self._staged: dict[str, _Staged] = {}
        self._tx: Path | None = None
        self._register_existing()

    # -- catalog -----------------------------------------------------------------------------------
    def _register_existing(self) -> None:
        for schema_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name[0] not in "._"):
            self._execute(f"CREATE DATABASE IF NOT EXISTS `{schema_dir.name}`")
            for table_dir in sorted(schema_dir.iterdir()):
                sidecar = table_dir / _SIDECAR
                if sidecar.exists():
                    self._register(schema_dir.name, table_dir.name, json.loads(sidecar.read_text())["ddl"])

    def _register(self, schema: str, table: str, columns_ddl: str) -> None:
        location = self.root / schema / table
        self._execute(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
        self._execute(f"CREATE TABLE `{schema}`.`{table}` ({columns_ddl}) USING parquet LOCATION '{location}'")

    def create_schema(self, name: str) -> None:
        (self.root / name).mkdir(exist_ok=True)
        self._execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")

    def create_table(self, schema: str, table: TableSchema) -> None:
        folder = self.root / schema / table.name
        if (folder / _SIDECAR).exists():
            return
        cols = ", ".join(f"{quote(c.name)} {self._type_sql(c)}" for c in table.columns)
        columns_ddl = self.sql(f"CREATE TABLE t ({cols})").split("(", 1)[1].rsplit(")", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.arrow_schema.empty_table(), folder / "part-empty.parquet")
        (folder / _SIDECAR).write_text(json.dumps({"ddl": columns_ddl}))
        self._register(schema, table.name, columns_ddl)

    def row_count(self, schema: str, table: str) -> int:
        """From Parquet footers: no Spark job for a number the files already hold."""
        folder = self.root / schema / table
        if not (folder / _SIDECAR).exists():
            return super().row_count(schema, table)
        return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in folder.glob("*.parquet"))

    def list_tables(self, schema: str) -> list[str]:
        folder = self.root / schema
        if not folder.is_dir():
            return []
        return sorted(p.name.lower() for p in folder.iterdir() if (p / _SIDECAR).exists())

    # -- SQL ----------------------------------------------------------------------------------------
    def _execute(self, native_sql: str) -> None:
        try:
            self.spark.sql(native_sql).collect()
        except Exception as e:
            raise WarehouseError(f"Spark: {_first_line(e)}") from e

    def _fetch_arrow(self, native_sql: str) -> pa.Table:
        try:
            return self.spark.sql(native_sql).toArrow()
        except Exception as e:
            raise WarehouseError(f"Spark: {_first_line(e)}") from e

    # -- transactions: stage, then swap --------------------------------------------------------------
    def _begin(self) -> None:
        self._tx = self.root / ".staging" / uuid.uuid4().hex
        self._tx.mkdir(parents=True)
        self._staged = {}

    def _commit(self) -> None:
        assert self._tx is not None
        trash = self._tx / "_old"
        trash.mkdir()
        for key, staged in self._staged.items():
            live = self.root / staged.schema / staged.table.name
            sidecar = (live / _SIDECAR).read_text()
            if staged.mode == "append":
                for part in sorted(staged.path.glob("*.parquet")):
                    part.replace(live / f"part-{uuid.uuid4().hex}.parquet")
            else:
                (staged.path / _SIDECAR).write_text(sidecar)
                live.replace(trash / key)
                staged.path.replace(live)
            self._execute(f"REFRESH TABLE `{staged.schema}`.`{staged.table.name}`")
        shutil.rmtree(self._tx, ignore_errors=True)
        self._tx, self._staged = None, {}

    def _rollback(self) -> None:
        if self._tx is not None:
            shutil.rmtree(self._tx, ignore_errors=True)
        self._tx, self._staged = None, {}

    # -- writing ----------------------------------------------------------------------------------------
    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        raise WarehouseError("Spark tables are written through write_table")  # pragma: no cover

    def write_table(
        self,
        schema: str,
        table: TableSchema,
        batches: Iterable[pa.RecordBatch],
        *,
        mode: WriteMode = "append",
    ) -> int:
        with self.transaction():
            assert self._tx is not None
            key = f"{schema}.{table.name}"
            staged = self._staged.get(key)
            incoming = self._tx / f"{key}.{uuid.uuid4().hex[:8]}"
            written = _write_parquet(incoming, table.arrow_schema, batches)
            if written == 0 and mode != "replace":
                return 0
            current = self._current(schema, table.name, staged)
            new = f"parquet.`{incoming}`"
            if mode == "replace":
                self._check_unique(table, new)
                self._staged[key] = _Staged(schema, table, incoming, "replace")
            elif mode == "upsert" and table.row_key and self._count(schema, table.name, staged) > 0:
                merged = self._tx / f"{key}.{uuid.uuid4().hex[:8]}.merged"
                keys = " AND ".join(f"o.`{k}` = n.`{k}`" for k in table.row_key)
                self.spark.sql(
                    f"SELECT o.* FROM {current} o LEFT ANTI JOIN {new} n ON {keys} UNION ALL SELECT * FROM {new}"
                ).write.parquet(str(merged))
                self._check_unique(table, f"parquet.`{merged}`")
                self._staged[key] = _Staged(schema, table, merged, "replace")
            else:
                self._check_unique(table, f"(SELECT * FROM {current} UNION ALL SELECT * FROM {new})")
                if staged is None:
                    self._staged[key] = _Staged(schema, table, incoming, "append")
                else:
                    for part in incoming.glob("*.parquet"):
                        part.replace(staged.path / f"part-{uuid.uuid4().hex}.parquet")
            return written

    def _current(self, schema: str, table: str, staged: _Staged | None) -> str:
        """The table as this transaction sees it: live rows plus what it has staged."""
        live = f"`{schema}`.`{table}`"
        if staged is None:
            return live
        if staged.mode == "replace":
            return f"parquet.`{staged.path}`"
        return f"(SELECT * FROM {live} UNION ALL SELECT * FROM parquet.`{staged.path}`)"

    def _count(self, schema: str, table: str, staged: _Staged | None) -> int:
        files = [] if staged is None else list(staged.path.glob("*.parquet"))
        own = sum(int(pq.ParquetFile(p).metadata.num_rows) for p in files)
        if staged is not None and staged.mode == "replace":
            return own
        return own + self.row_count(schema, table)

    def _check_unique(self, table: TableSchema, source: str) -> None:
        """Spark enforces no keys, so check the primary key the way the other engines would."""
        if not table.primary_key:
            return
        keys = ", ".join(f"`{k}`" for k in table.primary_key)
        dup = self._fetch_arrow(f"SELECT {keys} FROM {source} GROUP BY {keys} HAVING COUNT(*) > 1 LIMIT 1").to_pylist()
        if dup:
            value = ", ".join(str(v) for v in dup[0].values())
            raise PrimaryKeyViolation(table.name, table.primary_key, value)


def _write_parquet(folder: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    folder.mkdir(parents=True)
    written, part, writer, in_part = 0, 0, None, 0
    try:
        for batch in batches:
            if writer is None or in_part >= _ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", schema)
                part, in_part = part + 1, 0
            writer.write_batch(batch)
            written += batch.num_rows
            in_part += batch.num_rows
        if writer is None:
            pq.write_table(schema.empty_table(), folder / "part-empty.parquet")
    finally:
        if writer is not None:
            writer.close()
    return written


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
