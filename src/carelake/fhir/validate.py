"""Structural check of a resource against the R4 model: lists where FHIR has lists, the right JSON type per primitive.

This is what catches a wrong-typed element (`"birthDate": 1970`, `"name": {...}` where a list belongs) at load time,
with the element's path in the message, instead of a silent wrong answer in a view later. Unknown elements are
let through: real exports carry vendor extras, and a view simply does not see them.
"""

from __future__ import annotations

from typing import Any

from carelake.fhir.model import PRIMITIVE_TYPES, FhirModel, r4

__all__ = ["check_resource"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "number": (int, float)}


def check_resource(resource: dict[str, Any], resource_type: str) -> str | None:
    """None when the resource's shape fits FHIR R4, else one line naming the element and the problem."""
    return _check_object(resource, resource_type, resource_type, r4(), 0)


def _check_object(obj: dict[str, Any], type_name: str, path: str, model: FhirModel, depth: int) -> str | None:
    if depth > 64:
        return f"{path}: nested more than 64 levels deep"
    elements = model.elements(type_name)
    if not elements:
        return None
    for key, value in obj.items():
        if key == "resourceType" or key.startswith("_") or key == "fhir_comments":
            continue
        info = elements.get(key)
        if info is None:
            continue
        where = f"{path}.{key}"
        if info.array:
            if not isinstance(value, list):
                return f"{where}: expected a list (the element repeats), found {_kind(value)}"
            for i, item in enumerate(value):
                problem = _check_value(item, info.type, f"{where}[{i}]", model, depth)
                if problem:
                    return problem
        else:
            if isinstance(value, list):
                return f"{where}: expected a single value, found a list"
            problem = _check_value(value, info.type, where, model, depth)
            if problem:
                return problem
    return None


def _check_value(value: Any, type_name: str, where: str, model: FhirModel, depth: int) -> str | None:
    json_type = PRIMITIVE_TYPES.get(type_name)
    if json_type is not None:
        ok = isinstance(value, _JSON_TYPES[json_type]) and not (json_type == "number" and isinstance(value, bool))
        if not ok and value is not None:
            return f"{where}: expected a {json_type} ({type_name}), found {_kind(value)} {_short(value)}"
        return None
    if type_name == "Resource":
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            return f"{where}: expected a resource with a resourceType, found {_kind(value)}"
        return _check_object(value, value["resourceType"], where, model, depth + 1)
    if not isinstance(value, dict):
        return f"{where}: expected an object ({type_name}), found {_kind(value)} {_short(value)}"
    return _check_object(value, type_name, where, model, depth + 1)


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
