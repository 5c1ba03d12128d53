"""A pseudonymized copy of the CDM in another schema: keyed person pseudonyms, and each person's dates shifted.

Each person's pseudonym is HMAC-SHA256 under the site secret of their source identifier (`person_source_value`,
the id the hospital knows them by, else the warehouse's `person_id`): the same person gets the same pseudonym in
every run, on every machine that holds the key, and in next month's extract too; a new key gives new pseudonyms
for everyone at once (rotation: run again with it). From the one digest come the new `person_id` (63 bits),
the new `person_source_value` (32 hex digits) and a date shift of 1 to `max_shift_days` days, back or forward,
the same for all of that person's records so every interval (and every age) survives.

The digests are computed in Python over Arrow (the key never enters SQL, where engines log statements) into a
scratch table that lives only inside the one transaction; the rest is SQL in the warehouse: every person-level
table of the CDM is copied with `person_id` replaced and each DATE and DATETIME column moved by the person's
shift; the other CDM tables (vocabulary, location, care_site, provider, ...) are copied as they are.

Pseudonymized is not anonymous: visit ids, codes, values, free text and locations are still there. The
de-identified export is the step that removes identifiers.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from carelake.errors import ConfigError, UserError
from carelake.omop.schema import cdm_tables
from carelake.privacy.secret import SiteSecret
from carelake.warehouse import Column, TableSchema, Warehouse, quote

__all__ = [
    "BIRTH",
    "DEFAULT_MAX_SHIFT_DAYS",
    "MAX_SHIFT_DAYS",
    "PERSON_KEY",
    "PseudonymizeReport",
    "key_table",
    "person_key",
    "pseudonymize",
    "rows_without_person",
    "shift_range_ok",
    "shifted_birth_sql",
    "shifted_sql",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_SHIFT_DAYS = 365
MAX_SHIFT_DAYS = 3650  # ten years: more moves dates out of any plausible range, and helps no one
# What each digest is of: a label ties a pseudonym to its purpose, so no other use of the key yields the same bytes.
_PERSON_LABEL = b"carelake person v1\x00"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# The re-identification key of one run: it exists only inside the transaction that writes the copy.
PERSON_KEY = TableSchema(
    "person_key",
    (
        Column("person_id", "bigint", False),
        Column("pseudo_id", "bigint", False),
        Column("shift_days", "integer", False),
        Column("pseudo_source_value", "varchar"),
    ),
)
BIRTH = ("year_of_birth", "month_of_birth", "day_of_birth")


@dataclass
class PseudonymizeReport:
    """What a run wrote: rows per table of the copy, and rows left out (no person of that id in `person`)."""

    source_schema: str
    target_schema: str
    persons: int
    max_shift_days: int
    secret_from: str
    rows: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_schema": self.source_schema,
            "target_schema": self.target_schema,
            "persons": self.persons,
            "max_shift_days": self.max_shift_days,
            "secret_from": self.secret_from,
            "rows": self.rows,
            "left_out": self.left_out,
            "seconds": round(self.seconds, 3),
        }


def _shift(u: np.ndarray, max_days: int) -> np.ndarray:
    """Uniform 64-bit draws to a shift in -max_days..-1 or 1..max_days (never 0: an unshifted date is a real one)."""
    v = (u % np.uint64(2 * max_days)).astype(np.int64)
    return np.where(v < max_days, v - max_days, v - max_days + 1).astype(np.int32)


def person_key(secret: SiteSecret, persons: pa.Table, max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS) -> pa.Table:
    """`PERSON_KEY` rows for `persons` (columns person_id and person_source_value)."""
    _check_range(max_shift_days)
    ids = persons.column("person_id").to_pylist()
    sources = persons.column("person_source_value").to_pylist()
    twice = [s for s, n in Counter(s for s in sources if s is not None).items() if n > 1]
    if twice:
        raise UserError(
            f"person_source_value {twice[0]!r} belongs to more than one person: a pseudonym must name one person",
            hint="give each person their own person_source_value, or empty the repeated ones (then person_id is used)",
        )
    key = secret.key
    digests = b"".join(
        hmac.digest(key, _PERSON_LABEL + (b"s" + s.encode("utf-8") if s is not None else b"i%d" % i), "sha256")
        for i, s in zip(ids, sources, strict=True)
    )
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32) if ids else np.zeros((0, 32), np.uint8)
    words = raw[:, :16].copy().view(">u8").astype(np.uint64)  # two big-endian 64-bit words per digest
    pseudo = (words[:, 0] >> np.uint64(1)).astype(np.int64) + 1  # 1 .. 2^63: positive, fits BIGINT
    if len(np.unique(pseudo)) != len(pseudo):  # 1M persons: about 1 chance in 10^7
        raise UserError("two persons drew the same pseudonym", hint="rotate the site secret and run again")
    tails = [raw[n, 16:].tobytes().hex() if s is not None else None for n, s in enumerate(sources)]
    return pa.table(
        [
            pa.array(ids, pa.int64()),
            pa.array(pseudo, pa.int64()),
            pa.array(_shift(words[:, 1], max_shift_days), pa.int32()),
            pa.array(tails, pa.string()),
        ],
        schema=PERSON_KEY.arrow_schema,
    )


def shift_range_ok(max_shift_days: object) -> bool:
    """Whether `max_shift_days` is a whole number of days from 1 to MAX_SHIFT_DAYS (the CLI's and a policy's)."""
    return (
        isinstance(max_shift_days, int)
        and not isinstance(max_shift_days, bool)
        and 1 <= max_shift_days <= MAX_SHIFT_DAYS
    )


def _check_range(max_shift_days: int) -> None:
    if not shift_range_ok(max_shift_days):
        raise ConfigError(
            f"the date shift range {max_shift_days!r} is not 1 to {MAX_SHIFT_DAYS} days",
            hint=f"e.g. --max-shift-days {DEFAULT_MAX_SHIFT_DAYS}",
        )


def rows_without_person(wh: Warehouse, source: str, key_name: str) -> int:
    """Rows of `source` (aliased t) whose person is not in the person key: they get no pseudonym, so they are left
    out, and counted for the report."""
    return int(
        wh.fetch_scalar(
            f"SELECT count(*) FROM {source} WHERE NOT EXISTS "
            f"(SELECT 1 FROM {key_name} AS m WHERE m.person_id = t.person_id)"
        )
        or 0
    )


def shifted_sql(column: Column, expr: str) -> str:
    """`expr` (a DATE or DATETIME) moved by the person's shift (`m.shift_days`), keeping its type."""
    moved = f"{expr} + m.shift_days * INTERVAL '1' DAY"
    return f"CAST({moved} AS DATE)" if column.kind == "date" else f"CAST({moved} AS TIMESTAMP)"


