"""DuckDB backend: the embedded default."""

from carelake.warehouse.duckdb._backend import DuckDBWarehouse

__all__ = ["DuckDBWarehouse"]
