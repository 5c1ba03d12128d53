"""The study file: a real one loads with PLP's defaults, and every mistake is named by file, line and key."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from carelake.studies import StudyError, check_references, load_study

LIBRARY = Path(__file__).parents[1] / "data" / "circe" / "phenotypelibrary"
STUDY = """\
name: hypertension-to-mi
description: Who of those with hypertension has a myocardial infarction within a year
target:
  cohort: cohorts/target.json
outcomes:
  - cohort: cohorts/outcome.json
    name: myocardial infarction
population:
  washout_days: 365
  first_exposure_only: true
  time_at_risk: {start: 1, end: 365}
covariates:
  domains: [condition, drug, measurement]
  windows: [long_term, short_term]
split: {test_fraction: 0.25, folds: 3, seed: 7}
models:
  - type: lasso_logistic
    grid: {C: [0.01, 0.1, 1.0]}
  - type: gradient_boosting
    grid: {learning_rate: [0.05, 0.1], num_leaves: [15, 31]}
evaluation: {bootstrap: 100}
subgroups: [sex, age_band]
"""


def _write(tmp_path: Path, text: str = STUDY) -> Path:
    (tmp_path / "cohorts").mkdir(exist_ok=True)
    shutil.copy(LIBRARY / "976.json", tmp_path / "cohorts" / "target.json")
    shutil.copy(LIBRARY / "23.json", tmp_path / "cohorts" / "outcome.json")
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(StudyError) as e:
        load_study(path)
    return e.value.problems


def test_a_real_study_file_loads_with_plps_defaults(tmp_path: Path) -> None:
    sf = load_study(_write(tmp_path))
    s = sf.study
    assert (s.name, s.target.cohort, s.outcomes[0].name) == ("hypertension-to-mi", "cohorts/target.json",
                                                              "myocardial infarction")  # fmt: skip
    # Given: washout, first exposure. PLP's defaults for the rest.
    assert (s.population.washout_days, s.population.first_exposure_only) == (365, True)
    assert (s.population.remove_prior_outcome, s.population.prior_outcome_lookback_days) == (True, 99999)
    assert (s.population.min_time_at_risk_days, s.population.include_all_outcomes) == (364, True)
    assert s.population.time_at_risk.start_anchor == "cohort start"
    assert [m.type for m in s.models] == ["lasso_logistic", "gradient_boosting"]
    assert s.models[1].grid["num_leaves"] == [15, 31]
    assert check_references(sf) == []
    assert sf.line("models", 1, "grid") == 20 and sf.line("population", "washout_days") == 9


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  washout_days: 365", "  washout_dayz: 365",
         "study.yaml:9: population.washout_dayz: unknown key; the keys here are washout_days, first_exposure_only"),
        ("  washout_days: 365", "  washout_days: a year",
         "study.yaml:9: population.washout_days: Input should be a valid integer"),
        ("split: {test_fraction: 0.25,", "split: {test_fraction: 1.5,",
         "study.yaml:15: split.test_fraction: Input should be less than 1 (got 1.5)"),
        ("  - type: gradient_boosting", "  - type: random_forest",
         "study.yaml:19: models[1].type: Input should be 'lasso_logistic', 'elastic_net_logistic'"),
        ("target:\n  cohort: cohorts/target.json\n", "",
         "study.yaml:1: target: required key missing"),
        ("  cohort: cohorts/target.json", "  cohort: cohorts/target.json\n  cohort_id: 4",
         "study.yaml:3: target: give either cohort (a Circe JSON file) or cohort_id"),
        ("subgroups: [sex, age_band]", "subgroups: [sex, shoe_size]",
         "study.yaml:22: subgroups: unknown subgroup 'shoe_size'"),
    ],
)  # fmt: skip
def test_each_mistake_is_named_by_line_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in STUDY
    problems = _problems(_write(tmp_path, STUDY.replace(old, new)))
    assert any(expected in p for p in problems), problems


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = STUDY.replace("washout_days: 365", "washout_days: -1").replace("folds: 3", "folds: 1")
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 2
    assert "study.yaml:9: population.washout_days: Input should be greater than or equal to 0 (got -1)" in problems[0]
    assert "study.yaml:15: split.folds: Input should be greater than or equal to 2 (got 1)" in problems[1]


def test_references_are_checked_without_a_warehouse(tmp_path: Path) -> None:
    path = _write(tmp_path, STUDY.replace("cohorts/outcome.json", "cohorts/missing.json"))
    (tmp_path / "cohorts" / "target.json").write_text('{"PrimaryCriteria": 3}', encoding="utf-8")
    path.write_text(path.read_text().replace("domains: [condition,", "domains: [labs, condition,"))
    problems = check_references(load_study(path))
    assert problems[0].startswith(f"{path}:4: target.cohort: target.json is not a Circe cohort definition")
    assert problems[1] == f"{path}:6: outcomes[0].cohort: no cohort file {tmp_path / 'cohorts' / 'missing.json'}"
    assert problems[2] == f"{path}:12: covariates: unknown domains: labs"


def test_not_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, STUDY.replace("models:", "models: [unclosed")))
    assert len(problems) == 1 and "not valid YAML" in problems[0] and "study.yaml:" in problems[0]


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = _write(tmp_path)
    done = subprocess.run([sys.executable, "-m", "carelake", "study", "validate", str(good)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "study 'hypertension-to-mi' is valid: 1 outcome(s), models lasso_logistic, gradient_boosting" in done.stdout
    good.write_text(STUDY.replace("folds: 3", "folds: two"), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "carelake", "study", "validate", str(good)],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2
    assert "split.folds: Input should be a valid integer" in bad.stderr and "hint:" in bad.stderr
