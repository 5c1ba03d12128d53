"""Hostile and malformed input at every door, generated: the outcome is a load or a CarelakeError naming where.

Never a crash, an internal error, a hang, or a stored value that differs from its input. In CI each property runs a
fixed, derandomized set of examples (seconds); `tools/fuzz.py` runs the same properties for minutes with fresh
examples (CARELAKE_FUZZ=long).
"""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from carelake.cohorts import parse_expression
from carelake.config import load_settings
from carelake.errors import CarelakeError, InputError
from carelake.fhir import stage_fhir
from carelake.fhir.fhirpath import parse as parse_fhirpath
from carelake.fhir.view.runner import compile_view, load_view
from carelake.omop.loader import load_files
from carelake.warehouse import connect, parse_url

CIRCE = Path(__file__).resolve().parents[2] / "src/carelake/data/example_study/cohorts/ckd4.json"

settings.register_profile(
    "ci", max_examples=100, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("CARELAKE_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
settings.load_profile(os.environ.get("CARELAKE_FUZZ", "ci"))

# Text as hostile as it comes: every plane, quotes, backslashes, control characters, lone surrogates excluded
# (they cannot be written as UTF-8 at all).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
DATES = st.one_of(
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.from_regex(r"\A[0-9]{8}\Z"),
    TEXT,
)


def _patient() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"resourceType": st.just("Patient"), "id": st.from_regex(r"\A[A-Za-z0-9\-.]{1,20}\Z")},
        optional={"gender": st.sampled_from(["male", "female", "other", "unknown"]), "birthDate": DATES,
                  "active": st.booleans(), "name": st.lists(st.fixed_dictionaries({"family": TEXT}), max_size=2),
                  "extension": st.lists(st.fixed_dictionaries({"url": TEXT, "valueString": TEXT}), max_size=2)},
    )  # fmt: skip


def _mutated(text: str, data: st.DataObject) -> str:
    """A line cut, with a character flipped, or doubled: what a damaged file holds."""
    how = data.draw(st.sampled_from(["keep", "cut", "flip", "double", "deep"]))
    if how == "keep" or not text:
        return text
    at = data.draw(st.integers(0, len(text) - 1))
    if how == "cut":
        return text[:at]
    if how == "flip":
        return text[:at] + data.draw(st.characters(exclude_categories=("Cs",))) + text[at + 1 :]
    if how == "double":
        return text + text
    depth = data.draw(st.integers(90, 20_000))
    return text[:-1] + ', "extension": ' + "[" * depth + "]" * depth + "}"


LINES = st.lists(
    st.one_of(_patient().map(json.dumps), JSON.map(json.dumps), TEXT, st.just("")), min_size=1, max_size=25
)


@given(data=st.data(), lines=LINES)
def test_ndjson_lines_load_as_written_or_are_set_aside(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                                        lines: list[str]) -> None:  # fmt: skip
    lines = [_mutated(line, data) for line in lines]
    folder = tmp_path_factory.mktemp("ndjson")
    path = folder / "Patient.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wh = connect("duckdb:///:memory:")
    try:
        report = stage_fhir(wh, [path])
        stored = {}
        if wh.table_exists(wh.fhir_schema, "patient"):
            for row in wh.fetch_arrow(f"SELECT id, resource FROM {wh.fhir_schema}.patient").to_pylist():
                stored[row["id"]] = json.loads(row["resource"])
    finally:
        wh.close()
    rejected = {r.line for r in report.rejections}
    numbered = [(n, line.strip()) for n, line in enumerate("\n".join(lines).split("\n"), start=1)]
    expected: dict[str, Any] = {}
    for n, text in numbered:
        if not text or n in rejected:
            continue
        doc = json.loads(text)  # a line that is neither rejected nor blank must be a resource
        assert isinstance(doc, dict) and doc["resourceType"] == "Patient", (n, text)
        if "id" in doc:
            expected[doc["id"]] = doc
    for rid, doc in expected.items():
        assert stored[rid] == doc  # loaded exactly as written (the last copy of an id wins)


