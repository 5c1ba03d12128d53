"""Functions FHIR adds to FHIRPath, plus the SQL-on-FHIR getResourceKey()/getReferenceKey()."""

from __future__ import annotations

import re
from typing import Any

from carelake.fhir.fhirpath import ast
from carelake.fhir.fhirpath.context import Collection, Context
from carelake.fhir.fhirpath.errors import FhirPathExecutionError, FhirPathSemanticError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.model import RESOURCE_TYPES, Element, fhir_is_subtype
from carelake.fhir.fhirpath.navigation import navigate
from carelake.fhir.fhirpath.values import singleton, to_system

_PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"
_REFERENCE = re.compile(r"(?:.*/)?([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")


@function("extension", 1)
def extension(ctx: Context, focus: Collection, url: Collection) -> Collection:
    wanted = to_system(singleton(url, "extension()"))
    if wanted is None:
        return []
    found: Collection = []
    for item in focus:
        navigate(item, "extension", found)
    return [ext for ext in found if isinstance(ext.value, dict) and ext.value.get("url") == wanted]


@function("hasValue")
def has_value(ctx: Context, focus: Collection) -> Collection:
    if len(focus) != 1:
        return [False]
    item = focus[0]
    if type(item) is Element:
        return [item.value is not None and not isinstance(item.value, dict)]
    return [True]


@function("getValue")
def get_value(ctx: Context, focus: Collection) -> Collection:
    if len(focus) != 1:
        return []
    item = focus[0]
    if type(item) is Element and (item.value is None or isinstance(item.value, dict)):
        return []
    return [to_system(item)]


def _resource_id(item: Any) -> str | None:
    if type(item) is Element and isinstance(item.value, dict):
        value = item.value.get("id")
        return value if isinstance(value, str) else None
    return None


def _find(ctx: Context, reference: str) -> Any:
    roots = [*ctx.env.root_resource, *ctx.env.resource]
    if reference.startswith("#"):
        for root in roots:
            for contained in root.value.get("contained", []) if type(root) is Element else []:
                if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                    return Element(contained, contained.get("resourceType"))
        return None
    match = _REFERENCE.fullmatch(reference)
    for root in roots:
        if type(root) is not Element or not isinstance(root.value, dict):
            continue
        for entry in root.value.get("entry", []) if root.value.get("resourceType") == "Bundle" else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if entry.get("fullUrl") == reference or (
                match and resource.get("resourceType") == match.group(1) and resource.get("id") == match.group(2)
            ):
                return Element(resource, resource.get("resourceType"))
    return None


@function("resolve")
def resolve(ctx: Context, focus: Collection) -> Collection:
    out: Collection = []
    for item in focus:
        value = to_system(item)
        if type(value) is Element and isinstance(value.value, dict):
            value = value.value.get("reference")
        if isinstance(value, str):
            found = _find(ctx, value)
            if found is not None:
                out.append(found)
    return out


@function("memberOf", 1)
def member_of(ctx: Context, focus: Collection, valueset: Collection) -> Collection:
    raise FhirPathExecutionError("memberOf() needs a terminology service, which this engine does not have")


@function("conformsTo", 1)
def conforms_to(ctx: Context, focus: Collection, url: Collection) -> Collection:
    profile = to_system(singleton(url, "conformsTo()"))
    if not isinstance(profile, str):
        return []
    name = profile[len(_PROFILE_BASE) :] if profile.startswith(_PROFILE_BASE) else None
    if name is None or name not in RESOURCE_TYPES:
        raise FhirPathExecutionError(f"conformsTo(): unknown profile {profile}")
    return [type(item) is Element and item.type is not None and fhir_is_subtype(item.type, name) for item in focus]


@function("htmlChecks")
def html_checks(ctx: Context, focus: Collection) -> Collection:
    return [True]


@function("getResourceKey")
def get_resource_key(ctx: Context, focus: Collection) -> Collection:
    out: Collection = []
    for item in focus:
        key = _resource_id(item)
        if key is not None:
            out.append(key)
    return out


@function("getReferenceKey", 0, 1, kind="type")
def get_reference_key(ctx: Context, focus: Collection, spec: ast.Node | None = None) -> Collection:
    wanted: str | None = None
    if isinstance(spec, (ast.Identifier, ast.TypeSpecifier)):
        wanted = spec.name
    elif spec is not None:
        raise FhirPathSemanticError("getReferenceKey() takes a resource type name")
    out: Collection = []
    for item in focus:
        if type(item) is not Element or not isinstance(item.value, dict):
            continue
        reference = item.value.get("reference")
        if not isinstance(reference, str):
            continue
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            if wanted is None and reference.startswith("urn:uuid:"):
                out.append(reference[len("urn:uuid:") :])
            continue
        if wanted is None or match.group(1) == wanted:
            out.append(match.group(2))
    return out
