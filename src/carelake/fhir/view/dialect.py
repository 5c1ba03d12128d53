"""How each engine spells the handful of JSON operations a compiled view needs.

A FHIRPath collection is a list of JSON values (DuckDB `JSON[]`) or a JSON array (PostgreSQL `jsonb`); a single
value is JSON or NULL for empty. Navigation is a JSONPath, which both engines evaluate natively: DuckDB flattens
`[*]` wildcards, PostgreSQL's lax mode does the same. Everything else is a small template per engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

__all__ = ["BASE_ROOT", "BASE_TABLE", "DIALECTS", "Dialect", "Segment"]


class ViewUnsupported(Exception):
    """A construct this engine's SQL cannot express."""


# The compiled query reads resources as `r` (columns id, resource); the FROM item is marked so a dialect can wrap it.
BASE_ROOT = "r.resource"
BASE_TABLE = "\x00base\x00"

# A JSONPath step: ("key", name), ("all", "") for [*], ("idx", n) for [n].
Segment = tuple[str, str]


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Dialect(ABC):
    """SQL templates for one engine."""

    name: ClassVar[str]
    empty_list: ClassVar[str]
    # unionAll is a correlated lateral subquery; Spark rejects outer references there.
    lateral_subqueries: ClassVar[bool] = True

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
        return _sql_str(text)

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
        return f"starts_with({text}, {_sql_str(prefix)})"

    @abstractmethod
    def regexp_last_segment(self, text: str) -> str: ...
    def raise_if_many(self, lst: str, message: str) -> str:
        return self.list_first(lst)


