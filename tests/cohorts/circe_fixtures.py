"""circe-be's cohort-generation fixtures: load PREP rows into a fresh CDM, rebuild the Java tests' variants.

The fixtures are CDM 5.0-era rows that leave out columns CDM 5.4 requires (e.g. drug_exposure_end_date, the
very thing the continuous-exposure tests exercise), so the test CDM is carelake's 5.4 schema with every column
nullable and no primary keys; columns 5.4 no longer has are dropped and reported.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from carelake.omop.schema import cdm_tables, schema_for, table_by_name
from carelake.warehouse import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "circe"
GEN = DATA / "cohortgeneration"
VOCABULARY = DATA / "datasets" / "vocabulary.json"

Json = dict[str, Any]


def read(path: Path) -> Json:
    data: Json = json.loads(path.read_text(encoding="utf-8"))
    return data


def create_relaxed_cdm(wh: Warehouse) -> None:
    """Every CDM 5.4 table, all columns nullable, no keys (the fixtures' rows are sparse)."""
    with wh.transaction():
        for name in {wh.cdm_schema, wh.results_schema}:
            wh.create_schema(name)
        for table in cdm_tables():
            cols = tuple(replace(c, nullable=True) for c in table.schema.columns)
            relaxed = replace(table.schema, columns=cols, primary_key=(), indexes=())
            wh.create_table(schema_for(wh, table), relaxed)


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "date":
        return dt.date.fromisoformat(str(value)[:10])
    if kind == "timestamp":
        return dt.datetime.fromisoformat(str(value))
    if kind in ("bigint", "integer"):
        return int(value)
    if kind == "double":
        return float(value)
    return str(value)


def load_rows(wh: Warehouse, data: Json) -> list[str]:
    """Insert `cdm.<table>` rows; returns the fixture columns CDM 5.4 does not have (dropped)."""
    dropped: list[str] = []
    for key, rows in data.items():
        table = table_by_name(key.split(".", 1)[1])
        assert table is not None, key
        names = set(table.schema.column_names)
        for row in rows:
            dropped += [f"{table.name}.{c}" for c in row if c not in names and f"{table.name}.{c}" not in dropped]
        columns = {
            c.name: pa.array([_value(c.kind, r.get(c.name)) for r in rows], type=c.arrow_type)
            for c in table.schema.columns
        }
        batch = pa.RecordBatch.from_pydict(columns, schema=pa.schema([(n, a.type) for n, a in columns.items()]))
        relaxed = replace(table.schema, primary_key=(), row_key=())  # as create_relaxed_cdm made it: no keys
        wh.write_table(schema_for(wh, table), relaxed, [batch], mode="append")
    return dropped


@dataclass
class Case:
    """One Java test: where its rows are, which cohorts it generates, and which must be rejected."""

    name: str
    prep: str
    verify: str | None
    cohorts: dict[int, Json] = field(default_factory=dict)
    invalid: dict[int, Json] = field(default_factory=dict)


def _variants(base: Json, edits: list[Callable[[Json], None]]) -> dict[int, Json]:
    """Cohort i+1 = base with edits[0..i] applied cumulatively, as the Java tests mutate one expression."""
    out: dict[int, Json] = {}
    expr = copy.deepcopy(base)
    for i, edit in enumerate(edits):
        edit(expr)
        out[i + 1] = copy.deepcopy(expr)
    return out


def _set(path: str, value: Any) -> Callable[[Json], None]:
    def edit(expr: Json) -> None:
        *parents, last = path.split(".")
        node: Any = expr
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value

    return edit


def _occurrence(kind: int, count: int) -> Callable[[Json], None]:
    def edit(expr: Json) -> None:
        expr["AdditionalCriteria"]["CriteriaList"][0]["Occurrence"].update(Type=kind, Count=count)

    return edit


def _inner_group_at_most_zero(expr: Json) -> None:
    expr["AdditionalCriteria"]["Type"] = "ALL"
    expr["AdditionalCriteria"]["Groups"][0].update(Type="AT_MOST", Count=0)


def _noop(expr: Json) -> None:
    return None


def cases() -> list[Case]:
    limits = read(GEN / "limits/limitExpression.json")
    counts = read(GEN / "correlatedCriteria/countsExpression.json")
    groups = read(GEN / "correlatedCriteria/groupExpression.json")
    cont = read(GEN / "exits/continuousExposureExpression.json")
    first = read(GEN / "firstOccurrence/firstOccurrenceTestExpression.json")
    occ = "AdditionalCriteria.CriteriaList.0.Occurrence"
    out = [
        Case(
            "limits",
            "limits/limitTest_PREP.json",
            "limits/limitTest_VERIFY.json",
            _variants(
                limits,
                [
                    _noop,
                    _set("ExpressionLimit.Type", "First"),
                    _set("QualifiedLimit.Type", "First"),
                    _set("PrimaryCriteria.PrimaryCriteriaLimit.Type", "First"),
                    _set("PrimaryCriteria.PrimaryCriteriaLimit.Type", "Last"),
                ],
            ),
        ),
        Case(
            "counts",
            "correlatedCriteria/countsTest_PREP.json",
            "correlatedCriteria/countsTest_VERIFY.json",
            {
                **_variants(
                    counts,
                    [_noop, _occurrence(2, 1), _occurrence(1, 0)],
                ),
                4: read(GEN / "correlatedCriteria/visitExpression.json"),
            },
        ),
        Case(
            "groups",
            "correlatedCriteria/groupTest_PREP.json",
            "correlatedCriteria/groupTest_VERIFY.json",
            _variants(
                groups,
                [
                    _noop,
                    lambda e: e["AdditionalCriteria"].update(Type="AT_LEAST", Count=2),
                    lambda e: e["AdditionalCriteria"].update(Type="AT_MOST", Count=2),
                    _inner_group_at_most_zero,
                    _set("AdditionalCriteria.Groups", []),
                ],
            ),
        ),
        Case(
            "continuousExposure",
            "exits/continuousExposure_PREP.json",
            "exits/continuousExposure_VERIFY.json",
            _variants(cont, [_noop, _set("PrimaryCriteria.PrimaryCriteriaLimit.Type", "First")]),
        ),
        Case(
            "firstOccurrence",
            "firstOccurrence/firstOccurrenceTest_PREP.json",
            "firstOccurrence/firstOccurrenceTest_VERIFY.json",
            {
                i + 1: {
                    **copy.deepcopy(first),
                    "PrimaryCriteria": {
                        **first["PrimaryCriteria"],
                        # The Java test also sets codesetId = 0, which circe ignores for PayerPlanPeriod.
                        "CriteriaList": [
                            {kind: {"First": True} if kind == "PayerPlanPeriod" else {"CodesetId": 0, "First": True}}
                        ],
                    },
                }
                for i, kind in enumerate(FIRST_OCCURRENCE_TYPES)
            },
        ),
        Case(
            "conditionStatus",
            "conditionOccurrence/conditionStatusTest_PREP.json",
            "conditionOccurrence/conditionStatusTest_VERIFY.json",
            {i + 1: _condition_status(status) for i, status in enumerate([None, [], [{"CONCEPT_ID": 1}]])},
        ),
        Case("allCriteria", "limits/limitTest_PREP.json", None, {1: _all_criteria_54()}),
    ]
    # Java counts test: an occurrence type of -99 must be rejected; continuous exposure without a codeset too.
    counts_bad = copy.deepcopy(counts)
    _set(f"{occ}.Type", -99)(counts_bad)
    out[1].invalid[99] = counts_bad
    cont_bad = copy.deepcopy(cont)
    cont_bad["EndStrategy"]["CustomEra"].pop("DrugCodesetId")
    out[3].invalid[3] = cont_bad
    for name, folder, expression in SINGLE:
        out.append(
            Case(
                name, f"{folder}/{name}_PREP.json", f"{folder}/{name}_VERIFY.json", {1: read(GEN / folder / expression)}
            )
        )
    return out


FIRST_OCCURRENCE_TYPES = [
    "ConditionEra",
    "ConditionOccurrence",
    "DeviceExposure",
    "DrugEra",
    "DrugExposure",
    "Measurement",
    "Observation",
    "ProcedureOccurrence",
    "Specimen",
    "VisitOccurrence",
    "PayerPlanPeriod",
]

SINGLE = [
    ("censorWindow", "censorWindow", "censorWindowExpression.json"),
    ("eraDupes", "eraDupes", "eraDupesExpression.json"),
    ("censorEvent", "exits", "censorEventExpression.json"),
    ("continuousExposureCensor", "exits", "continuousExposureCensorExpression.json"),
    ("fixedOffset", "exits", "fixedOffsetExpression.json"),
    ("fixedOffsetCensor", "exits", "fixedOffsetCensorExpression.json"),
    ("simpleInclusionRule", "inclusionRules", "simpleInclusionRule.json"),
    ("mixedConceptsets", "mixedConceptsets", "mixedConceptsetsExpression.json"),
]


def _condition_status(status: list[Json] | None) -> Json:
    criteria: Json = {} if status is None else {"ConditionStatus": status}
    return {
        "ConceptSets": [],
        "PrimaryCriteria": {
            "CriteriaList": [{"ConditionOccurrence": criteria}],
            "ObservationWindow": {"PriorDays": 0, "PostDays": 0},
        },
    }


# Attributes of allCriteria that name CDM 5.0 columns gone from CDM 5.4 (rejected by the compiler, by design).
CDM50_ONLY = ("EffectiveDrugDose", "DoseUnit")


def _strip(node: Any) -> None:
    if isinstance(node, dict):
        for key in CDM50_ONLY:
            node.pop(key, None)
        for v in node.values():
            _strip(v)
    elif isinstance(node, list):
        for v in node:
            _strip(v)


def _all_criteria_54() -> Json:
    expr = read(GEN / "allCriteria/allCriteriaExpression.json")
    _strip(expr)
    return expr


def expected(case: Case) -> dict[str, list[Json]]:
    """VERIFY rows per table (`cohort`, `cohort_inclusion_result`, ...), schema prefix removed."""
    if case.verify is None:
        return {}
    return {k.split(".", 1)[1]: v for k, v in read(GEN / case.verify).items()}
