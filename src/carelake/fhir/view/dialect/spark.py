"""How Spark SQL spells the view compiler's JSON operations."""

from __future__ import annotations

from carelake.fhir.view.dialect._base import Dialect, Segment, ViewUnsupported

__all__ = ["SparkDialect"]


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
