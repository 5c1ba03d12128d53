"""The de-identified export: every identifier of the default policy absent, field by field; intervals kept; ages
over 89 grouped; a bad policy refused by line and key, with nothing written."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from carelake.errors import UserError
from carelake.omop.loader import load_files
from carelake.privacy.export import export_deidentified
from carelake.privacy.policy import PolicyError, load_policy
from carelake.privacy.pseudonymize import person_key
from carelake.privacy.secret import SiteSecret
from carelake.warehouse import Warehouse

KEY = SiteSecret(b"export test secret: 0123456789abcdef0123", "test")
DATA = Path(__file__).parents[1] / "data" / "synthea-fhir"
SAFE_HARBOR = (
    "names", "geography smaller than a state", "dates related to the individual", "telephone numbers",
    "fax numbers", "email addresses", "social security numbers", "medical record numbers",
    "health plan beneficiary numbers", "account numbers", "certificate and license numbers", "vehicle identifiers",
    "device identifiers and serial numbers", "web addresses", "internet protocol addresses", "biometric identifiers",
    "full-face photographs", "any other unique identifying number, characteristic or code",
)  # fmt: skip


def _read(folder: Path, table: str) -> pa.Table:
    types = {"person_id": pa.int64()}
    return pacsv.read_csv(folder / f"{table}.csv", convert_options=pacsv.ConvertOptions(column_types=types))


def test_the_default_policy_is_safe_harbors_checklist() -> None:
    policy = load_policy()
    assert set(SAFE_HARBOR) <= set(policy.identifiers) and len(SAFE_HARBOR) == 18
    assert policy.action("location", "zip") == "zip3" and policy.action("note", "note_text") == "drop"
    assert policy.dates == "shift" and policy.age_over == 89 and "036" in policy.restricted_zip3


def test_a_bad_policy_is_refused_by_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: 1\n"
        "dates: blur\n"
        "identifiers:\n"
        "  names:\n"
        "    person.full_name: drop\n"
        "    patient.name: drop\n"
        "    location.zip: scramble\n"
        "    person.year_of_birth: year\n"
        "colour: blue\n"
    )
    with pytest.raises(PolicyError) as e:
        load_policy(bad)
    assert e.value.problems == [
        f"{bad}:9: colour: not a policy key (the keys are version, restricted_zip3, dates, max_shift_days, "
        "age_over, reference_date, identifiers)",
        f"{bad}:2: dates: 'blur' is not shift or year",
        f"{bad}:5: identifiers.names.person.full_name: no column full_name in person",
        f"{bad}:6: identifiers.names.patient.name: 'patient' is not a CDM 5.4 table (write table.column)",
        f"{bad}:7: identifiers.names.location.zip: 'scramble' is not an action (drop, zip3, year, keep)",
        f"{bad}:8: identifiers.names.person.year_of_birth: year applies to dates, and year_of_birth is integer",
    ]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELAKE_")}
    env["CARELAKE_SITE_SECRET"] = KEY.key.decode()
    cmd = [sys.executable, "-m", "carelake", "--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def _identifiers_in_fhir(folder: Path) -> set[str]:
    """Every name, address part, telecom, identifier value and id of the FHIR samples' patients."""
    found: set[str] = set()

    def walk(resource: dict[str, Any]) -> None:
        if resource.get("resourceType") != "Patient":
            return
        found.add(resource["id"])  # (the day of birth is checked person by person, in the simulated export)
        for name in resource.get("name", []):
            found.update([*name.get("given", []), name.get("family", "")])
        for address in resource.get("address", []):
            found.update([*address.get("line", []), address.get("city", ""), address.get("postalCode", "")])
        found.update(t.get("value", "") for t in resource.get("telecom", []))
        found.update(i.get("value", "") for i in resource.get("identifier", []))

    for path in folder.rglob("*"):
        if not path.is_file() or not path.name.endswith((".json", ".json.gz", ".ndjson", ".ndjson.gz")):
            continue
        text = gzip.decompress(path.read_bytes()).decode() if path.name.endswith(".gz") else path.read_text()
        docs = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if ".ndjson" in path.name
            else [json.loads(text)]
        )
        for doc in docs:
            walk(doc)
            for entry in doc.get("entry", []):
                walk(entry.get("resource", {}))
    return {v for v in found if len(v) >= 4 and len(set(v)) > 1}  # "MA", "F" or a placeholder "00000" name no one


