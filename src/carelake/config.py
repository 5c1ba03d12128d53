"""Settings: command-line flags win over the CARELAKE_* environment, which wins over ./carelake.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from carelake.errors import ConfigError
from carelake.warehouse._url import DEFAULT_URL

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    """Resolved settings and, for `warehouse`, where the value came from (shown by `carelake info`)."""

    warehouse: str = DEFAULT_URL
    warehouse_from: str = "default"


def load_settings(flag_warehouse: str | None = None, config_file: Path = Path("carelake.toml")) -> Settings:
    if flag_warehouse:
        return Settings(flag_warehouse, "--warehouse")
    env = os.environ.get("CARELAKE_WAREHOUSE")
    if env:
        return Settings(env, "CARELAKE_WAREHOUSE")
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{config_file}: {e}", hint="fix the TOML syntax") from e
        value = data.get("warehouse")
        if value is not None:
            if not isinstance(value, str):
                raise ConfigError(f"{config_file}: 'warehouse' must be a string URL")
            return Settings(value, str(config_file))
    return Settings()
