"""The prediction study file's schema: every key, its type, its default and its meaning, in one place.

The framing is PatientLevelPrediction's: a target cohort (who is at risk, from when), one or more outcome cohorts,
a study population (washout, first exposure, prior outcomes, a time-at-risk window anchored to cohort start or
end), covariates, a person-level split, models with their grids, evaluation settings and subgroups. Defaults are
PLP's where it has one. Nothing here names a backend or a site: the same file runs on any warehouse.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CohortRef",
    "DecisionCurve",
    "Evaluation",
    "ModelSpec",
    "Population",
    "Split",
    "Study",
    "TimeAtRisk",
]

Anchor = Literal["cohort start", "cohort end"]
MODEL_TYPES = ("lasso_logistic", "elastic_net_logistic", "gradient_boosting")
SUBGROUPS = ("sex", "age_band")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class CohortRef(_Strict):
    """A cohort: a Circe definition (`cohort:`, a JSON file relative to the study file) or an id already generated."""

    cohort: str | None = None
    cohort_id: int | None = Field(default=None, ge=1)
    name: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CohortRef:
        if (self.cohort is None) == (self.cohort_id is None):
            raise ValueError("give either cohort (a Circe JSON file) or cohort_id (a cohort already generated)")
        return self


class TimeAtRisk(_Strict):
    """Days from an anchor: [start, end] after cohort start or end (PLP: riskWindowStart/End, startAnchor/endAnchor)."""

    start: int = 1
    start_anchor: Anchor = "cohort start"
    end: int = 365
    end_anchor: Anchor = "cohort start"


class Population(_Strict):
    """Who of the target cohort enters the study (PLP's createStudyPopulationSettings)."""

    washout_days: int = Field(default=0, ge=0, description="prior observation required before index")
    first_exposure_only: bool = False
    remove_prior_outcome: bool = True
    prior_outcome_lookback_days: int = Field(default=99999, ge=0)
    time_at_risk: TimeAtRisk = TimeAtRisk()
    require_time_at_risk: bool = True
    min_time_at_risk_days: int = Field(default=364, ge=0)
    include_all_outcomes: bool = Field(
        default=True, description="keep persons lost to follow-up who had the outcome (PLP: includeAllOutcomes)"
    )


class Split(_Strict):
    """Train/test split by person (or by index date, `temporal`), and the folds for choosing hyper-parameters."""

    test_fraction: float = Field(default=0.25, gt=0.0, lt=1.0)
    folds: int = Field(default=3, ge=2)
    seed: int = 42
    kind: Literal["person", "temporal"] = "person"


class ModelSpec(_Strict):
    """A model and its hyper-parameter grid (each key a parameter, each value the list of values to try)."""

    type: Literal["lasso_logistic", "elastic_net_logistic", "gradient_boosting"]
    grid: dict[str, list[float | int | str]] = Field(default_factory=dict)

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in grid.items() if not v]
        if empty:
            raise ValueError(f"no values to try for {', '.join(empty)}")
        return grid


class DecisionCurve(_Strict):
    """The thresholds of the decision curve: from, to, step (risks strictly between 0 and 1)."""

    start: float = Field(default=0.01, gt=0.0, lt=1.0)
    stop: float = Field(default=0.5, gt=0.0, lt=1.0)
    step: float = Field(default=0.01, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionCurve:
        if self.start >= self.stop:
            raise ValueError(f"start {self.start} must be below stop {self.stop}")
        return self


class Evaluation(_Strict):
    """Bootstrap resamples for intervals, the thresholds of the threshold table, the decision curve's range."""

    bootstrap: int = Field(default=200, ge=0)
    thresholds: list[float] | None = None
    decision_curve: DecisionCurve = DecisionCurve()
    calibration_strata: int = Field(default=10, ge=2)

    @field_validator("thresholds")
    @classmethod
    def _risks(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError("thresholds are risks, between 0 and 1")
        return values


class Study(_Strict):
    """One prediction study: target, outcomes, population, covariates, split, models, evaluation, subgroups."""

    name: str = Field(min_length=1)
    description: str | None = None
    target: CohortRef
    outcomes: list[CohortRef] = Field(min_length=1)
    population: Population = Population()
    covariates: dict[str, Any] = Field(
        default_factory=dict, description="carelake.features.CovariateSettings fields; empty: its defaults"
    )
    split: Split = Split()
    models: list[ModelSpec] = Field(min_length=1)
    evaluation: Evaluation = Evaluation()
    subgroups: list[str] = Field(default_factory=lambda: list(SUBGROUPS))

    @field_validator("subgroups")
    @classmethod
    def _known_subgroups(cls, values: list[str]) -> list[str]:
        for v in values:
            if v not in SUBGROUPS and not (v.startswith("covariate:") and v.removeprefix("covariate:").isdigit()):
                raise ValueError(f"unknown subgroup {v!r}: use sex, age_band or covariate:<covariate id>")
        return values
