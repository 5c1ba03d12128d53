"""The FHIR R4 element model: which elements are arrays, which are choices, and their types.

FHIR JSON does not say on its face that `Observation.code.coding` is a list or that `Observation.value` is spelled
`valueQuantity`; the compiler and the validator need both. `r4.json` is generated from the FHIR 4.0.1 definitions by
`tools/gen_fhir_r4_model.py` (FHIR definitions CC0; read through fhir.resources 6.4.0, BSD-3-Clause).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["PRIMITIVE_TYPES", "ElementInfo", "FhirModel", "r4"]

# FHIR primitive types, with the JSON type each is written as.
PRIMITIVE_TYPES: dict[str, str] = {
    "boolean": "boolean",
    "integer": "number",
    "unsignedInt": "number",
    "positiveInt": "number",
    "decimal": "number",
    "string": "string",
    "code": "string",
    "id": "string",
    "uri": "string",
    "url": "string",
    "canonical": "string",
    "oid": "string",
    "uuid": "string",
    "markdown": "string",
    "xhtml": "string",
    "base64Binary": "string",
    "instant": "string",
    "dateTime": "string",
    "date": "string",
    "time": "string",
}


@dataclass(frozen=True, slots=True)
class ElementInfo:
    """One JSON element of a type: `name` as spelled in JSON, its FHIR type, whether it is a list, its choice group."""

    name: str
    type: str
    array: bool
    choice: str | None = None


class FhirModel:
    """Look-ups over the generated element table; unknown types answer None so callers fall back to generic code."""

    def __init__(self, raw: dict[str, dict[str, object]]) -> None:
        self._bases: dict[str, str | None] = {}
        self._own: dict[str, dict[str, ElementInfo]] = {}
        for type_name, info in raw.items():
            base = info.get("base")
            self._bases[type_name] = base if isinstance(base, str) else None
            elements = info.get("elements")
            assert isinstance(elements, dict)
            self._own[type_name] = {
                name: ElementInfo(name, str(e[0]), bool(e[1]), str(e[2]) if len(e) > 2 else None)
                for name, e in elements.items()
            }
        self._all: dict[str, dict[str, ElementInfo]] = {}

    def knows(self, type_name: str) -> bool:
        return type_name in self._own or type_name in PRIMITIVE_TYPES

    def is_resource(self, type_name: str) -> bool:
        t: str | None = type_name
        while t is not None:
            if t == "Resource":
                return True
            t = self._bases.get(t)
        return False

    def resource_types(self) -> list[str]:
        return sorted(t for t in self._own if self.is_resource(t) and t not in {"Resource", "DomainResource"})

    def is_subtype(self, type_name: str, ancestor: str) -> bool:
        t: str | None = type_name
        while t is not None:
            if t == ancestor:
                return True
            t = self._bases.get(t)
        return False

    def elements(self, type_name: str) -> dict[str, ElementInfo]:
        """All JSON elements of a type, inherited ones included (empty for primitives and unknown types)."""
        cached = self._all.get(type_name)
        if cached is not None:
            return cached
        chain: list[str] = []
        t: str | None = type_name
        while t is not None and t in self._own:
            chain.append(t)
            t = self._bases.get(t)
        merged: dict[str, ElementInfo] = {}
        for name in reversed(chain):
            merged.update(self._own[name])
        if type_name in PRIMITIVE_TYPES:
            merged = {
                "id": ElementInfo("id", "string", False),
                "extension": ElementInfo("extension", "Extension", True),
            }
        self._all[type_name] = merged
        return merged

    def element(self, type_name: str, name: str) -> ElementInfo | None:
        return self.elements(type_name).get(name)

    def choices(self, type_name: str, group: str) -> list[ElementInfo]:
        """The concrete elements of choice `group` (`value` → valueQuantity, valueString, ...)."""
        return [e for e in self.elements(type_name).values() if e.choice == group]


@cache
def r4() -> FhirModel:
    """The FHIR R4 (4.0.1) model, loaded once."""
    text = resources.files(__package__).joinpath("r4.json").read_text(encoding="utf-8")
    return FhirModel(json.loads(text))
