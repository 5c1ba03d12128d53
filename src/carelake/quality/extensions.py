"""carelake's check types beyond DQD 2.8's catalogue, generated from the same CSV rows.

- plausibleValueLow / plausibleValueHigh at CONCEPT level: the concept-level CSV carries value ranges per concept
  and unit, and DQD ships concept_plausible_value_low/high.sql, but its 2.8 descriptions list them at FIELD level
  only; without them a lab value far outside its range goes unseen.
- withinObservationPeriod: events dated outside every observation period of their person (an OMOP convention
  DQD does not check); applies to each event table's start date.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from carelake.quality.catalogue import CheckType

__all__ = ["extension_types"]

_EXCLUDED = {"observation_period", "death", "payer_plan_period", "condition_era", "drug_era", "dose_era", "cohort"}


def _event_start(row: Mapping[str, str]) -> bool:
    """Date fields checked after birth that are not end dates (no plausibleTemporalAfter within the table)."""
    table = row.get("cdmTableName", "").lower()
    return (
        table not in _EXCLUDED
        and row.get("cdmDatatype", "").lower() == "date"
        and row.get("plausibleTemporalAfterTableName", "").lower() in ("", "person")
    )


@cache
def extension_types() -> tuple[CheckType, ...]:
    origin = "carelake"
    return (
        CheckType(
            name="plausibleValueLow",
            level="CONCEPT",
            description="For a CONCEPT_ID @conceptId (@conceptName) with UNIT_CONCEPT_ID @unitConceptId, the number "
            "and percent of records with a value below @plausibleValueLow.",
            context="Verification",
            category="Plausibility",
            subcategory="Atemporal",
            sql_file="concept_plausible_value_low.sql",
            evaluation_filter="plausibleValueLow!=''",
            severity="characterization",
            origin=origin,
        ),
        CheckType(
            name="plausibleValueHigh",
            level="CONCEPT",
            description="For a CONCEPT_ID @conceptId (@conceptName) with UNIT_CONCEPT_ID @unitConceptId, the number "
            "and percent of records with a value above @plausibleValueHigh.",
            context="Verification",
            category="Plausibility",
            subcategory="Atemporal",
            sql_file="concept_plausible_value_high.sql",
            evaluation_filter="plausibleValueHigh!=''",
            severity="characterization",
            origin=origin,
        ),
        CheckType(
            name="withinObservationPeriod",
            level="FIELD",
            description="The number and percent of records with a date in @cdmFieldName of @cdmTableName that falls "
            "outside every OBSERVATION_PERIOD of the person.",
            context="Verification",
            category="Plausibility",
            subcategory="Temporal",
            sql_file="carelake:within_observation_period",
            evaluation_filter="plausibleAfterBirth=='Yes'",
            severity="convention",
            origin=origin,
            extra_filter=_event_start,
        ),
    )
