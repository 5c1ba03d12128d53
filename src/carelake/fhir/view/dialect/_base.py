"""What every engine's SQL must spell: the handful of JSON operations a compiled view needs.

The spellings live in one module per engine beside this one. A FHIRPath collection is the engine's list of JSON
values (DuckDB `JSON[]`, a PostgreSQL `jsonb` array, Spark `array<string>`); a single value is JSON or NULL for
empty. Navigation is a JSONPath where the engine evaluates one natively; everything else is a small template.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

__all__ = ["BASE_ROOT", "BASE_TABLE", "Dialect", "Segment", "ViewUnsupported", "sql_str"]


class ViewUnsupported(Exception):
    """A construct this engine's SQL cannot express."""


# The compiled query reads resources as `r` (columns id, resource); the FROM item is marked so a dialect can wrap it.
BASE_ROOT = "r.resource"
BASE_TABLE = "\x00base\x00"

# A JSONPath step: ("key", name), ("all", "") for [*], ("idx", n) for [n].
Segment = tuple[str, str]


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Dialect(ABC):
    """SQL templates for one engine."""

    name: ClassVar[str]
    empty_list: ClassVar[str]
    # unionAll is a correlated lateral subquery; Spark rejects outer references there.
    lateral_subqueries: ClassVar[bool] = True
    # Statements the session needs before a compiled query runs (helpers the query calls).
    setup: ClassVar[tuple[str, ...]] = ()
    # Whether a compiled query may be kept as a SQL view (False where it calls a session-only helper).
    live_views: ClassVar[bool] = True

    def decimal_from_text(self, text: str) -> str | None:
        """A decimal read from a path's text (`path_text`) where that is cheaper than from its JSON, else None."""
        return None

    @staticmethod
    def jsonpath(segments: list[Segment]) -> str:
        out = "$"
        for kind, value in segments:
            if kind == "key":
                out += "." + value if value.isidentifier() else '."' + value + '"'
            elif kind == "all":
                out += "[*]"
            else:
                out += f"[{value}]"
        return out

    def literal(self, text: str) -> str:
        return sql_str(text)

    def finish(self, sql: str, table: str) -> str:
        """Last touch on a whole compiled query: put in the resource table (DuckDB: resolve pooled look-ups)."""
        return sql.replace(BASE_TABLE, table)

    def cast(self, native: str, kind: str) -> str:
        target = {"string": "VARCHAR", "boolean": "BOOLEAN", "integer": "BIGINT", "decimal": "DOUBLE"}[kind]
        return f"CAST({native} AS {target})"

    def ident(self, name: str) -> str:
        """A quoted identifier."""
        return '"' + name.replace('"', '""') + '"'

    def strpos(self, text: str, needle: str) -> str:
        return f"strpos({text}, {needle})"

    def position(self, alias: str) -> str:
        """%rowIndex of an unnested element (0-based)."""
        return f"(coalesce({alias}.n, 1) - 1)"

    def element(self, alias: str) -> str:
        """The element an `unnest` join gives."""
        return f"{alias}.e"

    @abstractmethod
    def path_list(self, root: str, segments: list[Segment]) -> str: ...
    @abstractmethod
    def path_one(self, root: str, segments: list[Segment]) -> str: ...
    @abstractmethod
    def path_text(self, root: str, segments: list[Segment]) -> str:
        """A JSON path with no wildcard, read as text (strings unquoted)."""

    @abstractmethod
    def list_of(self, one: str) -> str: ...
    @abstractmethod
    def list_first(self, lst: str) -> str: ...
    @abstractmethod
    def list_last(self, lst: str) -> str: ...
    @abstractmethod
    def list_at(self, lst: str, index_sql: str) -> str: ...
    @abstractmethod
    def list_len(self, lst: str) -> str: ...
    @abstractmethod
    def list_filter(self, lst: str, var: str, cond: str) -> str: ...
    @abstractmethod
    def list_map_text(self, lst: str, var: str) -> str: ...
    @abstractmethod
    def list_navigate(self, lst: str, segments: list[Segment]) -> str: ...
    @abstractmethod
    def generic_member(self, lst: str, name: str) -> str:
        """Element `name` of every item, whether it is a list or a single value (types the model does not know)."""

    @abstractmethod
    def list_concat(self, a: str, b: str) -> str: ...
    @abstractmethod
    def list_join(self, lst: str, sep: str) -> str: ...
    @abstractmethod
    def list_native(self, lst: str, var: str, native: str) -> str:
        """A native SQL array whose elements are `native` (an expression in `var`, one JSON element)."""

    @abstractmethod
    def json_to(self, one: str, kind: str) -> str:
        """A JSON value as a native SQL value of kind string|boolean|integer|decimal."""

    @abstractmethod
    def to_json(self, native: str) -> str: ...
    @abstractmethod
    def json_type_is(self, one: str, json_type: str) -> str:
        """SQL boolean: the JSON value is of JSON type object|array|string|number|boolean."""

    @abstractmethod
    def unnest(self, lst: str, alias: str, or_null: bool, *, numbered: bool = True, top: bool = False) -> str:
        """A join clause giving `element(alias)` and `position(alias)` (0-based) for each element of `lst`.

        `top`: the list depends on the resource row alone (not on another unnest), so it may be computed under the
        joins."""

    @abstractmethod
    def unnest_from(self, lst: str, alias: str) -> str:
        """A FROM item giving `alias.e` (element) and `alias.n` (1-based position) for each element of a list."""

    @abstractmethod
    def int_array(self, item: str) -> str: ...
    @abstractmethod
    def int_array_append(self, array: str, item: str) -> str: ...

    @abstractmethod
    def json_text(self, one: str) -> str:
        """A JSON value as text: strings unquoted, objects and arrays as JSON."""

    @abstractmethod
    def last_day_of_month(self, year_month: str) -> str:
        """'YYYY-MM' text → the month's last day as 'YYYY-MM-DD' text."""

    @abstractmethod
    def json_text_raw(self, one: str) -> str:
        """A JSON value serialised as JSON text (for handing to Python)."""

    @abstractmethod
    def json_array_to_list(self, text: str) -> str:
        """JSON array text → this dialect's collection."""

    def reference_key(self, ref: str, resource_type: str | None) -> str:
        """getReferenceKey(): the id in `Type/id` (or the last segment of another form); with a type, only for it."""
        if resource_type is None:
            return self.regexp_last_segment(ref)
        return f"(CASE WHEN {self.starts_with(ref, resource_type + '/')} THEN split_part({ref}, '/', 2) END)"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"starts_with({text}, {sql_str(prefix)})"

    @abstractmethod
    def regexp_last_segment(self, text: str) -> str: ...
    def raise_if_many(self, lst: str, message: str) -> str:
        return self.list_first(lst)
