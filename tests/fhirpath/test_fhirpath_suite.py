"""The official FHIRPath R4 suite, vendored in tests/data/fhirpath-r4 (see its README for provenance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelake.fhir.fhirpath.conformance import SuiteResult, run_suite

DATA = Path(__file__).resolve().parent.parent / "data" / "fhirpath-r4"

# Tests this engine is known to fail, each with the reason. Keep this exact: a fix or a regression
# both change the failing set and fail test_known_failures_are_exact.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.fixture(scope="module")
def suite() -> SuiteResult:
    return run_suite(DATA / "tests-fhir-r4.xml", DATA)


def test_suite_size(suite: SuiteResult) -> None:
    assert suite.total == 935


def test_pass_rate(suite: SuiteResult) -> None:
    assert suite.pass_rate >= 0.90, f"{suite.passed}/{suite.total}"


def test_known_failures_are_exact(suite: SuiteResult) -> None:
    failing = {f"{case.group}/{case.name}": case.reason for case in suite.failed}
    unexpected = {name: reason for name, reason in failing.items() if name not in KNOWN_FAILURES}
    fixed = sorted(set(KNOWN_FAILURES) - set(failing))
    assert not unexpected, f"new failures: {unexpected}"
    assert not fixed, f"now passing, remove from KNOWN_FAILURES: {fixed}"
