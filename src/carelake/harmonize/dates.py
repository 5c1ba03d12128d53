"""Dates as they arrive: a FHIR date, dateTime or instant that is malformed or not on the calendar is set aside.

FHIR's own pattern lets 2020-02-30 through, and the shared SQL casts dates to DATE and TIMESTAMP: one such value
used to abort the whole load with the engine's conversion error. Here each record whose date is not a real day and
time (February 29 outside leap years, a 31st in a 30-day month, hour 24, second 60 (OMOP has no leap seconds), or
not the FHIR form at all) is rejected with the field named, and the rest loads.

`DAY_OK` goes into the mapping SQL as `{day_ok:<expression>}`: the portable predicate for that expression (CASE
keeps every engine from casting text the pattern refused). Stage tables read more than once lose their bad rows
(`Stage.set_aside_bad_dates`), listed in `{stage}.bad_date`; the events are checked where they are unioned
(`event.prepare.sql`).
"""

from __future__ import annotations

from carelake.harmonize.manifest import STAGE_TABLES, StageTable
from carelake.warehouse import Column, TableSchema

__all__ = [
    "BAD_DATE",
    "DATE_OK",
    "DATE_TYPES",
    "DAY_OK",
    "checked_tables",
    "date_columns",
    "date_reason",
]

DATE_TYPES = ("date", "dateTime", "instant")

# FHIR's date / dateTime / instant forms (a time without seconds and without a zone taken too, as exports write it).
_FORM = (
    "^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])"
    "([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?)?)?$"
)

BAD_DATE = TableSchema(
    "bad_date",
    (
        Column("resource_type", "varchar"),
        Column("id", "varchar"),
        Column("field", "varchar"),
        Column("value", "varchar"),
    ),
)


def date_reason(field: str) -> str:
    """The rejection reason for a record whose `field` holds no real date."""
    return f"{field} is not a whole date that exists (FHIR form, a real day and time; OMOP needs the day)"


class _DateOk:
    """Formats as the SQL predicate "NULL, or a FHIR date/dateTime/instant on the calendar" for the expression given
    as the format spec: `"{date_ok:e.start}".format(date_ok=DATE_OK)`. With `whole`, a date without its day (FHIR
    allows 2019-03) is refused too: OMOP's dates and datetimes need the day."""

    def __init__(self, *, whole: bool) -> None:
        self.whole = whole

    def __format__(self, x: str) -> str:
        def part(start: int, length: int) -> str:
            return f"CAST(substr({x}, {start}, {length}) AS INTEGER)"

        year = part(1, 4)
        leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
        last = (
            f"CASE {part(6, 2)} WHEN 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
            "WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END"
        )
        return (
            f"(CASE WHEN {x} IS NULL THEN true WHEN NOT regexp_matches({x}, '{_FORM}') THEN false "
            f"WHEN length({x}) < 10 THEN {'false' if self.whole else 'true'} "
            f"WHEN substr({x}, 9, 2) <= '28' THEN true ELSE {part(9, 2)} <= {last} END)"  # every month has 28 days
        )


DATE_OK = _DateOk(whole=False)
DAY_OK = _DateOk(whole=True)


def date_columns(table: StageTable) -> list[tuple[str, str, str]]:
    """(column, FHIR path, type) of each date a stage table's view declares (`"type"`: date, dateTime or instant)."""
    if not table.view:
        return []
    found: list[tuple[str, str, str]] = []
    todo = list(table.definition.select)
    while todo:
        sel = todo.pop(0)
        found += [(c.name, c.path.text, c.type) for c in sel.columns if c.type in DATE_TYPES]
        todo += list(sel.selects) + list(sel.union_all)
    return found


def checked_tables() -> list[StageTable]:
    """The stage tables whose rows are checked (and set aside) as a whole: those read more than once."""
    return [t for t in STAGE_TABLES if not t.read_once and date_columns(t)]
