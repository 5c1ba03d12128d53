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
from typing import Any

import pyarrow as pa

from carelake.fhir.reader import Parsed, Rejection, SkippedFile, discover, read_file
from carelake.fhir.references import ReferenceIndex
from carelake.warehouse import Warehouse
from carelake.warehouse._types import Column, TableSchema

log = logging.getLogger(__name__)

__all__ = ["FHIR_SCHEMA", "StageReport", "raw_table", "stage_fhir"]

FHIR_SCHEMA = "fhir"
_FLUSH_ROWS = 20_000


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
        primary_key=("id",),
        row_key=("id",),
    )


@dataclass
class StageReport:
    """What a staging run read, stored and rejected, per resource type."""

    read: Counter[str] = field(default_factory=Counter)
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
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
                t: {"read": self.read[t], "loaded": self.loaded[t], "rejected": self.rejected[t]} for t in types
            },
            "references": {"rewritten": self.references_rewritten, "unresolved": self.references_unresolved},
            "rejections": [
                {"where": r.where, "file": r.file, "line": r.line, "entry": r.entry, "reason": r.reason,
                 "resource_type": r.resource_type, "id": r.id}
                for r in self.rejections
            ],
        }  # fmt: skip


class _Writer:
    """Per-type buffers flushed as Arrow batches; the last copy of an id in the input wins."""

    def __init__(self, wh: Warehouse, report: StageReport, schema: str) -> None:
        self.wh = wh
        self.schema = schema
        self.report = report
        self.buffers: dict[str, dict[str, tuple[str, str, int | None, int | None]]] = {}
        self.created: set[str] = set()

    def add(self, item: Parsed, changed: bool) -> None:
        text = item.text if item.text is not None and not changed else _dumps(item.resource)
        buf = self.buffers.setdefault(item.resource_type, {})
        buf[item.id] = (text, item.file, item.line, item.entry)
        self.report.loaded[item.resource_type] += 1
        if len(buf) >= _FLUSH_ROWS:
            self.flush(item.resource_type)

    def flush(self, resource_type: str) -> None:
        buf = self.buffers.pop(resource_type, None)
        if not buf:
            return
        table = raw_table(resource_type)
        if resource_type not in self.created:
            self.wh.create_table(self.schema, table)
            self.created.add(resource_type)
        rows = list(buf.items())
        batch = pa.record_batch(
            [
                pa.array([k for k, _ in rows], pa.string()),
                pa.array([v[0] for _, v in rows], pa.string()),
                pa.array([v[1] for _, v in rows], pa.string()),
                pa.array([v[2] for _, v in rows], pa.int64()),
                pa.array([v[3] for _, v in rows], pa.int32()),
            ],
            schema=table.arrow_schema,
        )
        self.wh.write_table(self.schema, table, [batch], mode="upsert")

    def flush_all(self) -> None:
        for resource_type in list(self.buffers):
            self.flush(resource_type)


def stage_fhir(
    wh: Warehouse,
    paths: Iterable[str | Path],
    *,
    schema: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> StageReport:
    """Load FHIR files into the raw store (`schema`, default the warehouse's `fhir`); return the accounting.

    All or nothing at the warehouse level: a failure rolls everything back; a bad record is only set aside.
    """
    schema = schema or wh.fhir_schema
    report = StageReport()
    index = ReferenceIndex()
    writer = _Writer(wh, report, schema)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spill, wh.transaction():
        wh.create_schema(schema)
        spilled = 0
        for entry in discover(paths):
            if isinstance(entry, SkippedFile):
                report.skipped_files.append(entry)
                continue
            report.files += 1
            items = read_file(entry)
            # A bundle's entries point at each other: index the whole document before resolving.
            batch: Iterable[Parsed | Rejection] = list(items) if not _is_ndjson(entry) else items
            if isinstance(batch, list):
                for item in batch:
                    if isinstance(item, Parsed):
                        index.add(item.resource_type, item.id, item.resource, item.full_url)
            for item in batch:
                if isinstance(item, Rejection):
                    _reject(report, item)
                    continue
                report.read[item.resource_type] += 1
                if not isinstance(batch, list):
                    index.add(item.resource_type, item.id, item.resource, item.full_url)
                if progress:
                    progress(1)
                if not index.needs_rewrite(item.resource, item.text):
                    writer.add(item, changed=False)
                    continue
                if index.resolve(item.resource, final=False):
                    writer.add(item, changed=True)
                    continue
                # The target may be in a file not read yet: park it on disk, not in memory.
                spill.write(json.dumps([item.resource_type, item.id, item.resource, item.file, item.line,
                                        item.entry, item.full_url]) + "\n")  # fmt: skip
                spilled += 1
        if spilled:
            spill.seek(0)
            for line in spill:
                rtype, rid, resource, file, number, entry_no, full_url = json.loads(line)
                index.resolve(resource, final=True)
                writer.add(Parsed(rtype, rid, resource, None, file, number, entry_no, full_url), changed=True)
        writer.flush_all()
    report.references_rewritten = index.rewritten
    report.references_unresolved = dict(index.unresolved)
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
