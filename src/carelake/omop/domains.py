"""The OMOP event domains: which table holds each, and which of its columns mean id, concept, dates and source.

The one place these facts live. Harmonize routes a code to its domain's table, cohorts read events from it,
features and characterization count its concepts, quality's Achilles summarises it; each asks here instead of
spelling `condition_start_date` itself. A test checks every column against the CDM 5.4 spec.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENT_DOMAINS", "EventDomain", "event_domain"]


@dataclass(frozen=True)
class EventDomain:
    """One event table: the vocabulary's domain_id that routes a code to it, and its key columns."""

    domain_id: str
    table: str
    id: str
    concept: str
    start_date: str
    end_date: str | None
    source_value: str
    source_concept: str | None
    type_concept: str

    @property
    def start_datetime(self) -> str:
        return self.start_date.removesuffix("_date") + "_datetime"


def _event(
    domain_id: str, table: str, prefix: str, start: str = "start_date", end: str | None = "end_date"
) -> EventDomain:
    return EventDomain(
        domain_id=domain_id,
        table=table,
        id=f"{table}_id",
        concept=f"{prefix}_concept_id",
        start_date=f"{prefix}_{start}",
        end_date=f"{prefix}_{end}" if end else None,
        source_value=f"{prefix}_source_value",
        source_concept=f"{prefix}_source_concept_id",
        type_concept=f"{prefix}_type_concept_id",
    )


EVENT_DOMAINS: dict[str, EventDomain] = {
    d.table: d
    for d in (
        _event("Condition", "condition_occurrence", "condition"),
        _event("Drug", "drug_exposure", "drug", "exposure_start_date", "exposure_end_date"),
        _event("Procedure", "procedure_occurrence", "procedure", "date", "end_date"),
        _event("Device", "device_exposure", "device", "exposure_start_date", "exposure_end_date"),
        _event("Measurement", "measurement", "measurement", "date", None),
        _event("Observation", "observation", "observation", "date", None),
        _event("Visit", "visit_occurrence", "visit"),
        _event("Visit", "visit_detail", "visit_detail"),
        EventDomain(
            domain_id="Specimen",
            table="specimen",
            id="specimen_id",
            concept="specimen_concept_id",
            start_date="specimen_date",
            end_date=None,
            source_value="specimen_source_value",
            source_concept=None,  # the spec has specimen_source_id, the sample's own id, and no source concept
            type_concept="specimen_type_concept_id",
        ),
        EventDomain(
            domain_id="Condition",  # a cause of death is a condition concept
            table="death",
            id="person_id",
            concept="cause_concept_id",
            start_date="death_date",
            end_date=None,
            source_value="cause_source_value",
            source_concept="cause_source_concept_id",
            type_concept="death_type_concept_id",
        ),
    )
}


def event_domain(table: str) -> EventDomain:
    """The event domain stored in `table` (KeyError names the tables there are)."""
    try:
        return EVENT_DOMAINS[table]
    except KeyError:
        raise KeyError(f"{table!r} is not an event table; event tables: {', '.join(EVENT_DOMAINS)}") from None
