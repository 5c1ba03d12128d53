"""Evaluating risk predictions the way clinicians and reviewers need: discrimination, calibration, clinical use.

One module per concern: `discrimination` (AUROC, AUPRC); `calibration` (Brier, scaled Brier, calibration slope,
intercept and in-the-large, E-avg/E90/E-max over a LOWESS curve from `smoothing`); `calibration_table` (PLP's
calibrationSummary); `distribution` (PLP's predictionDistribution); `decision` (net benefit, decision curves);
`thresholds` (PLP's thresholdSummary); `summary` (the headline figures, and per subgroup); `bootstrap`
(person-level intervals); `survival/` (time-to-event: Harrell's and Uno's C, cumulative/dynamic AUC, the Brier
score over time). Every metric takes outcomes (0/1) and predicted risks as arrays and refuses what it
cannot estimate with `NotEstimable`, saying why, so a subgroup with one class is reported, not a crash.
"""

from __future__ import annotations

from carelake.evaluation.bootstrap import Interval, bootstrap
from carelake.evaluation.calibration import (
    CalibrationErrors,
    Recalibration,
    brier,
    calibration_errors,
    calibration_in_the_large,
    recalibration,
    scaled_brier,
)
from carelake.evaluation.calibration_table import CALIBRATION_COLUMNS, calibration_summary
from carelake.evaluation.checks import NotEstimable
from carelake.evaluation.decision import net_benefit, treat_all_net_benefit
from carelake.evaluation.discrimination import auprc, auroc
from carelake.evaluation.distribution import DISTRIBUTION_COLUMNS, prediction_distribution
from carelake.evaluation.summary import evaluation_statistics, subgroup_statistics
from carelake.evaluation.thresholds import THRESHOLD_COLUMNS, threshold_summary

__all__ = [
    "CALIBRATION_COLUMNS",
    "DISTRIBUTION_COLUMNS",
    "THRESHOLD_COLUMNS",
    "CalibrationErrors",
    "Interval",
    "NotEstimable",
    "Recalibration",
    "auprc",
    "auroc",
    "bootstrap",
    "brier",
    "calibration_errors",
    "calibration_in_the_large",
    "calibration_summary",
    "evaluation_statistics",
    "net_benefit",
    "prediction_distribution",
    "recalibration",
    "scaled_brier",
    "subgroup_statistics",
    "threshold_summary",
    "treat_all_net_benefit",
]
