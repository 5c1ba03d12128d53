"""Spark URLs: `spark://local?path=DIR&master=local[2]` (local mode; tables are Parquet folders under DIR)."""

from __future__ import annotations

from pathlib import Path

from carelake.errors import ConfigError
from carelake.warehouse._url import URL_HINT, UrlParts, WarehouseURL

__all__ = ["parse"]


def parse(parts: UrlParts) -> WarehouseURL:
    if parts.split.netloc not in ("local", ""):
        raise ConfigError(f"Spark URL {parts.raw!r}: only spark://local is supported", hint=URL_HINT)
    query = dict(parts.query)
    path = Path(query.pop("path", "carelake-spark"))
    return parts.url("spark", path=path, options=query)
