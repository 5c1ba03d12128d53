"""Spark backend (local mode): tables are Parquet folders; loads are made atomic by staging and swapping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SparkWarehouse"]

if TYPE_CHECKING:
    from carelake.warehouse.spark._backend import SparkWarehouse


def __getattr__(name: str) -> Any:
    """Import the engine on first use: parsing a URL (`_url.py`) must not load it."""
    if name == "SparkWarehouse":
        from carelake.warehouse.spark._backend import SparkWarehouse

        return SparkWarehouse
    raise AttributeError(name)
