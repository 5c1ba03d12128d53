"""Loading real OMOP data (the bundled Synthea27Nj) gives the source's row counts on every backend."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from carelake.omop.info import describe
from carelake.omop.loader import load_files
from carelake.omop.vocabulary import load_vocabulary
from carelake.warehouse import Warehouse
from engines import engines
from sample_counts import SAMPLE_COUNTS

ENGINES = engines(spark="never: a sample load each; the sample and wide-export tests load on Spark")


def _counts(wh: Warehouse) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in describe(wh).tables.items()}


def test_sample_loads_with_source_counts_and_reload_is_idempotent(warehouse: Warehouse, sample_dir: Path) -> None:
    report = load_files(warehouse, [sample_dir])
    assert report.read == report.loaded == 294203 and report.rejected == 0
    counts = _counts(warehouse)
    assert {k: counts[k] for k in SAMPLE_COUNTS} == SAMPLE_COUNTS
    assert describe(warehouse).source_cdm_version == "5.4"
    load_files(warehouse, [sample_dir])  # the same files again: nothing doubles
    assert _counts(warehouse) == counts


@pytest.mark.parametrize("backend", ENGINES)
def test_values_survive_the_quirks(warehouse: Warehouse, sample_dir: Path) -> None:
    load_files(warehouse, [sample_dir])
    cdm = warehouse.cdm_schema
    era = warehouse.fetch_arrow(
        f"SELECT CAST(condition_era_start_date AS VARCHAR) AS d FROM {cdm}.condition_era WHERE condition_era_id = 1"
    ).to_pylist()
    assert era == [{"d": "2005-05-07"}]  # written "2005-05-07 00:00:00" in the file
    m = warehouse.fetch_arrow(
        f"SELECT value_as_number, unit_source_value, measurement_time FROM {cdm}.measurement WHERE measurement_id = 1"
    ).to_pylist()
    assert m == [{"value_as_number": 48.1, "unit_source_value": "kg", "measurement_time": "2013-05-17"}]
    standard = warehouse.fetch_scalar(f"SELECT COUNT(*) FROM {cdm}.concept WHERE standard_concept IS NULL")
    assert standard > 0  # "" in the file is NULL, not an empty string


def test_replace_mode_replaces(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    load_files(warehouse, [sample_dir])
    few = tmp_path / "few"
    few.mkdir()
    with gzip.open(sample_dir / "PERSON.csv.gz", "rt") as f:
        lines = f.read().splitlines()[:6]
    (few / "person.csv").write_text("\n".join(lines) + "\n")
    load_files(warehouse, [few], mode="replace")
    counts = _counts(warehouse)
    assert counts["person"] == 5 and counts["measurement"] == 10040


@pytest.mark.parametrize("backend", engines())
def test_cdm53_columns_are_renamed_and_reported(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    with gzip.open(sample_dir / "VISIT_OCCURRENCE.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    header = [
        {
            "admitted_from_concept_id": "admitting_source_concept_id",
            "discharged_to_concept_id": "discharge_to_concept_id",
            "admitted_from_source_value": "admitting_source_value",
            "discharged_to_source_value": "discharge_to_source_value",
        }.get(c, c)
        for c in rows[0]
    ]
    folder = tmp_path / "cdm53"
    folder.mkdir()
    with (folder / "visit_occurrence.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows[1:]])
    (folder / "attribute_definition.csv").write_text("attribute_definition_id,attribute_name\n")
    report = load_files(warehouse, [folder])
    visit = next(f for f in report.files if f.table == "visit_occurrence")
    assert visit.loaded == 1791
    assert "renamed (CDM 5.3 -> 5.4): admitting_source_concept_id -> admitted_from_concept_id" in visit.notes
    dropped = next(f for f in report.files if f.table == "attribute_definition")
    assert dropped.status == "skipped"
    assert (
        warehouse.fetch_scalar(
            f"SELECT COUNT(*) FROM {warehouse.cdm_schema}.visit_occurrence WHERE admitted_from_concept_id = 0"
        )
        == 1791
    )


@pytest.mark.parametrize("backend", engines())
def test_parquet_and_tab_separated_input(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    table = pacsv.read_csv(sample_dir / "MEASUREMENT.csv.gz")
    pq.write_table(table, folder / "measurement.parquet")
    with gzip.open(sample_dir / "PERSON.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    with (folder / "Person.tsv").open("w", newline="") as f:
        csv.writer(f, delimiter="\t").writerows([[c.upper() for c in rows[0]], *rows[1:]])
    load_files(warehouse, [folder])
    counts = _counts(warehouse)
    assert counts["measurement"] == 10040 and counts["person"] == 28


@pytest.mark.parametrize("backend", engines())
def test_athena_vocabulary_download(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    """Athena: tab-separated, YYYYMMDD dates, bare quotes inside names, and a CONCEPT_CPT4.csv."""
    athena = tmp_path / "athena"
    athena.mkdir()
    with gzip.open(sample_dir / "CONCEPT.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    rows[1][1] = 'Prediabetes "borderline"'
    with (athena / "CONCEPT.csv").open("w") as f:
        for r in rows:
            r[7], r[8] = r[7].replace("-", ""), r[8].replace("-", "")
            f.write("\t".join(r) + "\n")
    (athena / "CONCEPT_CPT4.csv").write_text("concept_id\n")
    report = load_vocabulary(warehouse, [athena])
    assert report.loaded == 2294
    assert [f.status for f in report.files if f.table == "concept_cpt4"] == ["skipped"]
    got = warehouse.fetch_arrow(
        f"SELECT concept_name, valid_end_date FROM {warehouse.cdm_schema}.concept WHERE concept_id = 40316773"
    ).to_pylist()
    assert got[0]["concept_name"] == 'Prediabetes "borderline"'
    assert str(got[0]["valid_end_date"]) == "2002-01-31"
