"""Every covariate of a Synthea27Nj cohort against a plain-Python recomputation over rows fetched from the CDM."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import carelake
from carelake.cohorts import generate
from carelake.errors import ConfigError
from carelake.features import CovariateSettings, FeatureMatrix, extract
from carelake.omop.schema import create_cdm
from carelake.warehouse import Warehouse, connect
from engines import drop, make_url

LIBRARY = Path(__file__).parents[1] / "data" / "circe" / "phenotypelibrary"
DOMAINS = {
    "condition_occurrence": ("condition_concept_id", "condition_start_date", 100),
    "drug_exposure": ("drug_concept_id", "drug_exposure_start_date", 300),
    "procedure_occurrence": ("procedure_concept_id", "procedure_date", 500),
    "measurement": ("measurement_concept_id", "measurement_date", 700),
    "observation": ("observation_concept_id", "observation_date", 800),
}
MAX_DAYS = {1: None, 2: 365, 3: 180, 4: 30}


def _load(wh: Warehouse, sample_dir: Path) -> None:
    create_cdm(wh)
    carelake.load_omop(wh, sorted(sample_dir.glob("*.csv.gz")))
    generate(wh, {cid: LIBRARY / f"{cid}.json" for cid in (23, 976)})


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Any:
    w = connect(f"duckdb:///{tmp_path_factory.mktemp('features') / 'wh.duckdb'}")
    _load(w, sample_dir)
    yield w
    w.close()


def _rows(wh: Warehouse, cohort_id: int) -> list[tuple[int, dt.date]]:
    got = wh.fetch_arrow(
        "SELECT subject_id, cohort_start_date FROM results.cohort WHERE cohort_definition_id = "
        f"{cohort_id} ORDER BY subject_id, cohort_start_date, cohort_end_date"
    ).to_pylist()
    return [(int(r["subject_id"]), r["cohort_start_date"]) for r in got]


def expected(wh: Warehouse, cohort_id: int) -> dict[tuple[int, int], float]:
    """FeatureExtraction's definitions, recomputed row by row in Python."""
    rows = _rows(wh, cohort_id)
    persons = {int(p["person_id"]): p for p in wh.fetch_arrow("SELECT * FROM cdm.person").to_pylist()}
    out: dict[tuple[int, int], float] = {}
    events: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for table in (*DOMAINS, "visit_occurrence"):
        by_person: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in wh.fetch_arrow(f"SELECT * FROM cdm.{table}").to_pylist():
            by_person[int(e["person_id"])].append(e)
        events[table] = by_person
    for i, (pid, index) in enumerate(rows):
        p = persons[pid]
        out[(i, p["gender_concept_id"] * 1000 + 1)] = 1.0
        out[(i, ((index.year - p["year_of_birth"]) // 5) * 1000 + 3)] = 1.0
        for cid, aid in ((p["race_concept_id"], 4), (p["ethnicity_concept_id"], 5)):
            if cid:
                out[(i, cid * 1000 + aid)] = 1.0
        out[(i, index.year * 1000 + 6)] = out[(i, index.month * 1000 + 7)] = 1.0
        for table, (concept, date, base) in DOMAINS.items():
            for e in events[table][pid]:
                days = (index - e[date]).days
                if e[concept] == 0 or days < 0:
                    continue
                for off, limit in MAX_DAYS.items():
                    if limit is None or days <= limit:
                        out[(i, e[concept] * 1000 + base + off)] = 1.0
        last: dict[tuple[int, int], dict[str, Any]] = {}
        for e in events["measurement"][pid]:
            if e["value_as_number"] is None or e["measurement_concept_id"] == 0 or e["measurement_date"] > index:
                continue
            key = (e["measurement_concept_id"], e["unit_concept_id"] or 0)
            seen = last.get(key)
            if seen is None or (e["measurement_date"], e["measurement_id"]) > (
                seen["measurement_date"],
                seen["measurement_id"],
            ):
                last[key] = e
        for (concept_id, unit), e in last.items():
            days = (index - e["measurement_date"]).days
            for off, limit in MAX_DAYS.items():
                if limit is None or days <= limit:
                    out[(i, concept_id * 1_000_000 + (unit % 1000) * 1000 + 704 + off)] = e["value_as_number"]
        for limit, aid in ((365, 920), (180, 921), (30, 922)):
            n = sum(1 for v in events["visit_occurrence"][pid] if 0 <= (index - v["visit_start_date"]).days <= limit)
            if n:
                out[(i, 1000 + aid)] = float(n)
    return out


def as_dict(fm: FeatureMatrix) -> dict[tuple[int, int], float]:
    ids = fm.reference.column("covariate_id").to_pylist()
    coo = fm.matrix.tocoo()
    return {(int(r), ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)}


@pytest.mark.parametrize("cohort_id", [23, 976])
def test_every_covariate_matches_python(wh: Warehouse, cohort_id: int) -> None:
    fm = extract(wh, cohort_id)
    assert isinstance(fm.matrix, sp.csr_matrix)
    rows = _rows(wh, cohort_id)
    assert fm.matrix.shape[0] == len(rows) == fm.rows.num_rows
    assert [(r["person_id"], r["cohort_start_date"]) for r in fm.rows.to_pylist()] == rows
    got, want = as_dict(fm), expected(wh, cohort_id)
    assert set(got) == set(want)
    assert all(got[k] == pytest.approx(want[k]) for k in want)
    ref = fm.reference.to_pylist()
    assert [r["covariate_id"] for r in ref] == sorted(r["covariate_id"] for r in ref)
    assert {r["analysis_id"] for r in ref} >= {1, 3, 6, 7, 101, 102, 301, 501, 701, 705, 801, 920}


def test_reference_names_windows_and_parquet(wh: Warehouse, tmp_path: Path) -> None:
    fm = extract(wh, 976)
    by_id = {r["covariate_id"]: r for r in fm.reference.to_pylist()}
    assert by_id[8507001]["covariate_name"] == "gender = MALE"
    assert by_id[38003564005]["covariate_name"] == "ethnicity = Not Hispanic or Latino"
    assert by_id[4003]["covariate_name"] == "age group:  20 -  24"
    cond = next(r for r in by_id.values() if r["analysis_id"] == 102)
    assert cond["window"] == "-365..0" and cond["covariate_id"] == cond["concept_id"] * 1000 + 102
    assert cond["covariate_name"].startswith("ConditionOccurrenceLongTerm during day -365..0 relative to index: ")
    fm.save(tmp_path / "fe")
    assert pq.read_table(tmp_path / "fe" / "covariate_ref.parquet").equals(fm.reference)
    assert (sp.load_npz(tmp_path / "fe" / "covariates.npz") != fm.matrix).nnz == 0
    assert fm.matrix[:, fm.column(cond["covariate_id"])].sum() > 0


def test_temporal_bins(wh: Warehouse) -> None:
    bins = ((-365, -31), (-30, -1), (0, 0))
    fm = extract(wh, 976, CovariateSettings(demographics=(), domains=("condition", "drug"), temporal_windows=bins))
    rows = _rows(wh, 976)
    want: set[tuple[int, int]] = set()
    for table in ("condition_occurrence", "drug_exposure"):
        concept, date, base = DOMAINS[table]
        for e in wh.fetch_arrow(f"SELECT person_id, {concept} AS c, {date} AS d FROM cdm.{table}").to_pylist():
            for i, (pid, index) in enumerate(rows):
                day = (e["d"] - index).days
                for t, (s, end) in enumerate(bins, start=1):
                    if pid == e["person_id"] and e["c"] and s <= day <= end:
                        want.add((i, (e["c"] * 1000 + base + 1) * 1000 + t))
    assert set(as_dict(fm)) == want
    windows = {r["time_id"]: r["window"] for r in fm.reference.to_pylist()}
    assert windows == {1: "-365..-31", 2: "-30..-1", 3: "0..0"}


def test_concept_groups_roll_up_through_ancestors(tmp_path: Path, sample_dir: Path) -> None:
    wh = connect(f"duckdb:///{tmp_path / 'g.duckdb'}")
    _load(wh, sample_dir)
    # Make "Viral sinusitis" (444814) and "Acute viral pharyngitis" (4112343) descendants of a made-up group.
    wh.execute(
        "INSERT INTO cdm.concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
        "standard_concept, concept_code, valid_start_date, valid_end_date) VALUES (2000000001, 'Viral disorder', "
        "'Condition', 'SNOMED', 'Clinical Finding', 'S', 'x', DATE '1970-01-01', DATE '2099-12-31')"
    )
    wh.execute(
        "INSERT INTO cdm.concept_ancestor VALUES (2000000001, 444814, 1, 1), (2000000001, 4112343, 1, 1), "
        "(444814, 444814, 0, 0)"
    )
    # Normal ranges on body weight (3025315): below 50, above 90, else within.
    wh.execute("UPDATE cdm.measurement SET range_low = 50, range_high = 90 WHERE measurement_concept_id = 3025315")
    settings = CovariateSettings(demographics=(), domains=("condition",), windows=("any_time_prior", "long_term"))
    fm = extract(wh, 976, settings)
    got = as_dict(fm)
    rows = _rows(wh, 976)
    conditions = wh.fetch_arrow(
        "SELECT person_id, condition_start_date AS d FROM cdm.condition_occurrence "
        "WHERE condition_concept_id IN (444814, 4112343)"
    ).to_pylist()
    want = {
        i for i, (pid, index) in enumerate(rows) if any(c["person_id"] == pid and c["d"] <= index for c in conditions)
    }
    assert want and {r for (r, cov) in got if cov == 2000000001 * 1000 + 209} == want
    self_group = {r for (r, cov) in got if cov == 444814 * 1000 + 209}
    assert self_group == {r for (r, cov) in got if cov == 444814 * 1000 + 101}
    weights = wh.fetch_arrow(
        "SELECT person_id, measurement_date AS d, value_as_number AS v FROM cdm.measurement "
        "WHERE measurement_concept_id = 3025315 AND value_as_number IS NOT NULL"
    ).to_pylist()
    for grp, test in ((1, lambda v: v < 50), (2, lambda v: 50 <= v <= 90), (3, lambda v: v > 90)):
        for off, limit in ((1, 10**9), (2, 365)):
            want_rows = {
                i
                for i, (pid, index) in enumerate(rows)
                for w in weights
                if w["person_id"] == pid and 0 <= (index - w["d"]).days <= limit and test(w["v"])
            }
            assert {r for (r, cov) in got if cov == 3025315 * 10000 + grp * 1000 + 708 + off} == want_rows
    name = next(r["covariate_name"] for r in fm.reference.to_pylist() if r["covariate_id"] == 2000000001209)
    assert name == "ConditionGroupAnyTimePrior during day any..0 relative to index: Viral disorder"
    wh.close()


@pytest.mark.parametrize(
    "other", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("spark", marks=pytest.mark.spark)]
)
def test_every_engine_gives_duckdbs_matrix(wh: Warehouse, sample_dir: Path, tmp_path: Path, other: str) -> None:
    url = make_url(other, tmp_path)
    engine = connect(url)
    try:
        _load(engine, sample_dir)
        got, want = extract(engine, 976), extract(wh, 976)
        assert got.matrix.nnz == want.matrix.nnz > 1000
        assert as_dict(got) == pytest.approx(as_dict(want))
        assert got.reference.sort_by("covariate_id").equals(want.reference.sort_by("covariate_id"))
    finally:
        engine.close()
        drop(url)


def test_bad_settings_and_empty_cohort(wh: Warehouse) -> None:
    with pytest.raises(ConfigError, match="unknown domains: labs"):
        CovariateSettings(domains=("labs",))
    fm = extract(wh, 424242)
    assert fm.matrix.shape == (0, 0) and fm.reference.num_rows == 0
