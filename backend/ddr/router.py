"""/api/v1/ddr/targets and /api/v1/ddr/milestones (their verifications: backend.verification)"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.ddr import service
from backend.ddr.models import (
    DdrMilestoneCreate,
    DdrMilestonePublic,
    DdrMilestoneUpdate,
    DdrTargetCreate,
    DdrTargetPublic,
    DdrTargetUpdate,
)
from backend.ddr.service import DdrMilestoneFilters, DdrTargetFilters
from backend.deps import Reader, Reporter, SessionDep, SettingsDep, Verifier
from backend.ingest.single import SingleCreateDep, replay_responses
from backend.pagination import check_limit
from backend.schemas import Page, responses

router = APIRouter(prefix="/ddr", tags=["ddr"])


@router.post("/targets", status_code=201, response_model=DdrTargetPublic, responses=responses(403))
def create_target(data: DdrTargetCreate, session: SessionDep, principal: Verifier) -> object:
    return service.create_target(session=session, principal=principal, data=data)


@router.get("/targets", response_model=Page[DdrTargetPublic], responses=responses(403))
def list_targets(
    filters: Annotated[DdrTargetFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_targets(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get("/targets/{target_id}", response_model=DdrTargetPublic, responses=responses(403, 404))
def get_target(target_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_target(session=session, target_id=target_id)


@router.patch("/targets/{target_id}", response_model=DdrTargetPublic, responses=responses(403, 404))
def update_target(
    target_id: uuid.UUID, data: DdrTargetUpdate, session: SessionDep, _: Verifier
) -> object:
    return service.update_target(session=session, target_id=target_id, data=data)


@router.post(
    "/milestones",
    status_code=201,
    response_model=DdrMilestonePublic,
    responses={**responses(403, 409), **replay_responses(DdrMilestonePublic)},
)
async def create_milestone(
    data: DdrMilestoneCreate, _: Reporter, single: SingleCreateDep
) -> Response:
    return await single.create("ddr_milestone", data)


@router.get("/milestones", response_model=Page[DdrMilestonePublic], responses=responses(403))
def list_milestones(
    filters: Annotated[DdrMilestoneFilters, Query()],
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
) -> object:
    return service.list_milestones(
        session=session, filters=filters, limit=check_limit(filters.limit, settings)
    )


@router.get(
    "/milestones/{milestone_id}", response_model=DdrMilestonePublic, responses=responses(403, 404)
)
def get_milestone(milestone_id: uuid.UUID, session: SessionDep, _: Reader) -> object:
    return service.get_milestone(session=session, milestone_id=milestone_id)


@router.patch(
    "/milestones/{milestone_id}", response_model=DdrMilestonePublic, responses=responses(403, 404)
)
def update_milestone(
    milestone_id: uuid.UUID, data: DdrMilestoneUpdate, session: SessionDep, principal: Reporter
) -> object:
    return service.update_milestone(
        session=session, principal=principal, milestone_id=milestone_id, data=data
    )
