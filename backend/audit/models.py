"""The audit trail: an append-only hash chain of every change to the mission's records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime


class AuditEntryBase(SQLModel):
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=100, description="Token name, or `system` for the CLI")
    actor_role: str = Field(max_length=20)
    action: str = Field(max_length=10, description="create, update or delete")
    record_kind: str = Field(max_length=50, description="Table of the record, e.g. `incident`")
    record_id: str = Field(max_length=200)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditEntry(AuditEntryBase, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_record", "record_kind", "record_id"),)


class AuditEntryPublic(AuditEntryBase):
    pass
