"""Circe JSON → `model.CohortExpression`, validating as it goes so every error names its place in the JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from carelake.cohorts.domains import DOMAINS, CriteriaType
from carelake.cohorts.errors import CohortDefinitionError
from carelake.cohorts.model import (
    CohortExpression,
    ConceptList,
    ConceptSet,
    ConceptSetItem,
    ConceptSetSelection,
    CorrelatedCriteria,
    Criteria,
    CriteriaGroup,
    CustomEraStrategy,
    DateAdjustment,
    DateOffsetStrategy,
    DateRange,
    DemographicCriteria,
    EndStrategy,
    FilterValue,
    GroupType,
    InclusionRule,
    LimitType,
    NumericRange,
    Occurrence,
    PrimaryCriteria,
    TextFilter,
    UserDefinedPeriod,
    Window,
    WindowBound,
)
from carelake.limits import depth_problem

__all__ = ["load_definition", "parse_expression"]

_RANGE_OPS = {"lt", "lte", "eq", "!eq", "gt", "gte", "bt", "!bt"}
_TEXT_OPS = {"startsWith", "contains", "endsWith", "!startsWith", "!contains", "!endsWith"}
_GROUP_TYPES = {"ALL", "ANY", "AT_LEAST", "AT_MOST"}
_UNSUPPORTED = {
    "EffectiveDrugDose": "drug_exposure.effective_drug_dose is not in OMOP CDM 5.4",
    "DoseUnit": "drug_exposure.dose_unit_concept_id is not in OMOP CDM 5.4",
    "PlaceOfServiceLocation": "location-based place of service needs location_history, not in OMOP CDM 5.4",
    "PlaceOfServiceDistance": "distance filters need geocoded locations",
}


def load_definition(definition: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    """A definition as a dict: given as one already, as JSON text, or as a path to a .json file."""
    if isinstance(definition, Mapping):
        return definition
    if isinstance(definition, Path) or (isinstance(definition, str) and not definition.lstrip().startswith("{")):
        path = Path(definition)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CohortDefinitionError(str(path), f"cannot read the cohort definition: {exc}") from exc
    else:
        text = definition
    if (problem := depth_problem(text)) is not None:
        raise CohortDefinitionError("", problem)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CohortDefinitionError("", f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(data, dict):
        raise CohortDefinitionError("", "a cohort definition must be a JSON object")
    return cast(dict[str, Any], data)


def _fail(path: str, reason: str) -> CohortDefinitionError:
    return CohortDefinitionError(path, reason)


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, f"expected a list, got {type(value).__name__}")
    return value


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _fail(path, f"expected an integer, got {value!r}")
    return int(value)


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    return None if value is None else _int(value, f"{path}.{key}")


def _bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(path, f"expected true or false, got {value!r}")
    return value


def _date(value: Any, path: str) -> str:
    text = str(value)
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise _fail(path, f"expected a date YYYY-MM-DD, got {value!r}")
    return f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}"


def _concept_id(value: Any, path: str) -> int:
    obj = _obj(value, path)
    cid = obj.get("CONCEPT_ID", obj.get("conceptId"))
    if cid is None:
        raise _fail(path, "concept has no CONCEPT_ID")
    return _int(cid, f"{path}.CONCEPT_ID")


def _concepts(value: Any, path: str) -> tuple[int, ...]:
    return tuple(_concept_id(c, f"{path}[{i}]") for i, c in enumerate(_list(value, path)))


def _limit(value: Any, path: str) -> LimitType:
    if value is None:
        return "First"
    text = str(_obj(value, path).get("Type") or "First").capitalize()
    if text not in ("All", "First", "Last"):
        raise _fail(f"{path}.Type", f"unknown limit {text!r} (expected All, First or Last)")
    return cast(LimitType, text)


def _date_range(value: Any, path: str) -> DateRange:
    obj = _obj(value, path)
    op = obj.get("Op")
    if op not in _RANGE_OPS:
        raise _fail(f"{path}.Op", f"unknown operator {op!r}")
    if obj.get("Value") is None:
        raise _fail(f"{path}.Value", "a date range needs a Value")
    extent = None
    if str(op).endswith("bt"):
        if obj.get("Extent") is None:
            raise _fail(f"{path}.Extent", "a 'between' range needs an Extent")
        extent = _date(obj["Extent"], f"{path}.Extent")
    return DateRange(str(op), _date(obj["Value"], f"{path}.Value"), extent)


def _numeric_range(value: Any, path: str) -> NumericRange:
    obj = _obj(value, path)
    op = obj.get("Op")
    if op not in _RANGE_OPS:
        raise _fail(f"{path}.Op", f"unknown operator {op!r}")

    def num(key: str) -> float:
        v = obj.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _fail(f"{path}.{key}", f"expected a number, got {v!r}")
        return float(v)

    return NumericRange(str(op), num("Value"), num("Extent") if str(op).endswith("bt") else None)


def _text_filter(value: Any, path: str) -> TextFilter:
    obj = _obj(value, path)
    op = obj.get("Op") or "contains"
    if op not in _TEXT_OPS:
        raise _fail(f"{path}.Op", f"unknown text operator {op!r}")
    return TextFilter(str(op), str(obj.get("Text") or ""))


def _window(value: Any, path: str) -> Window:
    obj = _obj(value, path)

    def bound(key: str) -> WindowBound:
        b = obj.get(key)
        if b is None:
            raise _fail(f"{path}.{key}", "a window needs both Start and End")
        b = _obj(b, f"{path}.{key}")
        if b.get("Coeff") is None:
            raise _fail(f"{path}.{key}.Coeff", "window bound has no Coeff (-1 = before, 1 = after)")
        coeff = _int(b["Coeff"], f"{path}.{key}.Coeff")
        if coeff not in (-1, 1):
            raise _fail(f"{path}.{key}.Coeff", f"Coeff must be -1 or 1, got {coeff}")
        return WindowBound(coeff, _opt_int(b, "Days", f"{path}.{key}"))

    use_index_end = obj.get("UseIndexEnd")
    use_event_end = obj.get("UseEventEnd")
    return Window(
        bound("Start"),
        bound("End"),
        None if use_index_end is None else _bool(use_index_end, f"{path}.UseIndexEnd"),
        None if use_event_end is None else _bool(use_event_end, f"{path}.UseEventEnd"),
    )


class _Parser:
    """Keeps the defined codeset ids so every reference can be checked where it is made."""

    def __init__(self, codesets: set[int]) -> None:
        self.codesets = codesets

    def codeset(self, value: Any, path: str) -> int:
        cid = _int(value, path)
        if cid not in self.codesets:
            raise _fail(path, f"codeset {cid} is not defined")
        return cid

    def criteria(self, value: Any, path: str) -> Criteria:
        obj = _obj(value, path)
        if len(obj) != 1:
            raise _fail(path, f"expected exactly one criteria type, got {sorted(obj) or 'none'}")
        kind, body = next(iter(obj.items()))
        domain = DOMAINS.get(kind)
        if domain is None:
            raise _fail(f"{path}.{kind}", f"unknown criteria type {kind!r} (known: {', '.join(sorted(DOMAINS))})")
        return self._criteria_body(domain, _obj(body, f"{path}.{kind}"), f"{path}.{kind}")

    def _criteria_body(self, domain: CriteriaType, body: Mapping[str, Any], path: str) -> Criteria:
        codeset_id = None
        if body.get("CodesetId") is not None:
            if not domain.has_codeset:
                raise _fail(f"{path}.CodesetId", f"{domain.kind} has no CodesetId (filter it by its attributes)")
            codeset_id = self.codeset(body["CodesetId"], f"{path}.CodesetId")
        correlated = None
        if body.get("CorrelatedCriteria") is not None:
            correlated = self.group(body["CorrelatedCriteria"], f"{path}.CorrelatedCriteria")
        adjustment = None
        if body.get("DateAdjustment") is not None:
            adj = _obj(body["DateAdjustment"], f"{path}.DateAdjustment")
            adjustment = DateAdjustment(
                str(adj.get("StartWith") or "START_DATE"),
                _opt_int(adj, "StartOffset", f"{path}.DateAdjustment") or 0,
                str(adj.get("EndWith") or "END_DATE"),
                _opt_int(adj, "EndOffset", f"{path}.DateAdjustment") or 0,
            )
        flags = {a.exclude_flag for a in domain.attrs.values() if a.exclude_flag}
        filters: list[tuple[str, FilterValue]] = []
        for key, value in body.items():
            where = f"{path}.{key}"
            if key in ("CodesetId", "First", "CorrelatedCriteria", "DateAdjustment") or key in flags:
                continue
            if value is None:
                continue
            if key in _UNSUPPORTED:
                raise _fail(where, f"not supported: {_UNSUPPORTED[key]}")
            if key == domain.source_attr:
                filters.append((key, ConceptSetSelection(self.codeset(value, where))))
                continue
            base = key[:-2] if key.endswith("CS") and key[:-2] in domain.attrs else key
            attr = domain.attrs.get(base)
            if attr is None:
                raise _fail(where, f"unknown attribute {key!r} for {domain.kind}")
            if base != key:
                sel = _obj(value, where)
                filters.append(
                    (
                        base,
                        ConceptSetSelection(
                            self.codeset(sel.get("CodesetId"), f"{where}.CodesetId"),
                            _bool(sel.get("IsExclusion"), f"{where}.IsExclusion"),
                        ),
                    )
                )
                continue
            filters.append((key, self._filter_value(attr.kind, value, where, body, attr.exclude_flag)))
        return Criteria(
            kind=domain.kind,
            path=path,
            codeset_id=codeset_id,
            first=_bool(body.get("First"), f"{path}.First"),
            filters=tuple(filters),
            correlated=correlated,
            date_adjustment=adjustment,
        )

    def _filter_value(
        self, kind: str, value: Any, where: str, body: Mapping[str, Any], flag: str | None
    ) -> FilterValue:
        if kind == "date":
            return _date_range(value, where)
        if kind in ("int", "dec"):
            return _numeric_range(value, where)
        if kind == "text":
            return _text_filter(value, where)
        if kind == "concepts":
            exclude = _bool(body.get(flag), f"{where[: where.rfind('.')]}.{flag}") if flag else False
            return ConceptList(_concepts(value, where), exclude)
        if kind == "codeset":
            return ConceptSetSelection(self.codeset(value, where))
        if kind == "bool":
            return _bool(value, where)
        period = _obj(value, where)
        return UserDefinedPeriod(
            None if period.get("StartDate") is None else _date(period["StartDate"], f"{where}.StartDate"),
            None if period.get("EndDate") is None else _date(period["EndDate"], f"{where}.EndDate"),
        )

    def correlated(self, value: Any, path: str) -> CorrelatedCriteria:
        obj = _obj(value, path)
        if obj.get("Criteria") is None:
            raise _fail(f"{path}.Criteria", "correlated criteria has no Criteria")
        if obj.get("StartWindow") is None:
            raise _fail(f"{path}.StartWindow", "correlated criteria has no StartWindow")
        occ = _obj(obj.get("Occurrence"), f"{path}.Occurrence")
        occ_type = _int(occ.get("Type"), f"{path}.Occurrence.Type")
        if occ_type not in (0, 1, 2):
            raise _fail(f"{path}.Occurrence.Type", f"must be 0 (exactly), 1 (at most) or 2 (at least), got {occ_type}")
        count = _int(occ.get("Count"), f"{path}.Occurrence.Count")
        if count < 0:
            raise _fail(f"{path}.Occurrence.Count", f"must not be negative, got {count}")
        count_column = occ.get("CountColumn")
        if count_column is not None and count_column not in ("DOMAIN_CONCEPT", "START_DATE", "VISIT_ID"):
            raise _fail(f"{path}.Occurrence.CountColumn", f"unknown count column {count_column!r}")
        return CorrelatedCriteria(
            criteria=self.criteria(obj["Criteria"], f"{path}.Criteria"),
            start_window=_window(obj["StartWindow"], f"{path}.StartWindow"),
            occurrence=Occurrence(
                occ_type, count, _bool(occ.get("IsDistinct"), f"{path}.Occurrence.IsDistinct"), count_column
            ),
            end_window=None if obj.get("EndWindow") is None else _window(obj["EndWindow"], f"{path}.EndWindow"),
            restrict_visit=_bool(obj.get("RestrictVisit"), f"{path}.RestrictVisit"),
            ignore_observation_period=_bool(obj.get("IgnoreObservationPeriod"), f"{path}.IgnoreObservationPeriod"),
        )

    def demographic(self, value: Any, path: str) -> DemographicCriteria:
        obj = _obj(value, path)
        return DemographicCriteria(
            age=None if obj.get("Age") is None else _numeric_range(obj["Age"], f"{path}.Age"),
            gender=_concepts(obj.get("Gender"), f"{path}.Gender"),
            race=_concepts(obj.get("Race"), f"{path}.Race"),
            ethnicity=_concepts(obj.get("Ethnicity"), f"{path}.Ethnicity"),
            occurrence_start_date=None
            if obj.get("OccurrenceStartDate") is None
            else _date_range(obj["OccurrenceStartDate"], f"{path}.OccurrenceStartDate"),
            occurrence_end_date=None
            if obj.get("OccurrenceEndDate") is None
            else _date_range(obj["OccurrenceEndDate"], f"{path}.OccurrenceEndDate"),
        )

    def group(self, value: Any, path: str) -> CriteriaGroup:
        obj = _obj(value, path)
        gtype = str(obj.get("Type") or "ALL").upper()
        if gtype not in _GROUP_TYPES:
            raise _fail(f"{path}.Type", f"unknown group type {gtype!r} (expected ALL, ANY, AT_LEAST or AT_MOST)")
        count = _opt_int(obj, "Count", path)
        if gtype.startswith("AT_") and count is None:
            raise _fail(f"{path}.Count", f"a {gtype} group needs a Count")
        return CriteriaGroup(
            type=cast(GroupType, gtype),
            count=count,
            criteria_list=tuple(
                self.correlated(c, f"{path}.CriteriaList[{i}]")
                for i, c in enumerate(_list(obj.get("CriteriaList"), f"{path}.CriteriaList"))
            ),
            demographic_criteria_list=tuple(
                self.demographic(c, f"{path}.DemographicCriteriaList[{i}]")
                for i, c in enumerate(_list(obj.get("DemographicCriteriaList"), f"{path}.DemographicCriteriaList"))
            ),
            groups=tuple(
                self.group(g, f"{path}.Groups[{i}]") for i, g in enumerate(_list(obj.get("Groups"), f"{path}.Groups"))
            ),
        )

    def end_strategy(self, value: Any, path: str) -> EndStrategy | None:
        obj = _obj(value, path)
        if obj.get("DateOffset") is not None:
            do = _obj(obj["DateOffset"], f"{path}.DateOffset")
            field = do.get("DateField") or "StartDate"
            if field not in ("StartDate", "EndDate"):
                raise _fail(f"{path}.DateOffset.DateField", f"must be StartDate or EndDate, got {field!r}")
            offset = _opt_int(do, "Offset", f"{path}.DateOffset") or 0
            return DateOffsetStrategy(cast(Literal["StartDate", "EndDate"], field), offset)
        if obj.get("CustomEra") is not None:
            ce = _obj(obj["CustomEra"], f"{path}.CustomEra")
            if ce.get("DrugCodesetId") is None:
                raise _fail(f"{path}.CustomEra.DrugCodesetId", "a custom era exit needs a drug codeset")
            return CustomEraStrategy(
                self.codeset(ce["DrugCodesetId"], f"{path}.CustomEra.DrugCodesetId"),
                _opt_int(ce, "GapDays", f"{path}.CustomEra") or 0,
                _opt_int(ce, "Offset", f"{path}.CustomEra") or 0,
                _opt_int(ce, "DaysSupplyOverride", f"{path}.CustomEra"),
            )
        if obj:
            raise _fail(path, f"unknown end strategy {sorted(obj)} (expected DateOffset or CustomEra)")
        return None


def _concept_sets(value: Any) -> tuple[ConceptSet, ...]:
    out: list[ConceptSet] = []
    seen: set[int] = set()
    for i, cs in enumerate(_list(value, "ConceptSets")):
        path = f"ConceptSets[{i}]"
        obj = _obj(cs, path)
        cid = _int(obj.get("id"), f"{path}.id")
        if cid in seen:
            raise _fail(f"{path}.id", f"codeset {cid} is defined twice")
        seen.add(cid)
        expression = _obj(obj.get("expression") or {}, f"{path}.expression")
        items = []
        for j, item in enumerate(_list(expression.get("items"), f"{path}.expression.items")):
            ipath = f"{path}.expression.items[{j}]"
            it = _obj(item, ipath)
            items.append(
                ConceptSetItem(
                    _concept_id(it.get("concept"), f"{ipath}.concept"),
                    _bool(it.get("includeDescendants"), f"{ipath}.includeDescendants"),
                    _bool(it.get("includeMapped"), f"{ipath}.includeMapped"),
                    _bool(it.get("isExcluded"), f"{ipath}.isExcluded"),
                )
            )
        out.append(ConceptSet(cid, str(obj.get("name") or ""), tuple(items)))
    return tuple(out)


def parse_expression(definition: Mapping[str, Any] | str | Path) -> CohortExpression:
    """Parse and validate a Circe cohort expression; raises `CohortDefinitionError` naming the JSON path."""
    data = load_definition(definition)
    # Some exports wrap the expression: {"expression": {...}} (WebAPI) — accept both.
    if "PrimaryCriteria" not in data and isinstance(data.get("expression"), Mapping):
        data = data["expression"]
    concept_sets = _concept_sets(data.get("ConceptSets"))
    p = _Parser({cs.id for cs in concept_sets})
    pc = _obj(data.get("PrimaryCriteria"), "PrimaryCriteria")
    criteria = tuple(
        p.criteria(c, f"PrimaryCriteria.CriteriaList[{i}]")
        for i, c in enumerate(_list(pc.get("CriteriaList"), "PrimaryCriteria.CriteriaList"))
    )
    window = _obj(pc.get("ObservationWindow") or {}, "PrimaryCriteria.ObservationWindow")
    primary = PrimaryCriteria(
        criteria,
        _opt_int(window, "PriorDays", "PrimaryCriteria.ObservationWindow") or 0,
        _opt_int(window, "PostDays", "PrimaryCriteria.ObservationWindow") or 0,
        _limit(pc.get("PrimaryCriteriaLimit"), "PrimaryCriteria.PrimaryCriteriaLimit"),
    )
    additional = None
    if data.get("AdditionalCriteria") is not None:
        additional = p.group(data["AdditionalCriteria"], "AdditionalCriteria")
    rules = []
    for i, rule in enumerate(_list(data.get("InclusionRules"), "InclusionRules")):
        obj = _obj(rule, f"InclusionRules[{i}]")
        if obj.get("expression") is None:
            raise _fail(f"InclusionRules[{i}].expression", "inclusion rule has no expression")
        rules.append(
            InclusionRule(
                str(obj.get("name") or f"rule {i}"),
                p.group(obj["expression"], f"InclusionRules[{i}].expression"),
                None if obj.get("description") is None else str(obj["description"]),
            )
        )
    censoring = tuple(
        p.criteria(c, f"CensoringCriteria[{i}]")
        for i, c in enumerate(_list(data.get("CensoringCriteria"), "CensoringCriteria"))
    )
    collapse = _obj(data.get("CollapseSettings") or {}, "CollapseSettings")
    ctype = collapse.get("CollapseType") or "ERA"
    if ctype != "ERA":
        raise _fail("CollapseSettings.CollapseType", f"unknown collapse type {ctype!r} (only ERA exists)")
    censor_window = _obj(data.get("CensorWindow") or {}, "CensorWindow")
    return CohortExpression(
        concept_sets=concept_sets,
        primary_criteria=primary,
        additional_criteria=additional,
        qualified_limit=_limit(data.get("QualifiedLimit"), "QualifiedLimit"),
        expression_limit=_limit(data.get("ExpressionLimit"), "ExpressionLimit"),
        inclusion_rules=tuple(rules),
        end_strategy=None if data.get("EndStrategy") is None else p.end_strategy(data["EndStrategy"], "EndStrategy"),
        censoring_criteria=censoring,
        era_pad=_opt_int(collapse, "EraPad", "CollapseSettings") or 0,
        censor_start=None
        if not censor_window.get("StartDate")
        else _date(censor_window["StartDate"], "CensorWindow.StartDate"),
        censor_end=None
        if not censor_window.get("EndDate")
        else _date(censor_window["EndDate"], "CensorWindow.EndDate"),
        title=None if data.get("Title") is None else str(data["Title"]),
    )
