"""Ceasefire incidents. `status`, `finding` and the attribution come from verification events."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import InputModel, Text, UtcDatetime
from backend.vocab import (
    DatePrecision,
    Finding,
    GeoPrecision,
    IncidentCategory,
    Sensitivity,
    SourceType,
    WorkflowStatus,
)


class IncidentBase(SQLModel):
    occurred_at: datetime = Field(
        sa_type=UTCDateTime, description="When it happened, ISO 8601 with offset"
    )
    date_precision: DatePrecision = Field(
        default=DatePrecision.day, sa_type=enum_type(DatePrecision)
    )
    category: IncidentCategory = Field(sa_type=enum_type(IncidentCategory))
    latitude: float = Field(ge=-90, le=90, description="WGS 84 degrees")
    longitude: float = Field(ge=-180, le=180, description="WGS 84 degrees")
    geo_precision: GeoPrecision = Field(default=GeoPrecision.exact, sa_type=enum_type(GeoPrecision))
    location_name: str | None = Field(default=None, max_length=200)
    admin1: str | None = Field(default=None, max_length=100, description="Province / state")
    admin2: str | None = Field(default=None, max_length=100, description="District / county")
    alleged_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    target_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    fatalities: int = Field(default=0, ge=0, le=100_000)
    injuries: int = Field(default=0, ge=0, le=100_000)
    source_type: SourceType = Field(sa_type=enum_type(SourceType))
    description: str = Field(default="", max_length=10_000, sa_type=sa.Text)
    sensitivity: Sensitivity = Field(
        default=Sensitivity.restricted,
        sa_type=enum_type(Sensitivity),
        description="Who may read it: reporters see `public` ones and their own",
    )
    reported_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="When the team reported it (device time)"
    )


class Incident(IncidentBase, table=True):
    __tablename__ = "incident"
    __table_args__ = (
        sa.Index("ix_incident_occurred_at_id", "occurred_at", "id"),
        # The live feed, newest received first, walks it backwards (dashboard/data.py).
        sa.Index("ix_incident_received_at_id", "received_at", "id"),
        sa.Index("ix_incident_admin1", "admin1"),
        sa.Index("ix_incident_alleged_party_id", "alleged_party_id"),
        sa.Index("ix_incident_target_party_id", "target_party_id"),
        sa.Index("ix_incident_reported_by", "reported_by"),
        # One incident per event of an imported dataset (external_id first: batch lookups are
        # `external_id IN (...)`); field reports leave both empty.
        sa.UniqueConstraint("external_id", "source_dataset", name="uq_incident_external_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    status: WorkflowStatus = Field(
        default=WorkflowStatus.received, sa_type=enum_type(WorkflowStatus)
    )
    finding: Finding = Field(default=Finding.unverified, sa_type=enum_type(Finding))
    attributed_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    # The latest verification step's time, method and team, beside its status and finding above
    # (derive_state writes all of them), so an export reads no verification event (0007).
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verification_method: str | None = Field(default=None, max_length=32)
    verification_team: str | None = Field(default=None, max_length=200)
    reported_by: str = Field(max_length=100, description="Name of the token that reported it")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Provenance of an imported event (backend/imports); set by the importer, never by a client.
    source_dataset: str | None = Field(default=None, max_length=20)
    external_id: str | None = Field(default=None, max_length=100)
    source_name: str | None = Field(default=None, sa_type=sa.Text)
    source_category: str | None = Field(default=None, max_length=200)
    alleged_actor_name: str | None = Field(default=None, max_length=300)
    target_actor_name: str | None = Field(default=None, max_length=300)
    fatalities_low: int | None = None
    fatalities_high: int | None = None
    source_timestamp: int | None = Field(default=None, sa_type=sa.BigInteger)
    source_hash: str | None = Field(default=None, max_length=64)


class IncidentCreate(IncidentBase, InputModel):
    id: uuid.UUID | None = Field(default=None, description="Set on the device to make retries safe")
    occurred_at: UtcDatetime = Field(description="When it happened, ISO 8601 with offset")
    reported_at: UtcDatetime | None = None
    location_name: Text | None = Field(default=None, max_length=200)
    admin1: Text | None = Field(default=None, max_length=100)
    admin2: Text | None = Field(default=None, max_length=100)
    description: Text = Field(default="", max_length=10_000)


class IncidentUpdate(InputModel):
    occurred_at: UtcDatetime | None = None
    date_precision: DatePrecision | None = None
    category: IncidentCategory | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    geo_precision: GeoPrecision | None = None
    location_name: Text | None = Field(default=None, max_length=200)
    admin1: Text | None = Field(default=None, max_length=100)
    admin2: Text | None = Field(default=None, max_length=100)
    alleged_party_id: uuid.UUID | None = None
    target_party_id: uuid.UUID | None = None
    fatalities: int | None = Field(default=None, ge=0, le=100_000)
    injuries: int | None = Field(default=None, ge=0, le=100_000)
    source_type: SourceType | None = None
    description: Text | None = Field(default=None, max_length=10_000)
    sensitivity: Sensitivity | None = None


class IncidentPublic(IncidentBase):
    id: uuid.UUID
    status: WorkflowStatus
    finding: Finding
    attributed_party_id: uuid.UUID | None
    reported_by: str
    received_at: datetime
    updated_at: datetime
    source_dataset: str | None = Field(default=None, description="`acled`, `ucdp_ged`: imported")
    external_id: str | None = Field(default=None, description="The event's id in its dataset")
    source_name: str | None = Field(default=None, description="Who reported it, per the dataset")
    source_category: str | None = Field(default=None, description="The dataset's own event type")
    alleged_actor_name: str | None = None
    target_actor_name: str | None = None
    fatalities_low: int | None = None
    fatalities_high: int | None = None
