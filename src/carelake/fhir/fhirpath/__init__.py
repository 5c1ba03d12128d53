"""FHIRPath (N1 normative + FHIR R4 additions) for carelake: parser, AST and evaluator.

``parse(text)`` gives the AST (:mod:`carelake.fhir.fhirpath.ast`, shared with the SQL compiler);
``evaluate(resource, expression)`` runs an expression on a resource parsed from JSON.

Result values: FHIR elements come back as their JSON values (str/bool/int/Decimal for
primitives -- JSON floats become Decimal -- and dict for complex elements; a primitive that only
has extensions comes back as its ``_name`` dict). Values computed by the expression are System
values: str, bool, int, Decimal, :class:`Quantity`, and :class:`Date`, :class:`DateTime`,
:class:`Time` (``str()`` gives ISO text, e.g. ``'2015-02-04T14:34:28+10:00'``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from carelake.fhir.fhirpath.ast import Node
from carelake.fhir.fhirpath.context import Context, Environment, Fn
from carelake.fhir.fhirpath.errors import (
    FhirPathError,
    FhirPathExecutionError,
    FhirPathSemanticError,
    FhirPathSyntaxError,
)
from carelake.fhir.fhirpath.evaluator import compile_expression, wrap_input
from carelake.fhir.fhirpath.parser import parse_expression
from carelake.fhir.fhirpath.quantity import Quantity
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time
from carelake.fhir.fhirpath.values import to_output

__all__ = [
    "Date",
    "DateTime",
    "FhirPathError",
    "FhirPathExecutionError",
    "FhirPathSemanticError",
    "FhirPathSyntaxError",
    "Quantity",
    "Time",
    "evaluate",
    "evaluate_items",
    "parse",
]


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse a FHIRPath expression (cached); raises FhirPathSyntaxError with the offset."""
    return parse_expression(text)


@lru_cache(maxsize=4096)
def _compiled_text(text: str, strict: bool) -> Fn:
    # keyed by text: hashing a string is much cheaper than hashing a nested AST
    return compile_expression(parse(text), strict)


def evaluate(
    resource: Any,
    expression: str | Node,
    variables: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
) -> list[Any]:
    """Evaluate ``expression`` with ``resource`` (a JSON dict, a list, or None) as the input.

    ``variables`` supplies ``%name`` values (a list is a collection). ``strict`` turns on the
    checks the spec's strict mode asks for (wrong resource type at the root, ...).
    """
    return [to_output(item) for item in evaluate_items(resource, expression, variables, strict=strict)]


def evaluate_items(
    resource: Any,
    expression: str | Node,
    variables: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
) -> list[Any]:
    """Like :func:`evaluate` but keeps the typed items (model Elements) for callers that need FHIR types."""
    run = _compiled_text(expression, strict) if isinstance(expression, str) else compile_expression(expression, strict)
    focus = wrap_input(resource)
    env_vars = {name: wrap_input(value) for name, value in variables.items()} if variables else _NO_VARIABLES
    return run(Context(Environment(env_vars, focus, strict), focus))


_NO_VARIABLES: Mapping[str, list[Any]] = {}
