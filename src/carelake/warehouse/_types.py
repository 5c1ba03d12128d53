"""Backend-neutral table descriptions: what a table holds, not how an engine spells it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

__all__ = ["Column", "ColumnKind", "TableSchema"]

ColumnKind = Literal["bigint", "integer", "double", "boolean", "date", "timestamp", "varchar", "json"]

_ARROW: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    # OMOP datetimes carry no zone; naive microseconds is what every backend stores.
    "timestamp": pa.timestamp("us"),
    "varchar": pa.string(),
    # JSON travels as text; each engine stores it in its own JSON type (DuckDB JSON, PostgreSQL JSONB).
    "json": pa.string(),
}


@dataclass(frozen=True)
class Column:
    """One column; `length` is the spec's VARCHAR width (None: unbounded), reported when exceeded, not enforced.

    `compressible=False` marks values that compression cannot shrink but costs time to try on (unique text keys,
    such as the source ids of the OMOP id map); an engine that can store such a column plain does.
    """

    name: str
    kind: ColumnKind
    nullable: bool = True
    length: int | None = None
    compressible: bool = True

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.kind]

    def sql_type(self) -> str:
        """The type in canonical (DuckDB-flavoured) SQL, for SQLGlot to transpile.

        Text is unbounded on every engine: real exports carry values wider than the spec, and an engine that
        enforced VARCHAR(n) (PostgreSQL, Spark) would refuse them where DuckDB keeps them.
        """
        if self.kind == "varchar":
            return "VARCHAR"
        if self.kind == "json":
            return "JSON"
        return {"bigint": "BIGINT", "integer": "INTEGER", "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}.get(
            self.kind, "TIMESTAMP"
        )


@dataclass(frozen=True)
class TableSchema:
    """A table: columns in order, the primary key, and the key that identifies a row for upserts."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    # Columns that identify a row when re-loading; the primary key where there is one.
    row_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])
