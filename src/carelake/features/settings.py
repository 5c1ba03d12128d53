"""Which covariates to build, with OHDSI FeatureExtraction's analysis ids so results line up with theirs.

Covariate ids follow FeatureExtraction: ``concept_id * 1000 + analysis_id`` for concept features; demographics
encode the value (``year * 1000 + 6``); measurement values ``concept_id * 1e6 + (unit % 1000) * 1000 +
analysis_id``; range groups ``concept_id * 10000 + group * 1000 + analysis_id`` (1 below, 2 within, 3 above
normal); visit counts ``1000 + analysis_id``. Temporal covariates append a time bin: ``id * 1000 + time_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carelake.errors import ConfigError
from carelake.omop.domains import EventDomain, event_domain

__all__ = ["DEMOGRAPHICS", "DEMOGRAPHIC_NAMES", "DOMAINS", "WINDOWS", "CovariateDomain", "CovariateSettings"]


@dataclass(frozen=True)
class CovariateDomain:
    """An event domain as FeatureExtraction sees it: its OMOP table (omop/domains.py) and analysis id hundreds."""

    name: str
    events: EventDomain
    base: int
    group_base: int | None = None  # roll-up analyses through concept_ancestor (ConditionGroup*, DrugGroup*)

    @property
    def table(self) -> str:
        return self.events.table

    @property
    def concept(self) -> str:
        return self.events.concept

    @property
    def date(self) -> str:
        return self.events.start_date


DOMAINS: dict[str, CovariateDomain] = {
    d.name: d
    for d in (
        CovariateDomain("condition", event_domain("condition_occurrence"), 100, 208),
        CovariateDomain("drug", event_domain("drug_exposure"), 300, 408),
        CovariateDomain("procedure", event_domain("procedure_occurrence"), 500),
        CovariateDomain("device", event_domain("device_exposure"), 600),
        CovariateDomain("measurement", event_domain("measurement"), 700),
        CovariateDomain("observation", event_domain("observation"), 800),
    )
}

# Window name -> analysis id offset (x01 any time prior, x02 long, x03 medium, x04 short term).
WINDOWS = {"any_time_prior": 1, "long_term": 2, "medium_term": 3, "short_term": 4}
DEMOGRAPHICS = {"gender": 1, "age_group": 3, "race": 4, "ethnicity": 5, "index_year": 6, "index_month": 7}
# OMOP's standard gender, race and ethnicity concepts, named even when the vocabulary is not loaded.
DEMOGRAPHIC_NAMES = {
    8507: "MALE",
    8532: "FEMALE",
    8515: "Asian",
    8516: "Black or African American",
    8527: "White",
    8557: "Native Hawaiian or Other Pacific Islander",
    8657: "American Indian or Alaska Native",
    38003563: "Hispanic or Latino",
    38003564: "Not Hispanic or Latino",
}
VISIT_COUNT = {"long_term": 920, "medium_term": 921, "short_term": 922}


@dataclass(frozen=True)
class CovariateSettings:
    """Covariates to extract; the defaults are FeatureExtraction's common set over all four windows.

    Windows end `end_days` after index (0: the index day counts) and start `*_start_days` before it; "any time
    prior" has no start. `temporal_windows` switches to temporal mode: one occurrence covariate per domain concept
    and (start, end) time bin, instead of the fixed windows, measurement values and visit counts.
    """

    demographics: tuple[str, ...] = tuple(DEMOGRAPHICS)
    domains: tuple[str, ...] = ("condition", "drug", "procedure", "measurement", "observation")
    windows: tuple[str, ...] = tuple(WINDOWS)
    long_term_start_days: int = -365
    medium_term_start_days: int = -180
    short_term_start_days: int = -30
    end_days: int = 0
    concept_groups: bool = True
    measurement_values: bool = True
    measurement_ranges: bool = True
    visit_counts: bool = True
    temporal_windows: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        for name, known in (("demographics", DEMOGRAPHICS), ("domains", DOMAINS), ("windows", WINDOWS)):
            unknown = sorted(set(getattr(self, name)) - set(known))
            if unknown:
                raise ConfigError(f"unknown {name}: {', '.join(unknown)}", hint=f"choose from {', '.join(known)}")
        for start, end in self.temporal_windows:
            if start > end:
                raise ConfigError(f"temporal window ({start}, {end}) starts after it ends")
        if len(self.temporal_windows) > 999:
            raise ConfigError("at most 999 temporal windows")

    def start_days(self, window: str) -> int | None:
        """First day of a window relative to index (None: unbounded)."""
        return {
            "any_time_prior": None,
            "long_term": self.long_term_start_days,
            "medium_term": self.medium_term_start_days,
            "short_term": self.short_term_start_days,
        }[window]

    def window_label(self, window: str) -> str:
        start = self.start_days(window)
        return f"{'any' if start is None else start}..{self.end_days}"
