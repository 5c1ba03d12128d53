"""An NDJSON file (plain or gzip) as chunks of whole lines, decoded to Arrow text off Python's lock."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carelake.errors import InputError

__all__ = ["CHUNK_BYTES", "blocks", "lines_table"]

CHUNK_BYTES = 16 << 20


_BATCH_ROWS = 2048


def blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file in chunks of whole lines, as bytes: (lines before it, the chunk).

    A damaged or truncated gzip file is an InputError naming it (nothing of a load it is part of is kept).
    """
    number = 0
    with _open_binary(path) as f:
        while data := _read(f, path, CHUNK_BYTES):
            if not data.endswith(b"\n"):
                data += _read(f, path, None)
            yield number, data
            number += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _read(f: IO[bytes], path: Path, size: int | None) -> bytes:
    """`size` bytes (None: the rest of the line), or an InputError when the file cannot be read."""
    try:
        return f.read(size) if size is not None else f.readline()
    except (EOFError, OSError, zlib.error) as e:
        kind = "a gzip file that is truncated or damaged" if path.name.lower().endswith(".gz") else "unreadable"
        raise InputError(f"{kind}: {e}", file=str(path), hint="copy or download the file again") from None


def lines_table(first: int, data: bytes) -> tuple[pa.Table, list[tuple[int, str]]]:
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
