"""/api/v1/track-activities"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.deps import Reader, Reporter, SessionDep, SettingsDep
from backend.diplomacy import service
from backend.diplomacy.models import TrackActivityCreate, TrackActivityPublic, TrackActivityUpdate
from backend.diplomacy.service import TrackActivityFilters
from backend.ingest.single import SingleCreateDep, replay_responses
from backend.pagination import check_limit
from backend.schemas import Page, responses

router = APIRouter(prefix="/track-activities", tags=["diplomacy"])


@router.post(
    "",
    status_code=201,
    response_model=TrackActivityPublic,
    responses={**responses(403, 409), **replay_responses(TrackActivityPublic)},
)
async def create_activity(
    data: TrackActivityCreate, _: Reporter, single: SingleCreateDep
) -> Response:
    return await single.create("track_activity", data)


@router.get("", response_model=Page[TrackActivityPublic], responses=responses(403))
def list_activities(
    filters: Annotated[TrackActivityFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_activities(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get("/{activity_id}", response_model=TrackActivityPublic, responses=responses(403, 404))
def get_activity(activity_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_activity(session=session, activity_id=activity_id)


@router.patch("/{activity_id}", response_model=TrackActivityPublic, responses=responses(403, 404))
def update_activity(
    activity_id: uuid.UUID, data: TrackActivityUpdate, session: SessionDep, principal: Reporter
) -> object:
    return service.update_activity(
        session=session, principal=principal, activity_id=activity_id, data=data
    )
