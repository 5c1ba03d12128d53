"""Generate carelake's compact FHIR R4 element model from the fhir.resources 6.4.0 wheel (FHIR 4.0.1).

Dev-time only: `python tools/gen_fhir_r4_model.py fhir.resources-6.4.0-py2.py3-none-any.whl`.
The wheel's sources are read with `ast` (nothing is imported), and for every resource, data type and backbone
element the script records each JSON element's type, whether it is an array, and its choice group. The output,
src/carelake/fhir/model/r4.json, is what the reader, the validator and the view compiler use to know that
`Observation.code.coding` is an array and that `Observation.value` means valueQuantity, valueString, ...
The FHIR definitions are CC0; fhir.resources is BSD-3-Clause.
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path

PRIMITIVES = {
    "String": "string", "Code": "code", "Id": "id", "Decimal": "decimal", "Integer": "integer",
    "UnsignedInt": "unsignedInt", "PositiveInt": "positiveInt", "Uri": "uri", "Oid": "oid", "Uuid": "uuid",
    "Canonical": "canonical", "Url": "url", "Markdown": "markdown", "Xhtml": "xhtml",
    "Base64Binary": "base64Binary", "Instant": "instant", "DateTime": "dateTime", "Date": "date", "Time": "time",
    "Boolean": "boolean",
}  # fmt: skip


def _type(node: ast.expr) -> tuple[str, bool]:
    """(FHIR type name, is array) of a field annotation."""
    if isinstance(node, ast.Subscript):  # typing.List[X]
        inner, _ = _type(node.slice)
        return inner, True
    if isinstance(node, ast.Name) and node.id == "bool":
        return "boolean", False
    if isinstance(node, ast.Attribute):
        name = node.attr
        if name in PRIMITIVES:
            return PRIMITIVES[name], False
        if name.endswith("Type"):
            return name[: -len("Type")], False
    raise ValueError(ast.dump(node))


def _keywords(call: ast.expr) -> dict[str, object]:
    if not isinstance(call, ast.Call):
        return {}
    return {k.arg: k.value.value for k in call.keywords if k.arg and isinstance(k.value, ast.Constant)}


def main(wheel: str) -> None:
    model: dict[str, dict[str, object]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if not name.startswith("fhir/resources/") or name.count("/") != 2 or not name.endswith(".py"):
                continue
            if Path(name).stem.startswith(("fhirtypes", "fhirresourcemodel", "fhirabstractmodel")):
                continue
            tree = ast.parse(zf.read(name))
            for cls in tree.body:
                if not isinstance(cls, ast.ClassDef) or not cls.bases:
                    continue
                base = cls.bases[0]
                base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                elements: dict[str, list[object]] = {}
                for stmt in cls.body:
                    if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                        continue
                    field = stmt.target.id
                    if field.endswith("__ext") or field == "resource_type":
                        continue
                    kw = _keywords(stmt.value) if stmt.value else {}
                    alias = str(kw.get("alias", field))
                    fhir_type, array = _type(stmt.annotation)
                    entry: list[object] = [fhir_type, 1 if array else 0]
                    if "one_of_many" in kw:
                        entry.append(kw["one_of_many"])
                    elements[alias] = entry
                if cls.name in {"FHIRAbstractModel", "FHIRResourceModel"}:
                    continue
                model[cls.name] = {"base": base_name, "elements": dict(sorted(elements.items()))}
    for info in model.values():
        if info["base"] in {"FHIRAbstractModel", "FHIRResourceModel"}:
            info["base"] = None
    out = Path(__file__).resolve().parents[1] / "src" / "carelake" / "fhir" / "model" / "r4.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(sorted(model.items())), separators=(",", ":")) + "\n")
    print(f"{out}: {len(model)} types")


if __name__ == "__main__":
    main(sys.argv[1])
