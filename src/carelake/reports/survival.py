"""The survival study's sections of the study report: the summary and, per analysis, its charts and tables.

Charts: Kaplan-Meier survival by third of predicted risk, calibration at each horizon (predicted against
Kaplan-Meier observed risk per decile), AUC(t) and the Brier score over time, Harrell's C by subgroup, the top
predictors. Tables: every figure with its definition (estimator, tau, ties), calibration at the main horizon, and for
a Cox model its hazard ratios and the proportional-hazards check. Everything from the disclosed tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute

from carelake.privacy.disclosure import DisclosureRule
from carelake.reports import charts
from carelake.reports.page import Page
from carelake.studies.analysis import Analysis, StudyRun
from carelake.studies.evaluate_survival import main_horizon
from carelake.studies.output import disclosed_tables, headline, multistate_tables

__all__ = ["MODEL_NAMES", "multistate_section", "survival_analysis", "survival_evaluation_text", "survival_summary"]

MODEL_NAMES = {
    "cox": "ridge-penalised Cox proportional hazards",
    "boosted_cox": "gradient-boosted trees on the Cox partial likelihood (LightGBM)",
}


def _part(table: pa.Table, part: str) -> pa.Table:
    if "evaluation" not in table.column_names:
        return table
    return table.filter(pa.compute.equal(table.column("evaluation"), part))


def _c_interval(h: dict[str, Any]) -> str:
    low, high = h.get("test_harrell_c_95ci_lower"), h.get("test_harrell_c_95ci_upper")
    return "" if low is None or high is None else f"{low:.3f}-{high:.3f}"


def survival_evaluation_text(h: dict[str, Any]) -> str:
    """One line of the headline figures, for the model card and TRIPOD's performance item."""
    mid = str(main_horizon(tuple(h["horizons_days"])))
    if h.get("type") == "competing_risks":
        return (
            f"Wolbers' C {h['test_wolbers_c']}; at {mid} days AUC {h['time_dependent_auc'].get(mid)}, Brier "
            f"{h['brier'].get(mid)}, incidence predicted {h['mean_predicted_incidence'].get(mid)} against "
            f"{h['observed_incidence'].get(mid)} observed (Aalen-Johansen)"
        )
    return (
        f"Harrell's C {h['test_harrell_c']} ({_c_interval(h) or 'no interval'}), Uno's C {h['test_uno_c']}, "
        f"integrated Brier score {h['test_integrated_brier']}; at {mid} days AUC {h['time_dependent_auc'].get(mid)}, "
        f"calibration slope {h['calibration_slope'].get(mid)}, ICI {h['ici'].get(mid)}"
    )


Column = tuple[str, Callable[[dict[str, Any]], Any]]  # a summary column: its header, its cell from a headline


def _summary_columns(kind: str, mid: str) -> tuple[list[Column], list[Column]]:
    """The summary's type-specific columns before the AUC at each horizon, and after it."""
    if kind == "competing_risks":
        return (
            [("competing events (test)", lambda h: h["test_competing_events"]),
             ("Wolbers' C", lambda h: h["test_wolbers_c"])],
            [(f"predicted incidence at {mid} d", lambda h: h["mean_predicted_incidence"].get(mid)),
             (f"observed incidence at {mid} d", lambda h: h["observed_incidence"].get(mid))],
        )  # fmt: skip
    return (
        [("Harrell's C", lambda h: h["test_harrell_c"]), ("95% CI", _c_interval),
         ("Uno's C", lambda h: h["test_uno_c"]), ("integrated Brier", lambda h: h["test_integrated_brier"])],
        [(f"calibration slope at {mid} d", lambda h: h["calibration_slope"].get(mid)),
         (f"ICI at {mid} d", lambda h: h["ici"].get(mid))],
    )  # fmt: skip


def survival_summary(page: Page, run: StudyRun, rule: DisclosureRule) -> None:
    """One row per analysis: who, how many, the headline figures, AUC at each horizon, notes."""
    best = {a.analysis_id for a in run.best}
    horizons = run.study_file.study.horizons
    mid = str(main_horizon(horizons))
    before, after = _summary_columns(run.study_file.study.type, mid)
    rows = []
    for a in run.analyses:
        h = headline(a, rule)
        rows.append([a.outcome.name, MODEL_NAMES.get(a.model_type, a.model_type) + (" ★" * (a.analysis_id in best)),
                     h["population"], h["outcomes"], *(cell(h) for _, cell in before),
                     *(h["time_dependent_auc"].get(str(t)) for t in horizons), *(cell(h) for _, cell in after),
                     "; ".join(a.notes)])  # fmt: skip
    page.table(["outcome", "model (★ best for its outcome)", "persons", "with outcome", *(n for n, _ in before),
                *(f"AUC at {t} d" for t in horizons), *(n for n, _ in after), "notes"], rows)  # fmt: skip


