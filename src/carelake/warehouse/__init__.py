"""The warehouse layer: one interface over DuckDB, PostgreSQL and Spark.

`connect(url)` picks the backend from the URL's scheme (the registry in `_registry.py`); backends import lazily so
`carelake --help` stays instant and a user without pyspark can still run DuckDB.
"""

from __future__ import annotations

from carelake.errors import ConfigError
from carelake.warehouse._base import CANONICAL_DIALECT, PrimaryKeyViolation, Warehouse, WriteMode, quote
from carelake.warehouse._registry import BACKENDS, Backend, backend_class, parse_url
from carelake.warehouse._types import Column, ColumnKind, TableSchema
from carelake.warehouse._url import DEFAULT_URL, WarehouseURL
from carelake.warehouse.conformance import BackendCheck, BackendConformanceError, backend_checks, check_backend
from carelake.warehouse.fragments import date_add, date_literal, id_list

__all__ = [
    "BACKENDS",
    "CANONICAL_DIALECT",
    "DEFAULT_URL",
    "Backend",
    "BackendCheck",
    "BackendConformanceError",
    "Column",
    "ColumnKind",
    "PrimaryKeyViolation",
    "TableSchema",
    "Warehouse",
    "WarehouseURL",
    "WriteMode",
    "backend_checks",
    "backend_class",
    "check_backend",
    "connect",
    "date_add",
    "date_literal",
    "id_list",
    "parse_url",
    "quote",
    "resolve",
]


def connect(url: str | WarehouseURL = DEFAULT_URL, *, read_only: bool = False) -> Warehouse:
    """Open the warehouse at `url` (see `parse_url` for the forms); `read_only` where the engine can open so."""
    parsed = parse_url(url) if isinstance(url, str) else url
    return backend_class(parsed.backend)(parsed, read_only=read_only)


def resolve(target: str | WarehouseURL | Warehouse) -> tuple[type[Warehouse], WarehouseURL]:
    """The backend class and URL of `target` (a connected warehouse, a URL, or a backend name), connecting nothing.

    Lets SQL be printed for a warehouse the user names (`--sql`) with that engine's dialect and schema names.
    """
    if isinstance(target, Warehouse):
        return type(target), target.url
    if isinstance(target, WarehouseURL):
        return backend_class(target.backend), target
    if "://" not in target and "." not in target:
        names = [b.name for b in BACKENDS]
        if target not in names:
            raise ConfigError(f"unknown engine {target!r}", hint=f"use one of {', '.join(names)}")
        return backend_class(target), WarehouseURL(backend=target, raw=target)
    parsed = parse_url(target)
    return backend_class(parsed.backend), parsed
