"""PostgreSQL backend over psycopg 3; bulk loads stream CSV through COPY, prepared on a second thread."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterable
from typing import ClassVar

import psycopg
import psycopg.types.string
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator

from carelake.errors import ConfigError, UserError, WarehouseError
from carelake.warehouse._base import PrimaryKeyViolation, Warehouse, transpile
from carelake.warehouse._types import TableSchema
from carelake.warehouse._url import WarehouseURL

__all__ = ["PostgresWarehouse"]

_DUP = re.compile(r"Key \((?P<cols>.*?)\)=\((?P<key>.*)\) already exists", re.S)
_DONE = object()


class CarelakePostgres(Postgres):
    """sqlglot's PostgreSQL, plus canonical (DuckDB) functions it would leave in DuckDB's spelling."""

    class Generator(PostgresGenerator):
        TRANSFORMS: ClassVar[dict[type[exp.Expr], Callable[..., str]]] = {
            **PostgresGenerator.TRANSFORMS,
            # from_base64(text) → bytea, decode(bytea) → UTF-8 text (DuckDB's decode reads UTF-8 only).
            exp.FromBase64: lambda self, e: self.func("DECODE", e.this, exp.Literal.string("base64")),
            exp.Decode: lambda self, e: self.func("CONVERT_FROM", e.this, exp.Literal.string("UTF8")),
        }


# sqlglot registers dialects by lower-case class name.
_SQLGLOT_DIALECT = CarelakePostgres.__name__.lower()


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database; the CDM lives in a named schema (URL parameter `schema`)."""

    dialect = "postgres"
    json_type = "JSONB"
    supports_indexes = True

    def __init__(self, url: WarehouseURL, *, read_only: bool = False) -> None:
        super().__init__(url)
        assert url.dsn is not None
        try:
            self._con = psycopg.connect(url.dsn, autocommit=True)
        except psycopg.OperationalError as e:
            raise ConfigError(
                f"cannot connect to PostgreSQL at {url.raw}: {str(e).strip()}",
                hint="check host, port, user and database in the URL, and that the server runs",
            ) from e
        # JSON comes back as text, as from the other engines; parsing it is the caller's choice.
        for json_type in ("json", "jsonb"):
            self._con.adapters.register_loader(json_type, psycopg.types.string.TextLoader)

    @classmethod
    def render(cls, query: str) -> str:
        """Canonical SQL for PostgreSQL (through `CarelakePostgres`)."""
        return transpile(query, _SQLGLOT_DIALECT)

    def _execute(self, native_sql: str) -> None:
        try:
            self._con.execute(native_sql.encode())
        except psycopg.errors.UniqueViolation as e:
            raise _key_error(e) from e
        except psycopg.Error as e:
            raise WarehouseError(f"PostgreSQL: {str(e).strip()}") from e

    def _fetch_arrow(self, native_sql: str) -> pa.Table:
        try:
            cur = self._con.execute(native_sql.encode())
            rows = cur.fetchall()
            names = [d.name for d in cur.description or []]
        except psycopg.Error as e:
            raise WarehouseError(f"PostgreSQL: {str(e).strip()}") from e
        return (
            pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])
            if rows
            else (pa.table({n: pa.array([], pa.null()) for n in names}))
        )

    def _begin(self) -> None:
        self._con.execute(b"BEGIN")
        # One writing transaction per CDM schema at a time: two loads at once made the second fail on the first's
        # rows ("duplicate primary key concept_id=0"), blaming a file that had none. The lock goes with the
        # transaction, however it ends (a killed client's connection is closed by the server).
        key = f"carelake write {self.cdm_schema}"
        row = self._con.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (key,)).fetchone()
        if not (row and row[0]):
            self._con.execute(b"ROLLBACK")
            raise UserError(
                f"another carelake command is writing to schema {self.cdm_schema} (a load, most likely)",
                hint="wait for it to finish, then run this again (writes to one schema run one at a time)",
            )

    def _commit(self) -> None:
        self._con.execute(b"COMMIT")

    def _rollback(self) -> None:
        self._con.execute(b"ROLLBACK")

    def list_tables(self, schema: str) -> list[str]:
        rows = self._con.execute(
            "SELECT lower(table_name) FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _bulk_insert(self, qualified: str, table: TableSchema, batches: Iterable[pa.RecordBatch]) -> int:
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        # Encoding CSV runs on a second thread (pyarrow releases the GIL) while this one feeds COPY,
        # so the server never waits for Python.
        chunks: queue.Queue[object] = queue.Queue(maxsize=4)
        rows = [0]
        failure: list[BaseException] = []
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")

        def produce() -> None:
            try:
                for batch in batches:
                    sink = pa.BufferOutputStream()
                    pacsv.write_csv(batch, sink, options)
                    rows[0] += batch.num_rows
                    chunks.put(sink.getvalue())
            except BaseException as e:
                failure.append(e)
            finally:
                chunks.put(_DONE)

        worker = threading.Thread(target=produce, name="carelake-copy", daemon=True)
        worker.start()
        try:
            with (
                self._con.cursor() as cur,
                cur.copy(f"COPY {qualified} ({cols}) FROM STDIN WITH (FORMAT csv)".encode()) as copy,
            ):
                while True:
                    item = chunks.get()
                    if item is _DONE:
                        break
                    if failure:
                        continue
                    assert isinstance(item, pa.Buffer)
                    copy.write(memoryview(item))
                if failure:
                    raise failure[0]
        except psycopg.errors.UniqueViolation as e:
            raise _key_error(e) from e
        except psycopg.Error as e:
            raise WarehouseError(f"PostgreSQL COPY into {qualified}: {str(e).strip()}") from e
        finally:
            while worker.is_alive():  # unblock the producer if COPY failed mid-way
                try:
                    chunks.get_nowait()
                except queue.Empty:
                    worker.join(0.05)
        return rows[0]

    def close(self) -> None:
        self._con.close()


def _key_error(e: psycopg.Error) -> WarehouseError:
    detail = getattr(e.diag, "message_detail", None) or str(e)
    m = _DUP.search(detail)
    if not m:
        return WarehouseError(f"PostgreSQL: {str(e).strip()}")
    cols = tuple(c.strip() for c in m.group("cols").split(","))
    return PrimaryKeyViolation("", cols, m.group("key"))
