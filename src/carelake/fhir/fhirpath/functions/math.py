"""Math functions plus the boundary/precision helpers (lowBoundary, highBoundary, precision, comparable)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from carelake.fhir.fhirpath.context import Collection, Context
from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.operators import units_comparable
from carelake.fhir.fhirpath.quantity import Quantity
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time
from carelake.fhir.fhirpath.temporal_ops import decimal_boundary, temporal_boundary, temporal_precision
from carelake.fhir.fhirpath.values import singleton, to_system


def _number(focus: Collection, name: str) -> Any:
    value = to_system(singleton(focus, f"{name}()"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, Quantity)):
        raise FhirPathExecutionError(f"{name}() needs a number")
    return value


def _plain(focus: Collection, name: str) -> int | Decimal | None:
    value = _number(focus, name)
    if isinstance(value, Quantity):
        raise FhirPathExecutionError(f"{name}() needs a number, not a quantity")
    return value  # type: ignore[no-any-return]


def _int_arg(collection: Collection | None, name: str) -> int | None:
    if collection is None:
        return None
    value = to_system(singleton(collection, f"{name}() argument"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FhirPathExecutionError(f"{name}() needs an integer argument")
    return value


def _tidy(value: Decimal) -> Decimal:
    """Round off the last digits of a transcendental result so 16.log(2) is 4, not 3.999..."""
    with localcontext() as ctx:
        ctx.prec = 24
        result = +value
    return result.normalize() if result == result.to_integral_value() else result


@function("abs")
def abs_(ctx: Context, focus: Collection) -> Collection:
    value = _number(focus, "abs")
    if value is None:
        return []
    if isinstance(value, Quantity):
        return [Quantity(abs(value.value), value.unit)]
    return [abs(value)]


def _integral(name: str, rounding: str) -> None:
    def impl(ctx: Context, focus: Collection) -> Collection:
        value = _plain(focus, name)
        if value is None:
            return []
        if isinstance(value, int):
            return [value]
        return [int(value.to_integral_value(rounding=rounding))]

    function(name)(impl)


_integral("ceiling", ROUND_CEILING)
_integral("floor", ROUND_FLOOR)
_integral("truncate", "ROUND_DOWN")


@function("exp")
def exp(ctx: Context, focus: Collection) -> Collection:
    value = _plain(focus, "exp")
    return [] if value is None else [_tidy(Decimal(value).exp())]


@function("ln")
def ln(ctx: Context, focus: Collection) -> Collection:
    value = _plain(focus, "ln")
    if value is None or value <= 0:
        return []
    return [_tidy(Decimal(value).ln())]


@function("log", 1)
def log(ctx: Context, focus: Collection, base: Collection) -> Collection:
    value, base_value = _plain(focus, "log"), _plain(base, "log")
    if value is None or base_value is None or value <= 0 or base_value <= 0 or base_value == 1:
        return []
    return [_tidy(Decimal(value).ln() / Decimal(base_value).ln())]


@function("power", 1)
def power(ctx: Context, focus: Collection, exponent: Collection) -> Collection:
    value, exp_value = _plain(focus, "power"), _plain(exponent, "power")
    if value is None or exp_value is None:
        return []
    if isinstance(value, int) and isinstance(exp_value, int) and exp_value >= 0:
        return [value**exp_value]
    try:
        result = Decimal(value) ** Decimal(exp_value)
    except (InvalidOperation, ZeroDivisionError):
        return []
    return [] if result.is_nan() else [_tidy(result)]


@function("round", 0, 1)
def round_(ctx: Context, focus: Collection, precision: Collection | None = None) -> Collection:
    value = _plain(focus, "round")
    places = _int_arg(precision, "round") or 0
    if value is None:
        return []
    if places < 0:
        raise FhirPathExecutionError("round() precision must not be negative")
    return [Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)]


@function("sqrt")
def sqrt(ctx: Context, focus: Collection) -> Collection:
    value = _plain(focus, "sqrt")
    if value is None or value < 0:
        return []
    return [_tidy(Decimal(value).sqrt())]


def _boundary(focus: Collection, precision: Collection | None, high: bool) -> Collection:
    name = "highBoundary" if high else "lowBoundary"
    value = to_system(singleton(focus, f"{name}()"))
    digits = _int_arg(precision, name)
    if value is None:
        return []
    result: Any
    if isinstance(value, (Date, DateTime, Time)):
        result = temporal_boundary(value, digits, high)
    elif isinstance(value, Quantity):
        bound = decimal_boundary(value.value, digits, high)
        result = None if bound is None else Quantity(bound, value.unit)
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        result = decimal_boundary(Decimal(value), digits, high)
    else:
        raise FhirPathExecutionError(f"{name}() needs a number, quantity, date or time")
    return [] if result is None else [result]


@function("lowBoundary", 0, 1)
def low_boundary(ctx: Context, focus: Collection, precision: Collection | None = None) -> Collection:
    return _boundary(focus, precision, high=False)


@function("highBoundary", 0, 1)
def high_boundary(ctx: Context, focus: Collection, precision: Collection | None = None) -> Collection:
    return _boundary(focus, precision, high=True)


@function("precision")
def precision(ctx: Context, focus: Collection) -> Collection:
    value = to_system(singleton(focus, "precision()"))
    if value is None:
        return []
    if isinstance(value, (Date, DateTime, Time)):
        return [temporal_precision(value)]
    if isinstance(value, Quantity):
        value = value.value
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return [max(-exponent, 0) if isinstance(exponent, int) else 0]
    if isinstance(value, int) and not isinstance(value, bool):
        return [0]
    raise FhirPathExecutionError("precision() needs a number, date or time")


@function("comparable", 1)
def comparable(ctx: Context, focus: Collection, other: Collection) -> Collection:
    a, b = to_system(singleton(focus, "comparable()")), to_system(singleton(other, "comparable()"))
    if a is None or b is None:
        return []
    if not isinstance(a, Quantity) or not isinstance(b, Quantity):
        raise FhirPathExecutionError("comparable() needs quantities")
    return [units_comparable(a, b)]
