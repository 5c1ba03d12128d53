"""Run SQL-on-FHIR v2 test files (the official format) against a warehouse and write the official report.

Each test file's fixture resources are staged into a fresh schema; each test's view is run through the normal
`run_view` path, so the suite measures exactly what users run. Rows compare order-insensitively, values strictly
(numbers by value, arrays in order), and column names must match exactly.
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carelake.errors import CarelakeError
from carelake.fhir.store import stage_fhir
from carelake.fhir.view.definition import parse_view
from carelake.fhir.view.runner import run_view
from carelake.warehouse import Warehouse, connect

__all__ = ["REVERSED_UPSTREAM", "ConformanceResult", "run_conformance"]

# Tests whose expectation upstream has since reversed (FHIR/fhir-test-cases#282, 2026-09): join() on an empty
# collection is empty (null), not "". carelake follows the newer rule; the report says so for these two.
REVERSED_UPSTREAM = {
    ("fhirpath.json", "string join"),
    ("fhirpath.json", "string join: default separator"),
}
_REVERSED_NOTE = (
    "this test expects '' for join() on an empty collection; upstream (FHIR/fhir-test-cases#282) changed the rule "
    "to empty (null), which carelake follows"
)


@dataclass
class ConformanceResult:
    """Per file, per test: passed or not and why; plus the tags, to count shareable and experimental apart."""

    report: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    tags: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def counts(self, tag: str | None = None) -> tuple[int, int]:
        passed = total = 0
        for file, body in self.report.items():
            for t in body["tests"]:
                if tag is not None and tag not in self.tags.get((file, t["name"]), []):
                    continue
                total += 1
                passed += bool(t["result"]["passed"])
        return passed, total

    def failures(self) -> list[tuple[str, str, str]]:
        return [
            (file, t["name"], str(t["result"].get("error", "")))
            for file, body in self.report.items()
            for t in body["tests"]
            if not t["result"]["passed"]
        ]


def run_conformance(
    directory: str | Path, warehouse_url: str = "duckdb:///:memory:", *, report: str | Path | None = None
) -> ConformanceResult:
    """Run every *.json test file in `directory`; write test_report.json to `report` when given."""
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        raise CarelakeError(f"{directory}: no test files (*.json)")
    result = ConformanceResult()
    wh = connect(warehouse_url)
    try:
        for path in files:
            result.report[path.name] = {"tests": _run_file(wh, path, result)}
    finally:
        wh.close()
    if report is not None:
        Path(report).write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")
    return result


def _run_file(wh: Warehouse, path: Path, result: ConformanceResult) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    schema = f"sof_{uuid.uuid4().hex[:12]}"
    out: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fixture = Path(tmp) / "fixtures.ndjson"
            fixture.write_text("".join(json.dumps(r) + "\n" for r in doc.get("resources", [])), encoding="utf-8")
            staged = stage_fhir(wh, [fixture], schema=schema)
        rejected = [f"{r.where}: {r.reason}" for r in staged.rejections]
        for test in doc.get("tests", []):
            name = str(test.get("title", "?"))
            result.tags[(path.name, name)] = list(test.get("tags", []))
            outcome = _run_test(wh, test, schema)
            if not outcome["passed"] and (path.name, name) in REVERSED_UPSTREAM:
                outcome.setdefault("details", {})["note"] = _REVERSED_NOTE
            if not outcome["passed"] and rejected:
                outcome.setdefault("details", {})["rejected_fixtures"] = rejected
            out.append({"name": name, "result": outcome})
    finally:
        _drop_schema(wh, schema)
    return out


def _drop_schema(wh: Warehouse, schema: str) -> None:
    wh.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _run_test(wh: Warehouse, test: dict[str, Any], schema: str) -> dict[str, Any]:
    expects_error = "expectError" in test
    try:
        view = parse_view(test.get("view"))
        table = run_view(wh, view, schema=schema)
    except CarelakeError as e:
        if expects_error:
            return {"passed": True}
        return {"passed": False, "error": f"{type(e).__name__}: {e}"}
    except Exception as e:
        return {"passed": False, "error": f"crash: {type(e).__name__}: {e}"}
    if expects_error:
        return {"passed": False, "error": "expected an error, the view ran"}
    rows = table.to_pylist()
    if "expectColumns" in test and table.column_names != test["expectColumns"]:
        return {"passed": False, "error": f"columns {table.column_names} != expected {test['expectColumns']}"}
    if "expectCount" in test:
        ok = len(rows) == test["expectCount"]
        return (
            {"passed": True} if ok else {"passed": False, "error": f"{len(rows)} rows, expected {test['expectCount']}"}
        )
    expected = test.get("expect", [])
    problem = _compare(rows, expected)
    return {"passed": True} if problem is None else {"passed": False, "error": problem}


def _compare(rows: list[dict[str, Any]], expected: list[dict[str, Any]]) -> str | None:
    if len(rows) != len(expected):
        return f"{len(rows)} rows, expected {len(expected)}: got {_show(rows)}"
    remaining = [_norm(r) for r in rows]
    for want in expected:
        target = _norm(want)
        for i, got in enumerate(remaining):
            if _equal(got, target):
                del remaining[i]
                break
        else:
            return f"expected row {json.dumps(want)} not found in {_show(rows)}"
    return None


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def _show(rows: list[dict[str, Any]]) -> str:
    text = json.dumps(rows, default=str)
    return text if len(text) < 600 else text[:597] + "..."
