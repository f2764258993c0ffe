"""What every source maps to: an `Event` holding the incident fields the importer owns.

The parsers here are strict about what matters (a date, coordinates, counts) and forgiving about
the rest: an unknown event type becomes `other` with the original kept, never a rejection.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.imports.reading import RowError
from backend.vocab import PartyKind

# The incident columns an import writes (and rewrites when the source row changes).
OWNED_FIELDS = (
    "occurred_at",
    "date_precision",
    "category",
    "latitude",
    "longitude",
    "geo_precision",
    "location_name",
    "admin1",
    "admin2",
    "fatalities",
    "fatalities_low",
    "fatalities_high",
    "description",
    "source_name",
    "source_category",
    "alleged_actor_name",
    "target_actor_name",
)
MAX_FATALITIES = 100_000  # the API's own bound
_LENGTHS = {
    "location_name": 200,
    "admin1": 100,
    "admin2": 100,
    "description": 10_000,
    "source_name": 2_000,
    "source_category": 200,
    "alleged_actor_name": 300,
    "target_actor_name": 300,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """An actor as the dataset names it; `kind` None means not a party (civilians, protesters)."""

    name: str
    kind: PartyKind | None


@dataclass(slots=True)
class Event:
    line: int
    external_id: str
    values: dict[str, Any]  # OWNED_FIELDS
    alleged: Actor | None
    target: Actor | None
    source_timestamp: int | None = None

    @property
    def content_hash(self) -> str:
        """A digest of what the source says, to tell a changed row from the same row again."""
        raw = json.dumps(
            [_plain(self.values[f]) for f in OWNED_FIELDS], separators=(",", ":"), default=str
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def clip(values: dict[str, Any]) -> dict[str, Any]:
    """Cut text to the column lengths (an over-long note is kept in part, not refused)."""
    for name, limit in _LENGTHS.items():
        value = values.get(name)
        if value is not None and len(value) > limit:
            values[name] = value[: limit - 1] + "…"
    return values


def text(value: str) -> str | None:
    value = value.replace("\r\n", "\n").strip()
    return value or None


def parse_float(value: str, name: str, low: float, high: float) -> float:
    if not value:
        raise RowError(f"{name} is empty")
    try:
        # "4,85" comes from spreadsheets saved in a comma-decimal locale.
        number = float(value.replace(",", ".") if value.count(",") == 1 else value)
    except ValueError:
        raise RowError(f"{name} '{value}' is not a number") from None
    if not low <= number <= high:
        raise RowError(f"{name} {value} is outside {low:g}..{high:g}")
    return number


def parse_count(value: str, name: str, *, empty: int | None = 0) -> int | None:
    if not value:
        return empty
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            raise RowError(f"{name} '{value}' is not a whole number") from None
        if not as_float.is_integer():
            raise RowError(f"{name} '{value}' is not a whole number") from None
        number = int(as_float)
    if not 0 <= number <= MAX_FATALITIES:
        raise RowError(f"{name} {number} is outside 0..{MAX_FATALITIES}")
    return number


# ACLED writes dates as 2024-11-01 now, and as 29/12/2015, 9-May-20 or 01 November 2024 before.
_DATE_FORMATS = ("%d/%m/%Y", "%d-%b-%y", "%d-%b-%Y", "%d %B %Y", "%d %b %Y", "%d-%B-%Y", "%Y/%m/%d")


def parse_date(value: str, name: str, now: datetime) -> datetime:
    """A day as midnight UTC. Also takes an ISO date with a time after it (UCDP 20.1 and later)."""
    if not value:
        raise RowError(f"{name} is empty")
    day: date | None = None
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            day = None
    if day is None:
        for fmt in _DATE_FORMATS:
            try:
                day = datetime.strptime(value, fmt).date()
                break
            except ValueError:
                continue
    if day is None:
        raise RowError(
            f"{name} '{value}' is not a date (expected e.g. 2024-11-01, 29/12/2015, "
            "9-May-20 or 01 November 2024)"
        )
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment > now:
        raise RowError(f"{name} {day.isoformat()} is in the future")
    return moment
