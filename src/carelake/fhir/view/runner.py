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
from carelake.fhir.store import raw_table
from carelake.fhir.view.compiler import compile_sql
from carelake.fhir.view.definition import ViewDefinition, ViewError, parse_view
from carelake.fhir.view.dialect import dialect_for
from carelake.fhir.view.fallback import FUNCTION_NAME, fhirpath_json
from carelake.limits import depth_problem
from carelake.warehouse import DEFAULT_URL, Warehouse, WarehouseURL, resolve

log = logging.getLogger(__name__)

__all__ = ["compile_view", "load_view", "materialize_view", "run_view"]


def load_view(source: str | Path | dict[str, Any]) -> ViewDefinition:
    """A ViewDefinition from a dict, a JSON file path, or JSON text."""
    if isinstance(source, dict):
        return parse_view(source)
    text = str(source)
    where = "the ViewDefinition"
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"{path}: no such ViewDefinition file")
        text = path.read_text(encoding="utf-8")
        where = str(path)
    if (problem := depth_problem(text)) is not None:
        raise ViewError(f"{where}: {problem}")
    try:
        return parse_view(json.loads(text))
    except ValueError as e:
        if isinstance(e, ViewError):
            raise
        raise ViewError(f"{where}: not valid JSON: {e}") from e


def compile_view(
    view: ViewDefinition | dict[str, Any],
    warehouse: str | WarehouseURL | Warehouse = DEFAULT_URL,
    *,
    schema: str | None = None,
) -> str:
    """The SQL a view compiles to on `warehouse` (connected, a URL, or an engine name; nothing connects).

    It reads the raw store in `schema` (default: the warehouse's FHIR schema).
    """
    cls, url = resolve(warehouse)
    definition = view if isinstance(view, ViewDefinition) else parse_view(view)
    return _compile(definition, cls.dialect, schema or url.fhir_schema, cls.supports_python_functions)


def _compile(
    definition: ViewDefinition, sql_dialect: str, schema: str, python_fallback: bool, source: str | None = None
) -> str:
    dialect = dialect_for(sql_dialect)
    table = source or f"{dialect.ident(schema)}.{dialect.ident(definition.resource.lower())}"
    return compile_sql(definition, dialect, table, fallback=FUNCTION_NAME if python_fallback else None)


def _prepare(wh: Warehouse, view: ViewDefinition | dict[str, Any] | str | Path, schema: str | None) -> str:
    schema = schema or wh.fhir_schema
    definition = view if isinstance(view, ViewDefinition) else load_view(view)
    if not wh.table_exists(schema, definition.resource.lower()):
        with wh.transaction():
            wh.create_schema(schema)
            wh.create_table(schema, raw_table(definition.resource))
    fallback = wh.register_python_function(FUNCTION_NAME, fhirpath_json, 3)
    source = wh.native_source(schema, definition.resource.lower())  # this transaction's rows, where staged
    sql = _compile(definition, wh.dialect, schema, fallback, source)
    for statement in dialect_for(wh.dialect).setup:
        wh.execute_native(statement)
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
    dialect = dialect_for(wh.dialect)
    if kind == "view" and not dialect.live_views:
        raise ConfigError(
            f"a live SQL view cannot be kept on {wh.dialect} (the view calls a session-only helper)",
            hint="use --to-table (a table) instead",
        )
    sql = _prepare(wh, view, schema)
    parts = target.split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"{target!r} is not a table name", hint="use name or schema.name")
    qualified = ".".join(dialect.ident(p) for p in parts)
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
