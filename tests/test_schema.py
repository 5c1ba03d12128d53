"""The CDM schema is generated from the official spec: every table, 64-bit ids, keys, idempotent init."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from carelake.omop.schema import cdm_tables, create_cdm, table_by_name
from carelake.warehouse import PrimaryKeyViolation, Warehouse


def test_every_table_and_field_of_the_spec_is_there() -> None:
    text = resources.files("carelake.omop").joinpath("spec").joinpath("OMOP_CDMv5.4_Field_Level.csv")
    rows = list(csv.DictReader(text.read_text(encoding="utf-8-sig").splitlines()))
    tables = {t.name: t for t in cdm_tables()}
    assert len(tables) == 39
    assert sum(len(t.schema.columns) for t in tables.values()) == len(rows) == 432
    person = tables["person"].schema
    assert person.primary_key == ("person_id",)
    assert person.column("person_id").kind == "bigint" and not person.column("person_id").nullable
    assert person.column("year_of_birth").kind == "integer"
    assert tables["note_nlp"].schema.column("offset").kind == "varchar"  # spec writes it quoted


def test_every_integer_id_is_bigint() -> None:
    for table in cdm_tables():
        for col in table.schema.columns:
            if col.name.endswith("_id") and col.kind in ("integer", "bigint"):
                assert col.kind == "bigint", f"{table.name}.{col.name}"


def test_tables_without_primary_key_have_a_row_key() -> None:
    for table in cdm_tables():
        assert table.schema.row_key, table.name
        for key in table.schema.row_key:
            assert not table.schema.column(key).nullable, f"{table.name}.{key} is nullable"


def test_results_tables_go_to_results_schema() -> None:
    cohort = table_by_name("COHORT")
    assert cohort is not None and cohort.role == "results"
    assert table_by_name("concept") is not None and table_by_name("nope") is None


def test_init_is_idempotent(warehouse: Warehouse) -> None:
    created = create_cdm(warehouse)
    assert len(created) == 39
    assert create_cdm(warehouse) == []
    assert "person" in warehouse.list_tables(warehouse.cdm_schema)
    assert warehouse.list_tables(warehouse.results_schema) == ["cohort", "cohort_definition"]


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_primary_keys_are_enforced_where_the_engine_has_them(warehouse: Warehouse) -> None:
    create_cdm(warehouse)
    warehouse.execute(f"INSERT INTO {warehouse.cdm_schema}.domain VALUES ('X', 'x', 0)")
    with pytest.raises(PrimaryKeyViolation, match="duplicate primary key"):
        warehouse.execute(f"INSERT INTO {warehouse.cdm_schema}.domain VALUES ('X', 'y', 0)")


def test_event_domains_name_columns_the_spec_has() -> None:
    from carelake.omop.domains import EVENT_DOMAINS, event_domain

    for d in EVENT_DOMAINS.values():
        spec = table_by_name(d.table)
        assert spec is not None, d.table
        named = [d.id, d.concept, d.start_date, d.end_date, d.source_value, d.source_concept, d.type_concept]
        assert {c for c in named if c} <= set(spec.schema.column_names), d.table
        assert d.start_datetime in spec.schema.column_names
    assert event_domain("drug_exposure").start_date == "drug_exposure_start_date"
    with pytest.raises(KeyError, match="not an event table"):
        event_domain("concept")
