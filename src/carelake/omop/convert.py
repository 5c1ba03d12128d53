"""Text (or loosely typed Parquet) columns to the CDM's types, vectorised, with the bad cells pointed out.

Each converter tries Arrow's strict cast first (the common, fast case) and only on failure runs the slower
path that accepts the variants real exports contain and marks what still does not parse.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from carelake.warehouse import Column

__all__ = ["Converted", "convert_column"]

_INT = r"^[+-]?\d+(\.0*)?$"
_INT32 = (-(2**31), 2**31 - 1)
# A datetime whose time part we may drop when the column is a DATE (Eunomia writes "2005-05-07 00:00:00").
_TIME_TAIL = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"


@dataclass(frozen=True)
class Converted:
    """A converted column; `bad` marks cells that failed (None: none did), with one reason for all of them."""

    values: pa.Array
    bad: pa.Array | None = None
    reason: str = ""


def convert_column(raw: pa.Array, column: Column) -> list[Converted]:
    """Convert one column. The first item holds the values; every item with `bad` set is a problem found
    (unparsable cells, then required-but-empty cells), each with its own reason."""
    if pa.types.is_null(raw.type):
        raw = pa.nulls(len(raw), pa.string())
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
        try:
            out = Converted(pc.cast(raw, column.arrow_type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = _from_text(pc.cast(raw, pa.string()), column)
    else:
        out = _from_text(raw, column)
    found = [out]
    if not column.nullable and raw.null_count > 0:
        found.append(Converted(out.values, pc.is_null(raw), "required field is empty"))
    return found


def _from_text(raw: pa.Array, column: Column) -> Converted:
    kind = column.kind
    if kind == "varchar":  # text wider than the spec is kept; omop/departures.py reports it
        return Converted(raw)
    try:
        values = pc.cast(raw, column.arrow_type)
    except pa.ArrowInvalid:
        values = None
    if values is not None and kind == "integer":
        return _check_int32(raw, values.cast(pa.int64()), column)
    if values is not None:
        return Converted(values)
    if kind in ("bigint", "integer"):
        return _integers(raw, column)
    if kind == "double":
        return _doubles(raw)
    if kind == "date":
        return _dates(raw)
    return _timestamps(raw)


def _mark(raw: pa.Array, values: pa.Array, reason: str) -> Converted:
    """Cells that had text but came out null are the bad ones."""
    bad = pc.and_(pc.is_valid(raw), pc.is_null(values))
    if pc.any(bad).as_py():
        return Converted(values, bad, reason)
    return Converted(values)


def _integers(raw: pa.Array, column: Column) -> Converted:
    text = pc.utf8_trim_whitespace(raw)
    ok = pc.match_substring_regex(text, _INT)
    cleaned = pc.if_else(ok, pc.replace_substring_regex(text, r"\.0*$", ""), pa.scalar(None, pa.string()))
    try:
        values = pc.cast(cleaned, pa.int64())
    except pa.ArrowInvalid:  # digits, but beyond 64 bits
        values = pa.array(
            [_int_or_none(v) for v in cleaned.to_pylist()],
            pa.int64(),
        )
    out = _mark(raw, values, "not a whole number")
    if out.bad is not None or column.kind == "bigint":
        return Converted(out.values.cast(column.arrow_type, safe=False), out.bad, out.reason)
    return _check_int32(raw, values, column)


def _int_or_none(v: str | None) -> int | None:
    if v is None:
        return None
    n = int(v)
    return n if -(2**63) <= n < 2**63 else None


def _check_int32(raw: pa.Array, values: pa.Array, column: Column) -> Converted:
    lo, hi = _INT32
    out_of_range = pc.or_(pc.less(values, lo), pc.greater(values, hi))
    if pc.any(out_of_range).as_py():
        bad = pc.fill_null(out_of_range, False)
        kept = pc.if_else(bad, pa.scalar(None, pa.int64()), values)
        return Converted(kept.cast(pa.int32()), bad, "outside the 32-bit integer range")
    return Converted(values.cast(column.arrow_type))


def _doubles(raw: pa.Array) -> Converted:
    text = pc.utf8_trim_whitespace(raw)
    try:
        values = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        values = pa.array([_float_or_none(v) for v in text.to_pylist()], pa.float64())
    return _mark(raw, values, "not a number")


def _float_or_none(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except ValueError:
        return None


def _dates(raw: pa.Array) -> Converted:
    text = pc.utf8_trim_whitespace(raw)
    iso = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    compact = pc.strptime(text, format="%Y%m%d", unit="s", error_is_null=True)
    with_time = pc.if_else(
        pc.match_substring_regex(text, _TIME_TAIL),
        pc.strptime(pc.utf8_slice_codeunits(text, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True),
        pa.scalar(None, pa.timestamp("s")),
    )
    values = _on_the_calendar(text, pc.coalesce(iso, compact, with_time))
    return _mark(raw, pc.cast(values, pa.date32()), "not a date (expected YYYY-MM-DD or YYYYMMDD, a day that exists)")


def _timestamps(raw: pa.Array) -> Converted:
    text = pc.utf8_trim_whitespace(raw)
    parts = []
    for fmt in ("%Y%m%d", "%Y%m%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        parts.append(pc.strptime(text, format=fmt, unit="us", error_is_null=True))
    iso_like = pc.if_else(
        pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$"),
        text,
        pa.scalar(None, pa.string()),
    )
    iso = pc.cast(pc.replace_substring_regex(iso_like, "Z$", ""), pa.timestamp("us"))
    values = pc.coalesce(iso, _on_the_calendar(text, pc.coalesce(*parts)))
    return _mark(raw, values, "not a date-time (expected YYYY-MM-DD HH:MM:SS, a day and time that exist)")


# The day and second as written. strptime rolls over what it should refuse (2019-02-29 -> 2019-03-01, 20190230 ->
# 2019-03-02, 23:59:60 -> the next day); a rolled-over value no longer shows them, which is how it is caught.
# strptime's %m and %d also take one digit, so "104921" read as 1049-02-01 with %Y%m%d: the compact form must have
# all eight digits.
_WRITTEN = r"^\d{4}(?:-\d{1,2}-(?P<day>\d{1,2})|\d{2}(?P<cday>\d{2}))(?:[ T]\d{1,2}:\d{1,2}(?::(?P<second>\d{1,2}))?)?"


def _on_the_calendar(text: pa.Array, parsed: pa.Array) -> pa.Array:
    """`parsed` where it shows the day (and second) written in `text`, else null: no silent rollover."""
    written = pc.extract_regex(text, _WRITTEN)

    def group(name: str) -> pa.Array:  # a group that did not take part is "" in Arrow's struct, here null
        found = pc.struct_field(written, name)
        return pc.cast(pc.if_else(pc.equal(found, ""), None, found), pa.int64())

    day, second = pc.coalesce(group("day"), group("cday")), group("second")
    same = pc.and_kleene(pc.equal(pc.day(parsed), day), pc.fill_null(pc.equal(pc.second(parsed), second), True))
    return pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))
