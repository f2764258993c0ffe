"""/api/v1/audit: admins read the trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.audit import service
from backend.audit.models import AuditEntryPublic
from backend.deps import SessionDep, SettingsDep, TokenManager
from backend.pagination import check_limit
from backend.schemas import Page, UtcDatetime, responses

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryPublic], responses=responses(403))
def list_audit_entries(
    session: SessionDep,
    settings: SettingsDep,
    _: TokenManager,
    record_kind: Annotated[str | None, Query(max_length=50, examples=["incident"])] = None,
    record_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> object:
    return service.list_entries(
        session=session,
        record_kind=record_kind,
        record_id=record_id,
        actor=actor,
        since=since,
        until=until,
        cursor=cursor,
        limit=check_limit(limit, settings),
    )
