"""Agreements and their commitments, with implementation on the Peace Accords Matrix scale.

A commitment's `level` is derived from its dated, evidenced level changes; nobody types it in.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import FieldValueError, InputModel, NonBlank, Text
from backend.vocab import AgreementKind, CommitmentCategory, ImplementationLevel


class AgreementParty(SQLModel, table=True):
    __tablename__ = "agreement_party"

    agreement_id: uuid.UUID = Field(
        foreign_key="agreement.id", primary_key=True, ondelete="CASCADE"
    )
    party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True, index=True)


class CommitmentParty(SQLModel, table=True):
    __tablename__ = "commitment_party"

    commitment_id: uuid.UUID = Field(
        foreign_key="commitment.id", primary_key=True, ondelete="CASCADE"
    )
    party_id: uuid.UUID = Field(foreign_key="party.id", primary_key=True, index=True)


class AgreementBase(SQLModel):
    name: str = Field(min_length=1, max_length=300)
    kind: AgreementKind = Field(sa_type=enum_type(AgreementKind))
    signed_on: date
    summary: str = Field(default="", max_length=10_000, sa_type=sa.Text)


class Agreement(AgreementBase, table=True):
    __tablename__ = "agreement"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=300, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgreementCreate(AgreementBase, InputModel):
    name: NonBlank = Field(min_length=1, max_length=300)
    summary: Text = Field(default="", max_length=10_000)
    party_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description="Signatories")


class AgreementUpdate(InputModel):
    name: NonBlank | None = Field(default=None, min_length=1, max_length=300)
    kind: AgreementKind | None = None
    signed_on: date | None = None
    summary: Text | None = Field(default=None, max_length=10_000)
    party_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)


class AgreementPublic(AgreementBase):
    id: uuid.UUID
    party_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class CommitmentBase(SQLModel):
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id")
    reference: str | None = Field(default=None, max_length=50, description="e.g. `Art. 3.2`")
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(default="", max_length=10_000, sa_type=sa.Text)
    category: CommitmentCategory = Field(sa_type=enum_type(CommitmentCategory))
    due_on: date | None = None


class Commitment(CommitmentBase, table=True):
    __tablename__ = "commitment"
    __table_args__ = (sa.Index("ix_commitment_agreement_id", "agreement_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    level: ImplementationLevel = Field(
        default=ImplementationLevel.not_initiated, sa_type=enum_type(ImplementationLevel)
    )
    level_changed_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CommitmentCreate(CommitmentBase, InputModel):
    reference: Text | None = Field(default=None, max_length=50)
    title: NonBlank = Field(min_length=1, max_length=500)
    text: Text = Field(default="", max_length=10_000)
    party_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description="Who promised")


class CommitmentUpdate(InputModel):
    reference: Text | None = Field(default=None, max_length=50)
    title: NonBlank | None = Field(default=None, min_length=1, max_length=500)
    text: Text | None = Field(default=None, max_length=10_000)
    category: CommitmentCategory | None = None
    due_on: date | None = None
    party_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)


class CommitmentPublic(CommitmentBase):
    id: uuid.UUID
    party_ids: list[uuid.UUID]
    level: ImplementationLevel
    level_changed_on: date | None
    overdue: bool
    created_at: datetime
    updated_at: datetime


class CommitmentProgressBase(SQLModel):
    level: ImplementationLevel = Field(sa_type=enum_type(ImplementationLevel))
    changed_on: date = Field(description="When implementation reached this level")
    verification_event_id: uuid.UUID | None = Field(
        default=None, foreign_key="verification_event.id"
    )
    ddr_milestone_id: uuid.UUID | None = Field(default=None, foreign_key="ddr_milestone.id")
    track_activity_id: uuid.UUID | None = Field(default=None, foreign_key="track_activity.id")
    evidence_note: str = Field(
        default="", max_length=5_000, description="What shows it (a document, a report)"
    )


class CommitmentProgress(CommitmentProgressBase, table=True):
    """One dated, evidenced change of a commitment's implementation level."""

    __tablename__ = "commitment_progress"
    __table_args__ = (sa.Index("ix_commitment_progress_commitment", "commitment_id", "changed_on"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    commitment_id: uuid.UUID = Field(foreign_key="commitment.id")
    recorded_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CommitmentProgressCreate(CommitmentProgressBase, InputModel):
    evidence_note: Text = Field(default="", max_length=5_000)

    @model_validator(mode="after")
    def _evidence(self) -> CommitmentProgressCreate:
        linked = [self.verification_event_id, self.ddr_milestone_id, self.track_activity_id]
        if not any(linked) and not self.evidence_note:
            raise FieldValueError(
                "a change of level needs evidence: verification_event_id, ddr_milestone_id, "
                "track_activity_id or evidence_note",
                field="evidence_note",
            )
        return self


class CommitmentProgressPublic(CommitmentProgressBase):
    id: uuid.UUID
    commitment_id: uuid.UUID
    recorded_by: str
    created_at: datetime
