"""Track activities: one act of diplomacy on Track I, 1.5, II or III."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import FieldValueError, InputModel, NonBlank, Text
from backend.vocab import Track, TrackActivityKind, TrackOutcome


class TrackActivityParty(SQLModel, table=True):
    """Which parties took part in (or were invited to) an activity."""

    __tablename__ = "track_activity_party"

    track_activity_id: uuid.UUID = Field(
        foreign_key="track_activity.id", primary_key=True, ondelete="CASCADE"
    )
    party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True, index=True)


class TrackActivityBase(SQLModel):
    track: Track = Field(sa_type=enum_type(Track))
    kind: TrackActivityKind = Field(sa_type=enum_type(TrackActivityKind))
    title: str = Field(min_length=1, max_length=300)
    occurred_on: date = Field(description="Date held, or planned if postponed or cancelled")
    venue: str | None = Field(default=None, max_length=200)
    facilitator: str | None = Field(default=None, max_length=200)
    participants: int | None = Field(default=None, ge=0, le=1_000_000)
    women_participants: int | None = Field(default=None, ge=0, le=1_000_000)
    outcome: TrackOutcome = Field(sa_type=enum_type(TrackOutcome))
    summary: str = Field(default="", max_length=10_000, sa_type=sa.Text)


class TrackActivity(TrackActivityBase, table=True):
    __tablename__ = "track_activity"
    __table_args__ = (sa.Index("ix_track_activity_occurred_on_id", "occurred_on", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    reported_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _check_women(participants: int | None, women: int | None) -> None:
    if participants is not None and women is not None and women > participants:
        raise FieldValueError(
            f"women_participants ({women}) exceeds participants ({participants})",
            field="women_participants",
        )


class TrackActivityCreate(TrackActivityBase, InputModel):
    id: uuid.UUID | None = Field(default=None, description="Set on the device to make retries safe")
    title: NonBlank = Field(min_length=1, max_length=300)
    venue: Text | None = Field(default=None, max_length=200)
    facilitator: Text | None = Field(default=None, max_length=200)
    summary: Text = Field(default="", max_length=10_000)
    party_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _women(self) -> TrackActivityCreate:
        _check_women(self.participants, self.women_participants)
        return self


class TrackActivityUpdate(InputModel):
    title: NonBlank | None = Field(default=None, min_length=1, max_length=300)
    occurred_on: date | None = None
    venue: Text | None = Field(default=None, max_length=200)
    facilitator: Text | None = Field(default=None, max_length=200)
    participants: int | None = Field(default=None, ge=0, le=1_000_000)
    women_participants: int | None = Field(default=None, ge=0, le=1_000_000)
    outcome: TrackOutcome | None = None
    summary: Text | None = Field(default=None, max_length=10_000)
    party_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)


class TrackActivityPublic(TrackActivityBase):
    id: uuid.UUID
    party_ids: list[uuid.UUID]
    reported_by: str
    created_at: datetime
    updated_at: datetime
