"""The FHIR R4 types FHIRPath needs: element types, the type hierarchy and the JSON element wrapper.

Types come from (in order) the choice-element suffix (``valueQuantity`` -> Quantity), ``resourceType``, the
generated R4 model (`carelake.fhir.model`: every element of every resource, data type and backbone element), and
for what it cannot name (an element of an unknown type) the shape of the JSON value. What the generated model does
not hold is kept here: the primitive types' hierarchy (code is a string, url a uri, ...), the names of the FHIR data
types, and the Quantity profiles (SimpleQuantity, MoneyQuantity). Elements of unknown types are keyed by their path
(``Questionnaire.item``) and report themselves as BackboneElement.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Any

from carelake.fhir.model import PRIMITIVE_TYPES, r4


def _words(text: str) -> frozenset[str]:
    """A name set written as whitespace-separated words (compact tables)."""
    return frozenset(text.split())


__all__ = [
    "FHIR_PRIMITIVES",
    "Element",
    "child_type",
    "fhir_is_subtype",
    "is_known_fhir_type",
    "type_name_of",
]

# R4's primitives, and R5's integer64 (FHIRPath's Long), which type tests may name.
FHIR_PRIMITIVES: frozenset[str] = frozenset(PRIMITIVE_TYPES) | {"integer64"}
_PRIMITIVE_PARENT = {
    "code": "string", "id": "string", "markdown": "string", "url": "uri", "canonical": "uri",
    "oid": "uri", "uuid": "uri", "unsignedInt": "integer", "positiveInt": "integer",
}  # fmt: skip
# Profiles of Quantity the generated model has no type for (Age, Count, Distance and Duration it has).
_QUANTITY_PROFILES = frozenset({"SimpleQuantity", "MoneyQuantity"})
DATATYPES: frozenset[str] = (
    _words(
        """
    Element BackboneElement Extension Coding CodeableConcept Quantity Money Range Ratio Period Reference
    Identifier HumanName Address ContactPoint Attachment Annotation Narrative Meta SampledData Signature
    Timing Dosage ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact
    TriggerDefinition UsageContext MarketingStatus Population ProdCharacteristic ProductShelfLife
    SubstanceAmount ElementDefinition Age Count Distance Duration
    """
    )
    | _QUANTITY_PROFILES
)
# The model's resources, with the two abstract bases FHIRPath names; MetadataResource is the model's abstract base of
# the conformance resources, which no resource names as its resourceType.
RESOURCE_TYPES: frozenset[str] = (frozenset(r4().resource_types()) - {"MetadataResource"}) | {
    "Resource",
    "DomainResource",
}

_DATE_SHAPE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
_CODE_NAMES = frozenset({"status", "gender", "use", "language", "intent", "priority", "mode", "kind"})
_URI_NAMES = frozenset({"url", "system", "profile"})


def _model_parents(type_key: str) -> list[str] | None:
    model = r4()
    if type_key in FHIR_PRIMITIVES or not model.knows(type_key):
        return None
    chain = [type_key]
    for ancestor in ("BackboneElement", "Quantity", "DomainResource", "Resource", "Element"):
        if ancestor != type_key and model.is_subtype(type_key, ancestor):
            chain.append(ancestor)
    return chain


def parent_types(type_key: str) -> list[str]:
    """The type itself and its ancestors (type keys), most specific first."""
    found = _model_parents(type_key)
    if found is not None:
        return found
    if "." in type_key:
        return [type_key, "BackboneElement", "Element"]
    if type_key in FHIR_PRIMITIVES:
        out = [type_key]
        while out[-1] in _PRIMITIVE_PARENT:
            out.append(_PRIMITIVE_PARENT[out[-1]])
        return [*out, "Element"]
    if type_key in _QUANTITY_PROFILES:
        return [type_key, "Quantity", "Element"]
    return [type_key] if type_key == "Element" else [type_key, "Element"]


def type_name_of(type_key: str) -> str:
    """The FHIR type name reported by ``type()`` (backbone elements report BackboneElement)."""
    if "." in type_key:
        return "BackboneElement"
    parents = parent_types(type_key)
    if len(parents) > 1 and parents[1] == "BackboneElement":
        return "BackboneElement"
    return type_key


def fhir_is_subtype(type_key: str, wanted: str) -> bool:
    return wanted in parent_types(type_key)


def is_known_fhir_type(name: str) -> bool:
    return name in FHIR_PRIMITIVES or name in DATATYPES or name in RESOURCE_TYPES


def suffix_type(suffix: str) -> str | None:
    """Type named by a choice suffix (``DateTime`` -> dateTime), None if it names no type."""
    if not suffix or not suffix[0].isupper():
        return None
    lowered = suffix[0].lower() + suffix[1:]
    if lowered in FHIR_PRIMITIVES:
        return lowered
    if suffix in DATATYPES:
        return suffix
    return None


def _lookup(type_key: str | None, name: str) -> str | None:
    if type_key is None:
        return None
    model = r4()
    for owner in parent_types(type_key):  # the type itself first
        info = model.element(owner, name)
        if info is not None:
            return str(info.type)
    return None


_TYPE_CACHE: dict[tuple[str | None, str], str | None] = {}


def table_type(parent_type: str | None, name: str) -> str | None:
    """Tabled type of child ``name`` (cached; the set of pairs is bounded by the model)."""
    key = (parent_type, name)
    try:
        return _TYPE_CACHE[key]
    except KeyError:
        found = _TYPE_CACHE[key] = _lookup(parent_type, name)
        return found


def child_type(parent_type: str | None, name: str, value: object) -> str | None:
    """Type key of child ``name`` of an element of ``parent_type`` whose JSON value is ``value``."""
    if type(value) is dict and "resourceType" in value:
        return str(value["resourceType"])
    known = table_type(parent_type, name)
    if known is not None:
        return known
    return _guess(parent_type, name, value)


def _guess(parent_type: str | None, name: str, value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "decimal"
    if isinstance(value, str):
        if name in _CODE_NAMES:
            return "code"
        if name in _URI_NAMES:
            return "uri"
        if _DATE_SHAPE.fullmatch(value):
            return "date"
        if _DATETIME_SHAPE.fullmatch(value):
            return "dateTime"
        return "string"
    if isinstance(value, dict):
        return _guess_complex(parent_type, name, value)
    return None


def _guess_complex(parent_type: str | None, name: str, value: dict[str, Any]) -> str:
    keys = value.keys()
    if "coding" in keys:
        return "CodeableConcept"
    if "reference" in keys:
        return "Reference"
    if name == "extension" or name == "modifierExtension":
        return "Extension"
    if name == "period" or (("start" in keys or "end" in keys) and keys <= {"start", "end", "id", "extension"}):
        return "Period"
    if "value" in keys and ("unit" in keys or "code" in keys or "system" in keys):
        return "Quantity"
    if "family" in keys or "given" in keys:
        return "HumanName"
    if name in ("identifier",):
        return "Identifier"
    if "system" in keys and "code" in keys:
        return "Coding"
    if parent_type is not None:
        return f"{parent_type}.{name}"
    return "Element"


class Element:
    """A node of the resource tree with its FHIR type.

    ``value`` is the JSON value (dict for complex types, Python scalar for primitives, None for
    a primitive that only has extensions); ``ext`` is the ``_name`` companion of a primitive.
    """

    __slots__ = ("ext", "type", "value")

    def __init__(self, value: Any, type_key: str | None, ext: dict[str, Any] | None = None) -> None:
        self.value = value
        self.type = type_key
        self.ext = ext

    def __repr__(self) -> str:
        return f"Element({self.value!r}, {self.type!r})"

    @property
    def is_primitive(self) -> bool:
        return not isinstance(self.value, dict)


@cache
def known_elements(type_key: str | None) -> frozenset[str] | None:
    """FHIRPath names of a type's elements (choices by base name), None when the model cannot say."""
    if type_key is None:
        return None
    model = r4()
    known = "Quantity" if type_key in _QUANTITY_PROFILES else type_key
    if known in FHIR_PRIMITIVES or not model.knows(known):
        return None
    return frozenset(info.choice or name for name, info in model.elements(known).items())
