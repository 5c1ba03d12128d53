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

__all__ = ["check_resource", "shape_fits"]

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


# DuckDB's json_structure names a JSON value's type with these tags; arrays merge their items' structures.
_SHAPE_TAGS: dict[type, frozenset[str]] = {
    str: frozenset({"VARCHAR"}),
    bool: frozenset({"BOOLEAN"}),
    int: frozenset({"UBIGINT", "BIGINT", "HUGEINT", "DOUBLE"}),
}


def shape_fits(shape: Any, resource_type: str) -> bool:
    """True when every resource with this merged JSON structure passes `check_resource`.

    `shape` is DuckDB's `json_structure` of a resource, parsed: objects as dicts, an array as a one-item list holding
    its items' merged structure, scalars as type tags ("VARCHAR", "UBIGINT", "NULL", "JSON" when items conflict).
    A structure answers for all the resources that share it, so a whole export is checked by a few hundred
    structures instead of resource by resource. False means "cannot vouch": the resource is checked in full, which
    names the problem if there is one. A null item in a list of objects merges away, so the caller sends resources
    with a null list item down the full check too.
    """
    return _shape_ok(shape, resource_type, 0)


def _shape_ok(shape: Any, type_name: str, depth: int) -> bool:
    if depth > 64 or type(shape) is not dict:
        return False
    rules = _rules(type_name)
    if not rules:
        return True
    for key, sub in shape.items():
        rule = rules.get(key)
        if rule is None:
            continue
        array, prim, ctype, _ = rule
        if array:
            if type(sub) is not list or len(sub) != 1:
                return False
            item, empty_ok = sub[0], True
        else:
            if type(sub) is list:
                return False
            item, empty_ok = sub, False
        if prim is not None:
            if item != "NULL" and (type(item) is not str or item not in _SHAPE_TAGS[prim[0]]):
                return False
        elif ctype == "Resource":
            return False
        elif item == "NULL":
            # In a list: the list is empty (or holds nulls, which the caller screens); alone: a null object.
            if not empty_ok:
                return False
        elif not _shape_ok(item, ctype or "", depth + 1):
            return False
    return True
