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
CREATE OR REPLACE TEMP TABLE lines AS
SELECT n, line, json_extract_string(v[1], '$') AS rt, id, coalesce(id <> '', false) AS keyed,
       CASE WHEN v IS NOT NULL THEN hash(json_structure(line)) END AS h,
       regexp_matches(line, '"reference"\s*:\s*"(?:urn:|https?:|[^"]*\?)') AS pending,
       contains(line, 'null') AND regexp_matches(line, '[\[,]\s*null\s*[,\]]') AS null_item,
       CAST(v[3] AS VARCHAR) AS identifiers
FROM (SELECT n, line, v, CASE WHEN starts_with(v[2], '"') THEN json_extract_string(v[2], '$') END AS id
      FROM (SELECT n, line,
                   CASE WHEN starts_with(line, '{')
                        THEN try(json_extract(line, ['$.resourceType', '$.id', '$.identifier'])) END AS v
            FROM chunk WHERE line <> '') AS t) AS p
"""
# A line goes as it is when it has a key, no null list item and a structure judged to fit; with references to
# rewrite it is pending; everything else takes the full Python check.
_FAST = "l.keyed AND NOT l.null_item AND coalesce(s.ok, false)"
_JUDGED = "lines AS l LEFT JOIN shapes AS s ON s.rt = l.rt AND s.h = l.h"


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
        # It only ever holds one chunk; a bound keeps DuckDB from caching towards its default of 80% of RAM.
        self.con = duckdb.connect(":memory:", config={"memory_limit": "1GB"})
        self.con.execute("CREATE TEMP TABLE shapes (rt VARCHAR, h UBIGINT, ok BOOLEAN)")
        self.judged: set[tuple[str, int]] = set()

    def close(self) -> None:
        self.con.close()

    def scan(self, path: Path) -> Iterator[Chunk]:
        """Chunks of `path` in order; line numbers count every line of the file, blank ones too.

        The next chunk is read and decoded on a second thread while DuckDB classifies this one (DuckDB lets go of
        Python's lock while it works), so the two take turns on the cores less.
        """
        file = str(path)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="carelake-read") as pool:
            pieces = _pieces(path)
            ahead = pool.submit(next, pieces, None)
            while (piece := ahead.result()) is not None:
                ahead = pool.submit(next, pieces, None)
                first, table, bad = piece
                chunk = self._route(file, table)
                chunk.unreadable.extend((first + i + 1, reason) for i, reason in bad)
                yield chunk

    def _route(self, file: str, table: pa.Table) -> Chunk:
        con = self.con
        con.register("chunk", table)
        try:
            con.execute(_CLASSIFY)
        finally:
            con.unregister("chunk")
        self._judge()
        chunk = Chunk(lines=int(con.execute("SELECT count(*) FROM lines").fetchall()[0][0]))
        fast = con.sql(
            f"SELECT l.rt, l.id, l.line AS resource, l.n AS source_line FROM {_JUDGED} "
            f"WHERE {_FAST} AND NOT l.pending ORDER BY l.n"
        ).to_arrow_table()
        types = fast.column("rt").unique().to_pylist() if fast.num_rows else []
        for rt in types:
            rows = fast if len(types) == 1 else fast.filter(pc.equal(fast.column("rt"), rt))
            rows = rows.drop_columns(["rt"])
            k = rows.num_rows
            rows = rows.add_column(2, "source_file", pa.repeat(pa.scalar(file, pa.string()), k))
            rows = rows.append_column("source_entry", pa.nulls(k, pa.int32()))
            chunk.fast[str(rt)] = (rows, k)
        # Everything else: pending and slow lines with their text, and the identifiers of fast ones (no text).
        rest = con.execute(
            f"""SELECT n, rt, id, CASE WHEN route = 'fast' THEN NULL ELSE line END, identifiers, route FROM (
                  SELECT l.n, l.rt, l.id, l.line, l.identifiers,
                         CASE WHEN NOT ({_FAST}) THEN 'slow' WHEN l.pending THEN 'pending' ELSE 'fast' END AS route
                  FROM {_JUDGED}) AS r
                WHERE route <> 'fast' OR identifiers IS NOT NULL ORDER BY n"""
        ).fetchall()
        for n, rt, rid, text, ids, route in rest:
            if route == "pending":
                chunk.pending.append((str(rt), str(rid), int(n), str(text)))
            elif route == "slow":
                chunk.slow.append((int(n), str(text)))
            if ids is not None and route != "slow":
                chunk.identifiers.append((int(n), str(rt), str(rid), json.loads(ids)))
        return chunk

    def _judge(self) -> None:
        """Check each structure not seen before against the model, once, and record the verdict."""
        con = self.con
        new = [
            (str(rt), int(h))
            for rt, h in con.execute(
                "SELECT DISTINCT rt, h FROM lines WHERE keyed AND h IS NOT NULL AND NOT null_item"
            ).fetchall()
            if (str(rt), int(h)) not in self.judged
        ]
        model = r4()
        verdicts = []
        for rt, h in new:
            ok = False
            if model.is_resource(rt):
                row = con.execute(
                    "SELECT json_structure(line) FROM lines WHERE rt = ? AND h = ? LIMIT 1",
                    [rt, h],
                ).fetchall()
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
            if lines and lines[-1] == "" and data.endswith(b"\n"):
                lines.pop()
            whole = pa.table(
                {
                    "n": pa.array(range(number + 1, number + 1 + len(lines)), pa.int64()),
                    "line": pa.array(lines, pa.string()),
                }
            )
            # Several record batches, so DuckDB scans the chunk on every core (one batch is one thread).
            yield number, pa.Table.from_batches(whole.to_batches(max_chunksize=_BATCH_ROWS), whole.schema), bad
            number += len(lines)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _decode(data: bytes) -> tuple[list[str | None], list[tuple[int, str]]]:
    """Lines of a chunk as text; a line that is not UTF-8 becomes None, listed with its index and the reason."""
    lines: list[str | None] = []
    try:
        lines.extend(line.strip() for line in data.decode("utf-8").split("\n"))
        return lines, []
    except UnicodeDecodeError:
        pass
    bad: list[tuple[int, str]] = []
    for i, raw in enumerate(data.split(b"\n")):
        try:
            lines.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError as e:
            lines.append(None)
            bad.append((i, f"not UTF-8: {e}"))
    return lines, bad