def shifted_birth_sql(column: str) -> str:
    """`person.<column>` (year_, month_ or day_of_birth) of the shifted day of birth: a missing month or day
    counts as the first, and stays missing."""
    birth = (
        "CAST(CAST(lpad(CAST(t.year_of_birth AS VARCHAR), 4, '0') || '-01-01' AS DATE) "
        "+ (coalesce(t.month_of_birth, 1) - 1) * INTERVAL '1' MONTH "
        "+ (coalesce(t.day_of_birth, 1) - 1 + m.shift_days) * INTERVAL '1' DAY AS DATE)"
    )
    part = {"year_of_birth": "year", "month_of_birth": "month", "day_of_birth": "day"}[column]
    value = f"CAST({part}({birth}) AS INTEGER)"
    return value if column == "year_of_birth" else f"CASE WHEN t.{column} IS NULL THEN NULL ELSE {value} END"


def _select_list(table: TableSchema) -> list[str]:
    """The copy's value for each column of a person-level table, read from `t` joined to the person key `m`."""
    out: list[str] = []
    for c in table.columns:
        if c.name == "person_id":
            out.append("m.pseudo_id")
        elif table.name == "person" and c.name == "person_source_value":
            out.append("m.pseudo_source_value")
        elif table.name == "person" and c.name in BIRTH:
            out.append(shifted_birth_sql(c.name))
        elif c.kind in ("date", "timestamp"):
            out.append(shifted_sql(c, f"t.{quote(c.name)}"))
        else:
            out.append(f"t.{quote(c.name)}")
    return out


