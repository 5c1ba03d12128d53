"""The disclosure rule: a count of 1 to `min_cell_count - 1` people never leaves the machine, nor what reveals it.

Every export (quality JSON, the dashboard, characterization, and what studies, the API and federated messages will
send) asks one `DisclosureRule` whether a count is shown. Zero is shown: it names no one. The cutoff is set in one
place (`min_cell_count` in carelake.toml, `CARELAKE_MIN_CELL_COUNT`, or a command's `--min-cell-count`); its
default, 5, is OHDSI's and is written here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute

from carelake.errors import ConfigError

__all__ = ["DEFAULT_MIN_CELL_COUNT", "DisclosureRule", "disclosure_rule"]

DEFAULT_MIN_CELL_COUNT = 5


@dataclass(frozen=True)
class DisclosureRule:
    """Small-cell suppression at `min_cell_count` (1 shows every count)."""

    min_cell_count: int = DEFAULT_MIN_CELL_COUNT

    def __post_init__(self) -> None:
        if isinstance(self.min_cell_count, bool) or not isinstance(self.min_cell_count, int):
            raise ConfigError(f"min_cell_count {self.min_cell_count!r} is not a whole number", hint="use e.g. 5")
        if self.min_cell_count < 1:
            raise ConfigError(
                f"min_cell_count {self.min_cell_count} is below 1", hint="use 1 to show every count, 5 or more to hide"
            )

    def hides(self, n: int | None) -> bool:
        """Whether count `n` (and every figure derived from it) is withheld."""
        return n is not None and 0 < n < self.min_cell_count

    def shown(self, n: int | None) -> int | None:
        """`n`, or None where it is withheld (for machine-read exports: JSON nulls)."""
        return None if self.hides(n) else n

    def label(self, n: int) -> int | str:
        """`n`, or the text "<5" where it is withheld (for tables people read)."""
        return f"<{self.min_cell_count}" if self.hides(n) else n

    def withheld_rows(self, table: pa.Table, counts: Sequence[str]) -> np.ndarray:
        """True for each row of `table` where one of the `counts` columns (or a difference, such as persons less
        persons with the outcome, written "a-b", or persons less events less censored, "a-b-c") is a count this rule
        hides."""
        hidden = np.zeros(table.num_rows, dtype=bool)

        def column(name: str) -> np.ndarray:
            return np.asarray(table.column(name).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)

        for name in counts:
            first, *rest = name.split("-")
            values = column(first) - sum((column(r) for r in rest), np.zeros(table.num_rows, dtype=np.int64))
            hidden |= (values > 0) & (values < self.min_cell_count)
        return hidden

    def suppress(self, table: pa.Table, counts: Sequence[str], keep: Sequence[str]) -> pa.Table:
        """`table` with every column but `keep` emptied (null) in the rows `withheld_rows` finds: a small count
        leaves no trace, neither itself nor a rate computed from it."""
        hidden = pa.array(self.withheld_rows(table, counts))
        columns = []
        for name in table.column_names:
            column = table.column(name)
            if name not in keep:
                column = pa.compute.if_else(hidden, pa.scalar(None, column.type), column)
            columns.append(column)
        return pa.table(columns, names=table.column_names)

    def sql_shown(self, column: str) -> str:
        """A SQL condition, true where the count in `column` may be exported (for filtering in the warehouse)."""
        return f"NOT ({column} > 0 AND {column} < {int(self.min_cell_count)})"


def disclosure_rule(min_cell_count: int | DisclosureRule | None = None) -> DisclosureRule:
    """The rule for a setting: a rule as it is, a cutoff, or None for the default."""
    if isinstance(min_cell_count, DisclosureRule):
        return min_cell_count
    return DisclosureRule() if min_cell_count is None else DisclosureRule(min_cell_count)
