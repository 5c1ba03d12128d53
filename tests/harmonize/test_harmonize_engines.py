"""The same FHIR and Synthea CSV loads give the same OMOP tables on DuckDB, PostgreSQL and Spark.

The FHIR sample is harmonized without a vocabulary (every concept 0, tables by resource type); the Synthea CSV
sample with a vocabulary cut from the bundled Synthea27Nj sample, so concepts pick the tables and condition eras
are built. Spark runs the CLI as a user would (`carelake -w spark://local?path=DIR load ...`), one process per
source, both started at once while DuckDB and PostgreSQL load in this process. On data this small a pipeline of
~200 short statements spends its time compiling, so those processes run Spark's interpreted evaluation (the
FAST_SMALL_DATA settings of tests/engines.py) and the JVM's quick JIT only: flags a JVM takes at launch, hence
the processes. What Spark committed is read back from its Parquet folders with pyarrow and compared row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import carelake
from carelake.errors import CarelakeError
from carelake.fhir import stage_fhir
from carelake.harmonize import HarmonizeReport, harmonize
from carelake.sources.synthea import load_synthea_csv
from carelake.warehouse import Warehouse, quote
from engines import FAST_SMALL_DATA

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

DATA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir"
SOURCES = {"fhir": ("fhir", DATA), "csv": ("synthea-csv", DATA / "mcode-csv")}
VOCABULARY = ("CONCEPT", "VOCABULARY", "DOMAIN", "CONCEPT_CLASS", "CONCEPT_ANCESTOR")
POSTGRES = os.environ.get("CARELAKE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# C1 only: a fraction of the JIT's work; the code cache it gets by default (48 MB) fills up within a load.
JVM = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
SPARK_SUBMIT = " ".join([*(f"--conf {k}={v}" for k, v in FAST_SMALL_DATA.items()), f"--driver-java-options '{JVM}'",
                         "pyspark-shell"])  # fmt: skip
# Tables each sample feeds: the comparison means something only if they have rows.
FED = {
    "fhir": ("person", "death", "visit_occurrence", "visit_detail", "condition_occurrence", "drug_exposure",
             "procedure_occurrence", "measurement", "observation", "observation_period", "provider", "care_site",
             "location", "cdm_source"),
    "csv": ("person", "visit_occurrence", "visit_detail", "condition_occurrence", "drug_exposure",
            "procedure_occurrence", "observation_period", "condition_era", "location", "cdm_source", "concept"),
}  # fmt: skip
# Filled on the day of the load: equal unless a run straddles midnight, so left out of the row comparison.
VOLATILE = {"cdm_source": {"source_release_date", "cdm_release_date"}}

Row = tuple[Any, ...]


@dataclass
class Outcome:
    """What one backend made of one source: the report's accounting and every CDM table's rows."""

    report: dict[str, Any]
    tables: dict[str, list[Row]]

    def counts(self) -> dict[str, int]:
        return {t: len(rows) for t, rows in self.tables.items()}


# (backend, source) → what it made, or the error PostgreSQL gave (raised by its own test).
Outcomes = dict[tuple[str, str], Outcome | CarelakeError]


def _value(v: Any) -> Any:
    """One cell in a form every backend agrees on (Spark's timestamps carry UTC, PostgreSQL's numerics are Decimal)."""
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v
    if isinstance(v, Decimal | float):
        return round(float(v), 6)
    return v


def _rows(records: list[dict[str, Any]], columns: list[str]) -> list[Row]:
    return sorted((tuple(_value(r[c]) for c in columns) for r in records), key=repr)


def _columns(table: str, names: list[str]) -> list[str]:
    return [c for c in names if c not in VOLATILE.get(table, set())]


def _outcome_in(wh: Warehouse, report: HarmonizeReport) -> Outcome:
    tables = {}
    for table in wh.list_tables(wh.cdm_schema):
        data = wh.fetch_arrow(f"SELECT * FROM {quote(wh.cdm_schema)}.{quote(table)}")
        tables[table] = _rows(data.to_pylist(), _columns(table, data.column_names))
    return Outcome(report.to_dict(), tables)


def _load_in(url: str, source: str, vocabulary: Path) -> Outcome:
    wh = carelake.connect(url)
    try:
        if source == "fhir":
            stage_fhir(wh, [DATA])
            return _outcome_in(wh, harmonize(wh))
        carelake.load_omop(wh, [vocabulary])
        return _outcome_in(wh, load_synthea_csv(wh, SOURCES["csv"][1]))
    finally:
        if url.startswith("postgresql"):
            for schema in (wh.cdm_schema, wh.results_schema, wh.fhir_schema):
                wh.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        wh.close()


def _postgres_url(source: str) -> str:
    """A throw-away set of schemas on the test server."""
    tag = f"{source}_{uuid.uuid4().hex[:8]}"
    return f"{POSTGRES}?schema=cdm_{tag}&results=results_{tag}&fhir=fhir_{tag}"


def _spark_outcome(root: Path, stdout: str) -> Outcome:
    """The CLI's report, and the rows of every CDM table from the Parquet files Spark committed."""
    doc = json.loads(stdout)
    assert [p.name for p in root.iterdir() if p.name.endswith("_stage")] == []  # the scratch schema is gone
    tables = {}
    for folder in sorted(p for p in (root / "cdm").iterdir() if (p / "_carelake_table.json").exists()):
        parts = [pq.read_table(f) for f in sorted(folder.glob("*.parquet"))]
        records = [r for part in parts for r in part.to_pylist()]
        tables[folder.name] = _rows(records, _columns(folder.name, parts[0].column_names))
    return Outcome(doc.get("omop", doc), tables)


