"""`carelake load fhir`, `carelake fhir view` and `carelake fhir conformance` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parents[1] / "data"
VIEW = {
    "resourceType": "ViewDefinition",
    "resource": "Patient",
    "select": [
        {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]},
        {"forEachOrNull": "name", "column": [{"name": "family", "path": "family"}]},
    ],
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_WAREHOUSE"}
    return subprocess.run(
        [sys.executable, "-m", "carelake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_load_fhir_stage_only_json(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'f.duckdb'}"
    bad = tmp_path / "Patient.bad.ndjson"
    bad.write_text('{"resourceType": "Patient", "id": "ok"}\n{"resourceType": "Patient", "id": "x", "name": 5}\n')
    done = run("-w", url, "load", "fhir", str(DATA / "synthea-fhir" / "bulk"), str(bad), "--stage-only", "--json",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resources"]["Patient"] == {"read": 15, "loaded": 14, "rejected": 1, "replaced_by_a_later_copy": 0}
    assert report["rejections"][0]["where"] == f"{bad}:2"
    assert "Patient.name: expected a list" in report["rejections"][0]["reason"]
    assert report["references"]["unresolved"] == {}
    table = run("-w", url, "load", "fhir", str(DATA / "synthea-fhir" / "bulk"), "--stage-only", cwd=tmp_path)
    assert table.returncode == 0 and "Encounter" in table.stdout


def test_load_fhir_harmonizes_by_default(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'h.duckdb'}"
    done = run("-w", url, "load", "fhir", str(DATA / "synthea-fhir"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["omop"]["omop_rows"]["person"] == 15
    for rtype, row in report["omop"]["resources"].items():
        accounted = sum(row["written"].values()) + sum(row["skipped"].values()) + sum(row["rejected"].values())
        assert accounted == row["read"], rtype
    table = run("-w", url, "load", "fhir", str(DATA / "synthea-fhir" / "smart"), cwd=tmp_path)
    assert table.returncode == 0 and "harmonized to OMOP" in table.stdout


def test_fhir_view_formats(tmp_path: Path) -> None:
    view = tmp_path / "patient.json"
    view.write_text(json.dumps(VIEW))
    src = str(DATA / "synthea-fhir" / "bulk")
    as_csv = run("fhir", "view", str(view), "--input", src, cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    # One row per name (some patients also have a maiden name), each of the 13 patients at least once.
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 13
    assert set(rows[0]) == {"id", "gender", "family"}
    out = tmp_path / "p.parquet"
    as_parquet = run("fhir", "view", str(view), "--input", src, "--format", "parquet", "--out", str(out), cwd=tmp_path)
    assert as_parquet.returncode == 0, as_parquet.stderr
    assert pq.read_table(out).num_rows == 20
    as_ndjson = run("fhir", "view", str(view), "--input", src, "--format", "ndjson", cwd=tmp_path)
    assert sorted(json.loads(line)["id"] for line in as_ndjson.stdout.splitlines()) == sorted(r["id"] for r in rows)
    # Nothing was written to a warehouse file: --input alone runs in memory.
    assert not list(tmp_path.glob("*.duckdb"))


def test_fhir_view_bad_view_exit_2(tmp_path: Path) -> None:
    view = tmp_path / "v.json"
    view.write_text(json.dumps({"select": []}))
    done = run("fhir", "view", str(view), cwd=tmp_path)
    assert done.returncode == 2
    assert "resource is missing" in done.stderr


def test_fhir_conformance_writes_report(tmp_path: Path) -> None:
    report = tmp_path / "test_report.json"
    done = run("fhir", "conformance", str(DATA / "sql-on-fhir-v2"), "--report", str(report), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "shareable: 121 of 123" in done.stdout
    assert "basic.json" in json.loads(report.read_text())


def test_fhir_view_sql_is_the_given_warehouses(tmp_path: Path) -> None:
    """`--sql` prints the SQL of the warehouse named by `-w`, without connecting to it."""
    view = tmp_path / "patient.json"
    view.write_text(json.dumps(VIEW))
    spellings = {
        "duckdb:///:memory:": "json_extract_string(",
        "postgresql://127.0.0.1:1/nowhere": "jsonb_path_query_array(",
        f"spark://local?path={tmp_path / 'lake'}": "get_json_object(",
    }
    for url, spelling in spellings.items():
        done = run("-w", url, "fhir", "view", str(view), "--sql", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert spelling in done.stdout, url
        others = [s for u, s in spellings.items() if u != url]
        assert not any(s in done.stdout for s in others), url
    assert not (tmp_path / "lake").exists()
