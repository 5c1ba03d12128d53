"""Circe's range and text filters as canonical SQL (the fragments every stage uses live in warehouse/fragments.py)."""

from __future__ import annotations

from carelake.cohorts.model import DateRange, NumericRange, TextFilter
from carelake.warehouse import date_literal

__all__ = ["date_range", "numeric_range", "text_filter"]

_OPS = {"lt": "<", "lte": "<=", "eq": "=", "!eq": "<>", "gt": ">", "gte": ">="}


def date_range(expr: str, rng: DateRange) -> str:
    if rng.op.endswith("bt"):
        assert rng.extent is not None
        clause = f"({expr} >= {date_literal(rng.value)} AND {expr} <= {date_literal(rng.extent)})"
        return f"NOT {clause}" if rng.op.startswith("!") else clause
    return f"{expr} {_OPS[rng.op]} {date_literal(rng.value)}"


def _num(value: float, integer: bool) -> str:
    # circe truncates integer ranges (Java intValue) and prints decimal ones with 4 places.
    return str(int(value)) if integer else f"{value:.4f}"


def numeric_range(expr: str, rng: NumericRange, *, integer: bool) -> str:
    if rng.op.endswith("bt"):
        assert rng.extent is not None
        clause = f"({expr} >= {_num(rng.value, integer)} AND {expr} <= {_num(rng.extent, integer)})"
        return f"NOT {clause}" if rng.op.startswith("!") else clause
    return f"{expr} {_OPS[rng.op]} {_num(rng.value, integer)}"


def text_filter(expr: str, flt: TextFilter) -> str:
    negate = "NOT " if flt.op.startswith("!") else ""
    prefix = "%" if flt.op.endswith(("endsWith", "contains")) else ""
    suffix = "%" if flt.op.endswith(("startsWith", "contains")) else ""
    text = flt.text.replace("'", "''")
    return f"{expr} {negate}LIKE '{prefix}{text}{suffix}'"
