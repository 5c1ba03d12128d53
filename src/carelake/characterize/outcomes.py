"""Time at risk for a target cohort and when an outcome cohort first occurs in it: one row per person, from SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from carelake.errors import ConfigError
from carelake.warehouse import Warehouse, date_add, quote

__all__ = ["TimeAtRisk", "time_to_outcome"]


@dataclass(frozen=True)
class TimeAtRisk:
    """Days from the cohort start (or end) at which risk starts and ends; both inclusive, cut at observation end."""

    start_offset: int = 0
    end_offset: int = 365
    start_anchor: Literal["start", "end"] = "start"
    end_anchor: Literal["start", "end"] = "start"

    def __post_init__(self) -> None:
        if self.start_anchor == self.end_anchor and self.start_offset > self.end_offset:
            raise ConfigError(f"time at risk starts on day {self.start_offset}, after it ends ({self.end_offset})")

    def label(self) -> str:
        return f"cohort {self.start_anchor} + {self.start_offset}d .. cohort {self.end_anchor} + {self.end_offset}d"


def time_to_outcome(
    wh: Warehouse, target_id: int, outcome_id: int, tar: TimeAtRisk
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per person (first target entry): days from risk start to the first outcome in the window, or to its end.

    Persons whose window is empty (observation ends before risk starts) are left out. An outcome on the first day
    at risk has time 0; person-time is `time + 1` days.
    """
    cdm, results = quote(wh.cdm_schema), quote(wh.results_schema)
    anchor = {"start": "t.cohort_start_date", "end": "t.cohort_end_date"}
    rows = wh.fetch_arrow(
        "WITH t AS (SELECT subject_id AS person_id, cohort_start_date, cohort_end_date, ROW_NUMBER() OVER "
        "(PARTITION BY subject_id ORDER BY cohort_start_date, cohort_end_date) AS rn "
        f"FROM {results}.cohort WHERE cohort_definition_id = {int(target_id)}), "
        f"r AS (SELECT t.person_id, {date_add(anchor[tar.start_anchor], tar.start_offset)} AS tar_start, "
        f"LEAST({date_add(anchor[tar.end_anchor], tar.end_offset)}, op.observation_period_end_date) AS tar_end "
        f"FROM t JOIN {cdm}.observation_period op ON op.person_id = t.person_id "
        "AND t.cohort_start_date >= op.observation_period_start_date "
        "AND t.cohort_start_date <= op.observation_period_end_date WHERE t.rn = 1), "
        "x AS (SELECT r.person_id, r.tar_start, r.tar_end, MIN(o.cohort_start_date) AS outcome_date FROM r "
        f"LEFT JOIN {results}.cohort o ON o.cohort_definition_id = {int(outcome_id)} "
        "AND o.subject_id = r.person_id AND o.cohort_start_date >= r.tar_start AND o.cohort_start_date <= r.tar_end "
        "WHERE r.tar_end >= r.tar_start GROUP BY r.person_id, r.tar_start, r.tar_end) "
        "SELECT DATE_DIFF('day', tar_start, COALESCE(outcome_date, tar_end)) AS days, "
        "CASE WHEN outcome_date IS NULL THEN 0 ELSE 1 END AS event FROM x ORDER BY person_id"
    )
    times = rows.column("days").to_numpy(zero_copy_only=False).astype(np.float64)
    events = rows.column("event").to_numpy(zero_copy_only=False).astype(bool)
    return times, events
