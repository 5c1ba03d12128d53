"""CDM 5.3 input: the columns 5.4 renamed, the tables it dropped, and the required columns it added."""

from __future__ import annotations

__all__ = ["ADDED_REQUIRED_54", "DROPPED_TABLES_53", "RENAMED_53"]

_VISIT = {
    "admitting_source_concept_id": "admitted_from_concept_id",
    "admitting_source_value": "admitted_from_source_value",
    "discharge_to_concept_id": "discharged_to_concept_id",
    "discharge_to_source_value": "discharged_to_source_value",
}

# table -> {5.3 column: 5.4 column}
RENAMED_53: dict[str, dict[str, str]] = {
    "visit_occurrence": dict(_VISIT),
    "visit_detail": {**_VISIT, "visit_detail_parent_id": "parent_visit_detail_id"},
}

# 5.3 tables with no 5.4 counterpart: reported and skipped, never silently dropped.
DROPPED_TABLES_53 = frozenset({"attribute_definition", "cohort_attribute"})

# Required in 5.4 but absent from 5.3 files: the value a 5.3 file gets, which the load report states.
# 0 is OMOP's "no matching concept"; metadata_id is numbered from the row's position.
ADDED_REQUIRED_54: dict[tuple[str, str], str] = {
    ("cdm_source", "cdm_version_concept_id"): "0",
    ("metadata", "metadata_id"): "row number",
}
