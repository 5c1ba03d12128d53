"""Warehouse URLs: `duckdb:///path.duckdb`, `postgresql://user@host:port/db?schema=cdm`, `spark://local`.

The parts every backend shares (the CDM, results and FHIR schema names) are read here; each backend's own URL module
(`duckdb/_url.py`, ...) reads the rest, so a backend's settings are listed once, beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult

__all__ = ["DEFAULT_URL", "URL_HINT", "UrlParts", "WarehouseURL"]

DEFAULT_URL = "duckdb:///carelake.duckdb"

URL_HINT = "use duckdb:///path.duckdb, postgresql://user@host:port/db?schema=cdm or spark://local?path=DIR"


@dataclass(frozen=True)
class WarehouseURL:
    """A parsed warehouse URL; `options` holds the backend's own settings from the query."""

    backend: str
    raw: str
    cdm_schema: str = "cdm"
    results_schema: str = "results"
    path: Path | None = None
    fhir_schema: str = "fhir"
    dsn: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UrlParts:
    """What a backend's URL parser is handed: the split URL, the query less the shared keys, and those keys."""

    raw: str
    split: SplitResult
    query: dict[str, str]
    cdm_schema: str
    results_schema: str
    fhir_schema: str

    def url(self, backend: str, **fields: object) -> WarehouseURL:
        """The parsed URL for `backend`, with the shared schema names filled in."""
        return WarehouseURL(
            backend,
            self.raw,
            self.cdm_schema,
            self.results_schema,
            fhir_schema=self.fhir_schema,
            **fields,  # type: ignore[arg-type]
        )
