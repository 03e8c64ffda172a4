"""Working-time arithmetic for deadlines and message-sending windows.

Pure standard library on purpose: the deadline engine calls it for every clock
tick, and tests can check it with hand-computed dates without a database.

Every datetime going in must be timezone-aware; every datetime coming out is in
UTC. Day-by-day reasoning happens in the local wall time of a zone, so working
hours and quiet hours stay right across DST changes; all arithmetic between
instants happens in UTC, because Python subtracts and compares two datetimes
that share a tzinfo object by wall clock, which is wrong across a DST change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

__all__ = ["DailyWindow", "WorkCalendar"]

UTC = timezone.utc

# add() gives up after this many local days; a real calendar always has a
# working day much sooner, so hitting it means the configuration is broken.
_SEARCH_DAYS = 5 * 366 + 7

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _as_utc(moment: datetime, what: str = "datetime") -> datetime:
    """Convert to UTC, refusing naive datetimes: their meaning depends on the host."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC)


def _local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz`."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class DailyWindow:
    """A time-of-day window in local time, e.g. 08:00-22:00; may cross midnight (21:00-08:00).

    The start is inclusive and the end exclusive, so 08:00-22:00 and
    22:00-08:00 split the day without overlap.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("DailyWindow times are wall-clock times and must not carry a tzinfo")
        if self.start == self.end:
            raise ValueError(f"daily window {self} is empty: start and end are both {self.start:%H:%M}")

    @classmethod
    def parse(cls, text: str) -> "DailyWindow":
        """Read "HH:MM-HH:MM" as written in policy files."""
        match = _WINDOW_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"daily window {text!r} is not in the form HH:MM-HH:MM, e.g. 08:00-22:00")
        sh, sm, eh, em = (int(g) for g in match.groups())
        for hours, minutes in ((sh, sm), (eh, em)):
            if not (0 <= hours <= 23 and 0 <= minutes <= 59):
                raise ValueError(f"daily window {text!r} has an impossible time {hours:02d}:{minutes:02d}")
        start, end = time(sh, sm), time(eh, em)
        if start == end:
            raise ValueError(f"daily window {text!r} is empty: start and end are the same time")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def _contains_wall(self, wall: time) -> bool:
        if self.crosses_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end

    def contains(self, moment: datetime, tz: tzinfo) -> bool:
        """Whether `moment` falls inside the window in the local time of `tz`."""
        local = _as_utc(moment, "moment").astimezone(tz)
        return self._contains_wall(local.time())

    def next_inside(self, moment: datetime, tz: tzinfo) -> datetime:
        """The earliest instant >= `moment` that is inside the window, in UTC.

        That is `moment` itself when already inside, else the next local start.
        """
        moment_utc = _as_utc(moment, "moment")
        if self.contains(moment_utc, tz):
            return moment_utc
        day = moment_utc.astimezone(tz).date()
        # Outside the window the next start is today's or tomorrow's; the extra
        # day only guards against odd DST transitions around the start time.
        for offset in range(3):
            candidate = _local_instant(day + timedelta(days=offset), self.start, tz)
            if candidate >= moment_utc:
                return candidate
        raise AssertionError("unreachable: a daily window starts at least once every day")  # pragma: no cover


@dataclass(frozen=True)
class WorkCalendar:
    """Which instants count towards a deadline.

    continuous(): every instant counts (the default policy).
    working(tz, hours, weekdays, holidays, extra_workdays): only the `hours`
    window on weekdays (Mon=0..Sun=6) that are not holidays counts;
    extra_workdays are worked even when their weekday is not in `weekdays`
    (Chinese make-up working days).

    Build it with the two class methods rather than directly.
    """

    tz: tzinfo | None = None
    hours: DailyWindow | None = None
    weekdays: frozenset[int] = field(default_factory=frozenset)
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.tz is None:
            if self.hours is not None or self.weekdays or self.holidays or self.extra_workdays:
                raise ValueError("a continuous calendar takes no timezone, hours, weekdays or days")
            return
        if self.hours is None:
            raise ValueError("a working calendar needs working hours")
        if self.hours.crosses_midnight:
            raise ValueError(f"working hours {self.hours} must not cross midnight")
        bad = sorted(d for d in self.weekdays if not isinstance(d, int) or not 0 <= d <= 6)
        if bad:
            raise ValueError(f"weekdays must be 0 (Monday) .. 6 (Sunday), got {bad}")
        both = self.holidays & self.extra_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates cannot be both holidays and extra workdays: {listed}")

    @classmethod
    def continuous(cls) -> "WorkCalendar":
        """Every instant counts: deadlines are plain elapsed time."""
        return cls()

    @classmethod
    def working(
        cls,
        tz: tzinfo,
        hours: DailyWindow,
        weekdays: frozenset[int],
        holidays: frozenset[date],
        extra_workdays: frozenset[date] = frozenset(),
    ) -> "WorkCalendar":
        """Only working hours on working days count."""
        if tz is None:
            raise ValueError("a working calendar needs a timezone")
        return cls(tz, hours, frozenset(weekdays), frozenset(holidays), frozenset(extra_workdays))

    @property
    def is_continuous(self) -> bool:
        return self.tz is None

    def _is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays or day in self.extra_workdays

    def _day_window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC [open, close) of `day`'s working hours, or None if nothing is worked."""
        if not self._is_workday(day):
            return None
        opens = _local_instant(day, self.hours.start, self.tz)
        closes = _local_instant(day, self.hours.end, self.tz)
        if closes <= opens:  # only possible if DST swallows the whole window
            return None
        return opens, closes

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Counted time in [a, b); zero if b <= a."""
        a, b = _as_utc(a, "a"), _as_utc(b, "b")
        if b <= a:
            return timedelta(0)
        if self.is_continuous:
            return b - a
        total = timedelta(0)
        # Hours never cross midnight, so day d's window lies within local day d:
        # the days from a's local date to b's local date cover everything.
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            window = self._day_window(day)
            if window is not None:
                lo, hi = max(window[0], a), min(window[1], b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant t >= start with between(start, t) == duration.

        A start outside working time counts from the next opening; a duration
        used up exactly at closing time returns that closing instant, not the
        next morning. Raises ValueError when no working time can be found.
        """
        start = _as_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if duration == timedelta(0):
            return start
        if self.is_continuous:
            return start + duration
        day = start.astimezone(self.tz).date()
        if not self.weekdays and not any(extra >= day for extra in self.extra_workdays):
            raise ValueError("the working calendar has no working days, so no deadline can be reached")
        remaining = duration
        for _ in range(_SEARCH_DAYS):
            window = self._day_window(day)
            if window is not None:
                opens, closes = window
                begin = max(opens, start)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError(
            f"adding {duration} of working time from {start.isoformat()} needs more than "
            f"{_SEARCH_DAYS} days; check the working days and holidays"
        )
