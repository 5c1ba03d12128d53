"""Evaluating time-to-event predictions: concordance, time-dependent discrimination and the Brier score over time.

One module per concern: `data` (follow-up times and event flags, checked once), `product_limit` (Kaplan-Meier of
the event and of the censoring distribution, Aalen-Johansen cumulative incidence, as step functions), `concordance`
(Harrell's and Uno's C), `dynamic_auc` (cumulative/dynamic AUC at each horizon and its mean), `brier` (the Brier
score at each horizon and its integral). Ties and censoring follow scikit-survival's conventions, so figures compare
one to one; each function says which.
"""

from __future__ import annotations

from carelake.evaluation.survival.brier import brier_scores, integrated_brier_score
from carelake.evaluation.survival.concordance import Concordance, harrell_c, uno_c
from carelake.evaluation.survival.data import Survival, survival_data
from carelake.evaluation.survival.dynamic_auc import DynamicAuc, cumulative_dynamic_auc
from carelake.evaluation.survival.product_limit import (
    StepFunction,
    censoring_distribution,
    cumulative_incidence,
    kaplan_meier_curve,
)

__all__ = [
    "Concordance",
    "DynamicAuc",
    "StepFunction",
    "Survival",
    "brier_scores",
    "censoring_distribution",
    "cumulative_dynamic_auc",
    "cumulative_incidence",
    "harrell_c",
    "integrated_brier_score",
    "kaplan_meier_curve",
    "survival_data",
    "uno_c",
]
