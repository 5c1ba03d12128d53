"""Canonical SQL that Spark's Parquet tables cannot run as such, run from SQLGlot's parse of the statement.

- `CREATE TEMPORARY TABLE` (with columns, or `AS SELECT`), `INSERT INTO`, `DELETE FROM` and `DROP TABLE` on
  such a table: a scratch Parquet folder under `<root>/.scratch/<id>/` (skipped when tables are re-registered),
  read through a temporary view of the same name; removed with the table and on `close()`.
  Like a temporary table elsewhere, it outlives a rolled-back transaction only until it is dropped.
- `INSERT INTO` and `DELETE FROM` on a warehouse table: the result is staged like a `write_table` (append, or the
  surviving rows as a replacement) and swapped in at commit; outside a transaction each statement is its own.
- `CREATE TABLE schema.name AS SELECT` (canonical, or native as the SQL-on-FHIR views run it), `DROP TABLE` and
  `DROP SCHEMA ... CASCADE`: a Parquet folder with its sidecar under the root, written at once like `create_table`.
- Rendering: what SQLGlot's Spark writer lacks (`for_spark`), and staged tables read through their overlays.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from carelake.errors import WarehouseError
from carelake.warehouse._base import CANONICAL_DIALECT
from carelake.warehouse.spark._catalogue import SIDECAR, footer_rows
from carelake.warehouse.spark._session import first_line
from carelake.warehouse.spark._staging import Staging, overlay_name

__all__ = ["Statements", "for_spark", "render_spark"]


class Statements(Staging):
    """The statement interpreter, temporary tables, and rendering canonical SQL for Spark."""

    # Temporary tables: name (lower case) -> (scratch Parquet folder, Spark schema), read through a temp view.
    _scratch: Path
    _temp: dict[str, tuple[Path, Any]]

    @classmethod
    def render(cls, query: str) -> str:
        """Canonical SQL as Spark SQL, with the rewrites SQLGlot's Spark writer lacks (see `for_spark`)."""
        return render_spark(query)

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
            raise WarehouseError(f"Spark: {first_line(e)}") from e
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
                    table.replace(exp.alias_(exp.to_table(overlay_name(key)), alias, table=True))
        return for_spark(tree).sql(dialect=self.dialect)

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
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE" and isinstance(tree.this, exp.Schema):
            # CREATE TABLE schema.name (columns): Spark would make a managed table in its own folder.
            target = tree.this.this
            if not isinstance(target, exp.Table) or not target.db or tree.expression is not None:
                return False
            ddl = ", ".join(
                f"`{c.name}` {c.args['kind'].sql(dialect=self.dialect)}"
                for c in tree.this.expressions
                if isinstance(c, exp.ColumnDef)
            )
            return self._create_as(target.db, target.name, None, bool(tree.args.get("exists")), ddl)
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

    def native_source(self, schema: str, table: str) -> str | None:
        key = self._staged_keys().get(f"{schema}.{table}".lower())
        return None if key is None else f"`{overlay_name(key)}`"

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

    def _create_as(self, schema: str, name: str, query: str | None, exists_ok: bool, columns: str = "") -> bool:
        """`CREATE TABLE schema.name AS query` (or, with no query, `(columns)`, empty) as a Parquet folder with its
        sidecar, registered at once."""
        folder = self._schema_dir(schema) / name.lower()
        if (folder / SIDECAR).exists():
            if exists_ok:
                return True
            raise WarehouseError(f"Spark: table {schema}.{name} already exists")
        if not folder.parent.is_dir():
            raise WarehouseError(f"Spark: schema {schema} does not exist")
        from pyspark.sql.types import NullType

        rows = self.spark.sql(query) if query is not None else self.spark.createDataFrame([], schema=columns)
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
        (folder / SIDECAR).write_text(json.dumps({"ddl": columns_ddl}))
        self._register(schema, name.lower(), columns_ddl)
        return True

    def _drop_table(self, schema: str, name: str, if_exists: bool) -> bool:
        """Drop a Parquet table: catalog entry, folder and whatever this transaction staged for it."""
        folder = self._schema_dir(schema) / name.lower()
        if not (folder / SIDECAR).exists():
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

    def _target(self, table: exp.Table) -> tuple[str, str | None, Any] | None:
        """(name, schema or None for a temporary table, Spark schema) of a table written by SQL; None: not ours."""
        if not table.db:
            key = table.name.lower()
            return (key, None, self._temp[key][1]) if key in self._temp else None
        schema, name = table.db, table.name.lower()
        if not (self.root / schema / name / SIDECAR).exists():
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
            if footer_rows(self._temp[name][0]) == 0:
                return True
            keep = self.spark.sql(f"SELECT * FROM `{name}` AS `{alias}` WHERE NOT COALESCE({cond}, FALSE)")
            self._write_temp(name, keep)
        else:
            key = f"{schema}.{name}".lower()
            staged_key = self._staged_keys().get(key)
            if self._count(schema, name, None if staged_key is None else self._staged[staged_key]) == 0:
                return True
            current = overlay_name(key) if staged_key is not None else f"`{schema}`.`{name}`"
            keep = self.spark.sql(f"SELECT * FROM {current} AS `{alias}` WHERE NOT COALESCE({cond}, FALSE)")
            self._stage(schema, name, keep, "replace")
        return True

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


_IDENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"

_NATIVE_CTAS = re.compile(rf"\s*CREATE\s+TABLE\s+(?P<target>{_IDENT}(?:\.{_IDENT})?)\s+AS\s+(?P<query>.*)", re.S | re.I)

_NATIVE_DROP = re.compile(
    rf"\s*DROP\s+TABLE\s+(?P<exists>IF\s+EXISTS\s+)?(?P<target>{_IDENT}(?:\.{_IDENT})?)\s*;?\s*$", re.S | re.I
)


def _native_name(target: str) -> tuple[str | None, str]:
    """(schema or None, table) of a native, possibly backquoted, table name."""
    parts = [p[1:-1] if p.startswith("`") else p for p in re.findall(_IDENT, target)]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def for_spark(tree: exp.Expr) -> exp.Expr:
    """Rewrites for Spark 4: an exact quantile is PERCENTILE(x, q) (SQLGlot writes PERCENTILE_CONT(x, q), which
    Spark refuses; PERCENTILE interpolates linearly, as DuckDB's QUANTILE_CONT and PostgreSQL's PERCENTILE_CONT do)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
        return node

    return tree.transform(rewrite)


@lru_cache(maxsize=1024)
def render_spark(query: str) -> str:
    trees = sqlglot.parse(query, read=CANONICAL_DIALECT)
    return ";\n".join(for_spark(t).sql(dialect="spark") for t in trees if t is not None)


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
