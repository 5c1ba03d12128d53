"""The public conformance kit on built-in checks and on a user's own check."""

from __future__ import annotations

import pytest

from carelake.quality import Check, CheckType, Probe
from carelake.quality.testing import ConformanceCase, builtin_cases, check_conformance, parametrize_with_checks

# A user's check: conditions recorded on or after 2015 (a site that should have no recent data).
USER_TYPE = CheckType(
    name="noRecentConditions",
    level="FIELD",
    description="Conditions in @cdmTableName dated 2015 or later.",
    context="Verification",
    category="Plausibility",
    subcategory="Temporal",
    sql_file="user:no_recent_conditions",
    evaluation_filter="",
    severity="convention",
    origin="user",
)
USER_CHECK = Check(
    type=USER_TYPE,
    table="condition_occurrence",
    field="condition_start_date",
    threshold=0,
    probe=Probe(
        "COALESCE(SUM(CASE WHEN t.condition_start_date >= DATE '2015-01-01' THEN 1 ELSE 0 END), 0)",
        "COUNT(*)",
        table="condition_occurrence",
    ),
)
CASES = [
    *builtin_cases(),
    ConformanceCase(USER_CHECK, ["UPDATE cdm.condition_occurrence SET condition_start_date = DATE '2016-01-01'"]),
]


@parametrize_with_checks(CASES)
def test_check_conforms(case: ConformanceCase, step: str) -> None:
    check_conformance(case, [step])


def test_a_wrong_check_is_caught() -> None:
    """A check that counts every row as violating fails the kit's clean step."""
    import dataclasses

    assert USER_CHECK.probe is not None
    wrong = dataclasses.replace(USER_CHECK, probe=dataclasses.replace(USER_CHECK.probe, violated="COUNT(*)"))
    with pytest.raises(AssertionError, match="clean tiny CDM gave failed"):
        check_conformance(ConformanceCase(wrong, []), ["clean_passes"])
