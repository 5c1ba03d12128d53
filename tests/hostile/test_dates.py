"""Impossible dates: never a silent rollover, never a whole load lost to one record.

Before, `2019-02-29` in an OMOP CSV loaded as 2019-03-01 and `20190230` as 2019-03-02 (Arrow's strptime rolls
over), and one FHIR `birthDate` of `2020-02-30` aborted the whole load with the engine's conversion error.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carelake.errors import InputError
from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.harmonize.dates import DATE_OK, date_reason
from carelake.omop.info import describe
from carelake.omop.loader import load_files
from carelake.sources.synthea import load_synthea_csv
from carelake.warehouse import Warehouse, connect
from engines import engines

READER_ONLY = engines(spark="never: the reader refuses these before the warehouse; Spark's rollback has its own test")
SYNTHEA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir" / "mcode-csv"

PERIOD = (
    "observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id"
)


def periods(*starts: str) -> str:
    return PERIOD + "\n" + "".join(f"{i},{i},{s},2020-12-31,32817\n" for i, s in enumerate(starts, start=1))


@pytest.mark.parametrize("backend", READER_ONLY)
@pytest.mark.parametrize(("value", "line"), [("2019-02-29", 3), ("20190230", 3), ("2019-04-31", 3), ("2021-02-29", 3)])
def test_an_impossible_date_in_omop_csv_is_named_and_loads_nothing(
    warehouse: Warehouse, tmp_path: Path, value: str, line: int
) -> None:
    path = tmp_path / "observation_period.csv"
    path.write_text(periods("2019-02-28", value, "2020-02-29"))
    with pytest.raises(InputError) as e:
        load_files(warehouse, [path])
    assert (e.value.file, e.value.line, e.value.column, e.value.value) == (
        str(path),
        line,
        "observation_period_start_date",
        value,
    )
    assert not any(describe(warehouse).tables.values())


@pytest.mark.parametrize("backend", READER_ONLY)
def test_with_skip_the_impossible_rows_are_set_aside_and_leap_days_load(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "observation_period.csv"
    path.write_text(periods("20190228", "20190230", "20200229", "2019-02-29 00:00:00"))
    rejects = tmp_path / "rejects.csv"
    load_files(warehouse, [path], on_error="skip", rejects_path=rejects)
    rows = warehouse.fetch_arrow(
        f"SELECT person_id, observation_period_start_date AS d FROM {warehouse.cdm_schema}.observation_period "
        "ORDER BY 1"
    ).to_pylist()
    assert rows == [{"person_id": 1, "d": date(2019, 2, 28)}, {"person_id": 3, "d": date(2020, 2, 29)}]
    with rejects.open() as f:
        set_aside = [(r["line"], r["value"]) for r in csv.DictReader(f)]
    assert set_aside == [("3", "20190230"), ("5", "2019-02-29 00:00:00")]


@pytest.mark.parametrize("backend", ["duckdb"])
def test_datetimes_and_parquet_text_are_checked_too(warehouse: Warehouse, tmp_path: Path) -> None:
    header = "person_id,gender_concept_id,year_of_birth,birth_datetime,race_concept_id,ethnicity_concept_id"
    person = tmp_path / "person.csv"
    person.write_text(f"{header}\n1,8507,1990,1990-04-09 00:00:00,0,0\n2,8507,1990,19900228 23:59:60,0,0\n")
    with pytest.raises(InputError) as e:
        load_files(warehouse, [person])
    assert (e.value.line, e.value.column, e.value.value) == (3, "birth_datetime", "19900228 23:59:60")
    parquet = tmp_path / "observation_period.parquet"
    table = pa.table({"observation_period_id": [1, 2], "person_id": [1, 2],
                      "observation_period_start_date": ["2019-01-01", "2019-02-29"],
                      "observation_period_end_date": ["2020-01-01", "2020-01-01"],
                      "period_type_concept_id": [0, 0]})  # fmt: skip
    pq.write_table(table, parquet)
    with pytest.raises(InputError) as e:
        load_files(warehouse, [parquet])
    assert (e.value.column, e.value.value) == ("observation_period_start_date", "2019-02-29")


@pytest.mark.parametrize("backend", ["duckdb"])
def test_vocabulary_dates_are_checked(warehouse: Warehouse, tmp_path: Path) -> None:
    concept = tmp_path / "CONCEPT.csv"
    concept.write_text(
        "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept\tconcept_code\t"
        "valid_start_date\tvalid_end_date\tinvalid_reason\n"
        "1\tA\tCondition\tSNOMED\tClinical Finding\tS\t1\t19700101\t20991231\t\n"
        "2\tB\tCondition\tSNOMED\tClinical Finding\tS\t2\t19700230\t20991231\t\n"
    )
    with pytest.raises(InputError) as e:
        load_files(warehouse, [concept])
    assert (e.value.line, e.value.column, e.value.value) == (3, "valid_start_date", "19700230")


def _resource(kind: str, rid: str, **fields: object) -> str:
    return json.dumps({"resourceType": kind, "id": rid, **fields})


def _fhir(folder: Path) -> Path:
    folder.mkdir()
    patients = [_resource("Patient", f"p{i}", gender="male", birthDate=b)
                for i, b in enumerate(["1970-01-01", "2020-02-30", "1980-02-29", "1981"])]  # fmt: skip
    encounters = [_resource("Encounter", f"e{i}", status="finished", subject={"reference": f"Patient/p{i}"},
                            period={"start": "2019-03-01T10:00:00Z", "end": end})
                  for i, end in enumerate(["2019-03-01T11:00:00Z", "2019-03-01T11:00:00Z", "2019-04-31T11:00:00Z",
                                           "2019-03-01T24:00:00Z"])]  # fmt: skip
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    observations = [_resource("Observation", f"o{i}", status="final", code=code, subject={"reference": "Patient/p0"},
                              effectiveDateTime=when, valueQuantity={"value": 60, "unit": "/min"})
                    for i, when in enumerate(["2019-03-01T10:00:00+01:00", "2019-02-29T10:00:00Z", "2019-13-01",
                                              "2019-03-01T10:00:60Z", "2019-03"])]  # fmt: skip
    for name, rows in (("Patient", patients), ("Encounter", encounters), ("Observation", observations)):
        (folder / f"{name}.ndjson").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("backend", engines())
def test_fhir_records_with_impossible_dates_are_rejected_and_the_rest_loads(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    stage_fhir(warehouse, [_fhir(tmp_path / "fhir")])
    report = harmonize(warehouse)
    for rtype in ("Patient", "Encounter", "Observation"):
        assert report.balanced(rtype), rtype
    assert report.written["Patient"] == {"person": 3}
    assert report.rejected["Patient"] == {
        "birthDate is not a whole date that exists (FHIR form, a real day and time; OMOP needs the day)": 1
    }
    # p1's encounter goes with p1 (not a loaded Patient); p2's ends on April 31, p3's at hour 24.
    assert report.rejected["Encounter"] == {
        "period.end is not a whole date that exists (FHIR form, a real day and time; OMOP needs the day)": 2
    }
    assert report.skipped["Encounter"] == {"subject is not a loaded Patient": 1}
    # February 29 of 2019, month 13, second 60, and a month without its day (OMOP's dates need one).
    assert report.written["Observation"] == {"measurement": 1}
    assert report.rejected["Observation"] == {date_reason("its start or end date"): 4}
    births = warehouse.fetch_arrow(
        f"SELECT person_source_value AS p, year_of_birth AS y, month_of_birth AS m, day_of_birth AS d "
        f"FROM {warehouse.cdm_schema}.person ORDER BY 1"
    ).to_pylist()
    assert births == [{"p": "p0", "y": 1970, "m": 1, "d": 1}, {"p": "p2", "y": 1980, "m": 2, "d": 29},
                      {"p": "p3", "y": 1981, "m": None, "d": None}]  # fmt: skip


@pytest.mark.parametrize("backend", ["duckdb"])
def test_synthea_csv_with_an_impossible_birthdate_loads_the_rest(warehouse: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    shutil.copytree(SYNTHEA, folder)
    patients = (folder / "patients.csv").read_text().splitlines()
    header = patients[0].split(",")
    row = next(csv.reader([patients[1]]))
    row[header.index("BIRTHDATE")] = "2020-02-30"
    extra = list(row)
    extra[header.index("Id")] = "second-patient"
    extra[header.index("BIRTHDATE")] = "1960-05-05"
    with (folder / "patients.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, row, extra])
    report = load_synthea_csv(warehouse, folder)
    assert report.written["Patient"] == {"person": 1}
    assert report.rejected["Patient"] == {
        "birthDate is not a whole date that exists (FHIR form, a real day and time; OMOP needs the day)": 1
    }
    assert report.balanced("Patient")


VALUES = ["2020-02-29", "2019-02-29", "1900-02-29", "2000-02-29", "2019-04-31", "2019-12-31", "2019-00-10", "2019-13",
          "2019", "2019-06", "19", "2019-06-15T23:59:59Z", "2019-06-15T24:00:00Z", "2019-06-15T10:60:00Z",
          "2019-06-15T10:00:60Z", "2019-06-15T10:00:00.123+05:30", "2019-06-15T10:00", "2019-06-15 10:00:00",
          "garbage", "2019-06-15T", "2019-06-15T10:00:00Zjunk", "", "\uff12\uff10\uff11\uff19-01-01"]  # fmt: skip


def _python_says(value: str) -> bool:
    """The reference: Python's calendar on FHIR's forms (partial dates, a time with or without seconds and zone)."""
    if not re.fullmatch(
        r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?", value, re.ASCII
    ):
        return False
    parts = value[:10].split("-")
    try:
        date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
        if len(value) > 10:
            clock = value[11:19] if len(value) >= 19 and value[16] == ":" else value[11:16] + ":00"
            datetime.strptime(clock, "%H:%M:%S")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("backend", engines())
def test_the_date_predicate_agrees_with_python_on_every_engine(warehouse: Warehouse) -> None:
    rows = " UNION ALL ".join(f"SELECT {i} AS i, '{v}' AS v" for i, v in enumerate(VALUES))
    got = warehouse.fetch_arrow(f"SELECT i, {DATE_OK:v} AS ok FROM ({rows}) AS t ORDER BY i").column("ok").to_pylist()
    assert got == [_python_says(v) for v in VALUES]


def test_gzip_vocabulary_helper_is_plain_text(tmp_path: Path) -> None:
    """The fixtures above are plain CSV; a gzipped copy is read the same way (no silent difference by compression)."""
    plain = tmp_path / "observation_period.csv"
    plain.write_text(periods("2019-02-29"))
    packed = tmp_path / "packed" / "observation_period.csv.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    wh = connect("duckdb:///:memory:")
    with pytest.raises(InputError) as e:
        load_files(wh, [packed])
    assert (e.value.line, e.value.value) == (2, "2019-02-29")
