"""The raw FHIR store: one warehouse table per resource type holding each resource's JSON and where it came from.

`stage_fhir` reads every input, resolves references across files, checks each resource's shape, and writes
`fhir.<type>` tables (id, resource, source_file, source_line, source_entry) in one transaction, upserting on id so a
re-load changes nothing. Bad records are rejected one by one with file:line and reason; everything else loads.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from carelake.fhir.ndjson import NdjsonScanner
from carelake.fhir.reader import Parsed, Rejection, SkippedFile, discover, parse_line, read_file
from carelake.fhir.references import ReferenceIndex
from carelake.warehouse import Column, TableSchema, Warehouse, quote
from carelake.warehouse.background import BackgroundWrites

log = logging.getLogger(__name__)

__all__ = ["FHIR_SCHEMA", "StageReport", "raw_table", "stage_fhir"]

FHIR_SCHEMA = "fhir"
_FLUSH_ROWS = 20_000
# Writes handed to the writer thread and not yet done (the running one included): each holds one chunk's rows.
_QUEUED_WRITES = 4
_COLUMNS = "id, resource, source_file, source_line, source_entry"


def raw_table(resource_type: str) -> TableSchema:
    """The raw-store table of one resource type (lower-case name, so every engine spells it alike)."""
    return TableSchema(
        name=resource_type.lower(),
        columns=(
            Column("id", "varchar", nullable=False),
            Column("resource", "json", nullable=False),
            Column("source_file", "varchar"),
            Column("source_line", "bigint"),
            Column("source_entry", "integer"),
        ),
        # No primary-key index: staging keeps one copy per id by construction, and an index over millions of ids
        # made writing the raw store half again slower than the write itself.
        row_key=("id",),
    )


@dataclass
class StageReport:
    """What a staging run read, stored and rejected, per resource type."""

    read: Counter[str] = field(default_factory=Counter)
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    # Loaded copies of an id that a later copy in the same input replaced (a bundle repeating a shared Practitioner).
    duplicates: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    skipped_files: list[SkippedFile] = field(default_factory=list)
    files: int = 0
    references_rewritten: int = 0
    references_unresolved: dict[str, int] = field(default_factory=dict)

    @property
    def total_read(self) -> int:
        return sum(self.read.values())

    def to_dict(self) -> dict[str, Any]:
        types = sorted(set(self.read) | set(self.rejected))
        return {
            "files": self.files,
            "skipped_files": [{"file": s.file, "reason": s.reason} for s in self.skipped_files],
            "resources": {
                t: {"read": self.read[t], "loaded": self.loaded[t], "rejected": self.rejected[t],
                    "replaced_by_a_later_copy": self.duplicates[t]}
                for t in types
            },
            "references": {"rewritten": self.references_rewritten, "unresolved": self.references_unresolved},
            "rejections": [
                {"where": r.where, "file": r.file, "line": r.line, "entry": r.entry, "reason": r.reason,
                 "resource_type": r.resource_type, "id": r.id}
                for r in self.rejections
            ],
        }  # fmt: skip


class _Writer:
    """Rows go straight to the raw store for a type it has no table for yet (a first load), else to a per-type
    incoming table numbered in input order; at the end each type keeps one copy per id, the last in the input.

    One upsert per type at the end, not one per batch: a per-batch upsert probes the whole table each time, which
    grows with the square of the load. Writing a new type straight to the raw store spares a second copy of every
    resource's text; its rare repeated ids are settled at the end.
    """

    def __init__(self, wh: Warehouse, report: StageReport, schema: str) -> None:
        self.wh = wh
        self.schema = schema
        self.incoming = f"{schema}_incoming"
        self.report = report
        self.buffers: dict[str, list[tuple[str, str, str, int | None, int | None, int]]] = {}
        self.created: set[str] = set()
        # Types written straight to the raw store; the rest go through incoming tables.
        self.direct: set[str] = set()
        self.existing: set[str] | None = None
        self.files: dict[str, int] = {}
        # Writes run on a worker thread while the next chunks are being read and parsed (see BackgroundWrites).
        self.writes = BackgroundWrites(_QUEUED_WRITES, name="carelake-stage")

    def wait(self) -> None:
        """Block until every queued write is done; a write that failed raises here."""
        self.writes.wait()

    def file_seen(self, file: str) -> None:
        """Input order: a file read earlier is older, whenever its resources reach the store."""
        self.files.setdefault(file, len(self.files))

    def seq(self, file: str, line: int | None, entry: int | None) -> int:
        return (self.files[file] << 32) | (line or entry or 0)

    def add(self, item: Parsed, changed: bool) -> None:
        text = item.text if item.text is not None and not changed else _dumps(item.resource)
        self.add_text(item.resource_type, item.id, text, item.file, item.line, item.entry)

    def add_text(self, rtype: str, rid: str, text: str, file: str, line: int | None, entry: int | None) -> None:
        buf = self.buffers.setdefault(rtype, [])
        buf.append((rid, text, file, line, entry, self.seq(file, line, entry)))
        self.report.loaded[rtype] += 1
        if len(buf) >= _FLUSH_ROWS:
            self.flush(rtype)

    def add_arrow(self, rtype: str, rows: pa.Table, lines: int, file: str) -> None:
        """Rows already in the raw store's layout (from the NDJSON scanner, all from `file`)."""
        schema, table = self._create(rtype)
        if schema == self.incoming:
            base = pa.scalar(self.files[file] << 32, pa.int64())
            rows = rows.append_column("seq", pc.add(rows.column("source_line").cast(pa.int64()), base))
        batches = rows.cast(table.arrow_schema).to_batches()
        self.writes.submit(lambda: self._append(schema, table, batches))
        self.report.loaded[rtype] += lines

    def _append(self, schema: str, table: TableSchema, batches: list[pa.RecordBatch]) -> None:
        self.wh.write_table(schema, table, batches, mode="append")

    def _create(self, rtype: str) -> tuple[str, TableSchema]:
        """Where `rtype`'s rows go: the raw store if it had no table for the type, else an incoming table."""
        if rtype not in self.created:
            self.wait()
            if self.existing is None:
                self.existing = set(self.wh.list_tables(self.schema))
            if raw_table(rtype).name in self.existing:
                self.wh.create_table(self.incoming, _incoming_table(rtype))
            else:
                self.wh.create_table(self.schema, raw_table(rtype))
                self.direct.add(rtype)
            self.created.add(rtype)
        if rtype in self.direct:
            return self.schema, raw_table(rtype)
        return self.incoming, _incoming_table(rtype)

    def flush(self, resource_type: str) -> None:
        rows = self.buffers.pop(resource_type, None)
        if not rows:
            return
        schema, table = self._create(resource_type)
        columns = list(zip(*rows, strict=True))  # the last, seq, is left out when the table has no such column
        batch = pa.record_batch(
            [pa.array(col, field.type) for col, field in zip(columns, table.arrow_schema, strict=False)],
            schema=table.arrow_schema,
        )
        self.writes.submit(lambda: self._append(schema, table, [batch]))

    def finish(self) -> None:
        """Upsert each type's incoming rows into the raw store: one pass per type, the newest copy of an id kept."""
        for resource_type in list(self.buffers):
            self.flush(resource_type)
        self.wait()
        for rtype in sorted(self.direct):
            self._settle_copies(rtype)
        for rtype in sorted(self.created - self.direct):
            raw = raw_table(rtype)
            self.wh.create_table(self.schema, raw)
            target = f"{quote(self.schema)}.{quote(raw.name)}"
            source = f"{quote(self.incoming)}.{quote(raw.name)}"
            copies = self.wh.fetch_scalar(f"SELECT count(*) - count(DISTINCT id) FROM {source}")
            if copies:
                self.report.duplicates[rtype] = int(copies)
            if self.wh.row_count(self.schema, raw.name):
                self.wh.execute(f"DELETE FROM {target} WHERE id IN (SELECT id FROM {source})")
            if copies:
                self._insert_newest(target, source)
            else:
                self.wh.execute(f"INSERT INTO {target} ({_COLUMNS}) SELECT {_COLUMNS} FROM {source}")

    def _insert_newest(self, target: str, source: str) -> None:
        """The newest copy of each id, found on (id, seq) alone: no sort of the resources themselves."""
        self.wh.execute(
            f"""INSERT INTO {target} ({_COLUMNS})
            SELECT s.id, s.resource, s.source_file, s.source_line, s.source_entry
            FROM {source} AS s JOIN (SELECT id, max(seq) AS seq FROM {source} GROUP BY id) AS newest
              ON newest.id = s.id AND newest.seq = s.seq"""
        )

    def _settle_copies(self, rtype: str) -> None:
        """A type written straight to the raw store: of an id read more than once, keep only the newest copy."""
        target = f"{quote(self.schema)}.{quote(raw_table(rtype).name)}"
        copies = int(self.wh.fetch_scalar(f"SELECT count(*) - count(DISTINCT id) FROM {target}") or 0)
        if not copies:
            return
        self.report.duplicates[rtype] = copies
        files = TableSchema("input_file", (Column("source_file", "varchar"), Column("file_no", "bigint")))
        if not self.wh.table_exists(self.incoming, files.name):
            self.wh.create_table(self.incoming, files)
            batch = pa.record_batch(
                [pa.array(list(self.files), pa.string()), pa.array(list(self.files.values()), pa.int64())],
                schema=files.arrow_schema,
            )
            self.wh.write_table(self.incoming, files, [batch])
        held = f"{quote(self.incoming)}.{quote('copies_' + raw_table(rtype).name)}"
        self.wh.execute(
            f"""CREATE TABLE {held} AS
            SELECT r.id, r.resource, r.source_file, r.source_line, r.source_entry,
                   f.file_no * 4294967296 + coalesce(r.source_line, r.source_entry, 0) AS seq
            FROM {target} AS r JOIN {quote(self.incoming)}.input_file AS f ON f.source_file = r.source_file
            WHERE r.id IN (SELECT id FROM {target} GROUP BY id HAVING count(*) > 1)"""
        )
        self.wh.execute(f"DELETE FROM {target} WHERE id IN (SELECT id FROM {held})")
        self._insert_newest(target, held)


