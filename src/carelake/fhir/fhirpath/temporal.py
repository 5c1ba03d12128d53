"""System.Date, System.DateTime and System.Time with partial precision.

FHIRPath compares temporal values component by component and answers "unknown" (empty) when
the values agree up to the coarser precision, so the values keep which parts were given.
Seconds and milliseconds count as one precision level, as the spec requires.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = [
    "Date",
    "DateTime",
    "Time",
    "compare_temporal",
    "parse_date",
    "parse_datetime",
    "parse_time",
]

_TIME_RE = r"(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
_TZ_RE = r"(Z|[+-]\d{2}:\d{2})?"
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DATETIME_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T(?:" + _TIME_RE + _TZ_RE + r")?)?")
_TIME_FULL_RE = re.compile(_TIME_RE)


def _ms(fraction: str | None) -> int | None:
    if fraction is None:
        return None
    return int((fraction + "000")[:3])


def _tz_minutes(text: str | None) -> int | None:
    if not text:
        return None
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 60 + int(text[4:6]))


def _tz_text(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _valid_date(year: int, month: int | None, day: int | None) -> bool:
    if month is not None and not 1 <= month <= 12:
        return False
    return day is None or (month is not None and 1 <= day <= calendar.monthrange(year, month)[1])


def _valid_time(hour: int | None, minute: int | None, second: int | None) -> bool:
    return (
        (hour is None or 0 <= hour <= 23)
        and (minute is None or 0 <= minute <= 59)
        and (second is None or 0 <= second <= 59)
    )


def _opt(text: str | None) -> int | None:
    return None if text is None else int(text)


@dataclass(frozen=True, slots=True)
class Date:
    """A date with year, month or day precision."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self) -> int:
        """Number of components given (1..3)."""
        return 1 if self.month is None else 2 if self.day is None else 3

    def components(self) -> list[int]:
        return [c for c in (self.year, self.month, self.day) if c is not None]

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text

    def to_datetime(self) -> DateTime:
        return DateTime(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class DateTime:
    """A date-time with any precision from year to millisecond and an optional offset."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None
    tz: int | None = None  # offset in minutes; None when the value has no zone

    @property
    def precision(self) -> int:
        """Number of components given (1..7; milliseconds is 7)."""
        parts = (self.month, self.day, self.hour, self.minute, self.second, self.millisecond)
        return 1 + sum(1 for p in parts if p is not None)

    def components(self) -> list[int]:
        """Comparable components; seconds and milliseconds merge into one."""
        parts = [self.year, self.month, self.day, self.hour, self.minute]
        out = [p for p in parts if p is not None]
        if self.second is not None:
            out.append(self.second * 1000 + (self.millisecond or 0))
        return out

    def __str__(self) -> str:
        text = str(Date(self.year, self.month, self.day))
        if self.hour is None:
            return text
        text += f"T{self.hour:02d}"
        if self.minute is not None:
            text += f":{self.minute:02d}"
            if self.second is not None:
                text += f":{self.second:02d}"
                if self.millisecond is not None:
                    text += f".{self.millisecond:03d}"
        if self.tz is not None:
            text += _tz_text(self.tz)
        return text

    def to_python(self) -> _dt.datetime:
        """A full Python datetime, missing parts filled with their least value."""
        zone = None if self.tz is None else _dt.timezone(_dt.timedelta(minutes=self.tz))
        return _dt.datetime(
            self.year,
            self.month or 1,
            self.day or 1,
            self.hour or 0,
            self.minute or 0,
            self.second or 0,
            (self.millisecond or 0) * 1000,
            tzinfo=zone,
        )

    def with_python(self, value: _dt.datetime) -> DateTime:
        """The same precision and zone, with the components taken from ``value``."""
        return DateTime(
            value.year,
            value.month if self.month is not None else None,
            value.day if self.day is not None else None,
            value.hour if self.hour is not None else None,
            value.minute if self.minute is not None else None,
            value.second if self.second is not None else None,
            value.microsecond // 1000 if self.millisecond is not None else None,
            self.tz,
        )

    def to_utc(self) -> DateTime:
        if not self.tz or self.hour is None:
            return self
        shifted = self.to_python().astimezone(_dt.UTC).replace(tzinfo=None)
        return replace(self.with_python(shifted), tz=0)


@dataclass(frozen=True, slots=True)
class Time:
    """A time of day with hour .. millisecond precision (no zone in FHIRPath)."""

    hour: int
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None

    @property
    def precision(self) -> int:
        return 1 + sum(1 for p in (self.minute, self.second, self.millisecond) if p is not None)

    def components(self) -> list[int]:
        out = [p for p in (self.hour, self.minute) if p is not None]
        if self.second is not None:
            out.append(self.second * 1000 + (self.millisecond or 0))
        return out

    def __str__(self) -> str:
        text = f"{self.hour:02d}"
        if self.minute is not None:
            text += f":{self.minute:02d}"
            if self.second is not None:
                text += f":{self.second:02d}"
                if self.millisecond is not None:
                    text += f".{self.millisecond:03d}"
        return text


Temporal = Date | DateTime | Time


@lru_cache(maxsize=8192)
def parse_date(text: str) -> Date | None:
    """A Date from ISO text (``YYYY[-MM[-DD]]``), or None (cached: resources repeat dates)."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), _opt(m.group(2)), _opt(m.group(3))
    return Date(year, month, day) if _valid_date(year, month, day) else None


@lru_cache(maxsize=8192)
def parse_datetime(text: str) -> DateTime | None:
    """A DateTime from ISO text (partial allowed; a trailing ``T`` as in ``@2015T`` too), or None."""
    m = _DATETIME_RE.fullmatch(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), _opt(m.group(2)), _opt(m.group(3))
    hour, minute, second = _opt(m.group(4)), _opt(m.group(5)), _opt(m.group(6))
    if hour is not None and day is None:
        return None
    if not _valid_date(year, month, day) or not _valid_time(hour, minute, second):
        return None
    return DateTime(year, month, day, hour, minute, second, _ms(m.group(7)), _tz_minutes(m.group(8)))


@lru_cache(maxsize=8192)
def parse_time(text: str) -> Time | None:
    """A Time from ``hh[:mm[:ss[.fff]]]`` (a leading ``T`` is accepted), or None."""
    m = _TIME_FULL_RE.fullmatch(text[1:] if text.startswith("T") else text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), _opt(m.group(2)), _opt(m.group(3))
    if not _valid_time(hour, minute, second):
        return None
    return Time(hour, minute, second, _ms(m.group(4)))


def compare_temporal(left: Temporal, right: Temporal) -> int | None:
    """-1/0/1, or None when precision (or zone knowledge) does not allow an answer.

    Raises TypeError when a Time is compared with a Date/DateTime.
    """
    if isinstance(left, Time) != isinstance(right, Time):
        raise TypeError("cannot compare a time with a date")
    if isinstance(left, Date) and isinstance(right, DateTime):
        left = left.to_datetime()
    elif isinstance(left, DateTime) and isinstance(right, Date):
        right = right.to_datetime()
    if isinstance(left, DateTime) and isinstance(right, DateTime) and left.hour is not None and right.hour is not None:
        if (left.tz is None) != (right.tz is None):
            return None
        if left.tz != right.tz:
            left, right = left.to_utc(), right.to_utc()
    a, b = left.components(), right.components()
    for x, y in zip(a, b, strict=False):
        if x != y:
            return -1 if x < y else 1
    return 0 if len(a) == len(b) else None


def temporal_equivalent(left: Temporal, right: Temporal) -> bool:
    """Equivalence: different precision means not equivalent."""
    try:
        result = compare_temporal(left, right)
    except TypeError:
        return False
    return result == 0
