"""Static checks applied in strict mode (the suite's ``mode="strict"`` tests).

Strict mode rejects what a type-checking engine would: criteria that cannot be boolean, order
dependent functions on the unordered output of children()/descendants(), and member names a
type cast makes impossible.
"""

from __future__ import annotations

from carelake.fhir.fhirpath import ast
from carelake.fhir.fhirpath.errors import FhirPathSemanticError
from carelake.fhir.fhirpath.model import known_elements

__all__ = ["check_strict"]

_ORDERED = frozenset({"first", "last", "tail", "skip", "take", "single"})
_UNORDERED = frozenset({"children", "descendants"})


def _unordered(node: ast.Node | None) -> bool:
    return isinstance(node, ast.Function) and node.name in _UNORDERED


def _cast_type(node: ast.Node) -> str | None:
    if isinstance(node, ast.TypeOp) and node.op == "as":
        return node.type.name
    if isinstance(node, ast.Function) and node.name in ("as", "ofType") and node.args:
        arg = node.args[0]
        if isinstance(arg, ast.TypeSpecifier):
            return arg.name
    return None


def _children(node: ast.Node) -> list[ast.Node]:
    if isinstance(node, ast.Member):
        return [node.target]
    if isinstance(node, ast.Function):
        return [*([node.target] if node.target is not None else []), *node.args]
    if isinstance(node, ast.Indexer):
        return [node.target, node.index]
    if isinstance(node, ast.Unary):
        return [node.operand]
    if isinstance(node, ast.Binary):
        return [node.left, node.right]
    if isinstance(node, ast.TypeOp):
        return [node.operand]
    return []


def check_strict(node: ast.Node) -> None:
    """Raise FhirPathSemanticError for constructs strict mode rejects."""
    if isinstance(node, ast.Function):
        if node.name in _ORDERED and _unordered(node.target):
            raise FhirPathSemanticError(f"{node.name}() on the unordered result of {node.target}")
        if node.name == "iif" and node.args:
            criterion = node.args[0]
            if isinstance(criterion, ast.Literal) and criterion.type not in ("boolean", "null"):
                raise FhirPathSemanticError("iif() criterion must be boolean")
    if isinstance(node, ast.Indexer) and _unordered(node.target):
        raise FhirPathSemanticError("indexer on an unordered collection")
    if isinstance(node, ast.Member):
        cast = _cast_type(node.target)
        names = known_elements(cast)
        if names is not None and node.name not in names:
            raise FhirPathSemanticError(f"{cast} has no element {node.name!r}")
    for child in _children(node):
        check_strict(child)
