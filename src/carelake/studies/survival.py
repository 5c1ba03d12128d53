"""`run_survival`: a `type: survival` study file, run on a warehouse: time to the outcome, not only whether.

The study population is the prediction study's (PLP's steps, in the warehouse). Follow-up starts at the start of
time at risk: an outcome on day d of the window is an event at time d - start + 1 (an event on the first day is at
day 1, never 0), and a person without one is censored at the window's end, which the population has already cut at
the end of observation. Rows with no day at risk (observation ending before the window opens) cannot be followed
and leave, counted in the attrition. Per outcome the persons are split as for prediction (stratified by event);
per model the grid is searched on the training persons by held-out partial likelihood, the model refitted and
evaluated on both parts at the study's horizons (`studies.evaluate_survival`). A Cox model also reports its hazard
ratios and the proportional-hazards check (Schoenfeld) on the training persons.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from carelake.errors import ModelFitError, UserError
from carelake.evaluation import NotEstimable
from carelake.evaluation.survival import Survival
from carelake.features import FeatureMatrix
from carelake.models.cox import NEWTON_MAX_FEATURES, CoxPH, survival_target
from carelake.models.survival import (
    CompetingRisk,
    SurvivalFitted,
    SurvivalRisk,
    fit_survival_with_cv,
    survival_risk,
)
from carelake.studies.analysis import (
    Analysis,
    OutcomeData,
    StudyRun,
    importance_table,
    no_events,
    outcome_data,
    slug,
    start_run,
)
from carelake.studies.evaluate_competing import CompetingPart, evaluate_competing_parts
from carelake.studies.evaluate_survival import SurvivalPart, evaluate_survival_parts, time_grid
from carelake.studies.file import StudyFile
from carelake.studies.multistate import run_multistate
from carelake.studies.population import (
    competing_follow_up,
    first_days,
    follow_up,
    study_population,
    survival_population,
)
from carelake.studies.spec import ModelSpec, Study
from carelake.studies.split import TEST, TRAIN, split_rows
from carelake.warehouse import Warehouse

__all__ = ["run_survival"]

HAZARD_RATIO_ROWS = 30  # the covariates with the largest |z| in the hazard-ratio table
SCHOENFELD_COVARIATES = 20


def _cox_of(fitted: SurvivalFitted) -> tuple[CoxPH, np.ndarray] | None:
    est = fitted.estimator
    if not isinstance(est, Pipeline):
        return None
    return est.named_steps["cox"], np.asarray(est.named_steps["scale"].scale_, dtype=np.float64)


def _hazard_ratios(cox: CoxPH, scale: np.ndarray, features: FeatureMatrix) -> pa.Table:
    """Hazard ratios per unit of each covariate (the scaling undone), with Wald intervals, largest |z| first."""
    names = [str(n) for n in features.reference.column("covariate_name").to_pylist()]
    ids = features.reference.column("covariate_id").to_pylist()
    rows = []
    for j, r in enumerate(cox.hazard_ratios(names)):
        if "coef" not in r:
            continue
        s = float(scale[j]) or 1.0
        rows.append({"covariateId": int(ids[j]), "covariateName": names[j], "coefficient": r["coef"] / s,
                     "hazardRatio": float(np.exp(r["coef"] / s)), "lower": float(np.exp(r["coef_lower"] / s)),
                     "upper": float(np.exp(r["coef_upper"] / s)), "z": r["z"], "p": r["p"]})  # fmt: skip
    rows.sort(key=lambda r: -abs(r["z"]))
    return (
        pa.Table.from_pylist(rows[:HAZARD_RATIO_ROWS]) if rows else pa.table({"covariateId": pa.array([], pa.int64())})
    )


def _schoenfeld(cox: CoxPH, x: sp.csr_matrix, y: np.ndarray, features: FeatureMatrix, ratios: pa.Table) -> pa.Table:
    """The proportional-hazards test (g = 1 - Kaplan-Meier) for the covariates of the hazard-ratio table."""
    names = dict(zip(features.reference.column("covariate_id").to_pylist(),
                     features.reference.column("covariate_name").to_pylist(), strict=True))  # fmt: skip
    ids = features.reference.column("covariate_id").to_pylist()
    wanted = set(ratios.column("covariateId").to_pylist()[:SCHOENFELD_COVARIATES]) if ratios.num_rows else set()
    rows = []
    for r in cox.schoenfeld_test(x, y, "km"):
        cid = int(ids[r["covariate"]])
        if cid in wanted:
            rows.append({"covariateId": cid, "covariateName": names[cid], "statistic": r["statistic"],
                         "p": r["p"], "timeTransform": "1 - Kaplan-Meier",
                         "test": "Grambsch-Therneau score test, 1 df"})  # fmt: skip
    rows.sort(key=lambda r: r["p"])
    return pa.Table.from_pylist(rows) if rows else pa.table({"covariateId": pa.array([], pa.int64())})


def _predictions(
    analysis: Analysis,
    data: OutcomeData,
    parts: tuple[np.ndarray, np.ndarray],
    time_: np.ndarray,
    ended: tuple[str, np.ndarray],
    score: np.ndarray,
    at_horizons: dict[str, np.ndarray],
) -> pa.Table:
    """The run's per-person table (never written out): part, follow-up, how it ended, the score, and each
    `at_horizons` column (persons in neither part get NaN)."""
    train, test = parts
    used = train | test
    columns: dict[str, pa.Array] = {
        "person_id": pa.array(data.person_id, pa.int64()),
        "cohort_start_date": analysis.population.rows["cohort_start_date"],
        "evaluation": pa.array(np.where(test, "Test", np.where(train, "Train", "left out"))),
        "time": pa.array(time_),
        ended[0]: pa.array(ended[1].astype(np.int8)),
        "score": pa.array(np.where(used, score, np.nan)),
    }
    for name, values in at_horizons.items():
        columns[name] = pa.array(np.where(used, values, np.nan))
    return pa.table(columns)


def _competing_analysis(
    analysis: Analysis,
    spec: ModelSpec,
    data: OutcomeData,
    time_: np.ndarray,
    cause: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray],
    features: FeatureMatrix,
    study: Study,
) -> None:
    """Cause-specific models of the outcome and of the competing event (each chosen by its own cross-validation,
    the other cause censoring it), their incidence at the horizons, and its evaluation, into `analysis`."""
    train, test = parts
    horizons = study.horizons
    ids = features.reference.column("covariate_id").to_numpy().astype(np.int64)
    if not (cause == 1).any():
        analysis.notes.append(no_events(analysis.outcome, analysis.population))
        return
    if not (time_ >= horizons[0]).any():
        analysis.notes.append(f"not estimable: every follow-up ends before the first horizon ({horizons[0]} days)")
        return
    models: list[SurvivalRisk] = []
    for k, what in ((1, "outcome"), (2, "competing event")):
        if not (cause[train] == k).any():
            analysis.notes.append(f"not estimable: no {what} among the training persons")
            return
        try:
            fitted = fit_survival_with_cv(spec.type, data.x[train], Survival(time_[train], cause[train] == k),
                                          grid=spec.grid or None, folds=study.split.folds,
                                          seed=study.split.seed)  # fmt: skip
        except (NotEstimable, ModelFitError) as e:
            analysis.notes.append(f"not estimable ({what} model): {e.message}")
            return
        models.append(survival_risk(fitted, ids))
        if k == 1:
            analysis.params, analysis.cv = fitted.params, fitted.cv
    risk = CompetingRisk(models[0], models[1])
    analysis.risk = risk
    used = train | test
    incidence = np.zeros((time_.size, len(horizons)))
    competing_incidence = np.zeros((time_.size, len(horizons)))
    incidence[used], competing_incidence[used] = risk.incidence(data.x[used], horizons)
    score = np.zeros(time_.size)
    score[used] = risk.score(data.x[used])
    part_data = [
        CompetingPart(name, time_[m], cause[m], score[m], incidence[m], {g: v[m] for g, v in data.groups.items()})
        for name, m in (("Test", test), ("Train", train))
    ]
    analysis.tables, notes = evaluate_competing_parts(part_data, (time_[train], cause[train]), horizons,
                                                      study.evaluation.calibration_strata)  # fmt: skip
    analysis.notes += notes
    at = {f"incidence_{h}d": incidence[:, k] for k, h in enumerate(horizons)}
    at |= {f"competing_incidence_{h}d": competing_incidence[:, k] for k, h in enumerate(horizons)}
    analysis.predictions = _predictions(analysis, data, parts, time_, ("cause", cause), score, at)
    analysis.importance = importance_table(features, risk.score_model, data.x[test], study.split.seed)


def _survival_analysis(
    analysis: Analysis,
    spec: ModelSpec,
    data: OutcomeData,
    fu: Survival,
    parts: tuple[np.ndarray, np.ndarray],
    features: FeatureMatrix,
    study: Study,
    say: Callable[[str], None],
) -> None:
    """The model of one entry chosen by cross-validation on the training persons, its survival on the time grid,
    its evaluation and, for a Cox model, hazard ratios and the Schoenfeld check, into `analysis`."""
    train, test = parts
    horizons, grid = study.horizons, time_grid(study.horizons)
    ids = features.reference.column("covariate_id").to_numpy().astype(np.int64)
    outcome, population = analysis.outcome, analysis.population
    if not fu.event.any():
        analysis.notes.append(no_events(outcome, population))
        return
    if not (fu.time >= horizons[0]).any():
        analysis.notes.append(
            f"not estimable: every follow-up ends before the first horizon ({horizons[0]} days; the longest "
            f"is {int(fu.time.max())} days): set evaluation.horizons within follow-up"
        )
        return
    fu_train = Survival(fu.time[train], fu.event[train])
    t0 = time.perf_counter()
    say(f"model: {analysis.analysis_id}")
    try:
        fitted = fit_survival_with_cv(spec.type, data.x[train], fu_train, grid=spec.grid or None,
                                      folds=study.split.folds, seed=study.split.seed)  # fmt: skip
    except (NotEstimable, ModelFitError) as e:
        analysis.notes.append(f"not estimable: {e.message}")
        return
    analysis.seconds["fit"] = time.perf_counter() - t0
    risk = survival_risk(fitted, ids)
    analysis.risk, analysis.params, analysis.cv = risk, fitted.params, fitted.cv
    t0 = time.perf_counter()
    say(f"evaluation: {analysis.analysis_id}")
    score = np.zeros(fu.time.size)
    surv = np.ones((fu.time.size, grid.size))
    used = train | test
    score[used] = risk.score(data.x[used])
    surv[used] = risk.survival(data.x[used], grid)
    part_data = [
        SurvivalPart(name, Survival(fu.time[m], fu.event[m]), score[m], grid, surv[m],
                     {k: v[m] for k, v in data.groups.items()})
        for name, m in (("Test", test), ("Train", train))
    ]  # fmt: skip
    analysis.tables, notes = evaluate_survival_parts(part_data, fu_train, horizons,
                                                     study.evaluation.calibration_strata,
                                                     study.evaluation.bootstrap, study.split.seed)  # fmt: skip
    analysis.notes += notes
    cox = _cox_of(fitted)
    if cox is not None:
        model, scale = cox
        if model.covariance_ is None:
            analysis.notes.append(
                f"hazard-ratio intervals and the Schoenfeld check need a Cox model on {NEWTON_MAX_FEATURES} "
                f"covariates or fewer; this one has {ids.size}"
            )
        else:
            ratios = _hazard_ratios(model, scale, features)
            analysis.tables["hazardRatios"] = ratios
            try:
                y_train = survival_target(fu_train.time, fu_train.event)
                analysis.tables["proportionalHazards"] = _schoenfeld(
                    model, data.x[train].multiply(1.0 / np.where(scale == 0, 1.0, scale)).tocsr(), y_train,
                    features, ratios,
                )  # fmt: skip
            except UserError as e:
                analysis.notes.append(f"Schoenfeld check not run: {e.message}")
    analysis.importance = importance_table(features, risk.score_model, data.x[test], study.split.seed)
    at = {f"risk_{h}d": 1.0 - surv[:, int(np.searchsorted(grid, h))] for h in horizons}
    analysis.predictions = _predictions(analysis, data, (train, test), fu.time, ("event", fu.event), score, at)
    analysis.seconds["evaluation"] = time.perf_counter() - t0


def run_survival(wh: Warehouse, sf: StudyFile, *, progress: Callable[[str], None] | None = None) -> StudyRun:
    """Run every (outcome, model) of a survival study on `wh`."""
    say = progress or (lambda _m: None)
    study = sf.study
    horizons = study.horizons
    run, persons = start_run(wh, sf, say)
    target, features, seconds = run.cohorts[0], run.features, run.seconds
    for outcome in [c for c in run.cohorts if c.role == "outcome"]:
        t0 = time.perf_counter()
        say(f"population: {outcome.name}")
        population = survival_population(study_population(wh, target.cohort_id, outcome.cohort_id, study.population))
        seconds[f"population {outcome.name}"] = time.perf_counter() - t0
        data = outcome_data(sf, features, persons, population)
        run.notes += [n for n in data.notes if n not in run.notes]
        fu = follow_up(population)
        cause: np.ndarray | None = None
        if study.type == "competing_risks":
            competing = [c.cohort_id for c in run.cohorts if c.role == "competing"]
            t_any, cause = competing_follow_up(
                population, first_days(wh, population, competing, study.population.time_at_risk)
            )
            fu = Survival(t_any, cause == 1)
        parts = split_rows(data.person_id, data.index_day, fu.event.astype(np.float64), study.split)
        train, test = parts == TRAIN, parts == TEST
        empty = [name for name, m in (("test", test), ("training", train)) if not m.any()]
        for spec in study.models:
            analysis = Analysis(f"{slug(outcome.name)}-{spec.type}", outcome, spec.type, population,
                                study_type=study.type, horizons=horizons)  # fmt: skip
            run.analyses.append(analysis)
            if empty:
                analysis.notes.append(f"not estimable: the {empty[0]} part is empty (too few persons to split): add "
                                      "persons or change split.test_fraction")  # fmt: skip
                continue
            if cause is not None:
                t0 = time.perf_counter()
                say(f"model: {analysis.analysis_id}")
                _competing_analysis(analysis, spec, data, fu.time, cause, (train, test), features, study)
                analysis.seconds["fit and evaluation"] = time.perf_counter() - t0
            else:
                _survival_analysis(analysis, spec, data, fu, (train, test), features, study, say)
    if study.multistate is not None:
        t0 = time.perf_counter()
        say("multi-state")
        run.multistate = run_multistate(wh, study, run.cohorts)
        seconds["multi-state"] = time.perf_counter() - t0
    return run
