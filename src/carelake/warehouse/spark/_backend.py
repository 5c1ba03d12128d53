"""Spark backend: Spark in local mode over a folder of Parquet tables.

Spark has no transactions and Delta Lake's jars cannot be fetched offline, so the backend is built in layers, each
a module: `_session` (the one SparkSession), `_catalogue` (tables as Parquet folders with a sidecar), `_staging`
(transactions: stage, then swap) and `_statements` (canonical SQL Spark's Parquet tables cannot run as such).
"""

from __future__ import annotations

import uuid

import pyspark  # noqa: F401  here, not first in the session: without the extra, connecting names it (_registry)

from carelake.warehouse._url import WarehouseURL
from carelake.warehouse.spark._session import spark_session
from carelake.warehouse.spark._statements import Statements

__all__ = ["SparkWarehouse"]


class SparkWarehouse(Statements):
    """Spark in local mode over a folder of Parquet tables (URL `spark://local?path=DIR&master=local[2]`)."""

    dialect = "spark"
    json_type = "STRING"
    supports_transactions = False
    enforces_primary_keys = False

    def __init__(self, url: WarehouseURL, *, read_only: bool = False) -> None:
        super().__init__(url)
        assert url.path is not None
        self.root = url.path.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.spark = spark_session(url.options.get("master", "local[2]"))
        self._staged = {}
        self._tx = None
        self._scratch = self.root / ".scratch" / uuid.uuid4().hex
        self._temp = {}
        self._schemas = {}
        self._register_existing()
        self._finish_killed_on_connect()
