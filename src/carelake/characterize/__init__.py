"""Cohort characterization: Table 1, standardized differences, incidence rates and Kaplan-Meier curves.

Aggregation runs as SQL in the warehouse; numpy/scipy finish the small arithmetic (exact Poisson intervals,
Greenwood bands). Exports (JSON, CSV) hide counts below the minimum cell count; reports/characterization.py
draws the page.
"""

from __future__ import annotations

from carelake.characterize.core import Characterization, Incidence, characterize
from carelake.characterize.export import write_outputs
from carelake.characterize.outcomes import TimeAtRisk, time_to_outcome
from carelake.characterize.stats import KaplanMeier, incidence_rate, kaplan_meier, poisson_ci
from carelake.characterize.table1 import Table1, table1

__all__ = [
    "Characterization",
    "Incidence",
    "KaplanMeier",
    "Table1",
    "TimeAtRisk",
    "characterize",
    "incidence_rate",
    "kaplan_meier",
    "poisson_ci",
    "table1",
    "time_to_outcome",
    "write_outputs",
]
