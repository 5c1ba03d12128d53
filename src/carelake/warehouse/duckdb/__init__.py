"""DuckDB backend: the embedded default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DuckDBWarehouse"]

if TYPE_CHECKING:
    from carelake.warehouse.duckdb._backend import DuckDBWarehouse


def __getattr__(name: str) -> Any:
    """Import the engine on first use: parsing a URL (`_url.py`) must not load it."""
    if name == "DuckDBWarehouse":
        from carelake.warehouse.duckdb._backend import DuckDBWarehouse

        return DuckDBWarehouse
    raise AttributeError(name)
