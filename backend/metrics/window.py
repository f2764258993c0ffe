"""The filters every measure takes (time window, region, party) and the window it states back."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from backend.config import Settings
from backend.errors import InvalidInput
from backend.schemas import IsoDate


class Interval(StrEnum):
    day = "day"
    week = "week"  # ISO weeks, labelled by their Monday
    month = "month"  # labelled by their first day


class MetricFilters(BaseModel):
    """Query parameters shared by every `/api/v1/metrics/...` route and `/api/v1/alerts`."""

    model_config = ConfigDict(extra="forbid")

    date_from: IsoDate | None = Field(
        default=None, description="First day of the window (UTC, inclusive); default: date_to - 89"
    )
    date_to: IsoDate | None = Field(
        default=None, description="Last day of the window (UTC, inclusive); default: today"
    )
    region: str | None = Field(
        default=None, max_length=100, description="Only incidents of this region (`admin1`)"
    )
    party_id: uuid.UUID | None = Field(default=None, description="Only this party's records")
    interval: Interval = Field(default=Interval.day, description="Step of the series")


class WindowPublic(BaseModel):
    """The window a measure used, stated with every answer."""

    date_from: date
    date_to: date
    days: int
    region: str | None
    party_id: uuid.UUID | None
    interval: Interval
    incidents_counted: str = Field(
        description="`all` incidents, or only those `visible_to_caller` (reporters and viewers "
        "count only the incidents they may read)"
    )


@dataclass(frozen=True, slots=True)
class Window:
    date_from: date
    date_to: date
    region: str | None = None
    party_id: uuid.UUID | None = None
    interval: Interval = Interval.day

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def start_at(self) -> datetime:
        """The first instant of the window (UTC)."""
        return datetime.combine(self.date_from, time(), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the window (UTC), exclusive."""
        return datetime.combine(self.date_to + timedelta(days=1), time(), tzinfo=UTC)

    def shifted(self, days: int) -> Window:
        """The same window `days` earlier."""
        delta = timedelta(days=days)
        return Window(
            self.date_from - delta, self.date_to - delta, self.region, self.party_id, self.interval
        )

    def public(self, *, all_incidents: bool) -> WindowPublic:
        return WindowPublic(
            date_from=self.date_from,
            date_to=self.date_to,
            days=self.days,
            region=self.region,
            party_id=self.party_id,
            interval=self.interval,
            incidents_counted="all" if all_incidents else "visible_to_caller",
        )


def resolve_window(filters: MetricFilters, settings: Settings, today: date) -> Window:
    """The window of `filters`, defaults filled in; a 422 naming the parameter if it is wrong."""
    date_to = filters.date_to or today
    if filters.date_from is None:
        date_from = date_to - timedelta(days=settings.metrics_default_window_days - 1)
    else:
        date_from = filters.date_from
    if date_from > date_to:
        raise InvalidInput(
            f"date_from {date_from.isoformat()} is after date_to {date_to.isoformat()}",
            field="date_from",
        )
    if (date_to - date_from).days + 1 > settings.metrics_max_window_days:
        raise InvalidInput(
            f"the window may span at most {settings.metrics_max_window_days} days; "
            "narrow date_from..date_to",
            field="date_from",
        )
    return Window(date_from, date_to, filters.region, filters.party_id, filters.interval)


def bucket_of(day: date, interval: Interval) -> date:
    """The first day of the series step that `day` falls in."""
    if interval is Interval.week:
        return day - timedelta(days=day.weekday())
    if interval is Interval.month:
        return day.replace(day=1)
    return day


def bucket_starts(window: Window) -> list[date]:
    """Every step of the window's series, in order (the first may start before the window)."""
    starts = [bucket_of(window.date_from, window.interval)]
    while True:
        after = _next_step(starts[-1], window.interval)
        if after > window.date_to:
            return starts
        starts.append(after)


def _next_step(start: date, interval: Interval) -> date:
    """The first day of the step after the one that begins on `start`."""
    if interval is Interval.month:
        return month_end(start) + timedelta(days=1)
    return start + timedelta(days=7 if interval is Interval.week else 1)


def bucket_ends(window: Window) -> list[date]:
    """The last day of each step, clipped to the window: where a state is read for the series."""
    starts = bucket_starts(window)
    ends = [s - timedelta(days=1) for s in starts[1:]] + [window.date_to]
    return ends


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a sum over days, read from a rollup tier: `sign` x the sum over `lo`..`hi`,
    either whole months (`months`: `lo` and `hi` are first days of months) or days."""

    sign: int
    months: bool
    lo: date
    hi: date


@functools.lru_cache(maxsize=8192)
def month_terms(date_from: date, date_to: date) -> tuple[Term, ...]:
    """`date_from`..`date_to` as whole months of the month tier plus days of the day tier.

    The one place that decides which tier a sum over days reads (migration 0009). Whole months
    come from the month tier. A month the range only partly covers is read as its days in the
    range, or, when the range covers more than half of it, as the whole month less the days
    outside the range, so that few day rows are read either way (a 30-day span ending on the
    31st is its month less the 1st). Cached: a series asks for the same spans per party."""
    terms: list[Term] = []
    first_whole: date | None = None
    last_whole: date | None = None
    month = month_start(date_from)
    while month <= date_to:
        end = month_end(month)
        lo, hi = max(date_from, month), min(date_to, end)
        if (lo, hi) == (month, end):
            first_whole = first_whole or month
            last_whole = month
        else:
            inside, outside = (hi - lo).days + 1, (end - month).days - (hi - lo).days
            if inside <= outside:
                terms.append(Term(1, False, lo, hi))
            else:
                terms.append(Term(1, True, month, month))
                if lo > month:
                    terms.append(Term(-1, False, month, lo - timedelta(days=1)))
                if hi < end:
                    terms.append(Term(-1, False, hi + timedelta(days=1), end))
        month = end + timedelta(days=1)
    if first_whole is not None and last_whole is not None:
        terms.append(Term(1, True, first_whole, last_whole))
    return tuple(terms)
