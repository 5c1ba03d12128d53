"""Bulk NDJSON at engine speed: Arrow or an in-memory DuckDB parses, sorts and shape-checks the lines, Python sees few.

Parsing every resource in Python costs more than the rest of a load together. Here a file is read in chunks of
whole lines, and each chunk is classified in one of two ways; both find each line's resourceType, id, whether it
has references to rewrite, and vouch for its shape against the R4 model (`validate.shape_fits`):

- Arrow's JSON reader parses the whole chunk into columns, which also gives one schema for all its lines (their
  merged structure). When that merged structure fits the model for every resource type in the chunk, so does each
  line's own; on a clean export that is every chunk, and it is the cheap way (one C++ parse, no per-line structure).
- Otherwise (a line Arrow will not take, items that disagree, a null, one line that does not fit) DuckDB computes each
  line's JSON structure; a structure is checked once and answers for every line that shares it.

What neither can vouch for (malformed JSON, unknown types, odd ids, structures that need a closer look) goes to the
full Python check, which gives the exact reason; so the outcome per line is the same as reading it in Python.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from carelake.fhir.model import r4
from carelake.fhir.validate import shape_fits
from carelake.warehouse.local import LocalEngine

log = logging.getLogger(__name__)

__all__ = ["Chunk", "NdjsonScanner"]

_CHUNK_BYTES = 16 << 20
# Chunks are classified on two worker threads (both cores), up to four ahead of the one being routed, so a slow
# write never leaves the workers idle for long (staging 5M: 24 s -> 22 s with the writer's queue).
_WORKERS = 2
_AHEAD = 4
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
_ROUTES = pa.schema([("rt", pa.string()), ("id", pa.string()), ("identifiers", pa.string()), ("route", pa.string())])


# A classified chunk: lines before it, its lines (number and text), unreadable lines, and its routes (Arrow's way) or
# the name of the DuckDB table holding each line's findings.
_Piece = tuple[int, pa.Table, list[tuple[int, str]], "str | pa.Table"]


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
        with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="carelake-read") as pool:
            blocks = _blocks(path)
            ahead: deque[Future[_Piece]] = deque()
            while True:
                while len(ahead) < _AHEAD and (block := next(blocks, None)) is not None:
                    ahead.append(pool.submit(self._classified, file, *block))
                if not ahead:
                    break
                first, table, bad, found = ahead.popleft().result()
                chunk = self._route(file, table, found) if isinstance(found, str) else _routed(file, table, found)
                chunk.unreadable.extend((first + i + 1, reason) for i, reason in bad)
                yield chunk

    def _classified(self, file: str, first: int, data: bytes) -> _Piece:
        """A chunk decoded and classified (on a worker thread): its routes from Arrow, or else the name of the DuckDB
        table holding each line's findings, for `_route`."""
        table, bad = _lines_table(first, data)
        routes = None if bad else self._arrow_routes(table, data, file)
        if routes is not None:
            return first, table, bad, routes
        lines = f"lines_{first}"
        with self.con.cursor() as cur:
            cur.register("chunk", table)
            cur.execute(_CLASSIFY.format(lines=lines))
        return first, table, bad, lines

    def _route(self, file: str, table: pa.Table, lines: str) -> Chunk:
        self._judge(table, lines)
        routes = self.con.fetch(_ROUTE.format(lines=lines))
        self.con.execute(f"DROP TABLE {lines}")
        return _routed(file, table, routes)

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
            self._hints[file] = _plain(schema)
        rid = parsed.column("id").combine_chunks().cast(pa.string()) if "id" in schema.names else pa.nulls(len(rt))
        vouched = pc.and_(pc.fill_null(pc.is_in(rt, pa.array(fitting, pa.string())), False),
                          pc.fill_null(pc.not_equal(rid, ""), False))  # fmt: skip
        route = pc.if_else(vouched, pc.if_else(_pending(parsed), "pending", "fast"), "slow")
        identifiers = pa.nulls(len(rt), pa.string())
        if "identifier" in schema.names:
            listed = pc.and_(pc.is_valid(parsed.column("identifier").combine_chunks()), vouched)
            if pc.any(listed).as_py():
                with self.con.cursor() as cur:
                    cur.register("listed", table.filter(listed))
                    texts = cur.fetch(_IDENTIFIERS).column(0).combine_chunks()
                identifiers = pc.replace_with_mask(identifiers, listed, texts)
        return pa.table([rt, rid, identifiers, route], schema=_ROUTES)

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
        if parsed.num_rows != rows or _type_of(schema, "resourceType") != pa.string():
            return None
        if _type_of(schema, "id") not in (pa.string(), pa.null(), None):
            return None  # ids that are numbers, or that all look like dates (Arrow reads those as timestamps)
        merged = schema.to_string(show_field_metadata=False, show_schema_metadata=False)
        model = r4()
        fitting = []
        names = pc.unique(parsed.column("resourceType")).drop_null().to_pylist()
        for name in names:
            key = (name, merged)
            if key not in self.fits:
                self.fits[key] = shape_fits(_shape(schema), name) if model.is_resource(name) else False
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


