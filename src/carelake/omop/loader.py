"""Load a folder (or list) of OMOP CSV/Parquet files into the warehouse: checked first, then one transaction."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from carelake.errors import DuplicateKeyError, InputError
from carelake.omop.cdm53 import DROPPED_TABLES_53
from carelake.omop.departures import Departure, merge_departures
from carelake.omop.reader import FilePlan, FileReader, OnError, plan_file, split_name
from carelake.omop.schema import CdmTable, create_cdm, schema_for, table_by_name
from carelake.warehouse import PrimaryKeyViolation, Warehouse

__all__ = ["FileReport", "LoadMode", "LoadReport", "discover", "load_files"]

log = logging.getLogger(__name__)

LoadMode = Literal["append", "replace"]
Progress = Callable[[str, int, int], None]  # (file, bytes done since last call, total bytes)


@dataclass
class FileReport:
    """What happened to one input file: read = loaded + rejected, always."""

    file: str
    table: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    status: str = "loaded"
    notes: list[str] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)


@dataclass
class LoadReport:
    """The accounting of a load, per file."""

    mode: str
    files: list[FileReport] = field(default_factory=list)
    rejects_file: str | None = None

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def departures(self) -> list[Departure]:
        """Values loaded as they are although the spec says otherwise, per table and column over all files."""
        return merge_departures([d for f in self.files for d in f.departures])

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "read": self.read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "rejects_file": self.rejects_file,
            "departures": [asdict(d) for d in self.departures],
            "files": [asdict(f) for f in self.files],
        }


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileReport]]:
    """Data files under `paths` (folders are not searched recursively); other files are reported, not read."""
    files: list[Path] = []
    ignored: list[FileReport] = []
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", file=str(path))
        if path.is_file():
            files.append(path)
            continue
        for child in sorted(path.iterdir()):
            if child.name.startswith(".") or child.is_dir():
                continue
            if split_name(child) is None:
                ignored.append(FileReport(str(child), "", status="ignored", notes=["not a data file"]))
            else:
                files.append(child)
    if not files:
        raise InputError("no data files found (.csv, .tsv, .csv.gz, .parquet)", file=", ".join(map(str, paths)))
    return files, ignored


def load_files(
    wh: Warehouse,
    paths: Sequence[Path],
    *,
    mode: LoadMode = "append",
    on_error: OnError = "raise",
    rejects_path: Path | None = None,
    allowed: Callable[[CdmTable], bool] | None = None,
    quoting: bool | None = None,
    progress: Progress | None = None,
    not_tables: Mapping[str, str] | None = None,
    strict: bool = False,
) -> LoadReport:
    """Load OMOP files; every file is checked before the warehouse is touched, and all commit together.

    append: rows are added, and a row whose key is already there replaces it (so a re-load is idempotent).
    replace: each table loaded ends up holding exactly the rows of its files.
    strict: text wider than the spec's width is refused; by default it loads and `LoadReport.departures` lists it.
    """
    files, ignored = discover(paths)
    report = LoadReport(mode=mode)
    report.files.extend(ignored)
    plans: dict[str, list[FilePlan]] = {}
    for path in files:
        stem = (split_name(path) or (path.stem, ""))[0].lower()
        skip_reason = (not_tables or {}).get(stem) or (
            "CDM 5.3 table with no CDM 5.4 counterpart" if stem in DROPPED_TABLES_53 else None
        )
        if skip_reason:
            report.files.append(FileReport(str(path), stem, status="skipped", notes=[skip_reason]))
            continue
        try:
            table = table_by_name(stem)
            if table is not None and allowed is not None and not allowed(table):
                raise InputError(
                    f"{table.name} is not a table this command loads",
                    file=str(path),
                    hint="use 'carelake load omop' for clinical tables",
                )
            plan = plan_file(path, table, quoting=quoting)
        except InputError as e:
            if on_error == "raise":
                raise
            report.files.append(FileReport(str(path), stem, status="skipped", notes=[e.message]))
            continue
        plans.setdefault(plan.table.name, []).append(plan)

    total = sum(p.size for group in plans.values() for p in group)
    readers: list[FileReader] = []
    create_cdm(wh)
    with wh.transaction():
        for name, group in plans.items():
            table = group[0].table
            group_readers = [
                FileReader(p, on_error=on_error, progress=_per_file(progress, str(p.path), total), strict=strict)
                for p in group
            ]
            readers.extend(group_readers)
            try:
                wh.write_table(
                    schema_for(wh, table),
                    table.schema,
                    _chain(group_readers),
                    mode="replace" if mode == "replace" else "upsert",
                )
            except PrimaryKeyViolation as e:
                raise _duplicate(e, table, group) from None
            log.info("loaded %s", name)
    for r in readers:
        r.finish()
        plan = r.plan
        notes = [f"renamed (CDM 5.3 -> 5.4): {a} -> {b}" for a, b in plan.renamed] + plan.filled
        report.files.append(
            FileReport(
                str(plan.path),
                plan.table.name,
                read=r.rows_read,
                loaded=r.rows_read - len(r.rejected),
                rejected=len(r.rejected),
                notes=notes,
                departures=r.departures,
            )
        )
    if report.rejected:
        report.rejects_file = str(_write_rejects(readers, rejects_path or Path("carelake-rejects.csv")))
    return report


def _per_file(progress: Progress | None, file: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    report = progress

    def advance(n: int) -> None:
        report(file, n, total)

    return advance


def _chain(readers: list[FileReader]) -> Iterator[pa.RecordBatch]:
    for r in readers:
        yield from r.batches()


def _write_rejects(readers: list[FileReader], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["file", "line", "column", "value", "reason", "record"])
        for r in readers:
            for rej in r.rejected:
                out.writerow([r.plan.path, rej.line, rej.column, rej.value, rej.reason, rej.record])
    return path


def _duplicate(e: PrimaryKeyViolation, table: CdmTable, group: list[FilePlan]) -> DuplicateKeyError:
    """Find the two input lines that share the key, so the message points at them."""
    columns = table.schema.primary_key or e.columns
    wanted = [v.strip() for v in (e.key or "").split(",")]
    hits: list[tuple[FilePlan, int | None]] = []
    for plan in group:
        if plan.fmt != "csv":
            continue
        idx = [plan.targets.index(c) for c in columns if c in plan.targets]
        if len(idx) != len(columns):
            continue
        for line, fields, problem in FileReader(plan)._scan():
            if problem is None and fields is not None and [fields[i].strip() for i in idx] == wanted:
                hits.append((plan, line))
                if len(hits) == 2:
                    break
        if len(hits) == 2:
            break
    key = ", ".join(f"{c}={v}" for c, v in zip(columns, wanted, strict=False))
    if len(hits) == 2:
        (p1, l1), (p2, l2) = hits
        also = f"line {l1}" if p1 is p2 else f"{p1.path} line {l1}"
        return DuplicateKeyError(
            f"duplicate primary key {key} (first at {also})",
            file=str(p2.path),
            line=l2,
            column=columns[0],
            value=wanted[0] if wanted else None,
            hint="each row needs its own key; remove or renumber the duplicate",
        )
    return DuplicateKeyError(
        f"duplicate primary key {key} in {table.name}",
        file=str(group[0].path),
        column=columns[0] if columns else None,
        hint="each row needs its own key; remove or renumber the duplicate",
    )
