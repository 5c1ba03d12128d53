"""The OMOP CDM 5.4 schema, generated from the official field-level spec rather than typed in by hand."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from carelake.warehouse import Column, ColumnKind, TableSchema, Warehouse

__all__ = ["CDM_VERSION", "CdmTable", "cdm_tables", "create_cdm", "schema_for", "spec_width", "table_by_name"]

CDM_VERSION = "5.4"

# Tables without a primary key still need an identity so that re-loading the same rows replaces them.
_NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "death": ("person_id",),
    "fact_relationship": (
        "domain_concept_id_1",
        "fact_id_1",
        "domain_concept_id_2",
        "fact_id_2",
        "relationship_concept_id",
    ),
    "episode_event": ("episode_id", "event_id", "episode_event_field_concept_id"),
    "cdm_source": ("cdm_source_name",),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id"),
    "concept_synonym": ("concept_id", "concept_synonym_name", "language_concept_id"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "source_to_concept_map": ("source_code", "source_vocabulary_id", "target_concept_id", "valid_end_date"),
    "drug_strength": ("drug_concept_id", "ingredient_concept_id"),
    "cohort": ("cohort_definition_id", "subject_id", "cohort_start_date", "cohort_end_date"),
    "cohort_definition": ("cohort_definition_id",),
}

# Secondary indexes where an engine has them: what OHDSI's own index script covers, trimmed to lookups
# every analysis makes (by person, by concept, by the vocabulary's join columns).
_EXTRA_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "concept": (("concept_code",), ("vocabulary_id",), ("domain_id",)),
    "concept_relationship": (("concept_id_1",), ("concept_id_2",)),
    "concept_ancestor": (("ancestor_concept_id",), ("descendant_concept_id",)),
    "concept_synonym": (("concept_id",),),
    "drug_strength": (("drug_concept_id",),),
    "cohort": (("subject_id",), ("cohort_definition_id",)),
}

_VARCHAR = re.compile(r"varchar\((\d+|max)\)", re.I)
_ID = re.compile(r"_id(_\d+)?$")


@dataclass(frozen=True)
class CdmTable:
    """A CDM table and where it lives: 'cdm' (clinical and vocabulary) or 'results' (cohorts)."""

    schema: TableSchema
    role: str
    required: bool
    vocabulary: bool = False  # the spec's VOCAB tables: the same at every site, no person's data

    @property
    def name(self) -> str:
        return self.schema.name


def _kind(name: str, datatype: str) -> tuple[ColumnKind, int | None]:
    dt = datatype.strip().lower()
    if dt == "integer":
        # Every id is 64-bit: exports made on BigQuery or Spark hash ids beyond 32 bits (fact_id_1, concept_id_2, ...).
        return ("bigint" if _ID.search(name) else "integer"), None
    if dt == "float":
        return "double", None
    if dt == "date":
        return "date", None
    if dt == "datetime":
        return "timestamp", None
    m = _VARCHAR.fullmatch(dt)
    if m:
        return "varchar", None if m.group(1).lower() == "max" else int(m.group(1))
    raise ValueError(f"unknown CDM datatype {datatype!r} for {name}")


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("carelake.omop").joinpath("spec").joinpath(name).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def cdm_tables() -> tuple[CdmTable, ...]:
    """Every CDM 5.4 table in the spec's order."""
    fields = _read("OMOP_CDMv5.4_Field_Level.csv")
    tables = _read("OMOP_CDMv5.4_Table_Level.csv")
    out: list[CdmTable] = []
    for t in tables:
        name = t["cdmTableName"].strip().lower()
        cols: list[Column] = []
        pk: list[str] = []
        for f in fields:
            if f["cdmTableName"].strip().lower() != name:
                continue
            col = f["cdmFieldName"].strip().strip('"').lower()  # the spec quotes "offset"
            kind, length = _kind(col, f["cdmDatatype"])
            cols.append(Column(col, kind, nullable=f["isRequired"].strip() != "Yes", length=length))
            if f["isPrimaryKey"].strip() == "Yes":
                pk.append(col)
        names = {c.name for c in cols}
        indexes: list[tuple[str, ...]] = []
        if "person_id" in names and pk != ["person_id"]:
            indexes.append(("person_id",))
        main_concept = f"{name.removesuffix('_occurrence').removesuffix('_exposure')}_concept_id"
        if main_concept in names and name != "concept":
            indexes.append((main_concept,))
        indexes.extend(_EXTRA_INDEXES.get(name, ()))
        schema = TableSchema(
            name=name,
            columns=tuple(cols),
            primary_key=tuple(pk),
            row_key=tuple(pk) or _NATURAL_KEYS.get(name, ()),
            indexes=tuple(indexes),
        )
        role = "results" if t["schema"].strip().upper() == "RESULTS" else "cdm"
        vocabulary = t["schema"].strip().upper() == "VOCAB"
        out.append(CdmTable(schema, role, t["isRequired"].strip() == "Yes", vocabulary))
    return tuple(out)


def table_by_name(name: str) -> CdmTable | None:
    """The CDM table called `name` (any case), or None."""
    wanted = name.strip().lower()
    for t in cdm_tables():
        if t.name == wanted:
            return t
    return None


def spec_width(table: str, column: str) -> int | None:
    """The VARCHAR width the spec gives `table.column` (None: not text, unbounded, or no such column)."""
    spec = table_by_name(table)
    wanted = column.strip().strip('"').lower()
    if spec is None or wanted not in spec.schema.column_names:
        return None
    return spec.schema.column(wanted).length


def schema_for(wh: Warehouse, table: CdmTable) -> str:
    """The warehouse schema that holds `table`."""
    return wh.results_schema if table.role == "results" else wh.cdm_schema


def create_cdm(wh: Warehouse) -> list[str]:
    """Create both schemas and every CDM table that is missing; idempotent. Returns tables created."""
    created: list[str] = []
    with wh.transaction():
        for name in {wh.cdm_schema, wh.results_schema}:
            wh.create_schema(name)
        existing = {s: set(wh.list_tables(s)) for s in (wh.cdm_schema, wh.results_schema)}
        for table in cdm_tables():
            schema = schema_for(wh, table)
            if table.name not in existing[schema]:
                wh.create_table(schema, table.schema)
                created.append(f"{schema}.{table.name}")
    return created
