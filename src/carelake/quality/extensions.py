"""carelake's check types beyond DQD 2.8's catalogue, generated from the same CSV rows.

- plausibleValueLow / plausibleValueHigh at CONCEPT level: the concept-level CSV carries value ranges per concept
  and unit, and DQD ships concept_plausible_value_low/high.sql, but its 2.8 descriptions list them at FIELD level
  only; without them a lab value far outside its range goes unseen.
- withinObservationPeriod: events dated outside every observation period of their person (an OMOP convention
  DQD does not check); applies to each event table's start date.
- withinSpecWidth: text longer than the spec's VARCHAR width. carelake keeps such values (real exports carry
  them; see omop/departures.py), so the departure a load reports stays visible in the data's quality record.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from carelake.omop.schema import spec_width
from carelake.quality.catalogue import CheckType

__all__ = ["extension_types"]

_EXCLUDED = {"observation_period", "death", "payer_plan_period", "condition_era", "drug_era", "dose_era", "cohort"}


def _has_width(row: Mapping[str, str]) -> bool:
    """Fields the spec gives a VARCHAR width (varchar(max) has none)."""
    return spec_width(row.get("cdmTableName", ""), row.get("cdmFieldName", "")) is not None


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
        CheckType(
            name="withinSpecWidth",
            level="FIELD",
            description="The number and percent of records with a value in @cdmFieldName of @cdmTableName longer "
            "than the width the CDM specification declares for it.",
            context="Verification",
            category="Conformance",
            subcategory="Value",
            sql_file="carelake:within_spec_width",
            evaluation_filter="cdmFieldName!=''",
            severity="convention",
            origin=origin,
            extra_filter=_has_width,
        ),
    )
