"""Type functions: is(), as(), ofType(), type() and the is/as operators."""

from __future__ import annotations

from typing import Any

from carelake.fhir.fhirpath import ast
from carelake.fhir.fhirpath.context import Collection, Context
from carelake.fhir.fhirpath.errors import FhirPathExecutionError, FhirPathSemanticError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.model import Element, is_known_fhir_type, type_name_of
from carelake.fhir.fhirpath.values import is_exact_type, is_type, singleton, system_type_name

SYSTEM_TYPES = frozenset({"Boolean", "String", "Integer", "Long", "Decimal", "Date", "DateTime", "Time", "Quantity"})


def resolve_type(spec: ast.Node) -> tuple[str | None, str]:
    """(namespace, name) of a type argument; unknown types are an execution error (as the suite expects)."""
    if isinstance(spec, ast.Identifier):
        spec = ast.TypeSpecifier(None, spec.name)
    if not isinstance(spec, ast.TypeSpecifier):
        raise FhirPathSemanticError("expected a type name")
    namespace, name = spec.namespace, spec.name
    if namespace == "System":
        known = name in SYSTEM_TYPES
    elif namespace == "FHIR":
        known = is_known_fhir_type(name)
    elif namespace is None:
        known = name in SYSTEM_TYPES or is_known_fhir_type(name)
    else:
        known = False
    if not known and namespace is None:
        raise FhirPathExecutionError(f"unknown type {namespace + '.' if namespace else ''}{name}")
    return namespace, name


def type_is(ctx: Context, focus: Collection, spec: ast.Node) -> Collection:
    item = singleton(focus, "is")
    namespace, name = resolve_type(spec)
    if item is None:
        return []
    return [is_type(item, namespace, name)]


def type_filter_as(ctx: Context, focus: Collection, spec: ast.Node) -> Collection:
    item = singleton(focus, "as")
    namespace, name = resolve_type(spec)
    if item is None:
        return []
    return [item] if is_exact_type(item, namespace, name) else []


@function("is", 1, kind="type")
def is_(ctx: Context, focus: Collection, spec: ast.Node) -> Collection:
    return type_is(ctx, focus, spec)


@function("as", 1, kind="type")
def as_(ctx: Context, focus: Collection, spec: ast.Node) -> Collection:
    return type_filter_as(ctx, focus, spec)


@function("ofType", 1, kind="type")
def of_type(ctx: Context, focus: Collection, spec: ast.Node) -> Collection:
    namespace, name = resolve_type(spec)
    return [item for item in focus if is_exact_type(item, namespace, name)]


def type_info(item: Any) -> Element:
    """A SimpleTypeInfo/ClassInfo-like element with ``namespace`` and ``name``."""
    if type(item) is Element:
        namespace, name = "FHIR", type_name_of(item.type or "Element")
    else:
        namespace, name = "System", system_type_name(item) or "Any"
    return Element({"namespace": namespace, "name": name}, "TypeInfo")


@function("type")
def type_(ctx: Context, focus: Collection) -> Collection:
    return [type_info(item) for item in focus]
