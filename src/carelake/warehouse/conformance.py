"""A conformance kit for warehouse backends, in the spirit of scikit-learn's `check_estimator`.

Every stage above the warehouse relies on a few promises: Arrow goes in and comes back with its types (64-bit
ids, unbounded text, naive timestamps), writes replace or upsert by key, a failed transaction leaves nothing,
the canonical SQL the stages write means the same on every engine, scratch space empties, and the capability
flags tell the truth. `check_backend(wh)` checks each promise on a live warehouse, in a schema of its own that
it drops afterwards; a new engine that passes it runs the whole platform. `backend_checks()` lists the checks
so a test suite can run one case per check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa

from carelake.errors import WarehouseError
from carelake.warehouse._base import PrimaryKeyViolation, Warehouse, quote
from carelake.warehouse._types import Column, TableSchema
from carelake.warehouse.fragments import date_add

__all__ = ["BackendCheck", "BackendConformanceError", "backend_checks", "check_backend"]

_SCHEMA = "carelake_conformance"
_WIDE = "wide " * 60 + "naïve ✓"  # 307 characters, beyond every VARCHAR width in the CDM spec, not ASCII
_TABLE = TableSchema(
    name="kinds",
    columns=(
        Column("id", "bigint", nullable=False),
        Column("small", "integer"),
        Column("x", "double"),
        Column("flag", "boolean"),
        Column("day", "date"),
        Column("at", "timestamp"),
        Column("label", "varchar", length=20),
        Column("doc", "json"),
    ),
    primary_key=("id",),
    row_key=("id",),
)
_ROWS: list[dict[str, object]] = [
    {
        "id": 2**62 + 7,
        "small": -(2**31),
        "x": 0.1,
        "flag": True,
        "day": dt.date(1899, 12, 31),
        "at": dt.datetime(2020, 2, 29, 23, 59, 59, 123456),
        "label": _WIDE,
        "doc": '{"a": [1, 2]}',
    },
    {
        "id": 1,
        "small": 2**31 - 1,
        "x": -1e300,
        "flag": False,
        "day": dt.date(2024, 1, 1),
        "at": None,
        "label": "",
        "doc": None,
    },
    {"id": 3, "small": None, "x": None, "flag": None, "day": None, "at": None, "label": None, "doc": None},
]


class BackendConformanceError(WarehouseError):
    """A backend broke one of the warehouse's promises; `check` names which."""

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        super().__init__(f"backend conformance check {check!r} failed: {detail}")


@dataclass(frozen=True)
class BackendCheck:
    """One promise: a name, why it matters, and the function that checks it in a scratch schema."""

    name: str
    why: str
    run: Callable[[Warehouse, str], None]


def _batch(rows: list[dict[str, object]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=_TABLE.arrow_schema)


def _fresh(wh: Warehouse, schema: str, rows: list[dict[str, object]] | None = None) -> str:
    """An empty `kinds` table (holding `rows` if given); returns its qualified name."""
    wh.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(_TABLE.name)}")
    wh.create_table(schema, _TABLE)
    if rows:
        wh.write_table(schema, _TABLE, [_batch(rows)])
    return f"{quote(schema)}.{quote(_TABLE.name)}"


def _rows(wh: Warehouse, table: str) -> list[dict[str, object]]:
    got: list[dict[str, object]] = wh.fetch_arrow(f"SELECT * FROM {table} ORDER BY id").to_pylist()
    for r in got:
        doc, at = r.get("doc"), r.get("at")
        if isinstance(doc, str):
            r["doc"] = json.loads(doc)
        if isinstance(at, dt.datetime) and at.tzinfo is not None:
            r["at"] = at.replace(tzinfo=None)
    return got