@contextmanager
def key_table(wh: Warehouse, key: pa.Table, scratch_name: str, schema: TableSchema = PERSON_KEY) -> Iterator[str]:
    """The person key (`schema`: PERSON_KEY, or more columns after its own) written to a scratch table for SQL to
    join (its name, qualified), inside the caller's transaction; dropped before that transaction commits, so the
    link from pseudonyms to persons is never stored."""
    scratch = wh.scratch_schema(scratch_name)
    wh.reset_scratch(scratch)
    wh.create_table(scratch, schema)
    wh.write_table(scratch, schema, key.cast(schema.arrow_schema).to_batches(max_chunksize=262_144))
    yield f"{quote(scratch)}.{schema.name}"
    wh.drop_scratch(scratch)


def _target(wh: Warehouse, target_schema: str) -> str:
    name = target_schema.strip().lower()
    if not _SCHEMA_NAME.fullmatch(name):
        raise ConfigError(
            f"{target_schema!r} is not a schema name", hint="use letters, digits and _ (e.g. --to-schema cdm_pseudo)"
        )
    taken = {wh.cdm_schema: "the CDM", wh.results_schema: "the results", wh.fhir_schema: "the raw FHIR store"}
    if name in taken:
        raise ConfigError(
            f"--to-schema {name} is {taken[name]} schema: the copy goes beside the data, never over it",
            hint="name a schema of its own, e.g. --to-schema cdm_pseudo",
        )
    return name


def pseudonymize(
    wh: Warehouse,
    secret: SiteSecret,
    target_schema: str,
    *,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
    replace: bool = False,
) -> PseudonymizeReport:
    """Write a pseudonymized copy of `wh`'s CDM into `target_schema` of the same warehouse, in one transaction.

    A schema that already holds a copy is refused unless `replace`; then the copy is rewritten whole.
    """
    started = time.perf_counter()
    _check_range(max_shift_days)
    target = _target(wh, target_schema)
    cdm = wh.cdm_schema
    if not wh.table_exists(cdm, "person"):
        raise UserError(f"schema {cdm} has no person table", hint="load data first (carelake load ...)")
    tables = [t.schema for t in cdm_tables() if t.role == "cdm"]
    present = set(wh.list_tables(cdm))
    existing = set(wh.list_tables(target)) & {t.name for t in tables}
    if existing and not replace:
        raise UserError(
            f"schema {target} already holds a copy ({len(existing)} CDM tables)",
            hint="pass --replace to rewrite it, or name another --to-schema",
        )
    persons = wh.fetch_arrow(f"SELECT person_id, person_source_value FROM {quote(cdm)}.person ORDER BY person_id")
    key = person_key(secret, persons, max_shift_days)
    report = PseudonymizeReport(cdm, target, key.num_rows, max_shift_days, secret.source)
    with wh.transaction(), key_table(wh, key, f"{target}_key") as key_name:
        wh.create_schema(target)
        for table in tables:
            dest = f"{quote(target)}.{quote(table.name)}"
            if table.name in existing:
                wh.execute(f"DROP TABLE {dest}")
            wh.create_table(target, table)
            if table.name not in present:
                continue
            source = f"{quote(cdm)}.{quote(table.name)}"
            columns = ", ".join(quote(c) for c in table.column_names)
            if "person_id" in table.column_names:
                select = ", ".join(_select_list(table))
                wh.execute(
                    f"INSERT INTO {dest} ({columns}) SELECT {select} FROM {source} AS t "
                    f"JOIN {key_name} AS m ON m.person_id = t.person_id"
                )
                left = rows_without_person(wh, f"{source} AS t", key_name)
                if left:
                    report.left_out[table.name] = left
            else:
                wh.execute(f"INSERT INTO {dest} ({columns}) SELECT {columns} FROM {source}")
            report.rows[table.name] = wh.row_count(target, table.name)
            log.info("pseudonymized %s: %s rows", table.name, report.rows[table.name])
    report.seconds = time.perf_counter() - started
    return report