def _routed(file: str, table: pa.Table, routes: pa.Table) -> Chunk:
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


def _pending(parsed: pa.Table) -> pa.Array:
    """Per row: does it hold a reference to rewrite (a `reference` that is a urn, an absolute URL or a search)?

    The same test as `_CLASSIFY`'s pattern on the text, made on the parsed columns: every string field named
    `reference`, at any depth, is checked, and a hit in a list is traced back to its row.
    """
    hits: list[np.ndarray] = []
    offset = 0
    for batch in parsed.to_batches():
        rows = np.arange(offset, offset + batch.num_rows)
        for column, fld in zip(batch.columns, batch.schema, strict=True):
            if _holds_reference(fld.type):
                _find_references(column, fld.type, rows, hits)
        offset += batch.num_rows
    mask = np.zeros(parsed.num_rows, dtype=bool)
    for found in hits:
        mask[found] = True
    return pa.array(mask)


@functools.lru_cache(maxsize=4096)
def _holds_reference(kind: pa.DataType) -> bool:
    """Whether a value of this type has a string field `reference` at some depth: the walk skips what cannot."""
    if pa.types.is_struct(kind):
        return any(
            (f.name == "reference" and pa.types.is_string(f.type)) or _holds_reference(f.type)
            for f in (kind.field(i) for i in range(kind.num_fields))
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _holds_reference(kind.value_type)
    return False


def _find_references(values: pa.Array, kind: pa.DataType, rows: np.ndarray, hits: list[np.ndarray]) -> None:
    """Rows (`rows[i]` holds `values[i]`) whose values hold, at any depth, a `reference` to rewrite."""
    if pa.types.is_struct(kind):
        children = cast(pa.StructArray, values).flatten()  # a null struct's fields come out null
        for i in range(kind.num_fields):
            sub = kind.field(i)
            if sub.name == "reference" and pa.types.is_string(sub.type):
                ref = children[i]
                pending = pc.or_(
                    pc.or_(pc.starts_with(ref, "urn:"), pc.starts_with(ref, "http:")),
                    pc.or_(pc.starts_with(ref, "https:"), pc.match_substring(ref, "?")),
                )
                hits.append(rows[np.flatnonzero(pc.fill_null(pending, False).to_numpy(zero_copy_only=False))])
            elif _holds_reference(sub.type):
                _find_references(children[i], sub.type, rows, hits)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        listed = cast(pa.ListArray, values)
        parents = pc.list_parent_indices(listed).to_numpy()
        _find_references(pc.list_flatten(listed), kind.value_type, rows[parents], hits)


def _plain(schema: pa.Schema) -> pa.Schema:
    """`schema` as a reading hint: timestamps as strings (Arrow guessed them from the text, and the next chunk may
    not look so), and without fields only ever null or empty (their type is still unknown)."""
    return pa.schema([pa.field(f.name, t) for f in schema if (t := _plain_type(f.type)) is not None])


def _plain_type(t: pa.DataType) -> pa.DataType | None:
    if pa.types.is_struct(t):
        fields = [(t.field(i).name, _plain_type(t.field(i).type)) for i in range(t.num_fields)]
        return pa.struct([pa.field(name, sub) for name, sub in fields if sub is not None])
    if pa.types.is_list(t):
        item = _plain_type(t.value_type)
        return None if item is None else pa.list_(item)
    if pa.types.is_null(t):
        return None
    return pa.string() if pa.types.is_timestamp(t) or pa.types.is_date(t) else t


def _type_of(schema: pa.Schema, name: str) -> pa.DataType | None:
    return schema.field(name).type if name in schema.names else None


def _shape(schema: pa.Schema) -> dict[str, Any]:
    """An Arrow schema as `json_structure` would write the merged structure (the form `shape_fits` reads)."""
    return {f.name: _shape_of(f.type) for f in schema}


def _shape_of(t: pa.DataType) -> Any:
    if pa.types.is_struct(t):
        return {t.field(i).name: _shape_of(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [_shape_of(t.value_type)]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "VARCHAR"  # Arrow reads some strings as timestamps; in JSON they are strings
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_null(t):
        return "NULL"
    return "JSON"  # nothing else comes out of Arrow's JSON reader; never vouched for


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file in chunks of whole lines, as bytes: (lines before it, the chunk)."""
    number = 0
    with _open_binary(path) as f:
        while data := f.read(_CHUNK_BYTES):
            if not data.endswith(b"\n"):
                data += f.readline()
            yield number, data
            number += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _lines_table(first: int, data: bytes) -> tuple[pa.Table, list[tuple[int, str]]]:
    """A chunk's lines, numbered from `first` + 1, as a table of line number and text; and its unreadable lines."""
    lines, bad = _decode(data)
    if len(lines) and lines[-1].as_py() == "" and data.endswith(b"\n"):
        lines = lines[:-1]
    whole = pa.table({"n": pa.array(range(first + 1, first + 1 + len(lines)), pa.int64()), "line": lines})
    # Several record batches, so DuckDB scans the chunk on every core (one batch is one thread).
    return pa.Table.from_batches(whole.to_batches(max_chunksize=_BATCH_ROWS), whole.schema), bad


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


# What Python's str.strip() takes off a line: every character str.isspace() calls whitespace.
_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


def _decode(data: bytes) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Lines of a chunk as text, stripped; a line that is not UTF-8 becomes null, listed with its index and reason.

    Splitting, checking and stripping run in Arrow, off Python's lock, so the worker threads decode side by side.
    """
    try:
        text = pa.array([data], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        return _decode_by_line(data)
    lines = pc.split_pattern(text, "\n").flatten()
    if _edges_plain(lines):
        return lines.cast(pa.string()), []
    return pc.utf8_trim(lines, _WHITESPACE).cast(pa.string()), []


# Bytes a line may start or end with and need no stripping: printable ASCII (a JSON line starts with "{" and ends
# with "}"). Any other byte, a non-ASCII one included, sends the chunk through the strip.
_PLAIN_EDGE = np.zeros(256, dtype=bool)
_PLAIN_EDGE[0x21:0x7F] = True


def _edges_plain(lines: pa.LargeStringArray) -> bool:
    """True when no line of the chunk starts or ends with a byte `str.strip` could take off (the common case)."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    if data is None:
        return True
    body = np.frombuffer(data, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    full = ends > starts
    return bool(_PLAIN_EDGE[body[starts[full]]].all() and _PLAIN_EDGE[body[ends[full] - 1]].all())


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
