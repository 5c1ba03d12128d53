"""Transactions on Spark, which has none: writes are staged, then swapped in.

Writes inside a transaction go to `<root>/.staging/<id>/`; commit swaps each staged folder in with directory
renames (atomic on one file system), rollback deletes the staging folder. While a transaction has staged writes,
every statement reads a staged table through an overlay view (`_cl_tx_<schema>_<table>`), so a transaction sees its
own writes as it would on DuckDB or PostgreSQL. Spark enforces no keys, so primary keys are checked here.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from carelake.errors import UserError, WarehouseError
from carelake.warehouse._base import PrimaryKeyViolation, WriteMode
from carelake.warehouse._types import TableSchema
from carelake.warehouse.spark._catalogue import SIDECAR, Catalogue, footer_rows

__all__ = ["Staged", "Staging", "overlay_name"]

_ROWS_PER_FILE = 2_000_000
_PLAN = "COMMIT.json"  # in a transaction's staging folder once it commits


@dataclass
class Staged:
    schema: str
    name: str
    path: Path
    mode: WriteMode


def _writer_lock(root: Path) -> IO[bytes]:
    """The lake's writer lock (`<root>/.lock`, flock): one writing transaction at a time. The kernel lets go of it
    when the process ends, however it ends, so a killed writer never leaves the lake locked."""
    handle = (root / ".lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(
            f"another carelake command is writing to the Spark lake at {root}",
            hint="wait for it to finish, then run this again (writes to one lake run one at a time)",
        ) from None
    return handle


class Staging(Catalogue):
    """Staged writes (`write_table`, and rows written by SQL) and the swap at commit."""

    _staged: dict[str, Staged]
    _tx: Path | None
    _lock: IO[bytes] | None = None

    def _staged_keys(self) -> dict[str, str]:
        return {k.lower(): k for k in self._staged}

    def row_count(self, schema: str, table: str) -> int:
        """From Parquet footers (no Spark job for a number the files already hold), with this transaction's writes."""
        folder = self.root / schema / table
        if not (folder / SIDECAR).exists():
            return super().row_count(schema, table)
        key = self._staged_keys().get(f"{schema}.{table}".lower())
        if key is not None:
            return self._count(schema, table, self._staged[key])
        return footer_rows(folder)

    def _stage(self, schema: str, name: str, rows: Any, mode: WriteMode) -> None:
        """Stage rows written by SQL like `write_table` does: an append, or the table's new contents."""
        with self.transaction():
            assert self._tx is not None
            known = self._staged_keys()
            key = known.get(f"{schema}.{name}".lower(), f"{schema}.{name}")
            folder = self._tx / f"{key}.{uuid.uuid4().hex[:8]}.sql"
            rows.write.parquet(str(folder))
            staged = self._staged.get(key)
            if mode == "replace" or staged is None:
                self._staged[key] = Staged(schema, name, folder, mode)
            else:
                for part in folder.glob("*.parquet"):
                    part.replace(staged.path / f"part-{uuid.uuid4().hex}.parquet")
            self._overlay(key)

    def _overlay(self, key: str) -> None:
        """The view through which this transaction reads a table it has written."""
        staged = self._staged[key]
        live = self.spark.table(f"`{staged.schema}`.`{staged.name}`")
        rows = self.spark.read.schema(live.schema).parquet(str(staged.path))
        # The live rows cannot change before the commit: when there are none, the overlay need not scan them.
        if staged.mode == "append" and footer_rows(self.root / staged.schema / staged.name) > 0:
            rows = live.unionByName(rows)
        rows.createOrReplaceTempView(overlay_name(key))

    def _drop_overlays(self) -> None:
        for key in self._staged:
            self.spark.catalog.dropTempView(overlay_name(key))

    def _unstage(self, which: Callable[[Staged], bool]) -> None:
        """Forget this transaction's writes to tables about to be dropped."""
        for key in [k for k, s in self._staged.items() if which(s)]:
            self.spark.catalog.dropTempView(overlay_name(key))
            shutil.rmtree(self._staged.pop(key).path, ignore_errors=True)

    def _begin(self) -> None:
        self._lock = _writer_lock(self.root)
        self._finish_killed()
        self._tx = self.root / ".staging" / uuid.uuid4().hex
        self._tx.mkdir(parents=True)
        self._staged = {}

    def _finish_killed(self) -> None:
        """Holding the lock, this is the only writer. A killed writer's transaction is finished if it had begun its
        swap (its plan is written) and is otherwise garbage; as on opening a DuckDB file after a crash, this runs on
        connecting too, so readers never see a swap half done."""
        for left in sorted((self.root / ".staging").glob("*")):
            if (left / _PLAN).exists():
                self._swap_in(json.loads((left / _PLAN).read_text(encoding="utf-8")), left / "_old")
            shutil.rmtree(left, ignore_errors=True)

    def _swap_in(self, plan: list[dict[str, str]], trash: Path) -> None:
        """Move a committed transaction's staged folders in (paths in `plan` are relative to the lake's root), and
        let Spark see them; what is already moved is skipped, so a swap stopped part way is finished by rerunning it."""
        trash.mkdir(exist_ok=True)
        for step in plan:
            staged, live = self.root / step["staged"], self.root / step["live"]
            if not staged.exists():
                pass  # swapped in already
            elif step["mode"] == "append":
                for part in sorted(staged.glob("*.parquet")):
                    part.replace(live / f"part-{uuid.uuid4().hex}.parquet")
                shutil.rmtree(staged)
            else:
                if live.exists():
                    live.replace(trash / step["key"])
                staged.replace(live)
            schema, name = step["key"].split(".", 1)
            self._execute(f"REFRESH TABLE `{schema}`.`{name}`")

    def _finish_killed_on_connect(self) -> None:
        if not (self.root / ".staging").exists():
            return
        try:
            self._lock = _writer_lock(self.root)
        except UserError:
            return  # a writer is running: it finished them when it began
        try:
            self._finish_killed()
        finally:
            self._unlock()

    def _commit(self) -> None:
        assert self._tx is not None
        plan = []
        for key, staged in self._staged.items():
            live = self.root / staged.schema / staged.name
            if staged.mode != "append":
                (staged.path / SIDECAR).write_text((live / SIDECAR).read_text())
            plan.append({"key": key, "staged": str(staged.path.relative_to(self.root)),
                         "live": str(live.relative_to(self.root)), "mode": staged.mode})  # fmt: skip
        # The plan, written whole before the first rename, is the commit point: a writer killed during the swap is
        # finished by the next one (`_begin`), so the lake is never left with some tables swapped and not others.
        partial = self._tx / f"{_PLAN}.partial"
        partial.write_text(json.dumps(plan), encoding="utf-8")
        partial.replace(self._tx / _PLAN)
        self._swap_in(plan, self._tx / "_old")
        self._drop_overlays()
        shutil.rmtree(self._tx, ignore_errors=True)
        self._tx, self._staged = None, {}
        self._unlock()

    def _rollback(self) -> None:
        self._drop_overlays()
        if self._tx is not None:
            shutil.rmtree(self._tx, ignore_errors=True)
        self._tx, self._staged = None, {}
        self._unlock()

    def _unlock(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()  # closing the file releases the lock
            self._lock = None

    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        raise WarehouseError("Spark tables are written through write_table")  # pragma: no cover

    def write_table(
        self,
        schema: str,
        table: TableSchema,
        batches: Iterable[pa.RecordBatch],
        *,
        mode: WriteMode = "append",
    ) -> int:
        with self.transaction():
            assert self._tx is not None
            key = f"{schema}.{table.name}"
            staged = self._staged.get(key)
            incoming = self._tx / f"{key}.{uuid.uuid4().hex[:8]}"
            written = _write_parquet(incoming, table.arrow_schema, batches)
            if written == 0 and mode != "replace":
                return 0
            current = self._current(schema, table.name, staged)
            new = f"parquet.`{incoming}`"
            existing = 0 if mode == "replace" else self._count(schema, table.name, staged)
            if mode == "replace":
                _check_unique_local(table, incoming)
                self._staged[key] = Staged(schema, table.name, incoming, "replace")
            elif mode == "upsert" and table.row_key and existing > 0:
                merged = self._tx / f"{key}.{uuid.uuid4().hex[:8]}.merged"
                keys = " AND ".join(f"o.`{k}` = n.`{k}`" for k in table.row_key)
                self.spark.sql(
                    f"SELECT o.* FROM {current} o LEFT ANTI JOIN {new} n ON {keys} UNION ALL SELECT * FROM {new}"
                ).write.parquet(str(merged))
                self._check_unique(table, f"parquet.`{merged}`")
                self._staged[key] = Staged(schema, table.name, merged, "replace")
            else:
                if existing == 0:
                    _check_unique_local(table, incoming)  # only the incoming rows: no Spark job needed
                else:
                    self._check_unique(table, f"(SELECT * FROM {current} UNION ALL SELECT * FROM {new})")
                if staged is None:
                    self._staged[key] = Staged(schema, table.name, incoming, "append")
                else:
                    for part in incoming.glob("*.parquet"):
                        part.replace(staged.path / f"part-{uuid.uuid4().hex}.parquet")
            self._overlay(key)
            return written

    def _current(self, schema: str, table: str, staged: Staged | None) -> str:
        """The table as this transaction sees it: live rows plus what it has staged."""
        live = f"`{schema}`.`{table}`"
        if staged is None:
            return live
        if staged.mode == "replace":
            return f"parquet.`{staged.path}`"
        return f"(SELECT * FROM {live} UNION ALL SELECT * FROM parquet.`{staged.path}`)"

    def _count(self, schema: str, table: str, staged: Staged | None) -> int:
        own = 0 if staged is None else footer_rows(staged.path)
        if staged is not None and staged.mode == "replace":
            return own
        return own + footer_rows(self.root / schema / table)

    def _check_unique(self, table: TableSchema, source: str) -> None:
        """Spark enforces no keys, so check the primary key the way the other engines would."""
        if not table.primary_key:
            return
        keys = ", ".join(f"`{k}`" for k in table.primary_key)
        dup = self._fetch_arrow(f"SELECT {keys} FROM {source} GROUP BY {keys} HAVING COUNT(*) > 1 LIMIT 1").to_pylist()
        if dup:
            value = ", ".join(str(v) for v in dup[0].values())
            raise PrimaryKeyViolation(table.name, table.primary_key, value)


def _write_parquet(folder: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    # Spark's own tables are nullable whatever the DDL says; writing every field nullable lets a batch whose schema
    # differs from `schema` only in nullability (built by hand, or for a table created with relaxed columns) go in,
    # as it does on the other engines. Required fields are the loader's to check, before this.
    schema = pa.schema([f.with_nullable(True) for f in schema])
    folder.mkdir(parents=True)
    written, part, writer, in_part = 0, 0, None, 0
    try:
        for batch in batches:
            if not batch.schema.equals(schema):
                batch = batch.cast(schema)
            if writer is None or in_part >= _ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", schema)
                part, in_part = part + 1, 0
            writer.write_batch(batch)
            written += batch.num_rows
            in_part += batch.num_rows
        if writer is None:
            pq.write_table(schema.empty_table(), folder / "part-empty.parquet")
    finally:
        if writer is not None:
            writer.close()
    return written


def _check_unique_local(table: TableSchema, folder: Path) -> None:
    """The primary-key check on rows just written from Arrow: they came through this process, so read them here."""
    if not table.primary_key:
        return
    keys = list(table.primary_key)
    counts = pq.read_table(folder, columns=keys).group_by(keys).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts["count_all"], 1))
    if dup.num_rows:
        raise PrimaryKeyViolation(table.name, table.primary_key, ", ".join(str(dup[k][0].as_py()) for k in keys))


def overlay_name(key: str) -> str:
    return "_cl_tx_" + "".join(ch if ch.isalnum() else "_" for ch in key.lower())
