"""The stage a source fills: scratch tables in the shape the manifest declares, and the names the SQL is written with.

A source writes its records with `Stage.write` (Arrow, checked against the manifest) or, for FHIR, materializes
the manifest's views into it; the pipeline then runs the same SQL over the stage whatever the source was.
"""

from __future__ import annotations

import pyarrow as pa

from carelake.errors import CarelakeError
from carelake.fhir.view.runner import materialize_view
from carelake.harmonize.dates import BAD_DATE, DATE_OK, DAY_OK, checked_tables, date_columns
from carelake.harmonize.manifest import sql_statements, stage_table
from carelake.warehouse import Column, TableSchema, Warehouse, quote

__all__ = ["ID_MAP", "Stage", "StageError"]

# No primary-key index: `assign_ids` only ever adds keys that are not there (an anti-join), and keeping an index
# over millions of source ids made assigning them four times slower.
ID_MAP = TableSchema(
    "omop_id_map",
    (
        Column("kind", "varchar", False),
        Column("source_id", "varchar", False, compressible=False),
        Column("omop_id", "bigint", False),
    ),
    row_key=("kind", "source_id"),
)


class StageError(CarelakeError):
    """A source wrote a stage table the manifest does not declare, or a column it does not have."""


class Stage:
    """One harmonization run's scratch schema in warehouse `wh`.

    `names` are the placeholders of the mapping SQL: `{cdm}`, `{stage}`, `{map}` (the persistent id map) and
    `{temp}` ('TEMP ' where scratch tables must be session-only).
    """

    def __init__(self, wh: Warehouse) -> None:
        self.warehouse = wh
        self.schema = wh.scratch_schema(f"{wh.fhir_schema}_stage")
        self.id_map = f"{wh.fhir_schema}.{ID_MAP.name}"
        self.names: dict[str, object] = {"cdm": wh.cdm_schema, "stage": self.schema, "map": self.id_map,
                                         "temp": wh.temp_prefix(self.schema), "day_ok": DAY_OK}  # fmt: skip
        self.filled: set[str] = set()

    @property
    def session_only(self) -> bool:
        """Whether scratch is the session's own (then a table read once can stay a live view)."""
        return bool(self.names["temp"])

    def write(self, name: str, rows: pa.Table) -> None:
        """Write a source's rows as stage table `name`: columns it lacks are NULL, each is cast to its declared type."""
        spec = stage_table(name).schema
        declared = {c.name for c in spec.columns}
        unknown = [c for c in rows.column_names if c not in declared]
        if unknown:
            raise StageError(
                f"stage table {name!r} has no column {', '.join(map(repr, unknown))}",
                hint=f"its columns are {', '.join(sorted(declared))} (src/carelake/harmonize/manifest.py)",
            )
        columns = [
            rows.column(c.name) if c.name in rows.column_names else pa.nulls(rows.num_rows, c.arrow_type)
            for c in spec.columns
        ]
        table = pa.table(columns, names=[c.name for c in spec.columns]).cast(spec.arrow_schema)
        self.warehouse.create_table(self.schema, spec)
        self.warehouse.write_table(self.schema, spec, table.to_batches())
        self.filled.add(name)

    def materialize(self, name: str) -> None:
        """Stage table `name` as the rows of its FHIR view over the raw store."""
        entry = stage_table(name)
        kind = "view" if self.session_only and entry.read_once else "table"
        materialize_view(self.warehouse, entry.definition, f"{self.schema}.{name}", kind=kind)
        self.filled.add(name)

    def create_empty(self, name: str) -> None:
        """Stage table `name` with its declared columns and no rows (a source that has no such records)."""
        self.warehouse.create_table(self.schema, stage_table(name).schema)

    def run(self, sql_name: str) -> None:
        """Run `mappings/<sql_name>.sql` over the stage."""
        for statement in sql_statements(sql_name):
            self.warehouse.execute(statement.format(**self.names))

    def set_aside_bad_dates(self) -> None:
        """List the rows of each checked stage table whose dates are not real in `{stage}.bad_date`, and drop them."""
        wh, s = self.warehouse, self.schema
        wh.create_table(s, BAD_DATE)
        for table in checked_tables():
            checks = [
                (column, path, DATE_OK if kind == "date" else DAY_OK) for column, path, kind in date_columns(table)
            ]
            for column, path, ok in checks:
                wh.execute(
                    f"INSERT INTO {s}.bad_date (resource_type, id, field, value) "
                    f"SELECT '{table.resource_type}', id, '{path}', {quote(column)} FROM {s}.{table.name} "
                    f"WHERE NOT {format(ok, quote(column))}"
                )
            if self.count(f"SELECT count(*) FROM {s}.bad_date WHERE resource_type = '{table.resource_type}'"):
                every = " AND ".join(format(ok, quote(c)) for c, _, ok in checks)
                wh.execute(f"DELETE FROM {s}.{table.name} WHERE NOT ({every})")

    def count(self, sql: str) -> int:
        """One count, with the stage's names filled in."""
        return int(self.warehouse.fetch_scalar(sql.format(**self.names)) or 0)

    def assign_ids(self, kind: str, keys_sql: str) -> None:
        """Give every new source key of `kind` the next id; known keys keep theirs.

        On a first load of a kind nothing is known, and the probe of every key into the map is skipped.
        """
        known = f"SELECT source_id FROM {self.id_map} WHERE kind = '{kind}'"
        if self.count(f"SELECT count(*) FROM ({known}) AS k"):
            start = f"(SELECT coalesce(max(omop_id), 0) FROM {self.id_map} WHERE kind = '{kind}')"
            new = f"WHERE k.key NOT IN ({known})"
        else:
            start, new = "0", ""
        self.warehouse.execute(
            f"""INSERT INTO {self.id_map} (kind, source_id, omop_id)
            SELECT '{kind}', k.key, {start} + row_number() OVER (ORDER BY k.key)
            FROM (SELECT DISTINCT key FROM ({keys_sql.format(**self.names)}) AS s) AS k
            {new}"""
        )
