"""Discrimination: does the model rank persons with the outcome above those without?"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from carelake.evaluation.checks import Outcomes, checked, require_both_classes

__all__ = ["auprc", "auroc"]


def auroc(y: Outcomes, p: Outcomes) -> float:
    """Area under the ROC curve: the chance a random person with the outcome gets a higher risk than one without
    (ties count half), from the Mann-Whitney rank sum: exact, O(n log n), no curve needed."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "AUROC")
    positives = ys == 1.0
    n1 = int(positives.sum())
    n0 = ys.size - n1
    ranks = rankdata(ps)  # average ranks for ties
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auprc(y: Outcomes, p: Outcomes) -> float:
    """Area under the precision-recall curve as average precision: the precision at each distinct risk threshold,
    weighted by the recall it adds (no interpolation, so it is not optimistic where events are rare)."""
    ys, ps = checked(y, p)
    require_both_classes(ys, "AUPRC")
    order = np.argsort(-ps, kind="mergesort")
    scores, hits = ps[order], ys[order]
    # The last position of each distinct score: a threshold takes every person with that risk at once.
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(hits)[last]
    precision = tp / (last + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
