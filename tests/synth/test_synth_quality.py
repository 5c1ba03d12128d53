"""The simulator's OMOP output passes carelake's DataQualityDashboard checks: no failed and no errored check."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import carelake
from carelake.quality import run_checks
from carelake.synth import synthesize
from carelake.synth.omop import eras

# Checks that once failed, with the fix that made them pass: they must run (not be not-applicable) and pass.
MUST_PASS = {
    ("isForeignKey", "concept", "vocabulary_id"),  # VOCABULARY, DOMAIN, CONCEPT_CLASS, RELATIONSHIP rows
    ("isForeignKey", "concept", "domain_id"),
    ("isForeignKey", "concept", "concept_class_id"),
    ("isForeignKey", "concept_relationship", "relationship_id"),
    ("isForeignKey", "person", "gender_concept_id"),  # gender, race, type, unit concepts in the mini-vocabulary
    ("isForeignKey", "person", "race_concept_id"),
    ("isForeignKey", "measurement", "unit_concept_id"),
    ("isForeignKey", "visit_occurrence", "visit_type_concept_id"),
    ("isForeignKey", "condition_occurrence", "condition_source_concept_id"),
    ("isStandardValidConcept", "measurement", "measurement_concept_id"),  # eGFR standard, wearables mapped
    ("standardConceptRecordCompleteness", "measurement", "measurement_concept_id"),
    ("standardConceptRecordCompleteness", "measurement", "unit_concept_id"),
    ("sourceConceptRecordCompleteness", "condition_occurrence", "condition_source_concept_id"),
    ("plausibleDuringLife", "drug_exposure", "drug_exposure_end_date"),  # supply cut at death
    ("plausibleBeforeDeath", "drug_exposure", "drug_exposure_end_date"),
    ("measurePersonCompleteness", "condition_era", None),  # eras and procedures written
    ("measurePersonCompleteness", "drug_era", None),
    ("measurePersonCompleteness", "procedure_occurrence", None),
    ("measureConditionEraCompleteness", "condition_era", None),
    ("fkClass", "drug_era", "drug_concept_id"),  # drug eras on RxNorm ingredients
}


def test_simulated_omop_passes_the_quality_checks(tmp_path: Path) -> None:
    synthesize(1500, 5, tmp_path, "omop")
    wh = carelake.connect("duckdb:///:memory:")
    try:
        carelake.load_omop(wh, [tmp_path / "omop"])
        results = run_checks(wh).results
    finally:
        wh.close()
    bad = [(r.status, r.check.name, r.check.table, r.check.field) for r in results if r.status in ("failed", "error")]
    assert bad == []
    status = {(r.check.name, r.check.table, r.check.field): r.status for r in results}
    assert {k: status.get(k) for k in MUST_PASS} == dict.fromkeys(MUST_PASS, "passed")


def test_eras_join_records_up_to_30_days_apart() -> None:
    a = np.array
    person, concept = a([1, 1, 1, 1, 2]), a([7, 7, 7, 8, 7])
    start, end = a([0, 100, 120, 5, 0]), a([89, 110, 209, 5, 9])
    # person 1 concept 7: [0, 89], [100, 110], [120, 209] join into 0..209, with 10 + 9 uncovered days
    got = [x.tolist() for x in eras(person, concept, start, end)]
    assert got == [[1, 1, 2], [7, 8, 7], [0, 5, 0], [209, 5, 9], [3, 1, 1], [19, 0, 0]]
    got = [x.tolist() for x in eras(a([1, 1]), a([7, 7]), a([0, 120]), a([89, 150]))]  # 30 days apart: two eras
    assert got == [[1, 1], [7, 7], [0, 120], [89, 150], [1, 1], [0, 0]]
