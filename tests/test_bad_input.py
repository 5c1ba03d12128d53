"""Bad input: a one-line error naming file, line, column and value, and the warehouse left as it was."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from carelake.errors import DuplicateKeyError, InputError
from carelake.omop.info import describe
from carelake.omop.loader import load_files
from carelake.warehouse import Warehouse
from engines import engines

ENGINES = engines(spark="never: the reader refuses these before the warehouse; Spark's rollback has its own test")

PERSON_HEADER = (
    "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,race_concept_id,"
    "ethnicity_concept_id,location_id,provider_id,care_site_id,person_source_value,gender_source_value,"
    "gender_source_concept_id,race_source_value,race_source_concept_id,ethnicity_source_value,"
    "ethnicity_source_concept_id"
)


def person(pid: int, year: str = "1990", birth: str = "1990-04-09 00:00:00") -> str:
    return f"{pid},8507,{year},4,9,{birth},8527,38003564,,,,src-{pid},M,0,white,0,nonhispanic,0"


GOOD_PERIOD = (
    "observation_period_id,person_id,observation_period_start_date,observation_period_end_date,"
    "period_type_concept_id\n1,1,2000-01-01,2020-01-01,32817\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def people(*rows: str) -> str:
    return "\n".join([PERSON_HEADER, *rows]) + "\n"


@pytest.fixture
def loaded(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    """A warehouse holding 3 persons, so a failed load can be seen to change nothing."""
    load_files(warehouse, [write(tmp_path / "good", "person.csv", people(person(1), person(2), person(3)))])
    return warehouse


def snapshot(wh: Warehouse) -> dict[str, int]:
    return describe(wh).tables


Case = tuple[str, Callable[[Path], None], dict[str, object], str]

CASES: list[Case] = [
    (
        "unknown table",
        lambda d: write(d, "persons.csv", people(person(9))),
        {"file_endswith": "persons.csv", "line": None},
        "unknown table 'persons'",
    ),
    (
        "unknown column",
        lambda d: write(d, "person.csv", people(person(9)).replace("gender_source_value", "gender_text")),
        {"line": 1, "column": "gender_text"},
        "unknown column for CDM 5.4 table person",
    ),
    (
        "unparsable integer",
        lambda d: write(d, "person.csv", people(person(9), person(10, year="19x0"))),
        {"line": 3, "column": "year_of_birth", "value": "19x0"},
        "not a whole number",
    ),
    (
        "unparsable date",
        lambda d: write(d, "observation_period.csv", GOOD_PERIOD.replace("2020-01-01", "2020-13-45")),
        {"line": 2, "column": "observation_period_end_date", "value": "2020-13-45"},
        "not a date",
    ),
    (
        "unparsable datetime",
        lambda d: write(d, "person.csv", people(person(9, birth="last spring"))),
        {"line": 2, "column": "birth_datetime", "value": "last spring"},
        "not a date-time",
    ),
    (
        "required field empty",
        lambda d: write(d, "person.csv", people(person(9), person(10, year=""))),
        {"line": 3, "column": "year_of_birth", "value": ""},
        "required field is empty",
    ),
    (
        "duplicate primary key",
        lambda d: write(d, "person.csv", people(person(9), person(10), person(9))),
        {"line": 4, "column": "person_id", "value": "9", "type": DuplicateKeyError},
        "duplicate primary key person_id=9 (first at line 2)",
    ),
    (
        "truncated file",
        lambda d: write(d, "person.csv", people(person(9), person(10))[:-40]),
        {"line": 3},
        "has 8 fields where the header has 18",
    ),
    (
        "truncated inside a quoted value",
        lambda d: write(d, "person.csv", people(person(9)) + '10,8507,1990,4,9,,8527,38003564,,,,"src-10'),
        {"line": 3},
        "never closed",
    ),
    (
        "wrong delimiter",
        lambda d: write(d, "person.csv", people(person(9)).replace(",", ";")),
        {"line": 1},
        "header has a single column separated by ';'",
    ),
    (
        "delimiter changes within the file",
        lambda d: write(d, "person.csv", people(person(9), person(10).replace(",", "\t"))),
        {"line": 3},
        "has 1 fields where the header has 18",
    ),
    (
        "empty file",
        lambda d: write(d, "person.csv", ""),
        {"line": 1},
        "file is empty",
    ),
    (
        "truncated gzip",
        lambda d: (
            d.mkdir(exist_ok=True),
            (d / "person.csv.gz").write_bytes(
                gzip.compress(people(*(person(i) for i in range(9, 400))).encode())[:900]
            ),
        ),
        {},
        "truncated",
    ),
]


@pytest.mark.parametrize("backend", ENGINES)
@pytest.mark.parametrize(("case", "make", "where", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_and_changes_nothing(
    loaded: Warehouse,
    tmp_path: Path,
    case: str,
    make: Callable[[Path], None],
    where: dict[str, object],
    reason: str,
) -> None:
    before = snapshot(loaded)
    folder = tmp_path / "bad"
    write(folder, "observation_period.csv", GOOD_PERIOD.replace("\n1,1,", "\n7,1,"))  # a good file beside it
    make(folder)
    with pytest.raises(InputError) as info:
        load_files(loaded, [folder])
    err = info.value
    assert isinstance(err, where.get("type", InputError))  # type: ignore[arg-type]
    assert reason in str(err)
    assert "\n" not in str(err)
    assert str(folder) in err.file
    for attr in ("line", "column", "value"):
        if attr in where:
            assert getattr(err, attr) == where[attr], attr
    if "file_endswith" in where:
        assert err.file.endswith(str(where["file_endswith"]))
    assert err.hint
    assert snapshot(loaded) == before


@pytest.mark.spark
@pytest.mark.parametrize("backend", ["spark"])
def test_failed_spark_load_leaves_tables_as_they_were(loaded: Warehouse, tmp_path: Path) -> None:
    before = snapshot(loaded)
    folder = tmp_path / "bad"
    write(folder, "observation_period.csv", GOOD_PERIOD)
    write(folder, "person.csv", people(person(9), person(10), person(9)))
    with pytest.raises(DuplicateKeyError, match="duplicate primary key person_id=9"):
        load_files(loaded, [folder])
    assert snapshot(loaded) == before


@pytest.mark.parametrize("backend", ENGINES)
def test_skip_sets_bad_rows_aside_and_accounts_for_them(loaded: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write(
        folder,
        "person.csv",
        people(
            person(10),
            person(11, year="nineteen"),
            person(12),
            "13,8507,1990",
            person(14, birth="soon"),
            person(15),
        ),
    )
    rejects = tmp_path / "out" / "rejects.csv"
    report = load_files(loaded, [folder], on_error="skip", rejects_path=rejects)
    (f,) = [f for f in report.files if f.table == "person"]
    assert (f.read, f.loaded, f.rejected) == (6, 3, 3)
    assert report.read == report.loaded + report.rejected
    with rejects.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["column"], r["value"]) for r in rows] == [
        ("3", "year_of_birth", "nineteen"),
        ("5", "", ""),
        ("6", "birth_datetime", "soon"),
    ]
    assert "has 3 fields where the header has 18" in rows[1]["reason"]
    ids = loaded.fetch_arrow(f"SELECT person_id FROM {loaded.cdm_schema}.person ORDER BY 1").column(0).to_pylist()
    assert ids == [1, 2, 3, 10, 12, 15]


def test_too_long_text_and_unknown_file_skipped(loaded: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "long"
    write(folder, "person.csv", people(person(20).replace(",M,", "," + "M" * 60 + ",")))
    before = snapshot(loaded)
    with pytest.raises(InputError, match="longer than 50 characters") as info:
        load_files(loaded, [folder], strict=True)
    assert info.value.column == "gender_source_value"
    assert info.value.line == 2
    assert snapshot(loaded) == before
    write(folder, "notes.txt", "not a table\n")
    write(folder, "person.csv", people(person(20)))
    report = load_files(loaded, [folder], on_error="skip")
    assert [f.status for f in report.files if f.file.endswith("notes.txt")] == ["skipped"]
