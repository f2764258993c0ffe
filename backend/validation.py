"""Rules on values that need the clock or the settings, shared by every domain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.errors import InvalidInput

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def check_past_time(value: datetime | None, *, field: str, now: datetime, skew_s: int) -> None:
    """A field report's time: not before 1900 and not in the future (allowing device clock skew)."""
    if value is None:
        return
    if value < EARLIEST:
        raise InvalidInput(f"{field} must not be before 1900-01-01", field=field)
    if value > now + timedelta(seconds=skew_s):
        raise InvalidInput(
            f"{field} is in the future ({value.isoformat()}, server time {now.isoformat()}); "
            "check the device clock and the UTC offset",
            field=field,
        )


def check_past_date(value: date | None, *, field: str, today: date) -> None:
    if value is None:
        return
    if value < EARLIEST.date():
        raise InvalidInput(f"{field} must not be before 1900-01-01", field=field)
    if value > today + timedelta(days=1):  # a day of slack for time zones east of UTC
        raise InvalidInput(f"{field} is in the future ({value.isoformat()})", field=field)