@given(doc=_patient().map(json.dumps), data=st.data())
def test_bundles_load_as_written_or_are_set_aside(tmp_path_factory: pytest.TempPathFactory, doc: str,
                                                   data: st.DataObject) -> None:  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": json.loads(doc)}]}
    text = _mutated(json.dumps(bundle), data)
    path = tmp_path_factory.mktemp("bundle") / "bundle.json"
    path.write_text(text, encoding="utf-8")
    wh = connect("duckdb:///:memory:")
    try:
        report = stage_fhir(wh, [path])
        loaded = report.loaded.get("Patient", 0)
    finally:
        wh.close()
    assert loaded + len(report.rejections) >= 1  # the entry loaded, or something was set aside and named
    assert all(r.file == str(path) for r in report.rejections)


@pytest.mark.parametrize("entries", ['"0ntry": [{"resource": {"resourceType": "Patient", "id": "0"}}]', '"entry": []'])
def test_a_bundle_without_entries_is_set_aside_by_name(tmp_path: Path, entries: str) -> None:
    """The long run's find: a Bundle whose 'entry' key was damaged loaded nothing and said nothing."""
    path = tmp_path / "bundle.json"
    path.write_text('{"resourceType": "Bundle", "type": "collection", ' + entries + "}", encoding="utf-8")
    wh = connect("duckdb:///:memory:")
    try:
        report = stage_fhir(wh, [path])
    finally:
        wh.close()
    [rejection] = report.rejections
    assert rejection.file == str(path)
    assert "a Bundle with no entries" in rejection.reason


@pytest.mark.parametrize("name", ["bundle.json", "patients.ndjson"])
def test_half_a_surrogate_pair_is_set_aside_and_the_rest_loads(tmp_path: Path, name: str) -> None:
    """The long run's second find: a damaged escape left half a surrogate pair ('\\ud800' alone), which json.loads
    keeps and no UTF-8 store can hold; it ended as an internal UnicodeEncodeError."""
    patients = [{"resourceType": "Patient", "id": "1", "name": [{"family": "a\U00010000"}]},
                {"resourceType": "Patient", "id": "2", "name": [{"family": "b"}]}]  # fmt: skip
    if name.endswith(".json"):
        text = json.dumps(
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in patients]}
        )
    else:
        text = "\n".join(json.dumps(r) for r in patients) + "\n"
    path = tmp_path / name
    path.write_text(text.replace("\\udc00", "0dc00"), encoding="utf-8")  # the pair's second half damaged
    wh = connect("duckdb:///:memory:")
    try:
        report = stage_fhir(wh, [path])
    finally:
        wh.close()
    assert report.loaded["Patient"] == 1
    [rejection] = report.rejections
    assert (rejection.file, rejection.line or rejection.entry) == (str(path), 1)
    assert "half of a UTF-16 surrogate pair" in rejection.reason


PERSON = ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
          "race_concept_id", "ethnicity_concept_id", "person_source_value"]  # fmt: skip
CELLS = st.one_of(st.integers(-(2**70), 2**70).map(str), st.integers(0, 3000).map(str), DATES, TEXT, st.just(""))


@given(rows=st.lists(st.lists(CELLS, min_size=len(PERSON), max_size=len(PERSON)), min_size=1, max_size=12),
       parquet=st.booleans())  # fmt: skip
def test_omop_files_load_as_written_or_name_the_bad_cell(tmp_path_factory: pytest.TempPathFactory,
                                                         rows: list[list[str]], parquet: bool) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("omop")
    if parquet:
        # A Parquet row has no line to name in the rejects: the rows are told apart by a unique person_id instead.
        rows = [[str(i), *row[1:]] for i, row in enumerate(rows, start=1)]
        path = folder / "person.parquet"
        pq.write_table(pa.table({c: [r[i] or None for r in rows] for i, c in enumerate(PERSON)}), path)
    else:
        path = folder / "person.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([PERSON, *rows])
    wh = connect("duckdb:///:memory:")
    try:
        try:
            load_files(wh, [path], on_error="skip", rejects_path=folder / "rejects.csv")
        except InputError as e:
            assert e.file == str(path)
            return
        got = wh.fetch_arrow(f"SELECT * FROM {wh.cdm_schema}.person").to_pylist()
    finally:
        wh.close()
    set_aside: set[int] = set()
    if (folder / "rejects.csv").exists():
        with (folder / "rejects.csv").open(encoding="utf-8") as f:
            set_aside = {int(r["line"] or r["record"].split(",")[0]) for r in csv.DictReader(f)}
    starts, line = [], 2  # each row's first line: a quoted cell may hold line breaks
    for row in rows:
        starts.append(int(row[0]) if parquet else line)
        line += 1 + sum(len(re.findall(r"\r\n|\r|\n", cell)) for cell in row)  # a lone CR ends a line too
    loaded = [row for start, row in zip(starts, rows, strict=True) if start not in set_aside]
    assert len(got) == len(loaded)  # every row loaded or set aside with its line, none dropped
    kept = {r["person_id"]: r for r in got}
    for row in loaded:
        mine = kept[int(row[0].strip().split(".")[0])]
        assert mine["year_of_birth"] == int(row[2].strip().split(".")[0])
        if mine["birth_datetime"] is not None:
            assert mine["birth_datetime"].timetuple()[:3] == _written_day(row[5])  # the day as written: no rollover


