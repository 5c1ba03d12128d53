"""FHIRPath → SQL, statically typed with the R4 model.

Each expression compiles to a `Val`: SQL text plus what it holds (a JSON value, a list of JSON values, or a native
SQL value), its FHIR type when known, and whether it may hold more than one item. Pure navigation stays a JSONPath
until it is used, so `code.coding` becomes a single `json_extract(resource, '$.code.coding[*]')` and
`name.first().family` becomes `'$.name[0].family'`: the same SQL a person would write by hand.
What SQL cannot express raises `Unsupported`, and the caller evaluates that expression in Python instead.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal as TypingLiteral

from carelake.fhir.fhirpath import ast
from carelake.fhir.model import r4
from carelake.fhir.view.definition import Constant, ViewError
from carelake.fhir.view.dialect import Dialect, Segment

__all__ = ["Ctx", "ExprCompiler", "Unsupported", "Val", "native_kind"]

Rep = TypingLiteral["json", "list", "sql"]
_STRINGISH = {"string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "xhtml",
              "base64Binary", "date", "dateTime", "instant", "time"}  # fmt: skip
_INTEGER = {"integer", "unsignedInt", "positiveInt", "integer64"}


class Unsupported(Exception):
    """This expression has no SQL translation here; evaluate it in Python."""


def native_kind(ftype: str | None) -> str | None:
    """The native SQL kind (string, boolean, integer, decimal) a FHIR type is read as; None for complex types."""
    if ftype is None:
        return None
    if ftype in _STRINGISH:
        return "string"
    if ftype == "boolean":
        return "boolean"
    if ftype in _INTEGER:
        return "integer"
    if ftype == "decimal":
        return "decimal"
    return None


@dataclass(frozen=True)
class Val:
    """A compiled expression: see the module docstring."""

    sql: str
    rep: Rep
    ftype: str | None
    many: bool
    root: str | None = None
    segs: tuple[Segment, ...] = ()
    choice: tuple[str, Val] | None = None


@dataclass
class Ctx:
    """What an expression is evaluated against: $this, the resource key, %rowIndex, the view's constants."""

    this: Val
    resource_key: str
    row_index: str
    constants: dict[str, Constant]
    resource_type: str
    root: Val
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


_EMPTY = Val("NULL", "sql", None, False)


