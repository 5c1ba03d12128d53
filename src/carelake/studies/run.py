"""`run_study`: a study file, run on a warehouse, to fitted models and their evaluation (nothing written to disk).

The heavy parts stay in the warehouse: the cohorts, the study population and the covariates are SQL; only the
population's facts and the matrix's nonzero entries come out. Then per outcome the persons are split, and per model
the hyper-parameters are chosen by cross-validation on the training persons, the model refitted, scored on both
parts and evaluated. An outcome without events, or a model that cannot be fitted, is stated in the run's notes and
the rest of the study goes on. A survival study runs through `studies.survival`; `studies.output` writes what a run
gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from carelake.evaluation import NotEstimable
from carelake.models import fit_with_cv
from carelake.models.risk import risk_model
from carelake.studies.analysis import (
    Analysis,
    StudyRun,
    importance_table,
    no_events,
    outcome_data,
    slug,
    start_run,
)
from carelake.studies.evaluate import PartData, evaluate_parts
from carelake.studies.file import StudyFile
from carelake.studies.population import study_population
from carelake.studies.split import TEST, TRAIN, split_rows
from carelake.studies.survival import run_survival
from carelake.warehouse import Warehouse

__all__ = ["run_study"]


def run_study(wh: Warehouse, sf: StudyFile, *, progress: Callable[[str], None] | None = None) -> StudyRun:
    """Run every (outcome, model) of the study on `wh`."""
    if sf.study.type in ("survival", "competing_risks"):
        return run_survival(wh, sf, progress=progress)
    say = progress or (lambda _m: None)
    study = sf.study
    run, persons = start_run(wh, sf, say)
    target, features, seconds = run.cohorts[0], run.features, run.seconds
    ids = features.reference.column("covariate_id").to_numpy().astype(np.int64)
    for outcome in [c for c in run.cohorts if c.role == "outcome"]:
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
