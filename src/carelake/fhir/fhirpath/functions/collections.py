"""Filtering, subsetting, combining, tree navigation, aggregate, sort and utility functions."""

from __future__ import annotations

import datetime as _dt
import logging
from functools import cmp_to_key
from typing import Any

from carelake.fhir.fhirpath.context import Collection, Context, Fn
from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.navigation import children as element_children
from carelake.fhir.fhirpath.navigation import descend
from carelake.fhir.fhirpath.operators import contains_item, union
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time
from carelake.fhir.fhirpath.values import compare, singleton, to_bool, to_system

_log = logging.getLogger("carelake.fhir.fhirpath.trace")


@function("where", 1, kind="lazy")
def where(ctx: Context, focus: Collection, criteria: Fn) -> Collection:
    return [item for i, item in enumerate(focus) if to_bool(criteria(ctx.focus(item, i)), "where()") is True]


@function("select", 1, kind="lazy")
def select(ctx: Context, focus: Collection, projection: Fn) -> Collection:
    out: Collection = []
    for i, item in enumerate(focus):
        out.extend(projection(ctx.focus(item, i)))
    return out


@function("repeat", 1, kind="lazy")
def repeat(ctx: Context, focus: Collection, projection: Fn) -> Collection:
    out: Collection = []
    frontier = focus
    while frontier:
        level: Collection = []
        for item in frontier:
            for found in projection(ctx.focus(item)):
                if not contains_item(out, found):
                    out.append(found)
                    level.append(found)
        frontier = level
    return out


def _integer(collection: Collection, name: str) -> int | None:
    value = to_system(singleton(collection, name))
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise FhirPathExecutionError(f"{name}() needs an integer argument")
    return value


@function("first")
def first(ctx: Context, focus: Collection) -> Collection:
    return focus[:1]


@function("last")
def last(ctx: Context, focus: Collection) -> Collection:
    return focus[-1:]


@function("tail")
def tail(ctx: Context, focus: Collection) -> Collection:
    return focus[1:]


@function("skip", 1)
def skip(ctx: Context, focus: Collection, num: Collection) -> Collection:
    n = _integer(num, "skip")
    return [] if n is None else focus[max(n, 0) :]


@function("take", 1)
def take(ctx: Context, focus: Collection, num: Collection) -> Collection:
    n = _integer(num, "take")
    return [] if n is None or n <= 0 else focus[:n]


@function("single")
def single(ctx: Context, focus: Collection) -> Collection:
    if len(focus) > 1:
        raise FhirPathExecutionError("single() on a collection of more than one item")
    return focus


@function("intersect", 1)
def intersect(ctx: Context, focus: Collection, other: Collection) -> Collection:
    out: Collection = []
    for item in focus:
        if contains_item(other, item) and not contains_item(out, item):
            out.append(item)
    return out


@function("exclude", 1)
def exclude(ctx: Context, focus: Collection, other: Collection) -> Collection:
    return [item for item in focus if not contains_item(other, item)]


@function("union", 1)
def union_(ctx: Context, focus: Collection, other: Collection) -> Collection:
    return union(focus, other)


@function("combine", 1)
def combine(ctx: Context, focus: Collection, other: Collection) -> Collection:
    return [*focus, *other]


@function("children")
def children(ctx: Context, focus: Collection) -> Collection:
    out: Collection = []
    for item in focus:
        out.extend(element_children(item))
    return out


@function("descendants")
def descendants(ctx: Context, focus: Collection) -> Collection:
    return descend(focus)


@function("aggregate", 1, 2, kind="lazy")
def aggregate(ctx: Context, focus: Collection, aggregator: Fn, init: Fn | None = None) -> Collection:
    total = init(ctx) if init is not None else []
    for i, item in enumerate(focus):
        total = aggregator(ctx.focus(item, i, total))
    return total


@function("iif", 2, 3, kind="lazy")
def iif(ctx: Context, focus: Collection, criterion: Fn, true_result: Fn, false_result: Fn | None = None) -> Collection:
    if len(focus) > 1:
        raise FhirPathExecutionError("iif() on a collection of more than one item")
    # keep $index/$total: iif() is often used inside select()/aggregate()
    inner = Context(ctx.env, focus[:1], ctx.index, ctx.total) if focus else ctx
    if to_bool(criterion(inner), "iif()") is True:
        return true_result(inner)
    return false_result(inner) if false_result is not None else []


@function("trace", 1, 2, kind="lazy")
def trace(ctx: Context, focus: Collection, name: Fn, projection: Fn | None = None) -> Collection:
    if _log.isEnabledFor(logging.DEBUG):
        shown = focus if projection is None else select(ctx, focus, projection)
        _log.debug("%s: %r", singleton(name(ctx)), shown)
    return focus


@function("sort", 0, 16, kind="sort")
def sort(ctx: Context, focus: Collection, *keys: tuple[Fn, bool]) -> Collection:
    """sort(key, -key, ...): a leading minus on a key sorts that key descending; empty sorts last."""
    if not keys:
        return sorted(focus, key=cmp_to_key(_compare_items))
    rows: list[tuple[list[Any], Any]] = []
    for i, item in enumerate(focus):
        inner = ctx.focus(item, i)
        rows.append(([singleton(key(inner), "sort()") for key, _ in keys], item))
    descending = [desc for _, desc in keys]

    def order(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for x, y, desc in zip(a[0], b[0], descending, strict=True):
            result = _compare_items(x, y)
            if result:
                return -result if desc else result
        return 0

    return [item for _, item in sorted(rows, key=cmp_to_key(order))]


def _compare_items(a: Any, b: Any) -> int:
    if a is None or b is None:
        return 0 if a is b else (1 if a is None else -1)
    return compare(a, b) or 0


@function("now")
def now(ctx: Context, focus: Collection) -> Collection:
    moment = ctx.env.now
    offset = moment.utcoffset() or _dt.timedelta()
    tz = int(offset.total_seconds() // 60)
    return [
        DateTime(
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
            moment.microsecond // 1000, tz,
        )
    ]  # fmt: skip


@function("today")
def today(ctx: Context, focus: Collection) -> Collection:
    moment = ctx.env.now
    return [Date(moment.year, moment.month, moment.day)]


@function("timeOfDay")
def time_of_day(ctx: Context, focus: Collection) -> Collection:
    moment = ctx.env.now
    return [Time(moment.hour, moment.minute, moment.second, moment.microsecond // 1000)]
