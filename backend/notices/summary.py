"""What the dashboard's live feed shows of an incident, carried inside the incident's notice.

With it, an open Overview draws a new or changed incident from the stream alone: twenty wall
screens no longer each ask the server for the same rows after every notice. The summary holds
only what the feed shows to anyone allowed to read the incident (the hub sends an incident's
notice only to them): no reporter, no sensitivity, the description cut as the feed cuts it. The
dashboard's server-side read of the feed (`dashboard.data.latest_incidents`) returns rows of this
same shape, so the page merges the two without translating.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SUMMARY_TOPIC = "incident"
DESCRIPTION_CHARS = 120  # what a feed line shows of the description
# The feed's order (newest received first) compares these strings, so one fixed format, in UTC.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
FIELDS = (
    "id",
    "received_at",
    "occurred_at",
    "category",
    "finding",
    "location_name",
    "admin1",
    "fatalities",
    "alleged_party_id",
    "target_party_id",
    "description",
)


def feed_time(value: datetime) -> str:
    """A time as the feed writes it: TIME_FORMAT, in UTC (a naive time is taken as UTC)."""
    utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return utc.isoformat(timespec="microseconds") + "Z"  # TIME_FORMAT, without strftime's cost


_AS_IS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """A JSON-ready value: enums by their value, ids as text, times in TIME_FORMAT (UTC)."""
    if type(value) in _AS_IS:  # most values: one lookup
        return value
    if isinstance(value, datetime):
        return feed_time(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return getattr(value, "value", value)


def incident_summary(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The feed's summary of an incident from its column values (a row, or an ORM object's
    loaded attributes); None when a field is not at hand (the page then re-reads the feed)."""
    if any(name not in values for name in FIELDS):
        return None
    summary = {name: _plain(values[name]) for name in FIELDS}
    summary["location_name"] = summary["location_name"] or ""
    summary["admin1"] = summary["admin1"] or ""
    summary["description"] = (summary["description"] or "")[:DESCRIPTION_CHARS]
    return summary
