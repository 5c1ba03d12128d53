"""DataQualityDashboard's check catalogue, read from the vendored CSVs so that checks are generated, not typed in.

A check type (row of the descriptions CSV) applies to every table, field or concept row whose columns pass its
`evaluationFilter`; each match becomes one `Check` with its threshold (max % of violating rows allowed).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from carelake.quality.sql import Probe

__all__ = ["Check", "CheckType", "check_types", "matches", "spec_rows"]

_SPEC = {
    "TABLE": "OMOP_CDMv5.4_Table_Level.csv",
    "FIELD": "OMOP_CDMv5.4_Field_Level.csv",
    "CONCEPT": "OMOP_CDMv5.4_Concept_Level.csv",
}
_TERM = re.compile(r"^\s*(\w+)\s*(==|!=)\s*'([^']*)'\s*$")


@dataclass(frozen=True)
class CheckType:
    """One kind of check (e.g. isRequired) with DQD's Kahn classification and description template."""

    name: str
    level: str
    description: str
    context: str
    category: str
    subcategory: str
    sql_file: str
    evaluation_filter: str
    severity: str
    # carelake's own check types (not in DQD's catalogue) say so, and may filter rows in Python.
    origin: str = "DataQualityDashboard"
    extra_filter: Callable[[Mapping[str, str]], bool] | None = None


@dataclass(frozen=True)
class Check:
    """One concrete check: a type applied to a table (and field, and concept); `probe` says how to count."""

    type: CheckType
    table: str
    field: str | None = None
    concept_id: str | None = None
    unit_concept_id: int | None = None
    threshold: float | None = None
    notes: str | None = None
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    probe: Probe | None = None

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def level(self) -> str:
        return self.type.level

    @property
    def check_id(self) -> str:
        """DQD's checkId: level, name, table, field, concept, unit joined by underscores, lower case."""
        parts = [self.level, self.name, self.table, self.field, self.concept_id, self.unit_concept_id]
        return "_".join(str(p) for p in parts if p is not None).lower()

    @property
    def description(self) -> str:
        """The type's description with @placeholders filled from this check's parameters."""
        values = {
            "cdmTableName": self.table.upper(),
            "cdmFieldName": (self.field or "").upper(),
            "conceptId": str(self.concept_id or ""),
            "unitConceptId": str(self.unit_concept_id or ""),
            **self.params,
        }
        return re.sub(r"@(\w+)", lambda m: values.get(m.group(1), m.group(0)), self.type.description).strip()


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("carelake.quality").joinpath("spec").joinpath(name).read_text(encoding="utf-8-sig")
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


@cache
def check_types() -> tuple[CheckType, ...]:
    """The 27 check types of DQD for CDM 5.4, in the catalogue's order."""
    return tuple(
        CheckType(
            name=r["checkName"],
            level=r["checkLevel"],
            description=" ".join(r["checkDescription"].split()),
            context=r["kahnContext"],
            category=r["kahnCategory"],
            subcategory=r["kahnSubcategory"],
            sql_file=r["sqlFile"],
            evaluation_filter=r["evaluationFilter"],
            severity=r["severity"],
        )
        for r in _read("OMOP_CDMv5.4_Check_Descriptions.csv")
    )


@cache
def spec_rows(level: str) -> tuple[dict[str, str], ...]:
    """The table-, field- or concept-level rows of the catalogue."""
    return tuple(_read(_SPEC[level]))


def matches(row: Mapping[str, str], expression: str) -> bool:
    """DQD's evaluationFilter: terms like `isRequired=='Yes'` or `fkDomain!= ''` joined by `&`."""
    for term in expression.split("&"):
        m = _TERM.match(term)
        if not m:
            raise ValueError(f"cannot read evaluationFilter term {term!r}")
        key, op, value = m.groups()
        actual = row.get(key, "")
        if (actual == value) != (op == "=="):
            return False
    return True
