"""Run checks in the warehouse, few statements per table, and grade them as DataQualityDashboard does.

Status precedence is DQD's: Error > Not Applicable > Failed > Passed. A statement that fails is retried check by
check, so one broken check is reported with its error while every other check still runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carelake.errors import CarelakeError
from carelake.quality.catalogue import Check
from carelake.quality.generate import generate_checks
from carelake.quality.sql import render_batch, render_probe, resolve_schemas, table_ref
from carelake.warehouse import Warehouse

__all__ = ["STATUSES", "CheckResult", "QualityRun", "evaluate", "run_checks"]

STATUSES = ("error", "not applicable", "failed", "passed")
Progress = Callable[[int, int], None]


@dataclass
class CheckResult:
    """What one check found; `status` follows DQD's precedence."""

    check: Check
    num_violated_rows: int | None
    num_denominator_rows: int | None
    query_text: str = ""
    execution_time: float = 0.0
    error: str | None = None
    failed: bool = False
    not_applicable: bool = False
    not_applicable_reason: str | None = None

    @property
    def pct_violated_rows(self) -> float | None:
        if self.num_violated_rows is None or self.num_denominator_rows is None:
            return None
        return self.num_violated_rows / self.num_denominator_rows if self.num_denominator_rows else 0.0

    @property
    def status(self) -> str:
        if self.error is not None and not self.failed:
            return "error"
        if self.not_applicable:
            return "not applicable"
        return "failed" if self.failed else "passed"


@dataclass
class QualityRun:
    """All results of one run, with timing and the warehouse it ran on."""

    results: list[CheckResult]
    start: datetime
    end: datetime
    dialect: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    def by_id(self) -> dict[str, CheckResult]:
        return {r.check.check_id: r for r in self.results}


def _columns(wh: Warehouse, table: str) -> set[str] | None:
    """Column names of a CDM table, or None when it does not exist."""
    try:
        got = wh.fetch_arrow(resolve_schemas(f"SELECT * FROM {table_ref(table)} LIMIT 0", wh))
    except CarelakeError:
        return None
    return {n.lower() for n in got.column_names}


def _as_int(value: Any) -> int:
    return int(value) if value is not None else 0


def _run_group(wh: Warehouse, checks: list[Check], out: dict[str, CheckResult]) -> None:
    probes = [c.probe for c in checks if c.probe is not None]
    sql = render_batch(probes, wh)
    started = time.perf_counter()
    try:
        row = wh.fetch_arrow(sql).to_pylist()[0]
    except CarelakeError:
        for c in checks:  # isolate the failing check(s); the rest still count
            _run_one(wh, c, out)
        return
    share = (time.perf_counter() - started) / len(checks)
    for i, c in enumerate(checks):
        out[c.check_id] = CheckResult(c, _as_int(row[f"v{i}"]), _as_int(row[f"d{i}"]), sql, share)


def _run_one(wh: Warehouse, check: Check, out: dict[str, CheckResult]) -> None:
    assert check.probe is not None
    sql = render_probe(check.probe, wh)
    started = time.perf_counter()
    try:
        row = wh.fetch_arrow(sql).to_pylist()[0]
    except CarelakeError as e:
        out[check.check_id] = CheckResult(check, None, None, sql, time.perf_counter() - started, error=str(e))
        return
    out[check.check_id] = CheckResult(
        check,
        _as_int(row["num_violated_rows"]),
        _as_int(row["num_denominator_rows"]),
        sql,
        time.perf_counter() - started,
    )


