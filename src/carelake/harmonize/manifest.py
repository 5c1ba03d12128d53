"""The harmonization manifest: every stage table, where its columns are declared, and the steps from stage to OMOP.

A stage table is the shape one kind of record takes before the shared SQL turns it into OMOP rows. A FHIR stage
table is declared by its SQL-on-FHIR ViewDefinition (`mappings/<name>.view.json`: the view's columns are the
table's columns, their types the view's `type`, else text); a source with records FHIR has no place for declares
its own columns here. Every source fills the stage tables it has (`Source`); the others are created empty, so the
shared SQL reads the same tables whatever the source.

Adding a FHIR resource type is one `StageTable` entry, its view, and its SQL (for an event: a branch of
`event.prepare.sql`; it is then written, skipped and rejected by the same rules as every other event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from carelake.fhir.view.definition import ViewDefinition, ViewSelect, parse_view
from carelake.warehouse import Column, ColumnKind, TableSchema

__all__ = [
    "EVENT_TABLES",
    "STAGE_TABLES",
    "STEPS",
    "TARGETS",
    "AssignIds",
    "Replace",
    "RunSql",
    "StageTable",
    "mapped_resource_types",
    "sql_statements",
    "stage_table",
]

# A view column's FHIR type → the stage column's kind; a column without a declared type is text.
_KINDS: dict[str, ColumnKind] = {"decimal": "double", "integer": "bigint", "boolean": "boolean"}


@dataclass(frozen=True)
class StageTable:
    """One stage table.

    `view`: the FHIR stage table is this ViewDefinition's rows (None: only sources that have such records fill it,
    with `columns`). `read_once`: read by one statement only (the union of every event), so where scratch is the
    session's own it can stay a live view instead of a second copy of its rows. `written_to`: the OMOP table each
    row becomes one row of, for tables accounted row for row (the reference data: providers, care sites, places).
    """

    name: str
    view: bool = True
    read_once: bool = False
    written_to: str | None = None
    own_columns: tuple[Column, ...] = ()

    @property
    def definition(self) -> ViewDefinition:
        return _view(self.name)

    @property
    def resource_type(self) -> str | None:
        """The FHIR resource type the view reads (None for a table no view fills)."""
        return _view(self.name).resource if self.view else None

    @property
    def schema(self) -> TableSchema:
        """The table's columns, from its view (in the view's order) or as declared."""
        if not self.view:
            return TableSchema(self.name, self.own_columns)
        return TableSchema(self.name, tuple(_view_columns(_view(self.name))))


STAGE_TABLES: tuple[StageTable, ...] = (
    StageTable("patient"),
    StageTable("encounter"),
    StageTable("condition", read_once=True),
    StageTable("procedure", read_once=True),
    StageTable("medication"),
    StageTable("medication_request", read_once=True),
    StageTable("medication_administration", read_once=True),
    StageTable("medication_statement", read_once=True),
    StageTable("immunization", read_once=True),
    StageTable("observation", read_once=True),
    StageTable("observation_component", read_once=True),
    StageTable("practitioner", written_to="provider"),
    StageTable("organization", written_to="care_site"),
    StageTable("location", written_to="location"),
    StageTable("device"),
    StageTable("document_reference"),
    StageTable("allergy_intolerance", read_once=True),
    # Synthea CSV's device use (devices.csv ENCOUNTER and STOP), which FHIR R4's Device has no place for.
    StageTable(
        "device_use",
        view=False,
        own_columns=(Column("id", "varchar"), Column("encounter_id", "varchar"), Column("stop", "varchar")),
    ),
)

# The OMOP tables events are routed to (by their code's domain, else their resource type).
EVENT_TABLES = ("condition_occurrence", "procedure_occurrence", "drug_exposure", "device_exposure", "measurement",
                "observation")  # fmt: skip
# Every OMOP table the run writes: the rows of each person in the load are replaced in all of them.
TARGETS = ("person", "death", "visit_occurrence", "visit_detail", *EVENT_TABLES, "note", "observation_period",
           "condition_era", "drug_era")  # fmt: skip


@dataclass(frozen=True)
class AssignIds:
    """Give every new source key of `kind` an OMOP id (`keys`: SQL giving the keys as `key`)."""

    kind: str
    keys: str


@dataclass(frozen=True)
class RunSql:
    """Run `mappings/<name>.sql`."""

    name: str


@dataclass(frozen=True)
class Replace:
    """Delete the rows of every person in the load from every target table, before they are written again."""


Step = AssignIds | RunSql | Replace

# From the stage tables to OMOP, in order. Ids are assigned before the SQL that reads them.
STEPS: tuple[Step, ...] = (
    AssignIds("provider", "SELECT id AS key FROM {stage}.practitioner"),
    AssignIds("care_site", "SELECT id AS key FROM {stage}.organization"),
    AssignIds(
        "location",
        "SELECT 'Location/' || id AS key FROM {stage}.location UNION ALL "
        "SELECT 'Organization/' || id FROM {stage}.organization "
        "WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL UNION ALL "
        "SELECT 'Patient/' || id FROM {stage}.patient "
        "WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL",
    ),
    RunSql("places"),
    AssignIds("person", "SELECT id AS key FROM {stage}.patient WHERE birth_date IS NOT NULL"),
    RunSql("visit.prepare"),
    AssignIds("visit_occurrence", "SELECT visit_key AS key FROM {stage}.visit_key"),
    AssignIds("visit_detail", "SELECT id AS key FROM {stage}.visit_key"),
    RunSql("event.prepare"),
    *(
        AssignIds(table, f"SELECT row_key AS key FROM {{stage}}.event_ready WHERE target_table = '{table}'")
        for table in EVENT_TABLES
    ),
    RunSql("note.prepare"),
    AssignIds("note", "SELECT id AS key FROM {stage}.note_ready"),
    RunSql("persons_in_load"),
    Replace(),
    RunSql("person"),
    RunSql("visit_occurrence"),
    RunSql("event"),
    RunSql("note"),
    AssignIds("observation_period", "SELECT CAST(omop_id AS VARCHAR) AS key FROM {stage}.persons_in_load"),
    RunSql("observation_period"),
    RunSql("eras"),
)


def stage_table(name: str) -> StageTable:
    """The manifest entry for stage table `name` (KeyError names the ones there are)."""
    for table in STAGE_TABLES:
        if table.name == name:
            return table
    raise KeyError(f"no stage table {name!r}; the manifest has {', '.join(t.name for t in STAGE_TABLES)}")


def mapped_resource_types() -> frozenset[str]:
    """FHIR resource types with a mapping: every other type read is reported as skipped, never dropped silently."""
    return frozenset(t.resource_type for t in STAGE_TABLES if t.resource_type is not None)


@cache
def sql_statements(name: str) -> tuple[str, ...]:
    """The statements of `mappings/<name>.sql` (DuckDB dialect, `{stage}`-style names), comments dropped."""
    text = resources.files(__package__).joinpath(f"mappings/{name}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


@cache
def _view(name: str) -> ViewDefinition:
    doc: Any = json.loads(resources.files(__package__).joinpath(f"mappings/{name}.view.json").read_text("utf-8"))
    return parse_view(doc)


def _view_columns(view: ViewDefinition) -> list[Column]:
    def walk(sel: ViewSelect) -> list[Column]:
        cols = [Column(c.name, _KINDS.get(c.type or "", "varchar")) for c in sel.columns]
        for sub in sel.selects:
            cols += walk(sub)
        if sel.union_all:
            cols += walk(sel.union_all[0])
        return cols

    return [c for sel in view.select for c in walk(sel)]
