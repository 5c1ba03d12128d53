"""A survival study on 3,000 simulated persons (time to death, up to four years): tables whose figures equal the
metrics recomputed from the run's predictions, scores that follow the simulator's true hazard, saved models that
score exactly as the run did (survival at each horizon), the report drawn offline, and bad input stated."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from browser import drawn_offline, needs_chromium
from carelake.errors import ConfigError
from carelake.evaluation.survival import Survival, cumulative_dynamic_auc, harrell_c, uno_c
from carelake.evaluation.survival.competing import wolbers_c
from carelake.models.artifact import load_model
from carelake.models.survival import CompetingRisk, SurvivalRisk
from carelake.privacy.disclosure import DisclosureRule
from carelake.reports import publish
from carelake.studies import StudyError, load_study
from carelake.studies.external import score, validate_external
from carelake.studies.output import TABLE_COUNTS
from carelake.studies.run import StudyRun, run_study
from carelake.warehouse import connect
from simulated import EXAMPLE, load_simulated

SURVIVAL = EXAMPLE.with_name("survival.yaml")


@pytest.fixture(scope="module")
def survival(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("survival")
    wh = load_simulated(connect(f"duckdb:///{folder / 'wh.duckdb'}"), simulated)
    shutil.copytree(EXAMPLE.parent / "cohorts", folder / "cohorts")
    shutil.copy(SURVIVAL, folder / "study.yaml")
    run = run_study(wh, load_study(folder / "study.yaml"))
    results = publish(run, folder / "out", DisclosureRule())
    yield wh, run, results, folder
    wh.close()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _truth(simulated: Path) -> dict[int, float]:
    with gzip.open(simulated / "truth.csv.gz", "rt", newline="") as f:
        return {int(r["person_id"]): float(r["gompertz_eta"]) for r in csv.DictReader(f)}


def test_tables_name_their_estimators_and_equal_the_metrics(survival: tuple[Any, StudyRun, Any, Path]) -> None:
    _, run, results, folder = survival
    assert [a["analysis"] for a in results["analyses"]] == ["death-cox", "death-boosted_cox"]
    for a in run.analyses:
        out = folder / "out" / a.analysis_id
        stats = {(r["evaluation"], r["metric"]): r for r in _csv(out / "evaluationStatistics.csv")}
        assert {e for e, _ in stats} == {"Test", "Train"}
        assert "tied risks count 1/2" in stats["Test", "Harrell's C"]["note"]
        assert "tau = 1095 days" in stats["Test", "Uno's C"]["note"]
        for h in (365, 730, 1095):
            assert ("Test", f"time-dependent AUC at {h} days") in stats and ("Test", f"ICI at {h} days") in stats
        pred = a.predictions.to_pylist() if a.predictions is not None else []
        test = [r for r in pred if r["evaluation"] == "Test"]
        train = [r for r in pred if r["evaluation"] == "Train"]
        s_test = Survival(np.array([r["time"] for r in test]), np.array([r["event"] == 1 for r in test]))
        s_train = Survival(np.array([r["time"] for r in train]), np.array([r["event"] == 1 for r in train]))
        scores = np.array([r["score"] for r in test])
        assert float(stats["Test", "Harrell's C"]["value"]) == pytest.approx(harrell_c(s_test, scores).c, abs=1e-12)
        low, high = (float(stats["Test", f"95% {b} Harrell's C"]["value"]) for b in ("lower", "upper"))
        assert low < float(stats["Test", "Harrell's C"]["value"]) < high and high - low < 0.2
        assert ("Train", "95% lower Harrell's C") not in stats  # the interval is the test part's
        assert float(stats["Test", "Uno's C"]["value"]) == pytest.approx(
            uno_c(s_train, s_test, scores, 1095.0).c, abs=1e-12
        )
        risk = np.array([r["risk_730d"] for r in test])
        auc = cumulative_dynamic_auc(s_train, s_test, risk, [730.0]).mean
        assert float(stats["Test", "time-dependent AUC at 730 days"]["value"]) == pytest.approx(auc, abs=1e-12)
        assert len(_csv(out / "survivalCalibration.csv")) >= 2 * 3 * 5  # two parts, three horizons, deciles
        curves = _csv(out / "survivalCurves.csv")
        assert {r["riskGroup"] for r in curves} == {"low", "middle", "high"}
        for table, (counts, _) in TABLE_COUNTS.items():
            path = out / f"{table}.csv"
            for r in _csv(path) if path.is_file() else []:
                assert all(r[c] == "" or not 0 < int(r[c]) < 5 for c in counts if "-" not in c), (table, r)
    cox_tables = set(run.analyses[0].tables)
    assert {"hazardRatios", "proportionalHazards"} <= cox_tables
    ratios = _csv(folder / "out" / "death-cox" / "hazardRatios.csv")
    assert all(float(r["lower"]) <= float(r["hazardRatio"]) <= float(r["upper"]) for r in ratios)
    assert any("Heart failure" in r["covariateName"] and float(r["hazardRatio"]) > 1.5 for r in ratios)


def test_scores_follow_the_true_hazard(survival: tuple[Any, StudyRun, Any, Path], simulated: Path) -> None:
    """The generating model's log hazard (gompertz_eta) orders persons as the fitted scores do, and the model's
    test C is within reach of the true hazard's C on the same persons (30 test deaths: a loose band)."""
    run = survival[1]
    truth = _truth(simulated)
    for a in run.analyses:
        assert a.predictions is not None
        rows = [r for r in a.predictions.to_pylist() if r["evaluation"] == "Test"]
        eta = np.array([truth[r["person_id"]] for r in rows])
        fitted = np.array([r["score"] for r in rows])
        assert spearmanr(fitted, eta).statistic > 0.5, a.analysis_id  # about 0.6-0.7: young persons tie in truth
        s = Survival(np.array([r["time"] for r in rows]), np.array([r["event"] == 1 for r in rows]))
        assert harrell_c(s, fitted).c > harrell_c(s, eta).c - 0.05, a.analysis_id


