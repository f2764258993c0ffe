"""The filters an export takes: the API's filters (time window, region, party, category, finding),
one set for every kind. A filter that does not apply to a kind is refused rather than ignored, so
an export never silently holds more than was asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.errors import InvalidInput
from backend.incidents.filters import parse_bbox
from backend.schemas import IsoDate, UtcDatetime
from backend.vocab import Finding, WorkflowStatus


class ExportFilters(BaseModel):
    """Query parameters of `GET /api/v1/exports/{kind}.{format}` (unknown ones are refused)."""

    model_config = ConfigDict(extra="forbid")

    occurred_from: UtcDatetime | None = Field(
        default=None, description="Inclusive, ISO 8601 with offset (as `GET /incidents`)"
    )
    occurred_to: UtcDatetime | None = Field(default=None, description="Exclusive, ISO 8601")
    date_from: IsoDate | None = Field(
        default=None, description="First day, UTC, inclusive (as the measures)"
    )
    date_to: IsoDate | None = Field(default=None, description="Last day, UTC, inclusive")
    region: str | None = Field(default=None, max_length=100, description="`admin1` of incidents")
    admin1: str | None = Field(default=None, max_length=100, description="Same as `region`")
    party_id: uuid.UUID | None = Field(default=None, description="A party the record concerns")
    category: list[str] = Field(
        default_factory=list, description="Incident category, or commitment category"
    )
    finding: list[Finding] = Field(default_factory=list)
    status: list[WorkflowStatus] = Field(default_factory=list)
    bbox: str | None = Field(
        default=None, max_length=200, description="min_lon,min_lat,max_lon,max_lat (incidents)"
    )

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: str | None) -> str | None:
        if value is not None:
            parse_bbox(value)
        return value

    @property
    def area(self) -> str | None:
        if self.region and self.admin1 and self.region != self.admin1:
            raise InvalidInput("region and admin1 name different regions", field="admin1")
        return self.region or self.admin1

    def window(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC: the tighter of occurred_from/_to and date_from/_to."""
        starts = [self.occurred_from]
        ends = [self.occurred_to]
        if self.date_from is not None:
            starts.append(datetime.combine(self.date_from, time(), tzinfo=UTC))
        if self.date_to is not None:
            ends.append(datetime.combine(self.date_to + timedelta(days=1), time(), tzinfo=UTC))
        start = max((s for s in starts if s is not None), default=None)
        end = min((e for e in ends if e is not None), default=None)
        if start is not None and end is not None and start >= end:
            raise InvalidInput(
                "the time window is empty: its start is not before its end",
                field="date_from" if self.date_from else "occurred_from",
            )
        return start, end

    def day_window(self) -> tuple[date | None, date | None]:
        """The window as whole days [first, last], for records dated by day."""
        start, end = self.window()
        first = start.date() if start else None
        last = (end - timedelta(microseconds=1)).date() if end else None
        return first, last

    def used(self) -> dict[str, Any]:
        """The filters given, as the audit trail and the file's notes record them."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def refuse(self, kind: str, names: tuple[str, ...]) -> None:
        """A 422 naming the first filter of `names` that was given (it does not apply)."""
        given = self.model_fields_set
        for name in names:
            if name in given and getattr(self, name) not in (None, []):
                raise InvalidInput(
                    f"{name} does not apply to {kind} exports; leave it out", field=name
                )
