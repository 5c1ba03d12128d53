"""A chunk's persons and events as FHIR R4 resources in US Core shapes, one NDJSON line each.

The JSON is assembled by Arrow string kernels from literals and columns (no per-resource Python), so a million
persons stay fast. Ids are the OMOP ids with a letter: Patient p<person_id>, Encounter v<visit_occurrence_id>, ...
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from carelake.synth.codes import CONDITIONS, DRUGS, MEASURES, PROCEDURES, SYSTEMS, VISITS
from carelake.synth.events import COND_KEYS, DRUG_KEYS, MEAS_KEYS, PROC_KEYS, Events
from carelake.synth.model import State
from carelake.synth.omop import Ids
from carelake.synth.output import join, strings

__all__ = ["RESOURCE_TYPES", "fhir_lines"]

RESOURCE_TYPES = ("Patient", "Encounter", "Condition", "Observation", "MedicationRequest", "Procedure")
I64 = NDArray[np.int64]
_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-"
_OMB = "urn:oid:2.16.840.1.113883.6.238"
_RACE = [("2106-3", "White"), ("2054-5", "Black or African American"), ("2028-9", "Asian"), ("", "Unknown")]
_CATEGORY = {
    "hba1c": "laboratory",
    "egfr": "laboratory",
    "phq9": "survey",
    "gad7": "survey",
    "steps": "activity",
    "sleep": "activity",
}


def _s(values: I64) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _d(days: I64) -> pa.Array:
    return pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string())


def _ref(prefix: str, resource: str, ids: I64, present: NDArray[np.bool_] | None = None) -> pa.Array:
    """`,"encounter":{"reference":"Encounter/v1"}` or "" where there is none."""
    text = join(
        f',"{prefix}":{{"reference":"{resource}/',
        resource[0].lower() if resource != "Encounter" else "v",
        _s(ids),
        '"}',
    )
    if present is None:
        return text
    return pc.if_else(pa.array(present), text, "")


def _coding(system: str, code: str, display: str) -> str:
    return f'{{"system":"{SYSTEMS[system]}","code":"{code}","display":"{display}"}}'


def fhir_lines(s: State, ev: Events, pid: I64, ids: Ids) -> dict[str, pa.Array]:
    """One string array of NDJSON lines per resource type."""
    out: dict[str, pa.Array] = {}
    race = [
        f',{{"url":"{_CORE}race","extension":[{{"url":"ombCategory","valueCoding":{{"system":"{_OMB}","code":"{c}",'
        f'"display":"{t}"}}}},{{"url":"text","valueString":"{t}"}}]}}'
        if c
        else ""
        for c, t in _RACE
    ]
    eth = [
        f',{{"url":"{_CORE}ethnicity","extension":[{{"url":"ombCategory","valueCoding":{{"system":"{_OMB}",'
        f'"code":"{c}","display":"{t}"}}}},{{"url":"text","valueString":"{t}"}}]}}'
        for c, t in (("2186-5", "Not Hispanic or Latino"), ("2135-2", "Hispanic or Latino"))
    ]
    dead = s.death >= 0
    deceased = pc.if_else(pa.array(dead), join(',"deceasedDateTime":"', _d(np.maximum(s.death, 0)), '"'), "")
    # The race extension list starts with a comma; the first element is the ethnicity one, always present.
    out["Patient"] = join(
        '{"resourceType":"Patient","id":"p',
        _s(pid),
        '","extension":[',
        pc.utf8_slice_codeunits(strings(eth, s.hispanic.astype(np.int64)), 1),
        strings(race, s.race),
        '],"gender":"',
        strings(["male", "female"], s.female.astype(np.int64)),
        '","birthDate":"',
        _d(s.birth),
        '"',
        deceased,
        "}",
    )
    vid = ids.chunk["visit"]
    classes = [
        f'{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"{v[1]}"}}' for v in VISITS.values()
    ]
    out["Encounter"] = join(
        '{"resourceType":"Encounter","id":"v',
        _s(vid),
        '","status":"finished","class":',
        strings(classes, ev.visit_kind),
        _ref("subject", "Patient", pid[ev.visit_person]),
        ',"period":{"start":"',
        _d(ev.visit_start),
        '","end":"',
        _d(ev.visit_end),
        '"}}',
    )
    conds = [CONDITIONS[k] for k in COND_KEYS]
    codes = [
        f'{{"coding":[{_coding("SNOMED", c.code, c.display)},{_coding("ICD10CM", c.icd10, c.display)}],'
        f'"text":"{c.display}"}}'
        for c in conds
    ]
    has_visit = ev.cond_visit >= 0
    out["Condition"] = join(
        '{"resourceType":"Condition","id":"c',
        _s(ids.chunk["condition"]),
        '","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical",'
        '"code":"active"}]},"verificationStatus":{"coding":[{"system":'
        '"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"category":[{"coding":[{'
        '"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis"}]}],"code":',
        strings(codes, ev.cond_key),
        _ref("subject", "Patient", pid[ev.cond_person]),
        _ref("encounter", "Encounter", vid[np.maximum(ev.cond_visit, 0)] if len(vid) else ev.cond_visit, has_visit),
        ',"onsetDateTime":"',
        _d(ev.cond_date),
        '","recordedDate":"',
        _d(ev.cond_date),
        '"}',
    )
    meas = [MEASURES[k] for k in MEAS_KEYS]
    cat = [
        '[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"'
        + _CATEGORY.get(k, "vital-signs")
        + '"}]}]'
        for k in MEAS_KEYS
    ]
    mcodes = [f'{{"coding":[{_coding("LOINC", c.code, c.display)}],"text":"{c.display}"}}' for c in meas]
    units = [f',"unit":"{c.unit}","system":"{SYSTEMS["UCUM"]}","code":"{c.unit}"}}' for c in meas]
    has_visit = ev.meas_visit >= 0
    out["Observation"] = join(
        '{"resourceType":"Observation","id":"m',
        _s(ids.chunk["measurement"]),
        '","status":"final","category":',
        strings(cat, ev.meas_key),
        ',"code":',
        strings(mcodes, ev.meas_key),
        _ref("subject", "Patient", pid[ev.meas_person]),
        _ref("encounter", "Encounter", vid[np.maximum(ev.meas_visit, 0)] if len(vid) else ev.meas_visit, has_visit),
        ',"effectiveDateTime":"',
        _d(ev.meas_date),
        '","valueQuantity":{"value":',
        pc.cast(pa.array(ev.meas_value), pa.string()),
        strings(units, ev.meas_key),
        "}",
    )
    drugs = [DRUGS[k] for k in DRUG_KEYS]
    dcodes = [f'{{"coding":[{_coding("RxNorm", c.code, c.display)}],"text":"{c.display}"}}' for c in drugs]
    has_visit = ev.drug_visit >= 0
    out["MedicationRequest"] = join(
        '{"resourceType":"MedicationRequest","id":"d',
        _s(ids.chunk["drug"]),
        '","status":"active","intent":"order","medicationCodeableConcept":',
        strings(dcodes, ev.drug_key),
        _ref("subject", "Patient", pid[ev.drug_person]),
        _ref("encounter", "Encounter", vid[np.maximum(ev.drug_visit, 0)] if len(vid) else ev.drug_visit, has_visit),
        ',"authoredOn":"',
        _d(ev.drug_date),
        '","dispenseRequest":{"expectedSupplyDuration":{"value":90,"unit":"days",'
        '"system":"http://unitsofmeasure.org","code":"d"}}}',
    )
    pcodes = [
        f'{{"coding":[{_coding("SNOMED", c.code, c.display)}],"text":"{c.display}"}}'
        for c in (PROCEDURES[k] for k in PROC_KEYS)
    ]
    has_visit = ev.proc_visit >= 0
    out["Procedure"] = join(
        '{"resourceType":"Procedure","id":"r',
        _s(ids.chunk["procedure"]),
        '","status":"completed","code":',
        strings(pcodes, ev.proc_key),
        _ref("subject", "Patient", pid[ev.proc_person]),
        _ref("encounter", "Encounter", vid[np.maximum(ev.proc_visit, 0)] if len(vid) else ev.proc_visit, has_visit),
        ',"performedDateTime":"',
        _d(ev.proc_date),
        '"}',
    )
    return out
