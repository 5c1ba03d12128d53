"""Row counts of the bundled Synthea27Nj sample per CDM table (from the Eunomia README), shared by tests.

A module of its own, not conftest: several test folders have a conftest, and `from conftest import` would
pick whichever was imported first.
"""

SAMPLE_COUNTS = {
    "person": 28,
    "observation_period": 28,
    "visit_occurrence": 1791,
    "visit_detail": 1791,
    "condition_occurrence": 470,
    "condition_era": 469,
    "drug_exposure": 883,
    "procedure_occurrence": 1649,
    "measurement": 10040,
    "observation": 8099,
    "death": 3,
    "device_exposure": 1,
    "provider": 67,
    "cdm_source": 1,
    "vocabulary": 1,
    "concept": 2294,
    "concept_relationship": 266588,
    "drug_era": 0,
    "concept_ancestor": 0,
    "location": 0,
}
