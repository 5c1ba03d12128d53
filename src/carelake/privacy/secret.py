"""The site secret: the key every pseudonym is made with, read from a file or the environment, never stored.

Whoever holds it can recompute (and so reverse, by trying every real id) each pseudonym, so it lives outside the
warehouse: a file only the site's service account reads (`--secret-file`, or `CARELAKE_SITE_SECRET_FILE`), or the
environment (`CARELAKE_SITE_SECRET`) for a container's secret store. It is held as bytes, printed as nothing, and
passed to nothing but HMAC.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from carelake.errors import ConfigError

__all__ = ["MIN_SECRET_BYTES", "SECRET_ENV", "SECRET_FILE_ENV", "SiteSecret", "read_secret"]

log = logging.getLogger(__name__)

# HMAC-SHA256's own key size: a shorter key is easier to guess than the pseudonyms it protects are to collide.
MIN_SECRET_BYTES = 32
SECRET_ENV = "CARELAKE_SITE_SECRET"
SECRET_FILE_ENV = "CARELAKE_SITE_SECRET_FILE"
_MAKE_ONE = 'make one with: python -c "import secrets; print(secrets.token_hex(32))" > site.key; chmod 600 site.key'


class SiteSecret:
    """The key, and where it came from (for messages). Its repr and str never show the key."""

    __slots__ = ("_key", "source")

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the site secret from {source} is {len(key)} bytes; pseudonyms need at least {MIN_SECRET_BYTES}",
                hint=_MAKE_ONE,
            )
        self._key = key
        self.source = source

    @property
    def key(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return f"SiteSecret(from {self.source})"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("a site secret is not pickled: read it where it is needed")


def _strip(raw: bytes) -> bytes:
    """The key as written, without the line end an editor or `echo` adds."""
    return raw.rstrip(b"\r\n")


def read_secret(file: Path | None = None) -> SiteSecret:
    """The site secret from `file`, else the file `CARELAKE_SITE_SECRET_FILE` names, else `CARELAKE_SITE_SECRET`."""
    if file is None and os.environ.get(SECRET_FILE_ENV):
        file = Path(os.environ[SECRET_FILE_ENV])
    if file is not None:
        try:
            raw = file.read_bytes()
            mode = file.stat().st_mode
        except OSError as e:
            raise ConfigError(f"cannot read the site secret file {file}: {e.strerror}", hint=_MAKE_ONE) from e
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("site secret file %s is readable by others than its owner; chmod 600 it", file)
        return SiteSecret(_strip(raw), f"file {file}")
    value = os.environ.get(SECRET_ENV)
    if not value:
        raise ConfigError(
            f"no site secret: pass --secret-file, or set {SECRET_FILE_ENV} (a file) or {SECRET_ENV} (the secret)",
            hint=_MAKE_ONE,
        )
    return SiteSecret(_strip(value.encode("utf-8")), f"environment variable {SECRET_ENV}")
