"""The backends, keyed by URL scheme: where each one's URL parser and class live, and which extra it needs.

Adding an engine is one entry here plus its folder; nothing above the warehouse names an engine. The URL parsers
import no engine library, so parsing a URL (and `carelake --help`) stays fast for users without every engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import parse_qsl, urlsplit

from carelake.errors import ConfigError
from carelake.warehouse._base import Warehouse
from carelake.warehouse._url import URL_HINT, UrlParts, WarehouseURL

__all__ = ["BACKENDS", "Backend", "backend_class", "parse_url", "url_parser"]


@dataclass(frozen=True)
class Backend:
    """One engine: its name (`WarehouseURL.backend`), URL schemes, modules, and the extra that installs it."""

    name: str
    schemes: tuple[str, ...]
    package: str
    cls: str
    library: str
    extra: str | None = None


BACKENDS: tuple[Backend, ...] = (
    Backend("duckdb", ("duckdb",), "carelake.warehouse.duckdb", "DuckDBWarehouse", "duckdb"),
    Backend("postgres", ("postgresql", "postgres"), "carelake.warehouse.postgres", "PostgresWarehouse", "psycopg"),
    Backend("spark", ("spark",), "carelake.warehouse.spark", "SparkWarehouse", "pyspark", extra="spark"),
)
_BY_SCHEME = {scheme: b for b in BACKENDS for scheme in b.schemes}
_BY_NAME = {b.name: b for b in BACKENDS}


def url_parser(scheme: str) -> Callable[[UrlParts], WarehouseURL] | None:
    """The URL parser of the backend for `scheme`, or None for a scheme no backend takes."""
    backend = _BY_SCHEME.get(scheme)
    if backend is None:
        return None
    parse: Callable[[UrlParts], WarehouseURL] = import_module(f"{backend.package}._url").parse
    return parse


def backend_class(name: str) -> type[Warehouse]:
    """The Warehouse class of backend `name`, imported now; a missing engine library is a clear error."""
    backend = _BY_NAME[name]
    try:
        module = import_module(f"{backend.package}._backend")
    except ImportError as e:
        if e.name is None or e.name.split(".")[0] != backend.library:
            raise
        how = f"install carelake with the '{backend.extra}' extra: pip install 'carelake[{backend.extra}]'"
        raise ConfigError(f"the {backend.name} backend needs the {backend.library} package", hint=how) from e
    cls: type[Warehouse] = getattr(module, backend.cls)
    return cls


def parse_url(url: str) -> WarehouseURL:
    """Parse and check a URL, so a typo fails before anything connects."""
    try:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
    except ValueError as e:  # an unclosed "[" of an IPv6 host, a port that is no number, ...
        raise ConfigError(f"warehouse URL {url!r} cannot be read: {e}", hint=URL_HINT) from None
    names = [query.pop(key, default) for key, default in (("schema", "cdm"), ("results", "results"), ("fhir", "fhir"))]
    for name in names:
        if not name.isidentifier():
            raise ConfigError(f"schema name {name!r} in {url!r} is not a plain identifier", hint=URL_HINT)
    parse = url_parser(parts.scheme.lower())
    if parse is None:
        raise ConfigError(f"unknown warehouse URL {url!r}", hint=URL_HINT)
    return parse(UrlParts(url, parts, query, *names))
