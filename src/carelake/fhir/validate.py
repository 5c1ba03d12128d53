"""Structural check of a resource against the R4 model: lists where FHIR has lists, the right JSON type per primitive.

This is what catches a wrong-typed element (`"birthDate": 1970`, `"name": {...}` where a list belongs) at load time,
with the element's path in the message, instead of a silent wrong answer in a view later. Unknown elements are
let through: real exports carry vendor extras, and a view simply does not see them. It runs on every resource
loaded, so the per-type rules are precomputed and the path of a problem is only built when there is one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from carelake.fhir.model import PRIMITIVE_TYPES, r4

__all__ = ["check_resource"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "number": (int, float)}
# (is a list, allowed Python types for a primitive or None, complex type name or None, FHIR type)
_Rule = tuple[bool, tuple[type, ...] | None, str | None, str]


class _Problem(Exception):
    def __init__(self, path: list[str], message: str) -> None:
        self.path = path
        self.message = message


@cache
def _rules(type_name: str) -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    for name, info in r4().elements(type_name).items():
        json_type = PRIMITIVE_TYPES.get(info.type)
        prim = _JSON_TYPES[json_type] if json_type else None
        rules[name] = (info.array, prim, None if prim else info.type, info.type)
    return rules


def check_resource(resource: dict[str, Any], resource_type: str) -> str | None:
    """None when the resource's shape fits FHIR R4, else one line naming the element and the problem."""
    try:
        _check(resource, resource_type, 0)
    except _Problem as p:
        return f"{resource_type}{''.join(reversed(p.path))}: {p.message}"
    return None


def _check(obj: dict[str, Any], type_name: str, depth: int) -> None:
    if depth > 64:
        raise _Problem([], "nested more than 64 levels deep")
    rules = _rules(type_name)
    if not rules:
        return
    for key, value in obj.items():
        rule = rules.get(key)
        if rule is None:
            continue
        array, prim, ctype, fhir_type = rule
        if array:
            if type(value) is not list:
                raise _Problem([f".{key}"], f"expected a list (the element repeats), found {_kind(value)}")
            items = value
        else:
            if type(value) is list:
                raise _Problem([f".{key}"], "expected a single value, found a list")
            items = [value]
        for i, item in enumerate(items):
            try:
                if prim is not None:
                    if type(item) not in prim and item is not None:
                        found = f"{_kind(item)} {_short(item)}"
                        raise _Problem([], f"expected a {_json_name(prim)} ({fhir_type}), found {found}")
                elif ctype == "Resource":
                    if type(item) is not dict or not isinstance(item.get("resourceType"), str):
                        raise _Problem([], f"expected a resource with a resourceType, found {_kind(item)}")
                    _check(item, item["resourceType"], depth + 1)
                elif type(item) is not dict:
                    raise _Problem([], f"expected an object ({ctype}), found {_kind(item)} {_short(item)}")
                else:
                    _check(item, ctype or "", depth + 1)
            except _Problem as p:
                p.path.append(f".{key}[{i}]" if array else f".{key}")
                raise


def _json_name(types: tuple[type, ...]) -> str:
    return {str: "string", bool: "boolean"}.get(types[0], "number")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "an object"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
