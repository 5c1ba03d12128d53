"""SQL-on-FHIR v2: the official suite on DuckDB and PostgreSQL, and the views users write on real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carelake.fhir import stage_fhir
from carelake.fhir.view.conformance import REVERSED_UPSTREAM, run_conformance
from carelake.fhir.view.definition import ViewError
from carelake.fhir.view.runner import compile_view, materialize_view, run_view
from carelake.warehouse import Warehouse
from engines import engines

SUITE_ENGINES = engines(spark="never: test_official_suite_on_spark runs it on Spark, with its unionAll gap")

TESTS = Path(__file__).resolve().parents[1] / "data"
SUITE = TESTS / "sql-on-fhir-v2"
SAMPLES = TESTS / "synthea-fhir"


@pytest.mark.parametrize("backend", SUITE_ENGINES)
def test_official_suite(warehouse_url: str, tmp_path: Path) -> None:
    report = tmp_path / "test_report.json"
    result = run_conformance(SUITE, warehouse_url, report=report)
    failed = {(f, n) for f, n, _ in result.failures()}
    assert failed == REVERSED_UPSTREAM, result.failures()
    assert result.counts("shareable") == (121, 123)
    assert result.counts("experimental") == (11, 11)
    written = json.loads(report.read_text())
    assert sorted(written) == sorted(p.name for p in SUITE.glob("*.json"))
    assert all(set(t) == {"name", "result"} for body in written.values() for t in body["tests"])
    notes = [t["result"]["details"]["note"] for t in written["fhirpath.json"]["tests"] if not t["result"]["passed"]]
    assert len(notes) == 2 and all("#282" in n for n in notes)


OBSERVATIONS = {
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
                {"name": "value", "path": "value.ofType(Quantity).value"},
                {"name": "unit", "path": "value.ofType(Quantity).unit"},
            ]
        },
        {"forEach": "code.coding", "column": [{"name": "system", "path": "system"}, {"name": "code", "path": "code"}]},
    ],
}


@pytest.mark.parametrize("backend", engines())
def test_view_on_real_bundle(warehouse: Warehouse) -> None:
    stage_fhir(warehouse, [SAMPLES / "smart"])
    rows = run_view(warehouse, OBSERVATIONS).to_pylist()
    raw = [json.loads(r) for r in warehouse.fetch_arrow(f"SELECT resource FROM {warehouse.fhir_schema}.observation")
           .column(0).to_pylist()]  # fmt: skip
    # One row per coding, as many as the resources hold.
    assert len(rows) == sum(len(r["code"]["coding"]) for r in raw)
    by_id = {r["id"]: r for r in raw}
    for row in rows:
        source = by_id[row["id"]]
        assert row["patient"] == source["subject"]["reference"].split("/")[1]
        quantity = source.get("valueQuantity")
        assert row["value"] == (quantity or {}).get("value")
        assert (row["system"], row["code"]) in {(c.get("system"), c["code"]) for c in source["code"]["coding"]}


def test_materialize_and_compile(tmp_path: Path) -> None:
    from carelake.warehouse import connect

    wh = connect(f"duckdb:///{tmp_path / 'v.duckdb'}")
    stage_fhir(wh, [SAMPLES / "bulk"])
    columns = [
        {"name": "id", "path": "id"},
        {"name": "gender", "path": "gender"},
        {"name": "birth", "path": "birthDate", "type": "date"},
    ]
    patients = {"resource": "Patient", "select": [{"column": columns}]}
    materialize_view(wh, patients, "views.patient")
    assert wh.fetch_scalar("SELECT COUNT(*) FROM views.patient") == 13
    materialize_view(wh, patients, "patient_live", kind="view")
    assert wh.fetch_scalar("SELECT COUNT(DISTINCT gender) FROM patient_live") == 2
    # The same view, spelled for PostgreSQL's jsonb.
    # The same view, spelled for PostgreSQL's jsonb and Spark's JSON text: the SQL of the warehouse named (nothing
    # connects), reading that warehouse's FHIR schema.
    assert '"raw"."patient"' in compile_view(patients, "postgresql://127.0.0.1/test?fhir=raw")
    assert "#>" in compile_view(patients, "postgresql://127.0.0.1/test")
    assert "get_json_object" in compile_view(patients, "spark://local?path=lake")
    assert "json_extract_string(r.resource, ['$.id', '$.gender', '$.birthDate'])" in compile_view(patients, wh)


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({"resource": "Patient", "select": [{"column": [{"name": "n", "path": "name.family", "collection": False}]}]},
         "can return more than one value"),
        ({"resource": "Patient", "select": [{"column": [{"name": "1n", "path": "id"}]}]}, "must start with a letter"),
        ({"resource": "Patient", "select": [{"column": [{"name": "n", "path": "name.where("}]}]}, "invalid FHIRPath"),
        ({"resource": "Patient", "where": [{"path": "name.family"}],
          "select": [{"column": [{"name": "id", "path": "id"}]}]}, "not a boolean"),
        ({"resource": "Patientt", "select": [{"column": [{"name": "id", "path": "id"}]}]}, "not a FHIR R4 resource"),
    ],
)  # fmt: skip
def test_bad_views_name_the_problem(view: dict[str, object], message: str) -> None:
    with pytest.raises(ViewError, match=message):
        compile_view(view)


FALLBACK = {
    "resource": "Patient",
    "select": [
        {
            "column": [
                {"name": "id", "path": "id"},
                {"name": "year", "path": "birthDate.toString().substring(0, 4)"},
                {"name": "family", "path": "name.where(use = 'official').family.first().upper()"},
            ]
        }
    ],
    "where": [{"path": "gender.startsWith('f')"}],
}


def test_python_fallback_for_what_sql_cannot_say(tmp_path: Path) -> None:
    from carelake.warehouse import connect

    wh = connect("duckdb:///:memory:")
    stage_fhir(wh, [SAMPLES / "bulk"])
    rows = run_view(wh, FALLBACK).to_pylist()
    raw = [json.loads(r) for r in wh.fetch_arrow("SELECT resource FROM fhir.patient").column(0).to_pylist()]
    women = {p["id"]: p for p in raw if p["gender"] == "female"}
    assert {r["id"] for r in rows} == set(women)
    for row in rows:
        patient = women[row["id"]]
        assert row["year"] == patient["birthDate"][:4]
        official = [n["family"] for n in patient["name"] if n.get("use") == "official"]
        assert row["family"] == official[0].upper()
    # Only the paths SQL cannot express go to Python; the rest stays SQL.
    sql = compile_view(FALLBACK, "duckdb:///:memory:")
    assert "carelake_fhirpath(" in sql and "'$.id'" in sql
    # An engine that cannot call Python says so instead of printing SQL it cannot run.
    with pytest.raises(ViewError, match="no SQL translation on postgres, and this engine cannot run Python"):
        compile_view(FALLBACK, "postgresql://127.0.0.1/test")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_fallback_on_postgres_says_where_it_runs(warehouse_url: str) -> None:
    from carelake.warehouse import connect

    wh = connect(warehouse_url)
    try:
        with pytest.raises(ViewError, match=r"no SQL translation on postgres") as info:
            run_view(wh, FALLBACK)
        assert info.value.hint and "DuckDB" in info.value.hint
    finally:
        wh.close()


@pytest.mark.spark
def test_official_suite_on_spark(tmp_path: Path) -> None:
    """Spark runs every test except unionAll (Spark rejects outer references in lateral subqueries) and repeat
    (no recursive CTE); those fail with a clear ViewError, nothing else fails."""
    result = run_conformance(SUITE, f"spark://local?path={tmp_path / 'lake'}")
    for file, name, error in result.failures():
        assert (file, name) in REVERSED_UPSTREAM or "unionAll on spark" in error or "repeat on Spark" in error, (
            file,
            name,
            error,
        )
    assert result.counts("shareable") == (96, 123)
