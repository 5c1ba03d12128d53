"""Spark backend.

Spark has no transactions and Delta Lake's jars cannot be fetched offline, so every table is a folder of Parquet
files under the warehouse root (`<root>/<schema>/<table>/`), described by a sidecar `_carelake_table.json`
that lets a new process re-register it. Writes inside a transaction go to `<root>/.staging/<id>/`; commit swaps
each staged folder in with directory renames (atomic on one file system), rollback deletes the staging folder.

Canonical SQL that Spark's Parquet tables cannot run as such is handled here, from SQLGlot's parse of the
statement (`_statements.py` classifies it):

- `CREATE TEMPORARY TABLE` (with columns, or `AS SELECT`), `INSERT INTO`, `DELETE FROM` and `DROP TABLE` on
  such a table: a scratch Parquet folder under `<root>/.scratch/<id>/` (skipped when tables are re-registered),
  read through a temporary view of the same name; removed with the table and on `close()`.
  Like a temporary table elsewhere, it outlives a rolled-back transaction only until it is dropped.
- `INSERT INTO` and `DELETE FROM` on a warehouse table: the result is staged like a `write_table` (append, or the
  surviving rows as a replacement) and swapped in at commit; outside a transaction each statement is its own.
- While a transaction has staged writes, every statement reads a staged table through an overlay view
  (`_cl_tx_<schema>_<table>`), so a transaction sees its own writes as it would on DuckDB or PostgreSQL.
- `CREATE TABLE schema.name AS SELECT` (canonical, or native as the SQL-on-FHIR views run it), `DROP TABLE` and
  `DROP SCHEMA ... CASCADE`: a Parquet folder with its sidecar under the root, written at once like `create_table`
  (Spark would otherwise make a managed table in its own warehouse folder, which this backend never reads).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from carelake.errors import WarehouseError
from carelake.warehouse._base import CANONICAL_DIALECT, PrimaryKeyViolation, Warehouse, WriteMode, quote
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
    name: str
    path: Path
    mode: WriteMode


class SparkWarehouse(Warehouse):
    """Spark in local mode over a folder of Parquet tables (URL `spark://local?path=DIR&master=local[2]`)."""

    dialect = "spark"
    json_type = "STRING"
    supports_transactions = False
    enforces_primary_keys = False

    def __init__(self, url: WarehouseURL, *, read_only: bool = False) -> None:
        super().__init__(url)
        assert url.path is not None
        self.root = url.path.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.spark = _session(url.options.get("master", "local[2]"))
        self._staged: dict[str, _Staged] = {}
        self._tx: Path | None = None
        # Temporary tables: name (lower case) -> (scratch Parquet folder, Spark schema), read through a temp view.
        self._scratch = self.root / ".scratch" / uuid.uuid4().hex
        self._temp: dict[str, tuple[Path, Any]] = {}
        # Spark schemas of warehouse tables written by SQL, by lower-case `schema.table` (dropped on re-register).
        self._schemas: dict[str, Any] = {}
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
        self._schemas.pop(f"{schema}.{table}".lower(), None)
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
        """From Parquet footers (no Spark job for a number the files already hold), with this transaction's writes."""
        folder = self.root / schema / table
        if not (folder / _SIDECAR).exists():
            return super().row_count(schema, table)
        key = self._staged_keys().get(f"{schema}.{table}".lower())
        if key is not None:
            return self._count(schema, table, self._staged[key])
        return _footer_rows(folder)

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

    # -- canonical SQL: temporary tables, DML on Parquet tables, reads of staged tables ---------------
    @classmethod
    def render(cls, query: str) -> str:
        """Canonical SQL as Spark SQL, with the rewrites SQLGlot's Spark writer lacks (see `_for_spark`)."""
        return _render_spark(query)

    def sql(self, query: str) -> str:
        """Canonical SQL for Spark; inside a transaction with staged writes, staged tables read their overlay."""
        if not self._staged:
            return super().sql(query)
        return ";\n".join(self._render(t) for t in sqlglot.parse(query, read=CANONICAL_DIALECT) if t is not None)

    def execute(self, query: str) -> None:
        tree = _parse_single(query)
        if tree is None:
            super().execute(query)
            return
        try:
            handled = self._run_special(tree)
        except WarehouseError:
            raise
        except Exception as e:
            raise WarehouseError(f"Spark: {_first_line(e)}") from e
        if not handled:
            super().execute(query)

    def _render(self, tree: exp.Expr) -> str:
        """An expression as Spark SQL, with tables staged in this transaction replaced by their overlay views."""
        if self._staged:
            tree = tree.copy()
            for table in list(tree.find_all(exp.Table)):
                key = f"{table.db}.{table.name}".lower()
                if table.db and key in self._staged_keys():
                    alias = table.alias or table.name
                    table.replace(exp.alias_(exp.to_table(_overlay_name(key)), alias, table=True))
        return _for_spark(tree).sql(dialect=self.dialect)

    def _staged_keys(self) -> dict[str, str]:
        return {k.lower(): k for k in self._staged}

    def _run_special(self, tree: exp.Expr) -> bool:
        """Run the statements Spark's Parquet tables cannot; False for everything else."""
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE" and _is_temporary(tree):
            target = tree.this
            name = (target.this if isinstance(target, exp.Schema) else target).name
            if isinstance(tree.expression, exp.Query):
                df = self.spark.sql(self._render(tree.expression))
            elif isinstance(target, exp.Schema):
                ddl = ", ".join(
                    f"`{c.name}` {c.args['kind'].sql(dialect=self.dialect)}"
                    for c in target.expressions
                    if isinstance(c, exp.ColumnDef)
                )
                df = self.spark.createDataFrame([], schema=ddl)
            else:
                return False
            if name.lower() in self._temp:
                if tree.args.get("exists"):
                    return True
                raise WarehouseError(f"temporary table {name} already exists")
            self._write_temp(name.lower(), df)
            return True
        if isinstance(tree, exp.Insert) and isinstance(tree.expression, exp.Query | exp.Values):
            target = tree.this
            table = target.this if isinstance(target, exp.Schema) else target
            if not isinstance(table, exp.Table):
                return False
            columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
            return self._insert(table, columns, self._render(tree.expression))
        if isinstance(tree, exp.Delete) and isinstance(tree.this, exp.Table):
            where = tree.args.get("where")
            cond = self._render(where.this) if isinstance(where, exp.Where) else "TRUE"
            return self._delete(tree.this, cond)
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE" and isinstance(tree.expression, exp.Query):
            target = tree.this
            if not isinstance(target, exp.Table) or not target.db:
                return False
            return self._create_as(target.db, target.name, self._render(tree.expression), bool(tree.args.get("exists")))
        if isinstance(tree, exp.Drop) and tree.args.get("kind") == "TABLE":
            tables = tree.args.get("tables") or [tree.this]
            if all(isinstance(t, exp.Table) and not t.db and t.name.lower() in self._temp for t in tables):
                for t in tables:
                    self._drop_temp(t.name.lower())
                return True
            if len(tables) == 1 and isinstance(tables[0], exp.Table) and tables[0].db:
                return self._drop_table(tables[0].db, tables[0].name, bool(tree.args.get("exists")))
            return False
        if isinstance(tree, exp.Drop) and tree.args.get("kind") == "SCHEMA":
            tables = tree.args.get("tables") or [tree.this]
            if len(tables) != 1 or not isinstance(tables[0], exp.Table):
                return False
            name = tables[0].db or tables[0].name
            self._drop_schema(name, exists=bool(tree.args.get("exists")), cascade=bool(tree.args.get("cascade")))
            return True
        return False

    def execute_native(self, native_sql: str) -> None:
        """Native SQL; `CREATE TABLE s.t AS SELECT` and `DROP TABLE s.t` still make and remove Parquet folders."""
        if m := _NATIVE_CTAS.match(native_sql):
            schema, name = _native_name(m["target"])
            if schema is not None and self._create_as(schema, name, m["query"], exists_ok=False):
                return
        elif m := _NATIVE_DROP.match(native_sql):
            schema, name = _native_name(m["target"])
            if schema is not None and self._drop_table(schema, name, bool(m["exists"])):
                return
        super().execute_native(native_sql)

    # -- tables made and dropped by SQL ---------------------------------------------------------------
    def _schema_dir(self, schema: str) -> Path:
        folder = self.root / schema
        if folder.parent != self.root or schema[:1] in {".", "_", ""} or not schema.isidentifier():
            raise WarehouseError(f"Spark: {schema!r} is not a schema name this warehouse can hold")
        return folder

    def _create_as(self, schema: str, name: str, query: str, exists_ok: bool) -> bool:
        """`CREATE TABLE schema.name AS query` as a Parquet folder with its sidecar, registered at once."""
        folder = self._schema_dir(schema) / name.lower()
        if (folder / _SIDECAR).exists():
            if exists_ok:
                return True
            raise WarehouseError(f"Spark: table {schema}.{name} already exists")
        if not folder.parent.is_dir():
            raise WarehouseError(f"Spark: schema {schema} does not exist")
        from pyspark.sql.types import NullType

        rows = self.spark.sql(query)
        # Parquet has no type for a column of bare NULLs; DuckDB and PostgreSQL make it text too.
        if any(isinstance(f.dataType, NullType) for f in rows.schema.fields):
            rows = rows.selectExpr(
                *[
                    f"CAST(`{f.name}` AS STRING) AS `{f.name}`" if isinstance(f.dataType, NullType) else f"`{f.name}`"
                    for f in rows.schema.fields
                ]
            )
        shutil.rmtree(folder, ignore_errors=True)  # a leftover of an interrupted run, never a registered table
        rows.write.parquet(str(folder))
        columns_ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in rows.schema.fields)
        (folder / _SIDECAR).write_text(json.dumps({"ddl": columns_ddl}))
        self._register(schema, name.lower(), columns_ddl)
        return True

    def _drop_table(self, schema: str, name: str, if_exists: bool) -> bool:
        """Drop a Parquet table: catalog entry, folder and whatever this transaction staged for it."""
        folder = self._schema_dir(schema) / name.lower()
        if not (folder / _SIDECAR).exists():
            return False  # not ours (a view, or nothing): Spark says what it is
        self._unstage(lambda s: s.schema.lower() == schema.lower() and s.name.lower() == name.lower())
        self._execute(f"DROP TABLE IF EXISTS `{schema}`.`{name}`")
        self._schemas.pop(f"{schema}.{name}".lower(), None)
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _drop_schema(self, schema: str, *, exists: bool, cascade: bool) -> None:
        folder = self._schema_dir(schema)
        if not folder.is_dir():
            if not exists:
                raise WarehouseError(f"Spark: schema {schema} does not exist")
            self._execute(f"DROP DATABASE IF EXISTS `{schema}` CASCADE")
            return
        if not cascade and any(folder.iterdir()):
            raise WarehouseError(f"Spark: schema {schema} is not empty (DROP SCHEMA ... CASCADE drops its tables)")
        self._unstage(lambda s: s.schema.lower() == schema.lower())
        self._schemas = {k: v for k, v in self._schemas.items() if not k.startswith(f"{schema.lower()}.")}
        self._execute(f"DROP DATABASE IF EXISTS `{schema}` CASCADE")
        shutil.rmtree(folder, ignore_errors=True)

    def _unstage(self, which: Callable[[_Staged], bool]) -> None:
        """Forget this transaction's writes to tables about to be dropped."""
        for key in [k for k, s in self._staged.items() if which(s)]:
            self.spark.catalog.dropTempView(_overlay_name(key))
            shutil.rmtree(self._staged.pop(key).path, ignore_errors=True)

    def _target(self, table: exp.Table) -> tuple[str, str | None, Any] | None:
        """(name, schema or None for a temporary table, Spark schema) of a table written by SQL; None: not ours."""
        if not table.db:
            key = table.name.lower()
            return (key, None, self._temp[key][1]) if key in self._temp else None
        schema, name = table.db, table.name.lower()
        if not (self.root / schema / name / _SIDECAR).exists():
            return None
        key = f"{schema}.{name}".lower()
        if key not in self._schemas:
            self._schemas[key] = self.spark.table(f"`{schema}`.`{name}`").schema
        return name, schema, self._schemas[key]

    def _insert(self, table: exp.Table, columns: list[str] | None, query: str) -> bool:
        target = self._target(table)
        if target is None:
            return False
        name, schema, struct = target
        # One SQL projection (not a DataFrame call per column): source columns by position, cast to the table's.
        names = columns if columns is not None else struct.fieldNames()
        given = {n.lower(): i for i, n in enumerate(names)}
        select = ", ".join(
            f"CAST({f'`_src`.`_c{given[f.name.lower()]}`' if f.name.lower() in given else 'NULL'} "
            f"AS {f.dataType.simpleString()}) AS `{f.name}`"
            for f in struct.fields
        )
        aliases = ", ".join(f"`_c{i}`" for i in range(len(names)))
        rows = self.spark.sql(f"SELECT {select} FROM ({query}) AS `_src`({aliases})")
        if schema is None:
            self._write_temp(name, rows, append=True)
        else:
            self._stage(schema, name, rows, "append")
        return True

    def _delete(self, table: exp.Table, cond: str) -> bool:
        target = self._target(table)
        if target is None:
            return False
        name, schema, _ = target
        alias = table.alias or table.name
        # Nothing to delete from an empty table: the footers say so without a Spark job (a first load's case).
        if schema is None:
            if _footer_rows(self._temp[name][0]) == 0:
                return True
            keep = self.spark.sql(f"SELECT * FROM `{name}` AS `{alias}` WHERE NOT COALESCE({cond}, FALSE)")
            self._write_temp(name, keep)
        else:
            key = f"{schema}.{name}".lower()
            staged_key = self._staged_keys().get(key)
            if self._count(schema, name, None if staged_key is None else self._staged[staged_key]) == 0:
                return True
            current = _overlay_name(key) if staged_key is not None else f"`{schema}`.`{name}`"
            keep = self.spark.sql(f"SELECT * FROM {current} AS `{alias}` WHERE NOT COALESCE({cond}, FALSE)")
            self._stage(schema, name, keep, "replace")
        return True

    def _stage(self, schema: str, name: str, rows: Any, mode: WriteMode) -> None:
        """Stage rows written by SQL like `write_table` does: an append, or the table's new contents."""
        with self.transaction():
            assert self._tx is not None
            known = self._staged_keys()
            key = known.get(f"{schema}.{name}".lower(), f"{schema}.{name}")
            folder = self._tx / f"{key}.{uuid.uuid4().hex[:8]}.sql"
            rows.write.parquet(str(folder))
            staged = self._staged.get(key)
            if mode == "replace" or staged is None:
                self._staged[key] = _Staged(schema, name, folder, mode)
            else:
                for part in folder.glob("*.parquet"):
                    part.replace(staged.path / f"part-{uuid.uuid4().hex}.parquet")
            self._overlay(key)

    def _overlay(self, key: str) -> None:
        """The view through which this transaction reads a table it has written."""
        staged = self._staged[key]
        live = self.spark.table(f"`{staged.schema}`.`{staged.name}`")
        rows = self.spark.read.schema(live.schema).parquet(str(staged.path))
        # The live rows cannot change before the commit: when there are none, the overlay need not scan them.
        if staged.mode == "append" and _footer_rows(self.root / staged.schema / staged.name) > 0:
            rows = live.unionByName(rows)
        rows.createOrReplaceTempView(_overlay_name(key))

    def _drop_overlays(self) -> None:
        for key in self._staged:
            self.spark.catalog.dropTempView(_overlay_name(key))

    # -- temporary tables: scratch Parquet behind temporary views -----------------------------------
    # Not cached DataFrames: Spark's cache matching on the ever longer plans costs more than the queries, and a
    # local checkpoint fails on self-joins (`key not found: person_id#..`) in Spark 4.0.
    def _write_temp(self, name: str, rows: Any, *, append: bool = False) -> None:
        """(Re)define temporary table `name` as `rows`, or add `rows` to it, as Parquet under the scratch folder."""
        old = self._temp.get(name)
        if append and old is not None:
            rows.write.mode("append").parquet(str(old[0]))
            folder = old[0]
        else:
            folder = self._scratch / f"{name}.{uuid.uuid4().hex[:8]}"
            rows.write.parquet(str(folder))
            self._temp[name] = (folder, rows.schema)
            if old is not None:
                shutil.rmtree(old[0], ignore_errors=True)
        self.spark.read.schema(self._temp[name][1]).parquet(str(folder)).createOrReplaceTempView(name)

    def _drop_temp(self, name: str) -> None:
        folder, _ = self._temp.pop(name)
        self.spark.catalog.dropTempView(name)
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        for name in list(self._temp):
            self._drop_temp(name)
        shutil.rmtree(self._scratch, ignore_errors=True)

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
            live = self.root / staged.schema / staged.name
            sidecar = (live / _SIDECAR).read_text()
            if staged.mode == "append":
                for part in sorted(staged.path.glob("*.parquet")):
                    part.replace(live / f"part-{uuid.uuid4().hex}.parquet")
            else:
                (staged.path / _SIDECAR).write_text(sidecar)
                live.replace(trash / key)
                staged.path.replace(live)
            self._execute(f"REFRESH TABLE `{staged.schema}`.`{staged.name}`")
        self._drop_overlays()
        shutil.rmtree(self._tx, ignore_errors=True)
        self._tx, self._staged = None, {}

    def _rollback(self) -> None:
        self._drop_overlays()
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
            existing = 0 if mode == "replace" else self._count(schema, table.name, staged)
            if mode == "replace":
                _check_unique_local(table, incoming)
                self._staged[key] = _Staged(schema, table.name, incoming, "replace")
            elif mode == "upsert" and table.row_key and existing > 0:
                merged = self._tx / f"{key}.{uuid.uuid4().hex[:8]}.merged"
                keys = " AND ".join(f"o.`{k}` = n.`{k}`" for k in table.row_key)
                self.spark.sql(
                    f"SELECT o.* FROM {current} o LEFT ANTI JOIN {new} n ON {keys} UNION ALL SELECT * FROM {new}"
                ).write.parquet(str(merged))
                self._check_unique(table, f"parquet.`{merged}`")
                self._staged[key] = _Staged(schema, table.name, merged, "replace")
            else:
                if existing == 0:
                    _check_unique_local(table, incoming)  # only the incoming rows: no Spark job needed
                else:
                    self._check_unique(table, f"(SELECT * FROM {current} UNION ALL SELECT * FROM {new})")
                if staged is None:
                    self._staged[key] = _Staged(schema, table.name, incoming, "append")
                else:
                    for part in incoming.glob("*.parquet"):
                        part.replace(staged.path / f"part-{uuid.uuid4().hex}.parquet")
            self._overlay(key)
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
        own = 0 if staged is None else _footer_rows(staged.path)
        if staged is not None and staged.mode == "replace":
            return own
        return own + _footer_rows(self.root / schema / table)

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
    # Spark's own tables are nullable whatever the DDL says; writing every field nullable lets a batch whose schema
    # differs from `schema` only in nullability (built by hand, or for a table created with relaxed columns) go in,
    # as it does on the other engines. Required fields are the loader's to check, before this.
    schema = pa.schema([f.with_nullable(True) for f in schema])
    folder.mkdir(parents=True)
    written, part, writer, in_part = 0, 0, None, 0
    try:
        for batch in batches:
            if not batch.schema.equals(schema):
                batch = batch.cast(schema)
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


