"""Bulk NDJSON at engine speed: an in-memory DuckDB parses, sorts and shape-checks the lines, Python sees few of them.

Parsing every resource in Python costs more than the rest of a load together. Here the lines of a file go to an
in-memory DuckDB in chunks (as Arrow, with their line numbers); DuckDB finds each line's resourceType, id, whether
it has references to rewrite, and its JSON structure. A structure is checked against the R4 model once
(`validate.shape_fits`) and answers for every line that shares it, which on a real export is nearly all of them.
What DuckDB cannot vouch for (malformed JSON, unknown types, odd ids, structures that need a closer look) goes to
the full Python check, which gives the exact reason; so the outcome per line is the same as reading it in Python.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from carelake.fhir.model import r4
from carelake.fhir.validate import shape_fits

log = logging.getLogger(__name__)

__all__ = ["Chunk", "NdjsonScanner"]

_CHUNK_BYTES = 16 << 20
_BATCH_ROWS = 2048
# One parse finds type, id and identifiers (`try` turns malformed JSON into NULL); json_structure is the second.
# The type and id come out as JSON text and are unquoted apart: an id that is not a JSON string is no key.
_CLASSIFY = r"""
CREATE OR REPLACE TABLE {lines} AS
SELECT n, blank, json_extract_string(v[1], '$') AS rt, id, coalesce(id <> '', false) AS keyed,
       CASE WHEN v IS NOT NULL THEN hash(json_structure(line)) END AS h,
       coalesce(regexp_matches(line, '"reference"\s*:\s*"(?:urn:|https?:|[^"]*\?)'), false) AS pending,
       CASE WHEN contains(line, 'null') THEN regexp_matches(line, '[\[,]\s*null\s*[,\]]') ELSE false END AS null_item,
       CAST(v[3] AS VARCHAR) AS identifiers
FROM (SELECT n, line, blank, v, CASE WHEN starts_with(v[2], '"') THEN json_extract_string(v[2], '$') END AS id
      FROM (SELECT n, line, coalesce(line = '', true) AS blank,
                   CASE WHEN starts_with(line, '{{')
                        THEN try(json_extract(line, ['$.resourceType', '$.id', '$.identifier'])) END AS v
            FROM chunk) AS t) AS p
"""
# A line goes as it is when it has a key, no null list item and a structure judged to fit; with references to
# rewrite it is pending; everything else takes the full Python check. The text itself stays in the Arrow chunk:
# DuckDB returns one route per line, in line order, and Arrow picks the lines out.
_ROUTE = """
SELECT l.rt, l.id, l.identifiers,
       CASE WHEN l.blank THEN 'blank'
            WHEN NOT (l.keyed AND NOT l.null_item AND coalesce(s.ok, false)) THEN 'slow'
            WHEN l.pending THEN 'pending' ELSE 'fast' END AS route
