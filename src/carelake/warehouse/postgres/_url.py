"""PostgreSQL URLs: `postgresql://user@host:port/db?schema=cdm`; other query keys go to libpq as they are."""

from __future__ import annotations

from urllib.parse import urlunsplit

from carelake.warehouse._url import UrlParts, WarehouseURL

__all__ = ["parse"]


def parse(parts: UrlParts) -> WarehouseURL:
    s = parts.split
    dsn = urlunsplit(("postgresql", s.netloc, s.path, "", ""))
    extra = "&".join(f"{k}={v}" for k, v in parts.query.items())
    return parts.url("postgres", dsn=dsn + (f"?{extra}" if extra else ""), options={})
