"""Characterization against independent computations: Python over fetched rows, hand-worked KM, known Poisson limits."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import carelake
from browser import drawn_offline, needs_chromium
from carelake.characterize import TimeAtRisk, characterize, incidence_rate, kaplan_meier, poisson_ci
from carelake.cohorts import generate
from carelake.omop.schema import create_cdm
from carelake.reports.characterization import write_characterization
from carelake.warehouse import Warehouse, connect
from engines import engines, for_small_data

LIBRARY = Path(__file__).parents[1] / "data" / "circe" / "phenotypelibrary"


def _load(w: Warehouse, sample_dir: Path) -> None:
    create_cdm(w)
    carelake.load_omop(w, sorted(sample_dir.glob("*.csv.gz")))
    generate(w, {cid: LIBRARY / f"{cid}.json" for cid in (23, 346, 770, 976)})


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Any:
    """DuckDB, checked against Python below; every other engine is checked against DuckDB."""
    w = connect(f"duckdb:///{tmp_path_factory.mktemp('characterize') / 'wh.duckdb'}")
    _load(w, sample_dir)
    yield w
    w.close()


@pytest.mark.parametrize(
    "backend", engines(duckdb="never: DuckDB is the reference the other engines are checked against")
)
def test_every_engine_gives_duckdbs_characterization(wh: Warehouse, warehouse: Warehouse, sample_dir: Path) -> None:
    for_small_data(warehouse)
    _load(warehouse, sample_dir)
    tar = TimeAtRisk(1, 3650)
    got = characterize(warehouse, [976, 346], outcome_id=23, tar=tar, window_days=365).to_dict()
    want = characterize(wh, [976, 346], outcome_id=23, tar=tar, window_days=365).to_dict()
    assert _close(got, want)
    assert want["cohorts"][0]["persons"] > 5  # suppression leaves something to compare


def _close(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-9 relative (engines sum in different orders)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (got, want)
        return all(_close(got[k], want[k]) for k in want)
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (got, want)
        return all(_close(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (got, want)
        return True
    assert got == want
    return True


def _all(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    return list(wh.fetch_arrow(sql).to_pylist())


def _first_entries(wh: Warehouse, cohort_id: int) -> dict[int, Any]:
    first: dict[int, Any] = {}
    for r in _all(wh, f"SELECT * FROM results.cohort WHERE cohort_definition_id = {cohort_id}"):
        pid = r["subject_id"]
        if pid not in first or (r["cohort_start_date"], r["cohort_end_date"]) < first[pid]:
            first[pid] = (r["cohort_start_date"], r["cohort_end_date"])
    return first


def test_poisson_limits_match_tables() -> None:
    assert poisson_ci(0) == (0.0, pytest.approx(3.6889, abs=1e-4))
    assert poisson_ci(1) == (pytest.approx(0.0253, abs=1e-4), pytest.approx(5.5716, abs=1e-4))
    assert poisson_ci(10) == (pytest.approx(4.7954, abs=1e-4), pytest.approx(18.3904, abs=1e-4))
    rate, lo, hi = incidence_rate(0, 1000 * 365.25)  # 0 events in 1,000 person-years
    assert (rate, lo) == (0.0, 0.0) and hi == pytest.approx(3.6889, abs=1e-4)
    assert math.isnan(incidence_rate(3, 0)[0])


def test_kaplan_meier_by_hand() -> None:
    km = kaplan_meier(np.array([1, 2, 2, 3, 4, 5], dtype=float), np.array([1, 1, 0, 1, 0, 1], dtype=bool))
    assert km.time.tolist() == [1, 2, 3, 5]
    assert km.at_risk.tolist() == [6, 5, 3, 1] and km.events.tolist() == [1, 1, 1, 1]
    assert km.survival.tolist() == pytest.approx([5 / 6, 4 / 6, 4 / 9, 0.0])
    se = math.sqrt((4 / 6) ** 2 * (1 / (6 * 5) + 1 / (5 * 4)))
    assert km.lower[1] == pytest.approx(4 / 6 - 1.959964 * se, abs=1e-6)
    assert km.upper[0] == 1.0  # clipped
    assert km.lower[3] == km.upper[3] == 0.0


def test_table1_matches_python(wh: Warehouse) -> None:
    result = characterize(wh, [976, 346], window_days=365, top=500, min_cell_count=1)
    persons = {p["person_id"]: p for p in _all(wh, "SELECT * FROM cdm.person")}
    conditions = _all(
        wh, "SELECT person_id, condition_concept_id AS c, condition_start_date AS d FROM cdm.condition_occurrence"
    )
    labs = _all(
        wh,
        "SELECT person_id, measurement_id, measurement_concept_id AS c, measurement_date AS d, value_as_number AS v "
        "FROM cdm.measurement WHERE value_as_number IS NOT NULL AND measurement_concept_id <> 0",
    )
    for t, cid in zip(result.tables, (976, 346), strict=True):
        first = _first_entries(wh, cid)
        ages = [s.year - persons[pid]["year_of_birth"] for pid, (s, _) in first.items()]
        assert t.persons == len(first) and t.age_mean == pytest.approx(statistics.mean(ages))
        assert t.age_sd == pytest.approx(statistics.stdev(ages))
        sex = Counter(persons[pid]["gender_concept_id"] for pid in first)
        assert {c.concept_id: c.count for c in t.categories if c.section == "sex"} == dict(sex)
        prior = Counter(
            c["c"]
            for pid, (s, _) in first.items()
            for c in {
                (x["c"], x["person_id"]): x
                for x in conditions
                if x["person_id"] == pid and 0 <= (s - x["d"]).days <= 365
            }.values()
        )
        assert {c.concept_id: c.count for c in t.categories if c.section == "prior condition"} == dict(prior)
        last: dict[tuple[int, int], Any] = {}
        for x in labs:
            start = first.get(x["person_id"], (None,))[0]
            if start is not None and 0 <= (start - x["d"]).days <= 365:
                key = (x["person_id"], x["c"])
                if key not in last or (x["d"], x["measurement_id"]) > (last[key]["d"], last[key]["measurement_id"]):
                    last[key] = x
        by_concept: dict[int, list[float]] = {}
        for (_, concept), x in last.items():
            by_concept.setdefault(concept, []).append(x["v"])
        assert {m.concept_id for m in t.measurements} == set(by_concept)
        for m in t.measurements:
            values = by_concept[m.concept_id]
            q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
            assert (m.n, m.mean, m.median, m.q1, m.q3) == pytest.approx(
                (len(values), statistics.mean(values), med, q1, q3)
            )
    # SMD for sex between the two cohorts, from the pooled-variance formula.
    a, b = result.tables
    pa_ = next(c.count for c in a.categories if c.label == "MALE") / a.persons
    pb = next(c.count for c in b.categories if c.label == "MALE") / b.persons
    smd = next(s["smd"] for s in result.smd if s["section"] == "sex" and s["label"] == "MALE")
    assert smd == pytest.approx((pa_ - pb) / math.sqrt((pa_ * (1 - pa_) + pb * (1 - pb)) / 2))


def test_incidence_and_km_match_python(wh: Warehouse) -> None:
    tar = TimeAtRisk(1, 3650)
    result = characterize(wh, [346], outcome_id=976, tar=tar, min_cell_count=1)
    periods = {r["person_id"]: r for r in _all(wh, "SELECT * FROM cdm.observation_period")}
    outcomes = _all(
        wh, "SELECT subject_id, cohort_start_date AS d FROM results.cohort WHERE cohort_definition_id = 976"
    )
    times, events = [], []
    for pid, (start, _) in _first_entries(wh, 346).items():
        op = periods[pid]
        lo = start + dt.timedelta(days=1)
        hi = min(start + dt.timedelta(days=3650), op["observation_period_end_date"])
        if hi < lo:
            continue
        hits = sorted(o["d"] for o in outcomes if o["subject_id"] == pid and lo <= o["d"] <= hi)
        times.append(((hits[0] if hits else hi) - lo).days)
        events.append(bool(hits))
    inc = result.incidence
    assert inc is not None and (inc.persons, inc.events) == (len(times), sum(events)) and sum(events) > 0
    assert inc.person_days == sum(t + 1 for t in times)
    years = inc.person_days / 365.25
    assert inc.rate == pytest.approx(sum(events) / years * 1000)
    assert inc.upper == pytest.approx(poisson_ci(sum(events))[1] / years * 1000)
    km = result.km
    assert km is not None
    s = 1.0
    for u in sorted({t for t, e in zip(times, events, strict=True) if e}):
        n = sum(1 for t in times if t >= u)
        d = sum(1 for t, e in zip(times, events, strict=True) if e and t == u)
        s *= 1 - d / n
    assert km.survival[-1] == pytest.approx(s)


def test_exports_suppress_small_counts(wh: Warehouse, tmp_path: Path) -> None:
    result = characterize(wh, [976, 770], outcome_id=23, tar=TimeAtRisk(0, 3650))
    paths = write_characterization(result, tmp_path)
    data = json.loads(paths["json"].read_text())
    counts = [c["count"] for co in data["cohorts"] for c in co["categories"]] + [
        co["persons"] for co in data["cohorts"]
    ]
    assert "<5" in counts and all(c == "<5" or c == 0 or c >= 5 for c in counts)
    assert all(c["percent"] is None for co in data["cohorts"] for c in co["categories"] if c["count"] == "<5")
    assert data["cohorts"][1]["persons"] == 5  # 770 has exactly five
    rows = list(csv.DictReader(paths["csv"].read_text(encoding="utf-8").splitlines()))
    for r in rows:
        if r["statistic"] in ("count", "persons", "events", "at_risk", "n") and r["value"] not in ("", "<5"):
            assert int(float(r["value"])) == 0 or int(float(r["value"])) >= 5, r
    page = paths["html"].read_text()
    assert "&lt;5" in page and page.count("data-chart=") == 2  # age bands, Kaplan-Meier
    # The same numbers unsuppressed with a minimum of 1.
    raw = characterize(wh, [976, 770], min_cell_count=1).to_dict()
    assert "<1" not in json.dumps(raw) and "<5" not in json.dumps(raw)


@needs_chromium
def test_page_draws_in_chromium_offline(wh: Warehouse, tmp_path: Path) -> None:
    result = characterize(wh, [976, 770], outcome_id=23, tar=TimeAtRisk(0, 3650))
    path = write_characterization(result, tmp_path)["html"]

    def cohorts(page: Any) -> None:
        assert page.locator("h2[id^=cohort-]").count() == 2
        assert page.get_by_text("Survival free of outcome").count() >= 1

    drawn_offline(path, 2, cohorts)
