"""Verification events: the steps that verify an incident or a DDR milestone.

Two separate axes, as CTSAMVM keeps them: the workflow (`received` -> `in_review` -> `closed`, or
`rejected`, `duplicate`) and the finding (`unverified`, `verified`, `disputed`, `refuted`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import InputModel, Text, UtcDatetime
from backend.vocab import Finding, VerificationMethod, WorkflowStatus


class VerificationBase(SQLModel):
    occurred_at: datetime = Field(sa_type=UTCDateTime, description="When the step took place")
    method: VerificationMethod = Field(sa_type=enum_type(VerificationMethod))
    team: str = Field(default="", max_length=200, description="Who verified, e.g. `JVT Sector 2`")
    status: WorkflowStatus = Field(
        sa_type=enum_type(WorkflowStatus), description="Workflow state after this step"
    )
    finding: Finding = Field(sa_type=enum_type(Finding), description="Finding after this step")
    attributed_party_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="party.id",
        description="Party the violation is attributable to; only with a `verified` or `disputed` "
        "finding. Null means it could not be attributed.",
    )
    notes: str = Field(default="", max_length=10_000, sa_type=sa.Text)


class VerificationEvent(VerificationBase, table=True):
    __tablename__ = "verification_event"
    __table_args__ = (
        sa.CheckConstraint(
            "(incident_id IS NULL) <> (ddr_milestone_id IS NULL)", name="one_subject"
        ),
        sa.Index("ix_verification_event_incident_id", "incident_id", "occurred_at"),
        sa.Index("ix_verification_event_ddr_milestone_id", "ddr_milestone_id", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    incident_id: uuid.UUID | None = Field(default=None, foreign_key="incident.id")
    ddr_milestone_id: uuid.UUID | None = Field(default=None, foreign_key="ddr_milestone.id")
    recorded_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VerificationCreate(VerificationBase, InputModel):
    id: uuid.UUID | None = Field(default=None, description="Set on the device to make retries safe")
    occurred_at: UtcDatetime
    team: Text = Field(default="", max_length=200)
    notes: Text = Field(default="", max_length=10_000)


class VerificationPublic(VerificationBase):
    id: uuid.UUID
    incident_id: uuid.UUID | None
    ddr_milestone_id: uuid.UUID | None
    recorded_by: str
    created_at: datetime
