"""A compact FHIR R4 model: element types, type hierarchy and the JSON element wrapper.

There is no FHIR model package here, so types come from (in order) the choice-element suffix
(``valueQuantity`` -> Quantity), ``resourceType``, a hand-made table of the data types and the
commonly queried resource elements, and finally the shape of the JSON value. Backbone elements
are keyed by their path (``Questionnaire.item``) and report themselves as BackboneElement.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Any


def _words(text: str) -> frozenset[str]:
    """A name set written as whitespace-separated words (compact tables)."""
    return frozenset(text.split())


__all__ = [
    "FHIR_PRIMITIVES",
    "Element",
    "child_type",
    "fhir_is_subtype",
    "is_known_fhir_type",
    "type_name_of",
]

FHIR_PRIMITIVES: frozenset[str] = _words(
    """
    boolean integer string decimal uri url canonical base64Binary instant date dateTime time code oid id
    markdown unsignedInt positiveInt uuid xhtml integer64
    """
)
_PRIMITIVE_PARENT = {
    "code": "string", "id": "string", "markdown": "string", "url": "uri", "canonical": "uri",
    "oid": "uri", "uuid": "uri", "unsignedInt": "integer", "positiveInt": "integer",
}  # fmt: skip
_QUANTITY_KINDS = frozenset({"Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})
DATATYPES: frozenset[str] = (
    _words(
        """
    Element BackboneElement Extension Coding CodeableConcept Quantity Money Range Ratio Period Reference
    Identifier HumanName Address ContactPoint Attachment Annotation Narrative Meta SampledData Signature
    Timing Dosage ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact
    TriggerDefinition UsageContext MarketingStatus Population ProdCharacteristic ProductShelfLife
    SubstanceAmount ElementDefinition
    """
    )
    | _QUANTITY_KINDS
)
_NO_DOMAIN = frozenset({"Bundle", "Parameters", "Binary"})
RESOURCE_TYPES: frozenset[str] = _words(
    """
    Resource DomainResource Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
    AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle
    CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition Composition
    ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse
    DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
    DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest
    EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario
    ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse
    HealthcareService ImagingStudy Immunization ImmunizationEvaluation ImmunizationRecommendation
    ImplementationGuide InsurancePlan Invoice Library Linkage List Location Measure MeasureReport Media
    Medication MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
    MedicationStatement MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication
    MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction
    MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
    MedicinalProductUndesirableEffect MessageDefinition MessageHeader MolecularSequence NamingSystem
    NutritionOrder Observation ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition
    Practitioner PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
    RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
    RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition
    StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer
    SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification
    SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
    VerificationResult VisionPrescription
    """
)

# type -> element -> type. "x[x]" marks a choice element (type from the JSON suffix).
_TABLE_TEXT = """
Element: id=string extension=Extension
BackboneElement: modifierExtension=Extension
Resource: id=id meta=Meta implicitRules=uri language=code
DomainResource: text=Narrative contained=Resource extension=Extension modifierExtension=Extension
Extension: url=uri
Coding: system=uri version=string code=code display=string userSelected=boolean
CodeableConcept: coding=Coding text=string
Quantity: value=decimal comparator=code unit=string system=uri code=code
Money: value=decimal currency=code
Range: low=Quantity high=Quantity
Ratio: numerator=Quantity denominator=Quantity
Period: start=dateTime end=dateTime
Reference: reference=string type=uri identifier=Identifier display=string
Identifier: use=code type=CodeableConcept system=uri value=string period=Period assigner=Reference
HumanName: use=code text=string family=string given=string prefix=string suffix=string period=Period
Address: use=code type=code text=string line=string city=string district=string state=string postalCode=string \
country=string period=Period
ContactPoint: system=code value=string use=code rank=positiveInt period=Period
Attachment: contentType=code language=code data=base64Binary url=url size=unsignedInt hash=base64Binary \
title=string creation=dateTime
Annotation: time=dateTime text=markdown
Narrative: status=code div=xhtml
Meta: versionId=id lastUpdated=instant source=uri profile=canonical security=Coding tag=Coding
Signature: type=Coding when=instant who=Reference onBehalfOf=Reference targetFormat=code sigFormat=code \
data=base64Binary
Timing: event=dateTime repeat=Timing.repeat code=CodeableConcept
Timing.repeat: count=positiveInt countMax=positiveInt duration=decimal durationMax=decimal durationUnit=code \
frequency=positiveInt frequencyMax=positiveInt period=decimal periodMax=decimal periodUnit=code dayOfWeek=code \
timeOfDay=time when=code offset=unsignedInt
Dosage: sequence=integer text=string additionalInstruction=CodeableConcept patientInstruction=string timing=Timing \
site=CodeableConcept route=CodeableConcept method=CodeableConcept doseAndRate=Dosage.doseAndRate \
maxDosePerPeriod=Ratio maxDosePerAdministration=Quantity maxDosePerLifetime=Quantity
Dosage.doseAndRate: type=CodeableConcept
ContactDetail: name=string telecom=ContactPoint
UsageContext: code=Coding
Patient: identifier=Identifier active=boolean name=HumanName telecom=ContactPoint gender=code birthDate=date \
address=Address maritalStatus=CodeableConcept photo=Attachment contact=Patient.contact \
communication=Patient.communication generalPractitioner=Reference managingOrganization=Reference link=Patient.link
Patient.contact: relationship=CodeableConcept name=HumanName telecom=ContactPoint address=Address gender=code \
organization=Reference period=Period
Patient.communication: language=CodeableConcept preferred=boolean
Patient.link: other=Reference type=code
Observation: identifier=Identifier basedOn=Reference partOf=Reference status=code category=CodeableConcept \
code=CodeableConcept subject=Reference focus=Reference encounter=Reference issued=instant performer=Reference \
dataAbsentReason=CodeableConcept interpretation=CodeableConcept note=Annotation bodySite=CodeableConcept \
method=CodeableConcept specimen=Reference device=Reference referenceRange=Observation.referenceRange \
hasMember=Reference derivedFrom=Reference component=Observation.component
Observation.referenceRange: low=Quantity high=Quantity type=CodeableConcept appliesTo=CodeableConcept age=Range \
text=string
Observation.component: code=CodeableConcept dataAbsentReason=CodeableConcept interpretation=CodeableConcept \
referenceRange=Observation.referenceRange
Questionnaire: url=uri identifier=Identifier version=string name=string title=string derivedFrom=canonical \
status=code experimental=boolean subjectType=code date=dateTime publisher=string contact=ContactDetail \
description=markdown useContext=UsageContext jurisdiction=CodeableConcept purpose=markdown copyright=markdown \
approvalDate=date lastReviewDate=date effectivePeriod=Period code=Coding item=Questionnaire.item
Questionnaire.item: linkId=string definition=uri code=Coding prefix=string text=string type=code \
enableWhen=Questionnaire.item.enableWhen enableBehavior=code required=boolean repeats=boolean readOnly=boolean \
maxLength=integer answerValueSet=canonical answerOption=Questionnaire.item.answerOption \
initial=Questionnaire.item.initial item=Questionnaire.item
Questionnaire.item.enableWhen: question=string operator=code
Questionnaire.item.answerOption: initialSelected=boolean
ValueSet: url=uri identifier=Identifier version=string name=string title=string status=code experimental=boolean \
date=dateTime publisher=string contact=ContactDetail description=markdown useContext=UsageContext \
jurisdiction=CodeableConcept immutable=boolean purpose=markdown copyright=markdown compose=ValueSet.compose \
expansion=ValueSet.expansion
ValueSet.compose: lockedDate=date inactive=boolean include=ValueSet.compose.include exclude=ValueSet.compose.include
ValueSet.compose.include: system=uri version=string concept=ValueSet.compose.include.concept \
filter=ValueSet.compose.include.filter valueSet=canonical
ValueSet.compose.include.concept: code=code display=string
ValueSet.compose.include.filter: property=code op=code value=string
ValueSet.expansion: identifier=uri timestamp=dateTime total=integer offset=integer \
parameter=ValueSet.expansion.parameter contains=ValueSet.expansion.contains
ValueSet.expansion.parameter: name=string
ValueSet.expansion.contains: system=uri abstract=boolean inactive=boolean version=string code=code display=string \
contains=ValueSet.expansion.contains
CodeSystem: url=uri identifier=Identifier version=string name=string title=string status=code \
experimental=boolean date=dateTime publisher=string description=markdown caseSensitive=boolean valueSet=canonical \
hierarchyMeaning=code compositional=boolean versionNeeded=boolean content=code supplements=canonical \
count=unsignedInt concept=CodeSystem.concept
CodeSystem.concept: code=code display=string definition=string concept=CodeSystem.concept
Parameters: parameter=Parameters.parameter
Parameters.parameter: name=string resource=Resource part=Parameters.parameter
Bundle: identifier=Identifier type=code timestamp=instant total=unsignedInt link=Bundle.link entry=Bundle.entry \
signature=Signature
Bundle.link: relation=string url=uri
Bundle.entry: link=Bundle.link fullUrl=uri resource=Resource
Encounter: identifier=Identifier status=code class=Coding type=CodeableConcept subject=Reference period=Period \
reasonCode=CodeableConcept serviceProvider=Reference
Condition: identifier=Identifier clinicalStatus=CodeableConcept verificationStatus=CodeableConcept \
category=CodeableConcept severity=CodeableConcept code=CodeableConcept subject=Reference encounter=Reference \
recordedDate=dateTime
Procedure: identifier=Identifier status=code code=CodeableConcept subject=Reference encounter=Reference
MedicationRequest: identifier=Identifier status=code intent=code subject=Reference authoredOn=dateTime \
dosageInstruction=Dosage
Appointment: identifier=Identifier status=code start=instant end=instant minutesDuration=positiveInt \
created=dateTime comment=string description=string
"""

_TABLE: dict[str, dict[str, str]] = {}
for _line in _TABLE_TEXT.replace("\\\n", "").strip().splitlines():
    _owner, _, _rest = _line.partition(":")
    _TABLE[_owner.strip()] = dict(pair.split("=", 1) for pair in _rest.split())
for _kind in _QUANTITY_KINDS:
    _TABLE[_kind] = _TABLE["Quantity"]

_DATE_SHAPE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
_CODE_NAMES = frozenset({"status", "gender", "use", "language", "intent", "priority", "mode", "kind"})
_URI_NAMES = frozenset({"url", "system", "profile"})


@cache
def _r4() -> Any:
    """The generated R4 element model (carelake.fhir.model), or None; the hand tables are the fallback."""
    try:
        from carelake.fhir.model import r4
    except ImportError:  # pragma: no cover - the model ships with carelake
        return None
    try:
        return r4()
    except (OSError, ValueError):  # pragma: no cover
        return None


def _model_parents(type_key: str) -> list[str] | None:
    model = _r4()
    if model is None or type_key in FHIR_PRIMITIVES or not model.knows(type_key):
        return None
    chain = [type_key]
    for ancestor in ("BackboneElement", "Quantity", "DomainResource", "Resource", "Element"):
        if ancestor != type_key and model.is_subtype(type_key, ancestor):
            chain.append(ancestor)
    return chain


def parent_types(type_key: str) -> list[str]:
    """The type itself and its ancestors (type keys), most specific first."""
    found = _model_parents(type_key)
    if found is not None:
        return found
    if "." in type_key:
        return [type_key, "BackboneElement", "Element"]
    if type_key in FHIR_PRIMITIVES:
        out = [type_key]
        while out[-1] in _PRIMITIVE_PARENT:
            out.append(_PRIMITIVE_PARENT[out[-1]])
        return [*out, "Element"]
    if type_key in _QUANTITY_KINDS:
        return [type_key, "Quantity", "Element"]
    if type_key in RESOURCE_TYPES:
        if type_key in ("Resource", "DomainResource"):
            return ["DomainResource", "Resource"] if type_key == "DomainResource" else ["Resource"]
        return [type_key, "Resource"] if type_key in _NO_DOMAIN else [type_key, "DomainResource", "Resource"]
    return [type_key] if type_key == "Element" else [type_key, "Element"]


def type_name_of(type_key: str) -> str:
    """The FHIR type name reported by ``type()`` (backbone elements report BackboneElement)."""
    if "." in type_key:
        return "BackboneElement"
    parents = parent_types(type_key)
    if len(parents) > 1 and parents[1] == "BackboneElement":
        return "BackboneElement"
    return type_key


def fhir_is_subtype(type_key: str, wanted: str) -> bool:
    return wanted in parent_types(type_key)


def is_known_fhir_type(name: str) -> bool:
    return name in FHIR_PRIMITIVES or name in DATATYPES or name in RESOURCE_TYPES


def suffix_type(suffix: str) -> str | None:
    """Type named by a choice suffix (``DateTime`` -> dateTime), None if it names no type."""
    if not suffix or not suffix[0].isupper():
        return None
    lowered = suffix[0].lower() + suffix[1:]
    if lowered in FHIR_PRIMITIVES:
        return lowered
    if suffix in DATATYPES:
        return suffix
    return None


def _lookup(type_key: str | None, name: str) -> str | None:
    if type_key is None:
        return None
    model = _r4()
    if model is not None:
        info = model.element(type_key, name)
        if info is not None:
            return str(info.type)
    for owner in parent_types(type_key):
        found = _TABLE.get(owner)
        if found is not None and name in found:
            return found[name]
    return None


_TYPE_CACHE: dict[tuple[str | None, str], str | None] = {}


def table_type(parent_type: str | None, name: str) -> str | None:
    """Tabled type of child ``name`` (cached; the set of pairs is bounded by the model)."""
    key = (parent_type, name)
    try:
        return _TYPE_CACHE[key]
    except KeyError:
        found = _TYPE_CACHE[key] = _lookup(parent_type, name)
        return found


def child_type(parent_type: str | None, name: str, value: object) -> str | None:
    """Type key of child ``name`` of an element of ``parent_type`` whose JSON value is ``value``."""
    if type(value) is dict and "resourceType" in value:
        return str(value["resourceType"])
    known = table_type(parent_type, name)
    if known is not None:
        return known
    return _guess(parent_type, name, value)


def _guess(parent_type: str | None, name: str, value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "decimal"
    if isinstance(value, str):
        if name in _CODE_NAMES:
            return "code"
        if name in _URI_NAMES:
            return "uri"
        if _DATE_SHAPE.fullmatch(value):
            return "date"
        if _DATETIME_SHAPE.fullmatch(value):
            return "dateTime"
        return "string"
    if isinstance(value, dict):
        return _guess_complex(parent_type, name, value)
    return None


def _guess_complex(parent_type: str | None, name: str, value: dict[str, Any]) -> str:
    keys = value.keys()
    if "coding" in keys:
        return "CodeableConcept"
    if "reference" in keys:
        return "Reference"
    if name == "extension" or name == "modifierExtension":
        return "Extension"
    if name == "period" or (("start" in keys or "end" in keys) and keys <= {"start", "end", "id", "extension"}):
        return "Period"
    if "value" in keys and ("unit" in keys or "code" in keys or "system" in keys):
        return "Quantity"
    if "family" in keys or "given" in keys:
        return "HumanName"
    if name in ("identifier",):
        return "Identifier"
    if "system" in keys and "code" in keys:
        return "Coding"
    if parent_type is not None:
        return f"{parent_type}.{name}"
    return "Element"


class Element:
    """A node of the resource tree with its FHIR type.

    ``value`` is the JSON value (dict for complex types, Python scalar for primitives, None for
    a primitive that only has extensions); ``ext`` is the ``_name`` companion of a primitive.
    """

    __slots__ = ("ext", "type", "value")

    def __init__(self, value: Any, type_key: str | None, ext: dict[str, Any] | None = None) -> None:
        self.value = value
        self.type = type_key
        self.ext = ext

    def __repr__(self) -> str:
        return f"Element({self.value!r}, {self.type!r})"

    @property
    def is_primitive(self) -> bool:
        return not isinstance(self.value, dict)


# Data types whose element table above is complete, so strict mode may reject unknown names.
_COMPLETE = (
    _words(
        """
    HumanName Coding CodeableConcept Quantity Period Reference Identifier ContactPoint Address Narrative
    Meta Range Ratio Money
    """
    )
    | _QUANTITY_KINDS
)


@cache
def known_elements(type_key: str | None) -> frozenset[str] | None:
    """FHIRPath names of a type's elements (choices by base name), None when the model cannot say."""
    if type_key is None:
        return None
    model = _r4()
    if model is not None and type_key not in FHIR_PRIMITIVES and model.knows(type_key):
        elements = model.elements(type_key)
        return frozenset(info.choice or name for name, info in elements.items())
    if type_key not in _COMPLETE:
        return None
    names: set[str] = set()
    for owner in parent_types(type_key):
        names.update(_TABLE.get(owner, {}))
    return frozenset(names)
