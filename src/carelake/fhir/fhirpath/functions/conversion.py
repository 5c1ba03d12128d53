"""Conversion functions: toX() answer the converted value or empty, convertsToX() whether that works."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from carelake.fhir.fhirpath.context import Collection, Context
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.quantity import Quantity, convert_value, format_decimal, normalise_calendar_word
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time, parse_date, parse_datetime, parse_time
from carelake.fhir.fhirpath.values import singleton, to_system

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_QUANTITY = re.compile(r"(?P<value>[+-]?\d+(?:\.\d+)?)\s*(?:'(?P<unit>[^']+)'|(?P<word>[A-Za-z]+))?")


def _num(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def convert_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, Decimal):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    return None


def convert_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def convert_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal("1.0") if value else Decimal("0.0")
    if _num(value):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def convert_string(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, (Date, DateTime, Time, Quantity)):
        return str(value)
    return None


def convert_quantity(value: Any, unit: str | None = None) -> Quantity | None:
    result: Quantity | None = None
    if isinstance(value, Quantity):
        result = value
    elif isinstance(value, bool):
        result = Quantity(Decimal("1.0") if value else Decimal("0.0"), "1")
    elif _num(value):
        result = Quantity(Decimal(value), "1")
    elif isinstance(value, str):
        m = _QUANTITY.fullmatch(value.strip())
        if m:
            if m.group("word"):
                word = normalise_calendar_word(m.group("word"))
                if word is not None:
                    result = Quantity(Decimal(m.group("value")), word)
            else:
                result = Quantity(Decimal(m.group("value")), m.group("unit") or "1")
    if result is None or unit is None or unit == result.unit:
        return result
    converted = convert_value(result.value, result.unit, unit)
    return None if converted is None else Quantity(converted, unit)


def convert_date(value: Any) -> Date | None:
    if isinstance(value, Date):
        return value
    if isinstance(value, DateTime):
        return Date(value.year, value.month, value.day)
    if isinstance(value, str):
        found = parse_date(value)
        if found is None:
            as_datetime = parse_datetime(value)
            return convert_date(as_datetime) if as_datetime is not None else None
        return found
    return None


def convert_datetime(value: Any) -> DateTime | None:
    if isinstance(value, DateTime):
        return value
    if isinstance(value, Date):
        return value.to_datetime()
    if isinstance(value, str):
        return parse_datetime(value)
    return None


def convert_time(value: Any) -> Time | None:
    if isinstance(value, Time):
        return value
    if isinstance(value, str):
        return parse_time(value)
    return None


def _register(name: str, converter: Callable[[Any], Any]) -> None:
    def to_x(ctx: Context, focus: Collection) -> Collection:
        item = singleton(focus, f"to{name}()")
        if item is None:
            return []
        result = converter(to_system(item))
        return [] if result is None else [result]

    def converts_to_x(ctx: Context, focus: Collection) -> Collection:
        item = singleton(focus, f"convertsTo{name}()")
        if item is None:
            return []
        return [converter(to_system(item)) is not None]

    function(f"to{name}")(to_x)
    function(f"convertsTo{name}")(converts_to_x)


for _name, _converter in (
    ("Boolean", convert_boolean),
    ("Integer", convert_integer),
    ("Long", convert_integer),
    ("Decimal", convert_decimal),
    ("String", convert_string),
    ("Date", convert_date),
    ("DateTime", convert_datetime),
    ("Time", convert_time),
):
    _register(_name, _converter)


def _unit_argument(unit: Collection) -> str | None:
    value = to_system(singleton(unit, "unit"))
    return value if isinstance(value, str) else None


@function("toQuantity", 0, 1)
def to_quantity(ctx: Context, focus: Collection, unit: Collection | None = None) -> Collection:
    item = singleton(focus, "toQuantity()")
    if item is None:
        return []
    result = convert_quantity(to_system(item), _unit_argument(unit) if unit is not None else None)
    return [] if result is None else [result]


@function("convertsToQuantity", 0, 1)
def converts_to_quantity(ctx: Context, focus: Collection, unit: Collection | None = None) -> Collection:
    item = singleton(focus, "convertsToQuantity()")
    if item is None:
        return []
    converted = convert_quantity(to_system(item), _unit_argument(unit) if unit is not None else None)
    return [converted is not None]
