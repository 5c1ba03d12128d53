"""DocumentReference → note (base64 text decoded in the warehouse) and Device → device_exposure, on every engine."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import carelake
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.warehouse import Warehouse
from engines import engines

DATA = Path(__file__).resolve().parents[1] / "data"
BACKENDS = engines(spark="never: test_harmonize_engines compares both sources on Spark with DuckDB row by row")
TEXT = "Größe: 180 cm — naïve “quotes” ✓\nline two"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _doc(did: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": did,
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "date": "2020-01-05T10:00:00Z",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34117-2", "display": "History and physical note"}]},
        "context": {"encounter": [{"reference": "Encounter/e1"}]},
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": _b64(f"note {did}")}}],
    }
    doc.update(extra)
    return doc


def _rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    return list(wh.fetch_arrow(sql.format(cdm=wh.cdm_schema)).to_pylist())


@pytest.mark.parametrize("backend", BACKENDS)
def test_notes_decode_text_and_account_for_every_document(warehouse: Warehouse, tmp_path: Path) -> None:
    pdf = {"attachment": {"contentType": "application/pdf", "data": _b64("%PDF")}}
    rows = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-01-01"},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p1"},
         "period": {"start": "2020-01-05T09:00:00Z", "end": "2020-01-05T11:00:00Z"}},
        # The text is the second attachment; the PDF before it is passed over.
        _doc("d1", content=[pdf, {"attachment": {"contentType": "text/plain", "data": _b64(TEXT)}}]),
        _doc("d2", language="fr-FR", date=None, context={"period": {"start": "2020-01-06"}}),
        _doc("d3", date=None, context={}),  # no date: rejected
        _doc("d4", content=[pdf]),  # no text: rejected
        _doc("d5", content=[{"attachment": {"contentType": "text/plain", "data": "not base64!"}}]),
        _doc("d6", status="entered-in-error"),
        _doc("d7", subject={"reference": "Patient/nobody"}),
    ]  # fmt: skip
    path = tmp_path / "notes.ndjson"
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows))
    stage_fhir(warehouse, [path])
    report = harmonize(warehouse)
    assert report.read["DocumentReference"] == 7 and report.balanced("DocumentReference")
    assert report.written["DocumentReference"] == {"note": 2}
    assert report.skipped["DocumentReference"] == {"status entered-in-error": 1, "subject is not a loaded Patient": 1}
    assert report.rejected["DocumentReference"] == {
        "no date (date or context.period.start)": 1,
        "no text/plain attachment with data (note_text is required)": 1,
        "attachment data is not base64": 1,
    }
    notes = _rows(
        warehouse,
        "SELECT note_date, note_text, note_title, note_source_value, note_type_concept_id, encoding_concept_id, "
        "language_concept_id, visit_occurrence_id, visit_detail_id FROM {cdm}.note ORDER BY note_date",
    )
    assert [(str(n["note_date"]), n["note_text"], n["language_concept_id"]) for n in notes] == [
        ("2020-01-05", TEXT, 4180186),
        ("2020-01-06", "note d2", 0),
    ]
    first = notes[0]
    assert first["note_title"] == "History and physical note" and first["note_source_value"] == "34117-2"
    assert (first["note_type_concept_id"], first["encoding_concept_id"]) == (32817, 32678)
    assert first["visit_occurrence_id"] is not None and first["visit_detail_id"] is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_synthea_notes_are_the_documents_text(warehouse: Warehouse) -> None:
    stage_fhir(warehouse, [DATA / "synthea-fhir" / "mcode"])
    report = harmonize(warehouse)
    bundle = json.loads(gzip.decompress(next((DATA / "synthea-fhir" / "mcode").glob("Coy949*.json.gz")).read_bytes()))
    docs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    assert report.written["DocumentReference"] == {"note": len(docs)} == {"note": 19}
    texts = {base64.b64decode(d["content"][0]["attachment"]["data"]).decode("utf-8") for d in docs}
    got = _rows(warehouse, "SELECT note_text, provider_id FROM {cdm}.note")
    assert {r["note_text"] for r in got} == texts
    assert all(r["provider_id"] is not None for r in got)


@pytest.mark.parametrize("backend", BACKENDS)
def test_devices_from_fhir(warehouse: Warehouse) -> None:
    stage_fhir(warehouse, [DATA / "synthea-devices" / "fhir"])
    report = harmonize(warehouse)
    assert report.written["Device"] == {"device_exposure": 2} and report.balanced("Device")
    rows = _rows(
        warehouse,
        "SELECT device_source_value, unique_device_id, device_exposure_start_date, device_type_concept_id "
        "FROM {cdm}.device_exposure ORDER BY 1",
    )
    assert [(r["device_source_value"], r["unique_device_id"], str(r["device_exposure_start_date"])) for r in rows] == [
        ("448907002", "27939302607210", "2020-02-25"),
        ("449071006", "62791585759022", "2020-02-25"),
    ]
    assert {r["device_type_concept_id"] for r in rows} == {32817}


def test_device_without_date_is_rejected_and_unloaded_subject_skipped(tmp_path: Path) -> None:
    device = {"resourceType": "Device", "status": "active", "patient": {"reference": "Patient/p1"},
              "type": {"coding": [{"system": "http://snomed.info/sct", "code": "337414009"}]}}  # fmt: skip
    rows = [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"},
        {**device, "id": "a", "manufactureDate": "2001-02-03T04:05:06Z"},
        {**device, "id": "b"},
        {**device, "id": "c", "manufactureDate": "2001-02-03", "patient": {"reference": "Patient/p2"}},
        {**device, "id": "d", "manufactureDate": "2001-02-03", "status": "entered-in-error"},
    ]
    (tmp_path / "d.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    wh = carelake.connect("duckdb:///:memory:")
    stage_fhir(wh, [tmp_path / "d.ndjson"])
    report = harmonize(wh)
    assert report.balanced("Device")
    assert report.written["Device"] == {"device_exposure": 1}
    assert report.rejected["Device"] == {
        "no date (onset, performed, authoredOn, occurrence, effective or manufactureDate)": 1
    }
    assert report.skipped["Device"] == {"subject is not a loaded Patient": 1, "status entered-in-error": 1}
    got = _rows(wh, "SELECT device_exposure_start_datetime AS s FROM {cdm}.device_exposure")
    assert str(got[0]["s"]) == "2001-02-03 04:05:06"
