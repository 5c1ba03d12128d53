"""Cohort tests run on DuckDB and PostgreSQL (the Spark backend has no temporary tables for the cohort SQL)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
