"""The audit trail: an append-only, hash-chained log of every command that reads patient data or exports anything.

One JSON object a line (`CARELAKE_AUDIT_LOG`, default `./carelake-audit.jsonl`): who, when, on which machine,
the command line (secrets and passwords masked), the warehouse (its password masked), the outcome, the rows it
reports and the SHA-256 of what it printed and of each file it wrote. Each entry carries the hash of the one
before it and its own hash over both, so changing any entry, or removing one from the middle, breaks the chain at
that entry; `verify` names it. Removing entries from the end leaves a shorter valid chain: compare the head that
`verify` prints with one kept elsewhere (`--head`).
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from carelake.errors import UserError

__all__ = [
    "AUDIT_ENV",
    "DEFAULT_AUDIT_LOG",
    "GENESIS",
    "AuditEntry",
    "AuditError",
    "Verified",
    "append_entry",
    "audit_log_path",
    "check_appendable",
    "file_digest",
    "masked_command",
    "masked_url",
    "verify_log",
]

AUDIT_ENV = "CARELAKE_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path("carelake-audit.jsonl")
GENESIS = "0" * 64  # the `prev` of the first entry
_SECRET_FLAG = re.compile(r"secret|password|passwd|token|key$", re.I)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]+):[^@/\s]*@", re.I)


class AuditError(UserError):
    """The audit log is broken: `line` is the first entry that does not hold."""

    def __init__(self, message: str, *, line: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.line = line


def audit_log_path() -> Path:
    """Where the trail is kept: `CARELAKE_AUDIT_LOG`, else ./carelake-audit.jsonl."""
    return Path(os.environ.get(AUDIT_ENV) or DEFAULT_AUDIT_LOG)


def masked_url(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", text)


def masked_command(argv: Sequence[str]) -> list[str]:
    """The command line as logged: the value after a flag that names a secret, password or token is ***, and so
    is the value of `--flag=value` forms; URLs lose their passwords."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        if arg.startswith("--") and "=" in arg:
            flag, _ = arg.split("=", 1)
            out.append(f"{flag}=***" if _SECRET_FLAG.search(flag) and not flag.endswith("-file") else masked_url(arg))
            continue
        if arg.startswith("--") and _SECRET_FLAG.search(arg) and not arg.endswith("-file"):
            hide_next = True
        out.append(masked_url(arg))
    return out


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (each relative path and digest, in order)."""
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(f"{p.relative_to(path).as_posix()}\0{file_digest(p)}\n".encode())
        return h.hexdigest()
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class AuditEntry:
    """One command, as the trail records it."""

    command: list[str]
    outcome: str
    warehouse: str | None = None
    rows: int | None = None
    stdout_sha256: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    def body(self, seq: int, prev: str) -> dict[str, Any]:
        return {
            "seq": seq,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "user": _user(),
            "host": socket.gethostname(),
            "command": self.command,
            "warehouse": masked_url(self.warehouse) if self.warehouse else None,
            "outcome": self.outcome,
            "rows": self.rows,
            "stdout_sha256": self.stdout_sha256,
            "outputs": self.outputs,
            "prev": prev,
        }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container with no name for its uid
        return f"uid {os.getuid()}"


def _hash(body: dict[str, Any]) -> str:
    """The entry's hash: SHA-256 of its canonical JSON (sorted keys, no spaces), which includes `prev`."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # one writer at a time: two commands never take the same seq
        try:
            yield f
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _last(f: IO[bytes]) -> tuple[int, str]:
    """The seq and hash of the trail's last entry, read from the end (a site's trail grows for years)."""
    end = f.seek(0, os.SEEK_END)
    tail, start = b"", end
    while start > 0 and tail.rstrip(b"\n").count(b"\n") == 0:
        start = max(0, start - 65536)
        f.seek(start)
        tail = f.read(end - start)
    lines = [line for line in tail.split(b"\n") if line.strip()]
    if not lines:
        return 0, GENESIS
    entry = json.loads(lines[-1])
    return int(entry["seq"]), str(entry["hash"])


def _tail(target: Path, f: IO[bytes]) -> tuple[int, str]:
    try:
        return _last(f)
    except (ValueError, KeyError, TypeError) as e:
        raise AuditError(
            f"{target}: its last line is not an audit entry, so no command can be recorded after it",
            line=0,
            hint="run carelake privacy audit verify to see where it breaks; keep the broken trail as evidence and "
            f"point {AUDIT_ENV} at a new file",
        ) from e


def check_appendable(path: Path | None = None) -> None:
    """Raise AuditError now if a command could not be recorded at `path` (so it fails before it runs)."""
    target = path or audit_log_path()
    with _locked(target) as f:
        _tail(target, f)


def append_entry(entry: AuditEntry, path: Path | None = None) -> dict[str, Any]:
    """Add `entry` to the trail at `path` (default `audit_log_path()`); returns the line written, as a dict."""
    target = path or audit_log_path()
    with _locked(target) as f:
        seq, prev = _tail(target, f)
        body = entry.body(seq + 1, prev)
        body["hash"] = _hash(body)
        f.seek(0, os.SEEK_END)
        f.write((json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return body


@dataclass(frozen=True)
class Verified:
    """A chain that holds: how many entries, and the hash of the last (the head to keep elsewhere)."""

    entries: int
    head: str


def verify_log(path: Path, *, head: str | None = None) -> Verified:
    """Check every entry's hash and its link to the one before; raise AuditError at the first that fails."""
    if not path.exists():
        raise AuditError(f"no audit trail at {path}", line=0, hint=f"name it with --log or {AUDIT_ENV}")
    prev, seq = GENESIS, 0
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise AuditError(f"{path}: not UTF-8 text at byte {e.start}", line=0, hint="the file was edited") from e
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        try:
            entry = json.loads(line)
            claimed = entry.pop("hash")
        except (ValueError, KeyError, AttributeError, TypeError) as e:
            raise AuditError(f"{where}: not an audit entry", line=number, hint="the line was edited") from e
        if entry.get("prev") != prev or entry.get("seq") != seq + 1:
            raise AuditError(
                f"{where}: entry {entry.get('seq')} does not follow entry {seq}: an entry before it was "
                "removed, reordered or changed",
                line=number,
            )
        if _hash(entry) != claimed:
            raise AuditError(f"{where}: entry {seq + 1} was changed after it was written", line=number)
        prev, seq = claimed, seq + 1
        seen.add(claimed)
    if head is not None and head not in seen:
        raise AuditError(
            f"{path}: no entry has the head given ({head[:12]}...): entries were removed from the end, or the "
            "head is of another trail",
            line=seq,
        )
    return Verified(seq, prev)