def test_no_identifier_of_the_fhir_samples_leaves(tmp_path: Path) -> None:
    assert _cli(tmp_path, "load", "fhir", str(DATA)).returncode == 0
    done = _cli(tmp_path, "privacy", "export", "--out", "export", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    out = tmp_path / "export"
    assert {f["table"] for f in report["files"]} >= {"person", "visit_occurrence", "location", "provider"}
    identifiers = _identifiers_in_fhir(DATA)
    assert len(identifiers) > 50  # names, addresses, SSNs, MRNs, phone numbers, ids of the sample patients
    cells = 0
    for f in out.glob("*.csv"):
        with f.open(newline="") as handle:
            for row in csv.DictReader(handle):
                for column, value in row.items():
                    cells += 1
                    leaked = [i for i in identifiers if i and i in value]
                    assert not leaked, f"{f.name}.{column} holds {leaked}"
    assert cells > 10_000
    stored = b"".join(p.read_bytes() for p in out.iterdir())
    assert KEY.key not in stored and KEY.key.hex().encode() not in stored  # the secret: in no exported byte
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identifiers"]["telephone numbers"] == "no column of the OMOP CDM holds it"
    assert manifest["identifiers"]["geography smaller than a state"]["location.zip"] == "zip3"
    assert [f["sha256"] for f in manifest["files"]] == [f["sha256"] for f in report["files"]]
    again = _cli(tmp_path, "privacy", "export", "--out", "export")
    assert again.returncode == 2 and "already holds files" in again.stderr


def test_policy_error_through_the_cli_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("identifiers:\n  names:\n    person.nickname: drop\n")
    done = _cli(tmp_path, "privacy", "export", "--out", "export", "--policy", "p.yaml")
    assert done.returncode == 2 and "p.yaml:3: identifiers.names.person.nickname: no column nickname" in done.stderr
    assert not (tmp_path / "export").exists() and not list(tmp_path.glob(".export*"))


def test_simulated_population_export(warehouse: Warehouse, simulated: Path, tmp_path: Path) -> None:
    load_files(warehouse, [simulated])
    cdm = warehouse.cdm_schema
    policy_file = tmp_path / "policy.yaml"
    default = (Path(__file__).parents[2] / "src/carelake/privacy/safe_harbor.yaml").read_text()
    policy_file.write_text(default.replace("age_over: 89", "age_over: 60\nreference_date: 2024-06-30"))
    policy = load_policy(policy_file)
    report = export_deidentified(warehouse, KEY, tmp_path / "x", policy=policy)
    out = tmp_path / "x"
    persons = warehouse.fetch_arrow(f"SELECT * FROM {cdm}.person").to_pylist()
    key = {
        r["person_id"]: r
        for r in person_key(KEY, pa.Table.from_pylist(persons).select(["person_id", "person_source_value"])).to_pylist()
    }
    exported = {r["person_id"]: r for r in _read(out, "person").to_pylist()}
    assert len(exported) == len(persons) == report.persons and not set(exported) & set(key)
    grouped = 0
    for r in persons:
        new = exported[key[r["person_id"]]["pseudo_id"]]
        assert new["person_source_value"] is None  # the record number: dropped
        born = date(r["year_of_birth"], r["month_of_birth"] or 1, r["day_of_birth"] or 1)
        age = 2024 - born.year - ((born.month, born.day) > (6, 30))
        if age > 60:
            grouped += 1
            assert new["year_of_birth"] == 2024 - 61 and new["month_of_birth"] is None and new["day_of_birth"] is None
        else:
            moved = born + timedelta(days=key[r["person_id"]]["shift_days"])
            assert (new["year_of_birth"], new["month_of_birth"], new["day_of_birth"]) == (
                moved.year,
                moved.month,
                moved.day,
            )
    assert 0 < grouped < len(persons)
    visits = warehouse.fetch_arrow(f"SELECT person_id, visit_start_date, visit_end_date FROM {cdm}.visit_occurrence")
    expected = []
    for v in visits.to_pylist():
        k, days = key[v["person_id"]], timedelta(days=key[v["person_id"]]["shift_days"])
        expected.append((k["pseudo_id"], str(v["visit_start_date"] + days), str(v["visit_end_date"] + days)))
    got = _read(out, "visit_occurrence").select(["person_id", "visit_start_date", "visit_end_date"]).to_pylist()
    assert sorted((g["person_id"], str(g["visit_start_date"]), str(g["visit_end_date"])) for g in got) == sorted(
        expected
    )
    order = _read(out, "visit_occurrence").column("person_id").to_pylist()
    assert order == sorted(order)  # rows in pseudonym order: the file's order says nothing of the input's
    for (table, column), (action, _) in policy.columns.items():
        path = out / f"{table}.csv"
        if action == "drop" and path.exists():
            assert _read(out, table).column(column).null_count == _read(out, table).num_rows, f"{table}.{column}"
    assert not (out / "concept.csv").exists()  # the vocabulary stays home
    with pytest.raises(UserError, match="already holds files"):
        export_deidentified(warehouse, KEY, out, policy=policy)
