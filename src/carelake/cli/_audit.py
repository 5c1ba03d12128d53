"""The CLI's side of the audit trail: each command is recorded once it ends, with what it printed and wrote.

Every verb is recorded but those that read no patient data and export nothing of it (`synth`, which simulates;
`privacy audit`, which reads the trail itself; `--help`). A command adds the rows it handled and the files it
wrote with `note_rows` and `note_output` (the files named by `--out`, `-o`, `--rejects` and `--report` are found
in the command line); what it prints is hashed as it goes to stdout.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["audited", "note_output", "note_rows"]

# Options of the main callback that take a value (they come before the verb).
_GLOBAL_WITH_VALUE = ("--warehouse", "-w")
_EXEMPT = (("synth",), ("privacy", "audit"))
# Options that name a file or folder a command writes: each is hashed into the entry (with what `note_output` adds).
_OUTPUT_OPTIONS = ("--out", "-o", "--rejects", "--report")


@dataclass
class _Notes:
    rows: int | None = None
    outputs: list[Path] = field(default_factory=list)


_notes = _Notes()


def note_rows(n: int) -> None:
    """The rows of patient data this command read or wrote (added up over calls)."""
    _notes.rows = (_notes.rows or 0) + int(n)


def note_output(path: Path) -> None:
    """A file or folder this command wrote: its SHA-256 goes in the entry."""
    _notes.outputs.append(path)


def _verb(argv: Sequence[str]) -> list[str]:
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif arg.startswith("-"):
            if arg in ("--help", "-h"):
                return []
            if words:
                break
        else:
            words.append(arg)
    return words


class _HashingOut:
    """stdout, passed through, with a running SHA-256 of the text written."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()

    def write(self, text: str) -> int:
        self.digest.update(text.encode("utf-8", "surrogateescape"))
        return self.inner.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def audited(argv: Sequence[str], warehouse: Callable[[], str | None]) -> Iterator[None]:
    """Run a command and record it in the audit trail whatever its outcome (exit code, error or interrupt)."""
    words = _verb(argv)
    if not words or any(tuple(words[: len(e)]) == e for e in _EXEMPT):
        yield
        return
    from carelake.privacy.audit import AuditEntry, append_entry, check_appendable, file_digest, masked_command

    check_appendable()  # a trail that cannot take the entry stops the command before it reads anything
    out = _HashingOut(sys.stdout)
    sys.stdout = out
    outcome = "ok"
    try:
        yield
    except SystemExit as e:
        outcome = "ok" if e.code in (0, None) else f"exit {e.code}"
        raise
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    except BaseException as e:
        outcome = f"exit {getattr(e, 'exit_code', 1)} ({type(e).__name__})"  # a CarelakeError knows its exit code
        raise
    finally:
        sys.stdout = out.inner
        named = [Path(value) for flag, value in itertools.pairwise(argv) if flag in _OUTPUT_OPTIONS]
        named += [Path(a.split("=", 1)[1]) for a in argv if a.split("=", 1)[0] in _OUTPUT_OPTIONS and "=" in a]
        outputs = {str(p): file_digest(p) for p in dict.fromkeys([*named, *_notes.outputs]) if p.exists()}
        entry = AuditEntry(
            masked_command(["carelake", *argv]), outcome, warehouse(), _notes.rows, out.digest.hexdigest(), outputs
        )
        append_entry(entry)
