"""DuckDB backend. Wraps the duckdb module so the rest of carelake never sees its result API (2.x differs)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pyarrow as pa
from duckdb.func import SPECIAL
from duckdb.sqltypes import VARCHAR

from carelake.errors import ConfigError, WarehouseError
from carelake.warehouse._base import PrimaryKeyViolation, Warehouse, quote
from carelake.warehouse._types import Column, TableSchema
from carelake.warehouse._url import WarehouseURL
from carelake.warehouse.duckdb._url import SETTINGS

__all__ = ["DuckDBWarehouse"]

# DuckDB 1.x: 'Duplicate key "id: 5" violates primary key constraint'; 2.x: 'duplicate key "5"'.
_DUP = re.compile(r'[Dd]uplicate key "(?P<key>.*?)"', re.S)


class DuckDBWarehouse(Warehouse):
    """An embedded DuckDB file (or `:memory:`); one process may hold it read-write."""

    dialect = "duckdb"
    supports_python_functions = True
    # JSON text compresses far better with zstd than with DuckDB's default choice (DICT_FSST), and writes in half the
    # time: on 540k FHIR Observations, 3.1 s -> 1.6 s to insert, 185 MB -> 28 MB on disk, and reads no slower.
    # VARCHAR, not DuckDB's JSON type: the only JSON column is the raw FHIR store, whose text is checked before it is
    # written (the scanner or Python's parser); the JSON type parses every value again on insert (1.6 s -> 1.2 s).
    # DuckDB's JSON functions and operators take VARCHAR alike, as Spark's take STRING.
    json_type = "VARCHAR USING COMPRESSION zstd"

    def __init__(self, url: WarehouseURL, *, read_only: bool = False) -> None:
        super().__init__(url)
        self._functions: set[str] = set()
        target = ":memory:" if url.path is None else str(url.path)
        if url.path is not None and not url.path.parent.exists():
            raise ConfigError(f"folder {url.path.parent} for DuckDB file {url.path} does not exist")
        try:
            # Extensions are never installed at run time: patient data stays offline.
            config: dict[str, Any] = {"autoinstall_known_extensions": False}
            # A bulk load writes each row group to the file as soon as it is full, instead of buffering five: what
            # is still buffered at commit is compressed then, on one core, after the load (staging 5M resources:
            # commit 2.2 s -> 1.4 s), and the buffer takes memory.
            config["write_buffer_row_group_count"] = 1
            # ?memory_limit=2GB&threads=2 in the URL: DuckDB's buffer pool otherwise takes up to 80% of RAM.
            config.update({k: v for k, v in url.options.items() if k in SETTINGS})
            self._con = duckdb.connect(target, read_only=read_only, config=config)
        except (duckdb.InvalidInputException, duckdb.ParserException) as e:
            raise ConfigError(
                f"DuckDB setting in {url.raw}: {e}", hint=f"settings: {', '.join(sorted(SETTINGS))}"
            ) from e
        except duckdb.IOException as e:
            raise ConfigError(
                f"cannot open DuckDB file {target}: {e}",
                hint="another process may hold it read-write; close it or open read-only",
            ) from e

    def scratch_schema(self, name: str) -> str:
        # A run's intermediate tables live in the connection's temp catalog: in memory (spilling to disk past the
        # memory limit), never compressed into the file nor written at commit. Harmonizing 1M: 9.2 s -> 7.2 s.
        return "temp"

    def temp_prefix(self, schema: str) -> str:
        return "TEMP " if schema == "temp" else ""  # the temp catalog takes temporary tables only

    def reset_scratch(self, schema: str) -> None:
        self.drop_scratch(schema)

    def drop_scratch(self, schema: str) -> None:
        """Drop every temporary table and view of this connection: its scratch space holds one run at a time."""
        rows = self._con.execute(
            "SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary "
            "UNION ALL SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND NOT internal"
        ).fetchall()
        for kind, name in rows:
            self._execute(f"DROP {kind} IF EXISTS temp.main.{quote(str(name))}")

    def _create(self, ddl: str) -> None:
        self.execute_native(ddl)  # DuckDB's own dialect already; SQLGlot does not know USING COMPRESSION

    def _type_sql(self, column: Column) -> str:
        # DuckDB tries dictionary and FSST compression on every string column; on millions of unique keys it finds
        # nothing to save and spends the time anyway (2.9M id map keys: insert 2.5 s -> 1.7 s stored plain).
        sql = super()._type_sql(column)
        return sql if column.compressible else f"{sql} USING COMPRESSION uncompressed"

    def _execute(self, native_sql: str) -> None:
        try:
            self._con.execute(native_sql)
        except duckdb.ConstraintException as e:
            raise _key_error(e) from e
        except (duckdb.Error, RuntimeError) as e:
            if _interrupted(e):
                raise KeyboardInterrupt from e
            if not isinstance(e, duckdb.Error):
                raise
            raise WarehouseError(f"DuckDB: {e}") from e

    def _fetch_arrow(self, native_sql: str) -> pa.Table:
        try:
            relation = self._con.sql(native_sql)
            return pa.table({}) if relation is None else relation.to_arrow_table()
        except (duckdb.Error, RuntimeError) as e:
            if _interrupted(e):
                raise KeyboardInterrupt from e
            if not isinstance(e, duckdb.Error):
                raise
            raise WarehouseError(f"DuckDB: {e}") from e

    def register_python_function(self, name: str, fn: Callable[..., str | None], arity: int) -> bool:
        """A scalar UDF over VARCHAR arguments (once per connection); DuckDB calls it row by row."""
        if name in self._functions:
            return True
        varchar = VARCHAR
        udf: Any = fn  # DuckDB's stubs want a narrower callable type than Callable[..., str | None]
        self._con.create_function(name, udf, [varchar] * arity, varchar, null_handling=SPECIAL, side_effects=False)
        self._functions.add(name)
        return True

    def _begin(self) -> None:
        self._con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    def _rollback(self) -> None:
        self._con.execute("ROLLBACK")

    def list_tables(self, schema: str) -> list[str]:
        rows = self._con.execute(
            "SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower(?) ORDER BY 1",
            [schema],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        schema = table.arrow_schema
        counted = _Counter(batches)
        reader = pa.RecordBatchReader.from_batches(schema, counted)
        name = "_carelake_incoming"
        self._con.register(name, reader)
        try:
            cols = ", ".join(f'"{c}"' for c in table.column_names)
            self._execute(f"INSERT INTO {qualified} ({cols}) SELECT {cols} FROM {name}")
        except WarehouseError:
            # An error raised while producing batches (bad input) reaches DuckDB as text; raise the original.
            if counted.error is not None:
                raise counted.error from None
            raise
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses even this; rollback cleans up
                self._con.unregister(name)
        return counted.rows

    def close(self) -> None:
        self._con.close()


def _interrupted(e: Exception) -> bool:
    """Whether DuckDB stopped on Ctrl-C ("Query interrupted"): an interrupt to the caller, never an engine fault."""
    return isinstance(e, duckdb.InterruptException) or str(e) == "Query interrupted"


class _Counter:
    """Counts rows as DuckDB pulls batches, so streaming stays streaming."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._it = iter(batches)
        self.rows = 0
        self.error: BaseException | None = None

    def __iter__(self) -> _Counter:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            batch = next(self._it)
        except StopIteration:
            raise
        except BaseException as e:
            self.error = e
            raise
        self.rows += batch.num_rows
        return batch


def _key_error(e: duckdb.ConstraintException) -> WarehouseError:
    m = _DUP.search(str(e))
    if not m:
        return WarehouseError(f"DuckDB: {e}")
    parts = [p.strip() for p in m.group("key").split(",")]
    cols = tuple(p.split(":", 1)[0].strip() for p in parts if ":" in p)
    value = ", ".join(p.split(":", 1)[1].strip() if ":" in p else p for p in parts)
    return PrimaryKeyViolation("", cols, value)
