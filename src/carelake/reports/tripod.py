"""The TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378), each item answered from the run where it can be.

The items (number, section, topic, what it asks in our words, development D and/or evaluation E) are in
tripod_ai.json beside this module, checked against the checklist table (Table 2 of the open-access paper, PMC11019967)
as transcribed in several public repositories. An item the
run knows (data source, eligibility, outcome and time horizon, predictors, sample size, missing data, split,
models and tuning, measures, fairness, participant flow, performance with intervals, the model itself) gets its
answer here; the rest (background, ethics, funding, interpretation, ...) are the author's, and say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from carelake.privacy.disclosure import DisclosureRule
from carelake.reports.survival import survival_evaluation_text
from carelake.studies.analysis import StudyRun
from carelake.studies.output import headline
from carelake.studies.spec import TIME_TO_EVENT

__all__ = ["Item", "checklist", "items"]


@dataclass(frozen=True)
class Item:
    item: str
    section: str
    topic: str
    asks: str
    answer: str | None


def items() -> list[dict[str, str]]:
    text = resources.files("carelake.reports").joinpath("tripod_ai.json").read_text(encoding="utf-8")
    data: list[dict[str, str]] = json.loads(text)
    return data


def _answers(run: StudyRun, rule: DisclosureRule) -> dict[str, str]:
    study = run.study_file.study
    prov = run.provenance
    pop = study.population
    tar = pop.time_at_risk
    first = run.analyses[0].population.attrition if run.analyses else ()
    heads = [headline(a, rule) for a in run.analyses]
    source = prov.get("cdm_source", {}) or {}

    def data_source() -> str:
        name = source.get("cdm_source_name") or "an OMOP CDM (cdm_source empty)"
        return (
            f"{name} on {prov['engine']}, {prov['row_counts'].get('person')} persons in the CDM; "
            f"CDM release {source.get('cdm_release_date') or 'not recorded'}"
        )

    def dates() -> str:
        rows = run.analyses[0].population.rows if run.analyses else None
        if rows is None or rows.num_rows == 0:
            return "no persons entered"
        days = rows.column("cohort_start_date").to_pylist()
        return f"index dates from {min(days)} to {max(days)}"

    def eligibility() -> str:
        return (
            f"target cohort {run.cohorts[0].name!r} ({run.cohorts[0].source}); washout {pop.washout_days} "
            f"days, first exposure only {pop.first_exposure_only}, prior outcome removed "
            f"{pop.remove_prior_outcome}, at least {pop.min_time_at_risk_days} days at risk "
            f"{pop.require_time_at_risk}"
        )

    def outcome() -> str:
        names = ", ".join(f"{c.name!r} ({c.source})" for c in run.cohorts if c.role == "outcome")
        return f"{names}; time horizon day {tar.start} after {tar.start_anchor} to day {tar.end} after {tar.end_anchor}"

    def predictors() -> str:
        cov = study.covariates or {"defaults": "FeatureExtraction's default set"}
        return f"{run.features.reference.num_rows} candidate covariates from the CDM before index; settings {cov}"

    def size() -> str:
        return "; ".join(
            f"{h['outcome']}: {h['population']} persons, {h['outcomes']} with the outcome"
            for h in heads
            if h["model"] == study.models[0].type
        )

    def split() -> str:
        s = study.split
        return (
            f"split by {s.kind}: {s.test_fraction:.0%} held out for test (stratified by outcome, seed {s.seed});"
            f" {s.folds}-fold cross-validation on the training part"
        )

    survival = study.type in TIME_TO_EVENT

    def models() -> str:
        chosen = "highest held-out partial log-likelihood" if survival else "lowest cross-validated log loss"
        return "; ".join(f"{m.type} over grid {m.grid or 'default'}" for m in study.models) + (
            f"; chosen by {chosen}, refitted on all training persons"
        )

    def flow() -> str:
        return " → ".join(f"{s.description}: {rule.label(s.persons)}" for s in first)

    def performance() -> str:
        if survival:
            return "; ".join(f"{h['analysis']}: {survival_evaluation_text(h)}" for h in heads
                             if h.get("test_harrell_c", h.get("test_wolbers_c")) is not None)  # fmt: skip
        return "; ".join(
            f"{h['analysis']}: AUROC {h['test_auroc']} (95% CI {h['test_auroc_95ci'][0]}-"
            f"{h['test_auroc_95ci'][1]}), slope {h['calibration_slope']}"
            for h in heads
            if h["test_auroc"] is not None
        )

    survival_fixed = {
        "measures": "Harrell's and Uno's C, cumulative/dynamic AUC and IPCW Brier score at each horizon, integrated "
        "Brier score, calibration slope, ICI and E90 at each horizon (Austin 2020), predicted against Kaplan-Meier "
        "risk by decile; each table names its estimator, tau and ties",
        "output": f"survival probabilities (and risks) at {', '.join(map(str, study.horizons))} days per person",
        "preparation": "covariates computed in the warehouse by carelake's FeatureExtraction-compatible SQL; the "
        "Cox model divides each covariate by its largest absolute training value",
    }
    fixed = {
        "missing": "covariates record presence of a CDM record (absence is 0); measurement values are the latest "
        "before index, absent when never measured (0 in the matrix); no imputation",
        "preparation": "covariates computed in the warehouse by carelake's FeatureExtraction-compatible SQL; "
        "logistic models divide each covariate by its largest absolute training value",
        "measures": "AUROC and AUPRC (bootstrap 95% interval for AUROC), Brier and scaled Brier, calibration "
        "intercept and slope, calibration-in-the-large, E-avg/E90/E-max (LOWESS), net benefit and decision curve, "
        "threshold table",
        "imbalance": "no resampling or reweighting: risks stay on the observed outcome rate, so they are calibrated",
        "fairness": f"every measure per subgroup ({', '.join(study.subgroups)}) with its gap to the whole",
        "output": "a predicted risk (probability) per person; the threshold table shows the effect of cut-offs",
        "training_evaluation": "training and test persons come from the same database, split as in 12a",
        "code": f"study file {prov['study_file']} (sha256 {prov['study_sha256'][:12]}…), carelake "
        f"{prov['carelake_version']}",
        "model": "saved per analysis in <analysis>/model: coefficients (JSON) or LightGBM text, covariate reference",
        "subgroups": "see the subgroup chart and table per analysis",
    }
    computed: dict[str, Callable[[], str]] = {
        "data_source": data_source,
        "dates": dates,
        "eligibility": eligibility,
        "outcome": outcome,
        "predictors": predictors,
        "size": size,
        "split": split,
        "models": models,
        "flow": flow,
        "performance": performance,
    }
    return fixed | (survival_fixed if survival else {}) | {key: answer() for key, answer in computed.items()}


def checklist(run: StudyRun, rule: DisclosureRule) -> list[Item]:
    """Every TRIPOD+AI item, with the run's answer where the item's `from_run` names one."""
    answers = _answers(run, rule)
    out = []
    for entry in items():
        key: Any = entry.get("from_run")
        answer = answers.get(key) if key else None
        out.append(Item(entry["item"], entry["section"], entry["topic"], entry["asks"], answer))
    return out
