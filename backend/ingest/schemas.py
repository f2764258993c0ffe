"""The body and answer of POST /api/v1/sync."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.schemas import InputModel

SyncStatus = Literal["created", "replayed", "conflict", "rejected"]


class SyncItem(InputModel):
    kind: str = Field(
        description="incident, ddr_milestone, track_activity, incident_verification or "
        "ddr_milestone_verification",
        max_length=50,
    )
    subject_id: uuid.UUID | None = Field(
        default=None, description="The incident or DDR milestone a verification item is about"
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="An idempotency key (scoped to your token); else the record's own `id` is used",
    )
    data: dict[str, Any] = Field(
        description="The record, as its single POST takes it; set `id` on the device"
    )


class SyncRequest(InputModel):
    items: list[SyncItem] = Field(description="Up to `PEACEWATCH_SYNC_MAX_ITEMS` records")


class ItemError(BaseModel):
    field: str
    message: str
    type: str


class SyncResult(BaseModel):
    index: int = Field(description="The item's position in the request")
    kind: str | None
    id: str | None = Field(description="The record's id, when known")
    status: SyncStatus
    errors: list[ItemError] = Field(default_factory=list)
    record: dict[str, Any] | None = Field(
        default=None, description="The record as stored (created) or as first answered (replayed)"
    )


class SyncResponse(BaseModel):
    results: list[SyncResult]
    counts: dict[str, int] = Field(description="How many items got each status")
