"""The small fixed tables harmonization joins against: FHIR code systems → OMOP vocabularies, and FHIR value sets
with a fixed OMOP answer (gender, OMB race and ethnicity, encounter class).

These are the HL7 FHIR-to-OMOP IG's and ETL-Synthea's choices; they live here as data, are written to the
warehouse as tables, and the mapping SQL joins them like any other table.
"""

from __future__ import annotations

__all__ = ["CODE_SYSTEMS", "FIXED_CONCEPTS"]

# FHIR code system URI → OMOP vocabulary_id.
CODE_SYSTEMS: dict[str, str] = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD9CM",
    "http://www.cms.gov/Medicare/Coding/ICD10": "ICD10PCS",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://unitsofmeasure.org": "UCUM",
    "http://www.ama-assn.org/go/cpt": "CPT4",
    "http://hl7.org/fhir/sid/icd-9-cm/procedure": "ICD9Proc",
    "urn:oid:2.16.840.1.113883.6.238": "Race",
}

# (value set, code) → OMOP concept_id, for the few FHIR codes with one fixed OMOP answer.
FIXED_CONCEPTS: list[tuple[str, str, int]] = [
    ("gender", "male", 8507),
    ("gender", "female", 8532),
    # OMB race categories (CDC race & ethnicity code system) and ethnicity.
    ("race", "2106-3", 8527),  # White
    ("race", "2054-5", 8516),  # Black or African American
    ("race", "2028-9", 8515),  # Asian
    ("race", "1002-5", 8657),  # American Indian or Alaska Native
    ("race", "2076-8", 8557),  # Native Hawaiian or Other Pacific Islander
    ("ethnicity", "2135-2", 38003563),  # Hispanic or Latino
    ("ethnicity", "2186-5", 38003564),  # Not Hispanic or Latino
    # Encounter.class (v3 ActCode) → visit concept, as ETL-Synthea maps Synthea's classes.
    ("visit", "AMB", 9202),  # outpatient visit
    ("visit", "WELLNESS", 9202),
    ("visit", "OUTPATIENT", 9202),
    ("visit", "EMER", 9203),  # emergency room visit
    ("visit", "IMP", 9201),  # inpatient visit
    ("visit", "ACUTE", 9201),
    ("visit", "NONAC", 9201),
    ("visit", "HH", 581476),  # home visit
    ("visit", "VR", 5083),  # telehealth
]