class DuckDBDialect(Dialect):
    """DuckDB. Path look-ups on the same JSON are pooled: DuckDB parses a document once for a list of paths
    (`json_extract_string(resource, ['$.id', '$.gender'])`), and its common-subexpression pass evaluates that list
    once per row however many columns index into it. One instance per compiled query (it holds the pool)."""

    name = "duckdb"
    empty_list = "[]::JSON[]"

    def __init__(self) -> None:
        self._pool: dict[tuple[str, str], list[str]] = {}
        self._tokens: dict[str, tuple[str, str, int]] = {}
        # Lists of top-level forEach, computed as columns under the joins (name, expression); aliases whose
        # elements come as structs {e, n}.
        self._hoisted: list[tuple[str, str]] = []
        self._numbered: set[str] = set()

    def _pooled(self, root: str, kind: str, path: str) -> str:
        paths = self._pool.setdefault((root, kind), [])
        if path not in paths:
            paths.append(path)
        token = f"\x00{len(self._tokens)}\x00"
        self._tokens[token] = (root, kind, paths.index(path))
        return token

    def finish(self, sql: str, table: str) -> str:
        """Resolve pooled look-ups. Those on the resource itself are computed once, in a projection under the joins
        (`_t`, `_j` columns), so the unnest in FROM and the columns in SELECT share one parse per row."""
        base: list[str] = []
        for (root, kind), paths in self._pool.items():
            if root == BASE_ROOT:
                fn = "json_extract_string" if kind == "text" else "json_extract"
                base.append(f"{fn}({root}, [{', '.join(_sql_str(p) for p in paths)}]) AS _{kind[0]}")
        hoisted = list(self._hoisted)
        for token, (root, kind, index) in self._tokens.items():
            paths = self._pool[(root, kind)]
            fn = "json_extract_string" if kind == "text" else "json_extract"
            if root == BASE_ROOT:
                expr = f"r._{kind[0]}[{index + 1}]"
            elif len(paths) == 1:
                expr = f"{fn}({root}, {_sql_str(paths[0])})"
            else:
                expr = f"{fn}({root}, [{', '.join(_sql_str(p) for p in paths)}])[{index + 1}]"
            sql = sql.replace(token, expr)
            hoisted = [(name, lst.replace(token, expr)) for name, lst in hoisted]
        source = f"(SELECT r.*, {', '.join(base)} FROM {table} AS r)" if base else table
        if hoisted:
            # The top-level forEach lists, one layer up: they read the parsed `_t`/`_j` columns below.
            lists = ", ".join(f"{lst} AS {name}" for name, lst in hoisted)
            source = f"(SELECT r.*, {lists} FROM {source} AS r)"
        return sql.replace(BASE_TABLE, source)

    def path_list(self, root: str, segments: list[Segment]) -> str:
        first = next(i for i, (k, _) in enumerate(segments) if k == "all")
        if first == 0:
            return f"json_extract({root}, {_sql_str(self.jsonpath(segments))})"
        prefix = self._pooled(root, "json", self.jsonpath(segments[:first]))
        return f"coalesce(json_extract({prefix}, {_sql_str(self.jsonpath(segments[first:]))}), []::JSON[])"

    def path_one(self, root: str, segments: list[Segment]) -> str:
        return self._pooled(root, "json", self.jsonpath(segments))

    def path_text(self, root: str, segments: list[Segment]) -> str:
        return self._pooled(root, "text", self.jsonpath(segments))

    def list_of(self, one: str) -> str:
        return f"(CASE WHEN {one} IS NULL THEN []::JSON[] ELSE [{one}] END)"

    def list_first(self, lst: str) -> str:
        return f"({lst})[1]"

    def list_last(self, lst: str) -> str:
        return f"({lst})[-1]"

    def list_at(self, lst: str, index_sql: str) -> str:
        return f"list_extract({lst}, ({index_sql}) + 1)"

    def list_len(self, lst: str) -> str:
        return f"coalesce(len({lst}), 0)"

    def list_filter(self, lst: str, var: str, cond: str) -> str:
        return f"list_filter({lst}, lambda {var}: coalesce({cond}, false))"

    def list_map_text(self, lst: str, var: str) -> str:
        return f"list_transform({lst}, lambda {var}: {var} ->> '$')"

    def list_navigate(self, lst: str, segments: list[Segment]) -> str:
        return f"json_extract(to_json({lst}), {_sql_str(self.jsonpath([('all', ''), *segments]))})"

    def generic_member(self, lst: str, name: str) -> str:
        one = f"json_extract(g_, {_sql_str(self.jsonpath([('key', name)]))})"
        many = f"json_extract(g_, {_sql_str(self.jsonpath([('key', name), ('all', '')]))})"
        return (
            f"flatten(list_transform({lst}, lambda g_: CASE WHEN json_type({one}) = 'ARRAY' THEN {many} "
            f"WHEN {one} IS NULL THEN []::JSON[] ELSE [{one}] END))"
        )

    def list_concat(self, a: str, b: str) -> str:
        return f"list_concat({a}, {b})"

    def list_join(self, lst: str, sep: str) -> str:
        text = self.list_map_text(lst, "j_")
        return f"(CASE WHEN {self.list_len(lst)} = 0 THEN NULL ELSE array_to_string({text}, {sep}) END)"

    def list_native(self, lst: str, var: str, native: str) -> str:
        return f"list_transform({lst}, lambda {var}: {native})"

    def decimal_from_text(self, text: str) -> str | None:
        # The text joins the row's one pooled parse for text paths; a JSON path of its own would parse the resource
        # again (Observation.valueQuantity.value at 5M: 6.1 s -> 4.3 s for the whole view). yyjson prints a number
        # back in its shortest round-trip form, so the DOUBLE is the same.
        return f"TRY_CAST({text} AS DOUBLE)"

    def json_to(self, one: str, kind: str) -> str:
        if kind == "string":
            return f"({one} ->> '$')"
        if kind == "boolean":
            return f"TRY_CAST({one} AS BOOLEAN)"
        if kind == "integer":
            return f"TRY_CAST({one} AS BIGINT)"
        return f"TRY_CAST({one} AS DOUBLE)"

    def to_json(self, native: str) -> str:
        return f"to_json({native})"

    def json_type_is(self, one: str, json_type: str) -> str:
        names = {"object": "'OBJECT'", "array": "'ARRAY'", "string": "'VARCHAR'", "boolean": "'BOOLEAN'",
                 "number": "'BIGINT', 'UBIGINT', 'DOUBLE'"}  # fmt: skip
        return f"(json_type({one}) IN ({names[json_type]}))"

    def unnest(self, lst: str, alias: str, or_null: bool, *, numbered: bool = True, top: bool = False) -> str:
        if top and not or_null:
            # A list that is a column of the row is unnested as a projection; an expression or WITH ORDINALITY makes
            # DuckDB plan a correlated join instead, 2.5x slower (Observation components at 5M: 2.9 s vs 1.2 s).
            name = f"_l{len(self._hoisted) + 1}"
            if numbered:
                self._numbered.add(alias)
                lst = f"list_transform({lst}, lambda x_h, i_h: {{'e': x_h, 'n': i_h}})"
            self._hoisted.append((name, lst))
            return f"CROSS JOIN unnest(r.{name}) AS {alias}({'s' if numbered else 'e'})"
        join = "LEFT JOIN" if or_null else "CROSS JOIN"
        on = " ON TRUE" if or_null else ""
        if not numbered:
            return f"{join} unnest({lst}) AS {alias}(e){on}"
        return f"{join} unnest({lst}) WITH ORDINALITY AS {alias}(e, n){on}"

    def unnest_from(self, lst: str, alias: str) -> str:
        return f"unnest({lst}) WITH ORDINALITY AS {alias}(e, n)"

    def element(self, alias: str) -> str:
        return f"{alias}.s.e" if alias in self._numbered else f"{alias}.e"

    def position(self, alias: str) -> str:
        return f"({alias}.s.n - 1)" if alias in self._numbered else super().position(alias)

    def int_array(self, item: str) -> str:
        return f"[{item}]"

    def int_array_append(self, array: str, item: str) -> str:
        return f"list_append({array}, {item})"

    def json_text(self, one: str) -> str:
        return f"(CASE WHEN json_type({one}) = 'VARCHAR' THEN {one} ->> '$' ELSE CAST({one} AS VARCHAR) END)"

    def json_text_raw(self, one: str) -> str:
        return f"CAST({one} AS VARCHAR)"

    def json_array_to_list(self, text: str) -> str:
        return f"json_extract(CAST({text} AS JSON), '$[*]')"

    def last_day_of_month(self, year_month: str) -> str:
        return f"CAST(last_day(CAST({year_month} || '-01' AS DATE)) AS VARCHAR)"

    def regexp_last_segment(self, text: str) -> str:
        return f"regexp_extract({text}, '([^/]+)$', 1)"

    def raise_if_many(self, lst: str, message: str) -> str:
        return f"(CASE WHEN len({lst}) > 1 THEN error({_sql_str(message)}) ELSE ({lst})[1] END)"


