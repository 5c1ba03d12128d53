"""Read one OMOP input file (CSV, TSV, gzip, Parquet) as Arrow batches in the CDM table's exact types.

Parsing is Arrow's (multi-threaded, streamed, memory bounded). When something is wrong, a slower exact pass
with Python's csv module finds the physical line, so every error names file, line, column and value.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from carelake.errors import InputError
from carelake.omop.cdm53 import ADDED_REQUIRED_54, RENAMED_53
from carelake.omop.convert import convert_column
from carelake.omop.departures import Departure, find, merge_departures, too_wide
from carelake.omop.schema import CdmTable, table_by_name

__all__ = ["DATA_SUFFIXES", "FilePlan", "FileReader", "OnError", "Rejected", "plan_file", "split_name"]

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet")
_BLOCK = 1 << 24


def split_name(path: Path) -> tuple[str, str] | None:
    """(table stem, suffix) for a data file name, or None if it is not one."""
    name = path.name.lower()
    for suffix in sorted(DATA_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return path.name[: -len(suffix)], suffix
    return None


@dataclass
class FilePlan:
    """What a file holds, decided from its name and header before anything is loaded."""

    path: Path
    table: CdmTable
    fmt: Literal["csv", "parquet"]
    source_columns: list[str]
    targets: list[str]
    delimiter: str = ","
    quoting: bool = True
    renamed: list[tuple[str, str]] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass(frozen=True)
class Rejected:
    """A row left out under --on-error skip, and why."""

    line: int | None
    column: str | None
    value: str | None
    reason: str
    record: str


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _header_line(path: Path) -> str:
    try:
        with _open_text(path) as f:
            return f.readline().rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise InputError("header is not UTF-8 text", file=str(path), line=1) from e
    except (EOFError, gzip.BadGzipFile, OSError) as e:
        raise InputError(f"cannot read compressed file ({e})", file=str(path)) from e


def plan_file(path: Path, table: CdmTable | None = None, *, quoting: bool | None = None) -> FilePlan:
    """Check a file's name and header against the CDM; raise InputError naming what is wrong."""
    parts = split_name(path)
    if parts is None:
        raise InputError(f"not a data file (expected one of {', '.join(DATA_SUFFIXES)})", file=str(path))
    stem, suffix = parts
    if table is None:
        table = table_by_name(stem)
        if table is None:
            close = difflib.get_close_matches(stem.lower(), [t.name for t in _all_tables()], n=1)
            raise InputError(
                f"unknown table {stem!r}: the file name must be a CDM 5.4 table name",
                file=str(path),
                hint=f"did you mean {close[0]}?" if close else "rename the file, e.g. person.csv",
            )
    if suffix == ".parquet":
        try:
            names = pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file ({e})", file=str(path)) from e
        plan = FilePlan(path, table, "parquet", names, [])
    else:
        header = _header_line(path)
        if not header.strip():
            raise InputError(
                "file is empty: no header line",
                file=str(path),
                line=1,
                hint="an OMOP CSV starts with a header naming its columns",
            )
        delimiter = "\t" if header.count("\t") >= max(1, header.count(",")) else ","
        # Athena's tab files carry bare quotes as text; callers say so with quoting=False.
        quote = True if delimiter == "," or quoting is None else quoting
        names = next(csv.reader([header], delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE))
        plan = FilePlan(path, table, "csv", names, [], delimiter=delimiter, quoting=quote)
        if len(names) == 1 and len(table.schema.columns) > 1:
            other = next((d for d in (";", "|") if d in header), None)
            raise InputError(
                "header has a single column" + (f" separated by {other!r}" if other else ""),
                file=str(path),
                line=1,
                value=header,
                hint="carelake reads comma- or tab-separated files; re-export with one of those",
            )
    _map_columns(plan)
    return plan


def _all_tables() -> tuple[CdmTable, ...]:
    from carelake.omop.schema import cdm_tables

    return cdm_tables()


def _map_columns(plan: FilePlan) -> None:
    table = plan.table
    known = set(table.schema.column_names)
    renames = RENAMED_53.get(table.name, {})
    seen: set[str] = set()
    for raw in plan.source_columns:
        name = raw.strip().strip('"').lower()
        if name in renames:
            plan.renamed.append((name, renames[name]))
            name = renames[name]
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise InputError(
                f"unknown column for CDM 5.4 table {table.name}",
                file=str(plan.path),
                line=1,
                column=raw,
                hint=f"did you mean {close[0]}?" if close else f"{table.name} has: {', '.join(sorted(known))}",
            )
        if name in seen:
            raise InputError("column appears twice in the header", file=str(plan.path), line=1, column=raw)
        seen.add(name)
        plan.targets.append(name)
    for col in table.schema.columns:
        if col.name in seen or col.nullable:
            continue
        if (table.name, col.name) in ADDED_REQUIRED_54:
            plan.filled.append(f"{col.name} (new in CDM 5.4) set to {ADDED_REQUIRED_54[(table.name, col.name)]}")
            continue
        raise InputError(
            f"required column {col.name} of {table.name} is missing from the header",
            file=str(plan.path),
            line=1 if plan.fmt == "csv" else None,
            hint="add the column (it may be empty only where the CDM allows)",
        )


