"""Deterministic gzip CSV and NDJSON writers fed one chunk at a time (bounded memory, byte-identical reruns)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["CsvGz", "Ndjson", "join", "strings"]


class CsvGz:
    """A gzip CSV file with a header, written in pieces; gzip's mtime and name are fixed so bytes repeat."""

    def __init__(self, path: Path, columns: list[str], level: int = 4) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self._raw = path.open("wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=level)
        self._gz.write((",".join(columns) + "\n").encode())

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        buf = io.BytesIO()
        pacsv.write_csv(table.select(self.columns), buf, pacsv.WriteOptions(include_header=False))
        self._gz.write(buf.getvalue())
        self.rows += table.num_rows

    def close(self) -> None:
        self._gz.close()
        self._raw.close()


class Ndjson:
    """One FHIR Bulk Data file (`Type.000.ndjson`), a resource per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._f = path.open("wb")

    def write(self, lines: pa.Array) -> None:
        if len(lines) == 0:
            return
        self._f.write("\n".join(lines.to_pylist()).encode() + b"\n")
        self.rows += len(lines)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Ndjson:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def strings(values: list[str], index: object) -> pa.Array:
    """values[index] as an Arrow string array (codes and displays looked up by key)."""
    return pc.take(pa.array(values, pa.string()), pa.array(index))


def join(*parts: str | pa.Array) -> pa.Array:
    """Concatenate literals and string arrays element-wise: JSON built by Arrow, not a Python loop."""
    return pc.binary_join_element_wise(*parts, "")
