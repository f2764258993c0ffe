"""The idempotency keys that let a device re-send without ever making a second record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime


class IdempotencyKey(SQLModel, table=True):
    """One create a client may re-send: found again by (scope, key), answered from `response`.

    `scope` is `token:<name>` for an `Idempotency-Key` header (keys are the client's, so they are
    scoped to its token) or the record kind for an id chosen on the device (ids are global).
    The row is written with the create's answer before the record, in the same transaction, so
    a concurrent retry waits on it rather than creating a twin.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.Index("ix_idempotency_key_expires_at", "expires_at"),)

    scope: str = Field(primary_key=True, max_length=120)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64, description="sha256 of the request it answered")
    record_kind: str = Field(max_length=50)
    record_id: str | None = Field(default=None, max_length=64)
    status_code: int = Field(default=0)
    response: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
