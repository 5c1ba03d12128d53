"""`run_study`: a study file, run on a warehouse, to fitted models and their evaluation (nothing written to disk).

The heavy parts stay in the warehouse: the cohorts, the study population and the covariates are SQL; only the
population's facts and the matrix's nonzero entries come out. Then per outcome the persons are split, and per model
the hyper-parameters are chosen by cross-validation on the training persons, the model refitted, scored on both
parts and evaluated. An outcome without events, or a model that cannot be fitted, is stated in the run's notes and
the rest of the study goes on. `studies.output` writes what a run gives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import scipy.sparse as sp

import carelake
from carelake.evaluation import NotEstimable
from carelake.features import CovariateSettings, FeatureMatrix, extract
from carelake.models import CvResult, fit_with_cv
from carelake.models.risk import LinearRisk, RiskModel, risk_model
from carelake.studies.cohorts import StudyCohort, prepare_cohorts
from carelake.studies.evaluate import PartData, evaluate_parts
from carelake.studies.file import StudyFile, covariate_settings
from carelake.studies.population import StudyPopulation, study_population
from carelake.studies.split import TEST, TRAIN, split_rows
from carelake.warehouse import Warehouse, quote

__all__ = [
    "AGE_BANDS",
    "Analysis",
    "OutcomeData",
    "StudyRun",
    "importance_table",
    "no_events",
    "outcome_data",
    "prepare",
    "provenance",
    "run_study",
    "sex_label",
    "target_persons",
]

log = logging.getLogger(__name__)

# The age-band subgroup's bands (years at index; the last is open).
AGE_BANDS = ((0, 18), (18, 40), (40, 65), (65, 80), (80, 200))
_SEXES = {8507: "Male", 8532: "Female"}
_CONTRIBUTION_SAMPLE = 5_000


def sex_label(concept_id: int) -> str:
    return _SEXES.get(int(concept_id), "Unknown")


def _band(age: float) -> str:
    for low, high in AGE_BANDS:
        if low <= age < high:
            return f"{low}+" if high >= 200 else f"{low}-{high - 1}"
    return "unknown"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "outcome"


@dataclass
class Analysis:
    """One outcome and one model: the population, the saved model, its predictions and evaluation tables."""

    analysis_id: str
    outcome: StudyCohort
    model_type: str
    population: StudyPopulation
    risk: RiskModel | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cv: tuple[CvResult, ...] = ()
    predictions: pa.Table | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)
    importance: pa.Table | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    primary: str = "Test"  # the part the headline and charts show: Test, or Validation for an external one

    def statistic(self, metric: str, evaluation: str | None = None) -> float | None:
        evaluation = evaluation or self.primary
        table = self.tables.get("evaluationStatistics")
        if table is None:
            return None
        for row in table.to_pylist():
            if row["evaluation"] == evaluation and row["metric"] == metric:
                return None if row["value"] is None else float(row["value"])
        return None


@dataclass
class StudyRun:
    """A study as run: the file, its cohorts, the covariates, one Analysis per (outcome, model), provenance."""

    study_file: StudyFile
    cohorts: list[StudyCohort]
    features: FeatureMatrix
    analyses: list[Analysis]
    provenance: dict[str, Any]
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> list[Analysis]:
        """Per outcome, the model with the highest test AUROC (the first of equals)."""
        out: dict[int, Analysis] = {}
        for a in self.analyses:
            auc = a.statistic("AUROC")
            if auc is None:
                continue
            held = out.get(a.outcome.cohort_id)
            if held is None or auc > (held.statistic("AUROC") or -1.0):
                out[a.outcome.cohort_id] = a
        return list(out.values())


def _days(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    return np.asarray(column.to_numpy(zero_copy_only=False).astype("datetime64[D]").astype(np.int64))


def _matrix_rows(features: FeatureMatrix, population: StudyPopulation) -> npt.NDArray[np.int64]:
    """The matrix row of each population row (both in (person, start, end) order; the population is a subset)."""
    rows = features.rows
    keys = {
        k: i
        for i, k in enumerate(
            zip(
                rows.column("person_id").to_numpy(),
                _days(rows.column("cohort_start_date")),
                _days(rows.column("cohort_end_date")),
                strict=True,
            )
        )
    }
    pop = population.rows
    want = zip(
        pop.column("person_id").to_numpy(),
        _days(pop.column("cohort_start_date")),
        _days(pop.column("cohort_end_date")),
        strict=True,
    )
    return np.array([keys[k] for k in want], dtype=np.int64)


def target_persons(wh: Warehouse, target_id: int) -> dict[int, tuple[int, int]]:
    """person_id -> (gender concept, year of birth) for the target cohort's persons."""
    cdm, results = quote(wh.cdm_schema), quote(wh.results_schema)
    got = wh.fetch_arrow(
        f"SELECT p.person_id, p.gender_concept_id, p.year_of_birth FROM {cdm}.person p WHERE p.person_id IN "
        f"(SELECT subject_id FROM {results}.cohort WHERE cohort_definition_id = {int(target_id)})"
    )
    return {
        int(i): (int(g or 0), int(y or 0))
        for i, g, y in zip(
            got.column("person_id").to_pylist(),
            got.column("gender_concept_id").to_pylist(),
            got.column("year_of_birth").to_pylist(),
            strict=True,
        )
    }