def test_saved_model_gives_the_runs_survival_at_each_horizon(survival: tuple[Any, StudyRun, Any, Path]) -> None:
    wh, run, _, folder = survival
    for a in run.analyses:
        saved = load_model(folder / "out" / a.analysis_id / "model")
        assert isinstance(saved.risk, SurvivalRisk) and saved.meta["survival"]["baseline_time"]
        assert a.predictions is not None
        test = [r for r in a.predictions.to_pylist() if r["evaluation"] == "Test"][:40]
        got = score(wh, saved, person_ids=[r["person_id"] for r in test])
        by_person = {r["person_id"]: r for r in got.table.to_pylist()}
        for r in test:
            mine = by_person[r["person_id"]]
            for h in (365, 730, 1095):
                assert mine[f"survival_{h}d"] == pytest.approx(1 - r[f"risk_{h}d"], abs=1e-12)
            assert mine["risk"] == pytest.approx(r["risk_730d"], abs=1e-12)
            assert len(mine["top_contributions"]) == 3


def test_external_validation_of_a_survival_model(survival: tuple[Any, StudyRun, Any, Path]) -> None:
    wh, _, _, folder = survival
    saved = load_model(folder / "out" / "death-cox" / "model")
    again = validate_external(wh, saved)
    (a,) = again.analyses
    assert a.primary == "Validation" and a.statistic("Harrell's C") is not None
    assert a.statistic("Harrell's C") > 0.8  # the same database: every person, training ones too


