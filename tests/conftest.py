"""One suite over every backend: the `warehouse` fixture yields a fresh, empty warehouse on each.

PostgreSQL tests use throw-away schemas in the database named by CARELAKE_TEST_POSTGRES (default: the local
server's `test` database); Spark tests share one local session and a temporary folder per test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from carelake.warehouse import Warehouse, connect
from engines import BACKENDS, drop, for_small_data, make_url


@pytest.fixture(scope="session", autouse=True)
def audit_trail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The commands the suite runs are recorded in a trail of its own, not in ./carelake-audit.jsonl of the repo."""
    path = tmp_path_factory.mktemp("audit") / "carelake-audit.jsonl"
    before = os.environ.get("CARELAKE_AUDIT_LOG")
    os.environ["CARELAKE_AUDIT_LOG"] = str(path)
    yield path
    if before is None:
        os.environ.pop("CARELAKE_AUDIT_LOG", None)
    else:
        os.environ["CARELAKE_AUDIT_LOG"] = before


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def warehouse_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = make_url(backend, tmp_path)
    yield url
    drop(url)


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    wh = for_small_data(connect(warehouse_url))
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Synthea27Nj sample (gzip CSV), as shipped in the package."""
    with resources.as_file(resources.files("carelake").joinpath("data/synthea27nj")) as path:
        target = tmp_path_factory.mktemp("synthea27nj")
        for f in Path(path).glob("*.csv.gz"):
            shutil.copy(f, target / f.name)
        return target
