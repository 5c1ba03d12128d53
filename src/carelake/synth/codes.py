"""The codes the simulator writes: real SNOMED, LOINC, RxNorm and ICD-10-CM codes with their OMOP concept ids.

Concept ids come from the bundled Synthea27Nj vocabulary; the few it lacks (marked `athena`) are Athena's ids for the
same codes, and two wearable codes with no known concept get local ids (marked `local`, >= 2,000,000,000, vocabulary
"Carelake"). `vocabulary/` holds the vocabulary rows for exactly these codes (built by `carelake.synth.vocab`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONDITIONS", "DRUGS", "INGREDIENTS", "MEASURES", "PROCEDURES", "SYSTEMS", "VISITS", "Code"]

SYSTEMS = {
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "UCUM": "http://unitsofmeasure.org",
}


@dataclass(frozen=True)
class Code:
    """One code; `unit`/`unit_concept_id` for measurements, `icd10` the ICD-10-CM code of a condition."""

    vocabulary: str
    code: str
    display: str
    concept_id: int
    icd10: str = ""
    unit: str = ""
    unit_concept_id: int = 0
    domain: str = "Measurement"


CONDITIONS: dict[str, Code] = {
    "t2d": Code("SNOMED", "44054006", "Type 2 diabetes mellitus", 201826, "E11.9", domain="Condition"),
    "htn": Code("SNOMED", "59621000", "Essential hypertension", 320128, "I10", domain="Condition"),
    "hf": Code("SNOMED", "84114007", "Heart failure", 316139, "I50.9", domain="Condition"),
    "ckd3": Code("SNOMED", "433144002", "Chronic kidney disease stage 3", 443597, "N18.30", domain="Condition"),
    "ckd4": Code("SNOMED", "431857002", "Chronic kidney disease stage 4", 443612, "N18.4", domain="Condition"),
    "esrd": Code("SNOMED", "46177005", "End-stage renal disease", 193782, "N18.6", domain="Condition"),
    "depression": Code("SNOMED", "370143000", "Major depressive disorder", 4152280, "F32.9", domain="Condition"),
    # athena: 442077 Anxiety disorder (not in Synthea27Nj).
    "anxiety": Code("SNOMED", "197480006", "Anxiety disorder", 442077, "F41.9", domain="Condition"),
    "bronchitis": Code("SNOMED", "10509002", "Acute bronchitis", 260139, "J20.9", domain="Condition"),
    "sprain": Code("SNOMED", "44465007", "Sprain of ankle", 81151, "S93.409A", domain="Condition"),
    "pneumonia": Code("SNOMED", "233604007", "Pneumonia", 255848, "J18.9", domain="Condition"),
}

MEASURES: dict[str, Code] = {
    "hba1c": Code(
        "LOINC", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 3004410, unit="%", unit_concept_id=8554
    ),
    # LOINC 33914-3 (concept 3030354) was deprecated in 2018 and maps to 77147-7 (athena: 46236952), the standard
    # concept written to MEASUREMENT; the source value stays 33914-3. Unit: UCUM mL/min/(173.10*-2.m2), 720870.
    "egfr": Code(
        "LOINC",
        "33914-3",
        "Glomerular filtration rate/1.73 sq M.predicted by Creatinine-based formula (MDRD)",
        46236952,
        unit="mL/min/{1.73_m2}",
        unit_concept_id=720870,
    ),
    "sbp": Code("LOINC", "8480-6", "Systolic blood pressure", 3004249, unit="mm[Hg]", unit_concept_id=8876),
    "dbp": Code("LOINC", "8462-4", "Diastolic blood pressure", 3012888, unit="mm[Hg]", unit_concept_id=8876),
    "hr": Code("LOINC", "8867-4", "Heart rate", 3027018, unit="/min", unit_concept_id=8541),
    "bmi": Code("LOINC", "39156-5", "Body mass index (BMI) [Ratio]", 3038553, unit="kg/m2", unit_concept_id=9531),
    "phq9": Code("LOINC", "44261-6", "PHQ-9 total score", 3042932, unit="{score}", domain="Observation"),
    "gad7": Code(
        "LOINC",
        "69737-5",
        "Generalized anxiety disorder 7 item (GAD-7)",
        40772159,
        unit="{score}",
        domain="Observation",
    ),
    # Wearable daily summaries (LOINC source codes kept). Resting heart rate maps to the standard "Heart rate" concept;
    # steps and sleep have no concept in the bundled vocabulary, so they get local concepts (docs/simulator.md).
    "steps": Code(
        "LOINC", "41950-7", "Number of steps in 24 hour Measured", 2000000001, unit="/(24.h)", unit_concept_id=44777556
    ),
    "rhr": Code("LOINC", "40443-4", "Heart rate --resting", 3027018, unit="/min", unit_concept_id=8541),
    "sleep": Code("LOINC", "93832-4", "Sleep duration", 2000000002, unit="h", unit_concept_id=8505),
}

DRUGS: dict[str, Code] = {
    "metformin": Code(
        "RxNorm", "860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", 40163924, domain="Drug"
    ),
    "canagliflozin": Code("RxNorm", "1373463", "canagliflozin 100 MG Oral Tablet", 43526467, domain="Drug"),
    "lisinopril": Code("RxNorm", "314076", "lisinopril 10 MG Oral Tablet", 19080128, domain="Drug"),
    "hctz": Code("RxNorm", "310798", "hydrochlorothiazide 25 MG Oral Tablet", 19078106, domain="Drug"),
    "furosemide": Code("RxNorm", "313988", "furosemide 40 MG Oral Tablet", 957136, domain="Drug"),
    "carvedilol": Code("RxNorm", "200033", "carvedilol 25 MG Oral Tablet", 19022781, domain="Drug"),
    "sertraline": Code("RxNorm", "312938", "sertraline 100 MG Oral Tablet", 739207, domain="Drug"),
}

# RxNorm ingredient of each drug (drug eras are built on ingredients; athena ids, lisinopril's from Synthea27Nj).
INGREDIENTS: dict[str, Code] = {
    "metformin": Code("RxNorm", "6809", "metformin", 1503297, domain="Drug"),
    "canagliflozin": Code("RxNorm", "1373458", "canagliflozin", 43526465, domain="Drug"),
    "lisinopril": Code("RxNorm", "29046", "lisinopril", 1308216, domain="Drug"),
    "hctz": Code("RxNorm", "5487", "hydrochlorothiazide", 974166, domain="Drug"),
    "furosemide": Code("RxNorm", "4603", "furosemide", 956874, domain="Drug"),
    "carvedilol": Code("RxNorm", "20352", "carvedilol", 1346823, domain="Drug"),
    "sertraline": Code("RxNorm", "36437", "sertraline", 739138, domain="Drug"),
}

# SNOMED procedures (concept ids from Synthea27Nj).
PROCEDURES: dict[str, Code] = {
    "dialysis": Code("SNOMED", "302497006", "Hemodialysis", 4120120, domain="Procedure"),
    "echo": Code("SNOMED", "40701008", "Echocardiography", 4230911, domain="Procedure"),
    "xray": Code("SNOMED", "399208008", "Plain chest X-ray", 4163872, domain="Procedure"),
    "ecg": Code("SNOMED", "29303009", "Electrocardiographic procedure", 4163951, domain="Procedure"),
}

# visit kind → (OMOP visit concept, FHIR Encounter.class code)
VISITS: dict[str, tuple[int, str]] = {
    "outpatient": (9202, "AMB"),
    "emergency": (9203, "EMER"),
    "inpatient": (9201, "IMP"),
}
