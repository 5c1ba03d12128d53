"""Settings: command-line flags win over the CARELAKE_* environment, which wins over ./carelake.toml.

Keys: `warehouse` (a URL; env CARELAKE_WAREHOUSE) and `min_cell_count` (the disclosure rule's cutoff for every
export; env CARELAKE_MIN_CELL_COUNT).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelake.errors import ConfigError
from carelake.limits import MAX_DEPTH, object_depth
from carelake.privacy.disclosure import DEFAULT_MIN_CELL_COUNT, disclosure_rule
from carelake.warehouse import DEFAULT_URL

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    """Resolved settings and, for each, where the value came from (shown by `carelake info`)."""

    warehouse: str = DEFAULT_URL
    warehouse_from: str = "default"
    min_cell_count: int = DEFAULT_MIN_CELL_COUNT
    min_cell_count_from: str = "default"


def _file(config_file: Path) -> dict[str, Any]:
    if not config_file.exists():
        return {}
    deep = ConfigError(f"{config_file}: nested deeper than {MAX_DEPTH} levels", hint="no carelake setting needs that")
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{config_file}: {e}", hint="fix the TOML syntax") from e
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{config_file}: not UTF-8 text ({e.reason} at byte {e.start})", hint="save it as UTF-8"
        ) from e
    except RecursionError:
        raise deep from None
    if object_depth(data) > MAX_DEPTH:
        raise deep
    return data


def _min_cell_count(flag: int | None, data: dict[str, Any], config_file: Path) -> tuple[int, str]:
    if flag is not None:
        return disclosure_rule(flag).min_cell_count, "--min-cell-count"
    env = os.environ.get("CARELAKE_MIN_CELL_COUNT")
    if env:
        if not env.strip().isdigit():
            raise ConfigError(f"CARELAKE_MIN_CELL_COUNT={env!r} is not a whole number", hint="use e.g. 5")
        return disclosure_rule(int(env)).min_cell_count, "CARELAKE_MIN_CELL_COUNT"
    value = data.get("min_cell_count")
    if value is None:
        return DEFAULT_MIN_CELL_COUNT, "default"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{config_file}: 'min_cell_count' must be a whole number", hint="e.g. min_cell_count = 5")
    try:
        return disclosure_rule(value).min_cell_count, str(config_file)
    except ConfigError as e:
        raise ConfigError(f"{config_file}: {e.message}", hint=e.hint) from e


def load_settings(
    flag_warehouse: str | None = None,
    config_file: Path = Path("carelake.toml"),
    *,
    flag_min_cell_count: int | None = None,
) -> Settings:
    data = _file(config_file)
    cells, cells_from = _min_cell_count(flag_min_cell_count, data, config_file)
    if flag_warehouse:
        return Settings(flag_warehouse, "--warehouse", cells, cells_from)
    env = os.environ.get("CARELAKE_WAREHOUSE")
    if env:
        return Settings(env, "CARELAKE_WAREHOUSE", cells, cells_from)
    value = data.get("warehouse")
    if value is not None:
        if not isinstance(value, str):
            raise ConfigError(f"{config_file}: 'warehouse' must be a string URL")
        return Settings(value, str(config_file), cells, cells_from)
    return Settings(min_cell_count=cells, min_cell_count_from=cells_from)
