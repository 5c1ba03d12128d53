"""Warehouse URLs: `duckdb:///path.duckdb`, `postgresql://user@host:port/db?schema=cdm`, `spark://local`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from carelake.errors import ConfigError

__all__ = ["DEFAULT_URL", "WarehouseURL", "parse_url"]

DEFAULT_URL = "duckdb:///carelake.duckdb"

_HINT = "use duckdb:///path.duckdb, postgresql://user@host:port/db?schema=cdm or spark://local?path=DIR"


@dataclass(frozen=True)
class WarehouseURL:
    """A parsed warehouse URL; `options` holds the query parameters the backend did not consume."""

    backend: str
    raw: str
    cdm_schema: str = "cdm"
    results_schema: str = "results"
    path: Path | None = None
    fhir_schema: str = "fhir"
    dsn: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_url(url: str) -> WarehouseURL:
    """Parse and check a URL, so a typo fails before anything connects."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = dict(parse_qsl(parts.query))
    cdm = query.pop("schema", "cdm")
    results = query.pop("results", "results")
    fhir = query.pop("fhir", "fhir")
    for name in (cdm, results, fhir):
        if not name.isidentifier():
            raise ConfigError(f"schema name {name!r} in {url!r} is not a plain identifier", hint=_HINT)
    if scheme == "duckdb":
        unknown = sorted(set(query) - {"memory_limit", "threads", "temp_directory", "max_temp_directory_size"})
        if unknown:
            raise ConfigError(f"DuckDB URL {url!r}: unknown setting {', '.join(unknown)}", hint=_HINT)
        if parts.netloc:
            raise ConfigError(f"DuckDB URL {url!r} has a host; it needs three slashes", hint=_HINT)
        raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not raw_path:
            raise ConfigError(f"DuckDB URL {url!r} names no file", hint=_HINT)
        path = None if raw_path == ":memory:" else Path(raw_path)
        return WarehouseURL("duckdb", url, cdm, results, path=path, fhir_schema=fhir, options=query)
    if scheme in ("postgresql", "postgres"):
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
        extra = "&".join(f"{k}={v}" for k, v in query.items())
        return WarehouseURL(
            "postgres", url, cdm, results, dsn=dsn + (f"?{extra}" if extra else ""), fhir_schema=fhir, options={}
        )
    if scheme == "spark":
        if parts.netloc not in ("local", ""):
            raise ConfigError(f"Spark URL {url!r}: only spark://local is supported", hint=_HINT)
        path = Path(query.pop("path", "carelake-spark"))
        return WarehouseURL("spark", url, cdm, results, path=path, fhir_schema=fhir, options=query)
    raise ConfigError(f"unknown warehouse URL {url!r}", hint=_HINT)
