"""A ViewDefinition's select tree → one SQL query over the raw FHIR store.

forEach and forEachOrNull become lateral unnest joins (so nested selects are plain joins and the engine sees one
flat query), unionAll becomes a lateral UNION ALL subquery, repeat a recursive CTE. Columns come out typed: the
declared `type`, or the type the R4 model gives the path.
"""

from __future__ import annotations

import re
from dataclasses import replace

from carelake.fhir.model import r4
from carelake.fhir.view.definition import ViewColumn, ViewDefinition, ViewError, ViewSelect
from carelake.fhir.view.dialect import BASE_ROOT, BASE_TABLE, Dialect, ViewUnsupported
from carelake.fhir.view.expr import Ctx, ExprCompiler, Val, native_kind

__all__ = ["compile_sql"]


class _SelectCompiler:
    def __init__(self, view: ViewDefinition, dialect: Dialect, fallback: str | None) -> None:
        self.view = view
        self.d = dialect
        self.x = ExprCompiler(dialect, fallback)
        self.aliases = 0

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"{prefix}{self.aliases}"

    def select(self, sel: ViewSelect, ctx: Ctx, joins: list[str], *, top: bool = False) -> list[tuple[str, str]]:
        """Columns of `sel`, adding its joins; `top`: `joins` is the query's own list and ctx is the resource."""
        if sel.for_each is not None:
            v = self.x.compile_path(sel.for_each.node, sel.for_each.text, ctx, "forEach")
            a = self.alias("f")
            numbered = _mentions_row_index(sel)
            joins.append(self.d.unnest(self.x.as_list(v), a, sel.or_null, numbered=numbered, top=top))
            element = Val(self.d.element(a), "json", v.ftype, False, root=self.d.element(a))
            ctx = replace(ctx, this=element, row_index=self.d.position(a) if numbered else "0")
        if sel.repeat:
            ctx = self.repeat(sel, ctx, joins)
        cols = [(c.name, self.column(c, ctx)) for c in sel.columns]
        for child in sel.selects:
            cols += self.select(child, ctx, joins, top=top and sel.for_each is None and not sel.repeat)
        if sel.union_all:
            if not self.d.lateral_subqueries:
                raise ViewUnsupported(f"unionAll on {self.d.name}")
            a = self.alias("u")
            branches = []
            for branch in sel.union_all:
                inner: list[str] = []
                bcols = self.select(branch, ctx, inner)
                one = self.alias("one")
                items = ", ".join(f"{sql} AS {self.d.ident(name)}" for name, sql in bcols)
                branches.append(f"SELECT {items} FROM (SELECT 1 AS x) AS {one} {' '.join(inner)}")
            joins.append(f"CROSS JOIN LATERAL ({' UNION ALL '.join(branches)}) AS {a}")
            cols += [(n, f"{a}.{self.d.ident(n)}") for n in sel.union_all[0].column_names()]
        return cols

    def repeat(self, sel: ViewSelect, ctx: Ctx, joins: list[str]) -> Ctx:
        """Every element reachable by applying the repeat paths again and again, depth-first, as rows.

        Each row carries its path of positions, so %rowIndex is the element's place in a depth-first walk.
        """
        rt, a, t, t2 = self.alias("rt"), self.alias("r"), self.alias("s"), self.alias("s")
        found = [self.x.compile(p.node, ctx) for p in sel.repeat]
        ftype = next((v.ftype for v in found if v.ftype is not None), None)
        inner = replace(ctx, this=Val(f"{rt}.e", "json", ftype, False, root=f"{rt}.e"))
        again = [self.x.compile(p.node, inner) for p in sel.repeat]
        seed_list = self._concat([self.x.as_list(v) for v in found])
        step_list = self._concat([self.x.as_list(v) for v in again])
        seed = f"SELECT {t}.e, {self.d.int_array(f'{t}.n')} FROM {self.d.unnest_from(seed_list, t)}"
        step = (
            f"SELECT {t2}.e, {self.d.int_array_append(f'{rt}.k', f'{t2}.n')} "
            f"FROM {rt}, {self.d.unnest_from(step_list, t2)}"
        )
        body = f"WITH RECURSIVE {rt}(e, k) AS ({seed} UNION ALL {step})"
        joins.append(f"CROSS JOIN LATERAL ({body} SELECT e, row_number() OVER (ORDER BY k) - 1 AS i FROM {rt}) AS {a}")
        return replace(ctx, this=Val(f"{a}.e", "json", ftype, False, root=f"{a}.e"), row_index=f"{a}.i")

    def _concat(self, lists: list[str]) -> str:
        out = lists[0]
        for other in lists[1:]:
            out = self.d.list_concat(out, other)
        return out

    def column(self, c: ViewColumn, ctx: Ctx) -> str:
        v = self.x.compile_path(c.path.node, c.path.text, ctx, f"{c.where} ({c.name})")
        kind = _kind_of(c.type) if c.type else native_kind(v.ftype)
        if c.collection:
            var = f"c{self.alias('')}"
            element = self.d.json_to(var, kind) if kind else self.d.json_to(var, "string")
            return self.d.list_native(self.x.as_list(v), var, element)
        if v.many and c.collection is False:
            raise ViewError(
                f"{c.where} ({c.name}): path {c.path.text!r} can return more than one value",
                hint='set "collection": true, or narrow the path (first(), where(...), an index)',
            )
        if v.rep == "sql" and v.root is None and v.choice is None:
            return self.x.as_native(v, kind) if kind else v.sql
        if not v.many:
            return self.x.as_native(v, kind) if kind else self.d.json_text(self.x.as_one(v))
        one = self.d.raise_if_many(self.x.as_list(v), f"column {c.name}: more than one value")
        return self.d.json_to(one, kind) if kind else self.d.json_text(one)


