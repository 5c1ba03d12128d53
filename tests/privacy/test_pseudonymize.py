"""Pseudonymization: keyed, stable, other under another key, intervals kept, the secret nowhere, bad input refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from carelake.errors import ConfigError, UserError
from carelake.omop.loader import load_files
from carelake.privacy.pseudonymize import DEFAULT_MAX_SHIFT_DAYS, person_key, pseudonymize
from carelake.privacy.secret import MIN_SECRET_BYTES, SiteSecret, read_secret
from carelake.warehouse import Warehouse

KEY_A = SiteSecret(b"site A: 0123456789abcdef0123456789abcdef", "test A")
KEY_B = SiteSecret(b"site B: 0123456789abcdef0123456789abcdef", "test B")
# Person-level tables of the sample with dates, and their date columns (each checked row by row).
DATED = {
    "visit_occurrence": ("visit_start_date", "visit_start_datetime", "visit_end_date"),
    "condition_occurrence": ("condition_start_date", "condition_end_date"),
    "measurement": ("measurement_date", "measurement_datetime"),
    "observation_period": ("observation_period_start_date", "observation_period_end_date"),
    "death": ("death_date",),
}


def _hmac_rfc2104(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 as RFC 2104 writes it, from hashlib alone: the reference the pseudonyms are checked against."""
    block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).digest()


def test_person_key_is_hmac_sha256_of_the_source_identifier() -> None:
    persons = pa.table({"person_id": pa.array([7, 8], pa.int64()), "person_source_value": ["MRN-0042", None]})
    key = person_key(KEY_A, persons).to_pylist()
    for row, message in zip(key, (b"sMRN-0042", b"i8"), strict=True):
        digest = _hmac_rfc2104(KEY_A.key, b"carelake person v1\x00" + message)
        assert row["pseudo_id"] == (int.from_bytes(digest[:8], "big") >> 1) + 1
        assert 1 <= abs(row["shift_days"]) <= DEFAULT_MAX_SHIFT_DAYS
    assert key[0]["pseudo_source_value"] == _hmac_rfc2104(KEY_A.key, b"carelake person v1\x00sMRN-0042")[16:].hex()
    assert key[1]["pseudo_source_value"] is None  # nothing to pseudonymize stays nothing


def test_one_source_identifier_for_two_persons_is_refused() -> None:
    persons = pa.table(
        {"person_id": pa.array([1, 2, 3], pa.int64()), "person_source_value": ["MRN-1", "MRN-2", "MRN-1"]}
    )
    with pytest.raises(UserError, match="'MRN-1' belongs to more than one person"):
        person_key(KEY_A, persons)


def test_shifts_cover_the_range_evenly_and_never_zero() -> None:
    n = 40_000
    persons = pa.table({"person_id": pa.array(range(n), pa.int64()), "person_source_value": pa.nulls(n, pa.string())})
    shifts = person_key(KEY_A, persons, max_shift_days=10).column("shift_days").to_pylist()
    counts = {s: shifts.count(s) for s in set(shifts)}
    assert sorted(counts) == [*range(-10, 0), *range(1, 11)]
    assert all(abs(c - n / 20) < 5 * (n / 20) ** 0.5 for c in counts.values())  # 5 sd of a binomial count


def test_secret_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARELAKE_SITE_SECRET", raising=False)
    monkeypatch.delenv("CARELAKE_SITE_SECRET_FILE", raising=False)
    with pytest.raises(ConfigError, match="no site secret: pass --secret-file"):
        read_secret()
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * (MIN_SECRET_BYTES - 1) + b"\n")
    with pytest.raises(ConfigError, match=f"is {MIN_SECRET_BYTES - 1} bytes; pseudonyms need at least 32"):
        read_secret(short)
    with pytest.raises(ConfigError, match=r"cannot read the site secret file .*missing\.key"):
        read_secret(tmp_path / "missing.key")
    good = tmp_path / "site.key"
    good.write_bytes(KEY_A.key + b"\n")  # the line end an editor adds is not part of the key
    assert read_secret(good).key == KEY_A.key
    monkeypatch.setenv("CARELAKE_SITE_SECRET", KEY_B.key.decode())
    assert read_secret().key == KEY_B.key
    monkeypatch.setenv("CARELAKE_SITE_SECRET_FILE", str(good))
    assert read_secret().key == KEY_A.key  # the file wins over the value
    assert KEY_A.key.decode() not in repr(read_secret()) + str(read_secret())


def _rows(wh: Warehouse, schema: str, table: str, columns: tuple[str, ...]) -> list[dict[str, object]]:
    return wh.fetch_arrow(f"SELECT person_id, {', '.join(columns)} FROM {schema}.{table}").to_pylist()


def _moved(value: object, days: int) -> object:
    return None if value is None else value + timedelta(days=days)  # type: ignore[operator]


def _shifted(
    row: dict[str, object], key: dict[object, dict[str, object]], columns: tuple[str, ...]
) -> dict[str, object]:
    k = key[row["person_id"]]
    return {"person_id": k["pseudo_id"]} | {c: _moved(row[c], int(k["shift_days"])) for c in columns}  # type: ignore[call-overload]


def _key(row: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(v) for v in row.values())


