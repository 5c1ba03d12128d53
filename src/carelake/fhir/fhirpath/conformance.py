"""Runs the official FHIRPath XML test suite (tests-fhir-r4.xml) against this engine.

Each test evaluates an expression on a JSON input and compares the result with the expected
outputs (type and text); ``invalid`` tests pass when the engine raises a FhirPathError.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from carelake.fhir.fhirpath import evaluate_items
from carelake.fhir.fhirpath.errors import FhirPathError
from carelake.fhir.fhirpath.model import Element
from carelake.fhir.fhirpath.quantity import Quantity, format_decimal
from carelake.fhir.fhirpath.temporal import Date, DateTime, Time

__all__ = ["CaseResult", "SuiteResult", "run_suite"]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """Outcome of one test: ``reason`` says why it failed (empty when it passed)."""

    group: str
    name: str
    expression: str
    passed: bool
    reason: str = ""


@dataclass(slots=True)
class SuiteResult:
    """All outcomes plus totals."""

    cases: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def passed(self) -> int:
        return sum(1 for case in self.cases if case.passed)

    @property
    def failed(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def by_group(self) -> dict[str, tuple[int, int]]:
        """Group name -> (passed, total), in suite order."""
        groups: dict[str, tuple[int, int]] = {}
        for case in self.cases:
            passed, total = groups.get(case.group, (0, 0))
            groups[case.group] = (passed + case.passed, total + 1)
        return groups


_STRING_TYPES = {"string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid", "base64Binary"}


def describe(item: Any) -> tuple[str, str]:
    """(suite type name, suite text) of a result item; dates carry the suite's leading ``@``."""
    if type(item) is Element:
        kind = item.type or ""
        value = item.value
        if isinstance(value, dict) or value is None:
            return kind, json.dumps(value, default=str)
        if kind in ("date", "dateTime", "instant"):
            return ("dateTime" if kind == "instant" else kind), "@" + str(value)
        if kind == "time":
            return "time", "@T" + str(value)
        if isinstance(value, bool):
            return "boolean", "true" if value else "false"
        if isinstance(value, Decimal):
            return kind or "decimal", format_decimal(value)
        return kind, str(value)
    if isinstance(item, bool):
        return "boolean", "true" if item else "false"
    if isinstance(item, int):
        return "integer", str(item)
    if isinstance(item, Decimal):
        return "decimal", format_decimal(item)
    if isinstance(item, str):
        return "string", item
    if isinstance(item, DateTime):
        return "dateTime", "@" + str(item)
    if isinstance(item, Date):
        return "date", "@" + str(item)
    if isinstance(item, Time):
        return "time", "@T" + str(item)
    if isinstance(item, Quantity):
        return "Quantity", str(item)
    return type(item).__name__, str(item)


def _same_text(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    try:
        a, b = Decimal(expected), Decimal(actual)
    except (InvalidOperation, ValueError):
        return False
    return a == b and a.as_tuple().exponent == b.as_tuple().exponent


def _matches(expected: tuple[str | None, str], actual: tuple[str, str]) -> bool:
    kind, text = expected
    if not _same_text(text.strip(), actual[1]):
        return False
    if kind is None or kind == actual[0]:
        return True
    return kind == "string" and actual[0] in _STRING_TYPES


def _load(inputs_dir: Path, name: str | None, cache: dict[str, Any]) -> Any:
    if not name:
        return None
    stem = name.rsplit(".", 1)[0]
    if stem not in cache:
        with (inputs_dir / f"{stem}.json").open(encoding="utf-8") as handle:
            cache[stem] = json.load(handle, parse_float=Decimal)
    return cache[stem]


def _run_case(group: str, test: ET.Element, inputs_dir: Path, cache: dict[str, Any]) -> CaseResult:
    name = test.get("name", "")
    expr_el = test.find("expression")
    expression = (expr_el.text or "") if expr_el is not None else ""
    attrs = {**test.attrib, **(expr_el.attrib if expr_el is not None else {})}
    invalid = attrs.get("invalid")
    strict = attrs.get("mode") == "strict"
    expected = [(out.get("type"), out.text or "") for out in test.findall("output")]
    result = CaseResult(group, name, expression, True)
    try:
        resource = _load(inputs_dir, test.get("inputfile"), cache)
        items = evaluate_items(resource, expression, strict=strict)
    except FhirPathError as exc:
        if invalid:
            return result
        return CaseResult(group, name, expression, False, f"unexpected error: {exc}")
    except Exception as exc:  # a crash is a failure to report, not to propagate
        return CaseResult(group, name, expression, False, f"crash: {type(exc).__name__}: {exc}")
    if invalid:
        return CaseResult(group, name, expression, False, f"expected a {invalid} error, got {items!r}")
    if attrs.get("predicate") == "true":
        items = [bool(items)]
    actual = [describe(item) for item in items]
    if len(actual) != len(expected):
        return CaseResult(group, name, expression, False, f"expected {expected}, got {actual}")
    if attrs.get("ordered") == "false":
        remaining = list(actual)
        for want in expected:
            hit = next((i for i, got in enumerate(remaining) if _matches(want, got)), None)
            if hit is None:
                return CaseResult(group, name, expression, False, f"expected {expected}, got {actual}")
            del remaining[hit]
        return result
    for want, got in zip(expected, actual, strict=True):
        if not _matches(want, got):
            return CaseResult(group, name, expression, False, f"expected {expected}, got {actual}")
    return result


def run_suite(xml_path: Path, inputs_dir: Path) -> SuiteResult:
    """Run every test in ``xml_path`` with JSON inputs from ``inputs_dir``."""
    root = ET.parse(xml_path).getroot()
    cache: dict[str, Any] = {}
    suite = SuiteResult()
    for group in root.iter("group"):
        for test in group.findall("test"):
            suite.cases.append(_run_case(group.get("name", ""), test, inputs_dir, cache))
    return suite
