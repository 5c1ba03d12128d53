"""Arrow's way of vouching for a chunk: its merged schema as the structure the model checks, and references
found in the parsed columns."""

from __future__ import annotations

import functools
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["pending_references", "reading_hint", "shape_of_schema", "type_of"]


def pending_references(parsed: pa.Table) -> pa.Array:
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


def reading_hint(schema: pa.Schema) -> pa.Schema:
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


def type_of(schema: pa.Schema, name: str) -> pa.DataType | None:
    return schema.field(name).type if name in schema.names else None


def shape_of_schema(schema: pa.Schema) -> dict[str, Any]:
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
