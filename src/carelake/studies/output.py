"""Writing a study run: PLP's tables as CSV, a saved model per analysis, and results.json, all through the one
disclosure rule.

    OUT/results.json                       headline figures per analysis, notes, time per stage, provenance
    OUT/attrition.csv                      the study population's attrition, per outcome
    OUT/<analysis>/<table>.csv             evaluationStatistics, thresholdSummary, demographicSummary,
                                           calibrationSummary, predictionDistribution (PLP's names), and
                                           subgroupStatistics, decisionCurve, calibrationCurve, covariateImportance,
                                           cvResults
    OUT/<analysis>/model/                  the saved model (carelake.models.artifact)
    OUT/multistate/<table>.csv             a survival study's multi-state analysis: stateOccupation, transitions

A row whose count is one the rule hides is emptied, with its rates; in the long tables (a metric per row) every
figure of the evaluation part or subgroup level is. Per-person predictions are not written: they stay in the run.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from carelake.models.artifact import save_model
from carelake.models.survival import SurvivalCvResult
from carelake.privacy.disclosure import DisclosureRule
from carelake.studies.analysis import Analysis, MultiStateResult, StudyRun

__all__ = [
    "TABLE_COUNTS",
    "attrition_table",
    "cohort_files",
    "disclosed_tables",
    "headline",
    "multistate_summary",
    "multistate_tables",
    "write_study",
]

# Per table: the count columns the rule checks ("a-b": a difference) and the columns kept when a row is withheld.
TABLE_COUNTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "thresholdSummary": (
        (
            "positiveCount",
            "negativeCount",
            "truePositiveCount",
            "trueNegativeCount",
            "falsePositiveCount",
            "falseNegativeCount",
        ),
        ("evaluation", "predictionThreshold", "preferenceThreshold"),
    ),
    "calibrationSummary": (
        ("PersonCountAtRisk", "PersonCountWithOutcome", "PersonCountAtRisk-PersonCountWithOutcome"),
        ("evaluation", "predictionThreshold"),
    ),
    "demographicSummary": (
        ("PersonCountAtRisk", "PersonCountWithOutcome", "PersonCountAtRisk-PersonCountWithOutcome"),
        ("evaluation", "ageGroup", "genGroup"),
    ),
    "predictionDistribution": (("PersonCount",), ("evaluation", "class")),
    "survivalCalibration": (
        ("PersonCount", "EventCount", "CensoredCount", "PersonCount-EventCount-CensoredCount"),
        ("evaluation", "horizon", "riskGroup", "predictedRisk"),
    ),
    "survivalCurves": (("atRisk",), ("evaluation", "riskGroup", "time")),
    "incidenceCalibration": (
        (
            "PersonCount",
            "EventCount",
            "CompetingCount",
            "CensoredCount",
            "PersonCount-EventCount-CompetingCount-CensoredCount",
        ),
        ("evaluation", "horizon", "riskGroup", "predictedRisk"),
    ),
    "incidenceCurves": (("atRisk",), ("evaluation", "riskGroup", "time")),
}
# Long tables: rows grouped by these keys; populationSize and outcomeCount of a group decide for all its rows.
_LONG = {"evaluationStatistics": ("evaluation",), "subgroupStatistics": ("evaluation", "subgroup", "level")}


def _suppress_long(table: pa.Table, keys: tuple[str, ...], rule: DisclosureRule) -> pa.Table:
    rows = table.to_pylist()
    sizes: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in rows:
        if r["metric"] in ("populationSize", "outcomeCount", "competingCount") and r["value"] is not None:
            sizes.setdefault(tuple(r[k] for k in keys), {})[r["metric"]] = r["value"]
    hidden = set()
    for group, s in sizes.items():
        n, e = int(s.get("populationSize", 0)), int(s.get("outcomeCount", 0))
        c = int(s.get("competingCount", 0))  # competing-risks tables: persons whose follow-up a competing event ended
        if rule.hides(n) or rule.hides(e) or rule.hides(c) or rule.hides(n - e - c):
            hidden.add(group)
    for r in rows:
        if tuple(r[k] for k in keys) in hidden:
            r["value"] = None
            if "gap" in r:
                r["gap"] = None
            r["note"] = f"withheld: a count below {rule.min_cell_count} (disclosure rule)"
    return pa.Table.from_pylist(rows, table.schema)


def disclosed_tables(analysis: Analysis, rule: DisclosureRule) -> dict[str, pa.Table]:
    """The analysis's tables as they may leave the machine."""
    out: dict[str, pa.Table] = {}
    for name, table in analysis.tables.items():
        if name in TABLE_COUNTS:
            counts, keep = TABLE_COUNTS[name]
            out[name] = rule.suppress(table, counts, keep)
        elif name in _LONG:
            out[name] = _suppress_long(table, _LONG[name], rule)
        else:
            out[name] = table  # curves over the whole part: no cell counts
    if analysis.importance is not None:
        out["covariateImportance"] = analysis.importance
    if analysis.cv:
        out["cvResults"] = pa.Table.from_pylist(_cv_rows(analysis))
    return out


