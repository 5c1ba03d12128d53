"""The prediction study report: one self-contained page per study run.

Sections: the summary of every (outcome, model), the study population's attrition, then per analysis its curves
(ROC, precision-recall, calibration, decision curve, prediction distribution, subgroups, top predictors) and
tables, a model card for the best model of each outcome, and the TRIPOD+AI checklist filled from the run. Every
figure comes from the disclosed tables (`studies.output`), so the page shows nothing the disclosure rule withholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute

from carelake.privacy.disclosure import DisclosureRule
from carelake.reports import charts
from carelake.reports.page import Page, escape
from carelake.reports.survival import (
    MODEL_NAMES,
    multistate_section,
    survival_analysis,
    survival_evaluation_text,
    survival_summary,
)
from carelake.reports.tripod import checklist
from carelake.studies.analysis import Analysis, StudyRun
from carelake.studies.output import attrition_table, disclosed_tables, headline
from carelake.studies.spec import TIME_TO_EVENT

__all__ = ["publish", "render_study_report", "write_study_report"]

_MODEL_NAMES = {
    "lasso_logistic": "L1-penalised (LASSO) logistic regression",
    "elastic_net_logistic": "elastic-net logistic regression",
    "gradient_boosting": "gradient-boosted trees (LightGBM)",
    **MODEL_NAMES,
}


_KINDS = {"prediction": "Prediction", "survival": "Survival", "competing_risks": "Competing-risks"}


def _ci(h: dict[str, Any]) -> str:
    low, high = h["test_auroc_95ci"]
    return "" if low is None or high is None else f"{low:.3f}-{high:.3f}"


def _summary(page: Page, run: StudyRun, rule: DisclosureRule) -> None:
    if run.study_file.study.type in TIME_TO_EVENT:
        survival_summary(page, run, rule)
        return
    best = {a.analysis_id for a in run.best}
    rows = []
    for a in run.analyses:
        h = headline(a, rule)
        rows.append(
            [
                a.outcome.name,
                _MODEL_NAMES.get(a.model_type, a.model_type) + (" ★" * (a.analysis_id in best)),
                h["population"],
                h["outcomes"],
                h["test_auroc"],
                _ci(h),
                h["test_auprc"],
                h["test_brier"],
                h["calibration_slope"],
                h["calibration_intercept"],
                "; ".join(a.notes),
            ]
        )
    page.table(
        [
            "outcome",
            "model (★ best for its outcome)",
            "persons",
            "with outcome",
            "test AUROC",
            "95% CI",
            "AUPRC",
            "Brier",
            "calibration slope",
            "calibration intercept",
            "notes",
        ],
        rows,
    )


def _attrition(page: Page, run: StudyRun, rule: DisclosureRule) -> pa.Table:
    table = attrition_table(run, rule)
    page.heading("Study population", anchor="population")
    pop = run.study_file.study.population
    tar = pop.time_at_risk
    page.paragraph(
        f"Time at risk: day {tar.start} after {tar.start_anchor} to day {tar.end} after {tar.end_anchor}; "
        f"washout {pop.washout_days} days; first exposure only: {pop.first_exposure_only}; prior outcomes removed: "
        f"{pop.remove_prior_outcome} (lookback {pop.prior_outcome_lookback_days} days); at least "
        f"{pop.min_time_at_risk_days} days at risk required: {pop.require_time_at_risk}, persons lost to follow-up "
        f"with the outcome kept: {pop.include_all_outcomes}."
    )
    rows = [[str(v) if k == "outcomeId" else v for k, v in r.items()] for r in table.to_pylist()]
    page.table(table.column_names, rows)
    for outcome in dict.fromkeys(r["outcome"] for r in table.to_pylist()):
        data, layout = charts.attrition_chart(table, outcome)
        page.chart(data, layout, label=f"attrition {outcome}")
    return table


def _analysis(page: Page, a: Analysis, rule: DisclosureRule) -> None:
    if a.study_type in TIME_TO_EVENT:
        survival_analysis(page, a, rule)
        return
    page.heading(f"{a.outcome.name}: {_MODEL_NAMES.get(a.model_type, a.model_type)}", anchor=a.analysis_id)
    for n in a.notes:
        page.note(n)
    if a.risk is None:
        return
    t = disclosed_tables(a, rule)
    page.paragraph(
        f"Chosen by {len(getattr(a.cv[0], 'fold_auroc', ())) if a.cv else 0}-fold cross-validation on the training "
        f"persons (lowest log loss): {a.params}."
    )
    h = headline(a, rule)
    t = {name: _part(table, a.primary) for name, table in t.items()}
    page.paragraph(f"Charts on the {a.primary.lower()} persons.", "muted")
    thresholds = t.get("thresholdSummary")
    for (data, layout), label in (
        (charts.roc_chart(thresholds), "ROC curve"),
        (charts.pr_chart(thresholds), "precision-recall curve"),
        (charts.calibration_chart(t.get("calibrationSummary"), t.get("calibrationCurve")), "calibration plot"),
        (charts.decision_chart(t.get("decisionCurve")), "decision curve"),
        (charts.distribution_chart(t.get("predictionDistribution")), "prediction distribution"),
        (charts.subgroup_chart(t.get("subgroupStatistics"), h["test_auroc"]), "subgroups"),
    ):
        page.chart(data, layout, label=label)
    page.chart(*charts.importance_chart(t.get("covariateImportance")), label="top predictors", wide=True)
    stats = disclosed_tables(a, rule).get("evaluationStatistics")
    if stats is not None:
        by_metric: dict[str, dict[str, Any]] = {}
        for r in stats.to_pylist():
            by_metric.setdefault(r["metric"], {})[r["evaluation"]] = r["value"]
        parts = [a.primary, "Train", "CV"] if a.primary == "Test" else [a.primary]
        page.heading("Evaluation statistics", 3)
        page.table(["metric", *parts], [[m, *(v.get(p) for p in parts)] for m, v in by_metric.items()])
    groups = t.get("subgroupStatistics")
    if groups is not None:
        page.heading(f"Subgroups ({a.primary.lower()})", 3)
        keep = (
            "populationSize",
            "outcomeCount",
            "AUROC",
            "brier score",
            "calibrationInLarge intercept",
            "weak calibration gradient",
        )
        page.table(
            ["subgroup", "level", "metric", "value", "gap to whole", "note"],
            [
                [r["subgroup"], r["level"], r["metric"], r["value"], r["gap"], r["note"]]
                for r in groups.to_pylist()
                if r["metric"] in keep
            ],
        )


def _part(table: pa.Table, part: str) -> pa.Table:
    if "evaluation" not in table.column_names:
        return table
    return table.filter(pa.compute.equal(table.column("evaluation"), part))


def _model_card(page: Page, run: StudyRun, a: Analysis, rule: DisclosureRule) -> None:
    h = headline(a, rule)
    study = run.study_file.study
    prov = run.provenance
    source = prov.get("cdm_source", {}).get("cdm_source_name") or "not recorded in cdm_source"
    author = '<span class="tag author">author to fill</span>'
    survival = a.study_type in TIME_TO_EVENT
    competing = ", ".join(c.name for c in run.cohorts if c.role == "competing")
    predicts = (
        f"cumulative incidence of {a.outcome.name}, with {competing} competing, at {', '.join(map(str, a.horizons))} "
        f"days from the start of time at risk, for persons of {run.cohorts[0].name}"
        if a.study_type == "competing_risks"
        else f"survival free of {a.outcome.name} (and its risk) at {', '.join(map(str, a.horizons))} days from the "
        f"start of time at risk, for persons of {run.cohorts[0].name}"
        if survival
        else f"risk of {a.outcome.name} in the time at risk, for persons of {run.cohorts[0].name}"
    )
    figures = (
        survival_evaluation_text(h)
        if survival
        else f"AUROC {h['test_auroc']} ({_ci(h)}), calibration slope {h['calibration_slope']}, intercept "
        f"{h['calibration_intercept']}"
    )
    rows = [
        ("Model", escape(f"{_MODEL_NAMES.get(a.model_type, a.model_type)}, parameters {a.params}")),
        ("Predicts", escape(predicts)),
        ("Intended use and users", author),
        (
            "Training data",
            escape(
                f"{source} on {prov.get('engine')} ({prov.get('row_counts', {}).get('person')} "
                f"persons in the CDM), run {prov.get('run_at')}"
            ),
        ),
        (
            "Evaluation",
            escape(f"held-out test persons ({study.split.test_fraction:.0%}, split by {study.split.kind}): {figures}"),
        ),
        ("Subgroups", escape(f"{', '.join(study.subgroups)}: see the subgroup chart and table")),
        ("Ethical considerations", author),
        (
            "Caveats",
            escape(
                "a model is valid for the population it was developed on; validate it externally "
                "(carelake study validate-external) before use elsewhere"
            )
            + "; "
            + author,
        ),
        ("Saved model", escape(f"{a.analysis_id}/model (no pickle: JSON coefficients or LightGBM text)")),
        ("carelake", escape(str(prov.get("carelake_version")))),
    ]
    page.heading(f"Model card: {a.outcome.name}", anchor=f"card-{a.analysis_id}")
    page.raw(
        "<table><tbody>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</tbody></table>"
    )


def _tripod(page: Page, run: StudyRun, rule: DisclosureRule) -> None:
    page.heading("TRIPOD+AI checklist", anchor="tripod")
    page.paragraph(
        "Each item of TRIPOD+AI (Collins et al., BMJ 2024;385:e078378): filled from this run where the "
        "run knows the answer, otherwise marked for the author."
    )
    body = []
    for item in checklist(run, rule):
        tag = (
            ('<span class="tag run">from the run</span> ' + escape(item.answer))
            if item.answer
            else ('<span class="tag author">author to fill</span>')
        )
        body.append(
            f"<tr><td>{escape(item.item)}</td><td>{escape(item.section)}</td><td>{escape(item.topic)}</td>"
            f"<td>{escape(item.asks)}</td><td>{tag}</td></tr>"
        )
    page.raw(
        "<table><thead><tr><th>item</th><th>section</th><th>topic</th><th>asks</th><th>in this report</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def render_study_report(run: StudyRun, rule: DisclosureRule) -> str:
    study = run.study_file.study
    prov = run.provenance
    page = Page(
        f"{_KINDS[study.type]} study: {study.name}",
        f"{study.description or ''} Run by carelake {prov['carelake_version']} on {prov['engine']}, "
        f"{prov['run_at']}; counts below {rule.min_cell_count} are withheld.",
    )
    links = "".join(f'<a href="#{escape(a.analysis_id)}">{escape(a.analysis_id)}</a>' for a in run.analyses)
    multistate = '<a href="#multistate">multi-state</a>' if run.multistate is not None else ""
    page.raw(f'<nav><a href="#population">population</a>{links}{multistate}<a href="#tripod">TRIPOD+AI</a></nav>')
    for n in run.notes:
        page.note(n)
    page.heading("Summary")
    _summary(page, run, rule)
    _attrition(page, run, rule)
    for a in run.analyses:
        _analysis(page, a, rule)
    multistate_section(page, run, rule)
    for a in run.best:
        _model_card(page, run, a, rule)
    _tripod(page, run, rule)
    return page.render()


def write_study_report(run: StudyRun, out: Path, rule: DisclosureRule) -> Path:
    path = out / "report.html"
    path.write_text(render_study_report(run, rule), encoding="utf-8")
    return path


def publish(run: StudyRun, out: Path, rule: DisclosureRule) -> dict[str, Any]:
    """Write the run's tables, models, results.json and report.html into `out`; results.json's content, with the
    report's path."""
    from carelake.studies.output import write_study

    results = write_study(run, out, rule)
    results["report"] = str(write_study_report(run, out, rule))
    return results
