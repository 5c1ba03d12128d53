"""Adapters for sources other than FHIR and OMOP files: each fills harmonization's stage tables."""
