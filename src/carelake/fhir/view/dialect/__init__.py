"""The view compiler's dialects: one module per engine, found by the warehouse's SQL dialect name.

A new engine is one module here and one entry in `_DIALECTS`; nothing else in the view compiler names an engine.
"""

from __future__ import annotations

from carelake.errors import ConfigError
from carelake.fhir.view.dialect._base import BASE_ROOT, BASE_TABLE, Dialect, Segment, ViewUnsupported, sql_str
from carelake.fhir.view.dialect.duckdb import DuckDBDialect
from carelake.fhir.view.dialect.postgres import PostgresDialect
from carelake.fhir.view.dialect.spark import SparkDialect

__all__ = ["BASE_ROOT", "BASE_TABLE", "Dialect", "Segment", "ViewUnsupported", "dialect_for", "sql_str"]

_DIALECTS: dict[str, type[Dialect]] = {d.name: d for d in (DuckDBDialect, PostgresDialect, SparkDialect)}


def dialect_for(sql_dialect: str) -> Dialect:
    """A fresh dialect (it may hold per-query state) for a warehouse whose SQL dialect is `sql_dialect`."""
    cls = _DIALECTS.get(sql_dialect)
    if cls is None:
        known = ", ".join(sorted(_DIALECTS))
        raise ConfigError(f"SQL-on-FHIR views do not compile to {sql_dialect} SQL", hint=f"use a warehouse on {known}")
    return cls()
