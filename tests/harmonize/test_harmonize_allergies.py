"""AllergyIntolerance → observation (ETL-Synthea's way): dates, skips, rejections and routing, on every engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import carelake
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.warehouse import Warehouse
from engines import engines

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "carelake" / "data" / "synthea27nj"
BACKENDS = engines(spark="never: test_harmonize_engines compares both sources on Spark with DuckDB row by row")
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _allergy(aid: str, code: str = "232347008", system: str = SNOMED, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": aid,
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "patient": {"reference": "Patient/p1"},
        "recordedDate": "2020-02-01T10:00:00Z",
    }
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize("backend", BACKENDS)
def test_allergies_are_observations_with_every_resource_accounted(warehouse: Warehouse, tmp_path: Path) -> None:
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    shutil.copy(SAMPLE / "CONCEPT.csv.gz", vocab)  # 439406 allergy to animal dander; 1112807 aspirin (Drug)
    carelake.load_omop(warehouse, [vocab])
    rows = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-01-01"},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p1"}, "period": {"start": "2020-01-05T09:00:00Z"}},
        _allergy("a1", onsetDateTime="2019-05-06T08:00:00Z", encounter={"reference": "Encounter/e1"}),
        _allergy("a2", code="1191", system=RXNORM),  # aspirin: a Drug concept, still an observation
        _allergy("a3", code="300913006"),  # shellfish allergy: not in the sample vocabulary
        _allergy("a4", recordedDate=None),  # no date: rejected
        _allergy("a5", verificationStatus={"coding": [{"code": "refuted"}]}),
        _allergy("a6", verificationStatus={"coding": [{"code": "entered-in-error"}]}),
        _allergy("a7", patient={"reference": "Patient/nobody"}),
    ]  # fmt: skip
    path = tmp_path / "allergies.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage_fhir(warehouse, [path])
    report = harmonize(warehouse)
    assert report.read["AllergyIntolerance"] == 7 and report.balanced("AllergyIntolerance")
    assert report.written["AllergyIntolerance"] == {"observation": 3}
    assert report.skipped["AllergyIntolerance"] == {
        "verificationStatus refuted": 1,
        "verificationStatus entered-in-error": 1,
        "subject is not a loaded Patient": 1,
    }
    assert report.rejected["AllergyIntolerance"] == {"no date (onsetDateTime or recordedDate)": 1}
    assert report.rows["drug_exposure"] == 0 and report.rows["drug_era"] == 0
    got = warehouse.fetch_arrow(
        f"SELECT observation_source_value AS code, observation_concept_id AS concept, "
        f"observation_source_concept_id AS source, CAST(observation_date AS VARCHAR) AS day, "
        f"observation_type_concept_id AS type, visit_occurrence_id IS NOT NULL AS visit "
        f"FROM {warehouse.cdm_schema}.observation ORDER BY 1"
    ).to_pylist()
    assert [(r["code"], r["concept"], r["source"], r["day"], r["type"], r["visit"]) for r in got] == [
        ("1191", 1112807, 1112807, "2020-02-01", 32817, False),
        ("232347008", 439406, 439406, "2019-05-06", 32817, True),  # onsetDateTime before recordedDate
        ("300913006", 0, 0, "2020-02-01", 32817, False),
    ]
