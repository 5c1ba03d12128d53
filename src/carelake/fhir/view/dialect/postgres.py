"""How PostgreSQL spells the view compiler's JSON operations."""

from __future__ import annotations

from carelake.fhir.view.dialect._base import Dialect, Segment, sql_str

__all__ = ["PostgresDialect"]


class PostgresDialect(Dialect):
    """PostgreSQL `jsonb`: a collection is a JSON array; a view that must fail on a second value calls a session
    function (PL/pgSQL's RAISE), so the view cannot outlive the session as a SQL view."""

    name = "postgres"
    empty_list = "'[]'::jsonb"
    setup = (
        "CREATE OR REPLACE FUNCTION pg_temp.carelake_raise(msg text) RETURNS jsonb LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '%', msg; END $$",
    )
    live_views = False

    def cast(self, native: str, kind: str) -> str:
        if kind == "decimal":
            return f"CAST({native} AS double precision)"
        return super().cast(native, kind)

    def path_list(self, root: str, segments: list[Segment]) -> str:
        return f"jsonb_path_query_array({root}, {sql_str(self.jsonpath(segments))})"

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
        return f"jsonb_path_query_array({lst}, {sql_str(self.jsonpath([('all', ''), *segments]))})"

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
        return f"(jsonb_typeof({one}) = {sql_str(json_type)})"

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
        fail = f"pg_temp.carelake_raise({sql_str(message)})"
        return f"(CASE WHEN jsonb_array_length({lst}) > 1 THEN {fail} ELSE {lst} -> 0 END)"