def survival_analysis(page: Page, a: Analysis, rule: DisclosureRule) -> None:
    page.heading(f"{a.outcome.name}: {MODEL_NAMES.get(a.model_type, a.model_type)}", anchor=a.analysis_id)
    for n in a.notes:
        page.note(n)
    if a.risk is None:
        return
    folds = len(getattr(a.cv[0], "fold_c", ())) if a.cv else 0
    page.paragraph(
        f"Chosen by {folds}-fold cross-validation on the training persons (highest held-out partial "
        f"log-likelihood per event): {a.params}. Horizons: {', '.join(str(h) for h in a.horizons)} days from the "
        "start of time at risk."
        + (
            " Cause-specific hazards of the outcome and of the competing event (each chosen by its own "
            "cross-validation), combined into the outcome's cumulative incidence." * (a.study_type == "competing_risks")
        )
    )
    every = disclosed_tables(a, rule)
    t = {name: _part(table, a.primary) for name, table in every.items()}
    h = headline(a, rule)
    page.paragraph(f"Charts on the {a.primary.lower()} persons.", "muted")
    competing = a.study_type == "competing_risks"
    shown = (
        (
            (charts.risk_group_survival_chart(t.get("incidenceCurves"), "incidence"), "incidence by risk group"),
            (charts.horizon_calibration_chart(t.get("incidenceCalibration")), "calibration at horizons"),
            (charts.subgroup_chart(t.get("subgroupStatistics"), h["test_wolbers_c"], "Wolbers' C"), "subgroups"),
        )
        if competing
        else (
            (charts.risk_group_survival_chart(t.get("survivalCurves")), "survival by risk group"),
            (charts.horizon_calibration_chart(t.get("survivalCalibration")), "calibration at horizons"),
            (charts.time_metrics_chart(t.get("timeDependentMetrics")), "AUC and Brier over time"),
            (charts.subgroup_chart(t.get("subgroupStatistics"), h["test_harrell_c"], "Harrell's C"), "subgroups"),
        )
    )
    for (data, layout), label in shown:
        page.chart(data, layout, label=label)
    page.chart(*charts.importance_chart(t.get("covariateImportance")), label="top predictors", wide=True)
    stats = every.get("evaluationStatistics")
    if stats is not None:
        by_metric: dict[str, dict[str, Any]] = {}
        for r in stats.to_pylist():
            by_metric.setdefault(r["metric"], {"note": r["note"]})[r["evaluation"]] = r["value"]
        page.heading("Evaluation statistics", 3)
        page.table(["metric", "Test", "Train", "definition"],
                   [[m, v.get("Test"), v.get("Train"), v["note"]] for m, v in by_metric.items()])  # fmt: skip
    calibration = t.get("incidenceCalibration" if competing else "survivalCalibration")
    if calibration is not None and calibration.num_rows:
        mid = main_horizon(a.horizons)
        page.heading(f"Calibration at {mid} days by risk decile ({a.primary.lower()})", 3)
        cols = ["riskGroup", "PersonCount", "EventCount", *(["CompetingCount"] * competing), "CensoredCount",
                "predictedRisk", "observedRisk", "observedLower", "observedUpper"]  # fmt: skip
        page.table(cols, [[r[c] for c in cols] for r in calibration.to_pylist() if r["horizon"] == mid])
    ratios = every.get("hazardRatios")
    if ratios is not None and ratios.num_rows:
        page.heading("Hazard ratios (per unit of each covariate; Wald 95% interval; largest |z| first)", 3)
        cols = ["covariateName", "hazardRatio", "lower", "upper", "z", "p"]
        page.table(cols, [[r[c] for c in cols] for r in ratios.to_pylist()])
    ph = every.get("proportionalHazards")
    if ph is not None and ph.num_rows:
        page.heading("Proportional-hazards check (scaled Schoenfeld residuals, training persons)", 3)
        page.paragraph("A small p says the covariate's effect drifts with time (Grambsch and Therneau; g(t) = 1 - "
                       "Kaplan-Meier, R's cox.zph default).", "muted")  # fmt: skip
        cols = ["covariateName", "statistic", "p"]
        page.table(cols, [[r[c] for c in cols] for r in ph.to_pylist()])
    groups = t.get("subgroupStatistics")
    if groups is not None and groups.num_rows:
        page.heading(f"Subgroups ({a.primary.lower()})", 3)
        page.table(["subgroup", "level", "metric", "value", "note"],
                   [[r["subgroup"], r["level"], r["metric"], r["value"], r["note"]] for r in groups.to_pylist()
                    if r["metric"] != "Harrell's C" or r["value"] is not None or r["note"]])  # fmt: skip


def multistate_section(page: Page, run: StudyRun, rule: DisclosureRule) -> None:
    """Stage transitions and state occupation of the study's multi-state analysis."""
    result = run.multistate
    if result is None:
        return
    page.heading("Disease progression (multi-state)", anchor="multistate")
    page.paragraph(
        f"States: {' → '.join(result.states[:-1])}, and {result.states[-1]} from any of them. Aalen-Johansen "
        "estimate of a Markov process (no covariates): transitions counted on the day each state's cohort starts, "
        "follow-up censored as in the survival analyses."
    )
    for n in result.notes:
        page.note(n)
    tables = multistate_tables(result, rule)
    occupation = tables.get("stateOccupation")
    page.chart(*charts.occupation_chart(occupation, list(result.states)), label="state occupation", wide=True)
    if occupation is not None and occupation.num_rows:
        at = [r for r in occupation.to_pylist() if r["horizon"]]
        page.table(["day", "state", "probability", "persons in the state"],
                   [[r["time"], r["state"], r["probability"], r["inState"]] for r in at])  # fmt: skip
    transitions = tables.get("transitions")
    if transitions is not None and transitions.num_rows:
        page.heading("Transitions (Nelson-Aalen cumulative hazard at each horizon)", 3)
        page.table(transitions.column_names, [list(r.values()) for r in transitions.to_pylist()])
