"""What a source adapter gives harmonization: its records in the stage tables, and how many it read.

Everything after staging (ids, OMOP rows, eras, the accounting of every record) is the same SQL for every source,
so a source is small: FHIR's raw store is below; Synthea CSV (`carelake.sources.synthea`) is another. Wearables
and questionnaires will be the next.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol, runtime_checkable

from carelake.harmonize.manifest import STAGE_TABLES
from carelake.harmonize.stage import ID_MAP, Stage

__all__ = ["FhirStore", "Source"]


@runtime_checkable
class Source(Protocol):
    """A source of records for harmonization.

    `description` goes into cdm_source.source_description. `stage` fills the stage tables it has records for
    (`Stage.write`, or `Stage.materialize` for FHIR views); the rest are created empty. `read` counts every record
    read, per label (a FHIR resource type, or a file the source has no mapping for): each is then accounted as
    written, skipped or rejected, and the counts must add up.
    """

    description: str

    def stage(self, stage: Stage) -> None: ...

    def read(self, stage: Stage) -> Counter[str]: ...


class FhirStore:
    """The raw FHIR store of the warehouse (`carelake load fhir` stages files into it)."""

    description = "FHIR R4 harmonized by carelake"

    def stage(self, stage: Stage) -> None:
        for table in STAGE_TABLES:
            if table.view:
                stage.materialize(table.name)

    def read(self, stage: Stage) -> Counter[str]:
        wh = stage.warehouse
        counts: Counter[str] = Counter()
        for table in wh.list_tables(wh.fhir_schema):
            if table != ID_MAP.name:
                counts[_resource_name(table)] = wh.row_count(wh.fhir_schema, table)
        return counts


def _resource_name(table: str) -> str:
    """The resource type a raw table holds (tables are its lower-cased name)."""
    from carelake.fhir.model import r4

    return next((t for t in r4().resource_types() if t.lower() == table), table)