FROM {lines} AS l LEFT JOIN shapes AS s ON s.rt = l.rt AND s.h = l.h
ORDER BY l.n
"""


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


class NdjsonScanner:
    """Reads NDJSON files in chunks through an in-memory DuckDB; remembers every structure it has judged."""

    def __init__(self) -> None:
        # It holds two chunks at most; a bound keeps DuckDB from caching towards its default of 80% of RAM.
        self.con = duckdb.connect(":memory:", config={"memory_limit": "1GB"})
        self.con.execute("CREATE TABLE shapes (rt VARCHAR, h UBIGINT, ok BOOLEAN)")
        self.judged: set[tuple[str, int]] = set()
        # The read-ahead thread's own connection to the same database: it classifies the next chunk.
        self._ahead = self.con.cursor()
        self._turn = 0

    def close(self) -> None:
        self._ahead.close()
        self.con.close()

    def scan(self, path: Path) -> Iterator[Chunk]:
        """Chunks of `path` in order; line numbers count every line of the file, blank ones too.

        The next chunk is read, decoded and classified by DuckDB on a second thread while this one is judged, routed
        and handed on (DuckDB and Arrow let go of Python's lock while they work), so the cores take turns less. The
        two chunks in flight use two tables, `lines_0` and `lines_1`, by turns.
        """
        file = str(path)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="carelake-read") as pool:
            pieces = _pieces(path)
            ahead = pool.submit(self._classified, pieces)
            while (piece := ahead.result()) is not None:
                ahead = pool.submit(self._classified, pieces)
                first, table, bad, lines = piece
                chunk = self._route(file, table, lines)
                chunk.unreadable.extend((first + i + 1, reason) for i, reason in bad)
                yield chunk

    def _classified(
        self, pieces: Iterator[tuple[int, pa.Table, list[tuple[int, str]]]]
    ) -> tuple[int, pa.Table, list[tuple[int, str]], str] | None:
        """The next piece of the file, classified into the table whose turn it is (runs on the read-ahead thread)."""
        piece = next(pieces, None)
        if piece is None:
            return None
        first, table, bad = piece
        self._turn ^= 1
        lines = f"lines_{self._turn}"
        self._ahead.register("chunk", table)
        try:
            self._ahead.execute(_CLASSIFY.format(lines=lines))
        finally:
            self._ahead.unregister("chunk")
        return first, table, bad, lines

    def _route(self, file: str, table: pa.Table, lines: str) -> Chunk:
        con = self.con
        self._judge(table, lines)
        routes = con.sql(_ROUTE.format(lines=lines)).to_arrow_table()
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

    def _judge(self, table: pa.Table, lines: str) -> None:
        """Check each structure not seen before against the model, once, and record the verdict."""
        con = self.con
        first = table.column("n")[0].as_py() if table.num_rows else 0
        new = [
            (str(rt), int(h), int(n))
            for rt, h, n in con.execute(
                f"SELECT rt, h, min(n) FROM {lines} WHERE keyed AND h IS NOT NULL AND NOT null_item GROUP BY rt, h"
            ).fetchall()
            if (str(rt), int(h)) not in self.judged
        ]
        model = r4()
        verdicts = []
        for rt, h, n in new:
            ok = False
            if model.is_resource(rt):
                text = table.column("line")[n - first].as_py()
                row = con.execute("SELECT json_structure(?::VARCHAR)", [text]).fetchall()
                ok = bool(row) and shape_fits(json.loads(row[0][0]), rt)
            verdicts.append((rt, h, ok))
            self.judged.add((rt, h))
        if verdicts:
            con.executemany("INSERT INTO shapes VALUES (?, ?, ?)", verdicts)
            log.debug("judged %d new structures (%d fit)", len(verdicts), sum(v[2] for v in verdicts))


def _pieces(path: Path) -> Iterator[tuple[int, pa.Table, list[tuple[int, str]]]]:
    """The file in chunks of whole lines: (lines before it, a table of line number and text, unreadable lines)."""
    number = 0
    with _open_binary(path) as f:
        while data := f.read(_CHUNK_BYTES):
            if not data.endswith(b"\n"):
                data += f.readline()
            lines, bad = _decode(data)
            if len(lines) and lines[-1].as_py() == "" and data.endswith(b"\n"):
                lines = lines[:-1]
            whole = pa.table({"n": pa.array(range(number + 1, number + 1 + len(lines)), pa.int64()), "line": lines})
            # Several record batches, so DuckDB scans the chunk on every core (one batch is one thread).
            yield number, pa.Table.from_batches(whole.to_batches(max_chunksize=_BATCH_ROWS), whole.schema), bad
            number += len(lines)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


# What Python's str.strip() takes off a line: every character str.isspace() calls whitespace.
_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


def _decode(data: bytes) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Lines of a chunk as text, stripped; a line that is not UTF-8 becomes null, listed with its index and reason.

    Splitting, checking and stripping run in Arrow, off Python's lock: the read-ahead thread then costs the cores
    little beside DuckDB's work on the chunk before.
    """
    try:
        text = pa.array([data], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        return _decode_by_line(data)
    lines = pc.split_pattern(text, "\n").flatten()
    return pc.utf8_trim(lines, _WHITESPACE).cast(pa.string()), []


def _decode_by_line(data: bytes) -> tuple[pa.Array, list[tuple[int, str]]]:
    lines: list[str | None] = []
    bad: list[tuple[int, str]] = []
    for i, raw in enumerate(data.split(b"\n")):
        try:
            lines.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError as e:
            lines.append(None)
            bad.append((i, f"not UTF-8: {e}"))
    return pa.array(lines, pa.string()), bad