def _cv_rows(analysis: Analysis) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in analysis.cv:
        params = json.dumps(r.params, sort_keys=True)
        if isinstance(r, SurvivalCvResult):
            rows += [{"params": params, "fold": i + 1, "heldOutLogLikelihoodPerEvent": ll, "harrellC": c}
                     for i, (ll, c) in enumerate(zip(r.fold_log_likelihood, r.fold_c, strict=True))]  # fmt: skip
        else:
            rows += [{"params": params, "fold": i + 1, "AUROC": a, "logLoss": ll}
                     for i, (a, ll) in enumerate(zip(r.fold_auroc, r.fold_log_loss, strict=True))]  # fmt: skip
    return rows


def attrition_table(run: StudyRun, rule: DisclosureRule) -> pa.Table:
    """The study population's attrition per outcome (PLP's attrition columns), as it may leave the machine."""
    seen: dict[int, Analysis] = {}
    for a in run.analyses:
        seen.setdefault(a.outcome.cohort_id, a)
    rows = [
        {
            "outcomeId": a.outcome.cohort_id,
            "outcome": a.outcome.name,
            "step": i,
            "description": s.description,
            "targetCount": s.rows,
            "uniquePeople": s.persons,
            "outcomes": s.outcomes,
        }
        for a in seen.values()
        for i, s in enumerate(a.population.attrition)
    ]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"outcome": pa.array([], pa.string())})
    if not rows:
        return table
    return rule.suppress(
        table,
        ("targetCount", "uniquePeople", "outcomes", "targetCount-outcomes"),
        ("outcomeId", "outcome", "step", "description"),
    )


def multistate_tables(result: MultiStateResult, rule: DisclosureRule) -> dict[str, pa.Table]:
    """The multi-state tables as they may leave the machine: occupation rows with few persons in the state, and
    transitions seen fewer times than the rule allows, are emptied."""
    out: dict[str, pa.Table] = {}
    for name, table in result.tables.items():
        if name == "stateOccupation":
            out[name] = rule.suppress(table, ("inState",), ("time", "horizon", "state"))
        elif name == "transitions" and table.num_rows:
            out[name] = rule.suppress(table, ("transitions",), ("from", "to"))
        else:
            out[name] = table
    return out


def multistate_summary(result: MultiStateResult, rule: DisclosureRule) -> dict[str, Any]:
    """results.json's multi-state figures: occupation per state at each horizon (null where withheld)."""
    occupation: dict[str, dict[str, float | None]] = {}
    table = multistate_tables(result, rule).get("stateOccupation")
    for r in table.to_pylist() if table is not None else []:
        if r["horizon"]:
            occupation.setdefault(str(r["time"]), {})[r["state"]] = _number(r["probability"])
    return {"states": list(result.states), "horizons_days": list(result.horizons), "occupation": occupation,
            "stage_records_passed_over": rule.shown(result.passed_over), "notes": result.notes}  # fmt: skip


def _number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 6)


def headline(analysis: Analysis, rule: DisclosureRule) -> dict[str, Any]:
    """The figures a reader looks at first, from the disclosed evaluation table."""
    raw = analysis.tables.get("evaluationStatistics")
    values: dict[str, float | None] = {}
    if raw is not None:  # only this table is needed: suppress it alone, not every table of the analysis
        for r in _suppress_long(raw, _LONG["evaluationStatistics"], rule).to_pylist():
            if r["evaluation"] == analysis.primary:
                values[r["metric"]] = r["value"]
    if analysis.study_type in _TIME_TO_EVENT:
        return _time_to_event_headline(analysis, values, rule)
    return {
        **_identity(analysis, values, rule),
        "test_auroc": _number(values.get("AUROC")),
        "test_auroc_95ci": [_number(values.get("95% lower AUROC")), _number(values.get("95% upper AUROC"))],
        "test_auprc": _number(values.get("AUPRC")),
        "test_brier": _number(values.get("brier score")),
        "calibration_slope": _number(values.get("weak calibration gradient")),
        "calibration_intercept": _number(values.get("weak calibration intercept")),
        "notes": analysis.notes,
    }


