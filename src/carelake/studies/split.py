"""Splitting a study population into training and test persons, and which rows are whose.

By person (PLP's randomSplitter): persons with the outcome and persons without are each shuffled with the study's
seed and the first `test_fraction` of each go to test, so both parts keep the outcome rate and no person is in both.
Temporal (PLP's timeSplitter): the rows with the latest index dates go to test, and a person with a test row keeps no
training row. Persons are drawn in person_id order, so every engine gives the same split.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from carelake.studies.spec import Split

__all__ = ["LEFT_OUT", "TEST", "TRAIN", "split_rows"]

TRAIN, TEST, LEFT_OUT = 0, 1, -1
Parts = npt.NDArray[np.int8]


def split_rows(
    person: npt.NDArray[np.int64], index_day: npt.NDArray[np.int64], label: npt.NDArray[np.float64], split: Split
) -> Parts:
    """Each row's part: TRAIN, TEST or LEFT_OUT (arrays per population row, in the population's order)."""
    if split.kind == "temporal":
        return _temporal(person, index_day, split.test_fraction)
    persons, inverse = np.unique(person, return_inverse=True)
    has_outcome = np.zeros(persons.size, dtype=bool)
    np.logical_or.at(has_outcome, inverse, label > 0)
    rng = np.random.default_rng(split.seed)
    test = np.zeros(persons.size, dtype=bool)
    for stratum in (has_outcome, ~has_outcome):
        members = np.nonzero(stratum)[0]
        chosen = rng.permutation(members)[: round(split.test_fraction * members.size)]
        test[chosen] = True
    return np.where(test[inverse], TEST, TRAIN).astype(np.int8)


def _temporal(person: npt.NDArray[np.int64], index_day: npt.NDArray[np.int64], fraction: float) -> Parts:
    order = np.sort(index_day)
    cut = order[min(int(np.floor((1.0 - fraction) * order.size)), order.size - 1)]
    test = index_day >= cut
    # A person with a test row gives no training row (their earlier rows are left out), so no one is in both.
    earlier = ~test & np.isin(person, person[test])
    return np.where(test, TEST, np.where(earlier, LEFT_OUT, TRAIN)).astype(np.int8)