class ExprCompiler:
    """Compiles FHIRPath ASTs for one dialect; `fallback` names the SQL function that runs FHIRPath in Python."""

    def __init__(self, dialect: Dialect, fallback: str | None = None) -> None:
        self.d = dialect
        self.model = r4()
        self.fallback = fallback
        self.fallbacks_used: list[str] = []

    def compile_path(self, node: ast.Node, text: str, ctx: Ctx, where: str) -> Val:
        """Compile one path of the view; what SQL cannot express is evaluated in Python, this path only."""
        try:
            return self.compile(node, ctx)
        except Unsupported as e:
            if self.fallback is None:
                raise ViewError(
                    f"{where}: {e} has no SQL translation on {self.d.name}, and this engine cannot run Python",
                    hint="run this view on DuckDB, where such paths are evaluated in Python",
                ) from e
            self.fallbacks_used.append(text)
            this = self.d.json_text_raw(self.as_one(ctx.this))
            variables = {
                name: (float(c.value) if isinstance(c.value, Decimal) else c.value) for name, c in ctx.constants.items()
            }
            call = f"{self.fallback}({this}, {self.d.literal(text)}, {self.d.literal(json.dumps(variables))})"
            return Val(self.d.json_array_to_list(call), "list", None, True)

    # -- representations ---------------------------------------------------------------------------
    def as_list(self, v: Val) -> str:
        if _is_empty(v):
            return self.d.empty_list
        if v.root is not None:
            if any(k == "all" for k, _ in v.segs):
                return self.d.path_list(v.root, list(v.segs))
            return self.d.list_of(self.d.path_one(v.root, list(v.segs)) if v.segs else v.root)
        if v.choice is not None:
            return self.d.list_of(self.as_one(v))
        if v.rep == "list":
            return v.sql
        if v.rep == "json":
            return self.d.list_of(v.sql)
        return self.d.list_of(self.d.to_json(v.sql))

    def as_one(self, v: Val) -> str:
        """A single JSON value (the first, if there could be several)."""
        if v.choice is not None:
            group, owner = v.choice
            options = [self.as_one(self.member(owner, e.name)) for e in self.model.choices(owner.ftype or "", group)]
            return f"coalesce({', '.join(options)})" if options else "NULL"
        if v.root is not None:
            alls = [i for i, (k, _) in enumerate(v.segs) if k == "all"]
            if not alls:
                return self.d.path_one(v.root, list(v.segs)) if v.segs else v.root
            if alls == [len(v.segs) - 1]:
                return self.d.path_one(v.root, [*v.segs[:-1], ("idx", "0")])
            return self.d.list_first(self.d.path_list(v.root, list(v.segs)))
        if v.rep == "list":
            return self.d.list_first(v.sql)
        if v.rep == "json":
            return v.sql
        return self.d.to_json(v.sql)

    def as_native(self, v: Val, kind: str) -> str:
        if kind in ("string", "decimal") and v.root is not None and v.segs and v.choice is None:
            alls = [i for i, (k, _) in enumerate(v.segs) if k == "all"]
            if not alls or alls == [len(v.segs) - 1]:
                segs = list(v.segs) if not alls else [*v.segs[:-1], ("idx", "0")]
                if kind == "string":
                    return self.d.path_text(v.root, segs)
                if (number := self.d.decimal_from_text(self.d.path_text(v.root, segs))) is not None:
                    return number
        if v.rep == "sql" and v.root is None and v.choice is None:
            if v.sql == "NULL" or native_kind(v.ftype) == kind:
                return v.sql
            return self.cast(v.sql, kind)
        return self.d.json_to(self.as_one(v), kind)

    def cast(self, native: str, kind: str) -> str:
        return self.d.cast(native, kind)

    def as_bool(self, v: Val) -> str:
        return self.as_native(v, "boolean")

    def exists(self, v: Val) -> str:
        if v.rep == "sql" and v.root is None and v.choice is None:
            return f"({v.sql} IS NOT NULL)"
        if not v.many:
            return f"({self.as_one(v)} IS NOT NULL)"
        return f"({self.d.list_len(self.as_list(v))} > 0)"

    # -- navigation --------------------------------------------------------------------------------
    def member(self, v: Val, name: str) -> Val:
        if _is_empty(v):
            return _EMPTY
        if v.choice is not None:
            v = Val(self.as_one(v), "json", None, v.many)
        info = self.model.element(v.ftype, name) if v.ftype else None
        if info is None and v.ftype and self.model.knows(v.ftype):
            if self.model.choices(v.ftype, name):
                return Val("NULL", "json", None, v.many, choice=(name, v))
            return _EMPTY  # FHIR has no such element here: empty, as FHIRPath says
        step: list[Segment] = [("key", name)]
        if info is None or info.array:
            step.append(("all", ""))
        many = v.many or info is None or info.array
        ftype = info.type if info else None
        if info is None and not (v.root is not None or v.rep in ("json", "list")):
            raise Unsupported(f"navigation .{name} from a computed value")
        if info is None:
            # Unknown type: the element may be a list or a single value; both engines' wildcard must cope.
            return Val(self.d.generic_member(self.as_list(v), name), "list", None, True)
        if v.root is not None:
            return Val("", "json", ftype, many, root=v.root, segs=(*v.segs, *step))
        if v.rep == "json":
            return Val("", "json", ftype, many, root=v.sql, segs=tuple(step))
        if v.rep == "list":
            return Val(self.d.list_navigate(v.sql, step), "list", ftype, True)
        raise Unsupported(f"navigation .{name} from a primitive")

    # -- entry point -------------------------------------------------------------------------------
    def compile(self, node: ast.Node, ctx: Ctx) -> Val:
        method = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:
            raise Unsupported(type(node).__name__)
        result: Val = method(node, ctx)
        return result

    def _literal(self, node: ast.Literal, ctx: Ctx) -> Val:
        t, value = node.type, node.value
        if t == "null":
            return _EMPTY
        if t == "boolean":
            return Val("TRUE" if value else "FALSE", "sql", "boolean", False)
        if t in ("integer", "long"):
            return Val(str(value), "sql", "integer", False)
        if t == "decimal":
            return Val(self.cast(str(value), "decimal"), "sql", "decimal", False)
        if t in ("string", "date", "dateTime", "time"):
            return Val(self.d.literal(str(value)), "sql", "string" if t == "string" else t, False)
        raise Unsupported(f"{t} literal")

    def _external(self, node: ast.External, ctx: Ctx) -> Val:
        if node.name == "rowIndex":
            return Val(ctx.row_index, "sql", "integer", False)
        if node.name in ("resource", "rootResource"):
            return ctx.root
        const = ctx.constants.get(node.name)
        if const is None:
            raise ViewError(f"%{node.name} is not defined", hint="add it to the ViewDefinition's constant list")
        value, ftype = const.value, const.type
        if isinstance(value, bool):
            return Val("TRUE" if value else "FALSE", "sql", "boolean", False)
        if isinstance(value, int):
            return Val(str(value), "sql", "integer", False)
        if isinstance(value, (float, Decimal)):
            return Val(self.cast(str(value), "decimal"), "sql", "decimal", False)
        if isinstance(value, str):
            return Val(self.d.literal(value), "sql", ftype if native_kind(ftype) == "string" else "string", False)
        raise Unsupported(f"constant of type {ftype}")

    def _this(self, node: ast.This, ctx: Ctx) -> Val:
        return ctx.this

    def _identifier(self, node: ast.Identifier, ctx: Ctx) -> Val:
        if node.name == ctx.resource_type and ctx.this is ctx.root:
            return ctx.root
        return self.member(ctx.this, node.name)

    def _member(self, node: ast.Member, ctx: Ctx) -> Val:
        return self.member(self.compile(node.target, ctx), node.name)

    def _indexer(self, node: ast.Indexer, ctx: Ctx) -> Val:
        target = self.compile(node.target, ctx)
        index = self.compile(node.index, ctx)
        if index.rep == "sql" and index.sql.isdigit() and target.root is not None:
            alls = [i for i, (k, _) in enumerate(target.segs) if k == "all"]
            if alls == [len(target.segs) - 1]:
                return replace(target, segs=(*target.segs[:-1], ("idx", index.sql)), many=False)
        return Val(self.d.list_at(self.as_list(target), self.as_native(index, "integer")), "json", target.ftype, False)

    def _unary(self, node: ast.Unary, ctx: Ctx) -> Val:
        v = self.compile(node.operand, ctx)
        kind = native_kind(v.ftype) or "decimal"
        sign = "-" if node.op == "-" else "+"
        return Val(f"({sign}{self.as_native(v, kind)})", "sql", v.ftype, False)

    def _typeop(self, node: ast.TypeOp, ctx: Ctx) -> Val:
        v = self.of_type(self.compile(node.operand, ctx), node.type.name)
        if node.op == "as":
            return v
        return Val(self.exists(v), "sql", "boolean", False)

    # -- functions ---------------------------------------------------------------------------------
    def _function(self, node: ast.Function, ctx: Ctx) -> Val:
        name = node.name
        target = self.compile(node.target, ctx) if node.target is not None else ctx.this
        args = node.args
        if name == "getResourceKey":
            return Val(ctx.resource_key, "sql", "string", False)
        if name == "getReferenceKey":
            ref = self.as_native(self.member(target, "reference"), "string")
            return Val(self.d.reference_key(ref, _type_name(args[0]) if args else None), "sql", "string", False)
        if name == "ofType":
            return self.of_type(target, _type_name(args[0]))
        if name in ("first", "single"):
            if target.root is not None and not target.many:
                return target
            v = self.compile(ast.Indexer(node.target or ast.This(), ast.Literal(0, "integer")), ctx)
            return v
        if name == "last":
            return Val(self.d.list_last(self.as_list(target)), "json", target.ftype, False)
        if name == "exists":
            if args:
                target = self.where(target, args[0], ctx)
            return Val(self.exists(target), "sql", "boolean", False)
        if name == "empty":
            return Val(f"(NOT {self.exists(target)})", "sql", "boolean", False)
        if name == "count":
            return Val(self.d.list_len(self.as_list(target)), "sql", "integer", False)
        if name == "not":
            return Val(f"(NOT {self.as_bool(target)})", "sql", "boolean", False)
        if name == "where":
            return self.where(target, args[0], ctx)
        if name == "extension":
            url = self.compile(args[0], ctx)
            ext = self.member(target, "extension")
            sub = ast.Binary("=", ast.Identifier("url"), ast.Literal("__url__", "string"))
            filtered = self.where(ext, sub, ctx, url_sql=url.sql)
            return filtered
        if name == "join":
            sep = self.as_native(self.compile(args[0], ctx), "string") if args else self.d.literal("")
            return Val(self.d.list_join(self.as_list(target), sep), "sql", "string", False)
        if name in ("lowBoundary", "highBoundary"):
            return self.boundary(target, low=name == "lowBoundary")
        if name == "hasValue":
            return Val(self.exists(target), "sql", "boolean", False)
        raise Unsupported(f"function {name}()")

    def boundary(self, v: Val, *, low: bool) -> Val:
        """lowBoundary()/highBoundary(): the range a value of limited precision stands for, on its JSON text."""
        kind = native_kind(v.ftype)
        t = self.as_native(v, "string")
        if kind in ("decimal", "integer"):
            dot = self.d.strpos(t, "'.'")
            digits = f"(CASE WHEN {dot} > 0 THEN length({t}) - {dot} ELSE 0 END)"
            half = f"(0.5 * power(10.0, -({digits} + 0)))"
            sql = f"({self.d.cast(t, 'decimal')} {'-' if low else '+'} {half})"
            return Val(sql, "sql", "decimal", False)
        if v.ftype == "date":
            day = self._day(t, low)
            return Val(day, "sql", "date", False)
        if v.ftype in ("dateTime", "instant"):
            day = self._day(t, low)
            clock, zone = ("T00:00:00.000", "+14:00") if low else ("T23:59:59.999", "-12:00")
            full = f"(CASE WHEN length({t}) = 19 THEN {t} || {self.d.literal(clock[9:] + zone)} ELSE {t} END)"
            sql = f"(CASE WHEN length({t}) <= 10 THEN {day} || {self.d.literal(clock + zone)} ELSE {full} END)"
            return Val(sql, "sql", "dateTime", False)
        if v.ftype == "time":
            tail = ":00:00.000" if low else ":59:59.999"
            sql = (
                f"(CASE WHEN length({t}) = 2 THEN {t} || {self.d.literal(tail)} "
                f"WHEN length({t}) = 5 THEN {t} || {self.d.literal(tail[3:])} "
                f"WHEN length({t}) = 8 THEN {t} || {self.d.literal(tail[6:])} ELSE {t} END)"
            )
            return Val(sql, "sql", "time", False)
        raise Unsupported(f"{'low' if low else 'high'}Boundary() of {v.ftype or 'an untyped value'}")

    def _day(self, t: str, low: bool) -> str:
        """The first or last day a partial date (YYYY, YYYY-MM, YYYY-MM-DD...) stands for."""
        if low:
            return (
                f"(CASE WHEN length({t}) = 4 THEN {t} || '-01-01' WHEN length({t}) = 7 THEN {t} || '-01' "
                f"ELSE substr({t}, 1, 10) END)"
            )
        return (
            f"(CASE WHEN length({t}) = 4 THEN {t} || '-12-31' "
            f"WHEN length({t}) = 7 THEN {self.d.last_day_of_month(t)} ELSE substr({t}, 1, 10) END)"
        )

    def where(self, target: Val, cond: ast.Node, ctx: Ctx, *, url_sql: str | None = None) -> Val:
        var = f"e{next(ctx.counter)}"
        element = Val(var, "json", target.ftype, False, root=var)
        sub = replace(ctx, this=element)
        if url_sql is not None:
            test = f"({self.as_native(self.member(element, 'url'), 'string')} = {url_sql})"
        else:
            test = self.as_bool(self.compile(cond, sub))
        return Val(self.d.list_filter(self.as_list(target), var, test), "list", target.ftype, True)

    def of_type(self, v: Val, type_name: str) -> Val:
        if v.choice is not None:
            group, owner = v.choice
            name = group + type_name[:1].upper() + type_name[1:]
            if self.model.element(owner.ftype or "", name) is None:
                return _EMPTY
            return self.member(owner, name)
        if v.ftype is None:
            return v
        if v.ftype == type_name or self.model.is_subtype(v.ftype, type_name):
            return v
        return _EMPTY

    # -- operators ---------------------------------------------------------------------------------
    def _binary(self, node: ast.Binary, ctx: Ctx) -> Val:
        op = node.op
        left, right = self.compile(node.left, ctx), self.compile(node.right, ctx)
        if op in ("and", "or"):
            return Val(f"({self.as_bool(left)} {op.upper()} {self.as_bool(right)})", "sql", "boolean", False)
        if op == "xor":
            return Val(f"({self.as_bool(left)} <> {self.as_bool(right)})", "sql", "boolean", False)
        if op == "implies":
            a, b = self.as_bool(left), self.as_bool(right)
            sql = f"(CASE WHEN {a} IS FALSE THEN TRUE WHEN {a} IS TRUE THEN {b} WHEN {b} IS TRUE THEN TRUE END)"
            return Val(sql, "sql", "boolean", False)
        if op in ("=", "!=", "<", ">", "<=", ">=", "~", "!~"):
            kind = _compare_kind(left, right)
            a, b = self.as_native(left, kind), self.as_native(right, kind)
            if op in ("~", "!~") and kind == "string":
                a, b = f"lower(trim({a}))", f"lower(trim({b}))"
            sql_op = {"!=": "<>", "~": "=", "!~": "<>"}.get(op, op)
            return Val(f"({a} {sql_op} {b})", "sql", "boolean", False)
        if op in ("+", "-", "*", "/", "div", "mod"):
            if op == "+" and _compare_kind(left, right) == "string":
                return Val(
                    f"({self.as_native(left, 'string')} || {self.as_native(right, 'string')})", "sql", "string", False
                )
            both_int = native_kind(left.ftype) == "integer" and native_kind(right.ftype) == "integer"
            kind = "integer" if both_int and op != "/" else "decimal"
            a, b = self.as_native(left, kind), self.as_native(right, kind)
            if op == "div":
                return Val(f"CAST(trunc({a} / nullif({b}, 0)) AS BIGINT)", "sql", "integer", False)
            if op == "mod":
                return Val(f"({a} % nullif({b}, 0))", "sql", kind, False)
            b = f"nullif({b}, 0)" if op == "/" else b
            return Val(f"({a} {op} {b})", "sql", "integer" if kind == "integer" else "decimal", False)
        if op == "&":
            a, b = self.as_native(left, "string"), self.as_native(right, "string")
            return Val(f"(coalesce({a}, '') || coalesce({b}, ''))", "sql", "string", False)
        if op == "|":
            return Val(self.d.list_concat(self.as_list(left), self.as_list(right)), "list", None, True)
        raise Unsupported(f"operator {op}")


def _is_empty(v: Val) -> bool:
    return v.rep == "sql" and v.sql == "NULL" and v.root is None and v.choice is None


def _compare_kind(left: Val, right: Val) -> str:
    kinds = {native_kind(left.ftype), native_kind(right.ftype)} - {None}
    if "boolean" in kinds:
        return "boolean"
    if kinds and kinds <= {"integer", "decimal"}:
        return "decimal"
    return "string"


def _type_name(node: ast.Node) -> str:
    if isinstance(node, ast.TypeSpecifier):
        return node.name
    if isinstance(node, ast.Identifier):
        return node.name
    raise ViewError("ofType() and getReferenceKey() take a type name")
