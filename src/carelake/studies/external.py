"""A saved model on another database: scoring persons (`score`) and external validation (`validate_external`).

Both read the study file and cohort files saved with the model, generate the target cohort in this warehouse,
extract the same covariate settings and align the matrix to the model's covariate ids (a covariate this database
lacks is zero for everyone, and is counted in the notes). External validation then builds the study population for
the model's outcome and evaluates every person in it: PLP's evaluationType "Validation", the same tables and report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from carelake.errors import ConfigError
from carelake.features import FeatureMatrix, extract
from carelake.models.artifact import SavedModel
from carelake.models.risk import align
from carelake.models.survival import CompetingRisk, SurvivalRisk
from carelake.studies.analysis import (
    Analysis,
    StudyRun,
    importance_table,
    no_events,
    outcome_data,
    prepare,
    provenance,
)
from carelake.studies.cohorts import StudyCohort, cohort_name, prepare_cohorts
from carelake.studies.evaluate import PartData, evaluate_parts
from carelake.studies.evaluate_survival import SurvivalPart, evaluate_survival_parts, main_horizon, time_grid
from carelake.studies.file import StudyFile, covariate_settings, load_study
from carelake.studies.population import follow_up, study_population, survival_population
from carelake.warehouse import Warehouse, quote

__all__ = ["Scores", "score", "validate_external"]


@dataclass
class Scores:
    """Risks per scored row, each person's largest contributions, and what could not be scored."""

    table: pa.Table
    missing_covariates: int
    not_in_cohort: list[int] = field(default_factory=list)


def _study(saved: SavedModel) -> StudyFile:
    if not saved.study_file.is_file():
        raise ConfigError(f"{saved.path}: no study.yaml beside the model", hint="copy the whole model folder")
    return load_study(saved.study_file)


def _aligned(saved: SavedModel, features: FeatureMatrix) -> tuple[np.ndarray, int]:
    have = features.reference.column("covariate_id").to_numpy().astype(np.int64)
    missing = int(np.setdiff1d(saved.risk.covariate_ids, have).size)
    return align(features.matrix, have, saved.risk.covariate_ids), missing


def score(
    wh: Warehouse,
    saved: SavedModel,
    *,
    cohort_id: int | None = None,
    person_ids: Sequence[int] | None = None,
    top: int = 3,
) -> Scores:
    """Risks for the rows of cohort `cohort_id`, or of the model's target cohort (for `person_ids` only, if given)."""
    sf = _study(saved)
    if cohort_id is None:
        cohort_id = prepare_cohorts(wh, sf)[0].cohort_id
    else:
        n = wh.fetch_scalar(
            f"SELECT COUNT(*) FROM {quote(wh.results_schema)}.cohort WHERE cohort_definition_id = {int(cohort_id)}"
        )
        if not n:
            raise ConfigError(
                f"cohort {cohort_id} has no rows in {wh.results_schema}.cohort",
                hint="generate it first (carelake cohort generate), or leave out --cohort to use the model's target",
            )
    features = extract(wh, cohort_id, covariate_settings(sf))
    x, missing = _aligned(saved, features)
    rows = features.rows
    pid = rows.column("person_id").to_numpy().astype(np.int64)
    keep = np.ones(pid.size, dtype=bool)
    absent: list[int] = []
    if person_ids is not None:
        wanted = np.asarray(sorted(set(person_ids)), dtype=np.int64)
        keep = np.isin(pid, wanted)
        absent = [int(p) for p in np.setdiff1d(wanted, pid)]
    index = np.nonzero(keep)[0]
    x = x[index]
    extra: dict[str, pa.Array] = {}
    if isinstance(saved.risk, CompetingRisk):
        # Cumulative incidence of the outcome and of the competing event at each horizon; `risk`: the outcome's at
        # the main one.
        horizons = sf.study.horizons
        f1, f2 = saved.risk.incidence(x, horizons)
        risk = f1[:, horizons.index(main_horizon(horizons))]
        extra = {f"incidence_{h}d": pa.array(f1[:, k]) for k, h in enumerate(horizons)}
        extra |= {f"competing_incidence_{h}d": pa.array(f2[:, k]) for k, h in enumerate(horizons)}
    elif isinstance(saved.risk, SurvivalRisk):
        # A survival model gives survival at each of its study's horizons; `risk` is 1 - S at the main one.
        horizons = sf.study.horizons
        surv = saved.risk.survival(x, horizons)
        risk = 1.0 - surv[:, horizons.index(main_horizon(horizons))]
        extra = {f"survival_{h}d": pa.array(surv[:, k]) for k, h in enumerate(horizons)}
    else:
        risk = saved.risk.predict(x)
    contrib = saved.risk.contributions(x).tocsr()
    names = saved.covariate_names
    ids = saved.risk.covariate_ids
    tops: list[list[dict[str, object]]] = []
    for i in range(contrib.shape[0]):
        start, end = contrib.indptr[i], contrib.indptr[i + 1]
        cols, vals = contrib.indices[start:end], contrib.data[start:end]
        order = np.argsort(-np.abs(vals), kind="stable")[:top]
        tops.append([{"covariate_id": int(ids[cols[j]]), "covariate_name": names.get(int(ids[cols[j]]), ""),
                      "contribution": float(vals[j])} for j in order])  # fmt: skip
    table = pa.table(
        {
            "person_id": pa.array(pid[index]),
            "cohort_start_date": rows.column("cohort_start_date").take(pa.array(index)),
            "risk": pa.array(risk),
            **extra,
            "top_contributions": pa.array(tops),
        }
    )
    return Scores(table, missing, absent)