def test_bad_input_is_stated(survival: tuple[Any, StudyRun, Any, Path], tmp_path: Path) -> None:
    wh = survival[0]
    spec = yaml.safe_load(SURVIVAL.read_text())
    shutil.copytree(EXAMPLE.parent / "cohorts", tmp_path / "cohorts")
    beyond = {**spec, "evaluation": {"horizons": [365, 2000]}, "models": spec["models"][:1]}
    (tmp_path / "beyond.yaml").write_text(yaml.safe_dump(beyond))
    run = run_study(wh, load_study(tmp_path / "beyond.yaml"))
    (a,) = run.analyses
    assert a.statistic("time-dependent AUC at 365 days") is not None
    assert a.statistic("time-dependent AUC at 2000 days") is None
    assert any("horizon 2000 lies outside" in n for n in a.notes)
    short = {**spec, "population": {**spec["population"], "time_at_risk": {"start": 1, "end": 200}},
             "models": spec["models"][:1]}  # fmt: skip
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(short))
    (b,) = run_study(wh, load_study(tmp_path / "short.yaml")).analyses
    assert b.risk is None and "every follow-up ends before the first horizon (365 days" in b.notes[0]
    never = json.loads((EXAMPLE.parent / "cohorts" / "death.json").read_text())
    never["InclusionRules"] = [{"name": "never", "expression": {"Type": "ALL", "CriteriaList": [], "Groups": [],
                                "DemographicCriteriaList": [{"Age": {"Value": 150, "Op": "gt"}}]}}]  # fmt: skip
    (tmp_path / "cohorts" / "never.json").write_text(json.dumps(never))
    none = {**spec, "outcomes": [{"cohort": "cohorts/never.json", "name": "Never"}], "models": spec["models"][:1]}
    (tmp_path / "none.yaml").write_text(yaml.safe_dump(none))
    (c,) = run_study(wh, load_study(tmp_path / "none.yaml")).analyses
    assert c.risk is None and "no events" in c.notes[0] and "'Never'" in c.notes[0]
    for bad, message in (
        ({**spec, "type": "prediction"}, "cox, boosted_cox cannot model a prediction study"),
        ({**spec, "models": [{"type": "lasso_logistic"}]}, "lasso_logistic cannot model a survival study"),
        ({**spec, "evaluation": {"horizons": [730, 365]}}, "increasing order"),
        ({**spec, "evaluation": {"horizons": [0]}}, "1 or more"),
    ):
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
        with pytest.raises(StudyError, match=message) as err:
            load_study(tmp_path / "bad.yaml")
        assert "bad.yaml:" in str(err.value)


def test_results_and_report(survival: tuple[Any, StudyRun, Any, Path]) -> None:
    results, folder = survival[2], survival[3]
    stored = json.loads((folder / "out" / "results.json").read_text())
    assert stored["best"] and all(a["type"] == "survival" for a in stored["analyses"])
    assert all(0.8 < a["test_harrell_c"] < 1 for a in results["analyses"])
    html = (folder / "out" / "report.html").read_text()
    assert "Survival study: Time to death" in html and "Hazard ratios" in html and "Proportional-hazards" in html


@needs_chromium
def test_survival_report_draws_every_chart_offline(survival: tuple[Any, StudyRun, Any, Path]) -> None:
    def has_tripod(page: Any) -> None:
        assert page.locator("#tripod").count() == 1

    drawn_offline(survival[3] / "out" / "report.html", 2 * 5 + 1, has_tripod)


