"""`carelake cohort generate|sql` as a user runs them: a subprocess over the Synthea27Nj sample loaded by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from circe_fixtures import DATA

from carelake.warehouse import connect

LIBRARY = DATA / "phenotypelibrary"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_WAREHOUSE"}
    return subprocess.run(
        [sys.executable, "-m", "carelake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> str:
    tmp = tmp_path_factory.mktemp("cohort_cli")
    url = f"duckdb:///{tmp / 'wh.duckdb'}"
    done = subprocess.run(
        [sys.executable, "-m", "carelake", "--warehouse", url, "load", "omop", str(sample_dir)],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return url


def test_generate_json_reports_counts_and_attrition(loaded: str, tmp_path: Path) -> None:
    files = [str(LIBRARY / f"{n}.json") for n in (23, 346, 1032)]
    done = cli("--warehouse", loaded, "cohort", "generate", *files, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = {c["cohort_id"]: c for c in json.loads(done.stdout)["cohorts"]}
    assert {k: (v["records"], v["persons"]) for k, v in got.items()} == {23: (13, 7), 346: (1578, 28), 1032: (0, 0)}
    assert [r["sequence"] for r in got[1032]["attrition"]] == [0, 1, 2]
    assert got[346]["base_count"] == 1722 and got[346]["final_count"] == 1721
    wh = connect(loaded, read_only=True)
    try:
        rows = wh.fetch_arrow(
            "SELECT cohort_definition_id AS id, COUNT(*) AS n FROM results.cohort GROUP BY 1 ORDER BY 1"
        ).to_pylist()
    finally:
        wh.close()
    assert rows == [{"id": 23, "n": 13}, {"id": 346, "n": 1578}]


def test_generate_text_with_explicit_ids(loaded: str, tmp_path: Path) -> None:
    done = cli("--warehouse", loaded, "cohort", "generate", str(LIBRARY / "770.json"), "--id", "9001", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cohort 9001 (770.json): 5 records, 5 persons" in done.stdout


def test_non_numeric_names_numbered_in_order(loaded: str, tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text((LIBRARY / "976.json").read_text())
    (tmp_path / "a.json").write_text((LIBRARY / "23.json").read_text())
    done = cli("--warehouse", loaded, "cohort", "generate", "b.json", "a.json", "1.json", "--json", cwd=tmp_path)
    assert done.returncode == 2 and "1.json: no such file" in done.stderr
    done = cli("--warehouse", loaded, "cohort", "generate", "b.json", "a.json", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = [(c["cohort_id"], Path(c["file"]).name, c["persons"]) for c in json.loads(done.stdout)["cohorts"]]
    assert got == [(1, "b.json", 10), (2, "a.json", 7)]


def test_sql_prints_script_in_dialect(tmp_path: Path) -> None:
    done = cli("cohort", "sql", str(LIBRARY / "23.json"), "--dialect", "postgres", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CREATE TEMPORARY TABLE cl_codesets" in done.stdout
    assert "cohort_definition_id" in done.stdout and "23" in done.stdout
    # Without --dialect, the SQL and schema names are those of the warehouse given (nothing connects to it).
    spark = cli("-w", "spark://local?path=lake&schema=omop", "cohort", "sql", str(LIBRARY / "23.json"), cwd=tmp_path)
    assert spark.returncode == 0, spark.stderr
    assert "FROM `omop`.visit_occurrence" in spark.stdout and not (tmp_path / "lake").exists()
    wrong = cli("cohort", "sql", str(LIBRARY / "23.json"), "--dialect", "oracle", cwd=tmp_path)
    assert wrong.returncode == 2 and "unknown engine 'oracle'" in wrong.stderr


def test_bad_definition_exits_2(loaded: str, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"PrimaryCriteria": 7}')
    done = cli("--warehouse", loaded, "cohort", "generate", "bad.json", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stdout == ""
    wrong_ids = cli("--warehouse", loaded, "cohort", "generate", "bad.json", "--id", "1", "--id", "2", cwd=tmp_path)
    assert wrong_ids.returncode == 2 and "2 --id values for 1 files" in wrong_ids.stderr


def test_characterize_writes_suppressed_outputs(loaded: str, tmp_path: Path) -> None:
    files = [str(LIBRARY / f"{n}.json") for n in (23, 346)]
    assert cli("--warehouse", loaded, "cohort", "generate", *files, cwd=tmp_path).returncode == 0
    done = cli(
        "--warehouse", loaded, "characterize", "--cohort", "346", "--outcome", "23", "--tar-end", "3650",
        "--out", "out", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["cohorts"][0]["persons"] == 28 and data["incidence"]["events"] == "<5"
    assert {Path(p).name for p in data["files"].values()} == {f"characterization.{x}" for x in ("json", "csv", "html")}
    assert "data-chart=" in (tmp_path / "out" / "characterization.html").read_text()  # drawn by plotly
    bad = cli("--warehouse", loaded, "characterize", "--cohort", "346", "--tar-end-anchor", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "hint: use start or end" in bad.stderr
