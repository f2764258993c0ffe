"""Parties: signatories and armed actors."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import InputModel, NonBlank, Text
from backend.vocab import PartyKind


class PartyBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=20, description="Short code, e.g. `GOV`, `LURD`")
    kind: PartyKind = Field(sa_type=enum_type(PartyKind))
    signatory: bool = Field(default=False, description="Signed the agreement being monitored")
    aliases: list[str] = Field(
        default_factory=list,
        sa_type=sa.JSON,
        description="Other names (ACLED/UCDP actor names) that map onto this party",
    )


class Party(PartyBase, table=True):
    __tablename__ = "party"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    code: str = Field(max_length=20, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartyCreate(PartyBase, InputModel):
    name: NonBlank = Field(min_length=1, max_length=200)
    code: Text = Field(min_length=1, max_length=20, regex=r"^[A-Za-z0-9_-]+$")
    aliases: list[Text] = Field(default_factory=list, max_length=100)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(a for a in value if a))


class PartyUpdate(InputModel):
    name: NonBlank | None = Field(default=None, min_length=1, max_length=200)
    code: Text | None = Field(default=None, min_length=1, max_length=20, regex=r"^[A-Za-z0-9_-]+$")
    kind: PartyKind | None = None
    signatory: bool | None = None
    aliases: list[Text] | None = Field(default=None, max_length=100)


class PartyPublic(PartyBase):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
