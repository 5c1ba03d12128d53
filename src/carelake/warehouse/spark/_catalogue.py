"""The Spark catalogue: every table is a folder of Parquet files under the warehouse root, described by a sidecar.

`<root>/<schema>/<table>/` holds the table's Parquet parts and `_carelake_table.json` (its columns' DDL), so a new
process re-registers every table it finds (Spark's own catalogue does not outlive the session). Spark would make a
managed table in its own warehouse folder otherwise, which this backend never reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from carelake.errors import WarehouseError
from carelake.warehouse._base import Warehouse, quote
from carelake.warehouse._types import TableSchema
from carelake.warehouse.spark._session import first_line

__all__ = ["SIDECAR", "Catalogue", "footer_rows"]

SIDECAR = "_carelake_table.json"


class Catalogue(Warehouse):
    """Tables as Parquet folders: registering them, creating them empty, listing them; running native SQL."""

    root: Path
    spark: Any
    # Spark schemas of warehouse tables written by SQL, by lower-case `schema.table` (dropped on re-register).
    _schemas: dict[str, Any]

    def _register_existing(self) -> None:
        for schema_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name[0] not in "._"):
            self._execute(f"CREATE DATABASE IF NOT EXISTS `{schema_dir.name}`")
            for table_dir in sorted(schema_dir.iterdir()):
                sidecar = table_dir / SIDECAR
                if sidecar.exists():
                    self._register(schema_dir.name, table_dir.name, json.loads(sidecar.read_text())["ddl"])

    def _register(self, schema: str, table: str, columns_ddl: str) -> None:
        location = self.root / schema / table
        self._schemas.pop(f"{schema}.{table}".lower(), None)
        self._execute(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
        self._execute(f"CREATE TABLE `{schema}`.`{table}` ({columns_ddl}) USING parquet LOCATION '{location}'")

    def create_schema(self, name: str) -> None:
        (self.root / name).mkdir(exist_ok=True)
        self._execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")

    def create_table(self, schema: str, table: TableSchema) -> None:
        folder = self.root / schema / table.name
        if (folder / SIDECAR).exists():
            return
        cols = ", ".join(f"{quote(c.name)} {self._type_sql(c)}" for c in table.columns)
        columns_ddl = self.sql(f"CREATE TABLE t ({cols})").split("(", 1)[1].rsplit(")", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.arrow_schema.empty_table(), folder / "part-empty.parquet")
        (folder / SIDECAR).write_text(json.dumps({"ddl": columns_ddl}))
        self._register(schema, table.name, columns_ddl)

    def list_tables(self, schema: str) -> list[str]:
        folder = self.root / schema
        if not folder.is_dir():
            return []
        return sorted(p.name.lower() for p in folder.iterdir() if (p / SIDECAR).exists())

    def _schema_dir(self, schema: str) -> Path:
        folder = self.root / schema
        if folder.parent != self.root or schema[:1] in {".", "_", ""} or not schema.isidentifier():
            raise WarehouseError(f"Spark: {schema!r} is not a schema name this warehouse can hold")
        return folder

    def _execute(self, native_sql: str) -> None:
        try:
            self.spark.sql(native_sql).collect()
        except Exception as e:
            raise WarehouseError(f"Spark: {first_line(e)}") from e

    def _fetch_arrow(self, native_sql: str) -> pa.Table:
        try:
            return self.spark.sql(native_sql).toArrow()
        except Exception as e:
            raise WarehouseError(f"Spark: {first_line(e)}") from e


def footer_rows(folder: Path) -> int:
    return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in folder.glob("*.parquet"))
