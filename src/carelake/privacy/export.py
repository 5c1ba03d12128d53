"""The de-identified export: the CDM's clinical tables as CSV or Parquet files, each column as the policy says.

Persons get keyed pseudonyms (as in `pseudonymize`), every date of a person is shifted by that person's days or
cut to its year, ages over the policy's `age_over` are grouped (the year of birth moves so the age is one more,
month and day go), and each column the policy names is dropped, cut to its ZIP3 or to its year. The vocabulary is
not exported (it is the same at every site: load it from Athena). Rows go out in pseudonym order, so the order of
a file says nothing about the order persons came in.

The files are written into a folder beside the target and renamed into place at the end: a failed export leaves
nothing. `manifest.json` says what was done: the policy (and its SHA-256), each identifier and its columns, the
date rule, the files with their rows and SHA-256, and the rows left out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from carelake.errors import ConfigError, UserError
from carelake.omop.schema import CdmTable, cdm_tables
from carelake.privacy.audit import file_digest
from carelake.privacy.disclosure import DisclosureRule
from carelake.privacy.policy import Policy, load_policy
from carelake.privacy.pseudonymize import (
    BIRTH,
    PERSON_KEY,
    key_table,
    person_key,
    rows_without_person,
    shifted_birth_sql,
    shifted_sql,
)
from carelake.privacy.secret import SiteSecret
from carelake.warehouse import Column, TableSchema, Warehouse, quote

__all__ = ["ExportReport", "ExportedFile", "export_deidentified"]

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "parquet"]
_PERSONS_PER_BATCH = 100_000  # rows held at once: one batch of persons' rows of one table
# The person key with the grouped year of birth of each person older than the policy's age_over (else NULL).
_EXPORT_KEY = TableSchema("export_key", (*PERSON_KEY.columns, Column("top_year", "integer")))


@dataclass
class ExportedFile:
    table: str
    path: str
    rows: int
    sha256: str


@dataclass
class ExportReport:
    """What an export wrote, for the CLI and the manifest."""

    out: str
    policy: str
    persons: int
    files: list[ExportedFile] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "policy": self.policy,
            "persons": self.persons,
            "files": [f.__dict__ for f in self.files],
            "left_out": self.left_out,
            "seconds": round(self.seconds, 3),
        }


def _null(column: Column) -> str:
    return f"CAST(NULL AS {column.sql_type()})"


def _year_start(column: Column, expr: str) -> str:
    start = f"CAST(lpad(CAST(year({expr}) AS VARCHAR), 4, '0') || '-01-01' AS DATE)"
    return start if column.kind == "date" else f"CAST({start} AS TIMESTAMP)"


def _zip3(expr: str, restricted: frozenset[str]) -> str:
    listed = ", ".join(f"'{z}'" for z in sorted(restricted)) or "''"
    head = f"substr({expr}, 1, 3)"
    return f"CASE WHEN {expr} IS NULL THEN NULL WHEN {head} IN ({listed}) THEN '000' ELSE {head} END"


def _birth(column: Column, policy: Policy) -> str:
    """A person's birth field: shifted or cut to the year, and grouped above `age_over` (m.top_coded)."""
    if column.name in BIRTH:
        if policy.dates == "shift":
            value = shifted_birth_sql(column.name)
        else:
            value = "t.year_of_birth" if column.name == "year_of_birth" else _null(column)
        grouped = "m.top_year" if column.name == "year_of_birth" else _null(column)
    else:  # birth_datetime
        at = "t.birth_datetime"
        value = shifted_sql(column, at) if policy.dates == "shift" else _year_start(column, at)
        grouped = _null(column)
    return f"CASE WHEN m.top_year IS NOT NULL THEN {grouped} ELSE {value} END"


