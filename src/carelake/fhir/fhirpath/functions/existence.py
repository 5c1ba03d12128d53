"""Existence functions (empty, exists, all, count, distinct, ...) and not()."""

from __future__ import annotations

from carelake.fhir.fhirpath.context import Collection, Context, Fn
from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.operators import contains_item, union
from carelake.fhir.fhirpath.values import to_bool, to_system


@function("empty")
def empty(ctx: Context, focus: Collection) -> Collection:
    return [not focus]


@function("exists", 0, 1, kind="lazy")
def exists(ctx: Context, focus: Collection, criteria: Fn | None = None) -> Collection:
    if criteria is None:
        return [bool(focus)]
    return [any(to_bool(criteria(ctx.focus(item, i)), "exists()") for i, item in enumerate(focus))]


@function("all", 1, kind="lazy")
def all_(ctx: Context, focus: Collection, criteria: Fn) -> Collection:
    return [all(to_bool(criteria(ctx.focus(item, i)), "all()") is True for i, item in enumerate(focus))]


def _booleans(focus: Collection, name: str) -> list[bool]:
    values = [to_system(item) for item in focus]
    for value in values:
        if not isinstance(value, bool):
            raise FhirPathExecutionError(f"{name}() needs booleans")
    return values


@function("allTrue")
def all_true(ctx: Context, focus: Collection) -> Collection:
    return [all(_booleans(focus, "allTrue"))]


@function("anyTrue")
def any_true(ctx: Context, focus: Collection) -> Collection:
    return [any(_booleans(focus, "anyTrue"))]


@function("allFalse")
def all_false(ctx: Context, focus: Collection) -> Collection:
    return [not any(_booleans(focus, "allFalse"))]


@function("anyFalse")
def any_false(ctx: Context, focus: Collection) -> Collection:
    return [not all(_booleans(focus, "anyFalse"))]


@function("subsetOf", 1)
def subset_of(ctx: Context, focus: Collection, other: Collection) -> Collection:
    return [all(contains_item(other, item) for item in focus)]


@function("supersetOf", 1)
def superset_of(ctx: Context, focus: Collection, other: Collection) -> Collection:
    return [all(contains_item(focus, item) for item in other)]


@function("count")
def count(ctx: Context, focus: Collection) -> Collection:
    return [len(focus)]


@function("distinct")
def distinct(ctx: Context, focus: Collection) -> Collection:
    return union(focus, [])


@function("isDistinct")
def is_distinct(ctx: Context, focus: Collection) -> Collection:
    return [len(union(focus, [])) == len(focus)]


@function("not")
def not_(ctx: Context, focus: Collection) -> Collection:
    value = to_bool(focus, "not()")
    return [] if value is None else [not value]
