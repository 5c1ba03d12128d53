"""Warehouse URLs: each backend parses its own options, and a bad URL is refused before anything connects.

What every backend must do once connected (types, upsert, replace, rollback, keys, canonical SQL) is the
conformance kit's (`carelake.warehouse.check_backend`), run on every engine by test_backend_conformance.py.
"""

from __future__ import annotations

import pytest

from carelake.errors import ConfigError
from carelake.warehouse import parse_url


def test_urls_are_checked_before_connecting() -> None:
    assert parse_url("duckdb:///x/y.duckdb").path is not None
    pg = parse_url("postgresql://me@db:5433/omop?schema=cdm54&results=res")
    assert (pg.backend, pg.cdm_schema, pg.results_schema, pg.dsn) == (
        "postgres",
        "cdm54",
        "res",
        "postgresql://me@db:5433/omop",
    )
    assert parse_url("spark://local?master=local[1]").options == {"master": "local[1]"}
    assert parse_url("duckdb:///x.duckdb?memory_limit=2GB&fhir=raw").fhir_schema == "raw"
    for bad in ("mysql://x/y", "duckdb://host/x", "postgresql://x/y?schema=a;drop", "duckdb:///x?memory=1GB"):
        with pytest.raises(ConfigError):
            parse_url(bad)


def test_duckdb_settings_from_the_url() -> None:
    from carelake.warehouse import connect

    wh = connect("duckdb:///:memory:?memory_limit=300MB&threads=1")
    assert wh.fetch_scalar("SELECT current_setting('threads')") == 1
    assert "MiB" in str(wh.fetch_scalar("SELECT current_setting('memory_limit')"))
    with pytest.raises(ConfigError, match="memory_limit"):
        connect("duckdb:///:memory:?memory_limit=lots")
