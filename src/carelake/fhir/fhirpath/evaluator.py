"""Compiles the AST into Python closures and runs them.

Compiling once (cached per expression) moves dispatch on node types, function lookup and arity
checks out of the per-resource loop, so evaluating a short path costs a few function calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from carelake.fhir.fhirpath import ast
from carelake.fhir.fhirpath.context import Collection, Context, Fn
from carelake.fhir.fhirpath.errors import FhirPathExecutionError, FhirPathSemanticError
from carelake.fhir.fhirpath.functions import FUNCTIONS
from carelake.fhir.fhirpath.functions.types import type_filter_as, type_is
from carelake.fhir.fhirpath.model import RESOURCE_TYPES, Element, fhir_is_subtype, known_elements
from carelake.fhir.fhirpath.navigation import choice_key, navigate, wrap
from carelake.fhir.fhirpath.operators import (
    arithmetic,
    collection_equal,
    collection_equivalent,
    comparison,
    contains_item,
    negate,
    union,
)
from carelake.fhir.fhirpath.strictness import check_strict
from carelake.fhir.fhirpath.temporal import parse_date, parse_datetime, parse_time
from carelake.fhir.fhirpath.values import singleton, to_bool, to_system

__all__ = ["compile_expression"]

_CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}


@lru_cache(maxsize=4096)
def compile_expression(node: ast.Node, strict: bool = False) -> Fn:
    """A closure evaluating ``node``; semantic errors (unknown function, arity, bad names) raise here."""
    if strict:
        check_strict(node)
    return _compile(node, strict)


def _compile(node: ast.Node, strict: bool) -> Fn:
    handler = _COMPILERS.get(type(node))
    if handler is None:
        raise FhirPathSemanticError(f"unexpected syntax node {type(node).__name__}")
    return handler(node, strict)


def _literal(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Literal)
    value = literal_value(node)
    const: Collection = [] if value is None else [value]
    return lambda ctx: const


def literal_value(node: ast.Literal) -> Any:
    """The System value of a literal (temporal text parsed, invalid dates rejected)."""
    if node.type == "null":
        return None
    if node.type in ("date", "dateTime", "time"):
        text = str(node.value)
        parsed: Any
        if node.type == "date":
            parsed = parse_date(text)
        elif node.type == "dateTime":
            parsed = parse_datetime(text)
        else:
            parsed = parse_time(text)
        if parsed is None:
            raise FhirPathSemanticError(f"invalid {node.type} literal @{text}")
        return parsed
    return node.value


def _check_name(name: str) -> None:
    found = choice_key(name)
    if found is not None:
        raise FhirPathSemanticError(f"{name!r} is not a valid FHIRPath name; use {found[0]}.ofType({found[1]})")


def _identifier(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Identifier)
    name = node.name
    _check_name(name)
    type_like = name[:1].isupper()

    def run(ctx: Context) -> Collection:
        out: Collection = []
        for item in ctx.this:
            if strict and type(item) is Element and not type_like:
                names = known_elements(item.type)
                if names is not None and name not in names:
                    raise FhirPathSemanticError(f"{item.type} has no element {name!r}")
            if (
                type_like
                and type(item) is Element
                and item.type is not None
                and isinstance(item.value, dict)
                and "resourceType" in item.value
                and fhir_is_subtype(item.type, name)
            ):
                out.append(item)
            else:
                navigate(item, name, out)
        if strict and not out and name in RESOURCE_TYPES and ctx.this:
            raise FhirPathSemanticError(f"{name} does not match the type of the context")
        return out

    return run


def _member(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Member)
    target = _compile(node.target, strict)
    name = node.name
    _check_name(name)

    def run(ctx: Context) -> Collection:
        out: Collection = []
        for item in target(ctx):
            navigate(item, name, out)
        return out

    if not strict:
        return run

    def run_strict(ctx: Context) -> Collection:
        out: Collection = []
        for item in target(ctx):
            navigate(item, name, out)
            if type(item) is Element:
                names = known_elements(item.type)
                if names is not None and name not in names:
                    raise FhirPathSemanticError(f"{item.type} has no element {name!r}")
        return out

    return run_strict


def _this(node: ast.Node, strict: bool) -> Fn:
    return lambda ctx: ctx.this


def _index(node: ast.Node, strict: bool) -> Fn:
    return lambda ctx: [] if ctx.index is None else [ctx.index]


def _total(node: ast.Node, strict: bool) -> Fn:
    return lambda ctx: ctx.total or []


def _external(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.External)
    name = node.name

    def run(ctx: Context) -> Collection:
        env = ctx.env
        if name in env.variables:
            return list(env.variables[name])
        if name == "resource":
            return env.resource
        if name == "context":
            return env.context
        if name == "rootResource":
            return env.root_resource
        if name in _CONSTANTS:
            return [_CONSTANTS[name]]
        if name.startswith("vs-"):
            return ["http://hl7.org/fhir/ValueSet/" + name[3:]]
        if name.startswith("ext-"):
            return ["http://hl7.org/fhir/StructureDefinition/" + name[4:]]
        raise FhirPathExecutionError(f"undefined variable %{name}")

    return run


def _function(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Function)
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        raise FhirPathSemanticError(f"unknown function {node.name}()")
    if not spec.min_args <= len(node.args) <= spec.max_args:
        raise FhirPathSemanticError(f"wrong number of arguments for {node.name}(): {len(node.args)}")
    target: Fn = _compile(node.target, strict) if node.target is not None else (lambda ctx: ctx.this)
    impl = spec.impl
    if spec.kind == "type":
        nodes = node.args

        def run_type(ctx: Context) -> Collection:
            return impl(ctx, target(ctx), *nodes)

        return run_type
    if spec.kind == "sort":
        keys = tuple(
            (_compile(arg.operand, strict), True) if isinstance(arg, ast.Unary) and arg.op == "-" else
            (_compile(arg, strict), False)
            for arg in node.args
        )  # fmt: skip
        return lambda ctx: impl(ctx, target(ctx), *keys)
    args = tuple(_compile(arg, strict) for arg in node.args)
    if spec.kind == "lazy":

        def run_lazy(ctx: Context) -> Collection:
            return impl(ctx, target(ctx), *args)

        return run_lazy
    if not args:
        return lambda ctx: impl(ctx, target(ctx))

    def run_eager(ctx: Context) -> Collection:
        focus = target(ctx)
        return impl(ctx, focus, *(arg(ctx) for arg in args))

    return run_eager


def _indexer(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Indexer)
    target = _compile(node.target, strict)
    index = _compile(node.index, strict)

    def run(ctx: Context) -> Collection:
        items = target(ctx)
        position = to_system(singleton(index(ctx), "indexer"))
        if position is None:
            return []
        if not isinstance(position, int) or isinstance(position, bool):
            raise FhirPathExecutionError("index must be an integer")
        return [items[position]] if 0 <= position < len(items) else []

    return run


def _unary(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Unary)
    operand = _compile(node.operand, strict)
    if node.op == "-":
        return lambda ctx: negate(operand(ctx))

    def plus(ctx: Context) -> Collection:
        value = operand(ctx)
        negate(value)  # same type check as unary minus
        return value

    return plus


def _logic(op: str, left: Fn, right: Fn) -> Fn:
    def run(ctx: Context) -> Collection:
        a = to_bool(left(ctx), op)
        if op == "and":
            if a is False:
                return [False]
            b = to_bool(right(ctx), op)
            if b is False:
                return [False]
            return [True] if a and b else []
        if op == "or":
            if a is True:
                return [True]
            b = to_bool(right(ctx), op)
            if b is True:
                return [True]
            return [False] if a is False and b is False else []
        if op == "implies":
            if a is False:
                return [True]
            b = to_bool(right(ctx), op)
            if b is True:
                return [True]
            if a is None:
                return []
            return [] if b is None else [False]
        b = to_bool(right(ctx), op)  # xor
        return [] if a is None or b is None else [a != b]

    return run


def _binary(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.Binary)
    op = node.op
    left = _compile(node.left, strict)
    right = _compile(node.right, strict)
    if op in ("and", "or", "xor", "implies"):
        return _logic(op, left, right)
    if op in ("+", "-", "*", "/", "div", "mod", "&"):
        return lambda ctx: arithmetic(op, left(ctx), right(ctx))
    if op in ("<", "<=", ">", ">="):
        return lambda ctx: comparison(op, left(ctx), right(ctx))
    if op == "|":
        return lambda ctx: union(left(ctx), right(ctx))
    if op in ("=", "!="):
        negated = op == "!="

        def run_equal(ctx: Context) -> Collection:
            result = collection_equal(left(ctx), right(ctx))
            return [] if result is None else [result != negated]

        return run_equal
    if op in ("~", "!~"):
        negated = op == "!~"
        return lambda ctx: [collection_equivalent(left(ctx), right(ctx)) != negated]
    if op in ("in", "contains"):
        item_side, collection_side = (left, right) if op == "in" else (right, left)

        def run_membership(ctx: Context) -> Collection:
            item = singleton(item_side(ctx), op)
            if item is None:
                return []
            return [contains_item(collection_side(ctx), item)]

        return run_membership
    raise FhirPathSemanticError(f"unknown operator {op}")


def _type_op(node: ast.Node, strict: bool) -> Fn:
    assert isinstance(node, ast.TypeOp)
    operand = _compile(node.operand, strict)
    spec = node.type
    if node.op == "is":
        return lambda ctx: type_is(ctx, operand(ctx), spec)
    return lambda ctx: type_filter_as(ctx, operand(ctx), spec)


def _type_specifier(node: ast.Node, strict: bool) -> Fn:
    raise FhirPathSemanticError("a type name is not an expression")


_COMPILERS: dict[type, Callable[[ast.Node, bool], Fn]] = {
    ast.Literal: _literal,
    ast.Identifier: _identifier,
    ast.Member: _member,
    ast.This: _this,
    ast.Index: _index,
    ast.Total: _total,
    ast.External: _external,
    ast.Function: _function,
    ast.Indexer: _indexer,
    ast.Unary: _unary,
    ast.Binary: _binary,
    ast.TypeOp: _type_op,
    ast.TypeSpecifier: _type_specifier,
}


def wrap_input(value: Any) -> Collection:
    """The input collection for a resource (dict), a list of values, or None."""
    if value is None:
        return []
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return [wrap(value)]