_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_NATIVE_CTAS = re.compile(rf"\s*CREATE\s+TABLE\s+(?P<target>{_IDENT}(?:\.{_IDENT})?)\s+AS\s+(?P<query>.*)", re.S | re.I)
_NATIVE_DROP = re.compile(
    rf"\s*DROP\s+TABLE\s+(?P<exists>IF\s+EXISTS\s+)?(?P<target>{_IDENT}(?:\.{_IDENT})?)\s*;?\s*$", re.S | re.I
)


def _native_name(target: str) -> tuple[str | None, str]:
    """(schema or None, table) of a native, possibly backquoted, table name."""
    parts = [p[1:-1] if p.startswith("`") else p for p in re.findall(_IDENT, target)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _check_unique_local(table: TableSchema, folder: Path) -> None:
    """The primary-key check on rows just written from Arrow: they came through this process, so read them here."""
    if not table.primary_key:
        return
    keys = list(table.primary_key)
    counts = pq.read_table(folder, columns=keys).group_by(keys).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts["count_all"], 1))
    if dup.num_rows:
        raise PrimaryKeyViolation(table.name, table.primary_key, ", ".join(str(dup[k][0].as_py()) for k in keys))


def _footer_rows(folder: Path) -> int:
    return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in folder.glob("*.parquet"))


