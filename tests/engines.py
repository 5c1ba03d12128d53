"""The engines the suite runs on, and a throw-away warehouse URL on each (shared by conftest and tests).

A module of its own, not conftest, for the reason given in sample_counts.py.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from carelake.warehouse import connect

POSTGRES = os.environ.get("CARELAKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spark", marks=pytest.mark.spark),
]


def make_url(backend: str, tmp_path: Path) -> str:
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'wh.duckdb'}"
    if backend == "postgres":
        tag = uuid.uuid4().hex[:10]
        return f"{POSTGRES}?schema=cdm_{tag}&results=results_{tag}&fhir=fhir_{tag}"
    return f"spark://local?path={tmp_path / 'spark'}"


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        wh = connect(url)
        try:
            wh.execute(f"DROP SCHEMA IF EXISTS {wh.cdm_schema} CASCADE")
            wh.execute(f"DROP SCHEMA IF EXISTS {wh.results_schema} CASCADE")
            wh.execute(f"DROP SCHEMA IF EXISTS {wh.fhir_schema} CASCADE")
        finally:
            wh.close()
