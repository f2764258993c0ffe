"""/api/v1/sync"""

from __future__ import annotations

from fastapi import APIRouter

from backend.deps import Reporter, SessionDep, SettingsDep
from backend.ingest import service
from backend.ingest.schemas import SyncRequest, SyncResponse
from backend.schemas import JsonAnswer, responses

router = APIRouter(tags=["sync"])


@router.post("/sync", response_model=SyncResponse, responses=responses(403))
def sync(
    body: SyncRequest, session: SessionDep, settings: SettingsDep, principal: Reporter
) -> JsonAnswer:
    """Flush a device's outbox: one answer per item, in order; each item all-or-nothing.

    `created`: stored now. `replayed`: stored before (same key or id, same content): `record`
    is the original answer. `conflict`: the key or id stands for different content.
    `rejected`: the item is invalid; `errors` name the fields. Only a malformed envelope, too
    many items, or a body over the limit fails the whole request.
    """
    answer = service.sync(session=session, principal=principal, settings=settings, items=body.items)
    session.commit()  # in this thread, before the answer is sent (see Idempotent._created)
    return JsonAnswer(answer)
