"""Write a view's rows as CSV, Parquet or NDJSON, to a file or to stdout.

CSV has no lists, so collection columns are written as JSON arrays; Parquet keeps them as lists; NDJSON writes
each row as one JSON object, the shape the SQL-on-FHIR tests use.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from carelake.errors import ConfigError

__all__ = ["FORMATS", "write_rows"]

FORMATS = ("csv", "parquet", "ndjson")


def write_rows(table: pa.Table, fmt: str, out: Path | None) -> None:
    """Write `table` in `fmt`; `out` None means stdout (not for Parquet)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        if out is None:
            raise ConfigError("Parquet is binary: give --out FILE")
        pq.write_table(table, out)
        return
    if fmt == "ndjson":
        with _open(out) as f:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in batch.to_pylist():
                    f.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        return
    flat = _flatten_lists(table)
    if out is None:
        buf = io.BytesIO()
        pacsv.write_csv(flat, buf)
        sys.stdout.write(buf.getvalue().decode("utf-8"))
    else:
        pacsv.write_csv(flat, out)


def _flatten_lists(table: pa.Table) -> pa.Table:
    columns = []
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def _open(out: Path | None) -> IO[str]:
    if out is None:
        return _Stdout()
    return out.open("w", encoding="utf-8")


class _Stdout(io.StringIO):
    """stdout that survives a `with` block (closing it would close the process's stdout)."""

    def write(self, s: str) -> int:
        return sys.stdout.write(s)
