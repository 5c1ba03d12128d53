"""One spec per Circe criteria type: which CDM table, which columns mean start/end/concept, and every attribute.

The SQL builder (`criteria.py`) is generic; what differs between ConditionOccurrence and DrugEra lives here as
data, mirroring circe-be's per-type *SqlBuilder classes. `t` is the CDM table's alias in the inner query, `C` the
inner query's alias in the outer one (where filters apply), `P`/`V`/`PR`/`CS` the optional person, visit,
provider and care-site joins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from carelake.omop.domains import event_domain

__all__ = ["DOMAINS", "Attr", "AttrKind", "CriteriaType", "JoinKind"]

AttrKind = Literal["date", "int", "dec", "text", "concepts", "codeset", "bool", "user_period"]
JoinKind = Literal["person", "visit", "provider", "care_site"]


@dataclass(frozen=True)
class Attr:
    """How one attribute filters: its kind, the SQL it tests, raw columns it needs carried through, its join."""

    kind: AttrKind
    expr: str
    raw: tuple[str, ...] = ()
    join: JoinKind | None = None
    exclude_flag: str | None = None


@dataclass(frozen=True)
class CriteriaType:
    """One Circe criteria type (ConditionOccurrence, DrugEra, ...): its table, columns, order and attributes."""

    kind: str
    table: str
    id_col: str
    concept_col: str | None
    start: str
    end: str
    visit: str | None = "visit_occurrence_id"
    order: tuple[str, ...] = ()
    source_attr: str | None = None
    source_col: str | None = None
    attrs: Mapping[str, Attr] = field(default_factory=dict)
    # False where circe has no CodesetId (ObservationPeriod, PayerPlanPeriod filter by attributes only).
    has_codeset: bool = True
    # A FROM item replacing the plain table (LocationRegion reads person + location + observation_period).
    source_sql: str | None = None


def _concepts(col: str, exclude: str | None = None) -> Attr:
    return Attr("concepts", f"C.{col}", raw=(col,), exclude_flag=exclude)


def _plus1(col: str) -> str:
    return f"CAST(t.{col} + INTERVAL '1' DAY AS DATE)"


_AGE = Attr("int", "YEAR(C.start_date) - P.year_of_birth", join="person")
_GENDER = Attr("concepts", "P.gender_concept_id", join="person")
_START = Attr("date", "C.start_date")
_END = Attr("date", "C.end_date")
_PROVIDER = Attr("concepts", "PR.specialty_concept_id", raw=("provider_id",), join="provider")
_VISIT = Attr("concepts", "V.visit_concept_id", join="visit")
_LENGTH = Attr("int", "DATE_DIFF('day', C.start_date, C.end_date)")

_EVENT_COMMON: dict[str, Attr] = {
    "OccurrenceStartDate": _START,
    "OccurrenceEndDate": _END,
    "Age": _AGE,
    "Gender": _GENDER,
    "ProviderSpecialty": _PROVIDER,
    "VisitType": _VISIT,
}
_ERA_COMMON: dict[str, Attr] = {
    "EraStartDate": _START,
    "EraEndDate": _END,
    "EraLength": _LENGTH,
    "AgeAtStart": _AGE,
    "AgeAtEnd": Attr("int", "YEAR(C.end_date) - P.year_of_birth", join="person"),
    "Gender": _GENDER,
}
_PERIOD_COMMON: dict[str, Attr] = {
    "PeriodStartDate": _START,
    "PeriodEndDate": _END,
    "PeriodLength": _LENGTH,
    "AgeAtStart": _AGE,
    "AgeAtEnd": Attr("int", "YEAR(C.end_date) - P.year_of_birth", join="person"),
    "Gender": _GENDER,
    "UserDefinedPeriod": Attr("user_period", ""),
}


def _columns(table: str) -> tuple[str, str, str]:
    """An event table's name, id and concept columns, from omop/domains.py."""
    d = event_domain(table)
    return d.table, d.id, d.concept


def _codeset(col: str) -> Attr:
    return Attr("codeset", f"C.{col}", raw=(col,))


