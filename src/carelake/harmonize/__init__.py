"""Harmonization: records of a source (the raw FHIR store, Synthea CSV, ...) → OMOP CDM 5.4, every record accounted for.

A source adapter implements `Source` (fill the stage tables of `manifest`, count what it read); `harmonize` runs
the same SQL over the stage for every source.
"""

from __future__ import annotations

from carelake.harmonize.accounting import HarmonizeReport
from carelake.harmonize.load import FhirLoad, load_fhir
from carelake.harmonize.pipeline import harmonize
from carelake.harmonize.source import FhirStore, Source
from carelake.harmonize.stage import Stage, StageError

__all__ = ["FhirLoad", "FhirStore", "HarmonizeReport", "Source", "Stage", "StageError", "harmonize", "load_fhir"]