class PostgresDialect(Dialect):
    name = "postgres"
    empty_list = "'[]'::jsonb"

    def cast(self, native: str, kind: str) -> str:
        if kind == "decimal":
            return f"CAST({native} AS double precision)"
        return super().cast(native, kind)

    def path_list(self, root: str, segments: list[Segment]) -> str:
        return f"jsonb_path_query_array({root}, {_sql_str(self.jsonpath(segments))})"

    def path_one(self, root: str, segments: list[Segment]) -> str:
        keys = ",".join(v for _, v in segments)
        return f"({root} #> '{{{keys}}}')"

    def path_text(self, root: str, segments: list[Segment]) -> str:
        return f"({root} #>> '{{{','.join(v for _, v in segments)}}}')"

    def list_of(self, one: str) -> str:
        return f"(CASE WHEN {one} IS NULL THEN '[]'::jsonb ELSE jsonb_build_array({one}) END)"

    def list_first(self, lst: str) -> str:
        return f"({lst} -> 0)"

    def list_last(self, lst: str) -> str:
        return f"({lst} -> -1)"

    def list_at(self, lst: str, index_sql: str) -> str:
        return f"({lst} -> ({index_sql})::int)"

    def list_len(self, lst: str) -> str:
        return f"coalesce(jsonb_array_length({lst}), 0)"

    def list_filter(self, lst: str, var: str, cond: str) -> str:
        return (
            f"(SELECT coalesce(jsonb_agg({var} ORDER BY {var}_n), '[]'::jsonb) "
            f"FROM jsonb_array_elements({lst}) WITH ORDINALITY AS {var}_t({var}, {var}_n) WHERE {cond})"
        )

    def list_map_text(self, lst: str, var: str) -> str:
        return (
            f"ARRAY(SELECT {var} #>> '{{}}' FROM jsonb_array_elements({lst}) "
            f"WITH ORDINALITY AS {var}_t({var}, {var}_n) ORDER BY {var}_n)"
        )

    def list_navigate(self, lst: str, segments: list[Segment]) -> str:
        return f"jsonb_path_query_array({lst}, {_sql_str(self.jsonpath([('all', ''), *segments]))})"

    def generic_member(self, lst: str, name: str) -> str:
        return self.list_navigate(lst, [("key", name), ("all", "")])

    def list_concat(self, a: str, b: str) -> str:
        return f"({a} || {b})"

    def list_join(self, lst: str, sep: str) -> str:
        return (
            f"(SELECT string_agg(j_ #>> '{{}}', {sep} ORDER BY j_n) "
            f"FROM jsonb_array_elements({lst}) WITH ORDINALITY AS j_t(j_, j_n))"
        )

    def list_native(self, lst: str, var: str, native: str) -> str:
        return (
            f"(CASE WHEN {lst} IS NULL THEN NULL ELSE ARRAY(SELECT {native} FROM jsonb_array_elements({lst}) "
            f"WITH ORDINALITY AS {var}_t({var}, {var}_n) ORDER BY {var}_n) END)"
        )

    def json_to(self, one: str, kind: str) -> str:
        if kind == "string":
            return f"({one} #>> '{{}}')"
        if kind == "boolean":
            return f"(CASE WHEN jsonb_typeof({one}) = 'boolean' THEN ({one})::boolean END)"
        if kind == "integer":
            return f"(CASE WHEN jsonb_typeof({one}) = 'number' THEN ({one})::numeric::bigint END)"
        return f"(CASE WHEN jsonb_typeof({one}) = 'number' THEN ({one})::double precision END)"

    def to_json(self, native: str) -> str:
        return f"to_jsonb({native})"

    def json_type_is(self, one: str, json_type: str) -> str:
        return f"(jsonb_typeof({one}) = {_sql_str(json_type)})"

    def unnest(self, lst: str, alias: str, or_null: bool, *, numbered: bool = True, top: bool = False) -> str:
        join = "LEFT JOIN LATERAL" if or_null else "CROSS JOIN LATERAL"
        on = " ON TRUE" if or_null else ""
        return f"{join} jsonb_array_elements({lst}) WITH ORDINALITY AS {alias}(e, n){on}"

    def unnest_from(self, lst: str, alias: str) -> str:
        return f"jsonb_array_elements({lst}) WITH ORDINALITY AS {alias}(e, n)"

    def int_array(self, item: str) -> str:
        return f"ARRAY[{item}]::bigint[]"

    def int_array_append(self, array: str, item: str) -> str:
        return f"({array} || ({item})::bigint)"

    def json_text(self, one: str) -> str:
        return f"(CASE WHEN jsonb_typeof({one}) = 'string' THEN {one} #>> '{{}}' ELSE CAST({one} AS text) END)"

    def json_text_raw(self, one: str) -> str:
        return f"CAST({one} AS text)"

    def json_array_to_list(self, text: str) -> str:
        return f"CAST({text} AS jsonb)"

    def last_day_of_month(self, year_month: str) -> str:
        return f"to_char(date_trunc('month', ({year_month} || '-01')::date) + interval '1 month - 1 day', 'YYYY-MM-DD')"

    def regexp_last_segment(self, text: str) -> str:
        return f"substring({text} from '([^/]+)$')"

    def raise_if_many(self, lst: str, message: str) -> str:
        fail = f"pg_temp.carelake_raise({_sql_str(message)})"
        return f"(CASE WHEN jsonb_array_length({lst}) > 1 THEN {fail} ELSE {lst} -> 0 END)"