def _vocabulary(sample_dir: Path, folder: Path) -> Path:
    """The sample's vocabulary, with the relationships among its own concepts (5,178 of 266,588: fast to load)."""
    folder.mkdir()
    for name in VOCABULARY:
        shutil.copy(sample_dir / f"{name}.csv.gz", folder)
    ids = pacsv.read_csv(sample_dir / "CONCEPT.csv.gz").column("concept_id")
    rel = pacsv.read_csv(sample_dir / "CONCEPT_RELATIONSHIP.csv.gz")
    keep = pc.and_(pc.is_in(rel.column("concept_id_1"), ids), pc.is_in(rel.column("concept_id_2"), ids))
    pacsv.write_csv(rel.filter(keep), folder / "CONCEPT_RELATIONSHIP.csv")
    return folder


def _spark_command(root: Path, source: str, vocabulary: Path) -> list[str]:
    """The CLI load(s) for one source, as one shell command line; only the last prints (JSON) on stdout."""
    cli = [sys.executable, "-m", "carelake", "-w", f"spark://local?path={root}", "load"]
    verb, path = SOURCES[source]
    load = shlex.join([*cli, verb, str(path), "--json"])
    if source == "fhir":
        return ["sh", "-c", load]
    return ["sh", "-c", f"{shlex.join([*cli, 'omop', str(vocabulary)])} 1>&2 && {load}"]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Iterator[Outcomes]:
    """(backend, source) → outcome; both Spark loads run in their own processes while the others load here."""
    base = tmp_path_factory.mktemp("harmonize_spark")
    vocabulary = _vocabulary(sample_dir, base / "vocabulary")
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_WAREHOUSE"} | {"PYSPARK_SUBMIT_ARGS": SPARK_SUBMIT}
    running = {}
    for source in SOURCES:
        root = base / f"spark_{source}"
        command = _spark_command(root, source, vocabulary)
        out = subprocess.PIPE
        running[source] = (root, subprocess.Popen(command, cwd=base, env=env, text=True, stdout=out, stderr=out))
    found: Outcomes = {}
    try:
        for source in SOURCES:
            found["duckdb", source] = _load_in("duckdb:///:memory:", source, vocabulary)
            try:
                found["postgres", source] = _load_in(_postgres_url(source), source, vocabulary)
            except CarelakeError as e:  # raised by the PostgreSQL test, so the Spark ones still run without a server
                found["postgres", source] = e
        for source, (root, process) in running.items():
            stdout, stderr = process.communicate(timeout=900)
            assert process.returncode == 0, stderr[-3000:]
            found["spark", source] = _spark_outcome(root, stdout)
    finally:
        for _, process in running.values():
            if process.poll() is None:
                process.kill()
            process.communicate()  # reaps it and closes its pipes, whatever happened above
    yield found


def _compare(got: Outcome, expected: Outcome) -> None:
    assert got.counts() == expected.counts()
    assert got.report["resources"] == expected.report["resources"]
    assert got.report["omop_rows"] == expected.report["omop_rows"]
    assert got.report["vocabulary_coverage"] == expected.report["vocabulary_coverage"]
    assert got.report["top_unmapped_codes"] == expected.report["top_unmapped_codes"]
    for table, rows in expected.tables.items():
        assert got.tables[table] == rows, table


@pytest.mark.parametrize("source", list(SOURCES))
def test_spark_writes_what_duckdb_writes(outcomes: Outcomes, source: str) -> None:
    expected, got = outcomes["duckdb", source], outcomes["spark", source]
    assert isinstance(got, Outcome) and isinstance(expected, Outcome)
    counts = expected.counts()
    assert [t for t in FED[source] if counts[t] == 0] == []
    _compare(got, expected)


@pytest.mark.postgres
@pytest.mark.parametrize("source", list(SOURCES))
def test_postgres_writes_what_duckdb_writes(outcomes: Outcomes, source: str) -> None:
    got = outcomes["postgres", source]
    if isinstance(got, CarelakeError):
        raise got
    expected = outcomes["duckdb", source]
    assert isinstance(got, Outcome) and isinstance(expected, Outcome)
    _compare(got, expected)