def _expr(table: CdmTable, column: Column, policy: Policy, personal: bool) -> str:
    """The exported value of `table.column`, read from `t` (and the person key `m` where `personal`)."""
    name = table.name
    ref = f"t.{quote(column.name)}"
    action = policy.action(name, column.name)
    if column.name == "person_id" and personal:
        return "m.pseudo_id"
    if action == "drop":
        return _null(column)
    if name == "person" and column.name == "person_source_value":
        return "m.pseudo_source_value"  # kept means pseudonymized: the record number itself never leaves
    if name == "person" and column.name in (*BIRTH, "birth_datetime"):
        return _birth(column, policy)
    if action == "zip3":
        return _zip3(ref, policy.restricted_zip3)
    if action == "year":
        return _year_start(column, ref)
    if column.kind in ("date", "timestamp") and personal:
        return shifted_sql(column, ref) if policy.dates == "shift" else _year_start(column, ref)
    return ref


def _top_years(persons: pa.Table, policy: Policy, today: date) -> list[int | None]:
    """For each person older than `age_over` on the reference day: the year of birth that makes them that age
    plus one (the group "90 and over"); None for the others."""
    reference = policy.reference_date or today
    out: list[int | None] = []
    for y, m, d in zip(*(persons.column(c).to_pylist() for c in BIRTH), strict=True):
        if y is None:
            out.append(None)
            continue
        age = reference.year - y - ((reference.month, reference.day) < (m or 1, d or 1))
        out.append(reference.year - policy.age_over - 1 if age > policy.age_over else None)
    return out


class _Writer:
    """One table's file, written batch by batch."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: ExportFormat) -> None:
        self.path = path
        self.rows = 0
        self._csv = pacsv.CSVWriter(str(path), schema) if fmt == "csv" else None
        self._parquet = pq.ParquetWriter(str(path), schema) if fmt == "parquet" else None

    def write(self, batch: pa.Table) -> None:
        self.rows += batch.num_rows
        if self._csv is not None:
            self._csv.write_table(batch)
        elif self._parquet is not None:
            self._parquet.write_table(batch)

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()


def export_deidentified(
    wh: Warehouse,
    secret: SiteSecret,
    out: Path,
    *,
    policy: Policy | None = None,
    fmt: ExportFormat = "csv",
    replace: bool = False,
    rule: DisclosureRule | None = None,
) -> ExportReport:
    """Write the de-identified export of `wh`'s CDM into folder `out` (refused if it holds files, unless `replace`)."""
    started = time.perf_counter()
    policy = policy or load_policy()
    rule = rule or DisclosureRule()
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"unknown export format {fmt!r}", hint="use csv or parquet")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not replace:
        raise UserError(f"{out} already holds files", hint="pass --replace to overwrite it, or name another --out")
    cdm = wh.cdm_schema
    if not wh.table_exists(cdm, "person"):
        raise UserError(f"schema {cdm} has no person table", hint="load data first (carelake load ...)")
    persons = wh.fetch_arrow(
        f"SELECT person_id, person_source_value, {', '.join(BIRTH)} FROM {quote(cdm)}.person ORDER BY person_id"
    )
    key = person_key(secret, persons, policy.max_shift_days)
    today = datetime.now(UTC).date()
    key = key.append_column("top_year", pa.array(_top_years(persons, policy, today), pa.int32()))
    report = ExportReport(str(out), policy.source, key.num_rows)
    present = set(wh.list_tables(cdm))
    tables = [t for t in cdm_tables() if t.role == "cdm" and not t.vocabulary and t.name in present]
    batches = _pseudonym_ranges(key)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir(parents=True)
    try:
        with wh.transaction(), key_table(wh, key, "export_key", _EXPORT_KEY) as key_name:
            for table in tables:
                report.files.append(_export_table(wh, table, policy, key_name, batches, staging, fmt, report))
        _write_manifest(staging, policy, report, secret, rule, key, today)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _pseudonym_ranges(key: pa.Table) -> list[tuple[int, int]]:
    """(first, last) pseudonym of each batch of `_PERSONS_PER_BATCH` persons, in pseudonym order (once an export)."""
    pseudo = sorted(key.column("pseudo_id").to_pylist())
    return [
        (pseudo[start], pseudo[min(start + _PERSONS_PER_BATCH, len(pseudo)) - 1])
        for start in range(0, len(pseudo), _PERSONS_PER_BATCH)
    ]