DOMAINS: dict[str, CriteriaType] = {
    d.kind: d
    for d in (
        CriteriaType(
            "ConditionOccurrence",
            *_columns("condition_occurrence"),
            "t.condition_start_date",
            f"COALESCE(t.condition_end_date, {_plus1('condition_start_date')})",
            order=("condition_start_date", "condition_occurrence_id"),
            source_attr="ConditionSourceConcept",
            source_col=event_domain("condition_occurrence").source_concept,
            attrs={
                **_EVENT_COMMON,
                "ConditionType": _concepts("condition_type_concept_id", "ConditionTypeExclude"),
                "ConditionStatus": _concepts("condition_status_concept_id"),
                "StopReason": Attr("text", "C.stop_reason", raw=("stop_reason",)),
            },
        ),
        CriteriaType(
            "DrugExposure",
            *_columns("drug_exposure"),
            "t.drug_exposure_start_date",
            "COALESCE(t.drug_exposure_end_date, CAST(t.drug_exposure_start_date + t.days_supply * INTERVAL '1' DAY "
            f"AS DATE), {_plus1('drug_exposure_start_date')})",
            order=("drug_exposure_start_date", "drug_exposure_id"),
            source_attr="DrugSourceConcept",
            source_col=event_domain("drug_exposure").source_concept,
            attrs={
                **_EVENT_COMMON,
                "DrugType": _concepts("drug_type_concept_id", "DrugTypeExclude"),
                "StopReason": Attr("text", "C.stop_reason", raw=("stop_reason",)),
                "Refills": Attr("int", "C.refills", raw=("refills",)),
                "Quantity": Attr("dec", "C.quantity", raw=("quantity",)),
                "DaysSupply": Attr("int", "C.days_supply", raw=("days_supply",)),
                "RouteConcept": _concepts("route_concept_id"),
                "LotNumber": Attr("text", "C.lot_number", raw=("lot_number",)),
            },
        ),
        CriteriaType(
            "ProcedureOccurrence",
            *_columns("procedure_occurrence"),
            "t.procedure_date",
            _plus1("procedure_date"),
            order=("procedure_date", "procedure_occurrence_id"),
            source_attr="ProcedureSourceConcept",
            source_col=event_domain("procedure_occurrence").source_concept,
            attrs={
                **_EVENT_COMMON,
                "ProcedureType": _concepts("procedure_type_concept_id", "ProcedureTypeExclude"),
                "Modifier": _concepts("modifier_concept_id"),
                "Quantity": Attr("int", "C.quantity", raw=("quantity",)),
            },
        ),
        CriteriaType(
            "Measurement",
            *_columns("measurement"),
            "t.measurement_date",
            _plus1("measurement_date"),
            order=("measurement_date", "measurement_id"),
            source_attr="MeasurementSourceConcept",
            source_col=event_domain("measurement").source_concept,
            attrs={
                **_EVENT_COMMON,
                "MeasurementType": _concepts("measurement_type_concept_id", "MeasurementTypeExclude"),
                "Operator": _concepts("operator_concept_id"),
                "ValueAsNumber": Attr("dec", "C.value_as_number", raw=("value_as_number",)),
                "ValueAsConcept": _concepts("value_as_concept_id"),
                "Unit": _concepts("unit_concept_id"),
                "RangeLow": Attr("dec", "C.range_low", raw=("range_low",)),
                "RangeHigh": Attr("dec", "C.range_high", raw=("range_high",)),
                "RangeLowRatio": Attr(
                    "dec", "(C.value_as_number / NULLIF(C.range_low, 0))", raw=("value_as_number", "range_low")
                ),
                "RangeHighRatio": Attr(
                    "dec", "(C.value_as_number / NULLIF(C.range_high, 0))", raw=("value_as_number", "range_high")
                ),
                "Abnormal": Attr(
                    "bool",
                    "(C.value_as_number < C.range_low OR C.value_as_number > C.range_high "
                    "OR C.value_as_concept_id IN (4155142, 4155143))",
                    raw=("value_as_number", "range_low", "range_high", "value_as_concept_id"),
                ),
            },
        ),
        CriteriaType(
            "Observation",
            *_columns("observation"),
            "t.observation_date",
            _plus1("observation_date"),
            order=("observation_date", "observation_id"),
            source_attr="ObservationSourceConcept",
            source_col=event_domain("observation").source_concept,
            attrs={
                **_EVENT_COMMON,
                "ObservationType": _concepts("observation_type_concept_id", "ObservationTypeExclude"),
                "ValueAsNumber": Attr("dec", "C.value_as_number", raw=("value_as_number",)),
                "ValueAsString": Attr("text", "C.value_as_string", raw=("value_as_string",)),
                "ValueAsConcept": _concepts("value_as_concept_id"),
                "Qualifier": _concepts("qualifier_concept_id"),
                "Unit": _concepts("unit_concept_id"),
            },
        ),
        CriteriaType(
            "VisitOccurrence",
            *_columns("visit_occurrence"),
            "t.visit_start_date",
            "t.visit_end_date",
            order=("visit_start_date", "visit_occurrence_id"),
            source_attr="VisitSourceConcept",
            source_col=event_domain("visit_occurrence").source_concept,
            attrs={
                **{k: v for k, v in _EVENT_COMMON.items() if k != "VisitType"},
                "VisitType": _concepts("visit_type_concept_id", "VisitTypeExclude"),
                "VisitLength": _LENGTH,
                "PlaceOfService": Attr(
                    "concepts", "CS.place_of_service_concept_id", raw=("care_site_id",), join="care_site"
                ),
            },
        ),
        CriteriaType(
            "VisitDetail",
            *_columns("visit_detail"),
            "t.visit_detail_start_date",
            "t.visit_detail_end_date",
            order=("visit_detail_start_date", "visit_detail_id"),
            source_attr="VisitDetailSourceConcept",
            source_col=event_domain("visit_detail").source_concept,
            attrs={
                "VisitDetailStartDate": _START,
                "VisitDetailEndDate": _END,
                "VisitDetailType": _concepts("visit_detail_type_concept_id", "VisitDetailTypeExclude"),
                "VisitDetailLength": _LENGTH,
                "Age": _AGE,
                "Gender": _GENDER,
                "ProviderSpecialty": _PROVIDER,
                "PlaceOfService": Attr(
                    "concepts", "CS.place_of_service_concept_id", raw=("care_site_id",), join="care_site"
                ),
            },
        ),
        CriteriaType(
            "DeviceExposure",
            *_columns("device_exposure"),
            "t.device_exposure_start_date",
            f"COALESCE(t.device_exposure_end_date, {_plus1('device_exposure_start_date')})",
            order=("device_exposure_start_date", "device_exposure_id"),
            source_attr="DeviceSourceConcept",
            source_col=event_domain("device_exposure").source_concept,
            attrs={
                **_EVENT_COMMON,
                "DeviceType": _concepts("device_type_concept_id", "DeviceTypeExclude"),
                "UniqueDeviceId": Attr("text", "C.unique_device_id", raw=("unique_device_id",)),
                "Quantity": Attr("int", "C.quantity", raw=("quantity",)),
            },
        ),
        CriteriaType(
            "Specimen",
            *_columns("specimen"),
            "t.specimen_date",
            _plus1("specimen_date"),
            visit=None,
            order=("specimen_date", "specimen_id"),
            attrs={
                "OccurrenceStartDate": _START,
                "Age": _AGE,
                "Gender": _GENDER,
                "SpecimenType": _concepts("specimen_type_concept_id", "SpecimenTypeExclude"),
                "Quantity": Attr("dec", "C.quantity", raw=("quantity",)),
                "Unit": _concepts("unit_concept_id"),
                "AnatomicSite": _concepts("anatomic_site_concept_id"),
                "DiseaseStatus": _concepts("disease_status_concept_id"),
                "SourceId": Attr("text", "C.specimen_source_id", raw=("specimen_source_id",)),
            },
        ),
        CriteriaType(
            "Death",
            *_columns("death"),
            "t.death_date",
            _plus1("death_date"),
            visit=None,
            order=("death_date",),
            source_attr="DeathSourceConcept",
            source_col=event_domain("death").source_concept,
            attrs={
                "OccurrenceStartDate": _START,
                "Age": _AGE,
                "Gender": _GENDER,
                "DeathType": _concepts("death_type_concept_id", "DeathTypeExclude"),
            },
        ),
        CriteriaType(
            "ObservationPeriod",
            "observation_period",
            "observation_period_id",
            "period_type_concept_id",
            "t.observation_period_start_date",
            "t.observation_period_end_date",
            visit=None,
            order=("observation_period_start_date",),
            has_codeset=False,
            attrs={**_PERIOD_COMMON, "PeriodType": _concepts("period_type_concept_id", "PeriodTypeExclude")},
        ),
        CriteriaType(
            "PayerPlanPeriod",
            "payer_plan_period",
            "payer_plan_period_id",
            "payer_concept_id",
            "t.payer_plan_period_start_date",
            "t.payer_plan_period_end_date",
            visit=None,
            order=("payer_plan_period_start_date",),
            has_codeset=False,
            attrs={
                **_PERIOD_COMMON,
                "PayerConcept": _codeset("payer_concept_id"),
                "PlanConcept": _codeset("plan_concept_id"),
                "SponsorConcept": _codeset("sponsor_concept_id"),
                "StopReasonConcept": _codeset("stop_reason_concept_id"),
                "PayerSourceConcept": _codeset("payer_source_concept_id"),
                "PlanSourceConcept": _codeset("plan_source_concept_id"),
                "SponsorSourceConcept": _codeset("sponsor_source_concept_id"),
                "StopReasonSourceConcept": _codeset("stop_reason_source_concept_id"),
            },
        ),
        CriteriaType(
            "ConditionEra",
            "condition_era",
            "condition_era_id",
            "condition_concept_id",
            "t.condition_era_start_date",
            "t.condition_era_end_date",
            visit=None,
            order=("condition_era_start_date", "condition_era_id"),
            attrs={
                **_ERA_COMMON,
                "OccurrenceCount": Attr("int", "C.condition_occurrence_count", raw=("condition_occurrence_count",)),
            },
        ),
        CriteriaType(
            "DrugEra",
            "drug_era",
            "drug_era_id",
            "drug_concept_id",
            "t.drug_era_start_date",
            "t.drug_era_end_date",
            visit=None,
            order=("drug_era_start_date", "drug_era_id"),
            attrs={
                **_ERA_COMMON,
                "OccurrenceCount": Attr("int", "C.drug_exposure_count", raw=("drug_exposure_count",)),
                "GapDays": Attr("int", "C.gap_days", raw=("gap_days",)),
            },
        ),
        CriteriaType(
            "DoseEra",
            "dose_era",
            "dose_era_id",
            "drug_concept_id",
            "t.dose_era_start_date",
            "t.dose_era_end_date",
            visit=None,
            order=("dose_era_start_date", "dose_era_id"),
            attrs={
                **_ERA_COMMON,
                "DoseValue": Attr("dec", "C.dose_value", raw=("dose_value",)),
                "Unit": _concepts("unit_concept_id"),
            },
        ),
        CriteriaType(
            "LocationRegion",
            "location",
            "location_id",
            "region_concept_id",
            "t.start_date",
            "t.end_date",
            visit=None,
            order=("start_date",),
            attrs={"StartDate": _START, "EndDate": _END},
            # CDM 5.4 has no location_history: a person's location holds for each of their observation periods.
            source_sql=(
                "(SELECT p.person_id, l.location_id, l.region_concept_id, op.observation_period_start_date AS "
                "start_date, op.observation_period_end_date AS end_date FROM {cdm}.person p JOIN {cdm}.location l "
                "ON p.location_id = l.location_id JOIN {cdm}.observation_period op ON op.person_id = p.person_id)"
            ),
        ),
    )
}
