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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import duckdb
import pyarrow as pa

from carelake.fhir.model import r4
from carelake.fhir.validate import shape_fits

log = logging.getLogger(__name__)

__all__ = ["Chunk", "NdjsonScanner"]

_CHUNK_BYTES = 16 << 20
_BATCH_ROWS = 2048
_CLASSIFY = r"""
CREATE OR REPLACE TEMP TABLE lines AS
SELECT n, v[1] AS rt, v[2] AS id,
       CASE WHEN obj THEN json_type(line, '$.id') = 'VARCHAR' AND v[2] <> '' ELSE false END AS keyed,
       CASE WHEN obj THEN hash(json_structure(line)) END AS h,
       regexp_matches(line, '"reference"\s*:\s*"(?:urn:|https?:|[^"]*\?)') AS pending,
       contains(line, 'null') AND regexp_matches(line, '[\[,]\s*null\s*[,\]]') AS null_item,
       CASE WHEN obj AND contains(line, '"identifier"') THEN json_extract(line, '$.identifier')::VARCHAR END
           AS identifiers
FROM (SELECT n, line, v, v IS NOT NULL AND starts_with(line, '{') AS obj
      FROM (SELECT n, line,
                   CASE WHEN json_valid(line) THEN json_extract_string(line, ['$.resourceType', '$.id']) END AS v
            FROM chunk WHERE line <> '') AS t) AS p
"""
_ROUTE = """
CREATE OR REPLACE TEMP TABLE routed AS
SELECT l.*, c.line, CASE WHEN l.keyed AND NOT l.null_item AND coalesce(s.ok, false)
                 THEN CASE WHEN l.pending THEN 'pending' ELSE 'fast' END
                 ELSE 'slow' END AS route
FROM lines AS l JOIN chunk AS c ON c.n = l.n LEFT JOIN shapes AS s ON s.rt = l.rt AND s.h = l.h
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
        # It only ever holds one chunk; a bound keeps DuckDB from caching towards its default of 80% of RAM.
        self.con = duckdb.connect(":memory:", config={"memory_limit": "1GB"})
        self.con.execute("CREATE TEMP TABLE shapes (rt VARCHAR, h UBIGINT, ok BOOLEAN)")
        self.judged: set[tuple[str, int]] = set()

    def close(self) -> None:
        self.con.close()

    def scan(self, path: Path) -> Iterator[Chunk]:
        """Chunks of `path` in order; line numbers count every line of the file, blank ones too."""
        file = str(path)
        number = 0
        with _open_binary(path) as f:
            while True:
                data = f.read(_CHUNK_BYTES)
                if not data:
                    break
                if not data.endswith(b"\n"):
                    data += f.readline()
                lines, bad = _decode(data)
                if lines and lines[-1] == "" and data.endswith(b"\n"):
                    lines.pop()
                chunk = self._route(file, number, lines)
                for i, reason in bad:
                    chunk.unreadable.append((number + i + 1, reason))
                number += len(lines)
                yield chunk

    def _route(self, file: str, first: int, lines: list[str | None]) -> Chunk:
        con = self.con
        whole = pa.table(
            {"n": pa.array(range(first + 1, first + 1 + len(lines)), pa.int64()), "line": pa.array(lines, pa.string())}
        )
        # Several record batches, so DuckDB scans the chunk on every core (one batch is one thread).
        table = pa.Table.from_batches(whole.to_batches(max_chunksize=_BATCH_ROWS), whole.schema)
        con.register("chunk", table)
        try:
            con.execute(_CLASSIFY)
            self._judge()
            con.execute(_ROUTE)
        finally:
            con.unregister("chunk")
        chunk = Chunk(lines=int(con.execute("SELECT count(*) FROM routed").fetchone()[0]))  # type: ignore[index]
        for rt, count in con.execute("SELECT rt, count(*) FROM routed WHERE route = 'fast' GROUP BY rt").fetchall():
            rows = con.sql(
                """SELECT id, line AS resource, ? AS source_file, n AS source_line,
                          CAST(NULL AS INTEGER) AS source_entry
                   FROM routed WHERE route = 'fast' AND rt = ? ORDER BY n""",
                params=[file, rt],
            ).to_arrow_table()
            chunk.fast[str(rt)] = (rows, int(count))
        chunk.pending = [
            (str(rt), str(rid), int(n), str(text))
            for rt, rid, n, text in con.execute(
                "SELECT rt, id, n, line FROM routed WHERE route = 'pending' ORDER BY n"
            ).fetchall()
        ]
        chunk.slow = [
            (int(n), str(text))
            for n, text in con.execute("SELECT n, line FROM routed WHERE route = 'slow' ORDER BY n").fetchall()
        ]
        chunk.identifiers = [
            (int(n), str(rt), str(rid), json.loads(ids))
            for n, rt, rid, ids in con.execute(
                "SELECT n, rt, id, identifiers FROM routed WHERE route <> 'slow' AND identifiers IS NOT NULL ORDER BY n"
            ).fetchall()
        ]
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
                    "SELECT json_structure(c.line) FROM lines AS l JOIN chunk AS c ON c.n = l.n "
                    "WHERE l.rt = ? AND l.h = ? LIMIT 1",
                    [rt, h],
                ).fetchone()
                ok = row is not None and shape_fits(json.loads(row[0]), rt)
            verdicts.append((rt, h, ok))
            self.judged.add((rt, h))
        if verdicts:
            con.executemany("INSERT INTO shapes VALUES (?, ?, ?)", verdicts)
            log.debug("judged %d new structures (%d fit)", len(verdicts), sum(v[2] for v in verdicts))


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