def run_checks(
    wh: Warehouse,
    checks: Sequence[Check] | None = None,
    *,
    batch: bool = True,
    progress: Progress | None = None,
) -> QualityRun:
    """Run `checks` (default: the whole generated catalogue) and evaluate thresholds and applicability."""
    start = datetime.now(UTC)
    checks = list(generate_checks() if checks is None else checks)
    tables = {c.table: _columns(wh, c.table) for c in checks}
    out: dict[str, CheckResult] = {}
    groups: dict[str, list[Check]] = {}
    for c in checks:
        cols = tables[c.table]
        if c.probe is not None and c.probe.structural:
            missing = cols is None or (c.name == "cdmField" and (c.field or "") not in cols)
            out[c.check_id] = CheckResult(c, int(missing), 1, f"SELECT * FROM {table_ref(c.table)} LIMIT 0")
        elif cols is None or (c.field is not None and c.field not in cols):
            what = f"Table {c.table.upper()}" if cols is None else f"Field {c.table.upper()}.{(c.field or '').upper()}"
            out[c.check_id] = CheckResult(
                c, None, None, not_applicable=True, not_applicable_reason=f"{what} does not exist."
            )
        else:
            groups.setdefault(c.probe.batch_key if c.probe else c.check_id, []).append(c)
    done = 0
    for members in groups.values():
        if batch:
            _run_group(wh, members, out)
        else:
            for c in members:
                _run_one(wh, c, out)
        done += len(members)
        if progress is not None:
            progress(done, len(checks))
    results = evaluate([out[c.check_id] for c in checks])
    return QualityRun(results, start, datetime.now(UTC), wh.dialect, _metadata(wh))


def evaluate(results: Iterable[CheckResult]) -> list[CheckResult]:
    """DQD's evaluateThresholds then calculateNotApplicableStatus, on results in place."""
    results = list(results)
    for r in results:
        threshold = r.check.threshold
        if r.error is not None:
            r.failed = False
        elif r.num_violated_rows is None:
            continue
        elif threshold is None or threshold == 0:
            r.failed = r.num_violated_rows > 0
        else:
            r.failed = (r.pct_violated_rows or 0.0) * 100 > threshold
    missing_tables = {r.check.table for r in results if r.check.name == "cdmTable" and r.failed}
    missing_fields = {(r.check.table, r.check.field) for r in results if r.check.name == "cdmField" and r.failed}
    completeness = [r for r in results if r.check.name == "measureValueCompleteness" and r.error is None]
    empty_tables = {r.check.table for r in completeness if r.num_denominator_rows == 0}
    empty_fields = {
        (r.check.table, r.check.field) for r in completeness if r.num_denominator_rows == r.num_violated_rows
    }
    condition_gone = "condition_occurrence" in missing_tables | empty_tables
    for r in results:
        c = r.check
        reason = r.not_applicable_reason
        if c.name == "measureConditionEraCompleteness":
            reason = "Table CONDITION_OCCURRENCE is empty." if condition_gone else None
        elif c.name == "cdmTable":
            reason = None
        elif c.table in missing_tables:
            reason = f"Table {c.table.upper()} does not exist."
        elif c.name in ("measurePersonCompleteness", "cdmField"):
            reason = None
        elif (c.table, c.field) in missing_fields:
            reason = f"Field {c.table.upper()}.{(c.field or '').upper()} does not exist."
        elif r.error is not None:
            reason = None
        elif c.table in empty_tables:
            reason = f"Table {c.table.upper()} is empty."
        elif c.name == "measureValueCompleteness":
            reason = None
        elif c.field is not None and c.level == "FIELD" and (c.table, c.field) in empty_fields:
            reason = f"Field {c.table.upper()}.{c.field.upper()} is not populated."
        elif c.level == "CONCEPT" and r.num_denominator_rows == 0:
            reason = _concept_missing(c)
        r.not_applicable = reason is not None
        r.not_applicable_reason = reason
        if r.not_applicable:
            r.failed = False
    return results


def _concept_missing(c: Check) -> str:
    field = (c.field or "").upper()
    if c.unit_concept_id is None:
        return f"{field}={c.concept_id} is missing from the {c.table.upper()} table."
    return (
        f"Combination of {field}={c.concept_id}, unitConceptId={c.unit_concept_id} and VALUE_AS_NUMBER IS NOT NULL "
        f"is missing from the {c.table.upper()} table."
    )


def _metadata(wh: Warehouse) -> dict[str, Any]:
    """The CDM_SOURCE row (DQD's Metadata section), or an empty dict when there is none."""
    try:
        rows = wh.fetch_arrow(resolve_schemas("SELECT * FROM @cdm.cdm_source LIMIT 1", wh)).to_pylist()
    except CarelakeError:
        return {}
    return {k.upper(): v for k, v in rows[0].items()} if rows else {}
