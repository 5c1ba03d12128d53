"""Calendar arithmetic and boundaries for temporal values (kept apart from the value classes)."""

from __future__ import annotations

import calendar
import datetime as _dt
from dataclasses import replace
from decimal import Decimal

from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.quantity import Quantity
from carelake.fhir.fhirpath.temporal import Date, DateTime, Temporal, Time

__all__ = ["add_duration", "temporal_boundary", "temporal_precision"]

# Units allowed in date arithmetic: calendar words and the UCUM codes FHIRPath accepts for them.
_ARITH_UNITS = {
    "year": "year", "month": "month", "week": "week", "day": "day", "hour": "hour",
    "minute": "minute", "second": "second", "millisecond": "millisecond",
    "wk": "week", "d": "day", "h": "hour", "min": "minute", "s": "second", "ms": "millisecond",
}  # fmt: skip
_SECONDS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}


def _add_months(year: int, month: int, day: int, months: int) -> tuple[int, int, int]:
    total = year * 12 + (month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    return year, month, min(day, calendar.monthrange(year, month)[1])


def add_duration(value: Temporal, quantity: Quantity, sign: int) -> Temporal:
    """``value + quantity`` (sign 1) or ``value - quantity`` (sign -1); whole units only."""
    unit = _ARITH_UNITS.get(quantity.unit)
    if unit is None:
        raise FhirPathExecutionError(f"cannot add {quantity} to a date/time value")
    amount = int(quantity.value) * sign
    if isinstance(value, Time):
        return _add_time(value, unit, amount)
    is_date = isinstance(value, Date)
    dt_value = value.to_datetime() if isinstance(value, Date) else value
    if unit in ("year", "month"):
        months = amount * 12 if unit == "year" else amount
        year, month, day = _add_months(dt_value.year, dt_value.month or 1, dt_value.day or 1, months)
        result = replace(
            dt_value,
            year=year,
            month=month if dt_value.month is not None else None,
            day=day if dt_value.day is not None else None,
        )
    else:
        if unit == "millisecond":
            delta = _dt.timedelta(milliseconds=amount)
        else:
            delta = _dt.timedelta(seconds=amount * _SECONDS[unit])
        if is_date and unit not in ("week", "day"):
            delta = _dt.timedelta(days=delta.days)
        if dt_value.day is None:
            # only as precise as the value: whole years/months cannot absorb days
            return value
        result = dt_value.with_python(dt_value.to_python() + delta)
    if is_date:
        return Date(result.year, result.month, result.day)
    return result


def _add_time(value: Time, unit: str, amount: int) -> Time:
    if unit in ("year", "month", "week", "day"):
        raise FhirPathExecutionError("cannot add a date duration to a time")
    base = _dt.datetime(2000, 1, 1, value.hour, value.minute or 0, value.second or 0, (value.millisecond or 0) * 1000)
    delta = (
        _dt.timedelta(milliseconds=amount) if unit == "millisecond" else _dt.timedelta(seconds=amount * _SECONDS[unit])
    )
    moved = base + delta
    return Time(
        moved.hour,
        moved.minute if value.minute is not None else None,
        moved.second if value.second is not None else None,
        moved.microsecond // 1000 if value.millisecond is not None else None,
    )


_DATE_DIGITS = {4: 1, 6: 2, 8: 3}
_DATETIME_DIGITS = {4: 1, 6: 2, 8: 3, 10: 4, 12: 5, 14: 6, 17: 7}
_TIME_DIGITS = {2: 1, 4: 2, 6: 3, 9: 4}


def temporal_precision(value: Temporal) -> int:
    """Digits of precision, as ``precision()`` reports them (``@2014`` -> 4, ``@T10:30`` -> 4)."""
    if isinstance(value, Time):
        return {1: 2, 2: 4, 3: 6, 4: 9}[value.precision]
    if isinstance(value, Date):
        return {1: 4, 2: 6, 3: 8}[value.precision]
    return {1: 4, 2: 6, 3: 8, 4: 10, 5: 12, 6: 14, 7: 17}[value.precision]


def temporal_boundary(value: Temporal, digits: int | None, high: bool) -> Temporal | None:
    """lowBoundary/highBoundary: fill the missing parts with their least (or greatest) value."""
    if isinstance(value, Time):
        level = _TIME_DIGITS.get(9 if digits is None else digits)
        if level is None:
            return None
        minute = value.minute if value.minute is not None else (59 if high else 0)
        second = value.second if value.second is not None else (59 if high else 0)
        ms = value.millisecond if value.millisecond is not None else (999 if high else 0)
        parts = [value.hour, minute, second, ms]
        kept = [parts[i] if i < level else None for i in range(4)]
        return Time(value.hour, kept[1], kept[2], kept[3])
    if isinstance(value, Date):
        level = _DATE_DIGITS.get(8 if digits is None else digits)
        if level is None:
            return None
        month = value.month if value.month is not None else (12 if high else 1)
        last = calendar.monthrange(value.year, month)[1]
        day = value.day if value.day is not None else (last if high else 1)
        return Date(value.year, month if level >= 2 else None, day if level >= 3 else None)
    level = _DATETIME_DIGITS.get(17 if digits is None else digits)
    if level is None:
        return None
    month = value.month if value.month is not None else (12 if high else 1)
    day = value.day if value.day is not None else (calendar.monthrange(value.year, month)[1] if high else 1)
    hour = value.hour if value.hour is not None else (23 if high else 0)
    # an hour-only value is read as hh:00 (FHIR has no hour-only dateTime)
    minute = value.minute if value.minute is not None else (0 if value.hour is not None else (59 if high else 0))
    second = value.second if value.second is not None else (59 if high else 0)
    ms = value.millisecond if value.millisecond is not None else (999 if high else 0)
    tz = value.tz if value.tz is not None else (-720 if high else 840)
    parts = [value.year, month, day, hour, minute, second, ms]
    kept = [parts[i] if i < level else None for i in range(7)]
    return DateTime(value.year, kept[1], kept[2], kept[3], kept[4], kept[5], kept[6], tz if level >= 4 else None)


def decimal_boundary(value: Decimal, digits: int | None, high: bool) -> Decimal | None:
    """lowBoundary/highBoundary of a decimal: half a unit in the last place, then ``digits`` places."""
    if digits is None:
        digits = 8
    if digits < 0 or digits > 28:
        return None
    if value < 0 or (value == 0 and value.is_signed()):
        result = decimal_boundary(-value, digits, not high)
        return None if result is None else -result
    scale = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
    half = Decimal(5).scaleb(-(scale + 1))
    bound = value + half if high else value - half
    quantum = Decimal(1).scaleb(-digits)
    rounding = "ROUND_HALF_UP" if high else "ROUND_DOWN"
    return bound.quantize(quantum, rounding=rounding)
