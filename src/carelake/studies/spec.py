"""The prediction study file's schema: every key, its type, its default and its meaning, in one place.

The framing is PatientLevelPrediction's: a target cohort (who is at risk, from when), one or more outcome cohorts,
a study population (washout, first exposure, prior outcomes, a time-at-risk window anchored to cohort start or
end), covariates, a person-level split, models with their grids, evaluation settings and subgroups. Defaults are
PLP's where it has one. Nothing here names a backend or a site: the same file runs on any warehouse.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "CohortRef",
    "DecisionCurve",
    "Evaluation",
    "ModelSpec",
    "MultiStateSpec",
    "Population",
    "Split",
    "StateSpec",
    "Study",
    "TimeAtRisk",
]

Anchor = Literal["cohort start", "cohort end"]
PREDICTION_MODELS = ("lasso_logistic", "elastic_net_logistic", "gradient_boosting")
SURVIVAL_MODELS = ("cox", "boosted_cox")
STUDY_MODELS = {"prediction": PREDICTION_MODELS, "survival": SURVIVAL_MODELS, "competing_risks": SURVIVAL_MODELS}
TIME_TO_EVENT = ("survival", "competing_risks")
DEFAULT_HORIZONS = (365, 730, 1095)  # days: 1, 2 and 3 years
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

    type: Literal["lasso_logistic", "elastic_net_logistic", "gradient_boosting", "cox", "boosted_cox"]
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
    horizons: list[int] | None = Field(
        default=None, description="survival studies: days after time-at-risk start to evaluate at (default 1-3 y)"
    )

    @field_validator("horizons")
    @classmethod
    def _days(cls, values: list[int] | None) -> list[int] | None:
        if values is not None:
            if not values:
                raise ValueError("give at least one horizon (days), or leave the key out for 365, 730, 1095")
            if any(v < 1 for v in values):
                raise ValueError("horizons are days after the start of time at risk, 1 or more")
            if sorted(set(values)) != values:
                raise ValueError("list horizons in increasing order, each once")
        return values

    @field_validator("thresholds")
    @classmethod
    def _risks(cls, values: list[float] | None) -> list[float] | None:
        if values is not None and any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError("thresholds are risks, between 0 and 1")
        return values


class StateSpec(_Strict):
    """A state of a multi-state analysis: its name and, after the first, the cohort whose start enters it."""

    name: str = Field(min_length=1)
    cohort: str | None = None
    cohort_id: int | None = Field(default=None, ge=1)

    def ref(self) -> CohortRef | None:
        if self.cohort is None and self.cohort_id is None:
            return None
        return CohortRef(cohort=self.cohort, cohort_id=self.cohort_id, name=self.name)


class MultiStateSpec(_Strict):
    """Stages in order of progression (a person is in the last whose cohort has started, the first if none has)
    and an absorbing state (death) reachable from each; occupation is reported at `horizons` (days)."""

    states: list[StateSpec] = Field(min_length=2)
    absorbing: CohortRef
    horizons: list[int] | None = None

    @model_validator(mode="after")
    def _entries(self) -> MultiStateSpec:
        missing = [s.name for s in self.states[1:] if s.ref() is None]
        if missing:
            raise ValueError(f"state {', '.join(missing)} needs a cohort (or cohort_id) whose start enters it")
        if self.states[0].ref() is not None:
            raise ValueError(f"the first state ({self.states[0].name}) is where the target's persons start: give it "
                             "no cohort")  # fmt: skip
        if self.absorbing.name is None:
            raise ValueError("name the absorbing state (absorbing.name)")
        if self.horizons is not None and (sorted(set(self.horizons)) != self.horizons or min(self.horizons) < 1):
            raise ValueError("horizons are days (1 or more), in increasing order, each once")
        return self


class Study(_Strict):
    """One study: its type, target, outcomes, population, covariates, split, models, evaluation, subgroups.

    `type: prediction` (the default) asks whether the outcome happens within the time at risk; `type: survival`
    asks when, with follow-up censored at the end of time at risk or of observation, evaluated at `horizons`;
    `type: competing_risks` asks when, where `competing_events` can pre-empt the outcome."""

    name: str = Field(min_length=1)
    type: Literal["prediction", "survival", "competing_risks"] = "prediction"
    description: str | None = None
    target: CohortRef
    outcomes: list[CohortRef] = Field(min_length=1)
    competing_events: list[CohortRef] | None = Field(
        default=None, description="competing_risks studies: events that pre-empt the outcome (death, say)"
    )
    population: Population = Population()
    covariates: dict[str, Any] = Field(
        default_factory=dict, description="carelake.features.CovariateSettings fields; empty: its defaults"
    )
    split: Split = Split()
    models: list[ModelSpec] = Field(min_length=1)
    evaluation: Evaluation = Evaluation()
    subgroups: list[str] = Field(default_factory=lambda: list(SUBGROUPS))
    multistate: MultiStateSpec | None = Field(
        default=None, description="survival studies: stage transitions and state occupation over time"
    )

    @field_validator("models")
    @classmethod
    def _models_fit_the_type(cls, models: list[ModelSpec], info: ValidationInfo) -> list[ModelSpec]:
        kind = info.data.get("type", "prediction")
        wrong = [m.type for m in models if m.type not in STUDY_MODELS[kind]]
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)} cannot model a {kind} study: use {', '.join(STUDY_MODELS[kind])}"
                + (" (or set type: survival)" if kind == "prediction" else " (or set type: prediction)")
            )
        return models

    @field_validator("multistate")
    @classmethod
    def _multistate_in_survival(cls, value: MultiStateSpec | None, info: ValidationInfo) -> MultiStateSpec | None:
        if value is not None and info.data.get("type", "prediction") != "survival":
            raise ValueError("a multi-state analysis belongs to a survival study: set type: survival")
        return value

    @field_validator("competing_events")
    @classmethod
    def _competing_in_type(cls, value: list[CohortRef] | None, info: ValidationInfo) -> list[CohortRef] | None:
        kind = info.data.get("type", "prediction")
        if value is not None and kind != "competing_risks":
            raise ValueError("competing events belong to a competing_risks study: set type: competing_risks")
        if value is not None and not value:
            raise ValueError("name at least one competing event cohort")
        return value

    @model_validator(mode="after")
    def _competing_given(self) -> Study:
        if self.type == "competing_risks" and not self.competing_events:
            raise ValueError("a competing_risks study needs competing_events: the cohorts that pre-empt the outcome")
        return self

    def cohort_refs(self) -> list[tuple[str, tuple[str | int, ...], CohortRef]]:
        """Every cohort the file names: (role, its keys in the file, the reference); the target first."""
        refs: list[tuple[str, tuple[str | int, ...], CohortRef]] = [("target", ("target",), self.target)]
        refs += [("outcome", ("outcomes", i), o) for i, o in enumerate(self.outcomes)]
        refs += [("competing", ("competing_events", i), c) for i, c in enumerate(self.competing_events or [])]
        if self.multistate is not None:
            for i, state in enumerate(self.multistate.states):
                ref = state.ref()
                if ref is not None:
                    refs.append(("state", ("multistate", "states", i), ref))
            refs.append(("absorbing", ("multistate", "absorbing"), self.multistate.absorbing))
        return refs

    @property
    def horizons(self) -> tuple[int, ...]:
        """The horizons a survival study is evaluated at (days)."""
        given = self.evaluation.horizons
        return tuple(given) if given is not None else DEFAULT_HORIZONS

    @field_validator("subgroups")
    @classmethod
    def _known_subgroups(cls, values: list[str]) -> list[str]:
        for v in values:
            if v not in SUBGROUPS and not (v.startswith("covariate:") and v.removeprefix("covariate:").isdigit()):
                raise ValueError(f"unknown subgroup {v!r}: use sex, age_band or covariate:<covariate id>")
        return values
