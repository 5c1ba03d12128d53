"""Harmless departures from the CDM spec that a load keeps and reports rather than refusing.

Real exports made on BigQuery or Spark carry 64-bit ids where the spec says integer, and text wider than the
spec's VARCHAR width (local vocabulary ids, long concept codes and source values). Nothing is lost: the values
load as they are, every engine stores them (ids as BIGINT, text unbounded), and the load summary lists each
departure per table and column with a count, the widest value and a few examples. `--strict` refuses over-wide
text instead, as the spec demands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from carelake.warehouse import Column

__all__ = ["INT32_RANGE", "Departure", "find", "merge_departures", "too_wide"]

INT32_RANGE = (-(2**31), 2**31 - 1)
_EXAMPLES = 3
_SHOWN = 60  # characters of a wide text example that a report shows


@dataclass
class Departure:
    """One column's departure: `rows` values beyond the spec, the widest one, and up to three examples."""

    table: str
    column: str
    spec: str
    kind: str  # "text wider than the spec" or "id beyond 32 bits"
    rows: int = 0
    widest: int = 0  # characters for text, the largest magnitude for ids
    examples: list[str] = field(default_factory=list)

    def add(self, rows: int, widest: int, examples: list[str]) -> None:
        self.rows += rows
        self.widest = max(self.widest, widest)
        for e in examples:
            if len(self.examples) < _EXAMPLES and e not in self.examples:
                self.examples.append(e)

    def describe(self) -> str:
        """One line for a load summary: where, what the spec says, how many, how far, an example."""
        text = self.kind.startswith("text")
        what = ("value" if self.rows == 1 else "values") + (" wider" if text else " beyond 32 bits")
        widest = f"up to {self.widest:,}" + (" characters" if text else "")
        example = self.examples[0] if self.examples else ""
        example = example if len(example) <= 24 else example[:23] + "…"
        return f"{self.table}.{self.column} ({self.spec}): {self.rows:,} {what}, {widest}, e.g. {example!r}"


def too_wide(values: pa.Array, column: Column) -> pa.Array | None:
    """Cells of a varchar column longer than the spec's width (None: none are), for `--strict` to refuse."""
    if column.kind != "varchar" or column.length is None or len(values) == 0:
        return None
    lengths = pc.utf8_length(values)
    longest = pc.max(lengths).as_py()
    if longest is None or longest <= column.length:
        return None
    return pc.fill_null(pc.greater(lengths, column.length), False)


def find(values: pa.Array, column: Column, table: str) -> Departure | None:
    """The departure in one converted column of a batch, or None (the common case, decided from min/max alone)."""
    if column.kind == "varchar":
        mask = too_wide(values, column)
        if mask is None:
            return None
        wide = values.filter(mask)
        out = Departure(table, column.name, f"varchar({column.length})", "text wider than the spec")
        examples = [_shorten(v) for v in wide.slice(0, _EXAMPLES).to_pylist()]
        out.add(len(wide), int(pc.max(pc.utf8_length(wide)).as_py()), examples)
        return out
    if column.kind == "bigint" and len(values) and values.null_count < len(values):
        lo, hi = INT32_RANGE
        mm = pc.min_max(values).as_py()
        if mm["min"] >= lo and mm["max"] <= hi:
            return None
        mask = pc.fill_null(pc.or_(pc.less(values, lo), pc.greater(values, hi)), False)
        wide = values.filter(mask)
        out = Departure(table, column.name, "integer (32-bit)", "id beyond 32 bits")
        out.add(len(wide), max(abs(mm["min"]), abs(mm["max"])), [str(v) for v in wide.slice(0, _EXAMPLES).to_pylist()])
        return out
    return None


def merge_departures(found: list[Departure]) -> list[Departure]:
    """One departure per table and column, in first-seen order."""
    merged: dict[tuple[str, str], Departure] = {}
    for d in found:
        key = (d.table, d.column)
        if key not in merged:
            merged[key] = Departure(d.table, d.column, d.spec, d.kind)
        merged[key].add(d.rows, d.widest, d.examples)
    return list(merged.values())


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
