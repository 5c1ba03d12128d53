"""LOWESS (Cleveland, 1979), without robustness iterations: the smoother of calibration curves.

For each anchor point, the `frac` share of the data nearest to it is fitted by a straight line under tricube
weights, and the line's value there is the smoothed value. As in Cleveland's reference implementation (the one
behind R's `lowess` and rms's `val.prob`), anchors are at least `delta` apart and the points between two anchors
are interpolated linearly, so a smooth of 100,000 risks costs about a hundred local fits, not 100,000; tied x
values share one smoothed value. This is what makes E-avg, E90 and E-max the figures other tools report.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError

__all__ = ["lowess"]

Array = npt.NDArray[np.float64]


def lowess(x: npt.ArrayLike, y: npt.ArrayLike, *, frac: float = 2.0 / 3.0, delta: float | None = None) -> Array:
    """Smoothed values of `y` at each `x`, returned in ascending `x` order as rows (x, smoothed y).

    `delta` defaults to 1% of the range of `x` (R's default); 0 fits at every point.
    """
    xs, ys = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if xs.size != ys.size or xs.size < 2:
        raise UserError("lowess needs two or more (x, y) pairs of equal length")
    if not 0.0 < frac <= 1.0:
        raise UserError(f"lowess span {frac} is not in (0, 1]")
    order = np.argsort(xs, kind="mergesort")
    xs, ys = xs[order], ys[order]
    n = xs.size
    span = xs[-1] - xs[0]
    step = 0.01 * span if delta is None else delta
    ns = max(min(int(frac * n + 1e-7), n), 2)
    fitted = np.empty(n)
    left, right = 0, ns - 1
    last = -1  # the last anchor fitted
    i = 0
    while True:
        # Slide the window of ns points while the point beyond its right edge is nearer than its left edge.
        while right < n - 1 and xs[i] - xs[left] > xs[right + 1] - xs[i]:
            left, right = left + 1, right + 1
        fitted[i] = _local_fit(xs, ys, i, left, right, span)
        if last < i - 1:  # interpolate the points skipped since the last anchor
            between = slice(last + 1, i)
            weight = (xs[between] - xs[last]) / (xs[i] - xs[last])
            fitted[between] = weight * fitted[i] + (1.0 - weight) * fitted[last]
        last = i
        # The next anchor: past every point within `step`, those tied with this one taking its value.
        cut = xs[last] + step
        i = last + 1
        while i < n and xs[i] <= cut:
            if xs[i] == xs[last]:
                fitted[i] = fitted[last]
                last = i
            i += 1
        i = max(last + 1, i - 1)
        if last >= n - 1:
            break
    return np.column_stack([xs, fitted])


def _local_fit(x: Array, y: Array, i: int, left: int, right: int, span: float) -> float:
    """The tricube-weighted straight line through the window around x[i], evaluated at x[i]."""
    h = max(x[i] - x[left], x[right] - x[i])
    # Points from `left` up to 0.999 h beyond x[i] (those past it weigh nothing); ties at the right edge included.
    end = int(np.searchsorted(x, x[i] + 0.999 * h, side="right"))
    xw, yw = x[left:end], y[left:end]
    r = np.abs(xw - x[i])
    weights = np.ones_like(r) if h == 0 else np.where(r <= 0.001 * h, 1.0, (1.0 - np.minimum(r / h, 1.0) ** 3) ** 3)
    total = weights.sum()
    if total <= 0.0:
        return float(y[i])
    weights = weights / total
    if h > 0:
        centre = float(weights @ xw)
        spread = float(weights @ (xw - centre) ** 2)
        if np.sqrt(spread) > 0.001 * span:
            weights = weights * ((x[i] - centre) / spread * (xw - centre) + 1.0)
    return float(weights @ yw)
