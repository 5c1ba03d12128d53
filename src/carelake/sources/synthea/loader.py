"""Synthea CSV → the harmonization stage tables, then the shared FHIR → OMOP SQL.

`SyntheaCsv` is a harmonization `Source`. Each CSV row is put in the shape the FHIR views produce (patients.csv →
`patient`, encounters.csv → `encounter`, conditions.csv → `condition`, ...), translating Synthea's CSV spellings to
the FHIR codes Synthea's own FHIR exporter writes (GENDER M → male, RACE white → OMB 2106-3, ENCOUNTERCLASS
wellness → AMB, ...); a column a file has nothing for is NULL (the stage declares every column, from the views).
From there the path is the FHIR one, so a patient exported both ways gets the same OMOP rows. Accounting is per CSV
file, labelled with the FHIR resource type it becomes.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from carelake.errors import InputError
from carelake.harmonize import HarmonizeReport, Stage, harmonize
from carelake.warehouse import Warehouse

log = logging.getLogger(__name__)

__all__ = ["SyntheaCsv", "load_synthea_csv"]

_GENDER = {"M": "male", "F": "female"}
_RACE = {"white": "2106-3", "black": "2054-5", "asian": "2028-9", "native": "1002-5", "hawaiian": "2076-8"}
_ETHNICITY = {"hispanic": "2135-2", "nonhispanic": "2186-5"}
# ENCOUNTERCLASS → the Encounter.class code Synthea's FHIR exporter writes.
_CLASS = {"ambulatory": "AMB", "wellness": "AMB", "outpatient": "AMB", "urgentcare": "AMB", "emergency": "EMER",
          "inpatient": "IMP", "home": "HH", "hospice": "HH", "snf": "IMP", "virtual": "VR"}  # fmt: skip
_SNOMED = "http://snomed.info/sct"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_CVX = "http://hl7.org/fhir/sid/cvx"
_LOINC = "http://loinc.org"
# allergies.csv SYSTEM (Synthea 3.0+; older exports have no SYSTEM and only SNOMED codes) → code system URI.
_SYSTEM = {"SNOMED-CT": _SNOMED, "SNOMED": _SNOMED, "RxNorm": _RXNORM}
# CSV file → (FHIR resource type it becomes, stage table). Files not listed are reported as skipped.
FILES = {
    "patients.csv": ("Patient", "patient"),
    "encounters.csv": ("Encounter", "encounter"),
    "conditions.csv": ("Condition", "condition"),
    "procedures.csv": ("Procedure", "procedure"),
    "medications.csv": ("MedicationRequest", "medication_request"),
    "immunizations.csv": ("Immunization", "immunization"),
    "observations.csv": ("Observation", "observation"),
    "providers.csv": ("Practitioner", "practitioner"),
    "organizations.csv": ("Organization", "organization"),
    "devices.csv": ("Device", "device"),
    "allergies.csv": ("AllergyIntolerance", "allergy_intolerance"),
}
# Stage tables some CSV files also feed: devices.csv's ENCOUNTER and STOP, which FHIR R4's Device has no place for.
_EXTRA = {"devices.csv": "device_use"}


def _str(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    col = table.column(name).combine_chunks()
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def _map(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    return pa.array([None if v is None else mapping.get(v, v) for v in values.to_pylist()], pa.string())


def _const(table: pa.Table, value: str | None) -> pa.Array:
    return pa.array([value] * table.num_rows, pa.string())


def _key(table: pa.Table, *names: str) -> pa.Array:
    """A row id for files without one: the identifying fields and the CSV line (Synthea repeats identical rows)."""
    parts = [_str(table, n).fill_null("") for n in names]
    lines = pa.array([str(i + 2) for i in range(table.num_rows)], pa.string())
    return pc.binary_join_element_wise(*parts, lines, "|")


def _stage_tables(t: pa.Table, stage: str) -> pa.Table:
    def s(name: str) -> pa.Array:
        return _str(t, name)

    if stage == "patient":
        cols = {"id": s("Id"), "gender": _map(s("GENDER"), _GENDER), "birth_date": s("BIRTHDATE"),
                "deceased_datetime": s("DEATHDATE"), "race_code": _map(s("RACE"), _RACE), "race_text": s("RACE"),
                "ethnicity_code": _map(s("ETHNICITY"), _ETHNICITY), "ethnicity_text": s("ETHNICITY"),
                "address_1": s("ADDRESS"), "city": s("CITY"), "state": s("STATE"), "zip": s("ZIP"),
                "county": s("COUNTY")}  # fmt: skip
    elif stage == "encounter":
        cols = {"id": s("Id"), "patient_id": s("PATIENT"), "class_code": _map(s("ENCOUNTERCLASS"), _CLASS),
                "type_system": _const(t, _SNOMED), "type_code": s("CODE"), "start": s("START"), "end": s("STOP"),
                "status": _const(t, "finished"), "practitioner_id": s("PROVIDER"),
                "organization_id": s("ORGANIZATION")}  # fmt: skip
    elif stage == "condition":
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "START"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": _const(t, _SNOMED), "code": s("CODE"),
                "onset": s("START"), "abatement": s("STOP"),
                "verification": _const(t, "confirmed")}  # fmt: skip
    elif stage == "procedure":
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "DATE", "START"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": _const(t, _SNOMED), "code": s("CODE"),
                "performed": pc.coalesce(s("DATE"), s("START")),
                "period_end": s("STOP"), "status": _const(t, "completed")}  # fmt: skip
    elif stage == "medication_request":
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "START"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": _const(t, _RXNORM), "code": s("CODE"),
                "authored": s("START"), "status": _const(t, "active")}  # fmt: skip
    elif stage == "immunization":
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "DATE"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": _const(t, _CVX), "code": s("CODE"),
                "occurrence": s("DATE"), "status": _const(t, "completed")}  # fmt: skip
    elif stage == "practitioner":
        cols = {"id": s("Id"), "family": s("NAME"), "gender": _map(s("GENDER"), _GENDER)}  # fmt: skip
    elif stage == "device":
        # UDI in Synthea's CSV is the human-readable carrier, "(01)<DI>(11)..."; FHIR's deviceIdentifier is the DI.
        udi = pc.extract_regex(s("UDI"), r"^\(01\)(?P<di>[^(]+)").field("di")
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "START"), "patient_id": s("PATIENT"),
                "code_system": _const(t, _SNOMED), "code": s("CODE"), "start": s("START"),
                "unique_device_id": pc.if_else(pc.is_null(udi), s("UDI"), udi),
                "status": _const(t, "active")}  # fmt: skip
    elif stage == "device_use":
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "START"), "encounter_id": s("ENCOUNTER"),
                "stop": s("STOP")}  # fmt: skip
    elif stage == "allergy_intolerance":
        # As Synthea's FHIR exporter: START is recordedDate. ENCOUNTER gives a visit (the FHIR export has none); STOP
        # has no place in observation.
        system = _map(s("SYSTEM"), _SYSTEM) if "SYSTEM" in t.column_names else _const(t, _SNOMED)
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "START"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": system, "code": s("CODE"),
                "recorded": s("START"), "verification": _const(t, "confirmed")}  # fmt: skip
    elif stage == "organization":
        cols = {"id": s("Id"), "name": s("NAME"), "address_1": s("ADDRESS"), "city": s("CITY"), "state": s("STATE"),
                "zip": s("ZIP"), "latitude": pc.cast(s("LAT"), pa.float64(), safe=False),
                "longitude": pc.cast(s("LON"), pa.float64(), safe=False)}  # fmt: skip
    else:  # observation
        numeric = pc.equal(s("TYPE"), "numeric").fill_null(False)
        value = s("VALUE")
        cols = {"id": _key(t, "PATIENT", "ENCOUNTER", "CODE", "DATE", "VALUE"), "patient_id": s("PATIENT"),
                "encounter_id": s("ENCOUNTER"), "code_system": _const(t, _LOINC), "code": s("CODE"),
                "effective": s("DATE"),
                "status": _const(t, "final"),
                "value_number": pc.if_else(numeric, pc.cast(value, pa.float64(), safe=False), None),
                "value_unit": s("UNITS"),
                "value_string": pc.if_else(numeric, None, value), "category": s("CATEGORY")}  # fmt: skip
    return pa.table(cols)


class SyntheaCsv:
    """A Synthea CSV export folder as a harmonization `Source` (records labelled by the FHIR type they become)."""

    description = "Synthea CSV harmonized by carelake"

    def __init__(self, directory: str | Path) -> None:
        self.folder = Path(directory)
        if not self.folder.is_dir():
            raise InputError("not a folder of Synthea CSV files", file=str(self.folder))
        self.present = {p.name.lower(): p for p in sorted(self.folder.glob("*.csv"))}
        if "patients.csv" not in self.present:
            raise InputError("no patients.csv here", file=str(self.folder), hint="point at Synthea's csv output folder")
        self._rows: Counter[str] = Counter()

    def stage(self, stage: Stage) -> None:
        """Each known file into its stage table, one at a time (a file is read whole, as text)."""
        for name, (label, table) in FILES.items():
            if name in self.present:
                rows = _read_strings(self.present[name])
                self._rows[label] = rows.num_rows
                stage.write(table, _stage_tables(rows, table))
                if name in _EXTRA:
                    stage.write(_EXTRA[name], _stage_tables(rows, _EXTRA[name]))

    def read(self, stage: Stage) -> Counter[str]:
        counts = Counter(self._rows)
        for name, path in self.present.items():
            if name not in FILES:
                counts[name] = _rows(path)
        return counts


def load_synthea_csv(wh: Warehouse, directory: str | Path) -> HarmonizeReport:
    """Load a Synthea CSV export folder into OMOP; return the accounting (labelled by FHIR resource type)."""
    return harmonize(wh, SyntheaCsv(directory))


def _read_strings(path: Path) -> pa.Table:
    """A CSV with every column as text: codes like 0123 and ids must not be read as numbers."""
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    if not header:
        raise InputError("empty CSV file (no header)", file=str(path))
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False)
    try:
        return pacsv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as e:
        raise InputError(f"cannot read as CSV: {e}", file=str(path)) from e


def _rows(path: Path) -> int:
    with path.open("rb") as f:
        return max(sum(1 for _ in f) - 1, 0)