def _export_table(
    wh: Warehouse,
    table: CdmTable,
    policy: Policy,
    key_name: str,
    batches: list[tuple[int, int]],
    folder: Path,
    fmt: ExportFormat,
    report: ExportReport,
) -> ExportedFile:
    schema = table.schema
    personal = "person_id" in schema.column_names
    select = ", ".join(f"{_expr(table, c, policy, personal)} AS {quote(c.name)}" for c in schema.columns)
    source = f"{quote(wh.cdm_schema)}.{quote(table.name)} AS t"
    path = folder / f"{table.name}.{fmt}"
    arrow = pa.schema([f.with_nullable(True) for f in schema.arrow_schema])  # a dropped column may be a required one
    writer = _Writer(path, arrow, fmt)
    try:
        if not personal:
            writer.write(wh.fetch_arrow(f"SELECT {select} FROM {source}").cast(arrow))
        else:
            for lo, hi in batches:
                rows = wh.fetch_arrow(
                    f"SELECT {select} FROM {source} JOIN {key_name} AS m ON m.person_id = t.person_id "
                    f"WHERE m.pseudo_id BETWEEN {lo} AND {hi} ORDER BY m.pseudo_id"
                )
                writer.write(rows.cast(arrow))
            left = rows_without_person(wh, source, key_name)
            if left:
                report.left_out[table.name] = left
    finally:
        writer.close()
    log.info("exported %s: %s rows", table.name, writer.rows)
    return ExportedFile(table.name, path.name, writer.rows, file_digest(path))


def _write_manifest(
    folder: Path,
    policy: Policy,
    report: ExportReport,
    secret: SiteSecret,
    rule: DisclosureRule,
    key: pa.Table,
    today: date,
) -> None:
    identifiers: dict[str, Any] = {}
    for name in policy.identifiers:
        columns = {f"{t}.{c}": a for (t, c), (a, ident) in policy.columns.items() if ident == name}
        identifiers[name] = columns or "no column of the OMOP CDM holds it"
    grouped = key.column("top_year").null_count
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": policy.source,
        "policy_sha256": _policy_digest(policy),
        "persons": rule.shown(report.persons),
        "person_id": "HMAC-SHA256 pseudonym under the site secret (kept at the site, never exported)",
        "secret_from": secret.source,
        "dates": (
            f"every date of a person moved by that person's own 1 to {policy.max_shift_days} days, back or forward"
            if policy.dates == "shift"
            else "every date of a person cut to the first day of its year"
        ),
        "ages": {
            "over": policy.age_over,
            "reference_date": (policy.reference_date or today).isoformat(),
            "persons_grouped": rule.shown(key.num_rows - grouped),
            "how": f"year of birth set so the age is {policy.age_over + 1}; month, day and birth_datetime removed",
        },
        "identifiers": identifiers,
        "not_exported": "the vocabulary tables (the same at every site: load them from Athena)",
        "files": [f.__dict__ for f in report.files],
        "left_out": {t: rule.shown(n) for t, n in report.left_out.items()},
        "disclosure": f"counts from 1 to {rule.min_cell_count - 1} are withheld (null)",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _policy_digest(policy: Policy) -> str:
    body = json.dumps(
        {
            "columns": {f"{t}.{c}": a for (t, c), (a, _) in sorted(policy.columns.items())},
            "dates": policy.dates,
            "max_shift_days": policy.max_shift_days,
            "age_over": policy.age_over,
            "restricted_zip3": sorted(policy.restricted_zip3),
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()
