"""What a warehouse holds: CDM tables, row counts, CDM version."""

from __future__ import annotations

from dataclasses import dataclass, field

from carelake.omop.schema import CDM_VERSION, cdm_tables, schema_for
from carelake.warehouse import Warehouse, quote

__all__ = ["WarehouseInfo", "describe"]


@dataclass
class WarehouseInfo:
    """Row counts per `schema.table`; `cdm_version` is the schema's, `source_cdm_version` what cdm_source says."""

    url: str
    backend: str
    cdm_version: str | None
    source_cdm_version: str | None
    tables: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "backend": self.backend,
            "cdm_version": self.cdm_version,
            "source_cdm_version": self.source_cdm_version,
            "tables": self.tables,
        }


def describe(wh: Warehouse) -> WarehouseInfo:
    """Count rows of every CDM table present, in one query."""
    present = {s: set(wh.list_tables(s)) for s in {wh.cdm_schema, wh.results_schema}}
    found = [(schema_for(wh, t), t.name) for t in cdm_tables()]
    found = [(s, n) for s, n in found if n in present[s]]
    info = WarehouseInfo(
        url=wh.url.raw,
        backend=wh.url.backend,
        cdm_version=CDM_VERSION if found else None,
        source_cdm_version=None,
    )
    if not found:
        return info
    union = " UNION ALL ".join(f"SELECT '{s}.{n}' AS name, COUNT(*) AS n FROM {quote(s)}.{quote(n)}" for s, n in found)
    for row in wh.fetch_arrow(union).to_pylist():
        info.tables[str(row["name"])] = int(row["n"])
    if info.tables.get(f"{wh.cdm_schema}.cdm_source"):
        info.source_cdm_version = wh.fetch_scalar(f"SELECT MAX(cdm_version) FROM {quote(wh.cdm_schema)}.cdm_source")
    return info
