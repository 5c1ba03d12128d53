"""Probes and how they render: two SQL aggregates over a shared source, with `@cdm.` / `@results.` resolved.

A `Probe` is two aggregate expressions over a FROM clause. Probes over the same source run as one statement
(one scan of a table answers every field check on it); every probe also renders alone, for the conformance kit
and for isolating a failing check. This module knows nothing of the catalogue; probes.py builds probes from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carelake.omop.schema import table_by_name
from carelake.warehouse import Warehouse, quote

__all__ = ["Probe", "render_batch", "render_probe", "resolve_schemas", "table_ref"]

# Row-preserving LEFT JOINs a table scan may need (each joins a unique key, so counts stay per record).
_JOINS = {
    "p": "LEFT JOIN @cdm.person p ON t.person_id = p.person_id",
    "de": "LEFT JOIN (SELECT person_id, MIN(death_date) AS death_date FROM @cdm.death GROUP BY person_id) de "
    "ON t.person_id = de.person_id",
    "vo": "LEFT JOIN @cdm.visit_occurrence vo ON t.visit_occurrence_id = vo.visit_occurrence_id",
}


@dataclass(frozen=True)
class Probe:
    """`violated` and `denominator` aggregate over `source` (a CDM table aliased t plus `joins`, or raw SQL)."""

    violated: str
    denominator: str
    table: str | None = None
    joins: tuple[str, ...] = ()
    source: str | None = None
    structural: bool = False

    @property
    def batch_key(self) -> str:
        return self.source if self.source is not None else f"table:{self.table}"


def table_ref(table: str) -> str:
    """`@cdm.x` or `@results.x` for a CDM table, by the schema carelake keeps it in."""
    spec = table_by_name(table)
    return f"@{'results' if spec is not None and spec.role == 'results' else 'cdm'}.{table}"


def _join_sql(key: str) -> str:
    if key in _JOINS:
        return _JOINS[key]
    kind, fld, *rest = key.split(":")
    if kind == "c":
        return f"LEFT JOIN @cdm.concept c_{fld} ON t.{fld} = c_{fld}.concept_id"
    fk_table, fk_field, unique = rest
    target = f"{table_ref(fk_table)}" if unique == "1" else f"(SELECT DISTINCT {fk_field} FROM {table_ref(fk_table)})"
    return f"LEFT JOIN {target} fk_{fld} ON t.{fld} = fk_{fld}.{fk_field}"


def resolve_schemas(sql: str, warehouse: Warehouse) -> str:
    """`@cdm.` and `@results.` replaced by the warehouse's schema names."""
    return sql.replace("@cdm.", f"{quote(warehouse.cdm_schema)}.").replace(
        "@results.", f"{quote(warehouse.results_schema)}."
    )


def _from(probes: Iterable[Probe]) -> str:
    probes = list(probes)
    first = probes[0]
    if first.source is not None:
        return first.source
    joins: list[str] = []
    for p in probes:
        joins.extend(j for j in p.joins if j not in joins)
    return " ".join([f"{table_ref(first.table or '')} t", *(_join_sql(j) for j in joins)])


def render_batch(probes: list[Probe], warehouse: Warehouse) -> str:
    """One SELECT computing v0, d0, v1, d1, ... for probes that share a source."""
    cols = ", ".join(f"{p.violated} AS v{i}, {p.denominator} AS d{i}" for i, p in enumerate(probes))
    return resolve_schemas(f"SELECT {cols} FROM {_from(probes)}", warehouse)


def render_probe(probe: Probe, warehouse: Warehouse) -> str:
    """The probe alone: SELECT num_violated_rows, num_denominator_rows FROM its source."""
    return resolve_schemas(
        f"SELECT {probe.violated} AS num_violated_rows, {probe.denominator} AS num_denominator_rows "
        f"FROM {_from([probe])}",
        warehouse,
    )
