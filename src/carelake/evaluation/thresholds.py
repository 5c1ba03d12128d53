"""What acting on a risk threshold would do: the confusion counts and the rates derived from them, per threshold.

Columns are named as PatientLevelPrediction's thresholdSummary names them, so OHDSI users recognise the table
(evaluation and the study's ids are added by the study that writes it). A person is flagged at threshold t when
their risk is at least t, the rule net benefit uses too. The preference threshold is the threshold on Walker's
preference scale (the risk with the prevalence taken out of its log-odds), which compares models across outcomes
of different frequency. A rate whose denominator is zero is NULL, not a division error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.special import expit, logit

from carelake.errors import UserError
from carelake.evaluation.checks import Outcomes, checked, require_both_classes

__all__ = ["THRESHOLD_COLUMNS", "default_thresholds", "threshold_summary"]

THRESHOLD_COLUMNS = (
    "predictionThreshold", "preferenceThreshold", "positiveCount", "negativeCount", "trueCount", "falseCount",
    "truePositiveCount", "trueNegativeCount", "falsePositiveCount", "falseNegativeCount", "f1Score", "accuracy",
    "sensitivity", "falseNegativeRate", "falsePositiveRate", "specificity", "positivePredictiveValue",
    "falseDiscoveryRate", "negativePredictiveValue", "falseOmissionRate", "positiveLikelihoodRatio",
    "negativeLikelihoodRatio", "diagnosticOddsRatio",
)  # fmt: skip
_COUNTS = {"positiveCount", "negativeCount", "trueCount", "falseCount", "truePositiveCount", "trueNegativeCount",
           "falsePositiveCount", "falseNegativeCount"}  # fmt: skip


def default_thresholds(p: npt.ArrayLike, points: int = 100) -> npt.NDArray[np.float64]:
    """Up to `points` thresholds at evenly spaced quantiles of the risks, each an observed risk, highest first."""
    ps = np.asarray(p, dtype=np.float64).ravel()
    if ps.size == 0:
        raise UserError("no risks to take thresholds from")
    picked = np.quantile(ps, np.linspace(0.0, 1.0, points), method="inverted_cdf")
    return np.asarray(np.unique(picked)[::-1], dtype=np.float64)


def threshold_summary(y: Outcomes, p: Outcomes, thresholds: Sequence[float] | npt.ArrayLike | None = None) -> pa.Table:
    """One row per threshold (default: `default_thresholds`), highest first."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "the threshold summary")
    ts = default_thresholds(ps) if thresholds is None else np.sort(np.asarray(thresholds, dtype=np.float64))[::-1]
    if ts.size == 0 or (ts < 0).any() or (ts > 1).any():
        raise UserError("thresholds must lie in [0, 1]", hint="e.g. 0.05, 0.1, 0.2")
    positives = ys == 1.0
    n_true, n_false = int(positives.sum()), int((~positives).sum())
    # Counts at every threshold at once: how many risks of each class are at least t (sorted search, not a loop).
    pos_sorted, neg_sorted = np.sort(ps[positives]), np.sort(ps[~positives])
    tp = n_true - np.searchsorted(pos_sorted, ts, side="left")
    fp = n_false - np.searchsorted(neg_sorted, ts, side="left")
    fn, tn = n_true - tp, n_false - fp
    prevalence = n_true / ys.size
    edge = np.clip(ts, 1e-12, 1 - 1e-12)
    columns: dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]] = {
        "predictionThreshold": ts,
        "preferenceThreshold": expit(logit(edge) - logit(prevalence)),
        "positiveCount": tp + fp,
        "negativeCount": tn + fn,
        "trueCount": tp + fn,
        "falseCount": tn + fp,
        "truePositiveCount": tp,
        "trueNegativeCount": tn,
        "falsePositiveCount": fp,
        "falseNegativeCount": fn,
    }
    sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    ppv, npv = _ratio(tp, tp + fp), _ratio(tn, tn + fn)
    columns |= {
        "f1Score": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "sensitivity": sens,
        "falseNegativeRate": _ratio(fn, tp + fn),
        "falsePositiveRate": _ratio(fp, tn + fp),
        "specificity": spec,
        "positivePredictiveValue": ppv,
        "falseDiscoveryRate": _ratio(fp, tp + fp),
        "negativePredictiveValue": npv,
        "falseOmissionRate": _ratio(fn, tn + fn),
        "positiveLikelihoodRatio": _ratio(sens, 1.0 - spec),
        "negativeLikelihoodRatio": _ratio(1.0 - sens, spec),
        "diagnosticOddsRatio": _ratio(tp * tn, fp * fn),
    }
    arrays = [
        pa.array(columns[name], pa.int64())
        if name in _COUNTS
        else pa.array(columns[name], pa.float64(), from_pandas=True)
        for name in THRESHOLD_COLUMNS
    ]
    return pa.table(arrays, names=list(THRESHOLD_COLUMNS))


def _ratio(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """a / b, NaN (written as NULL) where b is 0 or undefined."""
    num, den = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = (den != 0) & ~np.isnan(den) & ~np.isnan(num)
    np.divide(num, den, out=out, where=ok)
    return out
