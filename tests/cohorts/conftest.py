"""Cohort tests run on DuckDB and PostgreSQL; Spark parity for cohorts lives in tests/spark (one slow Spark load)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
