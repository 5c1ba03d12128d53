"""A SQL-on-FHIR v2 ViewDefinition, checked and parsed into a typed tree before anything is compiled.

Every structural mistake (no resource, a forEach that is not a string, a bad FHIRPath, a constant without a value,
unionAll branches with different columns) is a `ViewError` naming the element, raised before any SQL runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from carelake.errors import UserError
from carelake.fhir.fhirpath import parse
from carelake.fhir.fhirpath.ast import Node
from carelake.fhir.fhirpath.errors import FhirPathError
from carelake.fhir.model import r4

__all__ = ["Constant", "ViewColumn", "ViewDefinition", "ViewError", "ViewSelect", "parse_view"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ViewError(UserError):
    """A ViewDefinition that cannot be run as written."""


@dataclass(frozen=True)
class Expr:
    """A FHIRPath expression as written and parsed."""

    text: str
    node: Node


@dataclass(frozen=True)
class ViewColumn:
    name: str
    path: Expr
    type: str | None
    collection: bool | None
    where: str


@dataclass
class ViewSelect:
    columns: list[ViewColumn] = field(default_factory=list)
    selects: list[ViewSelect] = field(default_factory=list)
    union_all: list[ViewSelect] = field(default_factory=list)
    for_each: Expr | None = None
    or_null: bool = False
    repeat: list[Expr] = field(default_factory=list)

    def column_names(self) -> list[str]:
        """Output columns in the spec's order: own columns, nested selects, then the unionAll branches."""
        names = [c.name for c in self.columns]
        for s in self.selects:
            names += s.column_names()
        if self.union_all:
            names += self.union_all[0].column_names()
        return names


@dataclass(frozen=True)
class Constant:
    name: str
    value: object
    type: str  # the FHIR type from the value[x] suffix


@dataclass
class ViewDefinition:
    resource: str
    select: list[ViewSelect]
    where: list[Expr]
    constants: dict[str, Constant]
    name: str | None = None

    def column_names(self) -> list[str]:
        names: list[str] = []
        for s in self.select:
            names += s.column_names()
        return names


def parse_view(doc: Any) -> ViewDefinition:
    """Check a ViewDefinition (parsed JSON) and return its typed tree."""
    if not isinstance(doc, dict) or not doc:
        raise ViewError("a ViewDefinition must be a non-empty JSON object")
    resource = doc.get("resource")
    if not isinstance(resource, str) or not resource:
        raise ViewError("ViewDefinition.resource is missing", hint='name the resource type, e.g. "resource": "Patient"')
    if not r4().is_resource(resource):
        raise ViewError(f"ViewDefinition.resource {resource!r} is not a FHIR R4 resource type")
    constants = _constants(doc.get("constant", []))
    selects = doc.get("select")
    if not isinstance(selects, list) or not selects:
        raise ViewError("ViewDefinition.select must be a non-empty list")
    select = [_select(s, f"select[{i}]") for i, s in enumerate(selects)]
    where = []
    for i, w in enumerate(_list(doc.get("where", []), "where")):
        if not isinstance(w, dict) or "path" not in w:
            raise ViewError(f"where[{i}] needs a path")
        where.append(_expr(w["path"], f"where[{i}].path"))
    view = ViewDefinition(
        resource, select, where, constants, doc.get("name") if isinstance(doc.get("name"), str) else None
    )
    names = view.column_names()
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ViewError(f"column names must be unique in a view; repeated: {', '.join(dupes)}")
    return view


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ViewError(f"{where} must be a list")
    return value


def _expr(text: Any, where: str) -> Expr:
    if not isinstance(text, str):
        raise ViewError(f"{where} must be a FHIRPath string, found {type(text).__name__}")
    try:
        return Expr(text, parse(text))
    except FhirPathError as e:
        raise ViewError(f"{where}: invalid FHIRPath {text!r}: {e}") from e


def _select(doc: Any, where: str) -> ViewSelect:
    if not isinstance(doc, dict):
        raise ViewError(f"{where} must be an object")
    sel = ViewSelect()
    if "forEach" in doc and "forEachOrNull" in doc:
        raise ViewError(f"{where}: use forEach or forEachOrNull, not both")
    if "forEach" in doc:
        sel.for_each = _expr(doc["forEach"], f"{where}.forEach")
    if "forEachOrNull" in doc:
        sel.for_each = _expr(doc["forEachOrNull"], f"{where}.forEachOrNull")
        sel.or_null = True
    if "repeat" in doc:
        paths = _list(doc["repeat"], f"{where}.repeat")
        if not paths:
            raise ViewError(f"{where}.repeat must name at least one path")
        sel.repeat = [_expr(p, f"{where}.repeat[{i}]") for i, p in enumerate(paths)]
        if sel.for_each is not None:
            raise ViewError(f"{where}: repeat cannot be combined with forEach or forEachOrNull")
    for i, c in enumerate(_list(doc.get("column", []), f"{where}.column")):
        cw = f"{where}.column[{i}]"
        if not isinstance(c, dict):
            raise ViewError(f"{cw} must be an object")
        name = c.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ViewError(f"{cw}.name {name!r} must start with a letter and hold only letters, digits and _")
        if "path" not in c:
            raise ViewError(f"{cw} ({name}) needs a path")
        collection = c.get("collection")
        if collection is not None and not isinstance(collection, bool):
            raise ViewError(f"{cw}.collection must be true or false")
        ctype = c.get("type")
        if ctype is not None and not isinstance(ctype, str):
            raise ViewError(f"{cw}.type must be a string")
        sel.columns.append(ViewColumn(name, _expr(c["path"], f"{cw}.path"), ctype, collection, cw))
    sel.selects = [_select(s, f"{where}.select[{i}]") for i, s in enumerate(_list(doc.get("select", []), where))]
    sel.union_all = [
        _select(s, f"{where}.unionAll[{i}]") for i, s in enumerate(_list(doc.get("unionAll", []), f"{where}.unionAll"))
    ]
    if sel.union_all:
        first = sel.union_all[0].column_names()
        for i, branch in enumerate(sel.union_all[1:], start=1):
            if branch.column_names() != first:
                raise ViewError(
                    f"{where}.unionAll[{i}] has columns {branch.column_names()} but unionAll[0] has {first}",
                    hint="every unionAll branch must have the same column names in the same order",
                )
    if not sel.columns and not sel.selects and not sel.union_all:
        raise ViewError(f"{where} has no column, select or unionAll")
    return sel


def _constants(items: Any) -> dict[str, Constant]:
    out: dict[str, Constant] = {}
    for i, c in enumerate(_list(items, "constant")):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ViewError(f"constant[{i}] needs a name")
        values = [(k, v) for k, v in c.items() if k.startswith("value") and len(k) > 5]
        if len(values) != 1:
            raise ViewError(f"constant[{i}] ({c['name']}) needs exactly one value[x], e.g. valueString")
        key, value = values[0]
        ftype = key[5].lower() + key[6:]
        if ftype == "decimal" and isinstance(value, (int, float)):
            value = Decimal(str(value))
        out[c["name"]] = Constant(c["name"], value, ftype)
    return out
