"""Synthea CSV → OMOP CDM 5.4 through the same mapping SQL as FHIR (`carelake load synthea-csv DIR`)."""

from __future__ import annotations

from carelake.sources.synthea.loader import SyntheaCsv, load_synthea_csv

__all__ = ["SyntheaCsv", "load_synthea_csv"]