def test_copy_keeps_every_row_and_interval_under_new_ids(warehouse: Warehouse, simulated: Path) -> None:
    load_files(warehouse, [simulated])
    cdm = warehouse.cdm_schema
    try:
        report = pseudonymize(warehouse, KEY_A, "pseudo_a")
        persons = warehouse.fetch_arrow(f"SELECT person_id, person_source_value FROM {cdm}.person")
        key = {r["person_id"]: r for r in person_key(KEY_A, persons).to_pylist()}
        for table in ("person", "visit_occurrence", "measurement", "concept", "condition_era"):
            assert report.rows[table] == warehouse.row_count(cdm, table) > 0
        assert not report.left_out
        for table, columns in DATED.items():  # each row: the person's new id, each date moved by their shift
            expected = sorted(_key(_shifted(r, key, columns)) for r in _rows(warehouse, cdm, table, columns))
            assert sorted(_key(r) for r in _rows(warehouse, "pseudo_a", table, columns)) == expected, table
        born = ("year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime", "person_source_value")
        copy = {r["person_id"]: r for r in _rows(warehouse, "pseudo_a", "person", born)}
        for r in _rows(warehouse, cdm, "person", born):
            k = key[r["person_id"]]
            new = copy[k["pseudo_id"]]
            day = date(int(r["year_of_birth"]), int(r["month_of_birth"]), int(r["day_of_birth"]))  # type: ignore[call-overload]
            assert date(new["year_of_birth"], new["month_of_birth"], new["day_of_birth"]) == _moved(  # type: ignore[arg-type]
                day, k["shift_days"]
            )
            assert new["birth_datetime"] == _moved(r["birth_datetime"], k["shift_days"])
            assert new["person_source_value"] == k["pseudo_source_value"] != r["person_source_value"]
        assert not set(copy) & set(key)  # no person keeps their id

        again = pseudonymize(warehouse, KEY_A, "pseudo_a", replace=True)  # the same key: the same copy
        assert again.rows == report.rows
        assert {r["person_id"] for r in _rows(warehouse, "pseudo_a", "person", born)} == set(copy)
        pseudonymize(warehouse, KEY_B, "pseudo_b")  # another key: other pseudonyms for everyone
        other = {r["person_id"] for r in _rows(warehouse, "pseudo_b", "person", born)}
        assert len(other) == len(copy) and not other & set(copy)
        assert not set(warehouse.list_tables("pseudo_a")) & {"person_key"}  # the re-identification key is gone
    finally:
        for schema in ("pseudo_a", "pseudo_b"):
            warehouse.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_refusals_leave_the_copy_as_it_was(warehouse: Warehouse, simulated: Path) -> None:
    with pytest.raises(UserError, match="has no person table"):
        pseudonymize(warehouse, KEY_A, "pseudo_r")
    load_files(warehouse, [simulated])
    try:
        with pytest.raises(ConfigError, match="is the CDM schema"):
            pseudonymize(warehouse, KEY_A, warehouse.cdm_schema)
        with pytest.raises(ConfigError, match="not a schema name"):
            pseudonymize(warehouse, KEY_A, "pseudo; DROP TABLE person")
        with pytest.raises(ConfigError, match="not 1 to 3650 days"):
            pseudonymize(warehouse, KEY_A, "pseudo_r", max_shift_days=0)
        pseudonymize(warehouse, KEY_A, "pseudo_r")
        before = warehouse.fetch_arrow("SELECT person_id FROM pseudo_r.person ORDER BY person_id")
        with pytest.raises(UserError, match="already holds a copy"):
            pseudonymize(warehouse, KEY_B, "pseudo_r")
        assert warehouse.fetch_arrow("SELECT person_id FROM pseudo_r.person ORDER BY person_id").equals(before)
    finally:
        warehouse.execute("DROP SCHEMA IF EXISTS pseudo_r CASCADE")


def test_cli_secret_appears_nowhere(tmp_path: Path, sample_dir: Path) -> None:
    """Through the CLI with --debug (each SQL statement logged): the key is in no output, audit entry or stored byte."""
    db = tmp_path / "wh.duckdb"
    secret = os.urandom(24).hex().encode()  # 48 bytes of text
    (tmp_path / "site.key").write_bytes(secret + b"\n")
    (tmp_path / "site.key").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELAKE_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "carelake", "--warehouse", f"duckdb:///{db}", *args]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert run("load", "omop", str(sample_dir)).returncode == 0
    done = run("--debug", "privacy", "pseudonymize", "--secret-file", "site.key", "--to-schema", "cdm_pseudo", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["persons"] == 28 and report["secret_from"] == "file site.key"
    assert "INSERT INTO" in done.stderr  # the SQL was logged, and still no key in it
    trail = (tmp_path / "carelake-audit.jsonl").read_bytes()  # the audit trail, in the working folder by default
    assert b"pseudonymize" in trail
    text = (done.stdout + done.stderr).encode() + trail
    stored = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("wh.duckdb*") if p != db)
    for needle in (secret, secret.decode().upper().encode(), bytes.fromhex(secret.decode())):
        assert needle not in text and needle not in stored
    short = tmp_path / "short.key"
    short.write_bytes(b"too short\n")
    refused = run("privacy", "pseudonymize", "--secret-file", "short.key", "--to-schema", "cdm_other")
    assert refused.returncode == 2 and "is 9 bytes; pseudonyms need at least 32" in refused.stderr
    assert "hint: make one with" in refused.stderr
    missing = run("privacy", "pseudonymize", "--to-schema", "cdm_other")
    assert missing.returncode == 2 and "no site secret" in missing.stderr
    again = run("privacy", "pseudonymize", "--secret-file", "site.key", "--to-schema", "cdm_pseudo")
    assert again.returncode == 2 and "already holds a copy" in again.stderr
