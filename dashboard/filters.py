"""The shared filter bar's state, kept in the URL's query string so a view can be shared.

`?days=30&region=Kessa+County&party=<uuid>` plus page-specific keys (e.g. `category`, `finding`).
Pure functions: the query string in, a `ViewFilters` out, and back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode

from backend.metrics.window import Interval, MetricFilters

WINDOWS_DAYS = (7, 30, 90, 180, 365)
DEFAULT_DAYS = 90


@dataclass(frozen=True)
class ViewFilters:
    days: int = DEFAULT_DAYS
    region: str | None = None
    party_id: uuid.UUID | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def interval(self) -> Interval:
        if self.days <= 31:
            return Interval.day
        return Interval.week if self.days <= 180 else Interval.month

    def window(self, today: date) -> tuple[date, date]:
        return today - timedelta(days=self.days - 1), today

    def metric_filters(self, today: date, cls: type[MetricFilters] = MetricFilters, **more: object):
        date_from, date_to = self.window(today)
        return cls(
            date_from=date_from,
            date_to=date_to,
            region=self.region,
            party_id=self.party_id,
            interval=self.interval,
            **more,
        )

    def previous(self, today: date, cls: type[MetricFilters] = MetricFilters, **more: object):
        """The window of the same length just before this one."""
        return self.metric_filters(today - timedelta(days=self.days), cls, **more)


def parse(query: str | Mapping[str, str] | None) -> ViewFilters:
    """Filters from a query string (`?a=b`) or the kwargs Dash passes a page's layout.
    Values that make no sense fall back to the defaults rather than fail the page."""
    if query is None:
        pairs: dict[str, str] = {}
    elif isinstance(query, str):
        pairs = dict(parse_qsl(query.lstrip("?")))
    else:
        pairs = {k: str(v) for k, v in query.items() if v is not None}
    try:
        days = int(pairs.pop("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    days = days if days in WINDOWS_DAYS else DEFAULT_DAYS
    region = pairs.pop("region", "") or None
    try:
        party_id = uuid.UUID(pairs.pop("party", "")) if pairs.get("party") else None
    except ValueError:
        party_id = None
    pairs.pop("party", None)
    return ViewFilters(days=days, region=region, party_id=party_id, extra=pairs)


def to_query(filters: ViewFilters) -> str:
    """The query string (with `?`, or empty) of `filters`; defaults are left out."""
    pairs: list[tuple[str, str]] = []
    if filters.days != DEFAULT_DAYS:
        pairs.append(("days", str(filters.days)))
    if filters.region:
        pairs.append(("region", filters.region))
    if filters.party_id:
        pairs.append(("party", str(filters.party_id)))
    pairs += sorted((k, v) for k, v in filters.extra.items() if v)
    return "?" + urlencode(pairs) if pairs else ""


def with_values(query: str | None, **values: str | int | None) -> str:
    """`query` with the given keys set (None or "" removes one)."""
    current = parse(query)
    extra = dict(current.extra)
    base = {"days": current.days, "region": current.region, "party_id": current.party_id}
    for key, value in values.items():
        if key == "days":
            base["days"] = int(value) if value else DEFAULT_DAYS
        elif key == "region":
            base["region"] = str(value) if value else None
        elif key == "party":
            base["party_id"] = uuid.UUID(str(value)) if value else None
        elif value in (None, ""):
            extra.pop(key, None)
        else:
            extra[key] = str(value)
    return to_query(ViewFilters(extra=extra, **base))  # type: ignore[arg-type]