def validate_external(wh: Warehouse, saved: SavedModel, *, progress: Callable[[str], None] | None = None) -> StudyRun:
    """Evaluate `saved` on this warehouse's study population for its outcome (every person: "Validation")."""
    say = progress or (lambda _m: None)
    sf = _study(saved)
    study = sf.study
    if isinstance(saved.risk, CompetingRisk):
        raise ConfigError(
            f"{saved.path}: external validation of a competing-risks model is not built yet",
            hint="score persons with carelake predict; validate the survival form of the study",
        )
    seconds: dict[str, float] = {}
    name = saved.meta.get("outcome")
    names = [cohort_name(o, f"cohort {o.cohort_id}") for o in study.outcomes]
    if name not in names:
        raise ConfigError(
            f"{saved.path}: the model's outcome {name!r} is not among the study file's outcomes ({', '.join(names)})",
            hint="the model folder's study.yaml and model.json must come from the same study run",
        )
    cohorts, features, persons = prepare(wh, sf, say, seconds)
    target = cohorts[0]
    outcome: StudyCohort = next(c for c in cohorts if c.role == "outcome" and c.name == name)
    run = StudyRun(sf, [target, outcome], features, [], provenance(wh, sf), seconds)
    population = study_population(wh, target.cohort_id, outcome.cohort_id, study.population)
    survival = isinstance(saved.risk, SurvivalRisk)
    if survival:
        population = survival_population(population)
    data = outcome_data(sf, features, persons, population)
    analysis = Analysis(str(saved.meta.get("analysis", saved.risk.model_type)), outcome, saved.risk.model_type,
                        population, risk=saved.risk, params=dict(saved.risk.params), primary="Validation",
                        study_type=study.type, horizons=study.horizons if survival else ())  # fmt: skip
    run.analyses.append(analysis)
    run.notes += data.notes
    if int(data.y.sum()) == 0:
        analysis.notes.append(no_events(outcome, population))
        return run
    x, missing = _aligned(saved, FeatureMatrix(data.x, features.reference, features.rows, features.cohort_id))
    if missing:
        analysis.notes.append(f"{missing} of the model's {saved.risk.covariate_ids.size} covariates never occur in "
                              "this database; they count as absent (0) for everyone")  # fmt: skip
    t0 = time.perf_counter()
    say("evaluation")
    if isinstance(saved.risk, SurvivalRisk):
        # Censoring weights from the validation persons themselves: the training part is not here.
        fu, grid = follow_up(population), time_grid(study.horizons)
        surv = saved.risk.survival(x, grid)
        p = 1.0 - surv[:, int(np.searchsorted(grid, main_horizon(study.horizons)))]
        survival_part = SurvivalPart("Validation", fu, saved.risk.score(x), grid, surv, data.groups)
        analysis.tables, notes = evaluate_survival_parts([survival_part], fu, study.horizons,
                                                         study.evaluation.calibration_strata,
                                                         study.evaluation.bootstrap, study.split.seed)  # fmt: skip
    else:
        p = saved.risk.predict(x)
        part = PartData("Validation", data.y, p, data.ages, data.sexes, data.groups)
        analysis.tables, notes = evaluate_parts([part], study.evaluation, study.split.seed)
    analysis.notes += notes
    reference = pa.table(
        {
            "covariate_id": pa.array(saved.risk.covariate_ids),
            "covariate_name": pa.array([saved.covariate_names.get(int(c), "") for c in saved.risk.covariate_ids]),
        }
    )
    model_features = FeatureMatrix(x, reference, features.rows, features.cohort_id)
    score_model = saved.risk.score_model if isinstance(saved.risk, SurvivalRisk) else saved.risk
    analysis.importance = importance_table(model_features, score_model, x, study.split.seed)
    analysis.predictions = pa.table(
        {"person_id": pa.array(data.person_id), "cohort_start_date": population.rows["cohort_start_date"],
         "evaluation": pa.array(["Validation"] * data.y.size), "outcome": pa.array(data.y.astype(np.int8)),
         "value": pa.array(p)}
    )  # fmt: skip
    analysis.seconds["evaluation"] = time.perf_counter() - t0
    run.seconds["evaluation"] = time.perf_counter() - t0
    return run