def _incoming_table(resource_type: str) -> TableSchema:
    raw = raw_table(resource_type)
    return TableSchema(raw.name, (*raw.columns, Column("seq", "bigint", nullable=False)))


class _Stager:
    """Routes every item read to the store, the rejections or the spill file, and keeps the accounting."""

    def __init__(
        self, report: StageReport, writer: _Writer, spill: IO[str], progress: Callable[[int], None] | None
    ) -> None:
        self.report = report
        self.index = ReferenceIndex()
        self.writer = writer
        self.spill = spill
        self.spilled = 0
        self.progress = progress

    def document(self, entry: Path) -> None:
        """A file read in Python: a bundle or single resource is indexed whole before its references are resolved."""
        items = read_file(entry)
        batch: Iterable[Parsed | Rejection] = list(items) if not _is_ndjson(entry) else items
        if isinstance(batch, list):
            for item in batch:
                if isinstance(item, Parsed):
                    self.index.add(item.resource_type, item.id, item.resource, item.full_url)
        for item in batch:
            self.take(item, indexed=isinstance(batch, list))

    def take(self, item: Parsed | Rejection, *, indexed: bool) -> None:
        if isinstance(item, Rejection):
            _reject(self.report, item)
            return
        self.report.read[item.resource_type] += 1
        if not indexed:
            self.index.add(item.resource_type, item.id, item.resource, item.full_url)
        if self.progress:
            self.progress(1)
        if not self.index.needs_rewrite(item.resource, item.text):
            self.writer.add(item, changed=False)
            return
        if self.index.resolve(item.resource, final=False):
            self.writer.add(item, changed=True)
            return
        # The target may be in a file not read yet: park it on disk, not in memory.
        self.spill.write(json.dumps(["parsed", item.resource_type, item.id, item.resource, item.file, item.line,
                                     item.entry, item.full_url]) + "\n")  # fmt: skip
        self.spilled += 1

    def ndjson(self, scanner: NdjsonScanner, entry: Path) -> None:
        """An NDJSON file through the scanner: most lines go to the store as they are, never parsed in Python."""
        file = str(entry)
        lines = 0
        for chunk in scanner.scan(entry):
            lines += chunk.lines + len(chunk.unreadable)
            for rtype, (rows, count) in chunk.fast.items():
                self.report.read[rtype] += count
                self.writer.add_arrow(rtype, rows, count, file)
            # The rest in line order, as a line-by-line read would see it: identifiers index, references resolve.
            events: list[tuple[int, int, Any]] = [(n, 0, (rt, rid, ids)) for n, rt, rid, ids in chunk.identifiers]
            events += [(n, 1, (rt, rid, text)) for rt, rid, n, text in chunk.pending]
            events += [(n, 2, text) for n, text in chunk.slow]
            events.sort(key=lambda e: (e[0], e[1]))
            for number, kind, payload in events:
                if kind == 0:
                    self.index.add_identifiers(*payload)
                elif kind == 1:
                    rtype, rid, text = payload
                    self.report.read[rtype] += 1
                    self._pending_text(rtype, rid, text, file, number)
                else:
                    self.take(parse_line(payload, file, number), indexed=False)
            for number, reason in chunk.unreadable:
                _reject(self.report, Rejection(file, number, None, reason))
            if self.progress:
                self.progress(sum(c for _, c in chunk.fast.values()) + len(chunk.pending))
        if lines == 0:
            _reject(self.report, Rejection(file, None, None, "empty file"))

    def _pending_text(self, rtype: str, rid: str, text: str, file: str, number: int) -> None:
        out = self.index.resolve_text(text, final=False)
        if isinstance(out, str):
            self.writer.add_text(rtype, rid, out, file, number, None)
        elif out is None:
            self.spill.write(json.dumps(["text", rtype, rid, text, file, number]) + "\n")
            self.spilled += 1
        else:
            # A reference spelled with escapes: parse the resource and resolve it the ordinary way.
            self.report.read[rtype] -= 1
            self.take(parse_line(text, file, number), indexed=True)

    def finish(self) -> None:
        """Resolve what was parked against everything read; what still has no target is kept as written."""
        if not self.spilled:
            return
        self.spill.seek(0)
        for line in self.spill:
            row = json.loads(line)
            if row[0] == "text":
                _, rtype, rid, text, file, number = row
                out = self.index.resolve_text(text, final=True)
                if isinstance(out, str):
                    self.writer.add_text(rtype, rid, out, file, number, None)
                    continue
                item = parse_line(text, file, number)
                assert isinstance(item, Parsed)
                self.index.resolve(item.resource, final=True)
                self.writer.add(item, changed=True)
                continue
            _, rtype, rid, resource, file, number, entry_no, full_url = row
            self.index.resolve(resource, final=True)
            self.writer.add(Parsed(rtype, rid, resource, None, file, number, entry_no, full_url), changed=True)