def _has_key(dialect: Dialect, resource: str, sel: ViewSelect) -> str | None:
    """A text test that skips resources a top-level forEach gives no rows for, before any JSON is parsed.

    A top-level forEach over `component...` yields nothing, and so the whole resource yields no rows, unless the
    resource's JSON has a "component" key. Testing the text is far cheaper than parsing it; a resource that
    spells keys with \\u escapes is let through to be parsed.
    """
    if sel.for_each is None or sel.or_null:
        return None
    m = re.match(r"([A-Za-z][A-Za-z0-9]*)(?![A-Za-z0-9(])", sel.for_each.text.strip())
    info = r4().elements(resource).get(m.group(1)) if m else None
    if m is None or info is None or info.choice is not None:
        return None
    raw = dialect.json_text_raw(BASE_ROOT)
    key = dialect.literal(f'"{m.group(1)}"')
    return f"({dialect.strpos(raw, key)} > 0 OR {dialect.strpos(raw, dialect.literal(chr(92) + 'u'))} > 0)"


def _mentions_row_index(sel: ViewSelect) -> bool:
    """Whether %rowIndex is used under this select (numbering rows costs a little, so only when asked)."""
    texts = [c.path.text for c in sel.columns]
    texts += [e.text for e in sel.repeat]
    return any("rowIndex" in t for t in texts) or any(_mentions_row_index(s) for s in sel.selects + sel.union_all)


def _kind_of(fhir_type: str) -> str | None:
    return native_kind(fhir_type) or ("string" if fhir_type[:1].islower() else None)


def compile_sql(view: ViewDefinition, dialect: Dialect, table: str, *, fallback: str | None = None) -> str:
    """The whole view as one SQL query in `dialect`, reading raw resources from `table` (id, resource).

    `fallback` is the SQL name of the Python FHIRPath function, where the engine has one.
    """
    try:
        return _compile(view, dialect, table, fallback)
    except ViewUnsupported as e:
        raise ViewError(f"{e} is not supported", hint="run this view on DuckDB or PostgreSQL") from e


def _compile(view: ViewDefinition, dialect: Dialect, table: str, fallback: str | None) -> str:
    sc = _SelectCompiler(view, dialect, fallback)
    root = Val("r.resource", "json", view.resource, False, root="r.resource")
    ctx = Ctx(root, "r.id", "0", view.constants, view.resource, root)
    joins: list[str] = []
    cols: list[tuple[str, str]] = []
    for sel in view.select:
        cols += sc.select(sel, ctx, joins, top=True)
    # Text tests go under the projection that parses each row, so rows they drop are never parsed.
    keys = [c for c in (_has_key(dialect, view.resource, sel) for sel in view.select) if c is not None]
    if keys:
        table = f"(SELECT * FROM {table} AS r WHERE {' AND '.join(keys)})"
    conditions = []
    for i, w in enumerate(view.where):
        v = sc.x.compile_path(w.node, w.text, ctx, f"where[{i}]")
        if v.ftype is not None and v.ftype != "boolean":
            raise ViewError(f"where[{i}]: path {w.text!r} gives {v.ftype}, not a boolean")
        conditions.append(f"coalesce({sc.x.as_bool(v)}, false)")
    items = ",\n  ".join(f"{sql} AS {dialect.ident(name)}" for name, sql in cols)
    query = f"SELECT\n  {items}\nFROM {BASE_TABLE} AS r\n" + "\n".join(joins)
    if conditions:
        query += "\nWHERE " + " AND ".join(conditions)
    return dialect.finish(query, table)
