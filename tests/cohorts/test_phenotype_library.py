"""PhenotypeLibrary cohorts on the bundled Synthea27Nj sample, against duckcdm's counts (a regression baseline)."""

from __future__ import annotations

import csv
from pathlib import Path

from circe_fixtures import DATA

import carelake
from carelake.cohorts import generate
from carelake.omop.schema import create_cdm
from carelake.warehouse import Warehouse, quote

LIBRARY = DATA / "phenotypelibrary"
BASELINE = LIBRARY / "phenotypelibrary_on_synthea27nj_duckcdm_counts.csv"


def _baseline() -> dict[int, tuple[int, int, str, str]]:
    with BASELINE.open(encoding="utf-8", newline="") as f:
        return {
            int(r["cohort_id"]): (int(r["records"]), int(r["persons"]), r["min_start"], r["max_end"])
            for r in csv.DictReader(f)
        }


def test_phenotype_library_cohorts_match_baseline(warehouse: Warehouse, sample_dir: Path) -> None:
    create_cdm(warehouse)
    carelake.load_omop(warehouse, sorted(sample_dir.glob("*.csv.gz")))
    definitions = {int(p.stem): p for p in LIBRARY.glob("*.json")}
    report = generate(warehouse, definitions)
    spans = {
        int(r["id"]): (str(r["s"]), str(r["e"]))
        for r in warehouse.fetch_arrow(
            "SELECT cohort_definition_id AS id, MIN(cohort_start_date) AS s, MAX(cohort_end_date) AS e "
            f"FROM {quote(warehouse.results_schema)}.cohort GROUP BY cohort_definition_id"
        ).to_pylist()
    }
    baseline = _baseline()
    got = {cid: (r.records, r.persons, *spans.get(cid, ("", ""))) for cid, r in sorted(report.cohorts.items())}
    assert got == {cid: baseline[cid] for cid in definitions}
    # Attrition is recorded: 1032 has three inclusion rules, and nobody in the sample has diabetes.
    assert [r.sequence for r in report.cohorts[1032].rules] == [0, 1, 2]
    assert report.cohorts[346].final_count > 0
    # What generation left behind is what it committed: the cohort rows, and no temporary tables (Spark's catalogue).
    assert warehouse.row_count(warehouse.results_schema, "cohort") == sum(v[0] for v in got.values())
    session = getattr(warehouse, "spark", None)
    assert session is None or not [t for t in session.catalog.listTables() if t.isTemporary]
