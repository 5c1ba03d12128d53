"""The Python fallback: a FHIRPath expression SQL cannot express runs in the FHIRPath engine, for that one path.

The warehouse calls `carelake_fhirpath(context_json, expression, variables_json)` row by row and gets a JSON array
back, which the compiled SQL then treats like any other collection. Only engines that run Python functions in SQL
(DuckDB, embedded in this process) can do this; elsewhere the view fails with a clear message.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

from carelake.fhir.fhirpath import Date, DateTime, FhirPathError, Quantity, Time, evaluate

__all__ = ["FUNCTION_NAME", "fhirpath_json"]

FUNCTION_NAME = "carelake_fhirpath"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, Quantity):
        return {"value": _default(value.value), "unit": value.unit}
    if isinstance(value, (Date, DateTime, Time, dt.date, dt.time)):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


@lru_cache(maxsize=256)
def _variables(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def fhirpath_json(context: str | None, expression: str | None, variables: str | None) -> str | None:
    """Evaluate `expression` on one JSON value; the result collection as a JSON array (NULL input: empty)."""
    if expression is None:
        return None
    if context is None:
        return "[]"
    try:
        result = evaluate(json.loads(context), expression, _variables(variables))
    except FhirPathError as e:
        raise ValueError(f"FHIRPath {expression!r}: {e}") from e
    return json.dumps(result, default=_default, separators=(",", ":"))
