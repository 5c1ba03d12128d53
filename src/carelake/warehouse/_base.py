"""The warehouse interface: the one seam between carelake and a SQL engine.

Everything above this layer writes canonical SQL (DuckDB's dialect) once; `Warehouse.sql` transpiles it with
SQLGlot for the engine at hand. Engine-specific SQL lives only in the backend folders.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar, Literal

import pyarrow as pa
import sqlglot

from carelake.errors import WarehouseError
from carelake.warehouse._types import Column, TableSchema
from carelake.warehouse._url import WarehouseURL

__all__ = ["CANONICAL_DIALECT", "PrimaryKeyViolation", "Warehouse", "WriteMode"]

log = logging.getLogger(__name__)

CANONICAL_DIALECT = "duckdb"
WriteMode = Literal["replace", "append", "upsert"]


class PrimaryKeyViolation(WarehouseError):
    """A write would leave two rows with one primary key; `key` is the offending value as text."""

    def __init__(self, table: str, columns: tuple[str, ...], key: str | None) -> None:
        self.table = table
        self.columns = columns
        self.key = key
        super().__init__(f"duplicate primary key {key} in {table} ({', '.join(columns)})")


@lru_cache(maxsize=1024)
def transpile(query: str, dialect: str) -> str:
    """Canonical SQL to `dialect`; cached because the same statements run per table and per batch."""
    if dialect == CANONICAL_DIALECT:
        return query
    return ";\n".join(sqlglot.transpile(query, read=CANONICAL_DIALECT, write=dialect))


def quote(name: str) -> str:
    """Quote an identifier in canonical SQL (double quotes work on every target after transpiling)."""
    return '"' + name.replace('"', '""') + '"'


class Warehouse(ABC):
    """A connection to one OMOP warehouse on some engine.

    Backends subclass this and fill in a handful of primitives; the write logic (replace, append, upsert by key)
    is shared SQL. Capabilities are class flags so callers and tests can ask instead of guessing.
    """

    dialect: ClassVar[str]
    supports_transactions: ClassVar[bool] = True
    # Whether the engine's DDL declares (and the engine enforces) primary keys; where it cannot (Spark), the backend
    # checks keys itself on write. Either way a duplicate key raises PrimaryKeyViolation (see conformance.py).
    enforces_primary_keys: ClassVar[bool] = True
    # How a JSON column is declared, in canonical SQL that survives transpiling to this engine.
    json_type: ClassVar[str] = "JSON"
    supports_indexes: ClassVar[bool] = False
    # Whether `register_python_function` can make a Python function callable from SQL.
    supports_python_functions: ClassVar[bool] = False

    def __init__(self, url: WarehouseURL, *, read_only: bool = False) -> None:
        self.url = url
        self.cdm_schema = url.cdm_schema
        self.results_schema = url.results_schema
        # The raw FHIR store (one table per resource type); `?fhir=` in the URL.
        self.fhir_schema = url.fhir_schema
        self._in_transaction = False
        self._after: list[Callable[[], None]] = []

    # -- primitives each backend provides -------------------------------------------------------
    @abstractmethod
    def _execute(self, native_sql: str) -> None: ...

    @abstractmethod
    def _fetch_arrow(self, native_sql: str) -> pa.Table: ...

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def list_tables(self, schema: str) -> list[str]:
        """Tables in `schema`, lower case, sorted."""

    @abstractmethod
    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        """Append Arrow batches (already in the table's column order and types); return rows written."""

    def close(self) -> None:  # noqa: B027 - optional hook; backends with a connection override it
        """Release the connection."""

    # -- SQL --------------------------------------------------------------------------------------
    @classmethod
    def render(cls, query: str) -> str:
        """Canonical SQL in this engine's dialect, with no connection needed (to print SQL for review)."""
        return transpile(query, cls.dialect)

    def sql(self, query: str) -> str:
        """Canonical SQL rendered for this connection (a backend may consult its session state)."""
        return self.render(query)

    def execute(self, query: str) -> None:
        """Run canonical SQL that returns nothing."""
        native = self.sql(query)
        log.debug("%s: %s", self.dialect, native)
        self._execute(native)

    def fetch_arrow(self, query: str) -> pa.Table:
        """Run canonical SQL and return the result as an Arrow table."""
        native = self.sql(query)
        log.debug("%s: %s", self.dialect, native)
        return self._fetch_arrow(native)

    def execute_native(self, native_sql: str) -> None:
        """Run SQL already written in this engine's own dialect (generated code that SQLGlot should not touch)."""
        log.debug("%s (native): %s", self.dialect, native_sql)
        self._execute(native_sql)

    def fetch_native(self, native_sql: str) -> pa.Table:
        """Like `fetch_arrow`, for SQL already in this engine's dialect."""
        log.debug("%s (native): %s", self.dialect, native_sql)
        return self._fetch_arrow(native_sql)

    def register_python_function(self, name: str, fn: Callable[..., str | None], arity: int) -> bool:
        """Make a Python function of `arity` text arguments callable from SQL; False where the engine cannot."""
        return False

    def fetch_scalar(self, query: str) -> Any:
        table = self.fetch_arrow(query)
        if table.num_rows == 0:
            return None
        return table.column(0)[0].as_py()

    # -- schemas and tables ----------------------------------------------------------------------
    def create_schema(self, name: str) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(name)}")

    def scratch_schema(self, name: str) -> str:
        """Where one run keeps its intermediate tables: here the schema `name`, which `reset_scratch` empties."""
        return name

    def reset_scratch(self, schema: str) -> None:
        """Make scratch space `schema` (from `scratch_schema`) empty and ready."""
        self.drop_scratch(schema)
        self.create_schema(schema)

    def drop_scratch(self, schema: str) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")

    def temp_prefix(self, schema: str) -> str:
        """'TEMP ' where a table in `schema` must be created temporary (an engine's session-only scratch), else ''."""
        return ""

    def table_exists(self, schema: str, table: str) -> bool:
        return table.lower() in self.list_tables(schema)

    def native_source(self, schema: str, table: str) -> str | None:
        """The name native SQL must read `schema.table` by to see this transaction's writes, where that is not the
        table's own name (Spark stages writes and shows them through a view); None: the table's own name."""
        return None

    def create_table(self, schema: str, table: TableSchema) -> None:
        """Create `table` in `schema` unless it exists (idempotent)."""
        cols = [f"{quote(c.name)} {self._type_sql(c)}{'' if c.nullable else ' NOT NULL'}" for c in table.columns]
        if table.primary_key and self.enforces_primary_keys:
            cols.append(f"PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
        name = f"{quote(schema)}.{quote(table.name)}"
        self._create(f"CREATE {self.temp_prefix(schema)}TABLE IF NOT EXISTS {name} (\n  " + ",\n  ".join(cols) + "\n)")
        if self.supports_indexes:
            for columns in table.indexes:
                name = f"idx_{table.name}_{'_'.join(columns)}"[:63]
                self.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(schema)}.{quote(table.name)} "
                    f"({', '.join(quote(c) for c in columns)})"
                )

    def _create(self, ddl: str) -> None:
        """Run a CREATE TABLE built from `_type_sql` (an engine whose types SQLGlot cannot parse runs it natively)."""
        self.execute(ddl)

    def _type_sql(self, column: Column) -> str:
        """A column's type in canonical SQL; JSON is the engine's own JSON type (PostgreSQL: JSONB, indexed access)."""
        return self.json_type if column.kind == "json" else column.sql_type()

    def row_count(self, schema: str, table: str) -> int:
        return int(self.fetch_scalar(f"SELECT COUNT(*) FROM {quote(schema)}.{quote(table)}"))

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested blocks join the outer one."""
        if self._in_transaction:
            yield
            return
        self._begin()
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            try:
                self._rollback()
            finally:
                self._run_after(failed=True)
            raise
        self._in_transaction = False
        try:
            self._commit()
        finally:
            self._run_after(failed=False)

    def after_transaction(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` once the outermost transaction has ended, or now when none is open: scratch tables go then
        (DuckDB refuses to commit a transaction that dropped tables it created), so a caller can join several
        steps into one transaction and the warehouse is never seen between them."""
        if self._in_transaction:
            self._after.append(cleanup)
        else:
            cleanup()

    def _run_after(self, *, failed: bool) -> None:
        todo, self._after = self._after, []
        for cleanup in todo:
            if failed:
                with contextlib.suppress(Exception):  # the error that rolled back is the one to report
                    cleanup()
            else:
                cleanup()

    # -- writing ---------------------------------------------------------------------------------
    def write_table(
        self,
        schema: str,
        table: TableSchema,
        batches: Iterable[pa.RecordBatch],
        *,
        mode: WriteMode = "append",
    ) -> int:
        """Write Arrow batches into an existing table; return rows written.

        replace: the table ends up holding exactly these rows. append: rows are added. upsert: rows whose
        `row_key` matches an incoming row are replaced, so loading the same rows twice changes nothing.
        """
        try:
            return self._write(schema, table, batches, mode)
        except PrimaryKeyViolation as e:
            if e.table:
                raise
            raise PrimaryKeyViolation(table.name, e.columns, e.key) from e  # the engine's message names no table

    def _write(self, schema: str, table: TableSchema, batches: Iterable[pa.RecordBatch], mode: WriteMode) -> int:
        qualified = f"{quote(schema)}.{quote(table.name)}"
        with self.transaction():
            if mode == "replace":
                self.execute(f"DELETE FROM {qualified}")
                return self._bulk_insert(qualified, table, batches)
            if mode == "append" or not table.row_key or self.row_count(schema, table.name) == 0:
                return self._bulk_insert(qualified, table, batches)
            staging = quote(f"_carelake_stage_{table.name}")
            self.execute(f"DROP TABLE IF EXISTS {staging}")
            self.execute(f"CREATE TEMPORARY TABLE {staging} AS SELECT * FROM {qualified} WHERE 1 = 0")
            # On failure the rollback discards the staging table with everything else.
            written = self._bulk_insert(staging, table, batches)
            keys = ", ".join(quote(k) for k in table.row_key)
            self.execute(f"DELETE FROM {qualified} WHERE ({keys}) IN (SELECT {keys} FROM {staging})")
            self.execute(f"INSERT INTO {qualified} SELECT * FROM {staging}")
            self.execute(f"DROP TABLE {staging}")
            return written

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
