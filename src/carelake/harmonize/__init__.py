"""Harmonization: FHIR (from the raw store) → OMOP CDM 5.4, declaratively, with every record accounted for."""

from __future__ import annotations

from carelake.harmonize.load import FhirLoad, load_fhir
from carelake.harmonize.pipeline import HarmonizeReport, harmonize

__all__ = ["FhirLoad", "HarmonizeReport", "harmonize", "load_fhir"]
