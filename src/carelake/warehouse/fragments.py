"""Canonical (DuckDB) SQL fragments that several stages compose and SQLGlot renders for every engine."""

from __future__ import annotations

__all__ = ["date_add", "date_literal", "id_list"]


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
