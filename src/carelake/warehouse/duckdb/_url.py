"""DuckDB URLs: `duckdb:///path.duckdb` (or `duckdb:///:memory:`) with DuckDB settings in the query."""

from __future__ import annotations

from pathlib import Path

from carelake.errors import ConfigError
from carelake.warehouse._url import URL_HINT, UrlParts, WarehouseURL

__all__ = ["SETTINGS", "parse"]

# The DuckDB settings a URL may carry (`?memory_limit=2GB&threads=2`); the backend passes them to duckdb.connect.
SETTINGS = frozenset({"memory_limit", "threads", "temp_directory", "max_temp_directory_size"})


def parse(parts: UrlParts) -> WarehouseURL:
    url = parts.raw
    unknown = sorted(set(parts.query) - SETTINGS)
    if unknown:
        raise ConfigError(f"DuckDB URL {url!r}: unknown setting {', '.join(unknown)}", hint=URL_HINT)
    if parts.split.netloc:
        raise ConfigError(f"DuckDB URL {url!r} has a host; it needs three slashes", hint=URL_HINT)
    path = parts.split.path
    raw_path = path[1:] if path.startswith("/") else path
    if not raw_path:
        raise ConfigError(f"DuckDB URL {url!r} names no file", hint=URL_HINT)
    return parts.url("duckdb", path=None if raw_path == ":memory:" else Path(raw_path), options=dict(parts.query))
