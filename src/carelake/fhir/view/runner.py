"""Run a ViewDefinition in the warehouse: parse and check it, compile it for the engine, return Arrow.

`run_view` is the API; the CLI's `carelake fhir view` and the conformance runner are thin over it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa

from carelake.errors import ConfigError, UserError
from carelake.fhir.store import FHIR_SCHEMA, raw_table
from carelake.fhir.view.compiler import compile_sql
from carelake.fhir.view.definition import ViewDefinition, ViewError, parse_view
from carelake.fhir.view.dialect import DIALECTS, Dialect
from carelake.fhir.view.fallback import FUNCTION_NAME, fhirpath_json
from carelake.warehouse import Warehouse

log = logging.getLogger(__name__)

__all__ = ["compile_view", "load_view", "materialize_view", "run_view"]

_PG_RAISE = (
    "CREATE OR REPLACE FUNCTION pg_temp.carelake_raise(msg text) RETURNS jsonb LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '%', msg; END $$"
)


def load_view(source: str | Path | dict[str, Any]) -> ViewDefinition:
    """A ViewDefinition from a dict, a JSON file path, or JSON text."""
    if isinstance(source, dict):
        return parse_view(source)
    text = str(source)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"{path}: no such ViewDefinition file")
        text = path.read_text(encoding="utf-8")
        try:
            return parse_view(json.loads(text))
        except ValueError as e:
            if isinstance(e, ViewError):
                raise
            raise ViewError(f"{path}: not valid JSON: {e}") from e
    return parse_view(json.loads(text))


def _dialect(wh: Warehouse) -> Dialect:
    d = DIALECTS.get(wh.dialect)
    if d is None:
        raise ConfigError(f"SQL-on-FHIR views do not run on {wh.dialect}", hint="use DuckDB, PostgreSQL or Spark")
    return d()


def compile_view(view: ViewDefinition | dict[str, Any], dialect: str = "duckdb", *, schema: str = FHIR_SCHEMA) -> str:
    """The SQL a view compiles to, for reading or for running elsewhere."""
    definition = view if isinstance(view, ViewDefinition) else parse_view(view)
    engine = DIALECTS[dialect]()
    table = f"{engine.ident(schema)}.{engine.ident(definition.resource.lower())}"
    fallback = FUNCTION_NAME if dialect == "duckdb" else None
    return compile_sql(definition, engine, table, fallback=fallback)


def _prepare(wh: Warehouse, view: ViewDefinition | dict[str, Any] | str | Path, schema: str | None) -> str:
    schema = schema or wh.fhir_schema
    definition = view if isinstance(view, ViewDefinition) else load_view(view)
    dialect = _dialect(wh)
    if not wh.table_exists(schema, definition.resource.lower()):
        with wh.transaction():
            wh.create_schema(schema)
            wh.create_table(schema, raw_table(definition.resource))
    fallback = FUNCTION_NAME if wh.register_python_function(FUNCTION_NAME, fhirpath_json, 3) else None
    table = f"{dialect.ident(schema)}.{dialect.ident(definition.resource.lower())}"
    sql = compile_sql(definition, dialect, table, fallback=fallback)
    if dialect.name == "postgres":
        wh.execute_native(_PG_RAISE)
    log.debug("view SQL:\n%s", sql)
    return sql


def materialize_view(
    wh: Warehouse,
    view: ViewDefinition | dict[str, Any] | str | Path,
    target: str,
    *,
    kind: str = "table",
    schema: str | None = None,
) -> None:
    """Save a view's rows as warehouse table `target` (schema.name or name), or as a SQL view that stays live.

    A table in the engine's session-only scratch (`Warehouse.scratch_schema`) is created temporary.
    """
    sql = _prepare(wh, view, schema)
    if kind == "view" and wh.dialect == "postgres":
        raise ConfigError(
            "a live SQL view cannot be kept on PostgreSQL (it calls a session-only helper)", hint="use a table"
        )
    parts = target.split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"{target!r} is not a table name", hint="use name or schema.name")
    qualified = ".".join(_dialect(wh).ident(p) for p in parts)
    temp = wh.temp_prefix(parts[0]) if len(parts) == 2 else ""
    with wh.transaction():
        if len(parts) == 2 and not temp:
            wh.create_schema(parts[0])
        if kind == "view":
            wh.execute_native(f"CREATE OR REPLACE {temp}VIEW {qualified} AS {sql}")
        else:
            wh.execute_native(f"DROP TABLE IF EXISTS {qualified}")
            wh.execute_native(f"CREATE {temp}TABLE {qualified} AS {sql}")


def run_view(
    wh: Warehouse, view: ViewDefinition | dict[str, Any] | str | Path, *, schema: str | None = None
) -> pa.Table:
    """Rows of the view over the raw store in `schema`, as an Arrow table with the view's columns in order."""
    return wh.fetch_native(_prepare(wh, view, schema))
