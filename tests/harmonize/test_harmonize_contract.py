"""The harmonize contract: the manifest declares every stage table and step, and a source written outside harmonize
plugs in through the public `Source` protocol alone (here a small patient-reported-outcome source)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

import carelake
from carelake.fhir import stage_fhir
from carelake.harmonize import FhirStore, Source, Stage, StageError, harmonize
from carelake.harmonize.manifest import STAGE_TABLES, STEPS, RunSql, mapped_resource_types, stage_table
from carelake.sources.synthea import SyntheaCsv
from carelake.warehouse import Warehouse
from engines import engines

ENGINES = engines(spark="never: test_harmonize_engines runs both built-in sources on Spark against DuckDB, row by row")
MAPPINGS = Path(__file__).resolve().parents[2] / "src" / "carelake" / "harmonize" / "mappings"
BUNDLES = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir" / "mcode"
PAIN = "72514-3"  # LOINC: pain severity 0-10, verbal numeric rating, reported


class PainDiary:
    """Patients and their reported pain scores, staged through the public API only."""

    description = "pain diary harmonized by carelake"

    def stage(self, stage: Stage) -> None:
        stage.write(
            "patient",
            pa.table({"id": ["p1", "p2"], "gender": ["female", "male"], "birth_date": ["1961-04-02", None]}),
        )
        stage.write(
            "observation",
            pa.table(
                {
                    "id": ["s1", "s2", "s3"],
                    "patient_id": ["p1", "p1", "p9"],
                    "code_system": ["http://loinc.org"] * 3,
                    "code": [PAIN] * 3,
                    "effective": ["2024-03-01T08:00:00Z", "2024-03-02T08:00:00Z", "2024-03-02T09:00:00Z"],
                    "status": ["final"] * 3,
                    "category": ["survey"] * 3,
                    "value_number": [4.0, 7.0, 2.0],
                }
            ),
        )

    def read(self, stage: Stage) -> Counter[str]:
        return Counter({"Patient": 2, "Observation": 3})


def test_builtin_sources_satisfy_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text("Id,BIRTHDATE\n", encoding="utf-8")
    assert isinstance(FhirStore(), Source) and isinstance(SyntheaCsv(tmp_path), Source)
    assert isinstance(PainDiary(), Source)


@pytest.mark.parametrize("backend", ENGINES)
def test_a_new_source_is_only_its_records(warehouse: Warehouse) -> None:
    report = harmonize(warehouse, PainDiary())
    assert all(report.balanced(t) for t in report.read)
    assert report.written["Patient"] == {"person": 1}
    assert report.rejected["Patient"] == {"no birthDate (person.year_of_birth is required)": 1}
    # No vocabulary loaded: the code maps to no concept, and a numeric value makes it a measurement.
    assert report.written["Observation"] == {"measurement": 2}
    assert report.skipped["Observation"] == {"subject is not a loaded Patient": 1}
    cdm = warehouse.cdm_schema
    rows = warehouse.fetch_arrow(
        f"SELECT measurement_source_value AS code, value_as_number AS v FROM {cdm}.measurement ORDER BY 2"
    ).to_pylist()
    assert rows == [{"code": PAIN, "v": 4.0}, {"code": PAIN, "v": 7.0}]
    described = warehouse.fetch_scalar(f"SELECT source_description FROM {cdm}.cdm_source")
    assert described == PainDiary.description
    # Re-running changes nothing: the persons' rows are replaced, their ids kept.
    again = harmonize(warehouse, PainDiary())
    assert again.to_dict()["omop_rows"] == report.to_dict()["omop_rows"]


@pytest.mark.parametrize("backend", ENGINES)
def test_an_undeclared_column_is_refused_and_nothing_lands(warehouse: Warehouse) -> None:
    class Typo(PainDiary):
        def stage(self, stage: Stage) -> None:
            stage.write("observation", pa.table({"id": ["s1"], "valu_number": [3.0]}))

    with pytest.raises(StageError, match="'observation' has no column 'valu_number'") as e:
        harmonize(warehouse, Typo())
    assert "value_number" in (e.value.hint or "")
    assert not warehouse.table_exists(warehouse.cdm_schema, "person")


@pytest.mark.parametrize("backend", engines(spark="never: the columns are the view's, whatever the engine; "
                                                  "Spark compiles every view in test_harmonize_engines"))  # fmt: skip
def test_declared_columns_are_the_views_rows(warehouse: Warehouse) -> None:
    """Each FHIR stage table's declared columns (names, order, types) are what its view gives on a real bundle."""
    stage_fhir(warehouse, [BUNDLES])
    stage = Stage(warehouse)
    warehouse.reset_scratch(stage.schema)
    for table in STAGE_TABLES:
        if not table.view:
            continue
        stage.materialize(table.name)
        got = warehouse.fetch_arrow(f"SELECT * FROM {stage.schema}.{table.name}").schema
        declared = table.schema.arrow_schema
        assert got.names == declared.names, table.name
        for field in got:
            # An engine that returns no rows gives no type (PostgreSQL's empty results); compared where it does.
            if not pa.types.is_null(field.type):
                assert field.type == declared.field(field.name).type, (table.name, field.name)
    warehouse.drop_scratch(stage.schema)


def test_every_mapping_file_is_in_the_manifest() -> None:
    views = {p.name.removesuffix(".view.json") for p in MAPPINGS.glob("*.view.json")}
    assert views == {t.name for t in STAGE_TABLES if t.view}
    scripts = {p.stem for p in MAPPINGS.glob("*.sql")}
    assert scripts == {s.name for s in STEPS if isinstance(s, RunSql)}
    assert mapped_resource_types() == {
        "Patient", "Encounter", "Condition", "Procedure", "MedicationRequest", "MedicationAdministration",
        "MedicationStatement", "Immunization", "Observation", "Medication", "Practitioner", "Organization",
        "Location", "Device", "DocumentReference", "AllergyIntolerance",
    }  # fmt: skip
    with pytest.raises(KeyError, match="no stage table 'questionnaire'; the manifest has patient, encounter"):
        stage_table("questionnaire")


def test_fhir_store_counts_what_was_staged() -> None:
    wh = carelake.connect("duckdb:///:memory:")
    stage_fhir(wh, [BUNDLES])
    report = harmonize(wh)
    assert report.read == FhirStore().read(Stage(wh))
    assert all(report.balanced(t) for t in report.read)