def provenance(wh: Warehouse, sf: StudyFile) -> dict[str, Any]:
    """Where the data came from: engine, CDM source, row counts, when, which carelake, which study file."""
    cdm = quote(wh.cdm_schema)
    source: dict[str, Any] = {}
    if wh.table_exists(wh.cdm_schema, "cdm_source"):
        rows = wh.fetch_arrow(
            f"SELECT cdm_source_name, cdm_source_abbreviation, cdm_version, source_release_date, "
            f"cdm_release_date FROM {cdm}.cdm_source"
        ).to_pylist()
        if rows:
            source = {k: (None if v is None else str(v)) for k, v in rows[0].items()}
    counts = {t: wh.row_count(wh.cdm_schema, t) for t in ("person", "observation_period")}
    return {
        "carelake_version": carelake.__version__,
        "engine": wh.url.backend,
        "cdm_schema": wh.cdm_schema,
        "results_schema": wh.results_schema,
        "cdm_source": source,
        "row_counts": counts,
        "run_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "study_file": str(sf.path),
        "study_sha256": hashlib.sha256(sf.path.read_bytes()).hexdigest(),
    }


def _subgroups(
    sf: StudyFile, features: FeatureMatrix, x: sp.csr_matrix, ages: npt.NDArray[np.float64], sexes: npt.NDArray[Any]
) -> tuple[dict[str, npt.NDArray[np.object_]], list[str]]:
    out: dict[str, npt.NDArray[np.object_]] = {}
    notes: list[str] = []
    for name in sf.study.subgroups:
        if name == "sex":
            out["sex"] = sexes.astype(object)
        elif name == "age_band":
            out["age band"] = np.array([_band(a) for a in ages], dtype=object)
        else:
            cid = int(name.removeprefix("covariate:"))
            try:
                j = features.column(cid)
            except KeyError:
                notes.append(f"subgroup {name}: no person in the target cohort has covariate {cid}; left out")
                continue
            label = str(features.reference.column("covariate_name")[j])
            present = np.asarray((x[:, j] != 0).toarray()).ravel()
            out[label] = np.where(present, "with", "without").astype(object)
    return out, notes


def importance_table(features: FeatureMatrix, risk: RiskModel, x_test: sp.csr_matrix, seed: int) -> pa.Table:
    """Per covariate: the model's own importance and the mean absolute contribution on (a sample of) test persons."""
    rows = x_test.shape[0]
    if rows > _CONTRIBUTION_SAMPLE:
        pick = np.sort(np.random.default_rng(seed).choice(rows, _CONTRIBUTION_SAMPLE, replace=False))
        x_test = x_test[pick]
    contrib = risk.contributions(x_test)
    mean_abs = np.asarray(abs(contrib).mean(axis=0)).ravel() if contrib.shape[0] else np.zeros(contrib.shape[1])
    ref = features.reference
    table = pa.table(
        {
            "covariate_id": ref.column("covariate_id"),
            "covariate_name": ref.column("covariate_name"),
            "importance": pa.array(risk.importance()),
            "coefficient": pa.array(
                risk.coefficients if isinstance(risk, LinearRisk) else [None] * ref.num_rows, pa.float64()
            ),
            "mean_abs_contribution": pa.array(mean_abs),
        }
    )
    keep = np.nonzero((table.column("importance").to_numpy() != 0) | (mean_abs != 0))[0]
    order = keep[np.argsort(-mean_abs[keep], kind="stable")]
    return table.take(pa.array(order))


@dataclass(frozen=True)
class OutcomeData:
    """One outcome's study population as arrays: covariate rows, labels, persons, index days, ages, sexes, the
    subgroup levels, and notes on subgroups that could not be formed."""

    x: sp.csr_matrix
    y: npt.NDArray[np.float64]
    person_id: npt.NDArray[np.int64]
    index_day: npt.NDArray[np.int64]
    ages: npt.NDArray[np.float64]
    sexes: npt.NDArray[np.object_]
    groups: dict[str, npt.NDArray[np.object_]]
    notes: list[str]