def _identity(analysis: Analysis, values: dict[str, float | None], rule: DisclosureRule) -> dict[str, Any]:
    """What every headline starts with: which analysis, which model, how many persons."""
    pop = analysis.population.attrition[-1]
    return {
        "analysis": analysis.analysis_id,
        "evaluation": analysis.primary,
        "type": analysis.study_type,
        "outcome": analysis.outcome.name,
        "model": analysis.model_type,
        "params": analysis.params,
        "population": rule.shown(pop.persons),
        "outcomes": rule.shown(pop.outcomes),
        "test_persons": _number(values.get("populationSize")),
    }


# A time-to-event headline: its single figures (key, metric) and the figures given per horizon (key, metric).
_TIME_TO_EVENT: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "survival": (
        (("test_events", "outcomeCount"), ("test_harrell_c", "Harrell's C"),
         ("test_harrell_c_95ci_lower", "95% lower Harrell's C"), ("test_harrell_c_95ci_upper", "95% upper Harrell's C"),
         ("test_uno_c", "Uno's C"), ("test_integrated_brier", "integrated Brier score")),
        (("time_dependent_auc", "time-dependent AUC"), ("brier", "Brier score"),
         ("calibration_slope", "calibration slope"), ("ici", "ICI"), ("observed_risk", "observed risk"),
         ("mean_predicted_risk", "mean predicted risk")),
    ),
    "competing_risks": (
        (("test_events", "outcomeCount"), ("test_competing_events", "competingCount"),
         ("test_wolbers_c", "Wolbers' C")),
        (("time_dependent_auc", "time-dependent AUC"), ("brier", "Brier score"),
         ("observed_incidence", "observed incidence"), ("mean_predicted_incidence", "mean predicted incidence")),
    ),
}  # fmt: skip


def _time_to_event_headline(
    analysis: Analysis, values: dict[str, float | None], rule: DisclosureRule
) -> dict[str, Any]:
    single, per_horizon = _TIME_TO_EVENT[analysis.study_type]
    out = {**_identity(analysis, values, rule), **{k: _number(values.get(m)) for k, m in single}}
    out["horizons_days"] = list(analysis.horizons)
    for key, metric in per_horizon:
        out[key] = {str(h): _number(values.get(f"{metric} at {h} days")) for h in analysis.horizons}
    out["notes"] = analysis.notes
    return out


def _write_csv(path: Path, table: pa.Table) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(table.column_names)
        for row in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
            w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])


def cohort_files(run: StudyRun) -> dict[str, Path]:
    """The study's cohort files by the path the study file gives them (relative to it)."""
    refs = [r for _, _, r in run.study_file.study.cohort_refs()]
    return {r.cohort: run.study_file.resolve(r.cohort) for r in refs if r.cohort is not None}


def write_study(run: StudyRun, out: Path, rule: DisclosureRule) -> dict[str, Any]:
    """Write the run's tables, models and results.json into `out`; returns what results.json holds."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "attrition.csv", attrition_table(run, rule))
    files = cohort_files(run)
    for analysis in run.analyses:
        folder = out / analysis.analysis_id
        folder.mkdir(exist_ok=True)
        for name, table in disclosed_tables(analysis, rule).items():
            _write_csv(folder / f"{name}.csv", table)
        if analysis.risk is not None and analysis.primary == "Test":  # a validation reuses a model; it makes none
            save_model(
                folder / "model",
                analysis.risk,
                run.features.reference,
                study_file=run.study_file.path,
                cohort_files=files,
                provenance=run.provenance,
                extra={
                    "analysis": analysis.analysis_id,
                    "outcome": analysis.outcome.name,
                    "target_cohort": run.cohorts[0].name,
                },
            )
    if run.multistate is not None:
        (out / "multistate").mkdir(exist_ok=True)
        for name, table in multistate_tables(run.multistate, rule).items():
            _write_csv(out / "multistate" / f"{name}.csv", table)
    results = {
        "study": run.study_file.study.name,
        "cohorts": [
            {"role": c.role, "name": c.name, "cohort_id": c.cohort_id, "persons": rule.shown(c.persons)}
            for c in run.cohorts
        ],
        "analyses": [headline(a, rule) for a in run.analyses],
        "best": [a.analysis_id for a in run.best],
        "notes": run.notes,
        **({"multistate": multistate_summary(run.multistate, rule)} if run.multistate is not None else {}),
        "seconds": {k: round(v, 3) for k, v in run.seconds.items()},
        "provenance": run.provenance,
        "min_cell_count": rule.min_cell_count,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results