def _expected(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = [dict(r, doc=json.loads(r["doc"]) if isinstance(r["doc"], str) else r["doc"]) for r in rows]
    return sorted(out, key=lambda r: int(r["id"]))  # type: ignore[call-overload]


def _equal(check: str, got: object, want: object) -> None:
    if got != want:
        raise BackendConformanceError(check, f"got {got!r}, expected {want!r}")


def _types_round_trip(wh: Warehouse, schema: str) -> None:
    table = _fresh(wh, schema, _ROWS)
    _equal("types_round_trip", _rows(wh, table), _expected(_ROWS))
    _equal("types_round_trip", wh.row_count(schema, _TABLE.name), len(_ROWS))


def _catalogue(wh: Warehouse, schema: str) -> None:
    _fresh(wh, schema)
    if _TABLE.name not in wh.list_tables(schema) or not wh.table_exists(schema, _TABLE.name.upper()):
        raise BackendConformanceError("catalogue", f"created table not listed in {schema}: {wh.list_tables(schema)}")
    wh.create_table(schema, _TABLE)  # IF NOT EXISTS: a second create changes nothing
    _equal("catalogue", wh.list_tables(schema).count(_TABLE.name), 1)


def _ddl(wh: Warehouse, schema: str) -> None:
    """A table made by a plain CREATE TABLE statement (as Achilles makes its results) is one like any other."""
    table = f"{quote(schema)}.{quote('made_by_sql')}"
    wh.execute(f"DROP TABLE IF EXISTS {table}")
    wh.execute(f"CREATE TABLE {table} (analysis_id INTEGER, stratum_1 VARCHAR, count_value BIGINT)")
    wh.execute(f"CREATE TABLE IF NOT EXISTS {table} (analysis_id INTEGER)")  # exists: nothing changes
    if "made_by_sql" not in wh.list_tables(schema):
        raise BackendConformanceError("ddl", f"a table made by CREATE TABLE is not listed in {schema}")
    wh.execute(f"INSERT INTO {table} (analysis_id, stratum_1, count_value) VALUES (1, 'a', {2**40}), (2, NULL, 5)")
    _equal("ddl", wh.row_count(schema, "made_by_sql"), 2)
    got = wh.fetch_arrow(f"SELECT analysis_id, count_value FROM {table} ORDER BY analysis_id").to_pylist()
    _equal("ddl", got, [{"analysis_id": 1, "count_value": 2**40}, {"analysis_id": 2, "count_value": 5}])
    wh.execute(f"DROP TABLE {table}")
    _equal("ddl", "made_by_sql" in wh.list_tables(schema), False)


def _replace(wh: Warehouse, schema: str) -> None:
    table = _fresh(wh, schema, _ROWS)
    wh.write_table(schema, _TABLE, [_batch(_ROWS[1:2])], mode="replace")
    _equal("replace", _rows(wh, table), _expected(_ROWS[1:2]))


def _upsert(wh: Warehouse, schema: str) -> None:
    table = _fresh(wh, schema, _ROWS[:2])
    changed = dict(_ROWS[1], label="changed")
    wh.write_table(schema, _TABLE, [_batch([changed, _ROWS[2]])], mode="upsert")
    wh.write_table(schema, _TABLE, [_batch([changed, _ROWS[2]])], mode="upsert")  # twice: nothing doubles
    _equal("upsert", _rows(wh, table), _expected([_ROWS[0], changed, _ROWS[2]]))


class _Abort(Exception):
    pass


def _rollback(wh: Warehouse, schema: str) -> None:
    table = _fresh(wh, schema, _ROWS[:1])
    try:
        with wh.transaction():
            wh.write_table(schema, _TABLE, [_batch(_ROWS[1:])])
            wh.write_table(schema, _TABLE, [_batch(_ROWS[1:2])], mode="replace")
            raise _Abort
    except _Abort:
        pass
    _equal("rollback", _rows(wh, table), _expected(_ROWS[:1]))

    def breaks_mid_way() -> Iterator[pa.RecordBatch]:
        yield _batch(_ROWS[1:2])
        raise _Abort  # the input fails after a batch was handed over

    try:
        with wh.transaction():
            wh.write_table(schema, _TABLE, [_batch(_ROWS[2:])], mode="replace")
            wh.write_table(schema, _TABLE, breaks_mid_way(), mode="upsert")
    except _Abort:
        _equal("rollback", _rows(wh, table), _expected(_ROWS[:1]))
        return
    raise BackendConformanceError("rollback", "an input that failed mid-way did not raise through the transaction")


def _primary_key(wh: Warehouse, schema: str) -> None:
    table = _fresh(wh, schema, _ROWS[:1])
    try:
        wh.write_table(schema, _TABLE, [_batch(_ROWS[:2])], mode="append")
    except PrimaryKeyViolation as e:
        _equal("primary_key", (e.table, e.columns), (_TABLE.name, _TABLE.primary_key))
        _equal("primary_key", _rows(wh, table), _expected(_ROWS[:1]))  # refused as a whole
    else:
        raise BackendConformanceError("primary_key", "a duplicate key was written without PrimaryKeyViolation")
    # Two copies of a key among the incoming rows alone, in two batches, replacing the table: refused, and named.
    try:
        wh.write_table(schema, _TABLE, [_batch(_ROWS[1:3]), _batch(_ROWS[2:3])], mode="replace")
    except PrimaryKeyViolation as e:
        _equal("primary_key", e.key, str(_ROWS[2]["id"]))
        _equal("primary_key", _rows(wh, table), _expected(_ROWS[:1]))
        return
    raise BackendConformanceError("primary_key", "duplicate incoming keys were written without PrimaryKeyViolation")


# Canonical SQL the stages write (cohorts, features, quality), and what it must return on every engine.
_SQL: tuple[tuple[str, object], ...] = (
    (date_add("DATE '2020-02-28'", 1), dt.date(2020, 2, 29)),
    (date_add("DATE '2020-03-01'", -1), dt.date(2020, 2, 29)),
    ("DATE_DIFF('day', DATE '2020-01-01', DATE '2021-01-01')", 366),
    ("EXTRACT(YEAR FROM DATE '2020-06-30') * 100 + EXTRACT(MONTH FROM DATE '2020-06-30')", 202006),
    ("CAST(TIMESTAMP '2020-06-30 12:34:56' AS DATE)", dt.date(2020, 6, 30)),
    ("'a' || CAST(12 AS VARCHAR) || COALESCE(NULL, 'b')", "a12b"),
    ("LENGTH('naïve ✓')", 7),
    ("CAST(FLOOR(CAST(7 AS DOUBLE) / 2) AS INTEGER)", 3),
    ("CASE WHEN 1 IN (1, 2) THEN 'yes' ELSE 'no' END", "yes"),
    ("LPAD(CAST(4 AS VARCHAR), 2, '0')", "04"),
    ("CAST(9007199254740993 AS BIGINT)", 9007199254740993),
    # An exact, interpolated quantile (Achilles, Table 1): 1, 2, 3, 4 at 0.25 is 1.75.
    (
        "(SELECT QUANTILE_CONT(n, 0.25) FROM "
        "(SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 4 UNION ALL SELECT 3) q)",
        1.75,
    ),
)


def _canonical_sql(wh: Warehouse, schema: str) -> None:
    for expr, want in _SQL:
        got = wh.fetch_scalar(f"SELECT {expr} AS v")
        if isinstance(got, float) and isinstance(want, int) and got.is_integer():
            got = int(got)
        if isinstance(got, dt.datetime) and isinstance(want, dt.date):
            got = got.date()
        if got != want:
            raise BackendConformanceError("canonical_sql", f"{expr} gave {got!r}, expected {want!r}")
    table = _fresh(wh, schema, _ROWS)
    ranked = wh.fetch_arrow(
        f"SELECT id, ROW_NUMBER() OVER (ORDER BY small DESC NULLS LAST) AS r FROM {table} ORDER BY r"
    ).column("id")
    _equal("canonical_sql", ranked.to_pylist(), [1, 2**62 + 7, 3])


def _scratch(wh: Warehouse, schema: str) -> None:
    scratch = wh.scratch_schema(f"{schema}_scratch")
    try:
        wh.reset_scratch(scratch)
        wh.execute(f"CREATE {wh.temp_prefix(scratch)}TABLE {quote(scratch)}.t AS SELECT 1 AS n")
        _equal("scratch", wh.fetch_scalar(f"SELECT COUNT(*) FROM {quote(scratch)}.t"), 1)
        wh.reset_scratch(scratch)
        if wh.table_exists(scratch, "t"):
            raise BackendConformanceError("scratch", "reset_scratch left a table behind")
    finally:
        wh.drop_scratch(scratch)


def _render(wh: Warehouse, schema: str) -> None:
    offline = type(wh).render("SELECT CAST(1 AS BIGINT) AS n")
    if not isinstance(offline, str) or not offline.strip():
        raise BackendConformanceError("render", f"render() without a connection gave {offline!r}")
    _equal("render", wh.fetch_native(wh.sql("SELECT CAST(1 AS BIGINT) AS n")).column(0).to_pylist(), [1])


def _python_functions(wh: Warehouse, schema: str) -> None:
    registered = wh.register_python_function(
        "carelake_conformance_upper", lambda s: None if s is None else s.upper(), 1
    )
    if registered != wh.supports_python_functions:
        raise BackendConformanceError(
            "python_functions",
            f"register_python_function gave {registered}, the flag says {wh.supports_python_functions}",
        )
    if registered:
        _equal("python_functions", wh.fetch_scalar("SELECT carelake_conformance_upper('ok') AS v"), "OK")


_CHECKS = (
    BackendCheck(
        "types_round_trip",
        "Arrow in, the same values out: 64-bit ids, wide text, booleans, dates, JSON",
        _types_round_trip,
    ),
    BackendCheck("catalogue", "create_table is idempotent and list_tables/table_exists see it", _catalogue),
    BackendCheck("ddl", "a table made by a CREATE TABLE statement is listed, written, read and dropped", _ddl),
    BackendCheck("replace", "mode='replace' leaves exactly the new rows", _replace),
    BackendCheck("upsert", "mode='upsert' replaces rows by key, so a re-load changes nothing", _upsert),
    BackendCheck("rollback", "a failed transaction leaves the warehouse as it was", _rollback),
    BackendCheck(
        "primary_key", "a duplicate key is refused with PrimaryKeyViolation (the loader names the lines)", _primary_key
    ),
    BackendCheck("canonical_sql", "the canonical SQL the stages write means the same here", _canonical_sql),
    BackendCheck("scratch", "scratch space is created, used and emptied", _scratch),
    BackendCheck("render", "SQL renders without a connection and runs natively", _render),
    BackendCheck("python_functions", "supports_python_functions says whether SQL can call Python", _python_functions),
)


def backend_checks() -> tuple[BackendCheck, ...]:
    """Every check `check_backend` runs, in order."""
    return _CHECKS


@contextmanager
def conformance_schema(wh: Warehouse, schema: str = _SCHEMA) -> Iterator[str]:
    """A schema of the kit's own, dropped afterwards (the warehouse's CDM is never touched)."""
    wh.create_schema(schema)
    try:
        yield schema
    finally:
        wh.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")


def check_backend(wh: Warehouse, checks: tuple[BackendCheck, ...] | None = None, *, schema: str = _SCHEMA) -> list[str]:
    """Run the conformance checks on `wh`; raise BackendConformanceError at the first broken promise.

    Returns the names of the checks that passed.
    """
    passed: list[str] = []
    with conformance_schema(wh, schema) as where:
        for check in checks or _CHECKS:
            try:
                check.run(wh, where)
            except BackendConformanceError:
                raise
            except Exception as e:  # an engine error is a broken promise too, named as such
                raise BackendConformanceError(check.name, f"{type(e).__name__}: {e}") from e
            passed.append(check.name)
    return passed
