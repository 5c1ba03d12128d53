"""Synthea CSV → OMOP through the FHIR mappings: the same patient exported both ways gives the same rows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import carelake
from carelake.errors import InputError
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.sources.synthea import load_synthea_csv
from carelake.warehouse import Warehouse
from engines import engines

ENGINES = engines(spark="never: test_harmonize_engines compares both sources on Spark with DuckDB row by row")

DATA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir"
DEVICES = Path(__file__).resolve().parents[1] / "data" / "synthea-devices"
ALLERGIES = Path(__file__).resolve().parents[1] / "data" / "synthea-allergies"
VOCABULARY = Path(__file__).resolve().parents[2] / "src" / "carelake" / "data" / "synthea27nj"
COUNTS = """SELECT p.person_source_value AS pid,
  (SELECT count(*) FROM {cdm}.visit_occurrence v WHERE v.person_id = p.person_id) AS visits,
  (SELECT count(*) FROM {cdm}.condition_occurrence v WHERE v.person_id = p.person_id) AS conditions,
  (SELECT count(*) FROM {cdm}.procedure_occurrence v WHERE v.person_id = p.person_id) AS procedures,
  (SELECT count(*) FROM {cdm}.drug_exposure v WHERE v.person_id = p.person_id) AS drugs,
  (SELECT count(*) FROM {cdm}.device_exposure v WHERE v.person_id = p.person_id) AS devices,
  (SELECT min(observation_period_start_date) FROM {cdm}.observation_period v WHERE v.person_id = p.person_id) AS op
FROM {cdm}.person p"""


def _counts(wh: Warehouse) -> dict[str, dict[str, object]]:
    return {r["pid"]: r for r in wh.fetch_arrow(COUNTS.format(cdm=wh.cdm_schema)).to_pylist()}


@pytest.mark.parametrize("backend", ENGINES)
def test_fhir_and_csv_agree_person_by_person(warehouse: Warehouse) -> None:
    report = load_synthea_csv(warehouse, DATA / "mcode-csv")
    csv_counts = _counts(warehouse)
    for rtype in report.read:
        assert report.balanced(rtype), rtype
    assert report.skipped["careplans.csv"] == {"no OMOP mapping for this resource type yet": 4}
    assert report.read["AllergyIntolerance"] == 0  # allergies.csv: the header only for this patient
    fhir = carelake.connect("duckdb:///:memory:")
    stage_fhir(fhir, [DATA / "mcode"])
    harmonize(fhir)
    fhir_counts = _counts(fhir)
    patient = "0d64c815-0259-30b6-026a-acdd30d66227"
    assert fhir_counts[patient] == csv_counts[patient]
    assert csv_counts[patient]["visits"] == 19 and csv_counts[patient]["drugs"] == 30


def test_bad_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no patients\.csv"):
        load_synthea_csv(carelake.connect("duckdb:///:memory:"), tmp_path)


def test_cli_load_synthea_csv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_WAREHOUSE"}
    done = subprocess.run(
        [sys.executable, "-m", "carelake", "-w", f"duckdb:///{tmp_path / 's.duckdb'}", "load", "synthea-csv",
         str(DATA / "mcode-csv"), "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["omop_rows"]["person"] == 1
    assert report["resources"]["Encounter"]["written"] == {"visit_detail+visit_occurrence": 19}


@pytest.mark.parametrize("backend", ENGINES)
def test_devices_agree_between_csv_and_fhir(warehouse: Warehouse) -> None:
    """devices.csv and FHIR Device give the same device_exposure rows; only the start differs, by Synthea's design."""
    query = (
        "SELECT p.person_source_value AS pid, d.device_source_value AS code, d.unique_device_id AS udi, "
        "d.device_exposure_start_date AS start, d.device_exposure_end_date AS stop, d.visit_occurrence_id AS visit "
        "FROM {cdm}.device_exposure d JOIN {cdm}.person p USING (person_id) ORDER BY 2"
    )
    report = load_synthea_csv(warehouse, DEVICES / "csv")
    assert report.written["Device"] == {"device_exposure": 2} and report.balanced("Device")
    csv_rows = warehouse.fetch_arrow(query.format(cdm=warehouse.cdm_schema)).to_pylist()
    fhir = carelake.connect("duckdb:///:memory:")
    stage_fhir(fhir, [DEVICES / "fhir"])
    harmonize(fhir)
    fhir_rows = fhir.fetch_arrow(query.format(cdm=fhir.cdm_schema)).to_pylist()
    assert [(r["pid"], r["code"], r["udi"]) for r in csv_rows] == [(r["pid"], r["code"], r["udi"]) for r in fhir_rows]
    assert [r["code"] for r in csv_rows] == ["448907002", "449071006"]
    # CSV: START/STOP and the encounter; FHIR: manufactureDate (START - 21 days), no end, no encounter.
    assert all(r["start"] - f["start"] == timedelta(days=21) for r, f in zip(csv_rows, fhir_rows, strict=True))
    assert [str(r["stop"]) for r in csv_rows] == ["2020-03-17", "2020-03-23"]
    assert all(r["visit"] is not None for r in csv_rows) and all(f["visit"] is None for f in fhir_rows)


@pytest.mark.parametrize("backend", ENGINES)
def test_allergies_agree_between_csv_and_fhir(warehouse: Warehouse, tmp_path: Path) -> None:
    """allergies.csv and FHIR AllergyIntolerance give the same observation rows (ETL-Synthea's allergy mapping)."""
    query = (
        "SELECT p.person_source_value AS pid, o.observation_source_value AS code, o.observation_concept_id AS concept, "
        "o.observation_date AS day, o.visit_occurrence_id AS visit "
        "FROM {cdm}.observation o JOIN {cdm}.person p USING (person_id) ORDER BY 2"
    )
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    shutil.copy(VOCABULARY / "CONCEPT.csv.gz", vocab)
    carelake.load_omop(warehouse, [vocab])
    report = load_synthea_csv(warehouse, ALLERGIES / "csv")
    assert report.written["AllergyIntolerance"] == {"observation": 2} and report.balanced("AllergyIntolerance")
    csv_rows = warehouse.fetch_arrow(query.format(cdm=warehouse.cdm_schema)).to_pylist()
    fhir = carelake.connect("duckdb:///:memory:")
    carelake.load_omop(fhir, [vocab])
    stage_fhir(fhir, [ALLERGIES / "fhir"])
    fhir_report = harmonize(fhir)
    assert fhir_report.written["AllergyIntolerance"] == {"observation": 2}
    fhir_rows = fhir.fetch_arrow(query.format(cdm=fhir.cdm_schema)).to_pylist()

    def same(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(r["pid"], r["code"], r["concept"], r["day"]) for r in rows]

    assert same(csv_rows) == same(fhir_rows)
    # 439406 allergy to animal dander is in the sample vocabulary; 300913006 shellfish allergy is not.
    assert [(r["code"], r["concept"], str(r["day"])) for r in csv_rows] == [
        ("232347008", 439406, "1981-09-11"),
        ("300913006", 0, "1981-09-11"),
    ]
    # Only the CSV names the encounter; Synthea's FHIR AllergyIntolerance has none.
    assert all(r["visit"] is not None for r in csv_rows) and all(f["visit"] is None for f in fhir_rows)
