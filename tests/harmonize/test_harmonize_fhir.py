"""FHIR → OMOP: one person per Patient, every resource accounted for, vocabulary mapping, re-loads replace."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

import carelake
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.warehouse import Warehouse
from engines import engines

DATA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir"
SAMPLE = Path(__file__).resolve().parents[2] / "src" / "carelake" / "data" / "synthea27nj"
VOCABULARY = ("CONCEPT", "CONCEPT_RELATIONSHIP", "CONCEPT_ANCESTOR", "VOCABULARY", "DOMAIN", "CONCEPT_CLASS")
BACKENDS = engines(spark="never: test_harmonize_engines compares both sources on Spark with DuckDB row by row")


def _rows(wh: Warehouse, sql: str) -> list[dict[str, object]]:
    return list(wh.fetch_arrow(sql.format(cdm=wh.cdm_schema, fhir=wh.fhir_schema)).to_pylist())


@pytest.fixture
def harmonized(warehouse: Warehouse) -> Warehouse:
    stage_fhir(warehouse, [DATA])
    harmonize(warehouse)
    return warehouse


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_patient_is_one_person_and_everything_is_accounted(warehouse: Warehouse) -> None:
    staged = stage_fhir(warehouse, [DATA])
    report = harmonize(warehouse)
    patients = _rows(warehouse, "SELECT id FROM {fhir}.patient")
    persons = _rows(warehouse, "SELECT person_source_value AS id, person_id FROM {cdm}.person")
    assert sorted(p["id"] for p in persons) == sorted(p["id"] for p in patients)
    assert len({p["person_id"] for p in persons}) == len(persons)
    for rtype, n in staged.read.items():
        assert report.read[rtype] == n
        assert report.balanced(rtype), rtype
    assert report.written["Encounter"]["visit_detail+visit_occurrence"] == staged.read["Encounter"]
    assert report.skipped["Claim"] == {"no OMOP mapping for this resource type yet": staged.read["Claim"]}
    assert report.rows["death"] == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_plausible_output(harmonized: Warehouse) -> None:
    wh = harmonized
    assert _rows(wh, "SELECT count(*) AS n FROM {cdm}.visit_occurrence WHERE visit_end_date < visit_start_date")[0][
        "n"
    ] == 0  # fmt: skip
    before_birth = _rows(
        wh,
        "SELECT count(*) AS n FROM {cdm}.condition_occurrence c JOIN {cdm}.person p USING (person_id) "
        "WHERE EXTRACT(year FROM c.condition_start_date) < p.year_of_birth",
    )
    assert before_birth[0]["n"] == 0
    outside = _rows(
        wh,
        "SELECT count(*) AS n FROM {cdm}.visit_occurrence v WHERE NOT EXISTS (SELECT 1 FROM {cdm}.observation_period o "
        "WHERE o.person_id = v.person_id AND v.visit_start_date BETWEEN o.observation_period_start_date "
        "AND o.observation_period_end_date)",
    )
    assert outside[0]["n"] == 0


def test_reload_is_idempotent_and_omop_follows_the_raw_store(tmp_path: Path) -> None:
    wh = carelake.connect(f"duckdb:///{tmp_path / 'h.duckdb'}")
    stage_fhir(wh, [DATA / "smart"])
    first = harmonize(wh)
    ids = _rows(wh, "SELECT person_id, condition_occurrence_id FROM {cdm}.condition_occurrence ORDER BY 2")
    again = harmonize(wh)
    assert again.rows == first.rows
    assert _rows(wh, "SELECT person_id, condition_occurrence_id FROM {cdm}.condition_occurrence ORDER BY 2") == ids
    # A condition gone from the raw store: its OMOP row goes with the next harmonization, every other id stays.
    with gzip.open(next((DATA / "smart").glob("*.gz")), "rt", encoding="utf-8") as f:
        bundle = json.load(f)
    dropped = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    wh.execute(f"DELETE FROM {wh.fhir_schema}.condition WHERE id = '{dropped}'")
    harmonize(wh)
    after = _rows(wh, "SELECT person_id, condition_occurrence_id FROM {cdm}.condition_occurrence ORDER BY 2")
    assert len(after) == len(ids) - 1 and set(map(str, after)) < set(map(str, ids))


def test_vocabulary_maps_every_code_it_holds(tmp_path: Path) -> None:
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    for name in VOCABULARY:
        shutil.copy(SAMPLE / f"{name}.csv.gz", vocab)
    wh = carelake.connect("duckdb:///:memory:")
    carelake.load_omop(wh, [vocab])
    stage_fhir(wh, [DATA])
    report = harmonize(wh)
    missed = _rows(
        wh,
        "SELECT count(*) AS n FROM {cdm}.condition_occurrence c WHERE condition_source_concept_id = 0 AND EXISTS "
        "(SELECT 1 FROM {cdm}.concept k WHERE k.concept_code = c.condition_source_value "
        "AND k.vocabulary_id = 'SNOMED')",
    )
    assert missed[0]["n"] == 0
    mapped = _rows(wh, "SELECT count(*) AS n FROM {cdm}.condition_occurrence WHERE condition_concept_id <> 0")
    assert mapped[0]["n"] > 0
    # Each row sits in the table of its standard concept's domain (a SNOMED finding in the Observation domain is an
    # observation, a procedure code in the Measurement domain a measurement).
    for table, column, domain in [
        ("condition_occurrence", "condition_concept_id", "Condition"),
        ("procedure_occurrence", "procedure_concept_id", "Procedure"),
        ("drug_exposure", "drug_concept_id", "Drug"),
        ("measurement", "measurement_concept_id", "Measurement"),
    ]:
        wrong = _rows(
            wh,
            f"SELECT count(*) AS n FROM {{cdm}}.{table} t JOIN {{cdm}}.concept k ON k.concept_id = t.{column} "
            f"WHERE t.{column} <> 0 AND k.domain_id <> '{domain}'",
        )
        assert wrong[0]["n"] == 0, table
    # The coverage report: mapped share per vocabulary, and the top unmapped codes are ones the vocabulary lacks.
    assert report.coverage["SNOMED"]["source_mapped"] > 0 and report.coverage["LOINC"]["standard_mapped"] > 0
    for miss in report.top_unmapped:
        known = _rows(
            wh,
            f"SELECT count(*) AS n FROM {{cdm}}.concept WHERE vocabulary_id = '{miss['vocabulary']}' "
            f"AND concept_code = '{miss['code']}' AND standard_concept = 'S'",
        )
        assert known[0]["n"] == 0, miss
    assert report.written["Condition"]["observation"] > 0
    assert report.written["Procedure"]["measurement"] > 0
    assert report.balanced("Condition")


def test_every_mapping_view_is_plain_sql_on_every_engine() -> None:
    """No mapping may lean on the Python fallback: harmonization must run in PostgreSQL as it does in DuckDB."""
    from importlib import resources

    from carelake.fhir import compile_view

    views = [
        p for p in resources.files("carelake.harmonize").joinpath("mappings").iterdir() if p.name.endswith(".json")
    ]
    assert len(views) >= 10
    for view in views:
        doc = json.loads(view.read_text(encoding="utf-8"))
        # PostgreSQL cannot call Python, so a mapping that needed it would fail to compile there.
        compile_view(doc, "postgresql://127.0.0.1/test")
        assert "carelake_fhirpath" not in compile_view(doc, "duckdb:///:memory:"), view.name


def test_inpatient_stays_a_day_apart_are_one_visit(tmp_path: Path) -> None:
    def encounter(eid: str, cls: str, start: str, end: str) -> dict[str, object]:
        return {"resourceType": "Encounter", "id": eid, "status": "finished", "class": {"code": cls},
                "subject": {"reference": "Patient/p1"}, "period": {"start": start, "end": end}}  # fmt: skip

    rows = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-01-01"},
        encounter("e1", "IMP", "2020-01-01T10:00:00Z", "2020-01-03T10:00:00Z"),
        encounter("e2", "IMP", "2020-01-04T08:00:00Z", "2020-01-06T10:00:00Z"),  # next day: same stay
        encounter("e3", "IMP", "2020-02-01T08:00:00Z", "2020-02-02T10:00:00Z"),  # a new stay
        encounter("e4", "AMB", "2020-01-05T08:00:00Z", "2020-01-05T09:00:00Z"),  # outpatient: its own visit
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e2"},
            "code": {"coding": [{"code": "x"}]},
            "onsetDateTime": "2020-01-05",
        },
    ]
    (tmp_path / "export.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    wh = carelake.connect("duckdb:///:memory:")
    stage_fhir(wh, [tmp_path / "export.ndjson"])
    harmonize(wh)
    visits = _rows(wh, "SELECT visit_concept_id, visit_start_date, visit_end_date FROM {cdm}.visit_occurrence "
                       "ORDER BY 2, 1")  # fmt: skip
    assert [(v["visit_concept_id"], str(v["visit_start_date"]), str(v["visit_end_date"])) for v in visits] == [
        (9201, "2020-01-01", "2020-01-06"),
        (9202, "2020-01-05", "2020-01-05"),
        (9201, "2020-02-01", "2020-02-02"),
    ]
    assert _rows(wh, "SELECT count(*) AS n FROM {cdm}.visit_detail")[0]["n"] == 4
    linked = _rows(
        wh,
        "SELECT v.visit_start_date AS s, d.visit_detail_source_value AS d FROM {cdm}.condition_occurrence c "
        "JOIN {cdm}.visit_occurrence v USING (visit_occurrence_id) JOIN {cdm}.visit_detail d USING (visit_detail_id)",
    )
    assert [(str(r["s"]), r["d"]) for r in linked] == [("2020-01-01", "e2")]
