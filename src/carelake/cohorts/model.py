"""A typed model of Circe (ATLAS) cohort expressions: what the JSON says, checked, before any SQL exists.

Field names follow circe-be's Java classes; `parse.py` builds these from JSON and is the only place that validates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CohortExpression",
    "ConceptList",
    "ConceptSet",
    "ConceptSetItem",
    "ConceptSetSelection",
    "CorrelatedCriteria",
    "Criteria",
    "CriteriaGroup",
    "CustomEraStrategy",
    "DateAdjustment",
    "DateOffsetStrategy",
    "DateRange",
    "DemographicCriteria",
    "EndStrategy",
    "FilterValue",
    "InclusionRule",
    "NumericRange",
    "Occurrence",
    "PrimaryCriteria",
    "TextFilter",
    "UserDefinedPeriod",
    "Window",
    "WindowBound",
]

LimitType = Literal["All", "First", "Last"]
GroupType = Literal["ALL", "ANY", "AT_LEAST", "AT_MOST"]


@dataclass(frozen=True)
class ConceptSetItem:
    concept_id: int
    include_descendants: bool = False
    include_mapped: bool = False
    is_excluded: bool = False


@dataclass(frozen=True)
class ConceptSet:
    """A codeset: concept ids (optionally with descendants / source concepts mapped to them) minus exclusions."""

    id: int
    name: str
    items: tuple[ConceptSetItem, ...]


@dataclass(frozen=True)
class DateRange:
    op: str
    value: str
    extent: str | None = None


@dataclass(frozen=True)
class NumericRange:
    op: str
    value: float
    extent: float | None = None


@dataclass(frozen=True)
class TextFilter:
    op: str
    text: str


@dataclass(frozen=True)
class ConceptList:
    """Inline concepts (e.g. ``Gender``); `exclude` comes from the sibling ``...Exclude`` flag."""

    concept_ids: tuple[int, ...]
    exclude: bool = False


@dataclass(frozen=True)
class ConceptSetSelection:
    """A reference to a codeset used as a filter (CDM 5.4 style ``...CS`` attributes and payer concepts)."""

    codeset_id: int
    is_exclusion: bool = False


@dataclass(frozen=True)
class UserDefinedPeriod:
    start_date: str | None
    end_date: str | None


@dataclass(frozen=True)
class DateAdjustment:
    start_with: str
    start_offset: int
    end_with: str
    end_offset: int


FilterValue = DateRange | NumericRange | TextFilter | ConceptList | ConceptSetSelection | UserDefinedPeriod | bool


@dataclass(frozen=True)
class Criteria:
    """One domain criteria (``{"ConditionOccurrence": {...}}``) with its attribute filters."""

    kind: str
    path: str
    codeset_id: int | None = None
    first: bool = False
    filters: tuple[tuple[str, FilterValue], ...] = ()
    correlated: CriteriaGroup | None = None
    date_adjustment: DateAdjustment | None = None

    def filter(self, name: str) -> FilterValue | None:
        for key, value in self.filters:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class WindowBound:
    """``Days`` None means unbounded (to the observation period edge unless it is ignored)."""

    coeff: int
    days: int | None = None


@dataclass(frozen=True)
class Window:
    start: WindowBound
    end: WindowBound
    use_index_end: bool | None = None
    use_event_end: bool | None = None


@dataclass(frozen=True)
class Occurrence:
    """type 0 = exactly, 1 = at most, 2 = at least `count` matching events."""

    type: int
    count: int
    is_distinct: bool = False
    count_column: str | None = None


@dataclass(frozen=True)
class CorrelatedCriteria:
    criteria: Criteria
    start_window: Window
    occurrence: Occurrence
    end_window: Window | None = None
    restrict_visit: bool = False
    ignore_observation_period: bool = False


@dataclass(frozen=True)
class DemographicCriteria:
    age: NumericRange | None = None
    gender: tuple[int, ...] = ()
    race: tuple[int, ...] = ()
    ethnicity: tuple[int, ...] = ()
    occurrence_start_date: DateRange | None = None
    occurrence_end_date: DateRange | None = None


@dataclass(frozen=True)
class CriteriaGroup:
    type: GroupType
    count: int | None = None
    criteria_list: tuple[CorrelatedCriteria, ...] = ()
    demographic_criteria_list: tuple[DemographicCriteria, ...] = ()
    groups: tuple[CriteriaGroup, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.criteria_list or self.demographic_criteria_list or self.groups)


@dataclass(frozen=True)
class PrimaryCriteria:
    criteria_list: tuple[Criteria, ...]
    prior_days: int = 0
    post_days: int = 0
    limit: LimitType = "First"


@dataclass(frozen=True)
class InclusionRule:
    name: str
    expression: CriteriaGroup
    description: str | None = None


@dataclass(frozen=True)
class DateOffsetStrategy:
    date_field: Literal["StartDate", "EndDate"]
    offset: int


@dataclass(frozen=True)
class CustomEraStrategy:
    drug_codeset_id: int
    gap_days: int = 0
    offset: int = 0
    days_supply_override: int | None = None


EndStrategy = DateOffsetStrategy | CustomEraStrategy


@dataclass(frozen=True)
class CohortExpression:
    """A whole cohort definition."""

    concept_sets: tuple[ConceptSet, ...]
    primary_criteria: PrimaryCriteria
    additional_criteria: CriteriaGroup | None = None
    qualified_limit: LimitType = "First"
    expression_limit: LimitType = "First"
    inclusion_rules: tuple[InclusionRule, ...] = ()
    end_strategy: EndStrategy | None = None
    censoring_criteria: tuple[Criteria, ...] = ()
    era_pad: int = 0
    censor_start: str | None = None
    censor_end: str | None = None
    title: str | None = field(default=None, compare=False)
