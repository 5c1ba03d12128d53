"""FHIR raw store → OMOP CDM 5.4, in the warehouse, with an accounting of every resource read.

Each target is fed by a SQL-on-FHIR ViewDefinition (`mappings/<name>.view.json`, flattened into a stage schema
by the view compiler) and SQL transforms (`mappings/<name>.sql`, DuckDB dialect, transpiled for the engine).
OMOP ids come from a persistent id map (`<fhir>.omop_id_map`: kind, source id → id), so they are deterministic
and stable across loads; a new export of the same patients replaces their rows. Everything runs in one transaction.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pyarrow as pa

from carelake.fhir.view.runner import materialize_view
from carelake.harmonize.codes import CODE_SYSTEMS, FIXED_CONCEPTS
from carelake.omop.schema import create_cdm
from carelake.warehouse import Column, TableSchema, Warehouse

log = logging.getLogger(__name__)

__all__ = ["HarmonizeReport", "harmonize", "run_pipeline"]

VIEWS = ("patient", "encounter", "condition", "procedure", "medication", "medication_request",
         "medication_administration", "medication_statement", "immunization", "observation",
         "observation_component", "practitioner", "organization", "location", "device",
         "document_reference", "allergy_intolerance")  # fmt: skip
# Views read once, by the union of every event (event.prepare.sql). Where the scratch is the session's own (DuckDB's
# temp catalog) they stay live views: materialized, they would sit in memory beside that union's copy of the same rows
# for the whole run, as the run is one transaction, and past the memory limit spill to disk (harmonizing 5M: 21.7 s
# -> 17.3 s at a 2 GB limit).
EVENT_SOURCES = frozenset({"observation", "observation_component", "condition", "procedure", "immunization",
                           "medication_request", "medication_administration", "medication_statement",
                           "allergy_intolerance"})  # fmt: skip
# Resource types with a mapping; every other type read is reported as skipped, never dropped silently.
MAPPED = {"Patient", "Encounter", "Condition", "Procedure", "MedicationRequest", "MedicationAdministration",
          "MedicationStatement", "Immunization", "Observation", "Medication", "Practitioner", "Organization",
          "Location", "Device", "DocumentReference", "AllergyIntolerance"}  # fmt: skip
EVENT_TABLES = ("condition_occurrence", "procedure_occurrence", "drug_exposure", "device_exposure", "measurement",
                "observation")  # fmt: skip
TARGETS = (
    "person",
    "death",
    "visit_occurrence",
    "visit_detail",
    *EVENT_TABLES,
    "note",
    "observation_period",
    "condition_era",
    "drug_era",
)

# No primary-key index: `assign_ids` only ever adds keys that are not there (an anti-join), and keeping an index
# over millions of source ids made assigning them four times slower.
_MAP = TableSchema(
    "omop_id_map",
    (
        Column("kind", "varchar", False),
        Column("source_id", "varchar", False, compressible=False),
        Column("omop_id", "bigint", False),
    ),
    row_key=("kind", "source_id"),
)
# Stage tables only some sources fill (Synthea CSV's device encounter and STOP); created empty for the others.
_OPTIONAL_STAGE = (
    TableSchema("device_use", (Column("id", "varchar"), Column("encounter_id", "varchar"), Column("stop", "varchar"))),
)


@dataclass
class HarmonizeReport:
    """Per resource type: read, written (per OMOP table), skipped and rejected (per reason)."""

    read: Counter[str] = field(default_factory=Counter)
    written: dict[str, Counter[str]] = field(default_factory=dict)
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    # Per vocabulary (or code system URI when it has none): codes seen, mapped to a source concept, to a standard one.
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    top_unmapped: list[dict[str, Any]] = field(default_factory=list)

    def balanced(self, resource_type: str) -> bool:
        """read = written + skipped + rejected."""
        total = sum(self.written.get(resource_type, Counter()).values())
        total += sum(self.skipped.get(resource_type, Counter()).values())
        total += sum(self.rejected.get(resource_type, Counter()).values())
        return total == self.read[resource_type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resources": {
                t: {
                    "read": self.read[t],
                    "written": dict(self.written.get(t, {})),
                    "skipped": dict(self.skipped.get(t, {})),
                    "rejected": dict(self.rejected.get(t, {})),
                }
                for t in sorted(self.read)
            },
            "omop_rows": dict(self.rows),
            "vocabulary_coverage": self.coverage,
            "top_unmapped_codes": self.top_unmapped,
        }


def _sql(name: str) -> list[str]:
    text = resources.files(__package__).joinpath(f"mappings/{name}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _view(name: str) -> dict[str, Any]:
    doc = json.loads(resources.files(__package__).joinpath(f"mappings/{name}.view.json").read_text("utf-8"))
    assert isinstance(doc, dict)
    return doc


class _Run:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.stage = wh.scratch_schema(f"{wh.fhir_schema}_stage")
        self.map = f"{wh.fhir_schema}.omop_id_map"
        self.names = {"cdm": wh.cdm_schema, "stage": self.stage, "map": self.map, "temp": wh.temp_prefix(self.stage)}

    def run(self, name: str) -> None:
        for statement in _sql(name):
            self.wh.execute(statement.format(**self.names))

    def scalar(self, sql: str) -> int:
        return int(self.wh.fetch_scalar(sql.format(**self.names)) or 0)

    def assign_ids(self, kind: str, keys_sql: str) -> None:
        """Give every new source key of `kind` the next id; known keys keep theirs.

        On a first load of a kind nothing is known, and the probe of every key into the map is skipped.
        """
        known = f"SELECT source_id FROM {self.map} WHERE kind = '{kind}'"
        if self.scalar(f"SELECT count(*) FROM ({known}) AS k"):
            start = f"(SELECT coalesce(max(omop_id), 0) FROM {self.map} WHERE kind = '{kind}')"
            new = f"WHERE k.key NOT IN ({known})"
        else:
            start, new = "0", ""
        self.wh.execute(
            f"""INSERT INTO {self.map} (kind, source_id, omop_id)
            SELECT '{kind}', k.key, {start} + row_number() OVER (ORDER BY k.key)
            FROM (SELECT DISTINCT key FROM ({keys_sql.format(**self.names)}) AS s) AS k
            {new}"""
        )


def harmonize(wh: Warehouse) -> HarmonizeReport:
    """Write OMOP rows for everything in the raw FHIR store; return the accounting."""

    def fill(run: _Run) -> None:
        session_only = bool(wh.temp_prefix(run.stage))
        for name in VIEWS:
            kind = "view" if session_only and name in EVENT_SOURCES else "table"
            materialize_view(wh, _view(name), f"{run.stage}.{name}", kind=kind)

    def read(run: _Run) -> Counter[str]:
        counts: Counter[str] = Counter()
        for table in wh.list_tables(wh.fhir_schema):
            if table != _MAP.name:
                counts[_resource_name(table)] = wh.row_count(wh.fhir_schema, table)
        return counts

    return run_pipeline(wh, fill, read)


def run_pipeline(wh: Warehouse, fill: Callable[[_Run], None], read: Callable[[_Run], Counter[str]]) -> HarmonizeReport:
    """The shared path to OMOP: `fill` puts the source in the stage tables (patient, encounter, condition, ...),
    with the columns the FHIR views produce; everything after that is the same SQL for every source."""
    run = _Run(wh)
    report = HarmonizeReport()
    with wh.transaction():
        create_cdm(wh)
        wh.create_schema(wh.fhir_schema)
        wh.create_table(wh.fhir_schema, _MAP)
        wh.reset_scratch(run.stage)
        _write_code_tables(wh, run.stage)
        fill(run)
        for optional in _OPTIONAL_STAGE:
            wh.create_table(run.stage, optional)
        run.assign_ids("provider", "SELECT id AS key FROM {stage}.practitioner")
        run.assign_ids("care_site", "SELECT id AS key FROM {stage}.organization")
        run.assign_ids(
            "location",
            "SELECT 'Location/' || id AS key FROM {stage}.location UNION ALL "
            "SELECT 'Organization/' || id FROM {stage}.organization "
            "WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL UNION ALL "
            "SELECT 'Patient/' || id FROM {stage}.patient "
            "WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL",
        )
        run.run("places")
        run.assign_ids("person", "SELECT id AS key FROM {stage}.patient WHERE birth_date IS NOT NULL")
        run.run("visit.prepare")
        run.assign_ids("visit_occurrence", "SELECT visit_key AS key FROM {stage}.visit_key")
        run.assign_ids("visit_detail", "SELECT id AS key FROM {stage}.visit_key")
        run.run("event.prepare")
        for table in EVENT_TABLES:
            run.assign_ids(table, f"SELECT row_key AS key FROM {{stage}}.event_ready WHERE target_table = '{table}'")
        run.run("note.prepare")
        run.assign_ids("note", "SELECT id AS key FROM {stage}.note_ready")
        wh.execute(
            f"CREATE {run.names['temp']}TABLE {run.stage}.persons_in_load AS SELECT m.omop_id FROM {run.map} AS m "
            f"JOIN {run.stage}.patient AS p ON m.kind = 'person' AND m.source_id = p.id"
        )
        for table in TARGETS:
            in_load = f"(SELECT omop_id FROM {run.stage}.persons_in_load)"
            wh.execute(f"DELETE FROM {wh.cdm_schema}.{table} WHERE person_id IN {in_load}")
        run.run("person")
        run.run("visit_occurrence")
        run.run("event")
        run.run("note")
        run.assign_ids("observation_period", "SELECT CAST(omop_id AS VARCHAR) AS key FROM {stage}.persons_in_load")
        run.run("observation_period")
        run.run("eras")
        _write_cdm_source(wh)
        report.read = read(run)
        _account(run, report)
    # The stage is scratch; dropped after the commit (DuckDB will not drop tables created in the same transaction).
    wh.drop_scratch(run.stage)
    return report


def _write_cdm_source(wh: Warehouse) -> None:
    """One cdm_source row naming carelake as the ETL and the vocabulary version in use."""
    cdm = wh.cdm_schema
    wh.execute(f"DELETE FROM {cdm}.cdm_source")
    wh.execute(
        f"""INSERT INTO {cdm}.cdm_source (cdm_source_name, cdm_source_abbreviation, cdm_holder, source_description,
              cdm_etl_reference, source_release_date, cdm_release_date, cdm_version, cdm_version_concept_id,
              vocabulary_version)
            SELECT 'carelake harmonized FHIR', 'carelake', 'carelake user',
                   'FHIR R4 or Synthea CSV harmonized by carelake', 'carelake docs/harmonize.md',
                   CURRENT_DATE, CURRENT_DATE, '5.4', 756265,
                   coalesce((SELECT max(vocabulary_version) FROM {cdm}.vocabulary
                             WHERE vocabulary_id = 'None'), 'none')"""
    )


def _write_code_tables(wh: Warehouse, stage: str) -> None:
    systems = TableSchema("code_system", (Column("system", "varchar"), Column("vocabulary_id", "varchar")))
    fixed = TableSchema(
        "fixed_concept", (Column("value_set", "varchar"), Column("code", "varchar"), Column("concept_id", "bigint"))
    )
    wh.create_table(stage, systems)
    wh.create_table(stage, fixed)
    system_rows = [pa.array(list(CODE_SYSTEMS)), pa.array(list(CODE_SYSTEMS.values()))]
    wh.write_table(stage, systems, [pa.record_batch(system_rows, schema=systems.arrow_schema)])
    fixed_rows = [
        pa.array([f[0] for f in FIXED_CONCEPTS]),
        pa.array([f[1] for f in FIXED_CONCEPTS]),
        pa.array([f[2] for f in FIXED_CONCEPTS], pa.int64()),
    ]
    wh.write_table(stage, fixed, [pa.record_batch(fixed_rows, schema=fixed.arrow_schema)])


def _account(run: _Run, report: HarmonizeReport) -> None:
    """Count every resource read into exactly one outcome (SQL over the stage tables, nothing estimated)."""
    wh, s = run.wh, run.stage
    for name, n in report.read.items():
        if name not in MAPPED:
            report.skipped[name] = Counter({"no OMOP mapping for this resource type yet": n})
    if report.read.get("Medication"):
        # Medications are not rows of their own: their codes go into the drug exposures that reference them.
        report.skipped["Medication"] = Counter(
            {"read for the code of the medications that reference it": report.read["Medication"]}
        )
    p = run.scalar
    report.written["Patient"] = Counter({"person": p(f"SELECT count(*) FROM {s}.patient WHERE birth_date IS NOT NULL")})
    report.rejected["Patient"] = Counter(
        {
            "no birthDate (person.year_of_birth is required)": p(
                f"SELECT count(*) FROM {s}.patient WHERE birth_date IS NULL"
            )
        }
    )
    loaded = f"(SELECT source_id FROM {run.map} WHERE kind = 'person')"
    report.written["Encounter"] = Counter({"visit_detail+visit_occurrence": p(
        f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} AND start IS NOT NULL "
        "AND status IS DISTINCT FROM 'entered-in-error'")})  # fmt: skip
    report.skipped["Encounter"] = Counter({
        "subject is not a loaded Patient": p(f"SELECT count(*) FROM {s}.encounter WHERE patient_id NOT IN {loaded} "
                                             "OR patient_id IS NULL"),
        "status entered-in-error": p(f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} "
                                     "AND status = 'entered-in-error'"),
    })  # fmt: skip
    report.rejected["Encounter"] = Counter({"no period.start": p(
        f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} AND start IS NULL "
        "AND status IS DISTINCT FROM 'entered-in-error'")})  # fmt: skip
    _account_events(run, report)
    _account_notes(run, report, loaded)
    places = [("Practitioner", "practitioner", "provider"), ("Organization", "organization", "care_site"),
              ("Location", "location", "location")]  # fmt: skip
    for rtype, stage, table in places:
        report.written[rtype] = Counter({table: p(f"SELECT count(*) FROM {s}.{stage}")})
    _coverage(run, report)
    for table in TARGETS:
        report.rows[table] = wh.row_count(wh.cdm_schema, table)
    for kinds in (report.written, report.skipped, report.rejected):
        for rtype in list(kinds):
            kinds[rtype] = Counter({k: v for k, v in kinds[rtype].items() if v})


def _account_events(run: _Run, report: HarmonizeReport) -> None:
    """Each event resource lands in the table(s) of its code's domain, or is skipped or rejected with a reason
    (an event's person_id is NULL when its subject is no loaded Patient)."""
    s = run.stage
    # Counted in the warehouse: one row per (type, tables), not one per resource brought into Python.
    rows = run.wh.fetch_arrow(
        f"""SELECT resource_type, tables, count(*) AS n
            FROM (SELECT resource_type, CASE WHEN min(target_table) = max(target_table) THEN min(target_table)
                         ELSE min(target_table) || '+' || max(target_table) END AS tables
                  FROM {s}.event_ready GROUP BY resource_type, resource_id) AS per_resource
            GROUP BY resource_type, tables"""
    ).to_pylist()
    for row in rows:
        report.written.setdefault(row["resource_type"], Counter())[row["tables"]] += int(row["n"])
    outcomes = run.wh.fetch_arrow(
        f"""SELECT resource_type, CASE
                 WHEN person_id IS NULL THEN 'skipped:subject is not a loaded Patient'
                 WHEN skip_reason IS NOT NULL THEN 'skipped:' || skip_reason
                 WHEN resource_type = 'AllergyIntolerance' THEN 'rejected:no date (onsetDateTime or recordedDate)'
                 ELSE 'rejected:no date (onset, performed, authoredOn, occurrence, effective or manufactureDate)'
               END AS outcome,
               count(DISTINCT resource_id) AS n
            FROM {s}.event
            WHERE person_id IS NULL OR skip_reason IS NOT NULL OR start_text IS NULL
            GROUP BY 1, 2"""
    ).to_pylist()
    for row in outcomes:
        kind, _, reason = str(row["outcome"]).partition(":")
        target = report.skipped if kind == "skipped" else report.rejected
        target.setdefault(row["resource_type"], Counter())[reason] += int(row["n"])


def _account_notes(run: _Run, report: HarmonizeReport, loaded: str) -> None:
    """Each DocumentReference is one note, or skipped or rejected with the reason (one outcome per resource)."""
    rows = run.wh.fetch_arrow(
        f"""SELECT CASE
                 WHEN patient_id IS NULL OR patient_id NOT IN {loaded} THEN 'skipped:subject is not a loaded Patient'
                 WHEN status = 'entered-in-error' THEN 'skipped:status entered-in-error'
                 WHEN date_text IS NULL THEN 'rejected:no date (date or context.period.start)'
                 WHEN data_kind IS NULL THEN 'rejected:no text/plain attachment with data (note_text is required)'
                 WHEN data_kind = 'invalid' THEN 'rejected:attachment data is not base64'
                 ELSE 'written:note' END AS outcome, count(*) AS n
            FROM {run.stage}.note_source GROUP BY 1"""
    ).to_pylist()
    kinds = {"written": report.written, "skipped": report.skipped, "rejected": report.rejected}
    for row in rows:
        kind, _, reason = str(row["outcome"]).partition(":")
        kinds[kind].setdefault("DocumentReference", Counter())[reason] += int(row["n"])


def _coverage(run: _Run, report: HarmonizeReport, top: int = 20) -> None:
    """Mapped share per vocabulary and the most frequent codes without a concept: what to add to the vocabulary."""
    s = run.stage
    vocab = "coalesce(cs.vocabulary_id, e.code_system, '(no system)')"
    for row in run.wh.fetch_arrow(
        f"""SELECT {vocab} AS vocabulary, count(*) AS codes,
                   sum(CASE WHEN cm.source_concept_id <> 0 THEN 1 ELSE 0 END) AS source_mapped,
                   sum(CASE WHEN cm.concept_id <> 0 THEN 1 ELSE 0 END) AS standard_mapped
            FROM {s}.event AS e
            JOIN {s}.code_map AS cm
              ON cm.system_key = coalesce(e.code_system, '') AND cm.code_key = coalesce(e.code, '')
            LEFT JOIN {s}.code_system AS cs ON cs.system = e.code_system
            GROUP BY 1 ORDER BY 2 DESC"""
    ).to_pylist():
        report.coverage[str(row["vocabulary"])] = {
            k: int(row[k]) for k in ("codes", "source_mapped", "standard_mapped")
        }
    report.top_unmapped = run.wh.fetch_arrow(
        f"""SELECT {vocab} AS vocabulary, e.code, count(*) AS n
            FROM {s}.event AS e
            JOIN {s}.code_map AS cm
              ON cm.system_key = coalesce(e.code_system, '') AND cm.code_key = coalesce(e.code, '')
            LEFT JOIN {s}.code_system AS cs ON cs.system = e.code_system
            WHERE cm.concept_id = 0 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT {top}"""
    ).to_pylist()


def _resource_name(table: str) -> str:
    from carelake.fhir.model import r4

    return next((t for t in r4().resource_types() if t.lower() == table), table)
