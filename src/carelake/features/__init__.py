"""Covariates for cohort rows, like OHDSI FeatureExtraction's default set, computed in the warehouse.

`extract(wh, cohort_id, settings)` returns a `FeatureMatrix`: a scipy CSR matrix (one row per cohort row, in
subject_id, cohort_start_date, cohort_end_date order) and a covariate reference (covariate_id, covariate_name,
analysis_id, concept_id, window) that can be saved as Parquet.
"""

from __future__ import annotations

from carelake.features.extract import FeatureMatrix, extract
from carelake.features.settings import CovariateSettings

__all__ = ["CovariateSettings", "FeatureMatrix", "extract"]