class SparkDialect(Dialect):
    """Spark SQL. A JSON value is a string as `get_json_object` returns it (objects and arrays as JSON text,
    primitives as plain text); a collection is `array<string>` of those. Spark's JSONPath nests the results of
    successive wildcards, so a path is walked one list at a time with `from_json` and `transform`."""

    name = "spark"
    empty_list = "CAST(array() AS array<string>)"
    lateral_subqueries = False

    def literal(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def cast(self, native: str, kind: str) -> str:
        target = {"string": "STRING", "boolean": "BOOLEAN", "integer": "BIGINT", "decimal": "DOUBLE"}[kind]
        return f"CAST({native} AS {target})"

    def strpos(self, text: str, needle: str) -> str:
        return f"instr({text}, {needle})"

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def position(self, alias: str) -> str:
        return f"coalesce({alias}.n, 0)"

    def _array(self, one: str) -> str:
        return f"coalesce(from_json({one}, 'array<string>'), {self.empty_list})"

    def path_list(self, root: str, segments: list[Segment]) -> str:
        chunks: list[list[Segment]] = [[]]
        for seg in segments:
            if seg[0] == "all":
                chunks.append([])
            else:
                chunks[-1].append(seg)
        tail = chunks.pop()
        lst = self._array(f"get_json_object({root}, {self.literal(self.jsonpath(chunks[0]))})")
        for chunk in chunks[1:]:
            path = self.literal(self.jsonpath(chunk))
            lst = f"flatten(transform({lst}, x -> {self._array(f'get_json_object(x, {path})')}))"
        if tail:
            path = self.literal(self.jsonpath(tail))
            lst = f"filter(transform({lst}, x -> get_json_object(x, {path})), v -> v IS NOT NULL)"
        return lst

    def path_one(self, root: str, segments: list[Segment]) -> str:
        return f"get_json_object({root}, {self.literal(self.jsonpath(segments))})"

    def path_text(self, root: str, segments: list[Segment]) -> str:
        return self.path_one(root, segments)

    def list_of(self, one: str) -> str:
        return f"(CASE WHEN {one} IS NULL THEN {self.empty_list} ELSE array({one}) END)"

    def list_first(self, lst: str) -> str:
        return f"try_element_at({lst}, 1)"

    def list_last(self, lst: str) -> str:
        return f"try_element_at({lst}, -1)"

    def list_at(self, lst: str, index_sql: str) -> str:
        return f"try_element_at({lst}, CAST(({index_sql}) + 1 AS INT))"

    def list_len(self, lst: str) -> str:
        return f"coalesce(size({lst}), 0)"

    def list_filter(self, lst: str, var: str, cond: str) -> str:
        return f"filter({lst}, {var} -> coalesce({cond}, false))"

    def list_map_text(self, lst: str, var: str) -> str:
        return lst

    def list_navigate(self, lst: str, segments: list[Segment]) -> str:
        out = lst
        keys: list[Segment] = []
        for seg in segments:
            if seg[0] == "all":
                path = self.literal(self.jsonpath(keys))
                out = f"flatten(transform({out}, x -> {self._array(f'get_json_object(x, {path})')}))"
                keys = []
            else:
                keys.append(seg)
        if keys:
            path = self.literal(self.jsonpath(keys))
            out = f"filter(transform({out}, x -> get_json_object(x, {path})), v -> v IS NOT NULL)"
        return out

    def generic_member(self, lst: str, name: str) -> str:
        one = f"get_json_object(g, {self.literal(self.jsonpath([('key', name)]))})"
        return (
            f"flatten(transform({lst}, g -> CASE WHEN {one} IS NULL THEN {self.empty_list} "
            f"WHEN substr(ltrim({one}), 1, 1) = '[' THEN {self._array(one)} ELSE array({one}) END))"
        )

    def list_concat(self, a: str, b: str) -> str:
        return f"concat({a}, {b})"

    def list_join(self, lst: str, sep: str) -> str:
        return f"(CASE WHEN {self.list_len(lst)} = 0 THEN NULL ELSE array_join({lst}, {sep}) END)"

    def list_native(self, lst: str, var: str, native: str) -> str:
        return f"transform({lst}, {var} -> {native})"

    def json_to(self, one: str, kind: str) -> str:
        if kind == "string":
            return one
        target = {"boolean": "BOOLEAN", "integer": "BIGINT", "decimal": "DOUBLE"}[kind]
        return f"try_cast({one} AS {target})"

    def to_json(self, native: str) -> str:
        return f"CAST({native} AS STRING)"

    def json_type_is(self, one: str, json_type: str) -> str:
        raise ViewUnsupported("JSON type tests on Spark")

    def unnest(self, lst: str, alias: str, or_null: bool, *, numbered: bool = True, top: bool = False) -> str:
        outer = "OUTER " if or_null else ""
        return f"LATERAL VIEW {outer}posexplode({lst}) {alias} AS n, e"

    def unnest_from(self, lst: str, alias: str) -> str:
        raise ViewUnsupported("repeat on Spark (it needs a recursive CTE)")

    def int_array(self, item: str) -> str:
        return f"array({item})"

    def int_array_append(self, array: str, item: str) -> str:
        return f"concat({array}, array({item}))"

    def json_text(self, one: str) -> str:
        return one

    def json_text_raw(self, one: str) -> str:
        return one

    def json_array_to_list(self, text: str) -> str:
        return self._array(text)

    def last_day_of_month(self, year_month: str) -> str:
        return f"date_format(last_day(to_date(concat({year_month}, '-01'))), 'yyyy-MM-dd')"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"startswith({text}, {self.literal(prefix)})"

    def regexp_last_segment(self, text: str) -> str:
        return f"regexp_extract({text}, '([^/]+)$', 1)"

    def raise_if_many(self, lst: str, message: str) -> str:
        fail = f"raise_error({self.literal(message)})"
        return f"(CASE WHEN size({lst}) > 1 THEN {fail} ELSE try_element_at({lst}, 1) END)"


DIALECTS: dict[str, type[Dialect]] = {"duckdb": DuckDBDialect, "postgres": PostgresDialect, "spark": SparkDialect}
