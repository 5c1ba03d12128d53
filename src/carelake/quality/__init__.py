"""Data quality for OMOP CDM warehouses: DataQualityDashboard's checks generated from its catalogue, run as SQL in
the warehouse, written as DQD results JSON and a self-contained HTML dashboard, plus Achilles-style
characterization and a conformance kit for custom checks."""

from carelake.quality.catalogue import Check, CheckType, check_types
from carelake.quality.generate import generate_checks
from carelake.quality.runner import STATUSES, CheckResult, QualityRun, evaluate, run_checks
from carelake.quality.sql import Probe

__all__ = [
    "STATUSES",
    "Check",
    "CheckResult",
    "CheckType",
    "Probe",
    "QualityRun",
    "check_types",
    "evaluate",
    "generate_checks",
    "run_checks",
]
