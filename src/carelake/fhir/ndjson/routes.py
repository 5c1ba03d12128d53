"""A classified chunk cut by its routes: rows ready for the raw store per type, and the lines Python must read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["ROUTES", "Chunk", "routed"]

ROUTES = pa.schema([("rt", pa.string()), ("id", pa.string()), ("identifiers", pa.string()), ("route", pa.string())])


@dataclass
class Chunk:
    """One chunk of a file, routed.

    fast: per resource type, Arrow rows ready for the raw store, and how many lines they came from.
    pending: (type, id, line number, text) whose references need rewriting. slow: (line
    number, text) for the full Python check. identifiers: (line number, type, id, identifier list) of every
    vouched-for line.
    unreadable: (line number, reason) of lines that are not text.
    """

    lines: int = 0
    fast: dict[str, tuple[pa.Table, int]] = field(default_factory=dict)
    pending: list[tuple[str, str, int, str]] = field(default_factory=list)
    slow: list[tuple[int, str]] = field(default_factory=list)
    identifiers: list[tuple[int, str, str, Any]] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)


def routed(file: str, table: pa.Table, routes: pa.Table) -> Chunk:
    """A chunk cut by its routes (one per line, in line order): fast rows per type, and the lines Python needs."""
    if routes.num_rows != table.num_rows:
        raise AssertionError(f"{file}: {routes.num_rows} routes for {table.num_rows} lines")
    route = routes.column("route")
    chunk = Chunk(lines=table.num_rows - pc.sum(pc.equal(route, "blank")).as_py())
    fast = pa.table(
        {"rt": routes.column("rt"), "id": routes.column("id"), "resource": table.column("line"),
         "source_line": table.column("n")}
    ).filter(pc.equal(route, "fast"))  # fmt: skip
    types = fast.column("rt").unique().to_pylist() if fast.num_rows else []
    for rt in types:
        rows = fast if len(types) == 1 else fast.filter(pc.equal(fast.column("rt"), rt))
        rows = rows.drop_columns(["rt"])
        k = rows.num_rows
        rows = rows.add_column(2, "source_file", pa.repeat(pa.scalar(file, pa.string()), k))
        rows = rows.append_column("source_entry", pa.nulls(k, pa.int32()))
        chunk.fast[str(rt)] = (rows, k)
    # Everything else: pending and slow lines with their text, and the identifiers of fast ones (no text).
    rest = pc.or_(pc.is_in(route, pa.array(["slow", "pending"])),
                  pc.and_(pc.is_valid(routes.column("identifiers")), pc.equal(route, "fast")))  # fmt: skip
    picked = pa.table(
        {"n": table.column("n"), "line": table.column("line"), "rt": routes.column("rt"), "id": routes.column("id"),
         "identifiers": routes.column("identifiers"), "route": route}
    ).filter(rest)  # fmt: skip
    for n, text, rt, rid, ids, kind in zip(*(c.to_pylist() for c in picked.columns), strict=True):
        if kind == "pending":
            chunk.pending.append((str(rt), str(rid), int(n), str(text)))
        elif kind == "slow":
            chunk.slow.append((int(n), str(text)))
        if ids is not None and kind != "slow":
            chunk.identifiers.append((int(n), str(rt), str(rid), json.loads(ids)))
    return chunk
