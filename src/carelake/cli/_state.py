"""Global options shared by the verbs, and helpers to open the warehouse and show progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from carelake.omop.loader import Progress
    from carelake.warehouse import Warehouse

__all__ = [
    "JSON_OPTION",
    "MIN_CELL_OPTION",
    "min_cell_count",
    "open_warehouse",
    "out",
    "print_json",
    "progress_bar",
    "state",
]

# Every verb that computes figures takes --json; data goes to stdout, progress and errors to stderr.
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
# Every verb that exports figures takes the disclosure rule's cutoff; unset, it comes from the settings.
MIN_CELL_OPTION = typer.Option(
    None,
    "--min-cell-count",
    help="Withhold exported counts from 1 to this minus 1 (default: min_cell_count in carelake.toml, "
    "CARELAKE_MIN_CELL_COUNT, else 5).",
)


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@dataclass
class _State:
    warehouse_flag: str | None = None
    debug: bool = False
    # The URL the command opened (for the audit trail: a verb may default to another warehouse than the settings).
    opened: str | None = None


state = _State()


def warehouse_url(default: str | None = None) -> str:
    from carelake.config import load_settings

    settings = load_settings(state.warehouse_flag)
    if default is not None and settings.warehouse_from == "default":
        return default
    return settings.warehouse


def min_cell_count(flag: int | None) -> int:
    """The disclosure rule's cutoff: `--min-cell-count`, else CARELAKE_MIN_CELL_COUNT, else carelake.toml."""
    from carelake.config import load_settings

    return load_settings(state.warehouse_flag, flag_min_cell_count=flag).min_cell_count


@contextmanager
def open_warehouse(default: str | None = None, *, read_only: bool = False) -> Iterator[Warehouse]:
    from carelake.warehouse import connect

    state.opened = warehouse_url(default)
    wh = connect(state.opened, read_only=read_only)
    try:
        yield wh
    finally:
        wh.close()


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A rich progress bar on stderr, fed with (file, bytes, total bytes)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def advance(file: str, done: int, total: int) -> None:
            bar.update(task, advance=done, total=total, description=f"{description} {file.rsplit('/', 1)[-1]}")

        yield advance
