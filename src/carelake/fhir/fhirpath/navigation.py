"""Walking FHIR JSON: member access with array flattening, choice elements and primitive extensions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from carelake.fhir.fhirpath.model import Element, child_type, suffix_type, table_type


def _words(text: str) -> frozenset[str]:
    """A name set written as whitespace-separated words (compact tables)."""
    return frozenset(text.split())


__all__ = ["children", "descend", "navigate", "wrap"]

_MISSING: Any = object()


def _number(value: Any) -> Any:
    """JSON floats become Decimal (via repr, so 0.1 stays 0.1)."""
    if type(value) is float:
        return Decimal(repr(value))
    return value


def wrap(value: Any) -> Any:
    """A Python input value as a collection item: dicts become Elements, other values stay System values."""
    if isinstance(value, dict):
        rtype = value.get("resourceType")
        return Element(value, rtype if isinstance(rtype, str) else None)
    if type(value) is float:
        return Decimal(repr(value))
    return value


def _emit(parent_type: str | None, name: str, raw: Any, ext: Any, type_key: str | None, out: list[Any]) -> None:
    if type_key is None:
        type_key = table_type(parent_type, name)
        if type_key == "Resource":
            type_key = None  # contained/entry resources: the type comes from resourceType
    if type(raw) is list and ext is None:
        # the common case, kept tight: an array without primitive extensions
        for value in raw:
            if value is None:
                continue
            if type(value) is float:
                value = Decimal(repr(value))
            out.append(Element(value, type_key or child_type(parent_type, name, value)))
        return
    if isinstance(raw, list) or isinstance(ext, list):
        values = raw if isinstance(raw, list) else []
        exts = ext if isinstance(ext, list) else []
        for i in range(max(len(values), len(exts))):
            value = _number(values[i]) if i < len(values) else None
            extra = exts[i] if i < len(exts) else None
            if value is None and extra is None:
                continue
            out.append(Element(value, type_key or child_type(parent_type, name, value), extra))
        return
    if raw is _MISSING:
        raw = None
    value = _number(raw)
    if value is None and ext is None:
        return
    out.append(Element(value, type_key or child_type(parent_type, name, value), ext))


def navigate(item: Any, name: str, out: list[Any]) -> None:
    """Append the children called ``name`` of ``item`` to ``out``."""
    if type(item) is not Element:
        return
    data = item.value
    parent_type = item.type
    if type(data) is not dict:
        # a primitive: its id and extensions live in the ``_name`` companion object
        data = item.ext
        if type(data) is not dict:
            return
        parent_type = "Element"
    raw = data.get(name, _MISSING)
    ext = data.get("_" + name)
    type_key: str | None = None
    if raw is _MISSING and ext is None:
        size = len(name)
        for key in data:
            if len(key) > size and key.startswith(name) and key[size].isupper():
                type_key = suffix_type(key[size:])
                if type_key is not None:
                    raw = data[key]
                    ext = data.get("_" + key)
                    break
        else:
            return
    _emit(parent_type, name, raw, ext, type_key, out)


def children(item: Any) -> list[Any]:
    """All child elements in document order (choice elements and extensions included)."""
    out: list[Any] = []
    if type(item) is not Element or type(item.value) is not dict:
        return out
    data = item.value
    for key, raw in data.items():
        if key == "resourceType":
            continue
        if key.startswith("_"):
            if key[1:] not in data:
                _emit(item.type, key[1:], _MISSING, raw, _choice_type(key[1:]), out)
            continue
        _emit(item.type, key, raw, data.get("_" + key), _choice_type(key), out)
    return out


def _choice_type(key: str) -> str | None:
    for i in range(len(key) - 1, 0, -1):
        if key[i].isupper():
            found = suffix_type(key[i:])
            if found is not None and key[:i] in _CHOICE_BASES:
                return found
            break
    return None


# Element names that are choice elements somewhere in R4 (``value[x]``, ``effective[x]``, ...).
_CHOICE_BASES = _words(
    """
    value effective onset abatement deceased multipleBirth occurrence performed timing born age died answer
    defaultValue fixed pattern minValue maxValue product medication serviced location bounds asNeeded dose
    rate author subject reported allowed used collected
    """
)


def descend(items: list[Any]) -> list[Any]:
    """descendants(): children, recursively, breadth first."""
    out: list[Any] = []
    frontier = items
    while frontier:
        level: list[Any] = []
        for item in frontier:
            level.extend(children(item))
        out.extend(level)
        frontier = level
    return out


def choice_key(name: str) -> tuple[str, str] | None:
    """(base, type) when ``name`` spells a choice element with its type suffix, e.g. valueQuantity."""
    for i in range(1, len(name)):
        if name[i].isupper():
            base = name[:i]
            if base in _CHOICE_BASES:
                found = suffix_type(name[i:])
                if found is not None:
                    return base, found
            return None
    return None
