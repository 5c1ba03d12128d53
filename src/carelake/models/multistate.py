"""A multi-state model: how persons move between disease stages over time, and where they are at each time.

States are numbered 0..K-1. Each person starts in a state at time 0, moves through states at known times, and is
censored at the end of follow-up unless an absorbing state (death) ends it. The estimator is Aalen-Johansen's for a
Markov process: at each time with transitions, the matrix I + dA(t) with dA[h, j] = transitions h -> j at t divided
by the persons in h just before t; P(0, t) is their product in time order, and the state occupation at t is the
starting distribution times P(0, t). Nelson-Aalen's cumulative hazard of each transition comes with it.

With two states (alive, dead) the occupation of the first is Kaplan-Meier; with one starting state and absorbing
ones it is the Aalen-Johansen cumulative incidence of competing risks. Tests hold it to both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carelake.errors import UserError
from carelake.evaluation import NotEstimable

__all__ = ["MultiStateFit", "Transition", "fit_multistate"]

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741


@dataclass(frozen=True)
class Transition:
    """One move: person (row), time, from state, to state."""

    person: int
    time: float
    source: int
    target: int


@dataclass(frozen=True)
class MultiStateFit:
    """The event times, the occupation probabilities just after each (rows) per state (columns), the starting
    distribution, and per transition (h, j) the counts and Nelson-Aalen cumulative hazard at each event time."""

    states: tuple[str, ...]
    times: F
    occupation: F  # (len(times), K)
    start: F  # (K,)
    at_risk: F  # (len(times), K): persons in each state just before each time
    counts: dict[tuple[int, int], F]  # transitions h -> j at each time
    cumulative_hazard: dict[tuple[int, int], F]
    last_follow_up: float

    def occupation_at(self, t: npt.ArrayLike) -> F:
        """P(in state k at time t) for each t (rows) and state (columns); the start before the first event time."""
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if (tt > self.last_follow_up).any():
            raise NotEstimable(f"state occupation is not known after {self.last_follow_up:g}, the last follow-up "
                               f"(asked at {float(tt.max()):g})")  # fmt: skip
        if self.times.size == 0:  # nobody moved: everyone is where they started
            return np.tile(self.start, (tt.size, 1))
        k = np.searchsorted(self.times, tt, side="right") - 1
        return np.asarray(np.where((k >= 0)[:, None], self.occupation[np.maximum(k, 0)], self.start[None, :]))


def fit_multistate(
    states: tuple[str, ...], start: I, end: F, transitions: list[Transition], absorbing: tuple[int, ...] = ()
) -> MultiStateFit:
    """Aalen-Johansen on `len(start)` persons: `start[i]` their state at time 0, `end[i]` the end of their follow-up
    (their last transition's time if it entered an absorbing state), `transitions` each move in time order per
    person. A move out of an absorbing state, backwards in time, or after follow-up ends is refused."""
    k = len(states)
    n = int(np.asarray(start).size)
    first = np.asarray(start, dtype=np.int64)
    stop = np.asarray(end, dtype=np.float64)
    if stop.shape != (n,) or (first < 0).any() or (first >= k).any():
        raise UserError("one starting state (0..K-1) and one end of follow-up per person", hint="check the inputs")
    # Each person's sojourns: (state, entered, left) with left = next move or end of follow-up.
    by_person: dict[int, list[Transition]] = {}
    for tr in transitions:
        by_person.setdefault(tr.person, []).append(tr)
    sojourn_state: list[int] = []
    sojourn_in: list[float] = []
    sojourn_out: list[float] = []
    for i in range(n):
        state, since = int(first[i]), 0.0
        for tr in by_person.get(i, []):
            if tr.source != state or tr.time < since or tr.time > stop[i] or state in absorbing:
                raise UserError(
                    f"person {i}: a move {tr.source} -> {tr.target} at {tr.time:g} does not follow from state {state} "
                    f"since {since:g} (follow-up ends at {stop[i]:g})",
                    hint="give each person's moves in time order, from the state they are in, within follow-up",
                )
            sojourn_state.append(state)
            sojourn_in.append(since)
            sojourn_out.append(tr.time)
            state, since = tr.target, tr.time
        if state not in absorbing:
            sojourn_state.append(state)
            sojourn_in.append(since)
            sojourn_out.append(float(stop[i]))
    s_state = np.asarray(sojourn_state, dtype=np.int64)
    s_in, s_out = np.asarray(sojourn_in), np.asarray(sojourn_out)
    move_time = np.asarray([tr.time for tr in transitions], dtype=np.float64)
    times = np.unique(move_time)
    # Persons in state h just before t: entered before t (strictly) and left at or after t.
    at_risk = np.zeros((times.size, k))
    for h in range(k):
        mine = s_state == h
        entered = np.sort(s_in[mine])
        left = np.sort(s_out[mine])
        at_risk[:, h] = np.searchsorted(entered, times, side="left") - np.searchsorted(left, times, side="left")
    counts: dict[tuple[int, int], F] = {}
    slot = np.searchsorted(times, move_time)
    for tr, j in zip(transitions, slot.tolist(), strict=True):
        key = (tr.source, tr.target)
        counts.setdefault(key, np.zeros(times.size))[j] += 1.0
    p0 = np.bincount(first, minlength=k).astype(np.float64) / max(n, 1)
    occupation = np.empty((times.size, k))
    current = p0.copy()
    for j in range(times.size):
        step = np.eye(k)
        for (h, g), c in counts.items():
            if c[j]:
                rate = c[j] / at_risk[j, h]
                step[h, g] += rate
                step[h, h] -= rate
        current = current @ step
        occupation[j] = current
    hazard = {key: np.cumsum(np.divide(c, at_risk[:, key[0]], out=np.zeros_like(c), where=c > 0))
              for key, c in counts.items()}  # fmt: skip
    return MultiStateFit(states, times, occupation, p0, at_risk, counts, hazard, float(stop.max(initial=0.0)))
