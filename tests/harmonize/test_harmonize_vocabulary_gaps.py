"""A trimmed vocabulary: a "Maps to" whose target is missing is no mapping, and never doubles an event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import carelake
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.warehouse import Warehouse
from engines import engines

BACKENDS = engines(spark="never: test_harmonize_engines compares both sources on Spark with DuckDB row by row")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CONCEPTS = """concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,\
valid_start_date,valid_end_date,invalid_reason
900001,source one,Drug,RxNorm,Clinical Drug,,X1,1970-01-01,2099-12-31,
900002,standard one,Drug,RxNorm,Ingredient,S,X9,1970-01-01,2099-12-31,
900005,source two,Drug,RxNorm,Clinical Drug,,X2,1970-01-01,2099-12-31,
"""
# X1 maps to one concept that is there and two that the trim cut; X2 only to cut ones.
RELATIONSHIPS = """concept_id_1,concept_id_2,relationship_id,valid_start_date,valid_end_date,invalid_reason
900001,900002,Maps to,1970-01-01,2099-12-31,
900001,900003,Maps to,1970-01-01,2099-12-31,
900001,900004,Maps to,1970-01-01,2099-12-31,
900005,900006,Maps to,1970-01-01,2099-12-31,
900005,900007,Maps to,1970-01-01,2099-12-31,
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_maps_to_targets(warehouse: Warehouse, tmp_path: Path) -> None:
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "CONCEPT.csv").write_text(CONCEPTS)
    (vocab / "CONCEPT_RELATIONSHIP.csv").write_text(RELATIONSHIPS)
    carelake.load_omop(warehouse, [vocab])
    rows = [{"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-01-01"}]
    for i, code in enumerate(["X1", "X2", "X1"]):
        rows.append({"resourceType": "MedicationRequest", "id": f"m{i}", "status": "active", "intent": "order",
                     "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
                     "subject": {"reference": "Patient/p1"}, "authoredOn": f"2020-0{i + 1}-01"})  # fmt: skip
    path = tmp_path / "meds.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage_fhir(warehouse, [path])
    report = harmonize(warehouse)
    assert report.written["MedicationRequest"] == {"drug_exposure": 3}
    assert report.balanced("MedicationRequest")
    got = warehouse.fetch_arrow(
        f"SELECT drug_concept_id, drug_source_concept_id FROM {warehouse.cdm_schema}.drug_exposure "
        "ORDER BY drug_exposure_start_date"
    ).to_pylist()
    assert [(r["drug_concept_id"], r["drug_source_concept_id"]) for r in got] == [
        (900002, 900001),
        (0, 900005),
        (900002, 900001),
    ]