class _Counting(io.RawIOBase):
    """A file wrapper that reports bytes read, for the progress bar."""

    def __init__(self, raw: IO[bytes], report: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._report = report

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if self._report is not None and n:
            self._report(int(n))
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


class FileReader:
    """Streams one planned file as converted batches; counts rows read, keeps rejected rows, notes departures.

    `strict`: text wider than the spec's width is an error (today's refusal); otherwise it loads and is listed
    in `departures`, as are ids beyond 32 bits.
    """

    def __init__(
        self,
        plan: FilePlan,
        *,
        on_error: OnError = "raise",
        progress: Callable[[int], None] | None = None,
        strict: bool = False,
    ) -> None:
        self.plan = plan
        self.on_error = on_error
        self.progress = progress
        self.strict = strict
        self.rows_read = 0
        self.rejected: list[Rejected] = []
        self._departures: list[Departure] = []
        self._pending: list[tuple[int, Rejected]] = []  # value rejects awaiting their line number
        self._structural: list[tuple[int | None, int, str]] = []  # (line, fields, text)
        self._records = 0
        self._row_number = 0

    @property
    def where(self) -> str:
        return str(self.plan.path)

    @property
    def departures(self) -> list[Departure]:
        """What the loaded rows carry beyond the spec, one entry per column."""
        return merge_departures(self._departures)

    # -- batches ---------------------------------------------------------------------------------
    def batches(self) -> Iterator[pa.RecordBatch]:
        source = self._parquet_batches() if self.plan.fmt == "parquet" else self._csv_batches()
        for raw in source:
            batch = self._convert(raw)
            if batch.num_rows:
                yield batch

    def finish(self) -> None:
        """Give every rejected row its line; call after the batches are consumed."""
        if self.plan.fmt == "csv" and (self._pending or any(s[0] is None for s in self._structural)):
            self._locate_pending()
        self.rejected.extend(r for _, r in self._pending)
        self.rejected.sort(key=lambda r: r.line or 0)
        self._pending = []

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        pf = pq.ParquetFile(self.plan.path)
        for batch in pf.iter_batches(batch_size=131_072):
            if self.progress is not None:
                self.progress(int(self.plan.size * batch.num_rows / max(1, pf.metadata.num_rows)))
            yield batch

    def _csv_batches(self) -> Iterator[pa.RecordBatch]:
        plan = self.plan
        n = len(plan.source_columns)
        names = [f"c{i}" for i in range(n)]
        bad_rows: list[pacsv.InvalidRow] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            bad_rows.append(row)
            if self.on_error == "skip":
                self._structural.append((row.number, row.actual_columns, row.text))
                return "skip"
            return "error"

        raw = plan.path.open("rb")
        stream: pa.NativeFile = pa.PythonFile(_Counting(raw, self.progress), mode="r")
        if plan.path.name.lower().endswith(".gz"):
            stream = pa.CompressedInputStream(stream, "gzip")
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK),
                parse_options=pacsv.ParseOptions(
                    delimiter=plan.delimiter,
                    quote_char='"' if plan.quoting else False,
                    newlines_in_values=plan.quoting,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                yield batch
        except (pa.ArrowInvalid, EOFError, OSError, gzip.BadGzipFile) as e:
            raise self._diagnose(e, bad_rows) from None
        finally:
            stream.close()
            raw.close()
        self.rows_read += len(self._structural)

    # -- conversion ------------------------------------------------------------------------------
    def _convert(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        plan, table = self.plan, self.plan.table.schema
        first = self._records
        self._records += raw.num_rows
        self.rows_read += raw.num_rows
        by_target = dict(zip(plan.targets, raw.columns, strict=False))
        arrays: list[pa.Array] = []
        problems: list[tuple[str, pa.Array, str, pa.Array]] = []
        for col in table.columns:
            source = by_target.get(col.name)
            if source is None:
                fill = ADDED_REQUIRED_54.get((table.name, col.name))
                if fill == "row number":
                    base = self._row_number
                    source = pa.array(np.arange(base + 1, base + 1 + raw.num_rows)).cast(pa.string())
                elif fill is not None:
                    source = pa.array([fill] * raw.num_rows, pa.string())
                else:
                    arrays.append(pa.nulls(raw.num_rows, col.arrow_type))
                    continue
            found = convert_column(source, col)
            arrays.append(found[0].values)
            problems.extend((col.name, f.bad, f.reason, source) for f in found if f.bad is not None)
            wide = too_wide(found[0].values, col) if self.strict else None
            if wide is not None:
                problems.append((col.name, wide, f"longer than {col.length} characters", source))
        self._row_number += raw.num_rows
        batch = pa.RecordBatch.from_arrays(arrays, schema=table.arrow_schema)
        if not problems:
            return self._note_departures(batch)
        if self.on_error == "raise":
            at, name, reason, source = min(
                (
                    (pc.index(bad, True).as_py(), name, reason, src)
                    for name, bad, reason, src in problems
                    if pc.index(bad, True).as_py() >= 0
                ),
                key=lambda p: (p[0], table.column_names.index(p[1])),
            )
            value = source[at].as_py()
            line = self._line_of(first + at) if plan.fmt == "csv" else None
            raise InputError(
                f"{reason} for {table.name}.{name}" if plan.fmt == "csv" else f"row {first + at + 1}: {reason}",
                file=self.where,
                line=line,
                column=name,
                value="" if value is None else str(value),
                hint=_hint_for(reason),
            )
        reject = np.zeros(raw.num_rows, dtype=bool)
        for name, bad, reason, source in problems:
            mask = np.asarray(bad.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            for i in np.flatnonzero(mask & ~reject):
                value = source[int(i)].as_py()
                record = plan.delimiter.join(
                    "" if c[int(i)].as_py() is None else str(c[int(i)].as_py()) for c in raw.columns
                )
                self._pending.append(
                    (
                        first + int(i),
                        Rejected(None, name, None if value is None else str(value), reason, record),
                    )
                )
            reject |= mask
        return self._note_departures(batch.filter(pa.array(~reject)))

    def _note_departures(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        for col, values in zip(self.plan.table.schema.columns, batch.columns, strict=True):
            found = find(values, col, self.plan.table.name)
            if found is not None:
                self._departures.append(found)
        return batch

    # -- finding lines ---------------------------------------------------------------------------
    def _scan(self) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """(start line, fields, problem) per record, mirroring how the fast reader counts records."""
        plan = self.plan
        expected = len(plan.source_columns)
        with _open_text(plan.path) as f:
            reader = csv.reader(
                f,
                delimiter=plan.delimiter,
                quoting=csv.QUOTE_MINIMAL if plan.quoting else csv.QUOTE_NONE,
                strict=True,
            )
            line_end = 0
            try:
                next(reader)
                line_end = reader.line_num
                for fields in reader:
                    start, line_end = line_end + 1, reader.line_num
                    if not fields:
                        continue
                    problem = None if len(fields) == expected else f"{len(fields)}"
                    yield start, fields, problem
            except csv.Error:
                yield line_end + 1, None, "unterminated"

    def _line_of(self, record: int) -> int | None:
        seen = -1
        for line, _, problem in self._scan():
            if problem is None:
                seen += 1
                if seen == record:
                    return line
        return None

    def _locate_pending(self) -> None:
        wanted = {r: i for i, (r, _) in enumerate(self._pending)}
        structural = iter(range(len(self._structural)))
        seen = -1
        for line, _, problem in self._scan():
            if problem is not None:
                k = next(structural, None)
                if k is not None and self._structural[k][0] is None:
                    _, count, text = self._structural[k]
                    self._structural[k] = (line, count, text)
                continue
            seen += 1
            if seen in wanted:
                i = wanted[seen]
                r = self._pending[i][1]
                self._pending[i] = (seen, Rejected(line, r.column, r.value, r.reason, r.record))
        expected = len(self.plan.source_columns)
        for where, count, text in self._structural:
            self.rejected.append(
                Rejected(where, None, None, f"has {count} fields where the header has {expected}", text)
            )

    def _diagnose(self, error: BaseException, bad_rows: list[pacsv.InvalidRow]) -> InputError:
        """Turn a parser failure into an error that names the line."""
        expected = len(self.plan.source_columns)
        try:
            for line, fields, problem in self._scan():
                if problem == "unterminated":
                    return InputError(
                        f"quoted value starting at line {line} is never closed",
                        file=self.where,
                        line=line,
                        hint="the file may be truncated; re-export or copy it again",
                    )
                if problem is not None and fields is not None:
                    truncated = len(fields) < expected
                    return InputError(
                        f"has {len(fields)} fields where the header has {expected}",
                        file=self.where,
                        line=line,
                        value=self.plan.delimiter.join(fields),
                        hint=(
                            "the file may be truncated, or the delimiter changes within the file"
                            if truncated
                            else "a value may contain an unquoted delimiter; quote it"
                        ),
                    )
        except UnicodeDecodeError:
            return InputError(
                "not UTF-8 text",
                file=self.where,
                line=_first_bad_utf8_line(self.plan.path),
                hint="re-export the file as UTF-8",
            )
        except (EOFError, gzip.BadGzipFile, OSError) as e:
            return InputError(
                f"compressed stream is damaged or truncated ({e})",
                file=self.where,
                hint="copy the file again",
            )
        if bad_rows:
            row = bad_rows[0]
            return InputError(
                f"has {row.actual_columns} fields where the header has {expected}",
                file=self.where,
                line=row.number,
                value=row.text,
            )
        return InputError(f"cannot parse: {error}", file=self.where)


def _first_bad_utf8_line(path: Path) -> int | None:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _hint_for(reason: str) -> str | None:
    if reason.startswith("required"):
        return "fill the field, or load with --on-error skip to set such rows aside"
    if reason.startswith("longer"):
        return "shorten the value, or load without --strict to keep it (it is then listed as a departure)"
    return "fix the value, or load with --on-error skip to set such rows aside"