def outcome_data(
    sf: StudyFile, features: FeatureMatrix, persons: dict[int, tuple[int, int]], population: StudyPopulation
) -> OutcomeData:
    x = features.matrix[_matrix_rows(features, population)]
    pid = np.asarray(population.rows.column("person_id").to_numpy(), dtype=np.int64)
    index_day = _days(population.rows.column("cohort_start_date"))
    info = [persons.get(int(p), (0, 0)) for p in pid]
    index_year = index_day.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    ages = np.array([yr - b if b else np.nan for yr, (_, b) in zip(index_year, info, strict=True)], float)
    sexes = np.array([sex_label(g) for g, _ in info], dtype=object)
    groups, notes = _subgroups(sf, features, x, ages, sexes)
    return OutcomeData(x, population.labels, pid, index_day, ages, sexes, groups, notes)


def no_events(outcome: StudyCohort, population: StudyPopulation) -> str:
    return (
        f"not estimable: the outcome {outcome.name!r} has no events in the study population "
        f"({population.rows.num_rows} persons)"
    )


def prepare(
    wh: Warehouse, sf: StudyFile, say: Callable[[str], None], seconds: dict[str, float]
) -> tuple[list[StudyCohort], FeatureMatrix, dict[int, tuple[int, int]]]:
    """The study's cohorts, the target cohort's covariates and its persons' sex and birth year, timed."""
    t0 = time.perf_counter()
    say("cohorts")
    cohorts = prepare_cohorts(wh, sf)
    seconds["cohorts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("covariates")
    settings: CovariateSettings = covariate_settings(sf)
    features = extract(wh, cohorts[0].cohort_id, settings)
    persons = target_persons(wh, cohorts[0].cohort_id)
    seconds["covariates"] = time.perf_counter() - t0
    return cohorts, features, persons


def run_study(wh: Warehouse, sf: StudyFile, *, progress: Callable[[str], None] | None = None) -> StudyRun:
    """Run every (outcome, model) of the study on `wh`."""
    say = progress or (lambda _m: None)
    study = sf.study
    seconds: dict[str, float] = {}
    cohorts, features, persons = prepare(wh, sf, say, seconds)
    target = cohorts[0]
    run = StudyRun(sf, cohorts, features, [], provenance(wh, sf), seconds)
    ids = features.reference.column("covariate_id").to_numpy().astype(np.int64)
    for outcome in cohorts[1:]:
        t0 = time.perf_counter()
        say(f"population: {outcome.name}")
        population = study_population(wh, target.cohort_id, outcome.cohort_id, study.population)
        seconds[f"population {outcome.name}"] = time.perf_counter() - t0
        data = outcome_data(sf, features, persons, population)
        x, y, pid, ages, sexes, groups = data.x, data.y, data.person_id, data.ages, data.sexes, data.groups
        parts = split_rows(pid, data.index_day, y, study.split)
        group_notes = data.notes
        run.notes += [n for n in group_notes if n not in run.notes]
        for spec in study.models:
            analysis = Analysis(f"{slug(outcome.name)}-{spec.type}", outcome, spec.type, population)
            run.analyses.append(analysis)
            if int(y.sum()) == 0:
                analysis.notes.append(no_events(outcome, population))
                continue
            train, test = parts == TRAIN, parts == TEST
            t0 = time.perf_counter()
            say(f"model: {analysis.analysis_id}")
            try:
                fitted = fit_with_cv(
                    spec.type,
                    x[train],
                    y[train],
                    grid=spec.grid or None,
                    folds=study.split.folds,
                    seed=study.split.seed,
                )
            except NotEstimable as e:
                analysis.notes.append(f"not estimable: {e}")
                continue
            analysis.seconds["fit"] = time.perf_counter() - t0
            risk = risk_model(fitted, ids)
            analysis.risk, analysis.params, analysis.cv = risk, fitted.params, fitted.cv
            t0 = time.perf_counter()
            say(f"evaluation: {analysis.analysis_id}")
            p = np.zeros(y.size)
            p[train | test] = risk.predict(x[train | test])
            part_data = [
                PartData(name, y[mask], risk_p, ages[mask], sexes[mask], {k: v[mask] for k, v in groups.items()})
                for name, mask, risk_p in (
                    ("Test", test, p[test]),
                    ("Train", train, p[train]),
                    ("CV", train, fitted.cv_predictions),
                )
            ]
            analysis.tables, notes = evaluate_parts(part_data, study.evaluation, study.split.seed)
            analysis.notes += notes
            analysis.importance = importance_table(features, risk, x[test], study.split.seed)
            kind = np.where(test, "Test", np.where(train, "Train", "left out"))
            analysis.predictions = pa.table(
                {
                    "person_id": pa.array(pid, pa.int64()),
                    "cohort_start_date": population.rows["cohort_start_date"],
                    "evaluation": pa.array(kind),
                    "outcome": pa.array(y.astype(np.int8)),
                    "value": pa.array(np.where(train | test, p, np.nan)),
                }
            )
            analysis.seconds["evaluation"] = time.perf_counter() - t0
    return run
