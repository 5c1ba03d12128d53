"""The limits every reader enforces at the door, so no parser that can crash or recurse without end sees hostile input.

One nesting limit for every document carelake reads (NDJSON lines, Bundles, single resources, Circe cohort
definitions, ViewDefinitions, study files, `carelake.toml`). FHIR needs far less: the deepest resources in the wild
(nested Questionnaire items, ValueSet expansions) stay under 40 levels, a Bundle adds three. pyarrow's JSON reader
recursed without a limit and crashed the process near 10,000 levels; Python's parsers stop at about 1,000 with a
RecursionError; DuckDB's read_json refuses at 128. `MAX_DEPTH` sits below all of them.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import numpy as np

__all__ = [
    "CUT",
    "MAX_DEPTH",
    "count_cut",
    "depth_problem",
    "json_depth",
    "object_depth",
    "opens_at_most",
    "without_deep_parts",
]

MAX_DEPTH = 100

# A JSON string, escapes and all (the unrolled form: no backtracking, no recursion in `re`).
_BYTES_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def opens_at_most(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when `text` has at most `limit` opening brackets, so it cannot nest deeper (the cheap common case)."""
    return len(text) <= limit or text.count("[") + text.count("{") <= limit


def json_depth(text: str | bytes) -> int:
    """How deep the JSON text nests (containers, strings skipped): the depth a recursive parser reaches on it.

    Strings are found left to right as a parser lexes them, so brackets inside strings never count; on malformed
    text the figure before the first error is exact, and a parser stops there.
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if b'"' in raw:
        raw = _BYTES_STRING.sub(b"", raw)
    steps = _STEP[np.frombuffer(raw, dtype=np.uint8)]
    if not steps.any():
        return 0
    return int(np.cumsum(steps, dtype=np.int64).max())


def depth_problem(text: str, limit: int = MAX_DEPTH) -> str | None:
    """The reason to refuse `text` when it nests deeper than `limit`, else None (cheap when it is shallow)."""
    if opens_at_most(text, limit):
        return None
    depth = json_depth(text)
    if depth <= limit:
        return None
    return f"nested {depth:,} levels deep; the limit is {limit} (no FHIR resource or definition needs more)"


# What stands in for a part cut out of a document for nesting too deep (no real document holds a NUL and this text).
CUT = "\x00carelake: cut for nesting too deep"
_CUT_JSON = json.dumps(CUT).encode()


def without_deep_parts(text: str, *, keep: int, limit: int = MAX_DEPTH) -> Any:
    """`text` parsed with each container at depth `keep` that nests deeper than `limit` replaced by `CUT`, so the
    rest of a document can be read; None when what is left is not JSON."""
    raw = text.encode("utf-8")
    blank = _BYTES_STRING.sub(lambda m: b'"' + b" " * (len(m.group()) - 2) + b'"', raw)  # strings keep their place
    steps = _STEP[np.frombuffer(blank, dtype=np.uint8)]
    depth = np.cumsum(steps, dtype=np.int64)  # the depth after each byte
    starts = np.flatnonzero((steps == 1) & (depth == keep))
    ends = np.flatnonzero((steps == -1) & (depth == keep - 1))
    owners = np.unique(np.searchsorted(starts, np.flatnonzero(depth > limit), side="right") - 1)
    pieces, at = [], 0
    for k in owners.tolist():
        if k < 0:
            return None
        start = int(starts[k])
        after = np.searchsorted(ends, start)
        if after == len(ends):
            return None  # never closed: nothing after it can be read
        pieces += [raw[at:start], _CUT_JSON]
        at = int(ends[after]) + 1
    pieces.append(raw[at:])
    try:
        return json.loads(b"".join(pieces))
    except (ValueError, RecursionError):
        return None


def count_cut(value: Any) -> int:
    """How many parts of a parsed document were cut (`CUT` anywhere in it), counted without recursion."""
    found = 0
    todo: deque[Any] = deque([value])
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif item == CUT:
            found += 1
    return found


def object_depth(value: Any) -> int:
    """How deep a parsed document (dicts and lists) nests, counted without recursion."""
    deepest = 0
    todo: deque[tuple[Any, int]] = deque([(value, 1)])
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in item)
    return deepest
