"""Business hours: is a tenant open now, and when is a target reached counting only open time.

The weekly schedule is wall-clock time in the tenant's time zone, so 09:00 stays 09:00 across
daylight-saving changes. Durations are measured in UTC (a wall-clock difference across a DST
change is an hour off): every interval is turned into aware UTC instants before any arithmetic.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# How far ahead a deadline is searched for; a schedule with no opening at all never reaches one.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class Schedule:
    """A tenant's hours, loaded once: `weekly[weekday]` is a list of (opens, closes) local times."""

    time_zone: str
    enabled: bool
    weekly: dict[int, list[tuple[time, time]]]
    holidays: frozenset[date]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of a local date, as UTC instants."""
        if day in self.holidays:
            return []
        zone = self.zone
        result = []
        for opens, closes in self.weekly.get(day.weekday(), []):
            start = datetime.combine(day, opens, tzinfo=zone)
            # 00:00 as the closing time means the end of the day.
            end_day = day + timedelta(days=1) if closes == time(0) else day
            end = datetime.combine(end_day, closes, tzinfo=zone)
            start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
            if end_utc > start_utc:
                result.append((start_utc, end_utc))
        return sorted(result)

    def is_open(self, at: datetime) -> bool:
        if not self.enabled:
            return True
        local_day = at.astimezone(self.zone).date()
        # An interval of the day before may run past midnight (closes 00:00).
        for day in (local_day - timedelta(days=1), local_day):
            for start, end in self.intervals_on(day):
                if start <= at < end:
                    return True
        return False

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime | None:
        """The instant when `seconds` of open time have passed since `start`; None if never (no hours)."""
        if not self.enabled:
            return start + timedelta(seconds=seconds)
        remaining = timedelta(seconds=seconds)
        local_day = start.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(SEARCH_DAYS):
            for opens, closes in self.intervals_on(local_day + timedelta(days=offset)):
                if closes <= start:
                    continue
                begin = max(opens, start)
                available = closes - begin
                if available >= remaining:
                    return begin + remaining
                remaining -= available
        return None

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Open time between two instants (for reports and the dashboard's countdown)."""
        if end <= start:
            return 0.0
        if not self.enabled:
            return (end - start).total_seconds()
        total = timedelta()
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            for opens, closes in self.intervals_on(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds()