def _written_day(text: str) -> tuple[int, int, int]:
    """The reference reading of a date as written: YYYYMMDD with all eight digits, or YYYY-M-D."""
    text = text.strip()
    if compact := re.fullmatch(r"(\d{4})(\d{2})(\d{2})( .*)?", text):
        return int(compact[1]), int(compact[2]), int(compact[3])
    iso = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)", text)
    assert iso is not None, f"{text!r} loaded, but is no date as written"
    return int(iso[1]), int(iso[2]), int(iso[3])


@given(data=st.data())
def test_circe_definitions_parse_or_are_refused_by_name(data: st.DataObject) -> None:
    text = data.draw(st.one_of(JSON.map(json.dumps), st.just(CIRCE.read_text()).map(lambda t: t)))
    text = _mutated(text, data)
    try:
        parse_expression(text)
    except CarelakeError as e:
        assert str(e)


@given(data=st.data())
def test_view_definitions_compile_or_are_refused_by_name(tmp_path_factory: pytest.TempPathFactory,
                                                          data: st.DataObject) -> None:  # fmt: skip
    column = {"name": data.draw(TEXT), "path": data.draw(st.sampled_from(["id", "name.family", "birthDate"]))}
    view = {"resourceType": "ViewDefinition", "resource": "Patient", "select": [{"column": [column]}]}
    text = _mutated(data.draw(st.one_of(st.just(json.dumps(view)), JSON.map(json.dumps))), data)
    path = tmp_path_factory.mktemp("view") / "view.json"
    path.write_text(text, encoding="utf-8")
    try:
        compile_view(load_view(path), "duckdb:///:memory:")
    except CarelakeError as e:
        assert str(e)


FHIRPATH = st.lists(st.sampled_from(["name", ".", "given", "(", ")", "[", "]", "where", "'x'", "1", "+", "=", "and",
                                     "%resource", "$this", "first()", ",", "exists", "@2019-02-29", "ofType", "|"]),
                    max_size=30).map("".join)  # fmt: skip


@given(text=st.one_of(FHIRPATH, TEXT, st.integers(1, 20_000).map(lambda n: "(" * n + "1" + ")" * n)))
@example(text="²")  # the long run's find: str.isdigit() took it for a number, and the lexer's assert failed
def test_fhirpath_expressions_parse_or_are_refused(text: str) -> None:
    try:
        parse_fhirpath(text)
    except CarelakeError as e:
        assert str(e)


TOML_VALUES = st.one_of(TEXT.map(json.dumps), st.integers().map(str), st.just("[[[["), st.just("{"))
TOML = st.lists(
    st.one_of(st.tuples(st.sampled_from(["warehouse", "min_cell_count", "x"]), TOML_VALUES).map(" = ".join), TEXT),
    max_size=5,
)


@given(lines=TOML)
def test_carelake_toml_loads_or_is_refused_by_name(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("toml") / "carelake.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        load_settings(None, path)
    except CarelakeError as e:
        assert str(path) in str(e) or "min_cell_count" in str(e) or "warehouse" in str(e).lower()


SCHEMES = ["duckdb://", "duckdb:///", "postgresql://", "spark://", "sqlite://", "", "http://"]
URLS = st.sampled_from(["duckdb://[", "postgresql://u@h:port/db", "spark://local?path=", "duckdb:///%00"]) | st.tuples(
    st.sampled_from(SCHEMES), TEXT
).map("".join)


@given(url=URLS)
def test_warehouse_urls_parse_or_are_refused(url: str) -> None:
    try:
        parse_url(url)
    except CarelakeError as e:
        assert str(e)


def test_the_fixtures_are_real() -> None:
    """The seeds above are the real documents, so mutations start from something that loads."""
    assert parse_expression(CIRCE.read_text())