def stage_fhir(
    wh: Warehouse,
    paths: Iterable[str | Path],
    *,
    schema: str | None = None,
    progress: Callable[[int], None] | None = None,
    scanner: bool = True,
) -> StageReport:
    """Load FHIR files into the raw store (`schema`, default the warehouse's `fhir`); return the accounting.

    All or nothing at the warehouse level: a failure rolls everything back; a bad record is only set aside.
    `scanner=False` reads NDJSON in Python too (same outcome, slower; kept to check the scanner against).
    """
    schema = schema or wh.fhir_schema
    report = StageReport()
    writer = _Writer(wh, report, schema)
    ndjson = NdjsonScanner() if scanner else None
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spill, wh.transaction():
            wh.create_schema(schema)
            wh.execute(f"DROP SCHEMA IF EXISTS {quote(writer.incoming)} CASCADE")
            wh.create_schema(writer.incoming)
            stager = _Stager(report, writer, spill, progress)
            try:
                for entry in discover(paths):
                    if isinstance(entry, SkippedFile):
                        report.skipped_files.append(entry)
                        continue
                    report.files += 1
                    writer.file_seen(str(entry))
                    if ndjson is not None and _is_ndjson(entry):
                        stager.ndjson(ndjson, entry)
                    else:
                        stager.document(entry)
                stager.finish()
                writer.finish()
            except BaseException:
                writer.writes.drain()  # nothing may still be writing when the transaction rolls back
                raise
    finally:
        writer.writes.close()
        if ndjson is not None:
            ndjson.close()
    # Scratch; dropped after the commit (DuckDB will not drop tables created in the same transaction).
    wh.after_transaction(lambda: wh.execute(f"DROP SCHEMA IF EXISTS {quote(writer.incoming)} CASCADE"))
    report.references_rewritten = stager.index.rewritten
    report.references_unresolved = dict(stager.index.unresolved)
    log.info("staged %d resources from %d files", report.total_read, report.files)
    return report


def _reject(report: StageReport, item: Rejection) -> None:
    key = item.resource_type or "(unknown)"
    report.read[key] += 1
    report.rejected[key] += 1
    report.rejections.append(item)
    log.debug("rejected %s: %s", item.where, item.reason)


def _is_ndjson(path: Path) -> bool:
    return path.name.lower().endswith((".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz"))


def _dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
