"""The scanner: chunks classified on worker threads, by Arrow when it can vouch for a whole chunk, else by DuckDB."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from carelake.fhir.model import r4
from carelake.fhir.ndjson.depth import STACK_BYTES, arrow_safe, schema_depth, too_deep
from carelake.fhir.ndjson.lines import blocks, lines_table
from carelake.fhir.ndjson.routes import ROUTES, Chunk, routed
from carelake.fhir.ndjson.shapes import pending_references, reading_hint, shape_of_schema, type_of
from carelake.fhir.validate import shape_fits
from carelake.limits import MAX_DEPTH
from carelake.warehouse.local import LocalEngine

log = logging.getLogger(__name__)

__all__ = ["CLASSIFY", "NdjsonScanner"]

# Chunks are classified on two worker threads (both cores), up to four ahead of the one being routed, so a slow
# write never leaves the workers idle for long (staging 5M: 24 s -> 22 s with the writer's queue).
_WORKERS = 2


_AHEAD = 4


# One parse finds type, id and identifiers (`try` turns malformed JSON into NULL); json_structure is the second.
# The type and id come out as JSON text and are unquoted apart: an id that is not a JSON string is no key.
CLASSIFY = r"""
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


# The Arrow way: DuckDB still looks for a null value anywhere, which a merged structure hides (a null where other
# lines hold an object): a chunk with one goes DuckDB's per-line way. A quick scan for the word first.
_FIND = r"""
SELECT coalesce(CASE WHEN contains(line, 'null') THEN regexp_matches(line, '[:\[,]\s*null\s*[,\]}]') END, false)
         AS null_value
FROM chunk ORDER BY n
"""


# The identifier lists of the lines that have one, as JSON text (Arrow's columns hold typed values: dates become
# timestamps); DuckDB parses those lines only.
_IDENTIFIERS = "SELECT CAST(json_extract(line, '$.identifier') AS VARCHAR) AS identifiers FROM listed ORDER BY n"


# Each worker parses its own chunk; Arrow's own threads on top of that only contend for the two cores.
_ARROW_READ = pj.ReadOptions(use_threads=False, block_size=1 << 20)


# A classified chunk: lines before it, its lines (number and text), unreadable lines, and its routes (Arrow's way) or
# the name of the DuckDB table holding each line's findings.
_Piece = tuple[int, pa.Table, list[tuple[int, str]], "str | pa.Table"]


