"""The raw FHIR store: every real shape loads, references resolve across files, re-loads change nothing."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from carelake.fhir import stage_fhir
from carelake.warehouse import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir"


def _count(wh: Warehouse, table: str) -> int:
    return int(wh.fetch_scalar(f"SELECT COUNT(*) FROM {wh.fhir_schema}.{table}"))


def _refs(wh: Warehouse, table: str) -> list[str]:
    rows = wh.fetch_arrow(f"SELECT resource FROM {wh.fhir_schema}.{table}").column(0).to_pylist()
    out: list[str] = []
    stack = [json.loads(r) for r in rows]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                out.append(item["reference"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def test_every_sample_loads_and_references_resolve(warehouse: Warehouse) -> None:
    report = stage_fhir(warehouse, [DATA])
    assert report.rejections == []
    assert [s.file.rsplit("/", 1)[-1] for s in report.skipped_files] == ["log.ndjson"]
    # Bulk: 13 patients; the smart bundle: 1; the mcode bundle: 1.
    assert _count(warehouse, "patient") == 15
    assert report.references_unresolved == {}
    assert report.references_rewritten > 0
    refs = _refs(warehouse, "encounter")
    assert refs and not [r for r in refs if r.startswith("urn:") or "?" in r]
    # Each rewritten reference points at a resource that is in the store.
    practitioners = set(
        warehouse.fetch_arrow(f"SELECT id FROM {warehouse.fhir_schema}.practitioner").column(0).to_pylist()
    )
    assert {r.split("/", 1)[1] for r in refs if r.startswith("Practitioner/")} <= practitioners


def test_reload_is_idempotent(warehouse: Warehouse) -> None:
    first = stage_fhir(warehouse, [DATA / "smart"])
    before = {t: _count(warehouse, t.lower()) for t in first.loaded}
    stage_fhir(warehouse, [DATA / "smart"])
    assert {t: _count(warehouse, t.lower()) for t in first.loaded} == before
    assert sum(before.values()) == first.total_read


def test_the_newest_copy_of_an_id_wins_on_a_first_load_and_on_a_reload(warehouse: Warehouse, tmp_path: Path) -> None:
    """A first load writes a new type straight to the raw store; a reload goes through incoming tables. Both keep
    one row per id: the copy read last (the later file, then the later line)."""

    def org(name: str, oid: str = "o1") -> str:
        return json.dumps({"resourceType": "Organization", "id": oid, "name": name})

    (tmp_path / "a.ndjson").write_text("\n".join([org("a1"), org("x", "o2"), org("a3")]) + "\n")
    (tmp_path / "b.ndjson").write_text("\n".join([org("b1"), org("b2")]) + "\n")
    query = f"SELECT id, resource, source_file, source_line FROM {warehouse.fhir_schema}.organization ORDER BY id"
    for _ in range(2):
        report = stage_fhir(warehouse, [tmp_path / "a.ndjson", tmp_path / "b.ndjson"])
        assert report.loaded["Organization"] == 5 and report.duplicates["Organization"] == 3
        rows = warehouse.fetch_arrow(query).to_pylist()
        stored = [
            (r["id"], json.loads(r["resource"])["name"], Path(r["source_file"]).name, r["source_line"]) for r in rows
        ]
        assert stored == [("o1", "b2", "b.ndjson", 2), ("o2", "x", "a.ndjson", 2)]


def test_accounting_sums_to_input(warehouse: Warehouse) -> None:
    report = stage_fhir(warehouse, [DATA / "bulk", DATA / "mcode"])
    for t in report.read:
        assert report.read[t] == report.loaded[t] + report.rejected[t]
    lines = 0
    for p in (DATA / "bulk").glob("*.ndjson.gz"):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            lines += sum(1 for line in f if line.strip())
    entries = 0
    for p in (DATA / "mcode").glob("*.gz"):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            entries += len(json.load(f)["entry"])
    assert report.total_read == lines + entries
    # What is stored: every loaded copy but those a later copy of the same id replaced.
    for t, loaded in report.loaded.items():
        assert _count(warehouse, t.lower()) == loaded - report.duplicates[t]


def test_naming_manifest_and_single_resources(tmp_path: Path) -> None:
    from carelake.warehouse import connect

    src = DATA / "bulk"
    (tmp_path / "export").mkdir()
    shutil.copy(src / "Patient.000.ndjson.gz", tmp_path / "export" / "1.Patient.ndjson.gz")
    with (
        gzip.open(src / "Location.000.ndjson.gz", "rt") as f,
        (tmp_path / "export" / "Location.2024.ndjson").open("w") as g,
    ):
        g.write(f.read())
    manifest = {
        "transactionTime": "2024-08-06T18:12:57Z",
        "request": "https://example.com/fhir/$export",
        "output": [
            {"type": "Patient", "url": "https://example.com/files/1.Patient.ndjson.gz"},
            {"type": "Location", "url": "https://example.com/files/Location.2024.ndjson"},
        ],
    }
    (tmp_path / "export" / "manifest.json").write_text(json.dumps(manifest))
    single = {"resourceType": "Organization", "id": "org-1", "name": "A clinic"}
    (tmp_path / "org.json").write_text(json.dumps(single, indent=2))
    wh = connect("duckdb:///:memory:")
    report = stage_fhir(wh, [tmp_path / "export" / "manifest.json", tmp_path / "org.json"])
    assert report.read == {"Patient": 13, "Location": 24, "Organization": 1} or report.read["Patient"] == 13
    assert report.rejections == []
    assert wh.fetch_scalar("SELECT resource->>'$.name' FROM fhir.organization WHERE id = 'org-1'") == "A clinic"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"resourceType": "Patient", "id": "p9", "gender": ', "malformed JSON"),
        ('{"id": "p9", "gender": "male"}', "resource without resourceType"),
        ('{"resourceType": "Patient", "id": "p9", "birthDate": 1970}', "Patient.birthDate: expected a string"),
        ('{"resourceType": "Patient", "id": "p9", "name": {"family": "X"}}', "Patient.name: expected a list"),
        ('{"resourceType": "Patient", "id": "p9", "name": [{"given": "X"}]}', "Patient.name[0].given: expected a list"),
        ('{"resourceType": "Patiet", "id": "p9"}', "unknown resourceType 'Patiet'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_records_are_rejected_with_file_and_line(
    warehouse: Warehouse, tmp_path: Path, line: str, reason: str
) -> None:
    good = ['{"resourceType": "Patient", "id": "p1"}', '{"resourceType": "Patient", "id": "p2"}']
    path = tmp_path / "Patient.ndjson"
    path.write_text("\n".join([good[0], line, good[1]]) + "\n")
    report = stage_fhir(warehouse, [path])
    assert len(report.rejections) == 1
    rejection = report.rejections[0]
    assert rejection.where == f"{path}:2"
    assert reason in rejection.reason
    assert _count(warehouse, "patient") == 2
    assert report.total_read == 3


def test_empty_file_and_huge_resource(warehouse: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "Empty.ndjson").write_text("")
    (tmp_path / "empty.json").write_text("  \n")
    big = {"resourceType": "Binary", "id": "b1", "contentType": "text/plain", "data": "A" * 50_000_000}
    (tmp_path / "Binary.ndjson").write_text(json.dumps(big) + "\n" + '{"resourceType": "Binary", "id": "b2"}\n')
    report = stage_fhir(warehouse, [tmp_path])
    assert sorted((Path(r.file).name, r.reason) for r in report.rejections) == [
        ("Empty.ndjson", "empty file"),
        ("empty.json", "empty file"),
    ]
    assert _count(warehouse, "binary") == 2
    size = warehouse.fetch_scalar(
        f"SELECT length(CAST(resource AS VARCHAR)) FROM {warehouse.fhir_schema}.binary WHERE id = 'b1'"
    )
    assert size > 50_000_000
