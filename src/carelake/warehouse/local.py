"""A scratch SQL engine in this process, for stages that crunch Arrow tables before anything reaches a warehouse.

The FHIR scanner classifies NDJSON chunks with SQL whatever the warehouse is; that engine is an in-memory DuckDB,
so its SQL is the canonical dialect. Callers see Arrow tables and Python rows, never the engine's own API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

__all__ = ["LocalCursor", "LocalEngine"]


class LocalCursor:
    """One thread's handle on a `LocalEngine`: Arrow tables it registers are visible to its own queries only."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cur = cursor

    def register(self, name: str, table: pa.Table) -> None:
        """Make `table` queryable as `name` (no copy)."""
        self._cur.register(name, table)

    def execute(self, sql: str) -> None:
        self._cur.execute(sql)

    def fetch(self, sql: str) -> pa.Table:
        return self._cur.sql(sql).to_arrow_table()


class LocalEngine:
    """An in-memory engine with a memory bound; tables made on it are shared by its cursors (one per thread)."""

    def __init__(self, memory_limit: str = "1GB") -> None:
        self._con = duckdb.connect(":memory:", config={"memory_limit": memory_limit})

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def cursor(self) -> Iterator[LocalCursor]:
        """A cursor for use on another thread (a connection is not safe to share across threads)."""
        with self._con.cursor() as cur:
            yield LocalCursor(cur)

    def execute(self, sql: str) -> None:
        self._con.execute(sql)

    def fetch(self, sql: str) -> pa.Table:
        return self._con.sql(sql).to_arrow_table()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The result as Python tuples (for small answers)."""
        return self._con.execute(sql, list(params)).fetchall()

    def insert_rows(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a parametrised INSERT once per row."""
        self._con.executemany(sql, [list(r) for r in rows])
