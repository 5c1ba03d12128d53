"""Value semantics: FHIR-to-System conversion, equality, equivalence and ordering of items."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.model import Element, fhir_is_subtype, parent_types
from carelake.fhir.fhirpath.quantity import Quantity, canonical_unit, convert_value
from carelake.fhir.fhirpath.temporal import (
    Date,
    DateTime,
    Time,
    compare_temporal,
    parse_date,
    parse_datetime,
    parse_time,
    temporal_equivalent,
)

__all__ = [
    "compare",
    "equal",
    "equivalent",
    "singleton",
    "system_type_name",
    "to_bool",
    "to_output",
    "to_system",
]

UCUM = "http://unitsofmeasure.org"
_TEMPORAL = (Date, DateTime, Time)
_QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})
_INT_TYPES = frozenset({"integer", "unsignedInt", "positiveInt", "integer64"})


def quantity_of(data: dict[str, Any]) -> Quantity | None:
    """The System.Quantity of a FHIR Quantity (UCUM code preferred over the display unit)."""
    value = data.get("value")
    if value is None or isinstance(value, bool):
        return None
    unit = data.get("code") if data.get("system") == UCUM and data.get("code") else None
    unit = unit or data.get("unit") or data.get("code") or "1"
    return Quantity(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), str(unit))


def to_system(item: Any) -> Any:
    """The System value an item stands for in operators (FHIR primitives to Python, Quantity to Quantity)."""
    if type(item) is not Element:
        return item
    value = item.value
    kind = item.type
    if isinstance(value, dict):
        if kind in _QUANTITY_TYPES:
            return quantity_of(value) or item
        return item
    if isinstance(value, str):
        if kind == "date":
            return parse_date(value) or parse_datetime(value) or value
        if kind in ("dateTime", "instant"):
            return parse_datetime(value) or value
        if kind == "time":
            return parse_time(value) or value
        if kind == "decimal":
            try:
                return Decimal(value)
            except ArithmeticError:
                return value
        return value
    if kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def to_output(item: Any) -> Any:
    """The Python value handed to callers: JSON values for elements, System values otherwise."""
    if type(item) is Element:
        value = item.value
        if value is None:
            return item.ext
        if item.type == "decimal" and type(value) is int:
            return Decimal(value)
        return value
    return item


def singleton(collection: list[Any], what: str = "operand") -> Any:
    """The single item of a collection, None when empty; more than one is an error."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathExecutionError(f"{what} expects a single item, got {len(collection)}")
    return collection[0]


def to_bool(collection: list[Any], what: str = "boolean operand") -> bool | None:
    """Singleton evaluation as a boolean: a single non-boolean item counts as true."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathExecutionError(f"{what} expects a single item, got {len(collection)}")
    value = to_system(collection[0])
    if isinstance(value, bool):
        return value
    return True


def system_type_name(value: Any) -> str | None:
    """System type name of a non-Element value."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, Decimal):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, DateTime):
        return "DateTime"
    if isinstance(value, Date):
        return "Date"
    if isinstance(value, Time):
        return "Time"
    if isinstance(value, Quantity):
        return "Quantity"
    return None


def is_type(item: Any, namespace: str | None, name: str) -> bool:
    """``item is [namespace.]name``: FHIR elements match FHIR types (with ancestors), System values System types."""
    if type(item) is Element:
        if namespace == "System" or item.type is None:
            return False
        return fhir_is_subtype(item.type, name)
    if namespace == "FHIR":
        return False
    return system_type_name(item) == name


def is_exact_type(item: Any, namespace: str | None, name: str) -> bool:
    """as()/ofType(): primitives must match exactly, complex types may be subtypes."""
    if type(item) is Element and item.type is not None and item.type[0].islower() and "." not in item.type:
        return namespace != "System" and item.type == name
    return is_type(item, namespace, name)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def equal(left: Any, right: Any) -> bool | None:
    """Item equality (``=``); None when the answer is unknown (precision, incomparable units)."""
    a, b = to_system(left), to_system(right)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _numeric(a) and _numeric(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, _TEMPORAL) and isinstance(b, _TEMPORAL):
        try:
            result = compare_temporal(a, b)
        except TypeError:
            return False
        return None if result is None else result == 0
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        converted = convert_value(b.value, b.unit, a.unit)
        if converted is None:
            return None
        return a.value == converted
    if type(a) is Element and type(b) is Element:
        return bool(a.value == b.value) and a.ext == b.ext
    return False


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def decimal_equivalent(a: Decimal, b: Decimal) -> bool:
    """Equal after rounding both to the precision of the less precise one."""
    places = min(_places(a), _places(b))
    quantum = Decimal(1).scaleb(-places)
    return a.quantize(quantum) == b.quantize(quantum)


_SPACE = re.compile(r"\s+")


def _norm_text(text: str) -> str:
    return _SPACE.sub(" ", text.strip()).lower()


def equivalent(left: Any, right: Any) -> bool:
    """Item equivalence (``~``)."""
    a, b = to_system(left), to_system(right)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _numeric(a) and _numeric(b):
        return decimal_equivalent(Decimal(a), Decimal(b))
    if isinstance(a, str) and isinstance(b, str):
        return _norm_text(a) == _norm_text(b)
    if isinstance(a, _TEMPORAL) and isinstance(b, _TEMPORAL):
        return temporal_equivalent(a, b)
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        base_a, base_b = canonical_unit(a.unit), canonical_unit(b.unit)
        if a.unit == b.unit:
            return decimal_equivalent(a.value, b.value)
        if base_a is None or base_b is None or base_a[1] != base_b[1]:
            return False
        return decimal_equivalent(a.value * base_a[0], b.value * base_b[0])
    if type(a) is Element and type(b) is Element:
        return _json_equivalent(a.value, b.value)
    return False


def _json_equivalent(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - {"id"}
        return all(_json_equivalent(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equivalent(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        return _norm_text(a) == _norm_text(b)
    return bool(a == b)


def compare(left: Any, right: Any) -> int | None:
    """Ordering for ``<`` and friends: -1/0/1, None when unknown; incompatible types raise."""
    a, b = to_system(left), to_system(right)
    if a is None or b is None:  # a primitive that only carries extensions
        return None
    if _numeric(a) and _numeric(b):
        return -1 if a < b else (1 if a > b else 0)
    if isinstance(a, str) and isinstance(b, str):
        return -1 if a < b else (1 if a > b else 0)
    if isinstance(a, _TEMPORAL) and isinstance(b, _TEMPORAL):
        try:
            return compare_temporal(a, b)
        except TypeError as exc:
            raise FhirPathExecutionError(str(exc)) from None
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        converted = convert_value(b.value, b.unit, a.unit)
        if converted is None:
            return None
        return -1 if a.value < converted else (1 if a.value > converted else 0)
    raise FhirPathExecutionError(f"cannot compare {type_label(a)} with {type_label(b)}")


def type_label(value: Any) -> str:
    if type(value) is Element:
        return parent_types(value.type or "Element")[0]
    return system_type_name(value) or type(value).__name__
