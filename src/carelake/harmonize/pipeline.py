"""Records of a source → OMOP CDM 5.4, in the warehouse, with an accounting of every record read.

A source (`Source`: the raw FHIR store by default, Synthea CSV, ...) fills the stage tables of the manifest; the
manifest's steps then run the same SQL for every source (`mappings/<name>.sql`, DuckDB dialect, transpiled for the
engine). OMOP ids come from a persistent id map (`<fhir>.omop_id_map`: kind, source id → id), so they are
deterministic and stable across loads; a new export of the same patients replaces their rows. Everything runs in one
transaction.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from carelake.harmonize.accounting import HarmonizeReport, account
from carelake.harmonize.codes import CODE_SYSTEMS, FIXED_CONCEPTS
from carelake.harmonize.manifest import STAGE_TABLES, STEPS, TARGETS, AssignIds, Replace, RunSql
from carelake.harmonize.source import FhirStore, Source
from carelake.harmonize.stage import ID_MAP, Stage
from carelake.omop.schema import create_cdm
from carelake.warehouse import Column, TableSchema, Warehouse

log = logging.getLogger(__name__)

__all__ = ["harmonize"]


def harmonize(wh: Warehouse, source: Source | None = None) -> HarmonizeReport:
    """Write OMOP rows for everything in `source` (default: the raw FHIR store); return the accounting."""
    source = source or FhirStore()
    stage = Stage(wh)
    report = HarmonizeReport()
    with wh.transaction():
        create_cdm(wh)
        wh.create_schema(wh.fhir_schema)
        wh.create_table(wh.fhir_schema, ID_MAP)
        wh.reset_scratch(stage.schema)
        _write_code_tables(wh, stage.schema)
        source.stage(stage)
        for table in STAGE_TABLES:
            if table.name not in stage.filled:
                stage.create_empty(table.name)
        stage.set_aside_bad_dates()
        for step in STEPS:
            log.debug("harmonize step %s", step)
            if isinstance(step, AssignIds):
                stage.assign_ids(step.kind, step.keys)
            elif isinstance(step, RunSql):
                stage.run(step.name)
            elif isinstance(step, Replace):
                for target in TARGETS:
                    wh.execute(
                        f"DELETE FROM {wh.cdm_schema}.{target} "
                        f"WHERE person_id IN (SELECT omop_id FROM {stage.schema}.persons_in_load)"
                    )
        _write_cdm_source(wh, source.description)
        report.read = source.read(stage)
        account(stage, report)
    # The stage is scratch; dropped after the commit (DuckDB will not drop tables created in the same transaction).
    wh.after_transaction(lambda: wh.drop_scratch(stage.schema))
    return report


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_cdm_source(wh: Warehouse, description: str) -> None:
    """One cdm_source row naming carelake as the ETL and the vocabulary version in use."""
    cdm = wh.cdm_schema
    wh.execute(f"DELETE FROM {cdm}.cdm_source")
    wh.execute(
        f"""INSERT INTO {cdm}.cdm_source (cdm_source_name, cdm_source_abbreviation, cdm_holder, source_description,
              cdm_etl_reference, source_release_date, cdm_release_date, cdm_version, cdm_version_concept_id,
              vocabulary_version)
            SELECT 'carelake harmonized FHIR', 'carelake', 'carelake user',
                   {_literal(description)}, 'carelake docs/harmonize.md',
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
