"""The engines the suite runs on, and a throw-away warehouse URL on each (shared by conftest and tests).

A module of its own, not conftest, for the reason given in sample_counts.py.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from carelake.warehouse import Warehouse, connect

POSTGRES = os.environ.get("CARELAKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Each engine and the marker that selects it (-m postgres, -m spark); DuckDB, embedded, always runs.
ENGINE_MARKS: dict[str, list[pytest.MarkDecorator]] = {
    "duckdb": [],
    "postgres": [pytest.mark.postgres],
    "spark": [pytest.mark.spark],
}
BACKENDS = [pytest.param(name, marks=marks, id=name) for name, marks in ENGINE_MARKS.items()]


# Spark runtime settings for the suite's small data: interpreted evaluation, no whole-stage codegen. On a few hundred
# rows a query's time is compiling, not running (the circe-be golden cases: about 3x faster).
FAST_SMALL_DATA = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


def for_small_data(wh: Warehouse) -> Warehouse:
    """Tune a Spark warehouse for tiny inputs (session settings; other engines are left as they are)."""
    session = getattr(wh, "spark", None)
    if session is not None:
        for key, value in FAST_SMALL_DATA.items():
            session.conf.set(key, value)
    return wh


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


def engines(**excluded: str) -> list[object]:
    """BACKENDS for `parametrize("backend", ...)`, with an explicit, reasoned skip for each engine left out.

    Reasons start with 'notimpl:' (the engine lacks what the test needs; it could be built) or 'never:' (the engine
    adds nothing: the code under test runs before any warehouse, or another test already covers the engine).
    """
    unknown = set(excluded) - set(ENGINE_MARKS)
    assert not unknown, f"unknown engines {sorted(unknown)}"
    out: list[object] = []
    for name, marks in ENGINE_MARKS.items():
        reason = excluded.get(name)
        if reason is not None:
            assert reason.startswith(("notimpl:", "never:")), reason
        skip = [pytest.mark.skip(reason=reason)] if reason else []
        out.append(pytest.param(name, marks=[*marks, *skip], id=name))
    return out
