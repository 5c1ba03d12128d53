"""Results in DataQualityDashboard's own JSON layout (CheckResults, Metadata, Overview), so its viewer opens them.

Counts the disclosure rule withholds (`carelake.privacy.disclosure`) are null in the export, with the percentage that
would reveal them; the status stays, since it is what the dashboard is for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from carelake.privacy.disclosure import DisclosureRule, disclosure_rule
from carelake.quality.runner import CheckResult, QualityRun

__all__ = ["DQD_VERSION", "check_result_json", "overview", "results_json", "write_results"]

DQD_VERSION = "2.8.4"


def check_result_json(r: CheckResult, min_cell_count: int | DisclosureRule | None = None) -> dict[str, Any]:
    """One CheckResults element with DQD's camelCase fields, small counts withheld."""
    c = r.check
    rule = disclosure_rule(min_cell_count)
    hide_num = rule.hides(r.num_violated_rows)
    hide_den = rule.hides(r.num_denominator_rows)
    pct = r.pct_violated_rows
    field = c.field.upper() if c.field and c.level == "CONCEPT" else c.field
    return {
        "numViolatedRows": None if hide_num else r.num_violated_rows,
        "pctViolatedRows": None if hide_num or hide_den or pct is None else round(pct, 6),
        "numDenominatorRows": None if hide_den else r.num_denominator_rows,
        "executionTime": f"{r.execution_time:.6f} secs",
        "queryText": r.query_text,
        "checkName": c.name,
        "checkLevel": c.level,
        "checkDescription": c.description,
        "cdmTableName": c.table.upper(),
        "cdmFieldName": field,
        "conceptId": c.concept_id,
        "unitConceptId": None if c.unit_concept_id is None else str(c.unit_concept_id),
        "sqlFile": c.type.sql_file,
        "category": c.type.category,
        "subcategory": c.type.subcategory or None,
        "context": c.type.context,
        "severity": c.type.severity,
        "origin": c.type.origin,
        "warning": None,
        "error": r.error,
        "checkId": c.check_id,
        "failed": int(r.status == "failed"),
        "passed": int(r.status == "passed"),
        "isError": int(r.status == "error"),
        "notApplicable": int(r.not_applicable),
        "notApplicableReason": r.not_applicable_reason,
        "thresholdValue": c.threshold,
        "notesValue": c.notes,
        "status": r.status,
        "suppressed": hide_num or hide_den,
    }


def overview(run: QualityRun) -> dict[str, Any]:
    """DQD's Overview: totals, failures by category; percentages over passed + failed checks."""
    rs = run.results
    out: dict[str, Any] = {
        "countTotal": len(rs),
        "countPassed": sum(r.status == "passed" for r in rs),
        "countErrorFailed": sum(r.status == "error" for r in rs),
        "countThresholdFailed": sum(r.status == "failed" for r in rs),
        "countNotApplicable": sum(r.status == "not applicable" for r in rs),
    }
    out["countOverallFailed"] = out["countErrorFailed"] + out["countThresholdFailed"]
    graded = out["countPassed"] + out["countOverallFailed"]
    out["percentPassed"] = round(100 * out["countPassed"] / graded, 2) if graded else 0
    out["percentFailed"] = round(100 * out["countOverallFailed"] / graded, 2) if graded else 0
    for cat in ("Plausibility", "Conformance", "Completeness"):
        mine = [r for r in rs if r.check.type.category == cat]
        out[f"countTotal{cat}"] = len(mine)
        out[f"countFailed{cat}"] = sum(r.status in ("failed", "error") for r in mine)
        out[f"countPassed{cat}"] = sum(r.status == "passed" for r in mine)
    return out


def results_json(run: QualityRun, min_cell_count: int | DisclosureRule | None = None) -> dict[str, Any]:
    """The whole document: timestamps, CheckResults, Metadata (CDM_SOURCE) and Overview."""
    rule = disclosure_rule(min_cell_count)
    seconds = (run.end - run.start).total_seconds()
    meta = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run.metadata.items()}
    meta["DQD_VERSION"] = DQD_VERSION
    meta["CARELAKE_DIALECT"] = run.dialect
    meta["CARELAKE_MIN_CELL_COUNT"] = rule.min_cell_count
    return {
        "startTimestamp": run.start.isoformat(),
        "endTimestamp": run.end.isoformat(),
        "executionTime": f"{seconds:.0f} secs",
        "executionTimeSeconds": round(seconds, 3),
        "CheckResults": [check_result_json(r, rule) for r in run.results],
        "Metadata": [meta],
        "Overview": overview(run),
    }


def write_results(results: dict[str, Any], path: Path) -> Path:
    """A results document (`results_json`) as dqd-results.json."""
    path.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return path
