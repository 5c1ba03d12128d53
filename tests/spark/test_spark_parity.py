"""Spark (local mode) gives the same cohorts and data-quality results as DuckDB on the Synthea27Nj sample.

The sample is loaded into Spark once for the module (about 25 s); DuckDB, in memory, is the reference. On data
this small, Spark spends its time compiling generated code, so the module runs Spark's interpreted evaluation.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import carelake
from carelake.cohorts import GenerationReport, generate
from carelake.omop.schema import create_cdm
from carelake.quality import QualityRun, run_checks
from carelake.warehouse import Warehouse, connect, quote

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

# Runtime SQL settings for this module only (restored afterwards): interpreted evaluation, no whole-stage codegen.
FAST_SMALL_DATA = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
LIBRARY = Path(__file__).resolve().parents[1] / "data" / "circe" / "phenotypelibrary"
BASELINE = LIBRARY / "phenotypelibrary_on_synthea27nj_duckcdm_counts.csv"


def _load(url: str, sample_dir: Path) -> Warehouse:
    wh = connect(url)
    create_cdm(wh)
    carelake.load_omop(wh, sorted(sample_dir.glob("*.csv.gz")))
    return wh


@pytest.fixture(scope="module")
def loaded(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Warehouse]]:
    """(DuckDB, Spark), each holding the sample; cohorts go to their own results schema so DQD sees a clean CDM."""
    root = tmp_path_factory.mktemp("spark_parity")
    duck = _load("duckdb:///:memory:", sample_dir)
    spark = _load(f"spark://local?path={root / 'spark'}", sample_dir)
    conf = spark.spark.conf  # type: ignore[attr-defined]
    saved = {k: conf.get(k) for k in FAST_SMALL_DATA}
    for k, v in FAST_SMALL_DATA.items():
        conf.set(k, v)
    yield duck, spark
    for k, v in saved.items():
        conf.set(k, v)
    spark.close()
    duck.close()


def _cohort_outcome(wh: Warehouse, report: GenerationReport) -> dict[int, tuple[Any, ...]]:
    spans = {
        int(r["id"]): (str(r["s"]), str(r["e"]))
        for r in wh.fetch_arrow(
            "SELECT cohort_definition_id AS id, MIN(cohort_start_date) AS s, MAX(cohort_end_date) AS e "
            f"FROM {quote(wh.results_schema)}.cohort GROUP BY cohort_definition_id"
        ).to_pylist()
    }
    return {
        cid: (
            r.records,
            r.persons,
            *spans.get(cid, ("", "")),
            r.base_count,
            r.final_count,
            [(s.sequence, s.name, s.person_count, s.gain_count) for s in r.rules],
        )
        for cid, r in sorted(report.cohorts.items())
    }


def _baseline() -> dict[int, tuple[int, int, str, str]]:
    with BASELINE.open(encoding="utf-8", newline="") as f:
        return {
            int(r["cohort_id"]): (int(r["records"]), int(r["persons"]), r["min_start"], r["max_end"])
            for r in csv.DictReader(f)
        }


def test_spark_phenotype_library_cohorts_match_duckdb(loaded: tuple[Warehouse, Warehouse], sample_dir: Path) -> None:
    _, spark = loaded
    definitions = {int(p.stem): p for p in LIBRARY.glob("*.json")}
    assert len(definitions) == 8
    duck = _load("duckdb:///:memory:", sample_dir)
    try:
        expected = _cohort_outcome(duck, generate(duck, definitions))
    finally:
        duck.close()
    cohorts = connect(f"spark://local?path={spark.url.path}&results=spark_cohorts")
    try:
        got = _cohort_outcome(cohorts, generate(cohorts, definitions))
        assert got == expected
        baseline = _baseline()
        assert {cid: v[:4] for cid, v in got.items()} == {cid: baseline[cid] for cid in definitions}
        # Temporary tables are gone once generation is over; the results tables hold only what was committed.
        assert not [t for t in cohorts.spark.catalog.listTables() if t.isTemporary]
        assert cohorts.row_count("spark_cohorts", "cohort") == sum(v[0] for v in got.values())
    finally:
        cohorts.close()


def _quality_outcome(run: QualityRun) -> dict[str, tuple[str, int | None, int | None]]:
    return {r.check.check_id: (r.status, r.num_violated_rows, r.num_denominator_rows) for r in run.results}


def test_spark_quality_suite_matches_duckdb(loaded: tuple[Warehouse, Warehouse]) -> None:
    duck, spark = loaded
    expected = run_checks(duck)
    got = run_checks(spark)
    assert got.dialect == "spark"
    assert [r for r in got.results if r.status == "error"] == []
    assert _quality_outcome(got) == _quality_outcome(expected)
    assert len(got.results) > 2500
