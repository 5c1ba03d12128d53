"""Entry point: global options, exit codes (0 ok, 1 internal error, 2 user error) and the verbs."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer

from carelake.cli import _cohort, _fhir, _omop, _privacy, _quality, _study, _synth
from carelake.cli._audit import audited
from carelake.cli._state import state

__all__ = ["app", "main"]

app = typer.Typer(
    name="carelake",
    help="Health data to trustworthy insight: FHIR and OMOP CDM on DuckDB, PostgreSQL and Spark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _global(
    warehouse: str | None = typer.Option(
        None,
        "--warehouse",
        "-w",
        help="duckdb:///path.duckdb (default ./carelake.duckdb), postgresql://user@host:port/db?schema=cdm, "
        "spark://local?path=DIR. Env: CARELAKE_WAREHOUSE.",
    ),
    debug: bool = typer.Option(False, "--debug", help="Log in detail and show tracebacks."),
) -> None:
    state.warehouse_flag = warehouse
    state.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


_load_app = typer.Typer(help="Load data into the warehouse.", no_args_is_help=True)
app.add_typer(_load_app, name="load")
_omop.register(app, _load_app)
_fhir.register(app, _load_app)
_cohort.register(app)
_quality.register(app)
_synth.register(app)
_study.register(app)
_privacy.register(app)


def main() -> None:
    """Run the CLI, mapping carelake's errors to one-line messages and exit codes."""
    from carelake.errors import CarelakeError

    try:
        with audited(sys.argv[1:], _warehouse_named):
            app(standalone_mode=True)
    except SystemExit as e:
        if e.code == 130 and _interrupted(e):  # Typer turns Ctrl-C into exit 130, silently
            sys.stderr.write(INTERRUPTED)
        raise
    except CarelakeError as e:
        if state.debug:
            raise
        if _interrupted(e):  # an engine's driver may turn Ctrl-C into an error of its own (pyspark does)
            _exit_interrupted()
        sys.stderr.write(f"error: {e.message}\n")
        if e.hint:
            sys.stderr.write(f"hint: {e.hint}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _exit_interrupted()
    except Exception as e:
        if state.debug:
            raise
        if _interrupted(e):
            _exit_interrupted()
        sys.stderr.write(f"internal error: {type(e).__name__}: {e}\nhint: run again with --debug for details\n")
        sys.exit(1)


def _warehouse_named() -> str | None:
    """The warehouse the command used, for the audit trail (None where its settings cannot be read)."""
    from carelake.cli._state import warehouse_url
    from carelake.errors import CarelakeError

    try:
        return state.opened or warehouse_url()
    except CarelakeError:
        return None


# Every write runs in one transaction that an interrupt rolls back (docs/reliability.md).
INTERRUPTED = "interrupted: nothing this command was writing was committed; the warehouse is as it was before it\n"


def _exit_interrupted() -> NoReturn:
    sys.stderr.write(INTERRUPTED)
    sys.exit(130)


def _interrupted(e: BaseException) -> bool:
    """Whether a Ctrl-C (KeyboardInterrupt) is in the chain of exceptions that led to `e`."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, KeyboardInterrupt):
            return True
        todo += [item.__cause__, item.__context__]
    return False
