"""The same study file on PostgreSQL and Spark gives DuckDB's study population, covariate matrix and coefficients,
for a prediction study and for a survival study (its follow-up, Cox coefficients and baseline hazard)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carelake.models.risk import LinearRisk
from carelake.models.survival import SurvivalRisk
from carelake.studies import load_study
from carelake.studies.population import follow_up
from carelake.studies.run import StudyRun, run_study
from carelake.warehouse import connect
from engines import drop, for_small_data, make_url
from simulated import STUDIES, load_simulated


def _run(url: str, simulated: Path) -> tuple[StudyRun, StudyRun]:
    wh = for_small_data(load_simulated(connect(url), simulated))
    try:
        return (run_study(wh, load_study(STUDIES / "respiratory.yaml")),
                run_study(wh, load_study(STUDIES / "respiratory_survival.yaml")))  # fmt: skip
    finally:
        wh.close()


@pytest.fixture(scope="module")
def duckdb_run(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyRun, StudyRun]:
    return _run(f"duckdb:///{tmp_path_factory.mktemp('engines') / 'wh.duckdb'}", simulated)


@pytest.mark.parametrize(
    "other", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("spark", marks=pytest.mark.spark)]
)
def test_every_engine_gives_duckdbs_study(
    duckdb_run: tuple[StudyRun, StudyRun], simulated: Path, tmp_path: Path, other: str
) -> None:
    url = make_url(other, tmp_path)
    try:
        got, got_survival = _run(url, simulated)
    finally:
        drop(url)
    want, want_survival = duckdb_run
    (a,), (b,) = got.analyses, want.analyses
    assert a.population.rows.equals(b.population.rows)
    assert [s.rows for s in a.population.attrition] == [s.rows for s in b.population.attrition]
    assert b.population.rows.num_rows > 500 and int(b.population.labels.sum()) > 10
    assert got.features.reference.equals(want.features.reference)
    diff = got.features.matrix - want.features.matrix
    assert got.features.matrix.nnz == want.features.matrix.nnz > 10_000 and abs(diff).max() <= 1e-12
    assert isinstance(a.risk, LinearRisk) and isinstance(b.risk, LinearRisk)
    assert np.count_nonzero(b.risk.coefficients) > 3
    np.testing.assert_allclose(a.risk.coefficients, b.risk.coefficients, rtol=0, atol=1e-8)
    assert abs(a.risk.intercept - b.risk.intercept) <= 1e-8
    assert a.params == b.params

    (c,), (d,) = got_survival.analyses, want_survival.analyses
    assert c.population.rows.equals(d.population.rows)
    fu_c, fu_d = follow_up(c.population), follow_up(d.population)
    assert np.array_equal(fu_c.time, fu_d.time) and np.array_equal(fu_c.event, fu_d.event) and fu_d.event.sum() > 10
    assert isinstance(c.risk, SurvivalRisk) and isinstance(d.risk, SurvivalRisk)
    assert isinstance(c.risk.score_model, LinearRisk) and isinstance(d.risk.score_model, LinearRisk)
    np.testing.assert_allclose(c.risk.score_model.coefficients, d.risk.score_model.coefficients, rtol=0, atol=1e-8)
    np.testing.assert_allclose(c.risk.baseline_hazard, d.risk.baseline_hazard, rtol=1e-8, atol=0)
