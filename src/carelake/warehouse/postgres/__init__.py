"""PostgreSQL backend: where most OMOP sites live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["PostgresWarehouse"]

if TYPE_CHECKING:
    from carelake.warehouse.postgres._backend import PostgresWarehouse


def __getattr__(name: str) -> Any:
    """Import the engine on first use: parsing a URL (`_url.py`) must not load it."""
    if name == "PostgresWarehouse":
        from carelake.warehouse.postgres._backend import PostgresWarehouse

        return PostgresWarehouse
    raise AttributeError(name)
