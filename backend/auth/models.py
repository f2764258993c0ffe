"""API tokens: random secrets shown once and stored only as a hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, enum_type, utcnow
from backend.schemas import InputModel, UtcDatetime
from backend.vocab import Role


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: Role = Field(sa_type=enum_type(Role))
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenPublic(SQLModel):
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreate(InputModel):
    name: str = Field(min_length=1, max_length=100, regex=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role
    expires_at: UtcDatetime | None = None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only its hash is kept.")