def _for_spark(tree: exp.Expr) -> exp.Expr:
    """Rewrites for Spark 4: an exact quantile is PERCENTILE(x, q) (SQLGlot writes PERCENTILE_CONT(x, q), which
    Spark refuses; PERCENTILE interpolates linearly, as DuckDB's QUANTILE_CONT and PostgreSQL's PERCENTILE_CONT do)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
        return node

    return tree.transform(rewrite)


@lru_cache(maxsize=1024)
def _render_spark(query: str) -> str:
    trees = sqlglot.parse(query, read=CANONICAL_DIALECT)
    return ";\n".join(_for_spark(t).sql(dialect="spark") for t in trees if t is not None)


def _parse_single(query: str) -> exp.Expr | None:
    """The one statement in canonical `query`, or None (several statements, or SQLGlot cannot parse it)."""
    try:
        trees = [t for t in sqlglot.parse(query, read=CANONICAL_DIALECT) if t is not None]
    except sqlglot.errors.SqlglotError:
        return None
    return trees[0] if len(trees) == 1 else None


def _is_temporary(tree: exp.Create) -> bool:
    props = tree.args.get("properties")
    return props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)


def _overlay_name(key: str) -> str:
    return "_cl_tx_" + "".join(ch if ch.isalnum() else "_" for ch in key.lower())


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
