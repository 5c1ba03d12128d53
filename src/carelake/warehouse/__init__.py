"""The warehouse layer: one interface over DuckDB, PostgreSQL and Spark.

`connect(url)` picks the backend from the URL; backends import lazily so `carelake --help` stays instant and
a user without pyspark can still run DuckDB.
"""

from __future__ import annotations

from carelake.warehouse._base import CANONICAL_DIALECT, PrimaryKeyViolation, Warehouse, WriteMode, quote
from carelake.warehouse._types import Column, ColumnKind, TableSchema
from carelake.warehouse._url import DEFAULT_URL, WarehouseURL, parse_url

__all__ = [
    "CANONICAL_DIALECT",
    "DEFAULT_URL",
    "Column",
    "ColumnKind",
    "PrimaryKeyViolation",
    "TableSchema",
    "Warehouse",
    "WarehouseURL",
    "WriteMode",
    "connect",
    "parse_url",
    "quote",
]


def connect(url: str | WarehouseURL = DEFAULT_URL, *, read_only: bool = False) -> Warehouse:
    """Open the warehouse at `url` (see `parse_url` for the forms)."""
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.backend == "duckdb":
        from carelake.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(parsed, read_only=read_only)
    if parsed.backend == "postgres":
        from carelake.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(parsed)
    from carelake.errors import ConfigError

    try:
        from carelake.warehouse.spark import SparkWarehouse
    except ImportError as e:
        raise ConfigError("the Spark backend needs pyspark", hint="install carelake with the 'spark' extra") from e
    return SparkWarehouse(parsed)
