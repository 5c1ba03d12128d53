"""A whole study on 3,000 simulated persons: PLP's tables written with small counts withheld, saved models that score
exactly as the run did, and the failures a user meets (no events, one-class subgroup, foreign model) stated."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from browser import drawn_offline, needs_chromium
from carelake.errors import ConfigError
from carelake.evaluation import auroc
from carelake.models.artifact import load_model
from carelake.models.risk import align
from carelake.privacy.disclosure import DisclosureRule
from carelake.reports import publish
from carelake.studies import load_study
from carelake.studies.output import TABLE_COUNTS
from carelake.studies.run import StudyRun, run_study
from carelake.synth import synthesize
from carelake.warehouse import connect
from simulated import EXAMPLE, load_simulated

PLP_COLUMNS = {
    "thresholdSummary": ["predictionThreshold", "preferenceThreshold", "positiveCount", "truePositiveCount",
                         "sensitivity", "specificity", "positivePredictiveValue"],
    "calibrationSummary": ["predictionThreshold", "PersonCountAtRisk", "PersonCountWithOutcome",
                           "averagePredictedProbability", "observedIncidence"],
    "demographicSummary": ["ageGroup", "genGroup", "PersonCountAtRisk", "PersonCountWithOutcome",
                           "averagePredictedProbability"],
    "predictionDistribution": ["class", "PersonCount", "averagePredictedProbability", "MedianPredictedProbability"],
    "evaluationStatistics": ["metric", "value"],
}  # fmt: skip


@pytest.fixture(scope="module")
def study(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("study")
    wh = load_simulated(connect(f"duckdb:///{folder / 'wh.duckdb'}"), simulated)
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["evaluation"]["bootstrap"] = 20
    spec["subgroups"] = ["sex", "age_band", "covariate:316139101"]  # heart failure any time prior
    shutil.copytree(EXAMPLE.parent / "cohorts", folder / "cohorts")
    (folder / "study.yaml").write_text(yaml.safe_dump(spec))
    sf = load_study(folder / "study.yaml")
    run = run_study(wh, sf)
    results = publish(run, folder / "out", DisclosureRule())
    yield wh, run, results, folder / "out"
    wh.close()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_tables_have_plps_columns_and_no_small_count(study: tuple[Any, StudyRun, dict[str, Any], Path]) -> None:
    _, run, results, out = study
    assert [a["analysis"] for a in results["analyses"]] == [
        "heart_failure_admission-lasso_logistic", "heart_failure_admission-gradient_boosting",
        "death-lasso_logistic", "death-gradient_boosting",
    ]  # fmt: skip
    withheld = 0
    for a in run.analyses:
        folder = out / a.analysis_id
        for table, columns in PLP_COLUMNS.items():
            rows = _csv(folder / f"{table}.csv")
            assert rows and set(columns) <= set(rows[0]), table
            assert {r["evaluation"] for r in rows} == {"Test", "Train", "CV"}
        for table, (counts, _) in TABLE_COUNTS.items():
            if table.startswith(("survival", "incidence")):
                continue  # a time-to-event study's (tests/studies/test_survival_study.py)
            for r in _csv(folder / f"{table}.csv"):
                for c in counts:
                    if "-" not in c and r[c] != "":
                        assert not 0 < int(r[c]) < 5, (table, c, r)
                withheld += all(r[c] == "" for c in counts if "-" not in c)
        for r in _csv(folder / "evaluationStatistics.csv") + _csv(folder / "subgroupStatistics.csv"):
            if r["metric"] in ("populationSize", "outcomeCount") and r["value"]:
                assert not 0 < float(r["value"]) < 5, r
    assert withheld > 0  # a threshold near 1 flags fewer than 5 persons: the rule had something to hide
    for r in _csv(out / "attrition.csv"):
        assert all(r[c] == "" or not 0 < int(r[c]) < 5 for c in ("targetCount", "uniquePeople", "outcomes"))


def test_models_are_useful_and_saved_models_score_as_the_run(study: tuple[Any, StudyRun, dict[str, Any], Path]) -> None:
    _, run, results, out = study
    death = [a for a in results["analyses"] if a["outcome"] == "Death"]
    assert all(a["test_auroc"] > 0.7 for a in death), death  # age and comorbidity drive mortality (8 test deaths)
    for a in run.analyses:
        assert a.risk is not None and a.predictions is not None
        saved = load_model(out / a.analysis_id / "model")
        assert (out / a.analysis_id / "model" / "study.yaml").is_file()
        assert saved.provenance["row_counts"]["person"] == 3000
        x = align(run.features.matrix, run.features.reference.column("covariate_id").to_numpy(),
                  saved.risk.covariate_ids)  # fmt: skip
        rows = {(p, d): i for i, (p, d) in enumerate(zip(run.features.rows.column("person_id").to_pylist(),
                run.features.rows.column("cohort_start_date").to_pylist(), strict=True))}  # fmt: skip
        pred = a.predictions.to_pylist()
        test = [r for r in pred if r["evaluation"] == "Test"]
        got = saved.risk.predict(x[[rows[(r["person_id"], r["cohort_start_date"])] for r in test]])
        assert np.array_equal(got, np.array([r["value"] for r in test]))
        assert a.statistic("AUROC") == pytest.approx(auroc([r["outcome"] for r in test], got), abs=1e-12)


def test_subgroup_with_one_class_is_stated(study: tuple[Any, StudyRun, dict[str, Any], Path]) -> None:
    out = study[3]
    rows = _csv(out / "death-lasso_logistic" / "subgroupStatistics.csv")
    young = [r for r in rows if r["subgroup"] == "age band" and r["level"] == "0-17" and r["metric"] == "AUROC"]
    assert young and young[0]["value"] == "" and young[0]["note"]  # no child dies: not estimable, or withheld
    hf = {r["level"] for r in rows if r["subgroup"].endswith("Heart failure")}
    assert hf == {"with", "without"}


def test_report_page_and_results(study: tuple[Any, StudyRun, dict[str, Any], Path]) -> None:
    _, run, results, out = study
    page = (out / "report.html").read_text()
    assert results["report"] == str(out / "report.html")
    assert "TRIPOD+AI" in page and "Model card" in page and "author to fill" in page
    assert "http://" not in page.split("<script>", 1)[0] and 'src="http' not in page
    assert page.count('data-chart="') == 2 + 7 * len([a for a in run.analyses if a.risk is not None])
    assert json.loads((out / "results.json").read_text())["best"] == results["best"]


def test_no_events_and_a_foreign_model_are_clear(
    study: tuple[Any, StudyRun, dict[str, Any], Path], tmp_path: Path
) -> None:
    wh, run, _, out = study
    spec = yaml.safe_load(run.study_file.path.read_text())
    never = json.loads((run.study_file.path.parent / "cohorts" / "death.json").read_text())
    never["PrimaryCriteria"]["CriteriaList"] = [{"ConditionOccurrence": {"CodesetId": 0}}]
    never["ConceptSets"] = [{"id": 0, "name": "Sprain", "expression": {"items": [{"concept": {"CONCEPT_ID": 81151},
                             "includeDescendants": False, "isExcluded": False}]}}]  # fmt: skip
    never["InclusionRules"] = [{"name": "never", "expression": {"Type": "ALL", "CriteriaList": [], "Groups": [],
                                "DemographicCriteriaList": [{"Age": {"Value": 150, "Op": "gt"}}]}}]  # fmt: skip
    (tmp_path / "cohorts").mkdir()
    (tmp_path / "cohorts" / "never.json").write_text(json.dumps(never))
    shutil.copy(run.study_file.path.parent / "cohorts" / "observed_2021_01_01.json", tmp_path / "cohorts")
    spec["target"]["cohort"] = "cohorts/observed_2021_01_01.json"
    spec["outcomes"] = [{"cohort": "cohorts/never.json", "name": "Never"}]
    spec["models"] = spec["models"][:1]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    again = run_study(wh, load_study(tmp_path / "s.yaml"))
    results = publish(again, tmp_path / "out", DisclosureRule())
    assert results["analyses"][0]["test_auroc"] is None
    assert "no events" in results["analyses"][0]["notes"][0] and "'Never'" in results["analyses"][0]["notes"][0]
    assert (tmp_path / "out" / "report.html").is_file()

    model = tmp_path / "model"
    shutil.copytree(out / "death-lasso_logistic" / "model", model)
    meta = json.loads((model / "model.json").read_text())
    meta.update(format=99, carelake_version="9.9.9")
    (model / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"model format 99 written by carelake 9\.9\.9; this is carelake .*format 1"):
        load_model(model)
    with pytest.raises(ConfigError, match="not a carelake model directory"):
        load_model(tmp_path)


def test_cli_study_run_refuses_a_missing_cohort(tmp_path: Path) -> None:
    spec = yaml.safe_load(EXAMPLE.read_text())
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))  # the cohort files are not beside it
    done = subprocess.run(
        [sys.executable, "-m", "carelake", "-w", f"duckdb:///{tmp_path / 'wh.duckdb'}", "study", "run",
         str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "s.yaml:" in done.stderr and "target.cohort: no cohort file" in done.stderr
    assert not (tmp_path / "out").exists()


@needs_chromium
def test_report_draws_every_chart_in_chromium_offline(study: tuple[Any, StudyRun, dict[str, Any], Path]) -> None:
    def tripod(page: Any) -> None:
        assert page.locator("#tripod").count() == 1

    drawn_offline(study[3] / "report.html", 30, tripod)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "carelake", *args], capture_output=True, text=True, check=False)


def test_external_validation_and_predict_on_another_database(
    study: tuple[Any, StudyRun, dict[str, Any], Path], tmp_path: Path
) -> None:
    out = study[3]
    other = tmp_path / "other"
    synthesize(2000, 9, other, "omop")
    url = f"duckdb:///{tmp_path / 'other.duckdb'}"
    load_simulated(connect(url), other).close()
    model = out / "death-lasso_logistic" / "model"
    ext = str(tmp_path / "ext")
    done = _cli("-w", url, "study", "validate-external", "--model", str(model), "--out", ext, "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    (a,) = got["analyses"]
    assert a["evaluation"] == "Validation" and a["population"] == 2000 and a["test_auroc"] > 0.7
    assert got["provenance"]["row_counts"]["person"] == 2000  # the validation database's, not the training one's
    rows = _csv(tmp_path / "ext" / "death-lasso_logistic" / "evaluationStatistics.csv")
    assert {r["evaluation"] for r in rows} == {"Validation"}
    assert not (tmp_path / "ext" / "death-lasso_logistic" / "model").exists()
    assert (tmp_path / "ext" / "report.html").is_file()

    done = _cli("-w", url, "predict", "--model", str(model), "--person-id", "3", "--person-id", "11",
                "--person-id", "987654321", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert [s["person_id"] for s in scores["scores"]] == [3, 11] and scores["not_in_cohort"] == [987654321]
    assert all(0 < s["risk"] < 1 and len(s["top_contributions"]) <= 3 for s in scores["scores"])
    bad = _cli("-w", url, "predict", "--model", str(tmp_path), "--json")
    assert bad.returncode == 2 and "not a carelake model directory" in bad.stderr
