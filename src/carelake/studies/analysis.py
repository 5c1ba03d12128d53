"""What a study run is made of, shared by every study type: the Analysis and StudyRun records, the cohorts and
covariates prepared once per run, each outcome's population as arrays (covariate rows, persons, ages, sexes,
subgroups), the covariate importance table and the run's provenance. `studies.run` (prediction) and
`studies.survival` (time to event) build on these.
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
from carelake.features import CovariateSettings, FeatureMatrix, extract
from carelake.models import CvResult
from carelake.models.multistate import MultiStateFit
from carelake.models.risk import LinearRisk, RiskModel
from carelake.models.survival import CompetingRisk, SurvivalCvResult, SurvivalRisk
from carelake.studies.cohorts import StudyCohort, prepare_cohorts
from carelake.studies.file import StudyFile, covariate_settings
from carelake.studies.population import StudyPopulation
from carelake.warehouse import Warehouse, quote

__all__ = [
    "AGE_BANDS",
    "Analysis",
    "MultiStateResult",
    "OutcomeData",
    "StudyRun",
    "importance_table",
    "no_events",
    "outcome_data",
    "prepare",
    "provenance",
    "sex_label",
    "slug",
    "start_run",
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
    risk: RiskModel | SurvivalRisk | CompetingRisk | None = None
    params: dict[str, Any] = field(default_factory=dict)
    cv: tuple[CvResult, ...] | tuple[SurvivalCvResult, ...] = ()
    predictions: pa.Table | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)
    importance: pa.Table | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    primary: str = "Test"  # the part the headline and charts show: Test, or Validation for an external one
    study_type: str = "prediction"
    horizons: tuple[int, ...] = ()  # survival: the days it is evaluated at

    @property
    def headline_metric(self) -> str:
        """The figure models of one outcome are ranked by: AUROC, or Harrell's C for a survival study."""
        return {"survival": "Harrell's C", "competing_risks": "Wolbers' C"}.get(self.study_type, "AUROC")

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
class MultiStateResult:
    """A multi-state analysis as run (`studies.multistate`): the states (stages, then the absorbing one), the fit,
    the horizons, the population it was run on, its tables and notes."""

    states: tuple[str, ...]
    fit: MultiStateFit | None
    horizons: tuple[int, ...]
    population: StudyPopulation
    tables: dict[str, pa.Table] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    passed_over: int = 0  # stage records the paths passed over (a count: it leaves through the disclosure rule)


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
    multistate: MultiStateResult | None = None

    @property
    def best(self) -> list[Analysis]:
        """Per outcome, the model with the highest test AUROC (Harrell's C for survival; the first of equals)."""
        out: dict[int, Analysis] = {}
        for a in self.analyses:
            auc = a.statistic(a.headline_metric)
            if auc is None:
                continue
            held = out.get(a.outcome.cohort_id)
            if held is None or auc > (held.statistic(held.headline_metric) or -1.0):
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
    """The note for an outcome without events; the population's size goes out through the disclosure rule (the
    attrition table), not in this text."""
    empty = " (it has no persons)" if population.rows.num_rows == 0 else ""
    return f"not estimable: the outcome {outcome.name!r} has no events in the study population{empty}"


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


def start_run(wh: Warehouse, sf: StudyFile, say: Callable[[str], None]) -> tuple[StudyRun, dict[int, tuple[int, int]]]:
    """A run with its cohorts and covariates prepared and no analysis yet, and the target persons' sex and birth
    year (what every study type begins with)."""
    seconds: dict[str, float] = {}
    cohorts, features, persons = prepare(wh, sf, say, seconds)
    return StudyRun(sf, cohorts, features, [], provenance(wh, sf), seconds), persons
