"""Binary and unary operators on collections (arithmetic, comparison, equality, logic, sets)."""

from __future__ import annotations

from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from carelake.fhir.fhirpath.context import Collection
from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.quantity import Quantity, canonical_unit, convert_value
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time
from carelake.fhir.fhirpath.temporal_ops import add_duration
from carelake.fhir.fhirpath.values import (
    compare,
    equal,
    equivalent,
    singleton,
    to_system,
    type_label,
)

__all__ = ["arithmetic", "collection_equal", "collection_equivalent", "comparison", "contains_item", "union"]

_TEMPORAL = (Date, DateTime, Time)


def _num(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _quantity_unit_product(left: str, right: str, sign: str) -> str:
    if right == "1" and sign == ".":
        return left
    if right == "1":
        return left
    if left == "1" and sign == ".":
        return right
    return f"({left}){sign}({right})"


def _operand(collection: Collection, op: str) -> Any:
    return to_system(singleton(collection, f"operator {op}"))


def arithmetic(op: str, left: Collection, right: Collection) -> Collection:
    """``+ - * / div mod`` and ``&`` on singleton operands."""
    if op == "&":
        a = _operand(left, op)
        b = _operand(right, op)
        if (a is not None and not isinstance(a, str)) or (b is not None and not isinstance(b, str)):
            raise FhirPathExecutionError("& needs strings")
        return [(a or "") + (b or "")]
    a = _operand(left, op)
    b = _operand(right, op)
    if a is None or b is None:
        return []
    result = _arith(op, a, b)
    return [] if result is None else [result]


def _arith(op: str, a: Any, b: Any) -> Any:
    if _num(a) and _num(b):
        return _numbers(op, a, b)
    if isinstance(a, str) and isinstance(b, str) and op == "+":
        return a + b
    if isinstance(a, _TEMPORAL) and isinstance(b, Quantity) and op in "+-":
        return add_duration(a, b, 1 if op == "+" else -1)
    if isinstance(a, Quantity) or isinstance(b, Quantity):
        return _quantities(op, a, b)
    raise FhirPathExecutionError(f"cannot apply {op} to {type_label(a)} and {type_label(b)}")


def _numbers(op: str, a: int | Decimal, b: int | Decimal) -> Any:
    both_int = isinstance(a, int) and isinstance(b, int)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return None
            return Decimal(a) / Decimal(b)
        if op == "div":
            if b == 0:
                return None
            quotient = Decimal(a) / Decimal(b)
            return int(quotient) if both_int else Decimal(int(quotient))
        if op == "mod":
            if b == 0:
                return None
            if both_int:
                assert isinstance(a, int) and isinstance(b, int)
                remainder = abs(a) % abs(b)
                return -remainder if a < 0 else remainder
            return Decimal(a) % Decimal(b)
    except (DivisionByZero, InvalidOperation):
        return None
    raise FhirPathExecutionError(f"unknown operator {op}")


def _quantities(op: str, a: Any, b: Any) -> Any:
    if _num(a):
        a = Quantity(Decimal(a), "1")
    if _num(b):
        b = Quantity(Decimal(b), "1")
    if not isinstance(a, Quantity) or not isinstance(b, Quantity):
        raise FhirPathExecutionError(f"cannot apply {op} to {type_label(a)} and {type_label(b)}")
    if op in "+-":
        converted = convert_value(b.value, b.unit, a.unit)
        if converted is None:
            return None
        return Quantity(a.value + converted if op == "+" else a.value - converted, a.unit)
    if op == "*":
        return Quantity(a.value * b.value, _quantity_unit_product(a.unit, b.unit, "."))
    if op == "/":
        if b.value == 0:
            return None
        if a.unit == b.unit:
            return Quantity(a.value / b.value, "1")
        return Quantity(a.value / b.value, _quantity_unit_product(a.unit, b.unit, "/"))
    raise FhirPathExecutionError(f"cannot apply {op} to quantities")


def negate(collection: Collection) -> Collection:
    value = _operand(collection, "-")
    if value is None:
        return []
    if _num(value):
        return [-value]
    if isinstance(value, Quantity):
        return [Quantity(-value.value, value.unit)]
    raise FhirPathExecutionError(f"cannot negate {type_label(value)}")


def comparison(op: str, left: Collection, right: Collection) -> Collection:
    a = singleton(left, f"operator {op}")
    b = singleton(right, f"operator {op}")
    if a is None or b is None:
        return []
    result = compare(a, b)
    if result is None:
        return []
    if op == "<":
        return [result < 0]
    if op == "<=":
        return [result <= 0]
    if op == ">":
        return [result > 0]
    return [result >= 0]


def collection_equal(left: Collection, right: Collection) -> bool | None:
    """``=`` on collections: empty when either side is empty, else ordered pairwise equality."""
    if not left or not right:
        return None
    if len(left) != len(right):
        return False
    unknown = False
    for a, b in zip(left, right, strict=True):
        result = equal(a, b)
        if result is False:
            return False
        if result is None:
            unknown = True
    return None if unknown else True


def collection_equivalent(left: Collection, right: Collection) -> bool:
    """``~`` on collections: order does not matter, empty ~ empty."""
    if len(left) != len(right):
        return False
    remaining = list(right)
    for a in left:
        for i, b in enumerate(remaining):
            if equivalent(a, b):
                del remaining[i]
                break
        else:
            return False
    return True


def contains_item(collection: Collection, item: Any) -> bool:
    return any(equal(item, other) is True for other in collection)


def union(left: Collection, right: Collection) -> Collection:
    """Set union keeping first occurrences in order."""
    out: Collection = []
    for item in (*left, *right):
        if not contains_item(out, item):
            out.append(item)
    return out


def units_comparable(a: Quantity, b: Quantity) -> bool:
    base_a, base_b = canonical_unit(a.unit), canonical_unit(b.unit)
    return base_a is not None and base_b is not None and base_a[1] == base_b[1]