class NdjsonScanner:
    """Reads NDJSON files in chunks through Arrow or a local SQL engine; remembers every structure it has judged."""

    def __init__(self) -> None:
        # It holds the chunks in flight (four at most); a bound keeps DuckDB from caching towards 80% of RAM.
        self.con = LocalEngine(memory_limit="1GB")
        self.con.execute("CREATE TABLE shapes (rt VARCHAR, h UBIGINT, ok BOOLEAN)")
        self.judged: set[tuple[str, int]] = set()
        # Merged structures (as Arrow schemas) judged per resource type.
        self.fits: dict[tuple[str, str], bool] = {}
        # Per file, the merged structure of a chunk before (one resource type): Arrow reads the next chunk to it.
        self._hints: dict[str, pa.Schema] = {}

    def close(self) -> None:
        self.con.close()

    def scan(self, path: Path) -> Iterator[Chunk]:
        """Chunks of `path` in order; line numbers count every line of the file, blank ones too.

        This thread reads the file's bytes; the next chunks are decoded and classified on worker threads (Arrow and
        DuckDB let go of Python's lock while they work) while this one routes the chunk before and hands it on.
        """
        file = str(path)
        with _workers() as pool:
            pieces = blocks(path)
            ahead: deque[Future[_Piece]] = deque()
            while True:
                while len(ahead) < _AHEAD and (block := next(pieces, None)) is not None:
                    ahead.append(pool.submit(self._classified, file, *block))
                if not ahead:
                    break
                first, table, bad, found = ahead.popleft().result()
                chunk = self._route(file, table, found) if isinstance(found, str) else routed(file, table, found)
                chunk.unreadable.extend((first + i + 1, reason) for i, reason in bad)
                yield chunk

    def _classified(self, file: str, first: int, data: bytes) -> _Piece:
        """A chunk decoded and classified (on a worker thread): its routes from Arrow, or else the name of the DuckDB
        table holding each line's findings, for `_route`."""
        table, bad = lines_table(first, data)
        routes = None if bad else self._arrow_routes(table, data, file)
        if routes is not None:
            return first, table, bad, routes
        if deep := too_deep(table.column("line")):
            # Set aside like a line that is not text: no parser sees it, and it is rejected with the reason.
            text = table.column("line").combine_chunks()
            mask = np.zeros(len(text), dtype=bool)
            mask[[i for i, _ in deep]] = True
            table = table.set_column(1, "line", pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), text))
            bad = sorted([*bad, *deep])
        lines = f"lines_{first}"
        with self.con.cursor() as cur:
            cur.register("chunk", table)
            cur.execute(CLASSIFY.format(lines=lines))
        return first, table, bad, lines

    def _route(self, file: str, table: pa.Table, lines: str) -> Chunk:
        self._judge(table, lines)
        routes = self.con.fetch(_ROUTE.format(lines=lines))
        self.con.execute(f"DROP TABLE {lines}")
        return routed(file, table, routes)

    def _arrow_routes(self, table: pa.Table, data: bytes, file: str) -> pa.Table | None:
        """Each line's route when Arrow can vouch for the whole chunk at once, else None (DuckDB's way then).

        Arrow's reader is as strict as Python's json (it takes NaN and Infinity, as both do) and fails on duplicate
        keys and on items or lines that disagree in type; its schema is then the merged structure of the lines.
        A line's own structure is part of the merged one, so if the merged one fits, each line's does; nulls are
        the exception (they merge away), so a chunk with one goes DuckDB's way.
        """
        lines = table.column("line")
        if not table.num_rows or pc.any(pc.equal(lines, "")).as_py():
            return None  # Arrow skips blank lines, and the rows must match the lines one to one
        if not arrow_safe(lines):
            return None  # a line Arrow's reader might recurse on until it crashes
        with self.con.cursor() as cur:
            cur.register("chunk", table)
            found = cur.fetch(_FIND)
        if pc.any(found.column("null_value")).as_py():
            return None
        hint = self._hints.get(file)
        judged = self._parsed(data, table.num_rows, hint)
        if judged is None and hint is not None:
            judged = self._parsed(data, table.num_rows, None)  # the structure changed: read it afresh
        if judged is None:
            return None
        parsed, fitting = judged
        schema = parsed.schema
        rt = parsed.column("resourceType").combine_chunks()
        if len(fitting) == 1 and pc.all(pc.equal(rt, fitting[0])).as_py():
            self._hints[file] = reading_hint(schema)
        rid = parsed.column("id").combine_chunks().cast(pa.string()) if "id" in schema.names else pa.nulls(len(rt))
        vouched = pc.and_(pc.fill_null(pc.is_in(rt, pa.array(fitting, pa.string())), False),
                          pc.fill_null(pc.not_equal(rid, ""), False))  # fmt: skip
        route = pc.if_else(vouched, pc.if_else(pending_references(parsed), "pending", "fast"), "slow")
        identifiers = pa.nulls(len(rt), pa.string())
        if "identifier" in schema.names:
            listed = pc.and_(pc.is_valid(parsed.column("identifier").combine_chunks()), vouched)
            if pc.any(listed).as_py():
                with self.con.cursor() as cur:
                    cur.register("listed", table.filter(listed))
                    texts = cur.fetch(_IDENTIFIERS).column(0).combine_chunks()
                identifiers = pc.replace_with_mask(identifiers, listed, texts)
        return pa.table([rt, rid, identifiers, route], schema=ROUTES)

    def _parsed(self, data: bytes, rows: int, hint: pa.Schema | None) -> tuple[pa.Table, list[str]] | None:
        """The chunk parsed by Arrow and the resource types its merged structure fits, or None when Arrow cannot
        vouch for every line (then the caller goes DuckDB's way).

        With `hint` (the structure of a chunk before, timestamps as strings), Arrow reads the fields it names to
        those types without inferring them again and still infers fields it does not name; a value of another type
        is an error, never a conversion, so the merged structure stays that of the lines.
        """
        options = None if hint is None else pj.ParseOptions(explicit_schema=hint, unexpected_field_behavior="infer")
        try:
            parsed = pj.read_json(pa.BufferReader(data), read_options=_ARROW_READ, parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # a line Arrow will not read, or values that disagree: DuckDB's way finds which, line by line
        schema = parsed.schema
        if schema_depth(schema) > MAX_DEPTH:
            return None  # DuckDB's way finds the lines that nest too deep and sets them aside
        if parsed.num_rows != rows or type_of(schema, "resourceType") != pa.string():
            return None
        if type_of(schema, "id") not in (pa.string(), pa.null(), None):
            return None  # ids that are numbers, or that all look like dates (Arrow reads those as timestamps)
        merged = schema.to_string(show_field_metadata=False, show_schema_metadata=False)
        model = r4()
        fitting = []
        names = pc.unique(parsed.column("resourceType")).drop_null().to_pylist()
        for name in names:
            key = (name, merged)
            if key not in self.fits:
                self.fits[key] = shape_fits(shape_of_schema(schema), name) if model.is_resource(name) else False
            if self.fits[key]:
                fitting.append(name)
            elif model.is_resource(name):
                return None  # some line of this type does not fit: find which, line by line
        return parsed, fitting

    def _judge(self, table: pa.Table, lines: str) -> None:
        """Check each structure not seen before against the model, once, and record the verdict."""
        con = self.con
        first = table.column("n")[0].as_py() if table.num_rows else 0
        new = [
            (str(rt), int(h), int(n))
            for rt, h, n in con.rows(
                f"SELECT rt, h, min(n) FROM {lines} WHERE keyed AND h IS NOT NULL AND NOT null_item GROUP BY rt, h"
            )
            if (str(rt), int(h)) not in self.judged
        ]
        model = r4()
        verdicts = []
        for rt, h, n in new:
            ok = False
            if model.is_resource(rt):
                text = table.column("line")[n - first].as_py()
                row = con.rows("SELECT json_structure(?::VARCHAR)", [text])
                ok = bool(row) and shape_fits(json.loads(row[0][0]), rt)
            verdicts.append((rt, h, ok))
            self.judged.add((rt, h))
        if verdicts:
            con.insert_rows("INSERT INTO shapes VALUES (?, ?, ?)", verdicts)
            log.debug("judged %d new structures (%d fit)", len(verdicts), sum(v[2] for v in verdicts))


def _workers() -> ThreadPoolExecutor:
    """The worker pool, its threads started now with `STACK_BYTES` of stack (a process-wide setting, restored)."""
    previous = threading.stack_size(STACK_BYTES)
    try:
        pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="carelake-read")
        started = threading.Barrier(_WORKERS)
        for f in [pool.submit(started.wait) for _ in range(_WORKERS)]:
            f.result()
    finally:
        threading.stack_size(previous)
    return pool