def test_cli_predict_gives_survival_at_each_horizon(survival: tuple[Any, StudyRun, Any, Path], tmp_path: Path) -> None:
    wh, run, _, folder = survival
    wh.execute("CHECKPOINT")
    shutil.copy(folder / "wh.duckdb", tmp_path / "copy.duckdb")  # the fixture holds the warehouse's lock
    model = folder / "out" / "death-boosted_cox" / "model"
    pid = run.analyses[1].predictions.column("person_id")[0].as_py() if run.analyses[1].predictions else 0
    done = subprocess.run(
        [sys.executable, "-m", "carelake", "-w", f"duckdb:///{tmp_path / 'copy.duckdb'}", "predict", "--model",
         str(model), "--person-id", str(pid), "--out", str(tmp_path / "scores.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"person {pid} at" in done.stdout and "S(365d)" in done.stdout and "S(1095d)" in done.stdout
    (row,) = _csv(tmp_path / "scores.csv")
    assert 0 < float(row["survival_1095d"]) <= float(row["survival_730d"]) <= float(row["survival_365d"]) < 1
    assert float(row["risk"]) == pytest.approx(1 - float(row["survival_730d"]), abs=1e-12)


@pytest.fixture(scope="module")
def progression(survival: tuple[Any, StudyRun, Any, Path], simulated: Path) -> Any:
    """The example CKD progression study (a survival study with a multi-state analysis) on the same warehouse."""
    wh, _, _, folder = survival
    shutil.copy(EXAMPLE.with_name("ckd_progression.yaml"), folder / "ckd.yaml")
    run = run_study(wh, load_study(folder / "ckd.yaml"))
    return run, publish(run, folder / "ckd-out", DisclosureRule()), folder / "ckd-out"


def test_multistate_occupation_adds_up_and_follows_the_truth(progression: Any, simulated: Path) -> None:
    run, results, out = progression
    ms = run.multistate
    assert ms is not None and ms.fit is not None
    assert ms.states == ("CKD stage 3", "CKD stage 4", "End-stage renal disease", "Death")
    occupation = ms.fit.occupation_at(np.arange(0, 1127, 30.0))
    np.testing.assert_allclose(occupation.sum(axis=1), 1.0, atol=1e-12)
    assert (np.diff(occupation[:, 3]) >= -1e-12).all()  # the dead stay dead
    with gzip.open(simulated / "truth.csv.gz", "rt", newline="") as f:
        truth = {int(r["person_id"]): r for r in csv.DictReader(f)}
    people = [truth[int(p)] for p in ms.population.rows.column("person_id").to_pylist()]
    for k, day in enumerate(ms.horizons, start=1):
        eta = np.array([float(p["gompertz_eta"]) for p in people])
        alive = np.exp(-np.exp(eta) * np.expm1(0.085 * day / 365.25) / 0.085)
        below30 = np.array([float(p[f"p_egfr_below30_{k}y"]) for p in people])
        want = float(np.mean(alive * (1 - below30)))
        assert ms.fit.occupation_at(float(day))[0, 0] == pytest.approx(want, abs=0.06), day  # ~220 persons
    rows = _csv(out / "multistate" / "stateOccupation.csv")
    assert all(r["inState"] == "" or not 0 < int(r["inState"]) < 5 for r in rows)
    assert any(r["inState"] == "" for r in rows)  # few reach end-stage renal disease early: withheld
    assert {r["from"] for r in _csv(out / "multistate" / "transitions.csv")} >= {"CKD stage 3", "CKD stage 4"}
    summary = results["multistate"]
    assert summary["states"][-1] == "Death" and set(summary["occupation"]) == {"395", "760", "1126"}


def test_multistate_needs_a_survival_study_and_cohorts_for_later_states(tmp_path: Path) -> None:
    spec = yaml.safe_load(EXAMPLE.with_name("ckd_progression.yaml").read_text())
    shutil.copytree(EXAMPLE.parent / "cohorts", tmp_path / "cohorts")
    no_entry = {**spec["multistate"], "states": [{"name": "CKD 3"}, {"name": "CKD 4"}]}
    entry_first = {**spec["multistate"], "states": [{"name": "CKD 3", "cohort": "cohorts/ckd4.json"},
                                                    {"name": "CKD 4", "cohort": "cohorts/ckd4.json"}]}  # fmt: skip
    for bad, message in (
        ({**spec, "type": "prediction", "models": [{"type": "lasso_logistic"}]}, "belongs to a survival study"),
        ({**spec, "multistate": no_entry}, "state CKD 4 needs a cohort"),
        ({**spec, "multistate": entry_first}, "give it no cohort"),
    ):
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
        with pytest.raises(StudyError, match=message) as err:
            load_study(tmp_path / "bad.yaml")
        assert "multistate" in str(err.value)


@needs_chromium
def test_progression_report_draws_the_occupation_offline(progression: Any) -> None:
    def has_multistate(page: Any) -> None:
        assert page.locator("#multistate").count() == 1

    drawn_offline(progression[2] / "report.html", 5 + 1 + 1, has_multistate)


@pytest.fixture(scope="module")
def competing(survival: tuple[Any, StudyRun, Any, Path]) -> Any:
    """The example competing-risks study (CKD stage 4, death competing) on the same warehouse."""
    wh, _, _, folder = survival
    shutil.copy(EXAMPLE.with_name("ckd4_competing.yaml"), folder / "competing.yaml")
    run = run_study(wh, load_study(folder / "competing.yaml"))
    return run, publish(run, folder / "competing-out", DisclosureRule()), folder / "competing-out"


def test_competing_tables_equal_the_metrics_and_saved_models_score_alike(
    competing: Any, survival: tuple[Any, StudyRun, Any, Path], simulated: Path
) -> None:
    run, results, out = competing
    assert [a["type"] for a in results["analyses"]] == ["competing_risks", "competing_risks"]
    with gzip.open(simulated / "truth.csv.gz", "rt", newline="") as f:
        died = {int(r["person_id"]): r["death_date"] for r in csv.DictReader(f)}
    first = run.analyses[0].predictions.to_pylist() if run.analyses[0].predictions is not None else []
    for r in first:  # every death inside the window ends follow-up, unless CKD stage 4 came first
        if died[r["person_id"]] and r["cause"] != 1:
            day = (np.datetime64(died[r["person_id"]]) - np.datetime64(r["cohort_start_date"])).astype(int)
            assert r["cause"] == (2 if 1 <= day <= 1460 else 0), r
    for a in run.analyses:
        assert a.predictions is not None and isinstance(a.risk, CompetingRisk)
        rows = [r for r in a.predictions.to_pylist() if r["evaluation"] == "Test"]
        time_ = np.array([r["time"] for r in rows])
        cause = np.array([r["cause"] for r in rows])
        assert {0, 1, 2} <= set(cause.tolist())  # censored, CKD stage 4, and deaths before it
        stats = {(r["evaluation"], r["metric"]): r for r in _csv(out / a.analysis_id / "evaluationStatistics.csv")}
        want = wolbers_c(time_, cause, np.array([r["incidence_1126d"] for r in rows]), 1126.0)
        assert float(stats["Test", "Wolbers' C"]["value"]) == pytest.approx(want, abs=1e-12)
        assert "competing event at any time" in stats["Test", "Wolbers' C"]["note"]
        saved = load_model(out / a.analysis_id / "model")
        assert isinstance(saved.risk, CompetingRisk)
        got = score(survival[0], saved, person_ids=[r["person_id"] for r in rows[:20]])
        by_person = {r["person_id"]: r for r in got.table.to_pylist()}
        for r in rows[:20]:
            for h in (395, 760, 1126):
                assert by_person[r["person_id"]][f"incidence_{h}d"] == pytest.approx(r[f"incidence_{h}d"], abs=1e-12)
            assert by_person[r["person_id"]]["risk"] == pytest.approx(r["incidence_760d"], abs=1e-12)
        for table in ("incidenceCalibration", "incidenceCurves"):
            for r in _csv(out / a.analysis_id / f"{table}.csv"):
                if r["PersonCount" if table == "incidenceCalibration" else "atRisk"] == "":
                    continue  # withheld
                for c in TABLE_COUNTS[table][0]:  # each count, and each difference ("a-b-c"), is 0 or at least 5
                    first, *rest = c.split("-")
                    value = int(r[first]) - sum(int(r[x]) for x in rest)
                    assert not 0 < value < 5, (table, c, r)
        with pytest.raises(ConfigError, match="external validation of a competing-risks model is not built yet"):
            validate_external(survival[0], saved)


def test_competing_events_belong_to_a_competing_risks_study(tmp_path: Path) -> None:
    spec = yaml.safe_load(EXAMPLE.with_name("ckd4_competing.yaml").read_text())
    shutil.copytree(EXAMPLE.parent / "cohorts", tmp_path / "cohorts")
    for bad, message in (
        ({**spec, "type": "survival"}, "competing events belong to a competing_risks study"),
        ({k: v for k, v in spec.items() if k != "competing_events"}, "needs competing_events"),
    ):
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
        with pytest.raises(StudyError, match=message):
            load_study(tmp_path / "bad.yaml")


@needs_chromium
def test_competing_report_draws_every_chart_offline(competing: Any) -> None:
    def titled(page: Any) -> None:
        assert "Competing-risks study" in page.content()

    drawn_offline(competing[2] / "report.html", 2 * 4 + 1, titled)


def test_cli_predict_gives_incidence_per_cause(competing: Any, survival: tuple[Any, StudyRun, Any, Path],
                                               tmp_path: Path) -> None:  # fmt: skip
    wh, _, _, folder = survival
    run, _, out = competing
    wh.execute("CHECKPOINT")
    shutil.copy(folder / "wh.duckdb", tmp_path / "copy.duckdb")
    assert run.analyses[0].predictions is not None
    pid = run.analyses[0].predictions.column("person_id")[0].as_py()
    done = subprocess.run(
        [sys.executable, "-m", "carelake", "-w", f"duckdb:///{tmp_path / 'copy.duckdb'}", "predict", "--model",
         str(out / run.analyses[0].analysis_id / "model"), "--person-id", str(pid), "--out", str(tmp_path / "s.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "F(395d)" in done.stdout and "F2(1126d)" in done.stdout
    (row,) = _csv(tmp_path / "s.csv")
    f1, f2 = float(row["incidence_1126d"]), float(row["competing_incidence_1126d"])
    assert 0 < f1 < 1 and 0 < f2 < 1 and f1 + f2 < 1 and float(row["incidence_395d"]) <= f1
