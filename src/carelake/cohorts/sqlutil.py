"""Small SQL fragments in canonical (DuckDB) SQL that SQLGlot renders correctly for PostgreSQL and Spark."""

from __future__ import annotations

from carelake.cohorts.model import DateRange, NumericRange, TextFilter

__all__ = ["date_add", "date_literal", "date_range", "id_list", "numeric_range", "text_filter"]

_OPS = {"lt": "<", "lte": "<=", "eq": "=", "!eq": "<>", "gt": ">", "gte": ">="}


def date_add(expr: str, days: int) -> str:
    """`expr` shifted by a constant number of days, still a DATE.

    A literal interval is used because SQLGlot drops the sign of ``INTERVAL (-n) DAY`` when writing PostgreSQL.
    """
    if days == 0:
        return expr
    sign = "+" if days > 0 else "-"
    return f"CAST({expr} {sign} INTERVAL '{abs(days)}' DAY AS DATE)"


def date_literal(value: str) -> str:
    return f"CAST('{value}' AS DATE)"


def id_list(ids: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


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
