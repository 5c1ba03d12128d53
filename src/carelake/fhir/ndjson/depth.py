"""The nesting limit on a chunk of lines: cheap where a chunk is clean, exact where a line may be too deep.

Arrow's JSON reader recurses once per level and crashed the process near 10,000 levels; it must never see a line
that could nest that deep. A line cannot nest deeper than its count of opening brackets, nor than its length, so
a chunk with no line longer than `ARROW_SAFE` bytes is safe for it as it is (the common case: nothing is counted).
Arrow's merged schema then shows how deep the chunk nests, so the limit itself costs a walk over one schema.
DuckDB's way takes the rest: there each line that may be too deep is measured, and the ones that are are set aside.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyarrow as pa

from carelake.limits import MAX_DEPTH, depth_problem

__all__ = ["ARROW_SAFE", "STACK_BYTES", "arrow_safe", "schema_depth", "too_deep"]

# The worker threads get this much stack (set where they start), so Arrow's recursion has room for more than
# 30,000 levels on every platform (macOS gives threads 512 KB); a line of at most ARROW_SAFE bytes or opening
# brackets nests at most that deep.
STACK_BYTES = 32 << 20


ARROW_SAFE = 16_384


def _offsets(lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each line in the chunk's text buffer, and the buffer as bytes."""
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    body = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64), body


def _opens(body: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Opening brackets in each of the byte ranges (brackets inside strings counted too: an upper bound)."""
    mask = (body == ord("[")) | (body == ord("{"))
    total = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    counts: np.ndarray = total[ends] - total[starts]
    return counts


def arrow_safe(lines: pa.ChunkedArray) -> bool:
    """True when every line of the chunk (none blank) is one Arrow's reader can take: it starts an object (a chunk
    whose first line is `null` crashed pyarrow 26), and cannot nest deeper than Arrow can recurse."""
    for piece in lines.chunks:
        offsets, body = _offsets(piece)
        starts, ends = offsets[:-1], offsets[1:]
        if len(starts) and not (body[starts[ends > starts]] == ord("{")).all():
            return False
        long = (ends - starts) > ARROW_SAFE
        if long.any() and not (_opens(body, starts[long], ends[long]) <= ARROW_SAFE).all():
            return False
    return True


def schema_depth(schema: pa.Schema) -> int:
    """How deep Arrow's merged structure of a chunk nests: each JSON object or array is one nested type."""
    deepest = 0
    todo: deque[tuple[pa.DataType, int]] = deque((f.type, 1) for f in schema)
    while todo:
        kind, depth = todo.pop()
        if pa.types.is_nested(kind):
            deepest = max(deepest, depth)
            todo.extend((kind.field(i).type, depth + 1) for i in range(kind.num_fields))
    return deepest + 1  # the resource itself is an object


def too_deep(lines: pa.ChunkedArray) -> list[tuple[int, str]]:
    """The lines (index in the chunk, reason) that nest deeper than `MAX_DEPTH`: counted first, measured if need be."""
    found = []
    before = 0
    for piece in lines.chunks:
        offsets, body = _offsets(piece)
        starts, ends = offsets[:-1], offsets[1:]
        maybe = np.flatnonzero((ends - starts) > MAX_DEPTH)
        if len(maybe):
            maybe = maybe[_opens(body, starts[maybe], ends[maybe]) > MAX_DEPTH]
        for i in maybe.tolist():
            problem = depth_problem(bytes(body[starts[i] : ends[i]]).decode("utf-8"))
            if problem is not None:
                found.append((before + i, problem))
        before += len(piece)
    return found
