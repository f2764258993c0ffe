"""/api/v1/incidents"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.deps import Reader, Reporter, SessionDep, SettingsDep
from backend.incidents import service
from backend.incidents.filters import IncidentFilters
from backend.incidents.models import IncidentCreate, IncidentPublic, IncidentUpdate
from backend.ingest.single import SingleCreateDep, replay_responses
from backend.pagination import check_limit
from backend.schemas import Page, responses

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.post(
    "",
    status_code=201,
    response_model=IncidentPublic,
    responses={**responses(403, 409), **replay_responses(IncidentPublic)},
)
async def create_incident(data: IncidentCreate, _: Reporter, single: SingleCreateDep) -> Response:
    return await single.create("incident", data)


@router.get("", response_model=Page[IncidentPublic], responses=responses(403))
def list_incidents(
    filters: Annotated[IncidentFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
) -> object:
    return service.list_incidents(
        session=session,
        principal=principal,
        filters=filters,
        limit=check_limit(filters.limit, settings),
    )


@router.get("/{incident_id}", response_model=IncidentPublic, responses=responses(403, 404))
def get_incident(incident_id: uuid.UUID, session: SessionDep, principal: Reader) -> object:
    return service.get_incident(session=session, principal=principal, incident_id=incident_id)


@router.patch("/{incident_id}", response_model=IncidentPublic, responses=responses(403, 404))
def update_incident(
    incident_id: uuid.UUID,
    data: IncidentUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reporter,
) -> object:
    return service.update_incident(
        session=session, principal=principal, settings=settings, incident_id=incident_id, data=data
    )
