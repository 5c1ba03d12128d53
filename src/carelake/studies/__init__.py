"""Prediction studies: one declarative file (target, outcomes, population, covariates, split, models, evaluation,
subgroups) that runs the same on every warehouse. `spec` is the schema; `file` reads and checks a study file."""

from __future__ import annotations

from carelake.studies.file import StudyError, StudyFile, check_references, load_study
from carelake.studies.spec import CohortRef, Evaluation, ModelSpec, Population, Split, Study, TimeAtRisk

__all__ = [
    "CohortRef",
    "Evaluation",
    "ModelSpec",
    "Population",
    "Split",
    "Study",
    "StudyError",
    "StudyFile",
    "TimeAtRisk",
    "check_references",
    "load_study",
]
